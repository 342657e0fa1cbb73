/**
 * Named VIP → address, deterministically (spec §4.4, with a documented hash instead of Erlang's
 * `phash2`): for a name (`domainFrag` of `<label>.<framework>`) and a range `[min, max]`
 * (inclusive), the first address tried is
 *
 *     start = min + (first 8 bytes of SHA-256(UTF-8 name), big-endian unsigned) mod (max − min + 1)
 *
 * and on collision the walk goes forward one address at a time, wrapping from `max` to `min`,
 * visiting every address once. Every node computes the same order for a name; which address of
 * that order a name ends up with is settled on the bus (vip-claims.ts), so nodes never disagree.
 */
import { createHash } from "node:crypto";
import { invalidArgument } from "@dcnet/core";
import { formatIp, parseIp, type Family } from "./ip";

export interface VipRange {
  family: Family;
  min: bigint;
  max: bigint;
}

/** DC/OS `dcos_l4lb_min/max_named_ip` (code default max; .255 is left out). */
export const DEFAULT_V4_RANGE = { min: "11.0.0.0", max: "11.255.255.254" } as const;
/** DC/OS `dcos_l4lb_min/max_named_ip6`. */
export const DEFAULT_V6_RANGE = { min: "fd01:c::", max: "fd01:c::ffff:ffff:ffff:ffff" } as const;

/**
 * A range from its bounds (defaults per family). Throws INVALID_ARGUMENT naming `field.min` /
 * `field.max` when a bound is not an address of the family or min > max.
 */
export function vipRange(family: Family, bounds?: { min: string; max: string }, field = `l4lb.namedIpv${family}`): VipRange {
  const b = bounds ?? (family === 4 ? DEFAULT_V4_RANGE : DEFAULT_V6_RANGE);
  const bound = (which: "min" | "max"): bigint => {
    const ip = parseIp(b[which]);
    if (!ip || ip.family !== family) throw invalidArgument(`${field}.${which}`, `"${b[which]}" is not an IPv${family} address`);
    return ip.value;
  };
  const min = bound("min");
  const max = bound("max");
  if (min > max) throw invalidArgument(field, `min ${b.min} is above max ${b.max}`);
  return { family, min, max };
}

export const rangeSize = (r: VipRange): bigint => r.max - r.min + 1n;

export function inRange(r: VipRange, ip: string): boolean {
  const v = parseIp(ip);
  return v !== undefined && v.family === r.family && v.value >= r.min && v.value <= r.max;
}

/** First 8 bytes of SHA-256 of the name, as an unsigned big-endian integer. */
export function nameHash(name: string): bigint {
  return createHash("sha256").update(name, "utf8").digest().readBigUInt64BE(0);
}

/** The first address tried for `name`. */
export function startAddress(name: string, r: VipRange): string {
  return formatIp(r.family, r.min + (nameHash(name) % rangeSize(r)));
}

/** Addresses in the order they are tried for `name`: start, start+1, …, max, min, …, start−1. */
export function* probeOrder(name: string, r: VipRange): Generator<string> {
  const size = rangeSize(r);
  const offset = nameHash(name) % size;
  for (let i = 0n; i < size; i++) yield formatIp(r.family, r.min + ((offset + i) % size));
}

/** The first address of `name`'s order that is not taken (a node-local allocation); undefined when the range is full. */
export function allocateLocal(name: string, r: VipRange, taken: (ip: string) => boolean): string | undefined {
  for (const ip of probeOrder(name, r)) if (!taken(ip)) return ip;
  return undefined;
}
