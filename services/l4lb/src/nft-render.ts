/**
 * The nftables data plane as `nft -f -` scripts. One table of our own per family
 * (`ip dcnet_l4lb`; `ip6 dcnet_l4lb` only while there are IPv6 VIPs); nothing else is touched.
 *
 *     map vips          { <vip> . <proto> . <port> : goto <proto>_slots_<n> | goto reject_<proto> }
 *     map backends_tcp  { <vip> . <port> . <slot> : <backend> . <port> }       (and backends_udp)
 *     chain prerouting  nat, priority dstnat - 1 (-101): daddr . l4proto . dport vmap @vips
 *     chain output      nat, priority -101: the same, for the node's own connections
 *     chain tcp_slots_<n>  ct mark |= MARK; dnat to (daddr . tcp dport . numgen <mode> mod n) map @backends_tcp
 *     chain reject_tcp / reject_udp   no backend takes new connections: TCP reset / ICMP port unreachable
 *     chain postrouting nat, srcnat: ct status dnat and ct mark & MARK → masquerade
 *
 * Every VIP is its own elements in the maps and nothing else: there is one dispatch chain per
 * protocol and slot COUNT, shared by all VIPs with that many slots, so a VIP change is a few
 * element deletions and additions (no per-VIP chain, rule or anonymous set — with those the kernel
 * needed ~10 s to load 10,000 VIPs; with maps it is ~1.4 s for 10,000 VIPs and 100,000 backends,
 * and one change ~20 ms including the nft process). The backend maps are per protocol because
 * nft 1.0.6 cannot add a rule against a map keyed `meta l4proto . th dport` once that map is in
 * the kernel ("conflicting protocols specified").
 *
 * Why priority -101: nat chains at one hook run in priority order and a connection is NAT-ed by
 * the first that sets a mapping, so port-mapping DNAT (Docker, CNI, mesos-sim: priority dstnat)
 * never sees VIP traffic — the `vips` map is the upstream "skip" ipset. A VIP whose backends
 * are all drained is rejected here rather than left to fall through to a port mapping.
 *
 * The masquerade (upstream `-m ipvs --vdir ORIGINAL --vmethod MASQ -j MASQUERADE`) makes replies
 * return through this node, which undoes the DNAT; it is also what makes hairpin work (a task
 * reaching its own VIP from its own namespace).
 */
import { invalidArgument } from "@dcnet/core";
import {
  compile,
  dispatchChain,
  familyKey,
  sameSlot,
  type DataplaneState,
  type DataplaneVip,
  type FamilyState,
  type VipEntry,
} from "./dataplane";
import type { Family } from "./ip";
import type { Protocol } from "./vip-key";

export interface NftOptions {
  /** Table name in both families (default `dcnet_l4lb`). */
  table?: string;
  /** Conntrack mark bit(s) for VIP connections, masqueraded on the way out (default 0x04000000). */
  ctMark?: number;
  /** How a slot is picked: `random` (default; independent per node) or `inc` (round robin per dispatch chain). */
  balance?: "random" | "inc";
}

export const DEFAULT_TABLE = "dcnet_l4lb";
export const DEFAULT_CT_MARK = 0x04000000;

interface Ctx {
  table: string;
  mark: string;
  balance: "random" | "inc";
}

function ctx(o: NftOptions): Ctx {
  const table = o.table ?? DEFAULT_TABLE;
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,30}$/.test(table)) throw invalidArgument("table", `"${table}" is not a table name (letters, digits, _)`);
  const mark = o.ctMark ?? DEFAULT_CT_MARK;
  if (!Number.isInteger(mark) || mark <= 0 || mark > 0xffffffff) throw invalidArgument("ctMark", `${mark} is not a 32-bit mark`);
  return { table, mark: `0x${mark.toString(16).padStart(8, "0")}`, balance: o.balance ?? "random" };
}

