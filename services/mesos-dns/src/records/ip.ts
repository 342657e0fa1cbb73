/**
 * IP literal parsing and canonical formatting with Go's `net.ParseIP` / `IP.String()` semantics
 * (upstream stores `ip.String()`): IPv4 dotted decimal without leading zeros; IPv6 without zone;
 * an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is IPv4; IPv6 is printed lower-case with the
 * longest run (≥ 2) of zero groups compressed (first run on ties).
 */

export interface ParsedIp {
  family: 4 | 6;
  /** Canonical text (Go `IP.String()`). */
  text: string;
}

const V4_PART = /^(?:0|[1-9][0-9]{0,2})$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

function parseV4Bytes(s: string): number[] | undefined {
  const parts = s.split(".");
  if (parts.length !== 4) return undefined;
  const out: number[] = [];
  for (const p of parts) {
    if (!V4_PART.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    out.push(n);
  }
  return out;
}

/** 8 groups of 16 bits, or undefined. */
function parseV6Groups(s: string): number[] | undefined {
  if (s.length === 0 || s.length > 45) return undefined;
  let text = s;
  let tail: number[] = [];
  // Embedded IPv4 in the last 32 bits.
  const lastColon = text.lastIndexOf(":");
  if (lastColon >= 0 && text.indexOf(".", lastColon) > lastColon) {
    const v4 = parseV4Bytes(text.slice(lastColon + 1));
    if (!v4) return undefined;
    tail = [(v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!];
    // Keep the colon so that "::1.2.3.4" → head "::" is still recognised.
    text = text.slice(0, lastColon + 1) + "0";
    // We replaced the IPv4 part by one placeholder group; remove it again below.
  }
  const dbl = text.indexOf("::");
  if (dbl !== text.lastIndexOf("::")) return undefined;
  const split = (part: string): number[] | undefined => {
    if (part === "") return [];
    const out: number[] = [];
    for (const g of part.split(":")) {
      if (!HEX_GROUP.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  let groups: number[];
  if (dbl >= 0) {
    const head = split(text.slice(0, dbl));
    const rest = split(text.slice(dbl + 2));
    if (!head || !rest) return undefined;
    if (tail.length) rest.pop();
    const fill = 8 - tail.length - head.length - rest.length;
    if (fill < 1) return undefined;
    groups = [...head, ...new Array<number>(fill).fill(0), ...rest, ...tail];
  } else {
    const all = split(text);
    if (!all) return undefined;
    if (tail.length) all.pop();
    groups = [...all, ...tail];
    if (groups.length !== 8) return undefined;
  }
  return groups.length === 8 ? groups : undefined;
}

function formatV6(groups: number[]): string {
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (g: number[]): string => g.map((x) => x.toString(16)).join(":");
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
}

/** Parse an IP literal (no surrounding spaces, brackets or zone); undefined when it is not one. */
export function parseIp(s: string): ParsedIp | undefined {
  if (typeof s !== "string" || s.length === 0) return undefined;
  if (!s.includes(":")) {
    const v4 = parseV4Bytes(s);
    return v4 ? { family: 4, text: v4.join(".") } : undefined;
  }
  const g = parseV6Groups(s);
  if (!g) return undefined;
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return { family: 4, text: [g[6]! >> 8, g[6]! & 0xff, g[7]! >> 8, g[7]! & 0xff].join(".") };
  }
  return { family: 6, text: formatV6(g) };
}

/** True for 127.0.0.0/8 and ::1. */
export function isLoopback(ip: ParsedIp): boolean {
  return ip.family === 4 ? ip.text.startsWith("127.") : ip.text === "::1";
}
