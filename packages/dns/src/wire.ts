/**
 * A small DNS wire codec for the hot path (RFC 1035 §4): parse a query's header, first question
 * and OPT record; walk a whole message to find section boundaries; encode names with compression.
 * No allocation beyond the key string and (rarely) a decompressed question name.
 */

export const TYPE_A = 1;
export const TYPE_NS = 2;
export const TYPE_SOA = 6;
export const TYPE_AAAA = 28;
export const TYPE_SRV = 33;
export const TYPE_OPT = 41;
export const TYPE_DS = 43;
export const TYPE_ANY = 255;
export const CLASS_IN = 1;

export const RCODE_NOERROR = 0;
export const RCODE_FORMERR = 1;
export const RCODE_SERVFAIL = 2;
export const RCODE_NXDOMAIN = 3;
export const RCODE_REFUSED = 5;
/** Extended rcode 16 (RFC 6891): upper 8 bits = 1 in the OPT TTL, lower 4 bits = 0 in the header. */
export const RCODE_BADVERS = 16;

export const FLAG_QR = 0x8000;
export const MASK_OPCODE = 0x7800;
export const FLAG_AA = 0x0400;
export const FLAG_TC = 0x0200;
export const FLAG_RD = 0x0100;
export const FLAG_RA = 0x0080;
export const FLAG_CD = 0x0010;
export const MASK_RCODE = 0x000f;

export const HEADER_LEN = 12;
const MAX_NAME_WIRE = 255;
const MAX_POINTER_HOPS = 126;

export function rcodeName(rcode: number): string {
  switch (rcode) {
    case 0:
      return "NOERROR";
    case 1:
      return "FORMERR";
    case 2:
      return "SERVFAIL";
    case 3:
      return "NXDOMAIN";
    case 4:
      return "NOTIMP";
    case 5:
      return "REFUSED";
    case 16:
      return "BADVERS";
    default:
      return `RCODE${rcode}`;
  }
}

export interface Edns {
  /** Requestor's UDP payload size (the OPT CLASS field), raw. */
  udpSize: number;
  version: number;
  /** Extended rcode bits (upper 8 of 12). */
  extRcode: number;
  /** The 16 flag bits (DO = 0x8000). */
  flags: number;
}

export interface Query {
  id: number;
  flags: number;
  /** False when QDCOUNT is 0 or the message ends right after the header (miekg: "Qdcount is a lie"). */
  hasQuestion: boolean;
  /**
   * The first question's name in presentation form, ASCII lower-cased, special bytes escaped the way
   * miekg/dns prints them (`\.`, `\DDD`…), absolute (`web.marathon.mesos.`, root = `.`).
   */
  name: string;
  /**
   * True when the question name is uncompressed and needs no escaping (`name` maps 1:1 onto the
   * bytes `msg[12, qEnd-4)`).
   */
  plain: boolean;
  /** True when the name has bytes that print escaped (`.` inside a label, space, non-ASCII…). */
  escaped: boolean;
  /** The question name rebuilt without pointers, only when it was compressed (else it is `msg[12, qEnd-4)`). */
  decompressed: Buffer | null;
  qtype: number;
  qclass: number;
  /** Offset just past the first question (header + name + 4). */
  qEnd: number;
  edns: Edns | null;
}

export type ParseResult = { ok: true; query: Query } | { ok: false; reason: "short" | "response" | "malformed"; id: number };

/** `parseQueryInto` results. */
export const PARSE_OK = 0;
export const PARSE_SHORT = 1;
export const PARSE_RESPONSE = 2;
export const PARSE_MALFORMED = 3;
export type ParseStatus = typeof PARSE_OK | typeof PARSE_SHORT | typeof PARSE_RESPONSE | typeof PARSE_MALFORMED;

/** The `reason` of a failed parse status, as in `ParseResult`. */
export function parseReason(status: ParseStatus): "short" | "response" | "malformed" {
  return status === PARSE_SHORT ? "short" : status === PARSE_RESPONSE ? "response" : "malformed";
}