const FAMILIES: readonly Family[] = [4, 6];
const nftFamily = (f: Family): string => (f === 4 ? "ip" : "ip6");
const addr = (f: Family, ip: string): string => (f === 4 ? ip : `[${ip}]`);
const vipElem = (f: Family, v: VipEntry): string => `${addr(f, v.ip)} . ${v.protocol} . ${v.port}`;
const slotKey = (f: Family, v: VipEntry, i: number): string => `${addr(f, v.ip)} . ${v.port} . ${i}`;
const slotElem = (f: Family, v: VipEntry, i: number): string => `${slotKey(f, v, i)} : ${addr(f, v.slots[i]!.ip)} . ${v.slots[i]!.port}`;
const backendMap = (p: Protocol): string => `backends_${p}`;

/** `tcp_slots_3` → its protocol and slot count. */
function parseChain(name: string): { protocol: Protocol; n: number } {
  const m = /^(tcp|udp)_slots_([0-9]+)$/.exec(name);
  if (!m) throw new Error(`not a dispatch chain: ${name}`);
  return { protocol: m[1] as Protocol, n: Number(m[2]) };
}

function slotChainRules(f: Family, name: string, c: Ctx): string[] {
  const { protocol, n } = parseChain(name);
  const fam = nftFamily(f);
  return [
    `ct mark set ct mark | ${c.mark} meta l4proto ${protocol} dnat ${fam} to ${fam} daddr . ${protocol} dport . numgen ${c.balance} mod ${n} map @${backendMap(protocol)}`,
    // Only reached if the map has no such slot (never in a consistent table): refuse rather than fall through.
    protocol === "tcp" ? "meta l4proto tcp reject with tcp reset" : "reject",
  ];
}

/** Dispatch chains in a stable order: protocol, then slot count. */
function sortedChains(names: Iterable<string>): string[] {
  return [...names].sort((a, b) => {
    const x = parseChain(a);
    const y = parseChain(b);
    return x.protocol < y.protocol ? -1 : x.protocol > y.protocol ? 1 : x.n - y.n;
  });
}

/** `add element` statements, at most `chunk` elements each. */
function elements(verb: "add" | "delete", f: Family, c: Ctx, map: string, items: readonly string[], chunk = 2000): string[] {
  const out: string[] = [];
  for (let i = 0; i < items.length; i += chunk) {
    out.push(`${verb} element ${nftFamily(f)} ${c.table} ${map} { ${items.slice(i, i + chunk).join(", ")} }`);
  }
  return out;
}

const dropTable = (f: Family, c: Ctx): string[] => [`table ${nftFamily(f)} ${c.table} {}`, `delete table ${nftFamily(f)} ${c.table}`];

const toState = (x: readonly DataplaneVip[] | DataplaneState): DataplaneState => (Array.isArray(x) ? compile(x) : (x as DataplaneState));

const script = (lines: string[]): string => (lines.length === 0 ? "" : lines.join("\n") + "\n");

/** The base chains: their hook as `nft -j list` shows it (type, hook, numeric priority, policy) and as we write it. */
export const BASE_CHAINS = {
  prerouting: {
    type: "nat",
    hook: "prerouting",
    prio: -101,
    policy: "accept",
    text: "type nat hook prerouting priority dstnat - 1; policy accept;",
  },
  output: { type: "nat", hook: "output", prio: -101, policy: "accept", text: "type nat hook output priority -101; policy accept;" },
  postrouting: {
    type: "nat",
    hook: "postrouting",
    prio: 100,
    policy: "accept",
    text: "type nat hook postrouting priority srcnat; policy accept;",
  },
} as const;

/** The chains every table of ours has (base chains first), each with its rules. */
function fixedChains(f: Family, c: Ctx): [string, string[]][] {
  const dispatch = `${nftFamily(f)} daddr . meta l4proto . th dport vmap @vips`;
  return [
    ["prerouting", [dispatch]],
    ["output", [dispatch]],
    ["postrouting", [`ct status dnat ct mark & ${c.mark} == ${c.mark} masquerade`]],
    ["reject_tcp", ["reject with tcp reset"]],
    ["reject_udp", ["reject"]],
  ];
}

