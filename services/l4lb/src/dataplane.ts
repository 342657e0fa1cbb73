/**
 * The data plane's model: what one node's kernel should hold for its VIP table, per address
 * family. Rendering (nft-render.ts) and reading back (nft-apply.ts) both speak this form, so a
 * reconcile is a diff between what the kernel has and what it should have.
 *
 * A VIP's backends become SLOTS: each backend with weight w > 0 appears w times (weights first
 * divided by their greatest common divisor, then scaled down if they add up to more than
 * {@link MAX_SLOTS}), interleaved (a, b, a rather than a, a, b). Weight-0 backends have no slot:
 * they get no new connections, while connections already NAT-ed to them keep going (conntrack).
 * Backends of the other address family than the VIP's are ignored here.
 */
import { invalidArgument } from "@dcnet/core";
import { formatIp, parseIp, type Family } from "./ip";
import type { Protocol } from "./vip-key";

export interface DataplaneBackend {
  ip: string;
  port: number;
  weight: number;
}

/** A VIP with its address resolved (a named VIP appears once per family it has an address in). */
export interface DataplaneVip {
  protocol: Protocol;
  ip: string;
  port: number;
  backends: readonly DataplaneBackend[];
}

export interface Endpoint {
  ip: string;
  port: number;
}

export interface VipEntry {
  protocol: Protocol;
  /** Canonical address. */
  ip: string;
  port: number;
  /** Slot i → backend; empty when no backend takes new connections. */
  slots: Endpoint[];
}

export interface FamilyState {
  /** By {@link vipEntryKey}. */
  vips: Map<string, VipEntry>;
  /** Names of the dispatch chains there are (`tcp_slots_<n>`, `udp_slots_<n>`), see {@link dispatchChain}. */
  slotChains: Set<string>;
}

/** Per family; absent = no table. IPv4 is always present in a compiled state, IPv6 only with IPv6 VIPs. */
export interface DataplaneState {
  ipv4?: FamilyState;
  ipv6?: FamilyState;
}

export const MAX_SLOTS = 1024;

export const vipEntryKey = (v: { protocol: Protocol; ip: string; port: number }): string => `${v.protocol} ${v.ip} ${v.port}`;

/** The chain a VIP's connections go to: `<proto>_slots_<n>` to pick one of n slots, `reject_<proto>` when there are none. */
export const dispatchChain = (v: { protocol: Protocol; slots: readonly unknown[] }): string =>
  v.slots.length > 0 ? `${v.protocol}_slots_${v.slots.length}` : `reject_${v.protocol}`;

export const familyKey = (f: Family): "ipv4" | "ipv6" => (f === 4 ? "ipv4" : "ipv6");

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/** `v`: the address as a number (IPv4) or bigint (IPv6); one slotsOf call only ever compares one kind. */
function compareEndpoints(a: Endpoint & { v: number | bigint }, b: Endpoint & { v: number | bigint }): number {
  return a.v < b.v ? -1 : a.v > b.v ? 1 : a.port - b.port;
}

/**
 * A dotted quad as isIPv4 takes it (four decimal octets ≤ 255, no leading zeros) as a number, or
 * -1: one pass, no RegExp and no BigInt (slotsOf runs over every backend of a cold load).
 */
function v4Number(s: string): number {
  let n = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || ++dots > 3) return -1;
      n = n * 256 + octet;
      octet = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && octet === 0) return -1; // a leading zero
      octet = octet * 10 + c - 48;
      if (octet > 255) return -1;
      digits++;
    } else return -1;
  }
  return dots === 3 && digits > 0 ? n * 256 + octet : -1;
}

/** The backend's address in `family` as canonical text and a sortable value, or undefined. */
function endpointAddress(ip: string, family: Family): { text: string; v: number | bigint } | undefined {
  if (family === 4) {
    const v = v4Number(ip);
    return v < 0 ? undefined : { text: ip, v };
  }
  const parsed = parseIp(ip);
  return parsed?.family === 6 ? { text: formatIp(6, parsed.value), v: parsed.value } : undefined;
}

