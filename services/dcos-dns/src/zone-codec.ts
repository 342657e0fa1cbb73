/**
 * Zones on the bus: the producer writes a whole zone under one KV key (`zone.<apex>` in bucket
 * `dns`), last writer wins by revision (§3.7 "LWW mode"). Every node decodes and checks a zone
 * before serving it: the apex must be one the bus may carry, every name must lie inside it, and
 * values must be IPs / valid SRV targets. A value that fails is dropped with a reason; a zone
 * that cannot be read at all is rejected and the previous one kept.
 *
 * Encoding: JSON `{ v: 1, zone, epoch?, seq?, records: { name: { a?, aaaa?, srv?: [[target, port]] } } }`,
 * deflated (raw) when over 16 KiB (first byte 0x01), so ~10× more records fit NATS's 1 MiB payload.
 * `epoch`/`seq` (added with the per-record deltas of zone-delta.ts, ignored by older readers) say
 * which producer wrote the snapshot and the last of its deltas the snapshot includes.
 */
import { createHash } from "node:crypto";
import { isIPv4, isIPv6 } from "node:net";
import * as zlib from "node:zlib";
import type { RecordValues, ZoneData } from "./zone";
import { THISDCOS } from "./zone";

export const ZONE_BUCKET = "dns";
const DEFLATE_OVER = 16 * 1024;

/** The KV key of a zone: `zone.dcos.thisdcos.directory` (no final dot). */
export function zoneKey(apex: string): string {
  return "zone." + apex.replace(/\.$/, "");
}

export function apexOfKey(key: string): string | null {
  return key.startsWith("zone.") ? key.slice(5) + "." : null;
}

/** Zones the bus may carry: under thisdcos.directory, except thisnode (always local). */
export function busZoneAllowed(apex: string): boolean {
  return apex.endsWith("." + THISDCOS) && apex !== "thisnode." + THISDCOS;
}

/**
 * Where a zone stands in its producer's stream of deltas (zone-delta.ts): `epoch` names the
 * producer instance, `seq` is the last delta the zone includes. Null epoch: an older producer
 * that sends no deltas.
 */
export interface ZoneVersion {
  epoch: string | null;
  seq: number;
}

export function encodeZone(z: ZoneData, version?: ZoneVersion): Uint8Array {
  const records: Record<string, unknown> = {};
  for (const [name, v] of z.records) records[name] = encodeRecord(v);
  const head = version?.epoch != null ? { v: 1, zone: z.zone, epoch: version.epoch, seq: version.seq } : { v: 1, zone: z.zone };
  const json = Buffer.from(JSON.stringify({ ...head, records }));
  if (json.length <= DEFLATE_OVER) return json;
  return Buffer.concat([Buffer.from([1]), zlib.deflateRawSync(json)]);
}

export interface Decoded extends ZoneVersion {
  zone: ZoneData;
  /** Values dropped, with the reason (first 20). */
  dropped: string[];
}

/** Decodes and checks a zone; throws an Error naming the problem when it cannot be used at all. */
export function decodeZone(bytes: Uint8Array): Decoded {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let text: string;
  if (buf[0] === 1) {
    try {
      text = zlib.inflateRawSync(buf.subarray(1), { maxOutputLength: 64 << 20 }).toString();
    } catch (err) {
      throw new Error(`zone: cannot inflate: ${(err as Error).message}`);
    }
  } else text = buf.toString();
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new Error("zone: not JSON");
  }
  if (typeof raw !== "object" || raw === null) throw new Error("zone: not an object");
  const o = raw as Record<string, unknown>;
  if (o["v"] !== 1) throw new Error(`zone: unknown version ${JSON.stringify(o["v"])}`);
  const apex = o["zone"];
  if (typeof apex !== "string" || !busZoneAllowed(apex)) throw new Error(`zone: apex ${JSON.stringify(apex)} may not come from the bus`);
  const recs = o["records"];
  if (typeof recs !== "object" || recs === null || Array.isArray(recs)) throw new Error("zone: records is not an object");
  const dropped: string[] = [];
  const drop = (why: string) => {
    if (dropped.length < 20) dropped.push(why);
  };
  const records = new Map<string, RecordValues>();
  for (const [name, value] of Object.entries(recs as Record<string, unknown>)) {
    const r = checkRecord(apex, name, value, drop);
    if (r !== null) records.set(name, r);
  }
  const version = readVersion(o);
  return { zone: { zone: apex, records }, dropped, epoch: version.epoch, seq: version.seq };
}

