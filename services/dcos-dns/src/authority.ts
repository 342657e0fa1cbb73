/**
 * Authoritative answers from the zones this node holds (spec §3.4, erldns semantics as dcos-dns
 * configures them):
 * - the zone is the longest apex that is a suffix of the name; no zone → NOERROR, AA, empty;
 * - name absent → NXDOMAIN + the zone's SOA in authority; name present (or an empty non-terminal)
 *   without that type → NOERROR/NODATA + SOA; RRSIG → REFUSED; RA always clear, AA set;
 * - CNAMEs are followed inside our zones (CNAME first), the other records rotated by
 *   `message id mod n` (`loadbalance = round_robin`, the default since DCOS_OSS-5118);
 * - TTL 5 for A/AAAA/SRV/CNAME and SOA; NS 3600 → ns.spartan; SOA ns.spartan /
 *   support.mesosphere.com, serial 1, refresh 60, retry 180, expire 86400, minimum 1;
 * - UDP replies cut to 512 bytes or the client's EDNS0 size (TC set); TCP unlimited.
 *
 * Hot path: records are stored as the zone's raw values and compiled per name on first query into
 * position-independent resource records (owner = pointer to the question, or an uncompressed name),
 * so a reply is header + echoed question + copied bytes. Replacing a zone drops its compiled names.
 * Plain names answered with A/AAAA records are also remembered by wire name (fast-answers.ts) for
 * respondFast(), which the server tries before routing; every zone change invalidates them.
 *
 * Incremental updates (per-record deltas from the bus, zone-sync.ts): a zone's records may be
 * shared read-only with other node instances in the process (decodeZoneShared), so a delta never
 * touches them; it goes into a per-zone overlay (name → new values, or a tombstone) consulted
 * before the base records, and drops the compiled entries it makes stale. Empty non-terminals are
 * counted (names below each name), base counts shared per records map, overlay changes adjusting
 * them per zone. Replacing the zone (a snapshot) starts again without an overlay.
 */
import { isIPv4, isIPv6 } from "node:net";
import {
  type Query,
  type QueryScratch,
  CLASS_IN,
  FLAG_AA,
  FLAG_CD,
  FLAG_QR,
  FLAG_RD,
  FLAG_TC,
  HEADER_LEN,
  MASK_OPCODE,
  RCODE_NOERROR,
  RCODE_NXDOMAIN,
  RCODE_REFUSED,
  TYPE_A,
  TYPE_AAAA,
  TYPE_ANY,
  TYPE_NS,
  TYPE_SOA,
  TYPE_SRV,
  errorReply,
  fitSections,
  ipv4Bytes,
  ipv6Bytes,
  nameToWire,
  questionLength,
  writeQuestion,
} from "@dcnet/dns";
import { A_RR, AAAA_RR, FastAnswers, emitFixed, isTruncated } from "./fast-answers";
import { type RecordValues, type ZoneData, recordsOf } from "./zone";

export const TYPE_CNAME = 5;
export const TYPE_RRSIG = 46;
export const RECORD_TTL = 5;
export const NS_TTL = 3600;
export const SOA = {
  mname: "ns.spartan.",
  rname: "support.mesosphere.com.",
  serial: 1,
  refresh: 60,
  retry: 180,
  expire: 86400,
  minimum: 1,
};

export type LoadBalance = "round_robin" | "random";

export interface Reply {
  buf: Buffer;
  rcode: number;
  truncated: boolean;
}

/** Maps names inside answers back to the suffix the client asked with (§3.2 renames); identity when none. */
export type NameMap = (name: string) => string;

interface Entry {
  /** A records, 16 bytes each, owner = pointer to the question. */
  a: Buffer | null;
  aN: number;
  aaaa: Buffer | null;
  aaaaN: number;
  srv: Buffer[];
  /** A/AAAA of SRV targets found in our zones, for the additional section. */
  srvExtra: Buffer[];
  cname: Buffer | null;
  cnameTarget: string | null;
}

/**
 * For each records map: how many names lie strictly below each name (a name with a count > 0 is a
 * non-terminal, RFC 8020: NOERROR, not NXDOMAIN). Computed once per map, shared by every zone
 * built on it (maps from the bus are shared read-only between node instances in one process).
 */
