/**
 * The Mesos-DNS DNS server (spec §4): UDP and TCP on `listener:port`, the mux, the authoritative
 * handler (answers.ts), forwarding (forward.ts), truncation (truncate.ts).
 *
 * Records: the caller swaps record sets with `update(set, serial)`; each set is precomputed there.
 * Before the first set, queries for the Mesos domain get SERVFAIL (forwarding works). Callers that
 * want upstream's behaviour (ports closed until the first reload) call `start()` after `update()`.
 */
import { counter, histogram, type Logger, type Registry } from "@dcnet/core";
import {
  type DnsListener,
  type ExchangeError,
  type Query,
  type SizePolicy,
  type Transport,
  type Upstream,
  DEFAULT_EDNS_UDP_SIZE,
  authoritativeLimit,
  createDnsListener,
  relayLimit,
  truncateRelayed,
  RCODE_FORMERR,
  RCODE_NOERROR,
  RCODE_REFUSED,
  RCODE_SERVFAIL,
  errorReply,
  headerOnly,
  optRecord,
  parseQuery,
  rcodeName,
} from "@dcnet/dns";
import type { MesosDnsConfig, RecordSet } from "../model";
import { AnswerSet, zoneSettings } from "./answers";
import { type Route, ZoneRouter, forward } from "./forward";

export interface DnsServerOptions {
  /** Uses listener, port, domain, ttl, SOA*, srvRecordDefaultWeight, resolvers, zoneResolvers, timeout, externalOn, recurseOn, setTruncateBit. */
  config: MesosDnsConfig;
  /** Initial record set, read once at start() if update() was not called before. */
  records?: () => { set: RecordSet; serial: number } | undefined;
  logger: Logger;
  registry: Registry;
  /** Honour the client's EDNS0 UDP size and add an OPT to our replies (default true; false = upstream's 512-byte cap). */
  honourEdns?: boolean;
  /** Our EDNS0 UDP payload size: the cap for authoritative UDP replies and the value we advertise (default 1232). */
  ednsUdpSize?: number;
  /** Close a TCP connection idle this long (default 8000 ms, as miekg/dns). */
  tcpIdleTimeoutMs?: number;
  /** Refuse TCP connections beyond this many (default 1000). */
  maxTcpConnections?: number;
  /** Queries in flight per TCP connection before we stop reading from it (default 64). */
  maxTcpInFlight?: number;
  /** SO_RCVBUF for the UDP socket (default 4 MiB; the kernel caps it at net.core.rmem_max). */
  udpRecvBufferBytes?: number;
}

export interface DnsServer {
  /** Binds UDP and TCP on config.listener:config.port (0 = ephemeral, chosen independently). */
  start(): Promise<{ udp: number; tcp: number }>;
  /** Closes the sockets, drops TCP connections and aborts forwards in flight. */
  stop(): Promise<void>;
  /** Swaps in a new record set (precomputed here, synchronously); `serial` goes into the SOA. */
  update(set: RecordSet, serial: number): void;
  /** Serial of the served set, or undefined before the first one. */
  serial(): number | undefined;
  /** Answers one message as if received over `transport`; null when it would be dropped. */
  query(msg: Buffer, transport: Transport): Promise<Buffer | null>;
}

type Inc = { inc(v?: number): void };

/** Names precomputed per event-loop turn after a swap (~12 µs each: a slice stays near 10 ms). */
const PREWARM_SLICE = 1000;

