/**
 * Precomputed authoritative answers for one record set (spec §4 "Authoritative handler").
 *
 * Built once per record-set version. Per name: A/AAAA answers as fixed-size records (owner = a
 * pointer to the question, so any order is a byte permutation and shuffling costs a few random
 * numbers); SRV and ANY answers as up to 16 encoded permutations ("variants") of answer + authority +
 * additional, compressed against a question at offset 12. A query is then: look up the name, pick a
 * variant, copy header + echoed question + body, patch ID/flags/counts, cut to size if needed.
 */
import { isIPv4, isIPv6 } from "node:net";
import type { MesosDnsConfig, RecordSet } from "../model";
import * as dnsLib from "@dcnet/dns";
import type { Query, QueryScratch } from "@dcnet/dns";

// Bound once at load: every use of a name imported from @dcnet/dns goes through the getter its
// `export *` re-export compiles to (one shared, megamorphic getter: ~20% of the query path).
const {
  fitSections,
  ipv4Bytes,
  ipv6Bytes,
  CLASS_IN,
  FLAG_AA,
  FLAG_CD,
  FLAG_QR,
  FLAG_RA,
  FLAG_RD,
  FLAG_TC,
  HEADER_LEN,
  MASK_OPCODE,
  RCODE_NOERROR,
  RCODE_NXDOMAIN,
  TYPE_A,
  TYPE_AAAA,
  TYPE_ANY,
  TYPE_NS,
  TYPE_SOA,
  TYPE_SRV,
  Writer,
  nameToWire,
  plainKey,
  qnameWire,
  questionLength,
  wireKeyHash,
  WireKeyTable,
  writeQuestion,
} = dnsLib;

const EMPTY = new Uint8Array(0);

export { ipv6Bytes };

/** The config fields the authoritative handler uses (§7). */
export interface ZoneSettings {
  /** `mesos.` — lower-case, absolute. */
  domain: string;
  ttl: number;
  soaMname: string;
  soaRname: string;
  soaRefresh: number;
  soaRetry: number;
  soaExpire: number;
  srvWeight: number;
  recurseOn: boolean;
  setTruncateBit: boolean;
}

export function zoneSettings(config: MesosDnsConfig): ZoneSettings {
  return {
    domain: config.domain.toLowerCase().replace(/\.+$/, "") + ".",
    ttl: config.ttl,
    soaMname: config.soaMname,
    soaRname: config.soaRname,
    soaRefresh: config.soaRefresh,
    soaRetry: config.soaRetry,
    soaExpire: config.soaExpire,
    srvWeight: config.srvRecordDefaultWeight,
    recurseOn: config.recurseOn,
    setTruncateBit: config.setTruncateBit,
  };
}

/** Answer + authority + additional, encoded after a question that starts at offset 12. */
interface Sections {
  body: Buffer;
  /** End of each answer record, relative to the body start. */
  anEnds: number[];
  nsLen: number;
  arLen: number;
  ns: number;
  ar: number;
}

interface SrvValue {
  port: number;
  target: Buffer;
  /** Lower-case target name, the key for its A/AAAA records. */
  targetName: string;
}

interface Entry {
  /** Any A/AAAA/SRV values stored under this name (decides NODATA vs NXDOMAIN). */
  exists: boolean;
  a: Buffer[];
  aaaa: Buffer[];
  srv: SrvValue[];
  /** Answer records with owner = pointer to the question (16 bytes each for A, 28 for AAAA). */
  aRRs: Buffer | null;
  aaaaRRs: Buffer | null;
  srvVariants: Sections[] | null;
  /** ANY is rare: built on first use, then kept with the set. */
  anyVariants: Sections[] | null | undefined;
  next: number;
  /** Values of this name that cannot be served (counted into `skipped` again when the entry is reused). */
  skipped: number;
}

/** Permutations precomputed per SRV/ANY answer. */
export const MAX_VARIANTS = 16;

