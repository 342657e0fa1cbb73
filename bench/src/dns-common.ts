/**
 * Small helpers shared by the DNS benchmarks (dcos-dns.ts, dns-propagation.ts; mesos-dns.ts for the
 * UDP path of the server under test): environment knobs, a seeded shuffle, a synthetic
 * `dcos.thisdcos.directory` zone, a minimal DNS client (query encoding, reply checking) and
 * loopback child-process plumbing.
 */
import * as os from "node:os";
import { addRecord, DCOS_ZONE, type RecordValues, type ZoneData } from "@dcnet/dcos-dns";
import { batchUdpUnavailable } from "@dcnet/dns";
import { max, round } from "./results";
export { envInt, prng } from "./env";

export function shuffled<T>(items: readonly T[], rand: () => number): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

export function spread(values: readonly number[]): { min: number; max: number } {
  return { min: round(Math.min(...values)), max: round(max(values)) };
}

export function loadavg(): number[] {
  return os.loadavg().map((v) => round(v, 3));
}

/** IPv4 of the n-th synthetic task (10.64.0.0/10, unique up to 4M tasks). */
export function taskIp(n: number): string {
  return `10.${64 + ((n >> 16) & 63)}.${(n >> 8) & 255}.${n & 255}`;
}

/** IPv4 of the n-th synthetic agent. */
export function agentIp(n: number): string {
  return `10.1.${(n >> 8) & 255}.${n & 255}`;
}

/**
 * `dcos.thisdcos.directory` as the producer would build it for `apps` Marathon apps of
 * `instances(app)` tasks each (container IPs, no host ports), spread over `agents` agents:
 * `<app>.marathon.{agentip,containerip,autoip}.dcos.thisdcos.directory` (containerip/autoip = the
 * task IPs, agentip = the distinct agent IPs), plus `master.` and `leader.`.
 */
export function syntheticDcosZone(apps: number, instances: (app: number) => number, agents: number): ZoneData {
  const records = new Map<string, RecordValues>();
  let task = 0;
  for (let a = 0; a < apps; a++) {
    const base = `app-${String(a).padStart(5, "0")}.marathon.`;
    for (let i = 0; i < instances(a); i++, task++) {
      addRecord(records, `${base}agentip.${DCOS_ZONE}`, "a", agentIp(task % agents));
      addRecord(records, `${base}containerip.${DCOS_ZONE}`, "a", taskIp(task));
      addRecord(records, `${base}autoip.${DCOS_ZONE}`, "a", taskIp(task));
    }
  }
  addRecord(records, `master.${DCOS_ZONE}`, "a", "127.0.0.1");
  addRecord(records, `leader.${DCOS_ZONE}`, "a", "127.0.0.1");
  return { zone: DCOS_ZONE, records };
}

/** A DNS query (RD set, one question, class IN) for `name`. */
export function encodeQuery(id: number, name: string, qtype = 1): Buffer {
  const labels = name.replace(/\.$/, "").split(".");
  const parts: Buffer[] = [Buffer.from([id >> 8, id & 255, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0])];
  for (const l of labels) parts.push(Buffer.from([l.length]), Buffer.from(l, "ascii"));
  parts.push(Buffer.from([0, qtype >> 8, qtype & 255, 0, 1]));
  return Buffer.concat(parts);
}

/**
 * The A addresses of a reply (answer section only; names are skipped, compressed or not), its id
 * and rcode; null when it is not a parseable reply.
 */
export function replyAddresses(msg: Buffer): { id: number; rcode: number; a: string[] } | null {
  if (msg.length < 12 || (msg[2]! & 0x80) === 0) return null;
  const id = msg.readUInt16BE(0);
  const rcode = msg[3]! & 0x0f;
  const qd = msg.readUInt16BE(4);
  const an = msg.readUInt16BE(6);
  let off = 12;
  const skipName = (): boolean => {
    while (off < msg.length) {
      const len = msg[off]!;
      if (len === 0) {
        off += 1;
        return true;
      }
      if ((len & 0xc0) === 0xc0) {
        off += 2;
        return true;
      }
      off += 1 + len;
    }
    return false;
  };
  for (let i = 0; i < qd; i++) {
    if (!skipName()) return null;
    off += 4;
  }
  const a: string[] = [];
  for (let i = 0; i < an; i++) {
    if (!skipName() || off + 10 > msg.length) return null;
    const type = msg.readUInt16BE(off);
    const rdlen = msg.readUInt16BE(off + 8);
    off += 10;
    if (off + rdlen > msg.length) return null;
    if (type === 1 && rdlen === 4) a.push(`${msg[off]}.${msg[off + 1]}.${msg[off + 2]}.${msg[off + 3]}`);
    off += rdlen;
  }
  return { id, rcode, a };
}

/**
 * The UDP path the DNS server under test runs on: `DCNET_DNS_UDP` from the bench's environment is
 * passed to it (batch, raw or dgram; packages/dns/README.md), else batch where the module is built.
 */
export function serverUdpPath(): { env: NodeJS.ProcessEnv; label: string } {
  const want = process.env["DCNET_DNS_UDP"];
  if (want !== undefined && want !== "") return { env: { DCNET_DNS_UDP: want }, label: want };
  const why = batchUdpUnavailable();
  return { env: {}, label: why === undefined ? "batch" : `raw (batch unavailable: ${why})` };
}