const baseCounts = new WeakMap<ReadonlyMap<string, RecordValues>, Map<string, number>>();

function countsOf(records: ReadonlyMap<string, RecordValues>, apex: string): Map<string, number> {
  let c = baseCounts.get(records);
  if (c === undefined) {
    c = new Map<string, number>();
    for (const n of records.keys()) forEachAncestor(n, apex, (p) => c!.set(p, (c!.get(p) ?? 0) + 1));
    baseCounts.set(records, c);
  }
  return c;
}

/** Calls `f` with each name strictly above `name`, down to (and including) the apex. */
function forEachAncestor(name: string, apex: string, f: (parent: string) => void): void {
  let i = name.indexOf(".");
  while (i >= 0 && i + 1 < name.length) {
    const parent = name.slice(i + 1);
    if (parent.length < apex.length) break;
    f(parent);
    i = name.indexOf(".", i + 1);
  }
}

class Zone {
  readonly apex: string;
  readonly dotted: string;
  /** The base records (possibly shared: never mutated). */
  readonly records: Map<string, RecordValues>;
  readonly compiled = new Map<string, Entry>();
  /** Changes since the base: new values, or null for a removed name. */
  private overlay: Map<string, RecordValues | null> | null = null;
  /** Overlay's change to the base non-terminal counts. */
  private ntAdjust: Map<string, number> | null = null;
  /** Compiled names with SRV records (their additional section embeds other names' addresses). */
  private readonly compiledSrv = new Set<string>();
  /** Base + overlay as one map, built on demand for the APIs. */
  private merged: Map<string, RecordValues> | null = null;
  readonly soaAuthority: Buffer;
  readonly soaAnswer: Buffer;
  readonly nsAnswer: Buffer;

  constructor(data: ZoneData) {
    this.apex = data.zone;
    this.dotted = "." + data.zone;
    this.records = data.records;
    const apexWire = nameToWire(this.apex) ?? Buffer.from([0]);
    const soaRdata = soaRdataFor();
    this.soaAuthority = rr(apexWire, TYPE_SOA, RECORD_TTL, soaRdata);
    this.soaAnswer = rr(QPTR, TYPE_SOA, RECORD_TTL, soaRdata);
    this.nsAnswer = rr(QPTR, TYPE_NS, NS_TTL, nameToWire(SOA.mname)!);
  }

  contains(name: string): boolean {
    return name === this.apex || name.endsWith(this.dotted);
  }

  /** The values served under a name (overlay first). */
  get(name: string): RecordValues | undefined {
    if (this.overlay !== null) {
      const o = this.overlay.get(name);
      if (o !== undefined) return o ?? undefined;
    }
    return this.records.get(name);
  }

  isNonTerminal(name: string): boolean {
    if (name === this.apex) return true;
    const n = (countsOf(this.records, this.apex).get(name) ?? 0) + (this.ntAdjust?.get(name) ?? 0);
    return n > 0;
  }

  /** Sets (values) or removes (null) one name through the overlay; returns the change in the number of records. */
  change(name: string, values: RecordValues | null): number {
    if (!this.contains(name)) return 0;
    const old = this.get(name);
    const existed = old !== undefined;
    (this.overlay ??= new Map()).set(name, values);
    this.merged = null;
    this.compiled.delete(name);
    this.compiledSrv.delete(name);
    if (existed !== (values !== null)) {
      const adj = (this.ntAdjust ??= new Map());
      const by = existed ? -1 : 1;
      forEachAncestor(name, this.apex, (p) => adj.set(p, (adj.get(p) ?? 0) + by));
    }
    return (values ? recordsOf(values) : 0) - (old ? recordsOf(old) : 0);
  }

  /** After changes: compiled SRV answers may embed changed addresses in their additional section. */
  dropCompiledSrv(): void {
    for (const n of this.compiledSrv) this.compiled.delete(n);
    this.compiledSrv.clear();
  }

  remember(name: string, e: Entry): void {
    this.compiled.set(name, e);
    if (e.srv.length > 0) this.compiledSrv.add(name);
  }

