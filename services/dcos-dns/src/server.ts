/**
 * The dcos-dns query path: parse, route (router.ts), answer from the zones (authority.ts) or relay
 * from upstreams (forwarder.ts), and the listeners: one UDP socket and one TCP server per bind
 * address (§3.1: replies leave from the address they were sent to).
 *
 * Bounded: at most `handlerLimit` forwarded queries in flight; beyond that a query is dropped (no
 * reply, counted), as dcos-dns does at its 1,024-handler cap. Authoritative answers are synchronous;
 * A/AAAA queries for names answered before are found by their wire bytes before routing
 * (Authority.respondFast, fast-answers.ts).
 */
import { CellCounter, counter, histogram, labelledChild, type Logger, type Registry } from "@dcnet/core";
import {
  type DnsListener,
  type Query,
  type SizePolicy,
  type Transport,
  type Upstream,
  RCODE_FORMERR,
  RCODE_NOERROR,
  RCODE_SERVFAIL,
  authoritativeLimit,
  createDnsListener,
  errorReply,
  headerOnly,
  PARSE_OK,
  QueryScratch,
  optRecord,
  laterQuestionNames,
  parseQueryInto,
  parseReason,
  rcodeName,
  registerUdpDropsMetric,
  relayLimit,
  truncateRelayed,
} from "@dcnet/dns";
import type { Authority } from "./authority";
import { Forwarder } from "./forwarder";
import type { Route, Router } from "./router";

/** Default cap on an authoritative UDP answer: honours the usual 4096-byte EDNS0 advertisement. */
export const DCOS_DNS_EDNS_UDP_SIZE = 4096;

export interface DnsServerOptions {
  authority: Authority;
  /** Current router (swapped when the master list or config changes). */
  router: () => Router;
  /** Current Mesos-DNS servers for `.mesos`. */
  mesosDns: () => readonly Upstream[];
  bindIps: readonly string[];
  udpPort: number;
  tcpPort: number;
  udpEnabled?: boolean;
  tcpEnabled?: boolean;
  handlerLimit?: number;
  /** Cap on the client's EDNS0 UDP size for authoritative answers, and the size our OPT advertises (default 4096). */
  ednsUdpSize?: number;
  perUpstreamMs?: number;
  overallMs?: number;
  logger: Logger;
  registry: Registry;
}

export interface DcosDnsServer {
  start(): Promise<{ ip: string; udp: number; tcp: number }[]>;
  stop(): Promise<void>;
  /** Answers one message as if received over `transport` (null = dropped). */
  query(msg: Buffer, transport: Transport): Promise<Buffer | null>;
  inFlight(): number;
}

