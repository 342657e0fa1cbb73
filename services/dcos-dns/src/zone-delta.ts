/**
 * Per-record zone deltas (spec §11 "per-record, not whole-zone, gossip"): what changed between two
 * versions of a zone, sent at once as a small signed event, so a change reaches every node without
 * moving the whole zone (the whole-zone snapshot in the KV stays, for nodes that start or lose track).
 *
 * A delta is `{ v: 1, zone, epoch, seq, set: { name: values }, del: [name] }` on the core subject
 * `dns.delta.<apex without the final dot>`:
 * - `epoch` names the producer instance (a new producer or leader = a new epoch);
 * - `seq` goes up by one per delta within an epoch; the KV snapshot carries the epoch and the seq of
 *   the last delta it includes (zone-codec.ts), so a node knows which deltas follow it;
 * - `set` holds the complete new values of each changed or added name, `del` the removed names.
 * A node checks a delta exactly as it checks a snapshot (checkRecord): bad values are dropped with
 * a reason, so both paths end in the same zone; a delta that cannot be read at all is rejected.
 */
import type { RecordValues } from "./zone";
import { busZoneAllowed, checkRecord, encodeRecord } from "./zone-codec";

export const DELTA_SUBJECTS = "dns.delta.>";
/** Bigger deltas are not sent (they would near NATS's payload limit); the gap makes nodes wait for the snapshot. */
export const DELTA_MAX_BYTES = 256 * 1024;

export interface ZoneDelta {
  zone: string;
  epoch: string;
  seq: number;
  /** New values of changed or added names. */
  set: Map<string, RecordValues>;
  /** Removed names. */
  del: string[];
}

/** The subject of a zone's deltas: `dns.delta.dcos.thisdcos.directory`. */
export function deltaSubject(apex: string): string {
  return "dns.delta." + apex.replace(/\.$/, "");
}

/** Names whose values differ between `prev` and `next` (set) and names only in `prev` (del). O(zone). */
export function diffRecords(
  prev: ReadonlyMap<string, RecordValues>,
  next: ReadonlyMap<string, RecordValues>,
): { set: Map<string, RecordValues>; del: string[] } {
  const set = new Map<string, RecordValues>();
  const del: string[] = [];
  for (const [name, v] of next) {
    const p = prev.get(name);
    if (p === undefined || !sameValues(p, v)) set.set(name, v);
  }
  for (const name of prev.keys()) if (!next.has(name)) del.push(name);
  return { set, del };
}

function sameValues(x: RecordValues, y: RecordValues): boolean {
  return sameList(x.a, y.a) && sameList(x.aaaa, y.aaaa) && sameSrv(x.srv, y.srv) && x.cname === y.cname;
}

function sameList(x: readonly string[] | undefined, y: readonly string[] | undefined): boolean {
  const n = x?.length ?? 0;
  if (n !== (y?.length ?? 0)) return false;
  for (let i = 0; i < n; i++) if (x![i] !== y![i]) return false;
  return true;
}

function sameSrv(x: RecordValues["srv"], y: RecordValues["srv"]): boolean {
  const n = x?.length ?? 0;
  if (n !== (y?.length ?? 0)) return false;
  for (let i = 0; i < n; i++) if (x![i]!.target !== y![i]!.target || x![i]!.port !== y![i]!.port) return false;
  return true;
}

export function encodeDelta(d: ZoneDelta): Uint8Array {
  const set: Record<string, unknown> = {};
  for (const [name, v] of d.set) set[name] = encodeRecord(v);
  return Buffer.from(JSON.stringify({ v: 1, zone: d.zone, epoch: d.epoch, seq: d.seq, set, del: d.del }));
}

export interface DecodedDelta {
  delta: ZoneDelta;
  /** Values dropped, with the reason (first 20), as for snapshots. */
  dropped: string[];
}

/** Decodes and checks a delta; throws an Error naming the problem when it cannot be used at all. */
export function decodeDelta(bytes: Uint8Array): DecodedDelta {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString());
  } catch {
    throw new Error("delta: not JSON");
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new Error("delta: not an object");
  const o = raw as Record<string, unknown>;
  if (o["v"] !== 1) throw new Error(`delta: unknown version ${JSON.stringify(o["v"])}`);
  const apex = o["zone"];
  if (typeof apex !== "string" || !busZoneAllowed(apex)) throw new Error(`delta: apex ${JSON.stringify(apex)} may not come from the bus`);
  const epoch = o["epoch"];
  if (typeof epoch !== "string" || epoch === "" || epoch.length > 64) throw new Error(`delta: bad epoch ${JSON.stringify(epoch)}`);
  const seq = o["seq"];
  if (!Number.isSafeInteger(seq) || (seq as number) < 1) throw new Error(`delta: bad seq ${JSON.stringify(seq)}`);
  const rawSet = o["set"];
  if (typeof rawSet !== "object" || rawSet === null || Array.isArray(rawSet)) throw new Error("delta: set is not an object");
  const rawDel = o["del"];
  if (!Array.isArray(rawDel) || !rawDel.every((n): n is string => typeof n === "string"))
    throw new Error("delta: del is not a list of names");
  const dropped: string[] = [];
  const drop = (why: string) => {
    if (dropped.length < 20) dropped.push(why);
  };
  const set = new Map<string, RecordValues>();
  for (const [name, value] of Object.entries(rawSet as Record<string, unknown>)) {
    const r = checkRecord(apex, name, value, drop);
    if (r !== null) set.set(name, r);
  }
  // A removal outside the apex could not touch anything we serve; it is dropped like any other bad name.
  const del = rawDel.filter((name) => checkRecord(apex, name, {}, drop) !== null && !set.has(name));
  return { delta: { zone: apex, epoch, seq: seq as number, set, del }, dropped };
}

/**
 * {@link decodeDelta} shared by the consumers in this process: the bus hands every subscriber in a
 * process the same verified payload object (its verification cache), so one decode serves all of
 * them (keyed by that object: no hashing). Results are read-only for their users; an unreadable
 * delta gives every consumer the same Error.
 */
const sharedDeltas = new WeakMap<Uint8Array, DecodedDelta | Error>();

export function decodeDeltaShared(bytes: Uint8Array): DecodedDelta {
  let d = sharedDeltas.get(bytes);
  if (d === undefined) {
    try {
      d = decodeDelta(bytes);
    } catch (err) {
      d = err instanceof Error ? err : new Error(String(err));
    }
    sharedDeltas.set(bytes, d);
  }
  if (d instanceof Error) throw d;
  return d;
}