  changedNames(): number {
    return this.overlay?.size ?? 0;
  }

  /** Base + overlay. */
  view(): Map<string, RecordValues> {
    if (this.overlay === null) return this.records;
    if (this.merged === null) {
      const m = new Map(this.records);
      for (const [n, v] of this.overlay) {
        if (v === null) m.delete(n);
        else m.set(n, v);
      }
      this.merged = m;
    }
    return this.merged;
  }
}

/** The pointer to the question name at offset 12. */
const QPTR = Buffer.from([0xc0, HEADER_LEN]);

export class Authority {
  /** Zones by apex, longest apex first (the first containing zone is the closest). */
  private ordered: Zone[] = [];
  private readonly byApex = new Map<string, Zone>();
  private rrCounter = 0;
  /** A/AAAA answers by wire name, learned by respond() (see fast-answers.ts). */
  private readonly fast = new FastAnswers();

  constructor(private readonly loadbalance: LoadBalance = "round_robin") {}

  /** Adds or replaces a whole zone (§3.7: zones are replaced wholesale). */
  setZone(data: ZoneData): void {
    this.byApex.set(data.zone, new Zone(data));
    this.reorder();
    this.fast.clear();
  }

  /**
   * Changes some names of a zone in place (a delta): `set` gives each name's complete new values,
   * `del` the names removed. The zone's records object is not touched (it may be shared). Returns
   * the change in the number of records, or null when the zone is not held. Names outside the
   * zone are ignored (the caller checked them).
   */
  applyChanges(apex: string, set: ReadonlyMap<string, RecordValues>, del: readonly string[]): number | null {
    const z = this.byApex.get(apex);
    if (z === undefined) return null;
    let n = 0;
    for (const [name, v] of set) {
      n += z.change(name, v);
      this.fast.forget(name);
    }
    for (const name of del) {
      n += z.change(name, null);
      this.fast.forget(name);
    }
    z.dropCompiledSrv();
    return n;
  }

  removeZone(apex: string): void {
    if (this.byApex.delete(apex)) {
      this.reorder();
      this.fast.clear();
    }
  }

  /** Forgets every fast answer (the server calls it when its router changes). */
  clearFast(): void {
    this.fast.clear();
  }

  /** Names respondFast() can answer (for tests and metrics). */
  fastNames(): number {
    return this.fast.size;
  }

  /**
   * The hot path, tried before routing: the reply to an A/AAAA query for a plain name that
   * respond() answered before with records of that type (and that has not changed since), built
   * exactly as respond() would (same rotation, truncation, flags; rcode NOERROR); null when the
   * caller must route the query and call respond(). BADVERS must have been handled already.
   */
  respondFast(msg: Buffer, q: QueryScratch, limit: number, opt: Buffer | null): Buffer | null {
    const s = this.fast.find(q);
    return s < 0 ? null : this.fast.respond(msg, q, s, this.rotation(q.id), limit, opt);
  }

  /** How many names of a zone were changed in place since it was last set (0 when not held). */
  changedNames(apex: string): number {
    return this.byApex.get(apex)?.changedNames() ?? 0;
  }

  hasZone(apex: string): boolean {
    return this.byApex.has(apex);
  }

  /** A zone's records as served (changes applied); treat as read-only. */
  zone(apex: string): ZoneData | undefined {
    const z = this.byApex.get(apex);
    return z ? { zone: z.apex, records: z.view() } : undefined;
  }

  zones(): ZoneData[] {
    return this.ordered.map((z) => ({ zone: z.apex, records: z.view() }));
  }

  private reorder(): void {
    this.ordered = [...this.byApex.values()].sort((x, y) => y.apex.length - x.apex.length);
  }

  private find(name: string): Zone | undefined {
    for (const z of this.ordered) if (z.contains(name)) return z;
    return undefined;
  }

  /** The raw values stored under a name, for the HTTP/gRPC APIs. */
  lookup(name: string): { zone: string; values: RecordValues | undefined } | undefined {
    const z = this.find(name);
    return z ? { zone: z.apex, values: z.get(name) } : undefined;
  }