// Scratch space for building the presentation name: 255 wire bytes, each at most 4 chars (`\DDD`).
const scratch = Buffer.allocUnsafe(1100);
// Byte class: 0 = keep, 1 = lower-case (A–Z), 2 = backslash + char, 3 = \DDD.
const byteClass = new Uint8Array(256);
for (let b = 0; b < 256; b++) {
  if (b < 0x21 || b > 0x7e) byteClass[b] = 3;
  else if (b >= 0x41 && b <= 0x5a) byteClass[b] = 1;
  else if (b === 0x2e || b === 0x27 || b === 0x40 || b === 0x3b || b === 0x28 || b === 0x29 || b === 0x22 || b === 0x5c) byteClass[b] = 2;
  else byteClass[b] = 0;
}
// Space (0x20) is printed by miekg as "\ ", not \032.
byteClass[0x20] = 2;

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const STAR = 0x2a;

/**
 * 32-bit FNV-1a over `key[0, len)`: the hash `parseQueryInto` computes over a question's
 * lower-cased wire name (`QueryScratch.keyHash`), for tables keyed on wire names.
 */
export function wireKeyHash(key: Uint8Array, len: number): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < len; i++) h = Math.imul(h ^ key[i]!, FNV_PRIME);
  return h;
}

/**
 * The lower-cased wire form of an absolute presentation name when a query for it parses to exactly
 * that name with `escaped` false and `star` false (every label byte printable without an escape,
 * no `*`, already lower-case); null otherwise (such names are only found through `Query.name`).
 */
export function plainKey(name: string): Uint8Array | null {
  if (name !== name.toLowerCase()) return null;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 0x2e) continue;
    if (c > 0x7e || byteClass[c] !== 0 || c === STAR) return null;
  }
  const w = nameToWire(name);
  return w === null ? null : new Uint8Array(w.buffer, w.byteOffset, w.length);
}

/**
 * A reusable query for the allocation-free parser `parseQueryInto`: every parse overwrites it. Besides
 * the `Query` fields it carries the question name's lower-cased wire form (`key`, `keyLen`) and its
 * hash (`keyHash`, see `wireKeyHash`), so a hot path can look names up without building strings;
 * `name` is built on first access. Valid until the next parse: keep a `snapshot()` across awaits.
 */
export class QueryScratch implements Query {
  id = 0;
  flags = 0;
  hasQuestion = false;
  plain = true;
  escaped = false;
  decompressed: Buffer | null = null;
  qtype = 0;
  qclass = 0;
  qEnd = HEADER_LEN;
  edns: Edns | null = null;
  /** The first question's name, wire form, ASCII lower-cased, pointers followed; `keyLen` bytes (root byte included). */
  readonly key = new Uint8Array(MAX_NAME_WIRE + 1);
  keyLen = 0;
  /** `wireKeyHash(key, keyLen)`. */
  keyHash = 0;
  /** True when the name has a `*` byte anywhere (Mesos-DNS strips `.*`: such names need the string path). */
  star = false;
  /** The OPT fields, reused: `edns` points here when the query has an OPT record. */
  readonly ednsScratch: Edns = { udpSize: 0, version: 0, extRcode: 0, flags: 0 };
  /** @internal */
  cachedName: string | null = null;

  /** Presentation form as `Query.name` (lower-cased, miekg escapes, absolute); built from `key` on first access. */
  get name(): string {
    if (this.cachedName !== null) return this.cachedName;
    if (!this.hasQuestion) return "";
    const key = this.key;
    const end = this.keyLen - 1;
    let out = 0;
    let pos = 0;
    while (pos < end) {
      const l = key[pos]!;
      for (let i = pos + 1, e = pos + 1 + l; i < e; i++) out = putPresentation(key[i]!, out);
      scratch[out++] = 0x2e;
      pos += l + 1;
    }
    const name = out === 0 ? "." : scratch.toString("latin1", 0, out);
    this.cachedName = name;
    return name;
  }

  /** A plain, independent copy of the parsed query (safe to keep across later parses). */
  snapshot(): Query {
    const e = this.edns;
    return {
      id: this.id,
      flags: this.flags,
      hasQuestion: this.hasQuestion,
      name: this.name,
      plain: this.plain,
      escaped: this.escaped,
      decompressed: this.decompressed,
      qtype: this.qtype,
      qclass: this.qclass,
      qEnd: this.qEnd,
      edns: e === null ? null : { udpSize: e.udpSize, extRcode: e.extRcode, version: e.version, flags: e.flags },
    };
  }
}

