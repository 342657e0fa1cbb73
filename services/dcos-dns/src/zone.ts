/**
 * Zones as data: what the producer publishes on the bus, what every node serves (spec §3.5).
 *
 * Names are absolute, lower-case and end with "." (`web.marathon.autoip.dcos.thisdcos.directory.`),
 * the form the DNS parser gives for a question, so a query is one map lookup.
 */

export interface SrvTarget {
  target: string;
  port: number;
}

export interface RecordValues {
  a?: string[];
  aaaa?: string[];
  srv?: SrvTarget[];
  /** Only in static custom zones (§3.5 "custom"). */
  cname?: string;
}

export interface ZoneData {
  /** Apex, absolute lower-case (`dcos.thisdcos.directory.`). */
  zone: string;
  records: Map<string, RecordValues>;
}

export const THISDCOS = "thisdcos.directory.";
export const DCOS_ZONE = "dcos.thisdcos.directory.";
export const MESOS_ZONE = "mesos.thisdcos.directory.";
export const L4LB_ZONE = "l4lb.thisdcos.directory.";
export const THISNODE_ZONE = "thisnode.thisdcos.directory.";

/** `Name.` → `name.`; adds the final dot. */
export function absolute(name: string): string {
  const n = name.toLowerCase();
  return n.endsWith(".") ? n : n + ".";
}

/** Adds values under a name, keeping each value once (records are reference-counted by the caller). */
export function addRecord(records: Map<string, RecordValues>, name: string, kind: "a" | "aaaa", value: string): void {
  let r = records.get(name);
  if (!r) records.set(name, (r = {}));
  const list = (r[kind] ??= []);
  if (!list.includes(value)) list.push(value);
}

/** Number of resource records in a zone (for the `dns_zone_records` gauge). */
export function countRecords(records: ReadonlyMap<string, RecordValues>): number {
  let n = 0;
  for (const r of records.values()) n += recordsOf(r);
  return n;
}

/** Number of resource records under one name. */
export function recordsOf(r: RecordValues): number {
  return (r.a?.length ?? 0) + (r.aaaa?.length ?? 0) + (r.srv?.length ?? 0) + (r.cname ? 1 : 0);
}

// ---- static zones (§3.5) ----

/** `spartan`: ready.spartan → 127.0.0.1 (the readiness probe), ns.spartan → 198.51.100.1. */
export function spartanZone(): ZoneData {
  return {
    zone: "spartan.",
    records: new Map([
      ["ready.spartan.", { a: ["127.0.0.1"] }],
      ["ns.spartan.", { a: ["198.51.100.1"] }],
    ]),
  };
}

export function localhostZone(): ZoneData {
  return { zone: "localhost.", records: new Map([["localhost.", { a: ["127.0.0.1"] }]]) };
}

/** `zk`: zk-1…zk-5 filled with the master IPs repeated cyclically (3 masters → m1 m2 m3 m1 m2). */
export function zkZone(masters: readonly string[]): ZoneData {
  const records = new Map<string, RecordValues>();
  if (masters.length > 0) for (let i = 0; i < 5; i++) records.set(`zk-${i + 1}.zk.`, { a: [masters[i % masters.length]!] });
  return { zone: "zk.", records };
}

/** `thisnode.thisdcos.directory`: apex → this node's IP; `public.` → its public IPs. */
export function thisnodeZone(nodeIp: string, publicIps: readonly string[]): ZoneData {
  const records = new Map<string, RecordValues>();
  records.set(THISNODE_ZONE, splitFamilies([nodeIp]));
  if (publicIps.length > 0) records.set("public." + THISNODE_ZONE, splitFamilies(publicIps));
  return { zone: THISNODE_ZONE, records };
}

export function splitFamilies(ips: readonly string[]): RecordValues {
  const r: RecordValues = {};
  for (const ip of ips) {
    if (ip.includes(":")) (r.aaaa ??= []).push(ip);
    else (r.a ??= []).push(ip);
  }
  return r;
}
