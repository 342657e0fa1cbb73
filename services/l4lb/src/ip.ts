/**
 * IP addresses as numbers: parse (IPv4 dotted decimal, IPv6 with `::` and an embedded IPv4 tail),
 * format canonically (IPv6 per RFC 5952: lower case, longest zero run ≥ 2 groups compressed,
 * first on ties) and step through ranges. Zones (`%eth0`) are not addresses here.
 */
import { isIPv4, isIPv6 } from "node:net";

export type Family = 4 | 6;

export interface IpValue {
  family: Family;
  value: bigint;
}

const V4_MAX = (1n << 32n) - 1n;
const V6_MAX = (1n << 128n) - 1n;

export const maxOf = (family: Family): bigint => (family === 4 ? V4_MAX : V6_MAX);

/** Of a valid dotted quad. */
function v4Number(s: string): number {
  let n = 0;
  let octet = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      n = n * 256 + octet;
      octet = 0;
    } else octet = octet * 10 + c - 48;
  }
  return n * 256 + octet;
}

const v4Value = (s: string): bigint => BigInt(v4Number(s));

function v6Value(s: string): bigint {
  let text = s.toLowerCase();
  const tail: string[] = [];
  const lastColon = text.lastIndexOf(":");
  if (text.includes(".", lastColon)) {
    const v4 = v4Value(text.slice(lastColon + 1));
    tail.push((v4 >> 16n).toString(16), (v4 & 0xffffn).toString(16));
    text = text.slice(0, lastColon + 1) + "x";
  }
  const groups = (part: string): string[] => (part === "" ? [] : part.split(":"));
  let all: string[];
  const dbl = text.indexOf("::");
  if (dbl >= 0) {
    const head = groups(text.slice(0, dbl));
    const rest = groups(text.slice(dbl + 2));
    const fill = 8 - head.length - rest.length - (tail.length > 0 ? 1 : 0);
    all = [...head, ...Array<string>(fill).fill("0"), ...rest];
  } else {
    all = groups(text);
  }
  if (tail.length > 0) all = [...all.filter((g) => g !== "x"), ...tail];
  return all.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

/** The address as a number, or undefined when `s` is not an IPv4 or IPv6 address. */
export function parseIp(s: string): IpValue | undefined {
  if (isIPv4(s)) return { family: 4, value: v4Value(s) };
  if (isIPv6(s) && !s.includes("%")) return { family: 6, value: v6Value(s) };
  return undefined;
}

export function familyOf(s: string): Family | undefined {
  return isIPv4(s) ? 4 : isIPv6(s) && !s.includes("%") ? 6 : undefined;
}

/** Canonical text of an address number. */
export function formatIp(family: Family, value: bigint): string {
  if (value < 0n || value > maxOf(family)) throw new RangeError(`${value} is not an IPv${family} address`);
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 0xffn)).join(".");
  const groups = Array.from({ length: 8 }, (_, i) => Number((value >> BigInt(112 - 16 * i)) & 0xffffn));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (gs: number[]): string => gs.map((g) => g.toString(16)).join(":");
  if (best < 0) return hex(groups);
  return `${hex(groups.slice(0, best))}::${hex(groups.slice(best + bestLen))}`;
}

/** Canonical text of an address, or undefined when `s` is not one. */
export function canonicalIp(s: string): string | undefined {
  if (isIPv4(s)) return s; // dotted decimal without leading zeros is the only form isIPv4 accepts
  const ip = parseIp(s);
  return ip && formatIp(ip.family, ip.value);
}

/** A CIDR prefix: its first address and length. */
export interface Cidr {
  family: Family;
  value: bigint;
  len: number;
}

/** The fewest CIDR prefixes that together hold exactly the addresses min…max (inclusive), in order. */
export function rangeCidrs(family: Family, min: bigint, max: bigint): Cidr[] {
  const bits = family === 4 ? 32 : 128;
  const out: Cidr[] = [];
  let at = min;
  while (at <= max) {
    // The largest aligned block starting at `at` that does not run past `max`.
    let size = 0;
    while (size < bits && (at & ((1n << BigInt(size + 1)) - 1n)) === 0n && at + (1n << BigInt(size + 1)) - 1n <= max) size++;
    out.push({ family, value: at, len: bits - size });
    at += 1n << BigInt(size);
  }
  return out;
}

/** `11.0.0.0/9`, `fd01:c::/64`. */
export const cidrText = (c: Cidr): string => `${formatIp(c.family, c.value)}/${c.len}`;