/** Writes byte `b` of a label in presentation form at `scratch[out]`; returns the new offset. */
function putPresentation(b: number, out: number): number {
  switch (byteClass[b]) {
    case 0:
      scratch[out++] = b;
      break;
    case 1:
      scratch[out++] = b | 0x20;
      break;
    case 2:
      scratch[out++] = 0x5c;
      scratch[out++] = b;
      break;
    default:
      scratch[out++] = 0x5c;
      scratch[out++] = 0x30 + ((b / 100) | 0);
      scratch[out++] = 0x30 + (((b / 10) | 0) % 10);
      scratch[out++] = 0x30 + (b % 10);
  }
  return out;
}

/**
 * Parses a query: header, first question, remaining sections (bounds-checked and skipped), OPT.
 * Mirrors miekg/dns v1.0.15 tolerance: a section whose count runs past the exact end of the message
 * is cut there; a partial record is an error; trailing bytes are ignored.
 */
export function parseQuery(msg: Buffer): ParseResult {
  const q = shared;
  const status = parseQueryInto(msg, q);
  if (status !== PARSE_OK) return { ok: false, reason: parseReason(status), id: q.id };
  return { ok: true, query: q.snapshot() };
}

const shared = new QueryScratch();
const ROOT_HASH = Math.imul(FNV_OFFSET, FNV_PRIME);

/**
 * `parseQuery` without allocating (except `decompressed`, for a compressed question name): fills
 * `q` and returns PARSE_OK, or a failure status with `q.id` set (0 when shorter than 2 bytes).
 */
export function parseQueryInto(msg: Buffer, q: QueryScratch): ParseStatus {
  const len = msg.length;
  q.cachedName = null;
  q.hasQuestion = false;
  q.plain = true;
  q.escaped = false;
  q.star = false;
  q.decompressed = null;
  q.qtype = 0;
  q.qclass = 0;
  q.qEnd = HEADER_LEN;
  q.edns = null;
  q.keyLen = 1;
  q.key[0] = 0;
  q.keyHash = ROOT_HASH;
  if (len < HEADER_LEN) {
    q.id = len >= 2 ? (msg[0]! << 8) | msg[1]! : 0;
    return PARSE_SHORT;
  }
  const id = (msg[0]! << 8) | msg[1]!;
  q.id = id;
  const flags = (msg[2]! << 8) | msg[3]!;
  q.flags = flags;
  if (flags & FLAG_QR) return PARSE_RESPONSE;
  const qd = (msg[4]! << 8) | msg[5]!;
  const an = (msg[6]! << 8) | msg[7]!;
  const ns = (msg[8]! << 8) | msg[9]!;
  const ar = (msg[10]! << 8) | msg[11]!;

  let off = HEADER_LEN;
  if (qd > 0 && off < len) {
    // First question: the lower-cased key and its hash in one pass.
    const key = q.key;
    let h = FNV_OFFSET;
    let k = 0;
    let pos = off;
    let wireLen = 0;
    let hops = 0;
    let end = -1;
    let escaped = false;
    let star = false;
    let labels: Buffer[] | null = null;
    for (;;) {
      if (pos >= len) return PARSE_MALFORMED;
      const l = msg[pos]!;
      if (l === 0) {
        wireLen += 1;
        if (end < 0) end = pos + 1;
        break;
      }
      const top = l & 0xc0;
      if (top === 0xc0) {
        if (pos + 1 >= len) return PARSE_MALFORMED;
        if (++hops > MAX_POINTER_HOPS) return PARSE_MALFORMED;
        if (end < 0) end = pos + 2;
        if (labels === null) labels = [msg.subarray(off, pos)];
        pos = ((l & 0x3f) << 8) | msg[pos + 1]!;
        q.plain = false;
        continue;
      }
      if (top !== 0) return PARSE_MALFORMED;
      if (pos + 1 + l > len) return PARSE_MALFORMED;
      wireLen += l + 1;
      if (wireLen + 1 > MAX_NAME_WIRE) return PARSE_MALFORMED;
      if (labels !== null) labels.push(msg.subarray(pos, pos + 1 + l));
      key[k++] = l;
      h = Math.imul(h ^ l, FNV_PRIME);
      for (let i = pos + 1, e = pos + 1 + l; i < e; i++) {
        let b = msg[i]!;
        const c = byteClass[b];
        if (c === 1) b |= 0x20;
        else if (c !== 0) escaped = true;
        else if (b === STAR) star = true;
        key[k++] = b;
        h = Math.imul(h ^ b, FNV_PRIME);
      }
      pos += l + 1;
    }
    if (end + 4 > len) return PARSE_MALFORMED;
    key[k++] = 0;
    q.keyLen = k;
    q.keyHash = Math.imul(h, FNV_PRIME);
    q.escaped = escaped;
    q.star = star;
    if (escaped) q.plain = false;
    if (labels !== null) {
      labels.push(ROOT);
      q.decompressed = Buffer.concat(labels);
    }
    q.qtype = (msg[end]! << 8) | msg[end + 1]!;
    q.qclass = (msg[end + 2]! << 8) | msg[end + 3]!;
    off = end + 4;
    q.qEnd = off;
    q.hasQuestion = true;
    for (let i = 1; i < qd; i++) {
      if (off === len) break;
      off = skipName(msg, off);
      if (off < 0 || off + 4 > len) return PARSE_MALFORMED;
      off += 4;
    }
  }
  const rrs = an + ns + ar;
  for (let i = 0; i < rrs; i++) {
    if (off === len) break;
    off = skipName(msg, off);
    if (off < 0 || off + 10 > len) return PARSE_MALFORMED;
    const type = (msg[off]! << 8) | msg[off + 1]!;
    const rdlen = (msg[off + 8]! << 8) | msg[off + 9]!;
    if (type === TYPE_OPT && q.edns === null && i >= an + ns) {
      const e = q.ednsScratch;
      e.udpSize = (msg[off + 2]! << 8) | msg[off + 3]!;
      e.extRcode = msg[off + 4]!;
      e.version = msg[off + 5]!;
      e.flags = (msg[off + 6]! << 8) | msg[off + 7]!;
      q.edns = e;
    }
    off += 10 + rdlen;
    if (off > len) return PARSE_MALFORMED;
  }
  return PARSE_OK;
}