  /**
   * Answers `q` for `name` (the question name, or its renamed internal form). `map` rewrites names
   * we put in the reply back to the client's suffix; null when there was no rename. `fast`: the
   * parsed query, when every query with its wire name is routed here with that same name and no
   * rename; the name's A/AAAA records are then remembered for respondFast().
   */
  respond(
    msg: Buffer,
    q: Query,
    name: string,
    limit: number,
    opt: Buffer | null,
    map: NameMap | null,
    fast: QueryScratch | null = null,
  ): Reply {
    const qt = q.qtype;
    if (qt === TYPE_RRSIG) return { buf: errorReply(msg, q, RCODE_REFUSED, opt), rcode: RCODE_REFUSED, truncated: false };
    const flags = FLAG_QR | FLAG_AA | (q.flags & (MASK_OPCODE | FLAG_RD | FLAG_CD));
    const zone = this.find(name);
    if (zone === undefined) return this.emit(msg, q, flags, RCODE_NOERROR, EMPTY, EMPTY, EMPTY, limit, opt);
    const values = zone.get(name);
    if (values !== undefined) {
      const e = map === null ? this.entry(zone, name, values) : compile(this, zone, values, map);
      if (fast !== null && map === null && e.cname === null && (qt === TYPE_A || qt === TYPE_AAAA) && name === fast.name)
        this.fast.learn(fast, e.a, e.aN, e.aaaa, e.aaaaN);
      const rot = this.rotation(q.id);
      if (e.cname !== null && qt !== TYPE_CNAME) return this.chase(msg, q, flags, e, limit, opt, map, rot);
      if (qt === TYPE_A && e.a !== null) return fixedReply(emitFixed(msg, q, flags, e.a, 0, e.aN, A_RR, rot, limit, opt));
      if (qt === TYPE_AAAA && e.aaaa !== null) return fixedReply(emitFixed(msg, q, flags, e.aaaa, 0, e.aaaaN, AAAA_RR, rot, limit, opt));
      if (qt === TYPE_SRV && e.srv.length > 0)
        return this.emit(msg, q, flags, RCODE_NOERROR, rotate(e.srv, rot), EMPTY, e.srvExtra, limit, opt);
      if (qt === TYPE_CNAME && e.cname !== null) return this.emit(msg, q, flags, RCODE_NOERROR, [e.cname], EMPTY, EMPTY, limit, opt);
      if (qt === TYPE_ANY) {
        const all = [...split(e.a, e.aN, 16), ...split(e.aaaa, e.aaaaN, 28), ...e.srv];
        if (all.length > 0) return this.emit(msg, q, flags, RCODE_NOERROR, rotate(all, rot), EMPTY, e.srvExtra, limit, opt);
      }
    }
    if (name === zone.apex && (qt === TYPE_SOA || qt === TYPE_NS)) {
      return this.emit(msg, q, flags, RCODE_NOERROR, [qt === TYPE_SOA ? zone.soaAnswer : zone.nsAnswer], EMPTY, EMPTY, limit, opt);
    }
    const soa = map === null ? zone.soaAuthority : rr(wire(map(zone.apex)), TYPE_SOA, RECORD_TTL, soaRdataFor());
    const exists = values !== undefined || zone.isNonTerminal(name);
    return this.emit(msg, q, flags, exists ? RCODE_NOERROR : RCODE_NXDOMAIN, EMPTY, [soa], EMPTY, limit, opt);
  }

  private rotation(id: number): number {
    if (this.loadbalance === "round_robin") return id;
    this.rrCounter = (this.rrCounter + 1 + Math.floor(Math.random() * 0xffff)) & 0xffff;
    return this.rrCounter;
  }

  /** The compiled entry of a name (built once per zone version). */
  private entry(zone: Zone, name: string, values: RecordValues): Entry {
    let e = zone.compiled.get(name);
    if (e === undefined) {
      e = compile(this, zone, values, null);
      zone.remember(name, e);
    }
    return e;
  }

  /** Addresses of a name in any of our zones, for SRV additional records and CNAME chasing. */
  valuesOf(name: string): RecordValues | undefined {
    return this.find(name)?.get(name);
  }

