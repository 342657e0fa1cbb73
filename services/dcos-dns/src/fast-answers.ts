/**
 * The authoritative fast path: A/AAAA answers found by the query's lower-cased wire name
 * (`QueryScratch.key`, see WireKeyTable) and copied out without building strings or objects.
 *
 * The table holds only what the general path (Authority.respond) has already answered for a plain
 * name routed internally without a rename: Authority learns a name there on its first query and
 * forgets it when the name changes (a delta) or clears everything when a zone is set or removed, so
 * a fast reply is always the general path's reply. Both paths emit A/AAAA through `emitFixed`.
 */
import {
  type Query,
  type QueryScratch,
  FLAG_AA,
  FLAG_CD,
  FLAG_QR,
  FLAG_RD,
  FLAG_TC,
  HEADER_LEN,
  MASK_OPCODE,
  TYPE_A,
  TYPE_AAAA,
  WireKeyTable,
  plainKey,
  questionLength,
  writeQuestion,
} from "@dcnet/dns";

/** Fixed sizes of an A and an AAAA record whose owner is a pointer to the question. */
export const A_RR = 16;
export const AAAA_RR = 28;

export class FastAnswers {
  /** Value run per name: its A records, then its AAAA records; count0 = A count, count1 = AAAA count. */
  private readonly table = new WireKeyTable(256);

  get size(): number {
    return this.table.size;
  }

  /**
   * The slot answering `q` (an A or AAAA query for a learned, plain name with records of that type),
   * or -1 when the general path must answer.
   */
  find(q: QueryScratch): number {
    const qt = q.qtype;
    if ((qt !== TYPE_A && qt !== TYPE_AAAA) || q.escaped || q.star) return -1;
    const t = this.table;
    const s = t.find(q.key, q.keyLen, q.keyHash);
    if (s < 0) return -1;
    return (qt === TYPE_A ? t.count0(s) : t.count1(s)) > 0 ? s : -1;
  }

  /** The reply for a slot from find(): records rotated by `rot`, cut to `limit` (TC set) as the general path does. */
  respond(msg: Buffer, q: QueryScratch, slot: number, rot: number, limit: number, opt: Buffer | null): Buffer {
    const t = this.table;
    const flags = FLAG_QR | FLAG_AA | (q.flags & (MASK_OPCODE | FLAG_RD | FLAG_CD));
    const nA = t.count0(slot);
    if (q.qtype === TYPE_A) return emitFixed(msg, q, flags, t.data, t.valueAt(slot), nA, A_RR, rot, limit, opt);
    return emitFixed(msg, q, flags, t.data, t.valueAt(slot) + nA * A_RR, t.count1(slot), AAAA_RR, rot, limit, opt);
  }

  /**
   * Remembers a name's A/AAAA records (compiled, owner = question pointer) under the wire name of
   * `q`. The caller guarantees the name is `q.name`, routed internally without a rename, and not a
   * CNAME. Plain names only (no escapes, no `*`); a name already held is left as it is.
   */
  learn(q: QueryScratch, a: Buffer | null, aN: number, aaaa: Buffer | null, aaaaN: number): void {
    if (q.escaped || q.star || (a === null && aaaa === null)) return;
    if (this.table.find(q.key, q.keyLen, q.keyHash) >= 0) return;
    const value = a === null ? aaaa! : aaaa === null ? a : Buffer.concat([a, aaaa]);
    this.table.set(q.key, q.keyLen, q.keyHash, value, a === null ? 0 : aN, aaaa === null ? 0 : aaaaN);
  }

  /** Drops a name (absolute presentation form, as in the zones) after it changed. */
  forget(name: string): void {
    const key = plainKey(name);
    if (key !== null) this.table.deleteKey(key);
  }

  clear(): void {
    this.table.clear();
  }
}

/**
 * An A/AAAA reply: header (`flags`, NOERROR, TC when cut), the echoed question, `n` fixed-size
 * records from `src[srcOff…]` rotated to start at record `rot mod n`, cut to the prefix that fits
 * `limit`, then `opt`. Small copies are byte loops (cheaper than Buffer#copy for 16–60 bytes).
 */
export function emitFixed(
  msg: Buffer,
  q: Query,
  flags: number,
  src: Uint8Array,
  srcOff: number,
  n: number,
  size: number,
  rot: number,
  limit: number,
  opt: Buffer | null,
): Buffer {
  const direct = q.decompressed === null;
  const head = direct ? q.qEnd : HEADER_LEN + questionLength(q);
  const optLen = opt === null ? 0 : opt.length;
  let k = n;
  let f = flags;
  if (head + n * size + optLen > limit) {
    f |= FLAG_TC;
    k = Math.max(0, Math.min(n, Math.floor((limit - head - optLen) / size)));
  }
  const out = Buffer.allocUnsafe(head + k * size + optLen);
  const id = q.id;
  out[0] = id >> 8;
  out[1] = id & 0xff;
  out[2] = f >> 8;
  out[3] = f & 0xff; // rcode NOERROR
  out[4] = 0;
  out[5] = 1;
  out[6] = k >> 8;
  out[7] = k & 0xff;
  out[8] = 0;
  out[9] = 0;
  out[10] = 0;
  out[11] = opt === null ? 0 : 1;
  if (direct) for (let i = HEADER_LEN; i < head; i++) out[i] = msg[i]!;
  else writeQuestion(out, msg, q);
  let pos = head;
  const want = k * size;
  const start = n === 1 ? 0 : (rot % n) * size;
  const total = n * size;
  const first = Math.min(want, total - start);
  for (let i = srcOff + start, end = i + first; i < end; i++) out[pos++] = src[i]!;
  for (let i = srcOff, end = srcOff + want - first; i < end; i++) out[pos++] = src[i]!;
  if (opt !== null) for (let i = 0; i < optLen; i++) out[pos++] = opt[i]!;
  return out;
}

/** Whether a reply built by emitFixed was cut (TC). */
export function isTruncated(reply: Buffer): boolean {
  return (reply[2]! & (FLAG_TC >> 8)) !== 0;
}