export class AnswerSet {
  readonly serial: number;
  /** Distinct names in the set (all types). */
  readonly size: number;
  /** Entries built so far: a name is built on its first query or by prewarm(). */
  private readonly names = new Map<string, Entry>();
  /** `.` + domain, for the in-zone test. */
  private readonly dotted: string;
  /** prewarm()'s position in the set's names. */
  private pending: Iterator<string> | null = null;
  private readonly soa: Buffer;
  private readonly nsRR: Buffer;
  private readonly soaOnly: Sections;
  private readonly nsOnly: Sections;
  private readonly anyMiss: Sections;
  private readonly noAnswer: Sections;
  private readonly anyAuthority: Buffer;
  private readonly baseFlags: number;
  /** Values skipped so far because they cannot be served (not an IP, target label > 63 bytes…). */
  skipped = 0;
  /** Entries taken over from the previous set (their names' records did not change). */
  reused = 0;
  /** Rcode of the last reply built by respond()/respondFast() (read right after the call). */
  rcode = RCODE_NOERROR;
  /** Whether the last reply built by respond()/respondFast() was cut to fit. */
  truncated = false;

  /**
   * Built entries by lower-cased wire name (packages/dns WireKeyTable): the query path finds a name
   * from the bytes parseQueryInto leaves in a QueryScratch (no string); an entry's value is its A
   * records (16 bytes each) then its AAAA records (28 bytes each); its ints: A count, AAAA count,
   * index into `fastEntries`.
   */
  private readonly table: dnsLib.WireKeyTable;
  private readonly fastEntries: Entry[] = [];

  private constructor(
    private readonly set: RecordSet,
    serial: number,
    private readonly zone: ZoneSettings,
    private readonly fastFilter: ((name: string) => boolean) | undefined,
    /** The set this one replaces: built entries of unchanged names are taken over (until prewarm ends). */
    private previous: AnswerSet | undefined,
  ) {
    this.serial = serial >>> 0;
    this.baseFlags = FLAG_QR | FLAG_AA | (zone.recurseOn ? FLAG_RA : 0);
    const mname = nameToWire(zone.soaMname) ?? Buffer.from([0]);
    const rname = nameToWire(zone.soaRname) ?? Buffer.from([0]);
    this.soa = fixedRR(
      TYPE_SOA,
      zone.ttl,
      Buffer.concat([mname, rname, u32s(this.serial, zone.soaRefresh, zone.soaRetry, zone.soaExpire, zone.ttl)]),
    );
    this.nsRR = fixedRR(TYPE_NS, zone.ttl, mname);
    this.soaOnly = authorityOnly([this.soa]);
    this.nsOnly = authorityOnly([this.nsRR]);
    this.anyMiss = authorityOnly([this.nsRR, this.soa, this.soa]);
    this.noAnswer = authorityOnly([]);
    this.anyAuthority = Buffer.concat([this.nsRR, this.soa]);
    const d = zone.domain;
    this.dotted = "." + d;
    this.size = new Set([...set.a.keys(), ...set.aaaa.keys(), ...set.srv.keys()]).size;
    this.table = new WireKeyTable(this.size * 2);
  }

  /**
   * The entry for a lower-cased absolute name, built (once per set) on first use; undefined when
   * the set has no records under it or it is outside the domain.
   */
  private entry(name: string): Entry | undefined {
    const e = this.names.get(name);
    if (e !== undefined) return e;
    const av = this.set.a.get(name);
    const aaaav = this.set.aaaa.get(name);
    const sv = this.set.srv.get(name);
    if (av === undefined && aaaav === undefined && sv === undefined) return undefined;
    if (!(name.endsWith(this.dotted) || name === this.zone.domain)) return undefined;
    const built = this.takeOver(name, av, aaaav, sv) ?? this.make(name, av ?? [], aaaav ?? [], sv ?? []);
    this.names.set(name, built);
    const key = plainKey(name);
    if (key !== null && (this.fastFilter === undefined || this.fastFilter(name))) this.index(key, built);
    return built;
  }