/**
 * The checks every value from the bus goes through, snapshot or delta alike: the name must lie
 * inside the apex and be lower-case, A/AAAA values must be addresses of their family, SRV entries
 * `[target, port]` with a port in 0–65535. Returns the values that pass (possibly none), or null
 * when the name itself is unusable; every failure is reported through `drop`.
 */
export function checkRecord(apex: string, name: string, value: unknown, drop: (why: string) => void): RecordValues | null {
  if (name !== name.toLowerCase() || !(name === apex || name.endsWith("." + apex)) || name.length > 254) {
    drop(`${name}: outside ${apex} or not lower-case`);
    return null;
  }
  if (typeof value !== "object" || value === null) {
    drop(`${name}: not an object`);
    return null;
  }
  const v = value as Record<string, unknown>;
  const r: RecordValues = {};
  const a = strings(v["a"]).filter((ip) => isIPv4(ip) || (drop(`${name}: A ${ip} is not an IPv4 address`), false));
  const aaaa = strings(v["aaaa"]).filter((ip) => isIPv6(ip) || (drop(`${name}: AAAA ${ip} is not an IPv6 address`), false));
  if (a.length) r.a = a;
  if (aaaa.length) r.aaaa = aaaa;
  if (Array.isArray(v["srv"])) {
    for (const s of v["srv"] as unknown[]) {
      if (Array.isArray(s) && typeof s[0] === "string" && Number.isInteger(s[1]) && (s[1] as number) >= 0 && (s[1] as number) <= 65535)
        (r.srv ??= []).push({ target: s[0].toLowerCase(), port: s[1] as number });
      else drop(`${name}: bad SRV ${JSON.stringify(s)}`);
    }
  }
  return r;
}

/** The wire form of one name's values (the inverse of {@link checkRecord}). */
export function encodeRecord(v: RecordValues): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  if (v.a?.length) o["a"] = v.a;
  if (v.aaaa?.length) o["aaaa"] = v.aaaa;
  if (v.srv?.length) o["srv"] = v.srv.map((s) => [s.target, s.port]);
  return o;
}

/** A snapshot's place in its producer's delta stream; absent (older producers) → no epoch, seq 0. */
function readVersion(o: Record<string, unknown>): ZoneVersion {
  const epoch = o["epoch"];
  const seq = o["seq"];
  if (epoch === undefined && seq === undefined) return { epoch: null, seq: 0 };
  if (typeof epoch !== "string" || epoch === "" || epoch.length > 64) throw new Error(`zone: bad epoch ${JSON.stringify(epoch)}`);
  if (!Number.isSafeInteger(seq) || (seq as number) < 0) throw new Error(`zone: bad seq ${JSON.stringify(seq)}`);
  return { epoch, seq: seq as number };
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

/**
 * {@link decodeZone} shared by every consumer in this process: the same bytes (by SHA-256) decode
 * once, and the result is shared read-only (the authority never mutates a zone's records). One
 * node has one consumer, so this changes nothing there; it matters where many node instances
 * share a process (the aggregated mode, the propagation benchmark's simulated nodes), as the
 * bus's verification cache does for signatures.
 */
const shared = new Map<string, Decoded>();
const SHARED_MAX = 16;
/** The same verified value object (the bus's verification cache hands it to every watcher in the process): no hashing. */
const sharedByObject = new WeakMap<Uint8Array, Decoded>();

export function decodeZoneShared(bytes: Uint8Array): Decoded {
  const same = sharedByObject.get(bytes);
  if (same) return same;
  const d = decodeZoneSharedByHash(bytes);
  sharedByObject.set(bytes, d);
  return d;
}

function decodeZoneSharedByHash(bytes: Uint8Array): Decoded {
  const key = createHash("sha256").update(bytes).digest("base64");
  const hit = shared.get(key);
  if (hit) return hit;
  const d = decodeZone(bytes);
  shared.set(key, d);
  if (shared.size > SHARED_MAX) shared.delete(shared.keys().next().value!);
  return d;
}
