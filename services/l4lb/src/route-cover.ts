/**
 * Which local route carries a VIP address (routes.ts). By default every VIP address has its own
 * (`local <vip>/32`), as upstream puts each on its `minuteman` device. Addresses of a covered
 * range — the named-VIP ranges, reserved for VIPs (DC/OS: 11.0.0.0/8 and fd01:c::/64 by default)
 * — share the routes of the range's CIDR prefixes instead: while at least one VIP is in a prefix
 * the prefix is a local route, so 10,000 named VIPs are a few routes, and a named VIP that comes
 * or goes changes no route at all unless it is the first or last in its prefix. The prefixes hold
 * exactly the range (no address outside it becomes local); inside it, an address that is no VIP
 * is local too, so a connection from the node to it is refused at once instead of leaving the node.
 */
import type { VipRange } from "./allocate";
import { cidrText, parseIp, rangeCidrs, type Cidr } from "./ip";

export type RouteKey = (ip: string) => string;

/** The route key of each address: the covering prefix's text, or the address itself. */
export function routeCover(ranges: readonly VipRange[]): RouteKey {
  const prefixes: (Cidr & { last: bigint; text: string })[] = [];
  for (const r of ranges) {
    for (const c of rangeCidrs(r.family, r.min, r.max)) {
      const bits = r.family === 4 ? 32 : 128;
      prefixes.push({ ...c, last: c.value + (1n << BigInt(bits - c.len)) - 1n, text: cidrText(c) });
    }
  }
  if (prefixes.length === 0) return (ip) => ip;
  // VIP addresses repeat (several ports, both protocols, every apply of the same table): keep the answers.
  const known = new Map<string, string>();
  return (ip) => {
    let key = known.get(ip);
    if (key !== undefined) return key;
    key = ip;
    const v = parseIp(ip);
    if (v) for (const p of prefixes) if (p.family === v.family && v.value >= p.value && v.value <= p.last) key = p.text;
    if (known.size >= 1 << 20) known.clear();
    known.set(ip, key);
    return key;
  };
}