export function createDnsServer(opts: DnsServerOptions): DnsServer {
  const { config, logger: log, registry } = opts;
  const zone = zoneSettings(config);
  const policy: SizePolicy = { honourEdns: opts.honourEdns ?? true, ednsUdpSize: opts.ednsUdpSize ?? DEFAULT_EDNS_UDP_SIZE };
  const router = new ZoneRouter(config, (entry) => log.warn({ resolver: entry }, "ignoring resolver that is not an IP literal"));
  const timeoutMs = (config.timeout > 0 ? config.timeout : 5) * 1000;
  const ourOpt = optRecord(policy.ednsUdpSize);
  const badVers = optRecord(policy.ednsUdpSize, 1);

  const queries = counter(
    registry,
    "mesos_dns_dns_queries_total",
    "DNS queries answered, by zone kind (mesos|forwarded), rcode and transport",
    ["zone", "rcode", "transport"],
  );
  const dropped = counter(registry, "mesos_dns_dns_dropped_total", "DNS messages not answered or answered FORMERR, by reason", ["reason"]);
  const truncatedC = counter(registry, "mesos_dns_dns_truncated_total", "Replies cut to fit the transport, by zone kind", ["zone"]);
  const fwdFailures = counter(registry, "mesos_dns_dns_forward_failures_total", "Failed upstream exchanges (per attempt)", [
    "resolver",
    "transport",
    "reason",
  ]);
  const fwdDuration = histogram(
    registry,
    "mesos_dns_dns_forward_duration_seconds",
    "Time to relay a forwarded query, all attempts included",
    ["transport"],
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  );
  const children = new Map<string, Inc>();
  const countQuery = (kind: "mesos" | "forwarded", rcode: number, transport: Transport) => {
    const key = kind + rcode + transport;
    let c = children.get(key);
    if (!c) {
      c = queries.labels(kind, rcodeName(rcode), transport);
      children.set(key, c);
    }
    c.inc();
  };

  let answers: AnswerSet | undefined;
  let running = false;
  let listener: DnsListener | undefined;
  let aborter = new AbortController();

  function update(set: RecordSet, serial: number): void {
    const t0 = process.hrtime.bigint();
    const next = AnswerSet.build(set, serial, zone);
    answers = next;
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    log.debug({ serial, names: next.size, ms: Math.round(ms * 10) / 10 }, "DNS record set swapped in");
    prewarm(next, t0);
  }

  /** Precomputes every name of `set` in slices of PREWARM_SLICE per event-loop turn (queries build on demand meanwhile). */
  function prewarm(set: AnswerSet, t0: bigint): void {
    const step = () => {
      if (answers !== set) return;
      if (!set.prewarm(PREWARM_SLICE)) {
        setImmediate(step).unref();
        return;
      }
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      log.debug({ serial: set.serial, names: set.size, ms: Math.round(ms) }, "DNS answers precomputed");
      if (set.skipped > 0)
        log.warn(
          { serial: set.serial, skipped: set.skipped },
          "record values that cannot be served (not an IP, or a name label over 63 bytes)",
        );
    };
    setImmediate(step).unref();
  }

  /**
   * Handles one message: a reply, null (drop), or — for forwarded queries — a promise of a reply
   * that never rejects. Synchronous on the authoritative path (no closure, no promise).
   */
  function handle(msg: Buffer, transport: Transport): Buffer | null | Promise<Buffer> {
    const parsed = parseQuery(msg);
    if (!parsed.ok) {
      dropped.labels(parsed.reason).inc();
      return parsed.reason === "malformed" ? headerOnly(parsed.id, RCODE_FORMERR) : null;
    }
    const q = parsed.query;
    const opt = policy.honourEdns && q.edns !== null ? ourOpt : null;
    if (!q.hasQuestion) {
      countQuery("forwarded", RCODE_SERVFAIL, transport);
      return errorReply(msg, q, RCODE_SERVFAIL, opt);
    }
    const route = router.route(q.name, q.qtype);
    if (route.kind === "mesos") return authoritative(msg, q, transport, opt);
    if (route.kind === "refused") {
      countQuery("forwarded", RCODE_REFUSED, transport);
      return errorReply(msg, q, RCODE_REFUSED, opt);
    }
    return relay(msg, q, transport, route, opt).catch((err: unknown) => {
      log.error({ err }, "forwarding failed unexpectedly");
      return errorReply(msg, q, RCODE_SERVFAIL, opt);
    });
  }

  function authoritative(msg: Buffer, q: Query, transport: Transport, opt: Buffer | null): Buffer {
    if (opt !== null && q.edns!.version > 0) {
      countQuery("mesos", 16, transport);
      return errorReply(msg, q, RCODE_NOERROR, badVers);
    }
    const set = answers;
    if (!set) {
      countQuery("mesos", RCODE_SERVFAIL, transport);
      return errorReply(msg, q, RCODE_SERVFAIL, opt);
    }
    try {
      const r = set.respond(msg, q, authoritativeLimit(transport, q.edns, policy), opt);
      countQuery("mesos", r.rcode, transport);
      if (r.truncated) truncatedC.labels("mesos").inc();
      return r.buf;
    } catch (err) {
      // §4.7: a panic inside a handler → SERVFAIL.
      log.error({ err, name: q.name, qtype: q.qtype }, "authoritative handler failed");
      countQuery("mesos", RCODE_SERVFAIL, transport);
      return errorReply(msg, q, RCODE_SERVFAIL, opt);
    }
  }

  async function relay(
    msg: Buffer,
    q: Query,
    transport: Transport,
    route: Extract<Route, { kind: "forward" }>,
    opt: Buffer | null,
  ): Promise<Buffer> {
    const end = fwdDuration.startTimer({ transport });
    const onFailure = (up: Upstream, err: ExchangeError) => {
      fwdFailures.labels(up.label, transport, err.reason).inc();
      log.debug({ resolver: up.label, zone: route.zone, name: q.name, err: err.message }, "upstream exchange failed");
    };
    const res = await forward(msg, route.upstreams, transport, timeoutMs, onFailure, aborter.signal);
    end();
    if (!res) {
      countQuery("forwarded", RCODE_SERVFAIL, transport);
      return errorReply(msg, q, RCODE_SERVFAIL, opt);
    }
    const limit = relayLimit(transport, q.edns, res.reply, res.layout, policy);
    const out = truncateRelayed(res.reply, res.layout, limit, zone.setTruncateBit, policy.honourEdns);
    if (out.truncated) truncatedC.labels("forwarded").inc();
    countQuery("forwarded", out.buf[3]! & 0x0f, transport);
    return out.buf;
  }

  async function start(): Promise<{ udp: number; tcp: number }> {
    if (running) throw new Error("DNS server already started");
    if (!answers && opts.records) {
      const r = opts.records();
      if (r) update(r.set, r.serial);
    }
    aborter = new AbortController();
    const l = createDnsListener({
      host: config.listener,
      port: config.port,
      handle,
      logger: log,
      tcpIdleTimeoutMs: opts.tcpIdleTimeoutMs,
      maxTcpConnections: opts.maxTcpConnections,
      maxTcpInFlight: opts.maxTcpInFlight,
      udpRecvBufferBytes: opts.udpRecvBufferBytes,
    });
    const ports = await l.start();
    listener = l;
    running = true;
    return ports;
  }

  async function stop(): Promise<void> {
    if (!running) return;
    running = false;
    aborter.abort();
    const l = listener;
    listener = undefined;
    await l?.stop();
  }

  return {
    start,
    stop,
    update,
    serial: () => answers?.serial,
    query: async (msg, transport) => handle(msg, transport),
  };
}