const ROOT = Buffer.from([0]);

/** A query header with one question (what `laterQuestionNames` parses each later question as). */
const ONE_QUESTION = Buffer.from([0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
const later = new QueryScratch();

/**
 * The names of questions 2…QDCOUNT of a query `parseQueryInto` accepted (`qEnd`: the end of its first
 * question), in `Query.name`'s form (lower-cased, escaped, absolute); [] for one question. A QDCOUNT
 * that runs past the end of the message is cut there, as the parser does. Allocates: for the rare
 * multi-question message only.
 */
export function laterQuestionNames(msg: Buffer, qEnd: number): string[] {
  const qd = (msg[4]! << 8) | msg[5]!;
  const names: string[] = [];
  let off = qEnd;
  for (let i = 1; i < qd && off < msg.length; i++) {
    const end = skipName(msg, off);
    if (end < 0 || end + 4 > msg.length) break; // cannot happen after parseQueryInto accepted msg
    // The question alone, its name's pointers followed within msg, parsed as a one-question query.
    const one = Buffer.concat([ONE_QUESTION, flatName(msg, off), msg.subarray(end, end + 4)]);
    if (parseQueryInto(one, later) !== PARSE_OK) break;
    names.push(later.name);
    off = end + 4;
  }
  return names;
}

/** The name at `off` without pointers (`skipName` has checked it: bounded, in range). */
function flatName(msg: Buffer, off: number): Buffer {
  const parts: Buffer[] = [];
  let pos = off;
  for (let hops = 0; hops <= MAX_POINTER_HOPS;) {
    const l = msg[pos]!;
    if (l === 0) break;
    if ((l & 0xc0) === 0xc0) {
      pos = ((l & 0x3f) << 8) | msg[pos + 1]!;
      hops++;
      continue;
    }
    parts.push(msg.subarray(pos, pos + 1 + l));
    pos += l + 1;
  }
  parts.push(ROOT);
  return Buffer.concat(parts);
}

/** Skips a (possibly compressed) name; returns the offset after it, or -1 when it is malformed. */
export function skipName(msg: Buffer, off: number): number {
  const len = msg.length;
  let pos = off;
  let end = -1;
  let hops = 0;
  let wireLen = 0;
  for (;;) {
    if (pos >= len) return -1;
    const l = msg[pos]!;
    if (l === 0) return end < 0 ? pos + 1 : end;
    const top = l & 0xc0;
    if (top === 0xc0) {
      if (pos + 1 >= len || ++hops > MAX_POINTER_HOPS) return -1;
      if (end < 0) end = pos + 2;
      pos = ((l & 0x3f) << 8) | msg[pos + 1]!;
      continue;
    }
    if (top !== 0) return -1;
    wireLen += l + 1;
    if (wireLen + 1 > MAX_NAME_WIRE || pos + 1 + l > len) return -1;
    pos += l + 1;
  }
}

/** Section boundaries of a whole message (used on forwarded replies). */
export interface Layout {
  qd: number;
  /** Offset after the question section. */
  qEnd: number;
  /** End offset of each answer record. */
  anEnds: number[];
  nsStart: number;
  nsEnd: number;
  /** End of the additional section (= end of the last parsed record). */
  arEnd: number;
  /** Offsets of the OPT record in the additional section, or -1. */
  optStart: number;
  optEnd: number;
}

/** Walks a complete message; null when it does not parse. Same tolerance as parseQuery. */
export function walkMessage(msg: Buffer): Layout | null {
  const len = msg.length;
  if (len < HEADER_LEN) return null;
  const qd = msg.readUInt16BE(4);
  const an = msg.readUInt16BE(6);
  const ns = msg.readUInt16BE(8);
  const ar = msg.readUInt16BE(10);
  let off = HEADER_LEN;
  let qdSeen = 0;
  for (let i = 0; i < qd; i++) {
    if (off === len) break;
    off = skipName(msg, off);
    if (off < 0 || off + 4 > len) return null;
    off += 4;
    qdSeen++;
  }
  const qEnd = off;
  const anEnds: number[] = [];
  let nsStart = -1;
  let nsEnd = -1;
  let optStart = -1;
  let optEnd = -1;
  const total = an + ns + ar;
  for (let i = 0; i < total; i++) {
    if (i === an) nsStart = off;
    if (i === an + ns) nsEnd = off;
    if (off === len) break;
    const start = off;
    off = skipName(msg, off);
    if (off < 0 || off + 10 > len) return null;
    const type = msg.readUInt16BE(off);
    off += 10 + msg.readUInt16BE(off + 8);
    if (off > len) return null;
    if (i < an) anEnds.push(off);
    else if (i >= an + ns && type === TYPE_OPT && optStart < 0) {
      optStart = start;
      optEnd = off;
    }
  }
  if (nsStart < 0) nsStart = off;
  if (nsEnd < 0) nsEnd = off;
  return { qd: qdSeen, qEnd, anEnds, nsStart, nsEnd, arEnd: off, optStart, optEnd };
}

/** ASCII-only lower-casing of a latin1 string (other bytes untouched, unlike toLowerCase). */
function asciiLower(s: string): string {
  let needs = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) {
      needs = true;
      break;
    }
  }
  if (!needs) return s;
  let r = "";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    r += c >= 0x41 && c <= 0x5a ? String.fromCharCode(c | 0x20) : s[i];
  }
  return r;
}