  /**
   * The previous set's entry for `name` when everything it was built from is unchanged: the name's
   * A, AAAA and SRV values, and for SRV the A/AAAA values of every target (the additional section).
   * TTL, SRV weight and the router are the same (same zone settings and filter, checked at build).
   * The SOA serial is not in an entry (NODATA/NXDOMAIN and ANY's authority come from the set), and
   * ANY answers are rebuilt on use. A copy: the rotation position is per set.
   */
  private takeOver(
    name: string,
    av: readonly string[] | undefined,
    aaaav: readonly string[] | undefined,
    sv: readonly string[] | undefined,
  ): Entry | undefined {
    const prev = this.previous;
    if (prev === undefined) return undefined;
    const old = prev.names.get(name);
    if (old === undefined) return undefined;
    const was = prev.set;
    if (!sameValues(was.a.get(name), av) || !sameValues(was.aaaa.get(name), aaaav) || !sameValues(was.srv.get(name), sv)) return undefined;
    for (const t of old.srv) {
      const target = t.targetName;
      if (!sameValues(was.a.get(target), this.set.a.get(target)) || !sameValues(was.aaaa.get(target), this.set.aaaa.get(target)))
        return undefined;
    }
    this.skipped += old.skipped;
    this.reused++;
    return { ...old, anyVariants: undefined, next: 0 };
  }

  private index(key: Uint8Array, e: Entry): void {
    const a = e.aRRs;
    const aaaa = e.aaaaRRs;
    const value = a && aaaa ? Buffer.concat([a, aaaa]) : (a ?? aaaa ?? EMPTY);
    this.fastEntries.push(e);
    this.table.set(
      key,
      key.length,
      wireKeyHash(key, key.length),
      value,
      a ? a.length / 16 : 0,
      aaaa ? aaaa.length / 28 : 0,
      this.fastEntries.length - 1,
    );
  }

  private make(name: string, av: readonly string[], aaaav: readonly string[], sv: readonly string[]): Entry {
    const zone = this.zone;
    const e: Entry = {
      exists: av.length + aaaav.length + sv.length > 0,
      a: [],
      aaaa: [],
      srv: [],
      aRRs: null,
      aaaaRRs: null,
      srvVariants: null,
      anyVariants: undefined,
      next: 0,
      skipped: 0,
    };
    const owner = nameToWire(name);
    // A name with a label over 63 bytes cannot be asked for; it keeps `exists` (NODATA) only.
    if (!owner) return e;
    for (const v of av) if (isIPv4(v)) e.a.push(ipv4Bytes(v));
    for (const v of aaaav) {
      const b = isIPv6(v) ? ipv6Bytes(v) : null;
      if (b) e.aaaa.push(b);
    }
    for (const v of sv) {
      const srv = parseSrv(v);
      if (srv) e.srv.push(srv);
    }
    e.skipped = av.length + aaaav.length + sv.length - e.a.length - e.aaaa.length - e.srv.length;
    this.skipped += e.skipped;
    if (e.a.length > 0) e.aRRs = Buffer.concat(e.a.map((ip) => fixedRR(TYPE_A, zone.ttl, ip)));
    if (e.aaaa.length > 0) e.aaaaRRs = Buffer.concat(e.aaaa.map((ip) => fixedRR(TYPE_AAAA, zone.ttl, ip)));
    if (e.srv.length > 0) e.srvVariants = this.variants(e.srv.length, (order) => this.build(owner, owner, TYPE_SRV, e, order));
    return e;
  }

  /**
   * Builds up to `budget` not-yet-built names; returns true when every name of the set is built.
   * The server calls it in small slices after a swap so the event loop never stalls on a big set.
   */
  prewarm(budget: number): boolean {
    if (this.pending === null) this.pending = new Set([...this.set.a.keys(), ...this.set.aaaa.keys(), ...this.set.srv.keys()]).values();
    for (let i = 0; i < budget; i++) {
      const next = this.pending.next();
      if (next.done) {
        this.previous = undefined; // every name is built: nothing more to take over
        return true;
      }
      this.entry(next.value);
    }
    return false;
  }

