/**
 * Loop guard (§3.2, COPS-4616): dcos-dns must never forward to itself. An upstream "is us" when it
 * is one of 198.51.100.1–3 (the DC/OS listener addresses, at any port: the DC/OS installer
 * refuses them as resolvers) or one of this node's listener addresses at a listener port. Such
 * upstreams in `upstream_resolvers` or `forward_zones` are configuration errors naming the key;
 * when the upstreams default to the host's /etc/resolv.conf — which our own generator may have
 * rewritten to point at us — they are dropped instead, so a restart does not loop.
 */
import * as fs from "node:fs";
import { isIP } from "node:net";
import type { Logger } from "@dcnet/core";
import { type Upstream, parseResolver } from "@dcnet/dns";

export const SPARTAN_IPS = ["198.51.100.1", "198.51.100.2", "198.51.100.3"];

/** This node's listeners: the bound addresses and the UDP/TCP ports (0 = ephemeral, unknown beforehand). */
export interface OwnListeners {
  ips: readonly string[];
  ports: readonly number[];
}

/** Why `up` would be a query to ourselves, or null. */
export function loopsBack(up: Pick<Upstream, "host" | "port">, own: OwnListeners): string | null {
  if (SPARTAN_IPS.includes(up.host))
    return `${up.host} is a dcos-dns listener address (198.51.100.1-3): forwarding to it would loop (COPS-4616)`;
  if (own.ips.includes(up.host) && own.ports.includes(up.port))
    return `${up.host}:${up.port} is this node's own dcos-dns listener: forwarding to it would loop`;
  return null;
}

/** The configured upstreams that are us, each with its config path (`upstreamResolvers`/`forwardZones`, index) and why. */
export function loopingUpstreams(
  c: { upstreamResolvers?: readonly string[] | undefined; forwardZones: Readonly<Record<string, readonly string[]>> },
  own: OwnListeners,
): { path: (string | number)[]; message: string }[] {
  const out: { path: (string | number)[]; message: string }[] = [];
  const check = (list: readonly string[], path: (string | number)[]) =>
    list.forEach((s, i) => {
      const up = parseResolver(s);
      const why = up ? loopsBack(up, own) : null;
      if (why) out.push({ path: [...path, i], message: why });
    });
  check(c.upstreamResolvers ?? [], ["upstreamResolvers"]);
  for (const [zone, list] of Object.entries(c.forwardZones)) check(list, ["forwardZones", zone]);
  return out;
}

/**
 * The nameservers of a resolv.conf (port 53) minus those that are us (`loopsBack`), and the ones
 * dropped; [] for an absent or unreadable file.
 */
export function defaultUpstreams(resolvConf: string, own: OwnListeners): { upstreams: string[]; dropped: string[] } {
  let text = "";
  try {
    text = fs.readFileSync(resolvConf, "utf8");
  } catch {
    return { upstreams: [], dropped: [] };
  }
  const upstreams: string[] = [];
  const dropped: string[] = [];
  for (const line of text.split("\n")) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (!m) continue;
    const ip = m[1]!;
    if (isIP(ip) === 0) continue;
    if (loopsBack({ host: ip, port: 53 }, own) !== null) dropped.push(ip);
    else upstreams.push(ip);
  }
  return { upstreams, dropped };
}

/** Default upstreams: the host's resolv.conf minus ourselves, saying what was dropped and when none remain. */
export function upstreamsFromResolvConf(file: string, own: OwnListeners, log: Pick<Logger, "info" | "warn">): string[] {
  const { upstreams, dropped } = defaultUpstreams(file, own);
  if (dropped.length > 0)
    log.info({ file, dropped }, "default upstreams: nameservers that are dcos-dns itself left out (forwarding to them would loop)");
  if (upstreams.length === 0)
    log.warn(
      { file, dropped },
      dropped.length > 0
        ? "no upstream resolvers: upstream_resolvers is not set and every nameserver in the file is this dcos-dns itself (a resolv.conf it wrote?); names outside the cluster zones get SERVFAIL until upstream_resolvers is set"
        : "no upstream resolvers: upstream_resolvers is not set and the file lists no nameserver; names outside the cluster zones get SERVFAIL until upstream_resolvers is set",
    );
  return upstreams;
}