const mapDefs = (f: Family): string[] => {
  const fam = nftFamily(f);
  return [
    `  map vips { type ${f === 4 ? "ipv4_addr" : "ipv6_addr"} . inet_proto . inet_service : verdict; }`,
    ...(["tcp", "udp"] as const).map(
      (p) => `  map ${backendMap(p)} { typeof ${fam} daddr . ${p} dport . numgen random mod 1 : ${fam} daddr . ${p} dport; }`,
    ),
  ];
};

/** The table with its maps and chains, no elements (deleting whatever table of that name was there). */
function familyTable(f: Family, fs: FamilyState, c: Ctx): string[] {
  const fam = nftFamily(f);
  const lines = [`table ${fam} ${c.table} {}`, `delete table ${fam} ${c.table}`, `table ${fam} ${c.table} {`, ...mapDefs(f)];
  for (const [name, rules] of fixedChains(f, c)) {
    const base = (BASE_CHAINS as Record<string, { text: string }>)[name];
    lines.push(`  chain ${name} { ${base ? `${base.text} ` : ""}${rules.join("; ")}; }`);
  }
  for (const name of sortedChains(fs.slotChains)) lines.push(`  chain ${name} { ${slotChainRules(f, name, c).join("; ")}; }`);
  lines.push("}");
  return lines;
}

/** The slot count of the dispatch chains in a rule probe (prime, so `mod <n>` is found only where it is meant). */
export const PROBE_SLOTS = 65521;

/**
 * A table `probeTable` with the same maps and, as regular chains (no hook: no packet ever sees
 * them), every chain of ours with its rules — the dispatch chains as `<proto>_slots_<PROBE_SLOTS>`.
 * Read back with `nft -j list table`, it gives the rules as the kernel holds them, in nft's JSON,
 * to compare our table's rules with (nft-drift.ts); then it is deleted.
 */
export function renderRuleProbe(f: Family, probeTable: string, options: NftOptions = {}): string {
  const c = ctx(options);
  const pc = ctx({ ...options, table: probeTable });
  const fam = nftFamily(f);
  const lines = [`table ${fam} ${pc.table} {}`, `delete table ${fam} ${pc.table}`, `table ${fam} ${pc.table} {`, ...mapDefs(f)];
  for (const [name, rules] of fixedChains(f, c)) lines.push(`  chain ${name} { ${rules.join("; ")}; }`);
  for (const p of ["tcp", "udp"] as const) {
    const name = `${p}_slots_${PROBE_SLOTS}`;
    lines.push(`  chain ${name} { ${slotChainRules(f, name, c).join("; ")}; }`);
  }
  lines.push("}");
  return script(lines);
}

/** Lines that put back the rules of chains of ours whose rules drifted: each chain flushed and its rules added again. */
export function renderChainRepair(f: Family, chains: readonly string[], options: NftOptions = {}): string[] {
  const c = ctx(options);
  const fam = nftFamily(f);
  const fixed = new Map(fixedChains(f, c));
  const lines: string[] = [];
  for (const name of chains) {
    const rules = fixed.get(name) ?? slotChainRules(f, name, c);
    lines.push(`flush chain ${fam} ${c.table} ${name}`);
    for (const r of rules) lines.push(`add rule ${fam} ${c.table} ${name} ${r}`);
  }
  return lines;
}

/** Every slot element of one protocol's backend map (`slotElem` of each slot, built with less copying). */
function slotElems(f: Family, vips: Iterable<VipEntry>, p: Protocol): string[] {
  const out: string[] = [];
  for (const v of vips) {
    if (v.protocol !== p || v.slots.length === 0) continue;
    const head = `${addr(f, v.ip)} . ${v.port} . `;
    for (let i = 0; i < v.slots.length; i++) {
      const e = v.slots[i]!;
      out.push(`${head}${i} : ${addr(f, e.ip)} . ${e.port}`);
    }
  }
  return out;
}