/**
 * Dotted absolute name (`a.b.` or `.`) → uncompressed wire form; labels are UTF-8 bytes. Returns null
 * when the name cannot be encoded (empty label, label > 63 bytes, name > 255 bytes).
 */
export function nameToWire(name: string): Buffer | null {
  if (name === "." || name === "") return Buffer.from(ROOT);
  const trimmed = name.endsWith(".") ? name.slice(0, -1) : name;
  const parts = trimmed.split(".");
  const bufs: Buffer[] = [];
  let total = 1;
  for (const p of parts) {
    const b = Buffer.from(p, "utf8");
    if (b.length === 0 || b.length > 63) return null;
    total += b.length + 1;
    if (total > MAX_NAME_WIRE) return null;
    bufs.push(Buffer.from([b.length]), b);
  }
  bufs.push(ROOT);
  return Buffer.concat(bufs, total);
}

/**
 * A growable message writer with name compression (RFC 1035 §4.1.4). Compression keys are the
 * ASCII-lower-cased wire form of each suffix, so matching is case-insensitive and unambiguous.
 */
export class Writer {
  buf: Buffer;
  pos = 0;
  private readonly dict = new Map<string, number>();

  constructor(size = 512) {
    this.buf = Buffer.alloc(size);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v & 0xff;
  }

