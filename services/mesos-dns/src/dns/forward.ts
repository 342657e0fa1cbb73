/**
 * Routing by longest zone suffix and transparent forwarding (spec §4 "Routing", "Forwarding").
 *
 * The client's message is sent unchanged (same ID, flags, EDNS) over the transport the client used
 * to each resolver of the matching list in order; the first exchange without a transport or parse
 * error wins whatever its rcode. No caching, no recursion of our own.
 */
import type { MesosDnsConfig } from "../model";
import { type Exchanged, type Transport, type Upstream, ExchangeError, TYPE_DS, exchange, parseResolver } from "@dcnet/dns";

export { type Upstream, ExchangeError, parseResolver };

export type Route = { kind: "mesos" } | { kind: "forward"; zone: string; upstreams: Upstream[] } | { kind: "refused"; zone: string };

interface Zone {
  zone: string;
  /** `.` + zone, for the suffix test. */
  dotted: string;
  route: Route;
}

/**
 * The mux: `<domain>.` → authoritative; each zoneResolvers key → its forwarder; `.` → default
 * forwarder. Longest suffix wins (ASCII case-insensitive: names arrive lower-cased). DS queries
 * always go to `.` (miekg mux quirk, kept).
 */
export class ZoneRouter {
  private readonly zones: Zone[];
  private readonly root: Route;

  constructor(config: Pick<MesosDnsConfig, "domain" | "resolvers" | "zoneResolvers" | "externalOn">, invalid?: (entry: string) => void) {
    const norm = (z: string) => z.toLowerCase().replace(/^\.+|\.+$/g, "") + ".";
    const parse = (list: readonly string[]) =>
      list.flatMap((r) => {
        const u = parseResolver(r);
        if (!u) invalid?.(r);
        return u ? [u] : [];
      });
    const fwd = (zone: string, list: readonly string[]): Route => {
      const upstreams = config.externalOn ? parse(list) : [];
      return upstreams.length > 0 ? { kind: "forward", zone, upstreams } : { kind: "refused", zone };
    };
    const zones: Zone[] = [];
    const domain = norm(config.domain);
    zones.push({ zone: domain, dotted: "." + domain, route: { kind: "mesos" } });
    for (const [z, list] of Object.entries(config.zoneResolvers)) {
      const zone = norm(z);
      if (zone === "." || zone === domain) continue;
      zones.push({ zone, dotted: "." + zone, route: fwd(zone, list) });
    }
    zones.sort((a, b) => b.zone.length - a.zone.length);
    this.zones = zones;
    this.root = fwd(".", config.resolvers);
  }

  /** `name`: lower-cased absolute presentation name. */
  route(name: string, qtype: number): Route {
    if (qtype === TYPE_DS) return this.root;
    for (const z of this.zones) {
      if (name.endsWith(z.dotted) || name === z.zone) return z.route;
    }
    return this.root;
  }
}

export interface ForwardResult extends Exchanged {
  upstream: Upstream;
}

/**
 * Tries each upstream in order; resolves with the first valid reply, or null when all failed.
 * `onFailure` is told about each failed attempt.
 */
export async function forward(
  query: Buffer,
  upstreams: readonly Upstream[],
  transport: Transport,
  timeoutMs: number,
  onFailure?: (up: Upstream, err: ExchangeError) => void,
  signal?: AbortSignal,
): Promise<ForwardResult | null> {
  for (const up of upstreams) {
    if (signal?.aborted) return null;
    try {
      const r = await exchange(query, up, transport, timeoutMs, signal);
      return { ...r, upstream: up };
    } catch (err) {
      onFailure?.(up, err instanceof ExchangeError ? err : new ExchangeError("network", String(err)));
    }
  }
  return null;
}