  /**
   * Builds the answers for a record set; `serial` goes into every SOA. `fastFilter`: names that
   * respondFast() may answer (default all); the server excludes names its router sends elsewhere.
   * `previous`: the set being replaced; the answers of names whose records did not change are
   * taken from it instead of built again (with the same zone settings and filter objects only).
   */
  static build(
    set: RecordSet,
    serial: number,
    zone: ZoneSettings,
    fastFilter?: (name: string) => boolean,
    previous?: AnswerSet,
  ): AnswerSet {
    const usable = previous !== undefined && previous.zone === zone && previous.fastFilter === fastFilter ? previous : undefined;
    // At most two sets alive: the one replaced lets go of the one before it.
    if (usable !== undefined) usable.previous = undefined;
    return new AnswerSet(set, serial, zone, fastFilter, usable);
  }

  /** Whether the set has records (any type) under this lower-cased absolute name. */
  has(name: string): boolean {
    return this.entry(name)?.exists ?? false;
  }

  /**
   * The hot path: answers `q` when its name is a built entry that `fastFilter` lets through, is not
   * escaped and has no `*` (plain A/AAAA records straight from the entry); null when the caller must
   * route the query and use respond(). `q.qtype` must not be DS (DS is always forwarded). Sets
   * `rcode` and `truncated`.
   */
  respondFast(msg: Buffer, q: QueryScratch, limit: number, opt: Buffer | null): Buffer | null {
    if (q.escaped || q.star) return null;
    const t = this.table;
    const s = t.find(q.key, q.keyLen, q.keyHash);
    if (s < 0) return null;
    const flags = this.baseFlags | (q.flags & (MASK_OPCODE | FLAG_RD | FLAG_CD));
    const qt = q.qtype;
    const nA = t.count0(s);
    if (qt === TYPE_A && nA > 0) return this.emitFixed(msg, q, flags, t.data, t.valueAt(s), nA, 16, limit, opt);
    const nAAAA = t.count1(s);
    if (qt === TYPE_AAAA && nAAAA > 0) {
      return this.emitFixed(msg, q, flags, t.data, t.valueAt(s) + nA * 16, nAAAA, 28, limit, opt);
    }
    return this.answer(msg, q, q.name, true, this.fastEntries[t.count2(s)], flags, limit, opt);
  }

  /**
   * Answers a query routed to the Mesos zone. `limit` is the size limit for the transport; `opt` an
   * OPT record to append (EDNS0 reply) or null. Sets `rcode` and `truncated`.
   */
  respond(msg: Buffer, q: Query, limit: number, opt: Buffer | null): Buffer {
    let key = q.name;
    let direct = !q.escaped;
    if (key.includes(".*")) {
      key = key.replaceAll(".*", "");
      direct = false;
    }
    const e = this.entry(key);
    const flags = this.baseFlags | (q.flags & (MASK_OPCODE | FLAG_RD | FLAG_CD));
    return this.answer(msg, q, key, direct, e, flags, limit, opt);
  }