  /** Follows CNAMEs inside our zones (at most 8 hops): CNAME records first, then the target's records of the asked type. */
  private chase(
    msg: Buffer,
    q: Query,
    flags: number,
    e: Entry,
    limit: number,
    opt: Buffer | null,
    map: NameMap | null,
    rot: number,
  ): Reply {
    const answers: Buffer[] = [e.cname!];
    let target = e.cnameTarget;
    const seen = new Set<string>();
    for (let hop = 0; target !== null && hop < 8 && !seen.has(target); hop++) {
      seen.add(target);
      const v = this.valuesOf(target);
      if (!v) break;
      const owner = wire(map ? map(target) : target);
      if (v.cname) {
        answers.push(rr(owner, TYPE_CNAME, RECORD_TTL, wire(map ? map(absoluteName(v.cname)) : absoluteName(v.cname))));
        target = absoluteName(v.cname);
        continue;
      }
      const rrs: Buffer[] = [];
      if (q.qtype === TYPE_A || q.qtype === TYPE_ANY)
        for (const ip of v.a ?? []) if (isIPv4(ip)) rrs.push(rr(owner, TYPE_A, RECORD_TTL, ipv4Bytes(ip)));
      if (q.qtype === TYPE_AAAA || q.qtype === TYPE_ANY)
        for (const ip of v.aaaa ?? []) {
          const b = ipv6Bytes(ip);
          if (b) rrs.push(rr(owner, TYPE_AAAA, RECORD_TTL, b));
        }
      answers.push(...rotate(rrs, rot));
      break;
    }
    return this.emit(msg, q, flags, RCODE_NOERROR, answers, EMPTY, EMPTY, limit, opt);
  }

  private emit(
    msg: Buffer,
    q: Query,
    flags: number,
    rcode: number,
    an: readonly Buffer[],
    ns: readonly Buffer[],
    ar: readonly Buffer[],
    limit: number,
    opt: Buffer | null,
  ): Reply {
    const head = HEADER_LEN + questionLength(q);
    const optLen = opt === null ? 0 : opt.length;
    const anEnds: number[] = [];
    let anLen = 0;
    for (const b of an) anEnds.push((anLen += b.length));
    const nsLen = total(ns);
    const arLen = total(ar);
    const fit = fitSections(head, anEnds, nsLen, arLen, optLen, limit);
    const keepAn = fit.answers;
    const keepNs = fit.authority ? ns.length : 0;
    const keepAr = fit.additional ? ar.length : 0;
    const size = head + (keepAn > 0 ? anEnds[keepAn - 1]! : 0) + (keepNs > 0 ? nsLen : 0) + (keepAr > 0 ? arLen : 0) + optLen;
    const out = Buffer.allocUnsafe(size);
    header(out, q.id, flags | (fit.truncated ? FLAG_TC : 0), rcode, keepAn, keepNs, keepAr + (opt === null ? 0 : 1));
    writeQuestion(out, msg, q);
    let pos = head;
    for (let i = 0; i < keepAn; i++) pos += an[i]!.copy(out, pos);
    for (let i = 0; i < keepNs; i++) pos += ns[i]!.copy(out, pos);
    for (let i = 0; i < keepAr; i++) pos += ar[i]!.copy(out, pos);
    if (opt !== null) opt.copy(out, pos);
    return { buf: out, rcode, truncated: fit.truncated };
  }
}

const EMPTY: readonly Buffer[] = [];

function fixedReply(buf: Buffer): Reply {
  return { buf, rcode: RCODE_NOERROR, truncated: isTruncated(buf) };
}

