/** IP text → wire bytes for A/AAAA RDATA. */
import { isIPv4 } from "node:net";

/** Dotted-quad text → 4 bytes (the caller has checked it with isIPv4). */
export function ipv4Bytes(ip: string): Buffer {
  return Buffer.from(ip.split(".").map((x) => Number(x)));
}

/** IPv6 text → 16 bytes (handles `::` and an embedded IPv4 tail); null if malformed. */
export function ipv6Bytes(ip: string): Buffer | null {
  let s = ip;
  const pct = s.indexOf("%");
  if (pct >= 0) s = s.slice(0, pct);
  const lastColon = s.lastIndexOf(":");
  if (s.indexOf(".", lastColon) >= 0) {
    const v4 = s.slice(lastColon + 1);
    if (!isIPv4(v4)) return null;
    const [a, b, c, d] = ipv4Bytes(v4);
    s = s.slice(0, lastColon + 1) + (((a! << 8) | b!).toString(16) + ":" + ((c! << 8) | d!).toString(16));
  }
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const parse = (p: string) => (p === "" ? [] : p.split(":").map((h) => (/^[0-9a-fA-F]{1,4}$/.test(h) ? parseInt(h, 16) : NaN)));
  let groups: number[];
  if (halves.length === 2) {
    const left = parse(halves[0]!);
    const right = parse(halves[1]!);
    const fill = 8 - left.length - right.length;
    if (fill < 1) return null;
    groups = [...left, ...new Array<number>(fill).fill(0), ...right];
  } else groups = parse(s);
  if (groups.length !== 8 || groups.some((g) => Number.isNaN(g))) return null;
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}