  private answer(
    msg: Buffer,
    q: Query,
    key: string,
    direct: boolean,
    e: Entry | undefined,
    flags: number,
    limit: number,
    opt: Buffer | null,
  ): Buffer {
    const qt = q.qtype;
    if (e !== undefined) {
      if (qt === TYPE_A && e.aRRs !== null) {
        if (direct) return this.emitFixed(msg, q, flags, e.aRRs, 0, e.aRRs.length / 16, 16, limit, opt);
        return this.emit(msg, q, flags, RCODE_NOERROR, this.slow(msg, q, key, TYPE_A, e), limit, opt);
      }
      if (qt === TYPE_AAAA && e.aaaaRRs !== null) {
        if (direct) return this.emitFixed(msg, q, flags, e.aaaaRRs, 0, e.aaaaRRs.length / 28, 28, limit, opt);
        return this.emit(msg, q, flags, RCODE_NOERROR, this.slow(msg, q, key, TYPE_AAAA, e), limit, opt);
      }
      if (qt === TYPE_SRV && e.srvVariants !== null) {
        const s = direct ? pick(e, e.srvVariants) : this.slow(msg, q, key, TYPE_SRV, e);
        return this.emit(msg, q, flags, RCODE_NOERROR, s, limit, opt);
      }
      if (qt === TYPE_ANY && (e.a.length > 0 || e.aaaa.length > 0 || e.srv.length > 0)) {
        let s: Sections;
        if (direct) {
          if (e.anyVariants === undefined) {
            const owner = nameToWire(key)!;
            const n = e.a.length + e.aaaa.length + e.srv.length;
            e.anyVariants = this.variants(n, (order) => this.build(owner, owner, TYPE_ANY, e, order));
          }
          s = pick(e, e.anyVariants!);
        } else s = this.slow(msg, q, key, TYPE_ANY, e);
        return this.emit(msg, q, flags, RCODE_NOERROR, s, limit, opt);
      }
    }
    // Empty answer section (§4 step 4).
    switch (qt) {
      case TYPE_SOA:
        return this.emit(msg, q, flags, RCODE_NOERROR, this.soaOnly, limit, opt);
      case TYPE_NS:
        return this.emit(msg, q, flags, RCODE_NOERROR, this.nsOnly, limit, opt);
      case TYPE_SRV:
        return this.emit(msg, q, flags, RCODE_NOERROR, this.noAnswer, limit, opt);
    }
    const rcode = e?.exists ? RCODE_NOERROR : RCODE_NXDOMAIN;
    return this.emit(msg, q, flags, rcode, qt === TYPE_ANY ? this.anyMiss : this.soaOnly, limit, opt);
  }

  /**
   * A/AAAA: a random subset/permutation of the `n` fixed-size records at `src[srcOff…]` that fits
   * (a partial Fisher–Yates: the first k positions are a uniformly random ordered k-subset). Small
   * copies are byte loops (Buffer#copy costs more than copying 16–60 bytes).
   */
  private emitFixed(
    msg: Buffer,
    q: Query,
    flags: number,
    src: Uint8Array,
    srcOff: number,
    n: number,
    size: number,
    limit: number,
    opt: Buffer | null,
  ): Buffer {
    const direct = q.decompressed === null;
    const head = direct ? q.qEnd : HEADER_LEN + questionLength(q);
    const optLen = opt ? opt.length : 0;
    let k = n;
    let truncated = false;
    if (head + n * size + optLen > limit) {
      truncated = true;
      k = Math.max(0, Math.min(n, Math.floor((limit - head - optLen - 1) / size)));
    }
    const out = Buffer.allocUnsafe(head + k * size + optLen);
    this.header(out, q.id, flags, RCODE_NOERROR, truncated, k, 0, opt ? 1 : 0);
    if (direct) for (let i = HEADER_LEN; i < head; i++) out[i] = msg[i]!;
    else writeQuestion(out, msg, q);
    let pos = head;
    if (n === 1) {
      if (k === 1) for (let i = srcOff, end = srcOff + size; i < end; i++) out[pos++] = src[i]!;
    } else {
      if (permScratch.length < n) permScratch = new Uint32Array(n);
      const perm = permScratch;
      for (let i = 0; i < n; i++) perm[i] = i;
      for (let i = 0; i < k; i++) {
        const j = i + Math.floor(Math.random() * (n - i));
        const p = perm[j]!;
        perm[j] = perm[i]!;
        for (let b = srcOff + p * size, end = b + size; b < end; b++) out[pos++] = src[b]!;
      }
    }
    if (opt) for (let i = 0; i < optLen; i++) out[pos++] = opt[i]!;
    this.rcode = RCODE_NOERROR;
    this.truncated = truncated;
    return out;
  }