/** The slot layout of one VIP's backends (those of `family` with weight > 0). */
export function slotsOf(backends: readonly DataplaneBackend[], family: Family): Endpoint[] {
  const all: (Endpoint & { v: number | bigint; weight: number })[] = [];
  for (const b of backends) {
    if (!(b.weight > 0) || !Number.isInteger(b.port) || b.port < 1 || b.port > 65535) continue;
    const w = Math.floor(b.weight);
    if (w <= 0) continue;
    const ip = endpointAddress(b.ip, family);
    if (ip) all.push({ ip: ip.text, port: b.port, v: ip.v, weight: w });
  }
  all.sort(compareEndpoints);
  // The same address and port twice: one backend with the larger weight.
  const list: typeof all = [];
  for (const e of all) {
    const last = list[list.length - 1];
    if (last && last.v === e.v && last.port === e.port) last.weight = Math.max(last.weight, e.weight);
    else list.push(e);
  }
  if (list.length === 0) return [];
  let g = 0;
  for (const b of list) g = gcd(g, b.weight);
  const weights = list.map((b) => b.weight / g);
  let total = 0;
  for (const w of weights) total += w;
  let most = 0;
  for (let i = 0; i < weights.length; i++) {
    if (total > MAX_SLOTS) weights[i] = Math.max(1, Math.floor((weights[i]! * MAX_SLOTS) / total));
    most = Math.max(most, weights[i]!);
  }
  // Round r gives one slot to every backend with a weight above r, in address order (interleaved).
  const slots: Endpoint[] = [];
  for (let r = 0; r < most && slots.length < MAX_SLOTS; r++) {
    for (let i = 0; i < list.length && slots.length < MAX_SLOTS; i++) {
      if (weights[i]! > r) slots.push({ ip: list[i]!.ip, port: list[i]!.port });
    }
  }
  return slots;
}

/** The state a VIP table compiles to. Throws INVALID_ARGUMENT for a VIP whose address or port is invalid. */
export function compile(vips: readonly DataplaneVip[]): DataplaneState {
  const byFamily: Record<"ipv4" | "ipv6", Map<string, { vip: VipEntry; backends: DataplaneBackend[]; family: Family }>> = {
    ipv4: new Map(),
    ipv6: new Map(),
  };
  for (const v of vips) {
    const ip = parseIp(v.ip);
    if (!ip) throw invalidArgument("vip.ip", `"${v.ip}" is not an IP address`);
    if (!Number.isInteger(v.port) || v.port < 1 || v.port > 65535) throw invalidArgument("vip.port", `${v.port} is not a port`);
    const entry: VipEntry = { protocol: v.protocol, ip: ip.family === 4 ? v.ip : formatIp(6, ip.value), port: v.port, slots: [] };
    const map = byFamily[familyKey(ip.family)];
    const k = vipEntryKey(entry);
    const have = map.get(k);
    if (have) have.backends.push(...v.backends);
    else map.set(k, { vip: entry, backends: [...v.backends], family: ip.family });
  }
  const state: DataplaneState = {};
  for (const fk of ["ipv4", "ipv6"] as const) {
    if (fk === "ipv6" && byFamily.ipv6.size === 0) continue;
    const fs: FamilyState = { vips: new Map(), slotChains: new Set() };
    for (const [k, { vip, backends, family }] of byFamily[fk]) {
      vip.slots = slotsOf(backends, family);
      if (vip.slots.length > 0) fs.slotChains.add(dispatchChain(vip));
      fs.vips.set(k, vip);
    }
    state[fk] = fs;
  }
  return state;
}

export const sameSlot = (a: Endpoint | undefined, b: Endpoint | undefined): boolean =>
  a !== undefined && b !== undefined && a.ip === b.ip && a.port === b.port;
