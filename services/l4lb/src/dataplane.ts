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

function compareEndpoints(a: Endpoint & { v: bigint }, b: Endpoint & { v: bigint }): number {
  return a.v < b.v ? -1 : a.v > b.v ? 1 : a.port - b.port;
}

/** The slot layout of one VIP's backends (those of `family` with weight > 0). */
export function slotsOf(backends: readonly DataplaneBackend[], family: Family): Endpoint[] {
  const merged = new Map<string, Endpoint & { v: bigint; weight: number }>();
  for (const b of backends) {
    const ip = parseIp(b.ip);
    if (!ip || ip.family !== family || !(b.weight > 0) || !Number.isInteger(b.port) || b.port < 1 || b.port > 65535) continue;
    const text = ip.family === 4 ? b.ip : formatIp(6, ip.value);
    const k = `${text} ${b.port}`;
    const w = Math.floor(b.weight);
    const prev = merged.get(k);
    if (prev) prev.weight = Math.max(prev.weight, w);
    else if (w > 0) merged.set(k, { ip: text, port: b.port, v: ip.value, weight: w });
  }
  const list = [...merged.values()].sort(compareEndpoints);
  if (list.length === 0) return [];
  const g = list.reduce((acc, b) => gcd(acc, b.weight), 0);
  let weights = list.map((b) => b.weight / g);
  const total = weights.reduce((a, b) => a + b, 0);
  if (total > MAX_SLOTS) weights = weights.map((w) => Math.max(1, Math.floor((w * MAX_SLOTS) / total)));
  const left = [...weights];
  const slots: Endpoint[] = [];
  while (slots.length < MAX_SLOTS && left.some((w) => w > 0)) {
    list.forEach((b, i) => {
      if (left[i]! > 0 && slots.length < MAX_SLOTS) {
        slots.push({ ip: b.ip, port: b.port });
        left[i]!--;
      }
    });
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