  private emit(msg: Buffer, q: Query, flags: number, rcode: number, s: Sections, limit: number, opt: Buffer | null): Buffer {
    const head = HEADER_LEN + questionLength(q);
    const optLen = opt ? opt.length : 0;
    const fit = fitSections(head, s.anEnds, s.nsLen, s.arLen, optLen, limit);
    const anLen = s.anEnds.length > 0 ? s.anEnds[s.anEnds.length - 1]! : 0;
    let out: Buffer;
    if (!fit.truncated) {
      out = Buffer.allocUnsafe(head + s.body.length + optLen);
      s.body.copy(out, head);
      this.header(out, q.id, flags, rcode, false, s.anEnds.length, s.ns, s.ar + (opt ? 1 : 0));
    } else {
      const keep = fit.answers > 0 ? s.anEnds[fit.answers - 1]! : 0;
      const auth = fit.authority ? s.nsLen : 0;
      out = Buffer.allocUnsafe(head + keep + auth + optLen);
      s.body.copy(out, head, 0, keep);
      if (auth > 0) s.body.copy(out, head + keep, anLen, anLen + auth);
      this.header(out, q.id, flags, rcode, true, fit.answers, fit.authority ? s.ns : 0, opt ? 1 : 0);
    }
    writeQuestion(out, msg, q);
    if (opt) opt.copy(out, out.length - optLen);
    this.rcode = rcode;
    this.truncated = fit.truncated;
    return out;
  }

  private header(out: Buffer, id: number, flags: number, rcode: number, truncated: boolean, an: number, ns: number, ar: number): void {
    let f = flags | rcode;
    if (truncated && this.zone.setTruncateBit) f |= FLAG_TC;
    out[0] = id >> 8;
    out[1] = id & 0xff;
    out[2] = f >> 8;
    out[3] = f & 0xff;
    out[4] = 0;
    out[5] = 1;
    out[6] = an >> 8;
    out[7] = an & 0xff;
    out[8] = ns >> 8;
    out[9] = ns & 0xff;
    out[10] = ar >> 8;
    out[11] = ar & 0xff;
  }

  /** Builds the sections for the actual question (after `.*` removal or for escaped names), shuffled. */
  private slow(msg: Buffer, q: Query, key: string, qtype: number, e: Entry): Sections {
    const qwire = qnameWire(msg, q);
    const owner = nameToWire(key) ?? qwire;
    const n =
      qtype === TYPE_A
        ? e.a.length
        : qtype === TYPE_AAAA
          ? e.aaaa.length
          : qtype === TYPE_SRV
            ? e.srv.length
            : e.a.length + e.aaaa.length + e.srv.length;
    return this.build(qwire, owner, qtype, e, shuffled(n));
  }

  /** Up to MAX_VARIANTS permutations; variant i starts with value ⌊i·n/V⌋, the rest shuffled. */
  private variants(n: number, build: (order: number[]) => Sections): Sections[] {
    if (n <= 1) return [build([0])];
    const v = Math.min(n, MAX_VARIANTS);
    const out: Sections[] = [];
    for (let i = 0; i < v; i++) {
      const first = Math.floor((i * n) / v);
      const rest = shuffled(n).filter((x) => x !== first);
      out.push(build([first, ...rest]));
    }
    return out;
  }