const vipElems = (f: Family, vips: Iterable<VipEntry>): string[] => {
  const out: string[] = [];
  for (const v of vips) out.push(`${vipElem(f, v)} : goto ${dispatchChain(v)}`);
  return out;
};

/** Creates one family's table from scratch (deleting whatever table of that name was there). */
function familyScript(f: Family, fs: FamilyState, c: Ctx): string[] {
  const lines = familyTable(f, fs, c);
  for (const p of ["tcp", "udp"] as const) lines.push(...elements("add", f, c, backendMap(p), slotElems(f, fs.vips.values(), p)));
  lines.push(...elements("add", f, c, "vips", vipElems(f, fs.vips.values())));
  return lines;
}

/** Backend slots in a state (both protocols). */
export function countSlots(fs: FamilyState): number {
  let n = 0;
  for (const v of fs.vips.values()) n += v.slots.length;
  return n;
}

/** A cold load in stages (see {@link renderStaged}). */
export interface StagedLoad {
  /** The tables with their chains and empty maps (and any table of ours of an absent family deleted). */
  tables: string;
  /**
   * Up to `parts` transactions of about equal size, rendered when called: each holds a share of
   * the VIPs, their backend slots and then their `vips` elements (so each VIP goes live whole).
   */
  parts: (() => string)[];
}

/**
 * The same table as {@link renderFull} as several transactions, for loading a table that does not
 * exist yet: nft's parsing is most of the time of a big load, the parts can be parsed by several
 * nft processes at once, and an nft process given small transactions stays small (one given all
 * 110,000 elements of 10,000 VIPs at once grows to ~230 MB, and the kernel's page faults for that
 * cost more than the elements). A VIP's `vips` element is in the same transaction as its slots,
 * so no packet ever sees a VIP without its backends.
 */
export function renderStaged(state: DataplaneState, parts: number, options: NftOptions = {}): StagedLoad {
  const c = ctx(options);
  const tables: string[] = [];
  let total = 0;
  for (const f of FAMILIES) {
    const fs = state[familyKey(f)];
    if (!fs) {
      tables.push(...dropTable(f, c));
      continue;
    }
    tables.push(...familyTable(f, fs, c));
    for (const v of fs.vips.values()) total += v.slots.length + 1;
  }
  // Split the VIPs (in order) into `parts` runs of about total / parts elements (slots + the VIP).
  const per = Math.max(1, Math.ceil(total / Math.max(1, Math.floor(parts))));
  let room = per;
  let cur: { f: Family; vips: VipEntry[] }[] = [];
  const split: { f: Family; vips: VipEntry[] }[][] = [];
  for (const f of FAMILIES) {
    const fs = state[familyKey(f)];
    if (!fs) continue;
    let run: VipEntry[] = [];
    cur.push({ f, vips: run });
    for (const v of fs.vips.values()) {
      run.push(v);
      room -= v.slots.length + 1;
      if (room <= 0) {
        split.push(cur);
        run = [];
        cur = [{ f, vips: run }];
        room = per;
      }
    }
  }
  if (cur.some((g) => g.vips.length > 0)) split.push(cur);
  const render = (part: { f: Family; vips: VipEntry[] }[]) => (): string => {
    const lines: string[] = [];
    for (const { f, vips } of part) {
      for (const p of ["tcp", "udp"] as const) lines.push(...elements("add", f, c, backendMap(p), slotElems(f, vips, p)));
      lines.push(...elements("add", f, c, "vips", vipElems(f, vips)));
    }
    return script(lines);
  };
  return { tables: script(tables), parts: split.map(render) };
}

/**
 * The whole data plane in one transaction: each family's table deleted and rebuilt (an IPv6
 * table only when there are IPv6 VIPs; otherwise any IPv6 table of ours is deleted).
 * Connections already established keep their NAT (conntrack), so a rebuild does not cut them.
 */
