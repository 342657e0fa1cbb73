/**
 * Which addresses an IP VIP label may not take (ours, beyond upstream). A VIP address gets a DNAT
 * rule in every node's nat output and prerouting chains, and (socket LB) a connect() rewrite, so a
 * VIP on an address that means something else on a node would catch that traffic on EVERY node:
 *
 * - special addresses: unspecified, loopback, link-local, multicast, broadcast;
 * - dcos-dns's listeners (198.51.100.0/24, fd01:d::c633:6400/120: spec §3.1 `spartan`);
 * - the named-VIP ranges (`namedIpv4Range`/`namedIpv6Range`): an IP VIP there could be the address
 *   a named VIP claims, and the data plane would serve both on one address:port;
 * - an address a node holds (the agent's interfaces and every address the bus membership knows):
 *   a VIP `<node>:22` would send every node's ssh to that node elsewhere.
 *
 * `allow` (config `ipVipAllow`, CIDRs) exempts addresses from the first three checks — e.g. the
 * embedded mode's userspace proxy, where a 127/8 VIP only binds a listener — never from the
 * node-address check. A refused label is a label problem (log, metric, API) on the agent; a node
 * reading a document with such a VIP (an older agent) does not serve it and says why in the VIP's
 * notes.
 */
import { invalidArgument } from "@dcnet/core";
import { inRange, type VipRange } from "./allocate";
import { canonicalIp, cidrText, formatIp, parseIp, type Cidr } from "./ip";

const SPECIAL: [string, string][] = [
  ["0.0.0.0/8", "an unspecified address"],
  ["127.0.0.0/8", "a loopback address"],
  ["169.254.0.0/16", "a link-local address"],
  ["224.0.0.0/4", "a multicast address"],
  ["255.255.255.255/32", "the broadcast address"],
  ["198.51.100.0/24", "in dcos-dns's listener range"],
  ["::/128", "the unspecified address"],
  ["::1/128", "the loopback address"],
  ["fe80::/10", "a link-local address"],
  ["ff00::/8", "a multicast address"],
  ["fd01:d::c633:6400/120", "in dcos-dns's listener range"],
];

/** `10.0.0.0/8` → a Cidr (the value masked to its prefix); undefined when it is not one. */
export function parseCidr(text: string): Cidr | undefined {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(text.trim());
  const ip = m ? parseIp(m[1]!) : undefined;
  if (!m || !ip) return undefined;
  const bits = ip.family === 4 ? 32 : 128;
  const len = Number(m[2]);
  if (len > bits) return undefined;
  const host = (1n << BigInt(bits - len)) - 1n;
  return { family: ip.family, value: ip.value & ~host, len };
}

export function inCidr(c: Cidr, ip: string): boolean {
  const v = parseIp(ip);
  if (!v || v.family !== c.family) return false;
  const bits = c.family === 4 ? 32 : 128;
  return v.value >> BigInt(bits - c.len) === c.value >> BigInt(bits - c.len);
}

const special: [Cidr, string][] = SPECIAL.map(([c, why]) => [parseCidr(c)!, why]);

export interface IpVipGuardOptions {
  namedRanges: { 4: VipRange; 6: VipRange };
  /** CIDRs exempt from the special-address and named-range checks. */
  allow?: readonly string[];
  /** Addresses nodes hold (canonical or not); checked on every call. */
  nodeAddresses?: () => Iterable<string>;
}

/** Why `ip` may not be an IP VIP, or undefined when it may. */
export type IpVipGuard = (ip: string) => string | undefined;

/** Throws INVALID_ARGUMENT (field `ipVipAllow`) for an entry that is not a CIDR. */
export function ipVipGuard(opts: IpVipGuardOptions): IpVipGuard {
  const allow = (opts.allow ?? []).map((text, i) => {
    const c = parseCidr(text);
    if (!c) throw invalidArgument(`ipVipAllow[${i}]`, `${JSON.stringify(text)} is not a CIDR (e.g. 127.0.0.0/8)`);
    return c;
  });
  return (raw) => {
    const ip = canonicalIp(raw);
    if (ip === undefined) return undefined; // not an address: the label grammar reports it
    if (opts.nodeAddresses) {
      for (const a of opts.nodeAddresses()) {
        if (canonicalIp(a) === ip) return `${ip} is a node's own address: a VIP there would catch that node's traffic on every node`;
      }
    }
    if (allow.some((c) => inCidr(c, ip))) return undefined;
    for (const [c, why] of special) {
      if (inCidr(c, ip)) return `${ip} is ${why} (${cidrText(c)}): a VIP there would catch local traffic on every node`;
    }
    for (const f of [4, 6] as const) {
      const r = opts.namedRanges[f];
      if (inRange(r, ip))
        return `${ip} is in the named-VIP range ${formatIp(f, r.min)}–${formatIp(f, r.max)}: it could be a named VIP's address`;
    }
    return undefined;
  };
}
