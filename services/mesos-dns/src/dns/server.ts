/**
 * The Mesos-DNS DNS server (spec §4): UDP and TCP on `listener:port`, the mux, the authoritative
 * handler (answers.ts), forwarding (forward.ts), truncation (truncate.ts).
 *
 * Records: the caller swaps record sets with `update(set, serial)`; each set is precomputed there.
 * Before the first set, queries for the Mesos domain get SERVFAIL (forwarding works). Callers that
 * want upstream's behaviour (ports closed until the first reload) call `start()` after `update()`.
 */
import { CellCounter, counter, histogram, labelledChild, type Logger, type Registry } from "@dcnet/core";
import * as dnsLib from "@dcnet/dns";
import type { DnsListener, ExchangeError, Query, SizePolicy, Transport, Upstream } from "@dcnet/dns";
import type { MesosDnsConfig, RecordSet } from "../model";
import { AnswerSet, zoneSettings } from "./answers";
import { type Route, ZoneRouter, forward } from "./forward";

// Bound once at load: every use of a name imported from @dcnet/dns goes through the getter its
// `export *` re-export compiles to (one shared, megamorphic getter: ~20% of the query path).
const {
  DEFAULT_EDNS_UDP_SIZE,
  PARSE_MALFORMED,
  PARSE_OK,
  QueryScratch,
  RCODE_BADVERS,
  RCODE_FORMERR,
  RCODE_NOERROR,
  RCODE_REFUSED,
  RCODE_SERVFAIL,
  TYPE_A,
  TYPE_DS,
  authoritativeLimit,
  createDnsListener,
  errorReply,
  headerOnly,
  optRecord,
  parseQueryInto,
  registerUdpDropsMetric,
  rcodeName,
  relayLimit,
  truncateRelayed,
} = dnsLib;

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

/** Names precomputed between two clock checks after a swap (~12 µs each). */
const PREWARM_SLICE = 32;
/** Precompute for at most this long per event-loop turn, so queries wait at most about this long. */
const PREWARM_TURN_MS = 2;