export function renderFull(vips: readonly DataplaneVip[] | DataplaneState, options: NftOptions = {}): string {
  const c = ctx(options);
  const state = toState(vips);
  const lines: string[] = [];
  for (const f of FAMILIES) {
    const fs = state[familyKey(f)];
    lines.push(...(fs ? familyScript(f, fs, c) : dropTable(f, c)));
  }
  return script(lines);
}

function familyDelta(f: Family, p: FamilyState, n: FamilyState, c: Ctx): string[] {
  const fam = nftFamily(f);
  const chainsAdd: string[] = [];
  const chainsDel: string[] = [];
  for (const name of sortedChains(n.slotChains)) {
    if (p.slotChains.has(name)) continue;
    chainsAdd.push(`add chain ${fam} ${c.table} ${name}`);
    for (const rule of slotChainRules(f, name, c)) chainsAdd.push(`add rule ${fam} ${c.table} ${name} ${rule}`);
  }
  for (const name of sortedChains(p.slotChains)) {
    if (!n.slotChains.has(name)) chainsDel.push(`flush chain ${fam} ${c.table} ${name}`, `delete chain ${fam} ${c.table} ${name}`);
  }
  const vipDel: string[] = [];
  const vipAdd: string[] = [];
  const slotDel = { tcp: [] as string[], udp: [] as string[] };
  const slotAdd = { tcp: [] as string[], udp: [] as string[] };
  for (const [k, pv] of p.vips) {
    if (n.vips.has(k)) continue;
    vipDel.push(vipElem(f, pv));
    pv.slots.forEach((_, i) => slotDel[pv.protocol].push(slotKey(f, pv, i)));
  }
  for (const [k, nv] of n.vips) {
    const pv = p.vips.get(k);
    if (!pv) {
      nv.slots.forEach((_, i) => slotAdd[nv.protocol].push(slotElem(f, nv, i)));
      vipAdd.push(`${vipElem(f, nv)} : goto ${dispatchChain(nv)}`);
      continue;
    }
    const len = Math.max(pv.slots.length, nv.slots.length);
    for (let i = 0; i < len; i++) {
      if (sameSlot(pv.slots[i], nv.slots[i])) continue;
      if (i < pv.slots.length) slotDel[pv.protocol].push(slotKey(f, pv, i));
      if (i < nv.slots.length) slotAdd[nv.protocol].push(slotElem(f, nv, i));
    }
    if (dispatchChain(pv) !== dispatchChain(nv)) {
      vipDel.push(vipElem(f, pv));
      vipAdd.push(`${vipElem(f, nv)} : goto ${dispatchChain(nv)}`);
    }
  }
  return [
    ...chainsAdd,
    ...elements("delete", f, c, "vips", vipDel),
    ...(["tcp", "udp"] as const).flatMap((pr) => elements("delete", f, c, backendMap(pr), slotDel[pr])),
    ...(["tcp", "udp"] as const).flatMap((pr) => elements("add", f, c, backendMap(pr), slotAdd[pr])),
    ...elements("add", f, c, "vips", vipAdd),
    ...chainsDel,
  ];
}

/**
 * Only what changed between two states, as one transaction ("" when nothing did). `prev` must be
 * what the kernel holds (the last applied state, or what `listTable` read back): deleting an
 * element that is not there fails the whole transaction, and the caller then falls back to
 * {@link renderFull}. A VIP change touches only that VIP's elements.
 */
export function renderDelta(
  prev: readonly DataplaneVip[] | DataplaneState,
  next: readonly DataplaneVip[] | DataplaneState,
  options: NftOptions = {},
): string {
  const c = ctx(options);
  const p = toState(prev);
  const n = toState(next);
  const lines: string[] = [];
  for (const f of FAMILIES) {
    const pf = p[familyKey(f)];
    const nf = n[familyKey(f)];
    if (pf && nf) lines.push(...familyDelta(f, pf, nf, c));
    else if (nf) lines.push(...familyScript(f, nf, c));
    else if (pf) lines.push(...dropTable(f, c));
  }
  return script(lines);
}