export function createDcosDnsServer(opts: DnsServerOptions): DcosDnsServer {
  const { authority, logger: log, registry } = opts;
  // §3.4: the client's EDNS0 size is the limit (the issue: "EDNS0 UDP size honoured"), up to `ednsUdpSize`.
  const policy: SizePolicy = { honourEdns: true, ednsUdpSize: opts.ednsUdpSize ?? DCOS_DNS_EDNS_UDP_SIZE };
  const ourOpt = optRecord(policy.ednsUdpSize);
  const badVers = optRecord(policy.ednsUdpSize, 1);
  const limit = opts.handlerLimit ?? 1024;
  let inFlight = 0;

  const queries = counter(registry, "dns_queries_total", "DNS queries answered, by route (internal|mesos|forward), rcode and transport", [
    "route",
    "rcode",
    "transport",
  ]);
  const dropped = counter(registry, "dns_dropped_total", "DNS messages not answered or answered FORMERR, by reason", ["reason"]);
  const fwdDuration = histogram(
    registry,
    "dns_forwarder_requests_duration_seconds",
    "Time to answer a forwarded query, by zone (mesos, a forward zone, or . for the default upstreams)",
    ["zone"],
    [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  );
  const fwdFailures = counter(registry, "dns_forwarder_failures_total", "Forwarded queries no upstream answered (SERVFAIL), by zone", [
    "zone",
  ]);
  const workerDuration = histogram(
    registry,
    "dns_worker_requests_duration_seconds",
    "One upstream exchange, by transport and upstream",
    ["protocol", "upstream_address"],
    [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  );
  const workerFailures = counter(registry, "dns_worker_failures_total", "Failed upstream exchanges, by transport, upstream and reason", [
    "protocol",
    "upstream_address",
    "reason",
  ]);
  // Observed for every forwarded query: children looked up once per label list.
  const workerChild = labelledChild(workerDuration);
  const fwdChild = labelledChild(fwdDuration);
  const forwarder = new Forwarder({
    perUpstreamMs: opts.perUpstreamMs,
    overallMs: opts.overallMs,
    onAttempt: (up, transport, secs, err) => {
      workerChild(transport, up.label).observe(secs);
      if (err) {
        workerFailures.labels(transport, up.label, err.reason).inc();
        log.debug({ upstream: up.label, err: err.message }, "upstream exchange failed");
      }
    },
  });
  // Per-query counting is one typed-array increment; prom-client sees the cells when scraped.
  const ROUTES = ["internal", "mesos", "forward"] as const;
  const cells = new CellCounter(queries, ROUTES.length * 32 * 2, (i) => ({
    route: ROUTES[i >> 6]!,
    rcode: rcodeName((i >> 1) & 31),
    transport: i & 1 ? "tcp" : "udp",
  }));
  const count = (route: "internal" | "mesos" | "forward", rcode: number, transport: Transport) =>
    cells.inc(((route === "internal" ? 0 : route === "mesos" ? 1 : 2) * 32 + (rcode & 31)) * 2 + (transport === "udp" ? 0 : 1));

  /** One reused parse target: authoritative answers are synchronous; a forwarded query keeps a snapshot. */
  const scratch = new QueryScratch();
  /** The router the fast answers were learned under. */
  let fastRouter: Router | null = null;

  function handle(msg: Buffer, transport: Transport): Buffer | null | Promise<Buffer | null> {
    const status = parseQueryInto(msg, scratch);
    if (status !== PARSE_OK) {
      const reason = parseReason(status);
      dropped.labels(reason).inc();
      return reason === "malformed" ? headerOnly(scratch.id, RCODE_FORMERR) : null;
    }
    const q = scratch;
    const opt = q.edns !== null ? ourOpt : null;
    if (!q.hasQuestion) {
      dropped.labels("no_question").inc();
      return errorReply(msg, q, RCODE_FORMERR, opt);
    }
    if (opt !== null && q.edns!.version > 0) {
      count("internal", 16, transport);
      return errorReply(msg, q, RCODE_NOERROR, badVers);
    }
    const router = opts.router();
    if (router !== fastRouter) {
      // Fast answers were learned under the old router's decisions.
      authority.clearFast();
      fastRouter = router;
    }
    const several = ((msg[4]! << 8) | msg[5]!) > 1;
    if (!several) {
      try {
        // Fast path: an A/AAAA name answered before (found by its wire bytes, no string, no routing).
        const buf = authority.respondFast(msg, q, authoritativeLimit(transport, q.edns, policy), opt);
        if (buf !== null) {
          count("internal", RCODE_NOERROR, transport);
          return buf;
        }
      } catch (err) {
        return failed(err, msg, q, transport, opt);
      }
    }
    let route: Route;
    if (!several) route = router.route(q.name);
    else {
      // Several questions (spec §3.2): where they all go, else answered here.
      const routed = router.routeQuestions(q.name, laterQuestionNames(msg, q.qEnd));
      route = routed.route;
      for (const r of routed.disagreeing) fwdFailures.labels(zoneLabel(r)).inc();
    }
    if (route.kind === "internal") {
      try {
        // Only one-question queries for names answered as asked (no rename) may be learned for the fast path.
        const fast = route.map === null && !several ? q : null;
        const r = authority.respond(msg, q, route.name, authoritativeLimit(transport, q.edns, policy), opt, route.map, fast);
        count("internal", r.rcode, transport);
        return r.buf;
      } catch (err) {
        return failed(err, msg, q, transport, opt);
      }
    }
    if (route.kind === "none") {
      // No upstream at all: a forwarder failure for the zone, like every upstream failing.
      fwdFailures.labels(route.zone).inc();
      count("forward", RCODE_SERVFAIL, transport);
      return errorReply(msg, q, RCODE_SERVFAIL, opt);
    }
    if (inFlight >= limit) {
      dropped.labels("handler_limit").inc();
      return null;
    }
    inFlight++;
    const held = q.snapshot();
    return relay(msg, held, transport, route, opt)
      .catch((err: unknown) => {
        log.error({ err }, "forwarding failed unexpectedly");
        return errorReply(msg, held, RCODE_SERVFAIL, opt);
      })
      .finally(() => inFlight--);
  }

  function failed(err: unknown, msg: Buffer, q: Query, transport: Transport, opt: Buffer | null): Buffer {
    log.error({ err, name: q.name, qtype: q.qtype }, "authoritative answer failed");
    count("internal", RCODE_SERVFAIL, transport);
    return errorReply(msg, q, RCODE_SERVFAIL, opt);
  }

  async function relay(msg: Buffer, q: Query, transport: Transport, route: Route, opt: Buffer | null): Promise<Buffer> {
    const mesos = route.kind === "mesos";
    const zone = zoneLabel(route);
    const upstreams = mesos ? opts.mesosDns() : route.kind === "forward" ? route.upstreams : [];
    const label = mesos ? "mesos" : "forward";
    const end = fwdChild(zone).startTimer();
    const res = upstreams.length === 0 ? null : await forwarder.forward(msg, upstreams, transport, mesos);
    end();
    if (!res) {
      fwdFailures.labels(zone).inc();
      count(label, RCODE_SERVFAIL, transport);
      return errorReply(msg, q, RCODE_SERVFAIL, opt);
    }
    const lim = relayLimit(transport, q.edns, res.reply, res.layout, policy);
    const out = truncateRelayed(res.reply, res.layout, lim, true, true);
    count(label, out.buf[3]! & 0x0f, transport);
    return out.buf;
  }

  let listeners: DnsListener[] = [];
  registerUdpDropsMetric(registry, "dns_udp_dropped_total", () => listeners);
  return {
    async start() {
      const out: { ip: string; udp: number; tcp: number }[] = [];
      const started: DnsListener[] = [];
      try {
        for (const ip of opts.bindIps) {
          // UDP and TCP may be on different ports (§3.9 udp_port/tcp_port): one listener each when they differ.
          const same = opts.udpPort === opts.tcpPort;
          const parts: { udp: boolean; tcp: boolean; port: number }[] = same
            ? [{ udp: opts.udpEnabled !== false, tcp: opts.tcpEnabled !== false, port: opts.udpPort }]
            : [
                { udp: opts.udpEnabled !== false, tcp: false, port: opts.udpPort },
                { udp: false, tcp: opts.tcpEnabled !== false, port: opts.tcpPort },
              ];
          const bound = { ip, udp: 0, tcp: 0 };
          for (const p of parts) {
            if (!p.udp && !p.tcp) continue;
            const l = createDnsListener({ host: ip, port: p.port, handle, logger: log, udp: p.udp, tcp: p.tcp, tcpIdleTimeoutMs: 10_000 });
            const ports = await l.start();
            started.push(l);
            if (p.udp) bound.udp = ports.udp;
            if (p.tcp) bound.tcp = ports.tcp;
          }
          out.push(bound);
        }
      } catch (err) {
        await Promise.all(started.map((l) => l.stop()));
        throw err;
      }
      listeners = started;
      return out;
    },
    async stop() {
      forwarder.close();
      const ls = listeners;
      listeners = [];
      await Promise.all(ls.map((l) => l.stop()));
    },
    query: async (msg, transport) => handle(msg, transport),
    inFlight: () => inFlight,
  };
}

/** The `zone` label of a route's forwarder metrics: `mesos`, the forward zone, or `.`. */
function zoneLabel(route: Route): string {
  return route.kind === "mesos" ? "mesos" : route.kind === "forward" || route.kind === "none" ? route.zone : ".";
}