/** Query counter cells: zone kind (mesos, forwarded) × rcode 0–16 (16 = BADVERS) × transport (udp, tcp). */
const RCODES = RCODE_BADVERS + 1;
const MESOS = 0;
const FORWARDED = 1;
const KINDS = ["mesos", "forwarded"] as const;
/** Dropped counter cells, indexed by parse status - 1 (PARSE_SHORT, PARSE_RESPONSE, PARSE_MALFORMED). */
const DROP_REASONS = ["short", "response", "malformed"] as const;

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
  const fwdChild = labelledChild(fwdDuration);
  const queryCells = new CellCounter(queries, KINDS.length * RCODES * 2, (cell) => ({
    zone: KINDS[Math.floor(cell / (RCODES * 2))]!,
    rcode: rcodeName((cell >> 1) % RCODES),
    transport: cell & 1 ? "tcp" : "udp",
  }));
  const droppedCells = new CellCounter(dropped, DROP_REASONS.length, (cell) => ({ reason: DROP_REASONS[cell]! }));
  const truncatedCells = new CellCounter(truncatedC, KINDS.length, (cell) => ({ zone: KINDS[cell]! }));
  const countQuery = (kind: typeof MESOS | typeof FORWARDED, rcode: number, transport: Transport) => {
    if (rcode >= 0 && rcode < RCODES) queryCells.inc((kind * RCODES + rcode) * 2 + (transport === "udp" ? 0 : 1));
    else queries.inc({ zone: KINDS[kind], rcode: rcodeName(rcode), transport });
  };
  /** Whether the router sends `name` (lower-cased, absolute) to the Mesos zone: only those may take the fast path. */
  const routedHere = (name: string) => router.route(name, TYPE_A).kind === "mesos";

  let answers: AnswerSet | undefined;
  let running = false;
  let listener: DnsListener | undefined;
  let aborter = new AbortController();
  registerUdpDropsMetric(registry, "mesos_dns_dns_udp_dropped_total", () => (listener ? [listener] : []));

  function update(set: RecordSet, serial: number): void {
    const t0 = process.hrtime.bigint();
    const next = AnswerSet.build(set, serial, zone, routedHere, answers);
    answers = next;
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    log.debug({ serial, names: next.size, ms: Math.round(ms * 10) / 10 }, "DNS record set swapped in");
    prewarm(next, t0);
  }

  /** Precomputes every name of `set`, at most PREWARM_TURN_MS per event-loop turn (queries build on demand meanwhile). */
  function prewarm(set: AnswerSet, t0: bigint): void {
    const step = () => {
      if (answers !== set) return;
      const until = performance.now() + PREWARM_TURN_MS;
      let done = false;
      while (!(done = set.prewarm(PREWARM_SLICE)) && performance.now() < until);
      if (!done) {
        setImmediate(step).unref();
        return;
      }
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      log.debug({ serial: set.serial, names: set.size, reused: set.reused, ms: Math.round(ms) }, "DNS answers precomputed");
      if (set.skipped > 0)
        log.warn(
          { serial: set.serial, skipped: set.skipped },
          "record values that cannot be served (not an IP, or a name label over 63 bytes)",
        );
    };
    setImmediate(step).unref();
  }

  /** Reused by every query: handle() is synchronous up to the point where a forwarded query takes a snapshot. */
  const q = new QueryScratch();

  /**
   * Handles one message: a reply, null (drop), or — for forwarded queries — a promise of a reply
   * that never rejects. Synchronous on the authoritative path, and without allocating besides the
   * reply for plain names of the served set (no strings, no result objects, no closures).
   */
  function handle(msg: Buffer, transport: Transport): Buffer | null | Promise<Buffer> {
    const status = parseQueryInto(msg, q);
    if (status !== PARSE_OK) {
      droppedCells.inc(status - 1);
      return status === PARSE_MALFORMED ? headerOnly(q.id, RCODE_FORMERR) : null;
    }
    const opt = policy.honourEdns && q.edns !== null ? ourOpt : null;
    if (!q.hasQuestion) {
      countQuery(FORWARDED, RCODE_SERVFAIL, transport);
      return errorReply(msg, q, RCODE_SERVFAIL, opt);
    }
    const set = answers;
    // Fast path: a name of the served set (found by its wire bytes), not DS, no BADVERS.
    if (set !== undefined && q.qtype !== TYPE_DS && (opt === null || q.edns!.version === 0)) {
      let buf: Buffer | null;
      try {
        buf = set.respondFast(msg, q, authoritativeLimit(transport, q.edns, policy), opt);
      } catch (err) {
        return failed(err, msg, q, transport, opt);
      }
      if (buf !== null) {
        countQuery(MESOS, set.rcode, transport);
        if (set.truncated) truncatedCells.inc(MESOS);
        return buf;
      }
    }
    const route = router.route(q.name, q.qtype);
    if (route.kind === "mesos") return authoritative(msg, q, transport, opt);
    if (route.kind === "refused") {
      countQuery(FORWARDED, RCODE_REFUSED, transport);
      return errorReply(msg, q, RCODE_REFUSED, opt);
    }
    const held = q.snapshot();
    return relay(msg, held, transport, route, opt).catch((err: unknown) => {
      log.error({ err }, "forwarding failed unexpectedly");
      return errorReply(msg, held, RCODE_SERVFAIL, opt);
    });
  }

  function authoritative(msg: Buffer, q: Query, transport: Transport, opt: Buffer | null): Buffer {
    if (opt !== null && q.edns!.version > 0) {
      countQuery(MESOS, RCODE_BADVERS, transport);
      return errorReply(msg, q, RCODE_NOERROR, badVers);
    }
    const set = answers;
    if (!set) {
      countQuery(MESOS, RCODE_SERVFAIL, transport);
      return errorReply(msg, q, RCODE_SERVFAIL, opt);
    }
    try {
      const buf = set.respond(msg, q, authoritativeLimit(transport, q.edns, policy), opt);
      countQuery(MESOS, set.rcode, transport);
      if (set.truncated) truncatedCells.inc(MESOS);
      return buf;
    } catch (err) {
      return failed(err, msg, q, transport, opt);
    }
  }

  /** §4.7: a panic inside a handler → SERVFAIL. */
  function failed(err: unknown, msg: Buffer, q: Query, transport: Transport, opt: Buffer | null): Buffer {
    log.error({ err, name: q.name, qtype: q.qtype }, "authoritative handler failed");
    countQuery(MESOS, RCODE_SERVFAIL, transport);
    return errorReply(msg, q, RCODE_SERVFAIL, opt);
  }

  async function relay(
    msg: Buffer,
    q: Query,
    transport: Transport,
    route: Extract<Route, { kind: "forward" }>,
    opt: Buffer | null,
  ): Promise<Buffer> {
    const end = fwdChild(transport).startTimer();
    const onFailure = (up: Upstream, err: ExchangeError) => {
      fwdFailures.labels(up.label, transport, err.reason).inc();
      log.debug({ resolver: up.label, zone: route.zone, name: q.name, err: err.message }, "upstream exchange failed");
    };
    const res = await forward(msg, route.upstreams, transport, timeoutMs, onFailure, aborter.signal);
    end();
    if (!res) {
      countQuery(FORWARDED, RCODE_SERVFAIL, transport);
      return errorReply(msg, q, RCODE_SERVFAIL, opt);
    }
    const limit = relayLimit(transport, q.edns, res.reply, res.layout, policy);
    const out = truncateRelayed(res.reply, res.layout, limit, zone.setTruncateBit, policy.honourEdns);
    if (out.truncated) truncatedCells.inc(FORWARDED);
    countQuery(FORWARDED, out.buf[3]! & 0x0f, transport);
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