  u16(v: number): void {
    this.ensure(2);
    this.buf.writeUInt16BE(v & 0xffff, this.pos);
    this.pos += 2;
  }

  u32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32BE(v >>> 0, this.pos);
    this.pos += 4;
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /**
   * Writes an uncompressed wire name. `compress`: use pointers to names already registered;
   * `register`: make this name's suffixes available to later names.
   */
  name(wire: Buffer, compress = true, register = true): void {
    let i = 0;
    while (i < wire.length && wire[i] !== 0) {
      if (compress || register) {
        const key = asciiLower(wire.toString("latin1", i));
        if (compress) {
          const ptr = this.dict.get(key);
          if (ptr !== undefined) {
            this.u16(0xc000 | ptr);
            return;
          }
        }
        if (register && this.pos <= 0x3fff && !this.dict.has(key)) this.dict.set(key, this.pos);
      }
      const l = wire[i]! + 1;
      this.bytes(wire.subarray(i, i + l));
      i += l;
    }
    this.u8(0);
  }

  /** Registers the suffixes of a name already written at `at` (uncompressed) without writing. */
  registerAt(wire: Buffer, at: number): void {
    let i = 0;
    while (i < wire.length && wire[i] !== 0 && at + i <= 0x3fff) {
      const key = asciiLower(wire.toString("latin1", i));
      if (!this.dict.has(key)) this.dict.set(key, at + i);
      i += wire[i]! + 1;
    }
  }

  result(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

/** A header-only reply (FORMERR for unparsable messages), ID kept, QR=1, opcode QUERY. */
export function headerOnly(id: number, rcode: number): Buffer {
  const b = Buffer.alloc(HEADER_LEN);
  b.writeUInt16BE(id, 0);
  b.writeUInt16BE(FLAG_QR | (rcode & MASK_RCODE), 2);
  return b;
}

/** The 11-byte OPT record we add to replies to EDNS0 queries (version 0, no flags). */
export function optRecord(udpSize: number, extRcode = 0): Buffer {
  const b = Buffer.alloc(11);
  b[0] = 0;
  b.writeUInt16BE(TYPE_OPT, 1);
  b.writeUInt16BE(udpSize, 3);
  b[5] = extRcode;
  return b;
}

/** The question name, uncompressed wire form, case as received. */
export function qnameWire(msg: Buffer, q: Query): Buffer {
  return q.decompressed ?? msg.subarray(HEADER_LEN, q.qEnd - 4);
}

/** Length of the echoed question section (name + type + class). */
export function questionLength(q: Query): number {
  return q.decompressed === null ? q.qEnd - HEADER_LEN : q.decompressed.length + 4;
}

/** Writes the echoed question at offset 12 of `out`: the received bytes, or rebuilt without pointers. */
export function writeQuestion(out: Buffer, msg: Buffer, q: Query): void {
  if (q.decompressed === null) {
    msg.copy(out, HEADER_LEN, HEADER_LEN, q.qEnd);
    return;
  }
  const n = q.decompressed.length;
  q.decompressed.copy(out, HEADER_LEN);
  out.writeUInt16BE(q.qtype, HEADER_LEN + n);
  out.writeUInt16BE(q.qclass, HEADER_LEN + n + 2);
}

/**
 * A reply with only the header, the echoed question (if any) and an optional OPT record: SERVFAIL,
 * REFUSED, BADVERS. Flags as miekg's SetRcode: QR=1, opcode/RD/CD copied, AA/RA clear.
 */
export function errorReply(msg: Buffer, q: Query, rcode: number, opt: Buffer | null): Buffer {
  const qLen = q.hasQuestion ? questionLength(q) : 0;
  const optLen = opt ? opt.length : 0;
  const out = Buffer.allocUnsafe(HEADER_LEN + qLen + optLen);
  out.writeUInt16BE(q.id, 0);
  out.writeUInt16BE(FLAG_QR | (q.flags & (MASK_OPCODE | FLAG_RD | FLAG_CD)) | (rcode & MASK_RCODE), 2);
  out.writeUInt16BE(q.hasQuestion ? 1 : 0, 4);
  out.writeUInt32BE(0, 6);
  out.writeUInt16BE(opt ? 1 : 0, 10);
  if (q.hasQuestion) writeQuestion(out, msg, q);
  if (opt) opt.copy(out, HEADER_LEN + qLen);
  return out;
}