function compile(auth: Authority, zone: Zone, v: RecordValues, map: NameMap | null): Entry {
  const e: Entry = { a: null, aN: 0, aaaa: null, aaaaN: 0, srv: [], srvExtra: [], cname: null, cnameTarget: null };
  const a = (v.a ?? []).filter((ip) => isIPv4(ip));
  if (a.length > 0) {
    e.a = Buffer.concat(a.map((ip) => rr(QPTR, TYPE_A, RECORD_TTL, ipv4Bytes(ip))));
    e.aN = a.length;
  }
  const aaaa = (v.aaaa ?? []).map((ip) => (isIPv6(ip) ? ipv6Bytes(ip) : null)).filter((b): b is Buffer => b !== null);
  if (aaaa.length > 0) {
    e.aaaa = Buffer.concat(aaaa.map((b) => rr(QPTR, TYPE_AAAA, RECORD_TTL, b)));
    e.aaaaN = aaaa.length;
  }
  const extraDone = new Set<string>();
  for (const s of v.srv ?? []) {
    const target = absoluteName(s.target);
    const tw = nameToWire(map ? map(target) : target);
    if (!tw || !Number.isInteger(s.port) || s.port < 0 || s.port > 65535) continue;
    const rdata = Buffer.allocUnsafe(6 + tw.length);
    rdata.writeUInt16BE(0, 0);
    rdata.writeUInt16BE(1, 2);
    rdata.writeUInt16BE(s.port, 4);
    tw.copy(rdata, 6);
    e.srv.push(rr(QPTR, TYPE_SRV, RECORD_TTL, rdata));
    if (extraDone.has(target)) continue;
    extraDone.add(target);
    const tv = auth.valuesOf(target);
    for (const ip of tv?.a ?? []) if (isIPv4(ip)) e.srvExtra.push(rr(tw, TYPE_A, RECORD_TTL, ipv4Bytes(ip)));
    for (const ip of tv?.aaaa ?? []) {
      const b = ipv6Bytes(ip);
      if (b) e.srvExtra.push(rr(tw, TYPE_AAAA, RECORD_TTL, b));
    }
  }
  if (v.cname) {
    const target = absoluteName(v.cname);
    const tw = nameToWire(map ? map(target) : target);
    if (tw) {
      e.cname = rr(QPTR, TYPE_CNAME, RECORD_TTL, tw);
      e.cnameTarget = target;
    }
  }
  void zone;
  return e;
}

function absoluteName(n: string): string {
  const l = n.toLowerCase();
  return l.endsWith(".") ? l : l + ".";
}

function wire(name: string): Buffer {
  return nameToWire(name) ?? Buffer.from([0]);
}

function soaRdataFor(): Buffer {
  const m = nameToWire(SOA.mname)!;
  const r = nameToWire(SOA.rname)!;
  const tail = Buffer.allocUnsafe(20);
  tail.writeUInt32BE(SOA.serial, 0);
  tail.writeUInt32BE(SOA.refresh, 4);
  tail.writeUInt32BE(SOA.retry, 8);
  tail.writeUInt32BE(SOA.expire, 12);
  tail.writeUInt32BE(SOA.minimum, 16);
  return Buffer.concat([m, r, tail]);
}

/** One resource record: owner (wire name or pointer), type, class IN, ttl, rdata. */
function rr(owner: Buffer, type: number, ttl: number, rdata: Buffer): Buffer {
  const b = Buffer.allocUnsafe(owner.length + 10 + rdata.length);
  owner.copy(b, 0);
  let p = owner.length;
  b.writeUInt16BE(type, p);
  b.writeUInt16BE(CLASS_IN, p + 2);
  b.writeUInt32BE(ttl, p + 4);
  b.writeUInt16BE(rdata.length, p + 8);
  p += 10;
  rdata.copy(b, p);
  return b;
}

function header(out: Buffer, id: number, flags: number, rcode: number, an: number, ns: number, ar: number): void {
  const f = flags | rcode;
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

function rotate<T>(items: readonly T[], by: number): T[] {
  const n = items.length;
  if (n <= 1) return items.slice();
  const s = by % n;
  return [...items.slice(s), ...items.slice(0, s)];
}

function split(b: Buffer | null, n: number, size: number): Buffer[] {
  const out: Buffer[] = [];
  if (b !== null) for (let i = 0; i < n; i++) out.push(b.subarray(i * size, (i + 1) * size));
  return out;
}

function total(bs: readonly Buffer[]): number {
  let n = 0;
  for (const b of bs) n += b.length;
  return n;
}