  /**
   * Encodes answer/authority/additional for `qtype` (A, AAAA, SRV or ANY) after question `qwire`.
   * `order` permutes the answers (for ANY: over SRV ++ A ++ AAAA). Authority records are
   * position-independent (owner = pointer to the question, uncompressed RDATA) so an answer prefix
   * can be cut without breaking them; additional records may point anywhere (they go first).
   */
  private build(qwire: Buffer, owner: Buffer, qtype: number, e: Entry, order: number[]): Sections {
    const zone = this.zone;
    const w = new Writer(512);
    w.pos = HEADER_LEN;
    w.name(qwire, false, true);
    w.u32(0);
    const start = w.pos;
    const anEnds: number[] = [];
    const targets: SrvValue[] = [];
    const seen = new Set<string>();
    const srvN = qtype === TYPE_SRV || qtype === TYPE_ANY ? e.srv.length : 0;
    const aN = qtype === TYPE_A || qtype === TYPE_ANY ? e.a.length : 0;
    const aBase = srvN;
    const aaaaBase = srvN + aN;
    const writeAddr = (name: Buffer, type: number, ip: Buffer) => {
      w.name(name);
      w.u16(type);
      w.u16(CLASS_IN);
      w.u32(zone.ttl);
      w.u16(ip.length);
      w.bytes(ip);
    };
    for (const idx of order) {
      if (idx < aBase) {
        const s = e.srv[idx]!;
        w.name(qwire); // SRV owner = the question name as received
        w.u16(TYPE_SRV);
        w.u16(CLASS_IN);
        w.u32(zone.ttl);
        w.u16(6 + s.target.length);
        w.u16(0);
        w.u16(zone.srvWeight);
        w.u16(s.port);
        // RFC 2782: no compression in the target; still offered to later names.
        w.registerAt(s.target, w.pos);
        w.bytes(s.target);
        if (!seen.has(s.targetName)) {
          seen.add(s.targetName);
          targets.push(s);
        }
      } else if (idx < aaaaBase) writeAddr(owner, TYPE_A, e.a[idx - aBase]!);
      else writeAddr(owner, TYPE_AAAA, e.aaaa[idx - aaaaBase]!);
      anEnds.push(w.pos - start);
    }
    const nsStart = w.pos;
    let ns = 0;
    if (qtype === TYPE_ANY) {
      w.bytes(this.anyAuthority);
      ns = 2;
    }
    const arStart = w.pos;
    let ar = 0;
    for (const t of targets) {
      const a = this.firstAddr(t.targetName, TYPE_A);
      if (a) {
        writeAddr(t.target, TYPE_A, a);
        ar++;
      }
      const aaaa = this.firstAddr(t.targetName, TYPE_AAAA);
      if (aaaa) {
        writeAddr(t.target, TYPE_AAAA, aaaa);
        ar++;
      }
    }
    const body = Buffer.from(w.buf.subarray(start, w.pos));
    return { body, anEnds, nsLen: arStart - nsStart, arLen: w.pos - arStart, ns, ar };
  }

  private firstAddr(name: string, type: number): Buffer | null {
    const values = type === TYPE_A ? this.set.a.get(name) : this.set.aaaa.get(name);
    if (!values) return null;
    for (const v of values) {
      if (type === TYPE_A && isIPv4(v)) return ipv4Bytes(v);
      if (type === TYPE_AAAA && isIPv6(v)) return ipv6Bytes(v);
    }
    return null;
  }
}

/** Index scratch for the partial Fisher–Yates shuffle of A/AAAA records (grown to the largest set served). */
let permScratch = new Uint32Array(64);

/** The same values in the same order (both absent counts as the same). */
function sameValues(x: readonly string[] | undefined, y: readonly string[] | undefined): boolean {
  if (x === y) return true;
  if (x === undefined || y === undefined || x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

function pick(e: Entry, variants: Sections[]): Sections {
  const i = e.next;
  e.next = i + 1 >= variants.length ? 0 : i + 1;
  return variants[i]!;
}

function shuffled(n: number): number[] {
  const a: number[] = [];
  for (let i = 0; i < n; i++) a.push(i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  }
  return a;
}

function authorityOnly(rrs: Buffer[]): Sections {
  const body = Buffer.concat(rrs);
  return { body, anEnds: [], nsLen: body.length, arLen: 0, ns: rrs.length, ar: 0 };
}

/** A record whose owner is a pointer to the question name (offset 12). */
function fixedRR(type: number, ttl: number, rdata: Buffer): Buffer {
  const b = Buffer.alloc(12 + rdata.length);
  b.writeUInt16BE(0xc000 | HEADER_LEN, 0);
  b.writeUInt16BE(type, 2);
  b.writeUInt16BE(CLASS_IN, 4);
  b.writeUInt32BE(ttl >>> 0, 6);
  b.writeUInt16BE(rdata.length, 10);
  rdata.copy(b, 12);
  return b;
}

function u32s(...vs: number[]): Buffer {
  const b = Buffer.alloc(vs.length * 4);
  vs.forEach((v, i) => b.writeUInt32BE(v >>> 0, i * 4));
  return b;
}

function parseSrv(v: string): SrvValue | null {
  const i = v.lastIndexOf(":");
  if (i <= 0) return null;
  const port = Number(v.slice(i + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) return null;
  let targetName = v.slice(0, i).toLowerCase();
  if (!targetName.endsWith(".")) targetName += ".";
  const target = nameToWire(targetName);
  if (!target) return null;
  return { port, target, targetName };
}
