/**
 * The Mesos-DNS DNS server (spec §4): UDP and TCP on `listener:port`, the mux, the authoritative
 * handler (answers.ts), forwarding (forward.ts), truncation (truncate.ts).
 *
 * Records: the caller swaps record sets with `update(set, serial)`; each set is precomputed there.
 * Before the first set, queries for the Mesos domain get SERVFAIL (forwarding works). Callers that
 * want upstream's behaviour (ports closed until the first reload) call `start()` after `update()`.
 */
import * as dgram from "node:dgram";
import * as dns from "node:dns";
import * as net from "node:net";
import { counter, histogram, type Logger, type Registry } from "@dcnet/core";
import type { MesosDnsConfig, RecordSet } from "../model";
import { AnswerSet, zoneSettings } from "./answers";
import { type Route, type Upstream, ExchangeError, ZoneRouter, forward } from "./forward";
import { type SizePolicy, type Transport, DEFAULT_EDNS_UDP_SIZE, authoritativeLimit, relayLimit, truncateRelayed } from "./truncate";
import {
  type Query,
  RCODE_FORMERR,
  RCODE_NOERROR,
  RCODE_REFUSED,
  RCODE_SERVFAIL,
  errorReply,
  headerOnly,
  optRecord,
  parseQuery,
  rcodeName,
} from "./wire";

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
  const idleMs = opts.tcpIdleTimeoutMs ?? 8000;
  const maxInFlight = opts.maxTcpInFlight ?? 64;
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
  let udp: dgram.Socket | undefined;
  let tcp: net.Server | undefined;
  const conns = new Set<net.Socket>();
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

  function onUdp(sock: dgram.Socket, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const r = handle(msg, "udp");
    if (r === null) return;
    if (r instanceof Promise) {
      void r.then((reply) => {
        if (running) sock.send(reply, rinfo.port, rinfo.address);
      });
    } else sock.send(r, rinfo.port, rinfo.address);
  }

  function onTcp(sock: net.Socket): void {
    conns.add(sock);
    let buf: Buffer | null = null;
    let inFlight = 0;
    let ended = false;
    sock.setNoDelay(true);
    sock.setTimeout(idleMs, () => sock.destroy());
    const maybeEnd = () => {
      if (ended && inFlight === 0 && !sock.destroyed) sock.end();
    };
    const drain = () => {
      while (buf !== null && buf.length >= 2) {
        if (inFlight >= maxInFlight) {
          sock.pause();
          return;
        }
        const n = buf.readUInt16BE(0);
        if (buf.length < n + 2) break;
        const frame = buf.subarray(2, n + 2);
        buf = buf.length === n + 2 ? null : buf.subarray(n + 2);
        inFlight++;
        const r = handle(frame, "tcp");
        if (r instanceof Promise) void r.then(done);
        else done(r);
      }
    };
    const done = (reply: Buffer | null) => {
      inFlight--;
      if (reply !== null && running && !sock.destroyed) {
        const framed = Buffer.allocUnsafe(reply.length + 2);
        framed.writeUInt16BE(reply.length, 0);
        reply.copy(framed, 2);
        sock.write(framed);
      }
      if (sock.isPaused() && inFlight < maxInFlight) {
        sock.resume();
        drain();
      }
      maybeEnd();
    };
    sock.on("data", (chunk: Buffer) => {
      buf = buf === null ? chunk : Buffer.concat([buf, chunk]);
      drain();
    });
    sock.on("end", () => {
      ended = true;
      maybeEnd();
    });
    sock.on("error", (err) => {
      log.debug({ err: err.message }, "DNS TCP connection error");
      sock.destroy();
    });
    sock.on("close", () => conns.delete(sock));
  }

  async function start(): Promise<{ udp: number; tcp: number }> {
    if (running) throw new Error("DNS server already started");
    if (!answers && opts.records) {
      const r = opts.records();
      if (r) update(r.set, r.serial);
    }
    aborter = new AbortController();
    const host = config.listener;
    const family = net.isIP(host) === 6 ? "udp6" : "udp4";
    const u = dgram.createSocket({ type: family, lookup: fastLookup, recvBufferSize: opts.udpRecvBufferBytes ?? 4 << 20 });
    u.on("message", (msg, rinfo) => onUdp(u, msg, rinfo));
    u.on("error", (err) => log.warn({ err: err.message }, "DNS UDP socket error"));
    await new Promise<void>((resolve, reject) => {
      u.once("error", reject);
      u.bind(config.port, host, () => {
        u.off("error", reject);
        resolve();
      });
    });
    const t = net.createServer({ allowHalfOpen: true, noDelay: true }, onTcp);
    t.maxConnections = opts.maxTcpConnections ?? 1000;
    t.on("error", (err) => log.warn({ err: err.message }, "DNS TCP server error"));
    try {
      await new Promise<void>((resolve, reject) => {
        t.once("error", reject);
        t.listen(config.port, host, () => {
          t.off("error", reject);
          resolve();
        });
      });
    } catch (err) {
      u.close();
      throw err;
    }
    udp = u;
    tcp = t;
    running = true;
    const tAddr = t.address();
    return { udp: u.address().port, tcp: typeof tAddr === "object" && tAddr ? tAddr.port : config.port };
  }

  async function stop(): Promise<void> {
    if (!running) return;
    running = false;
    aborter.abort();
    const u = udp;
    const t = tcp;
    udp = undefined;
    tcp = undefined;
    for (const c of conns) c.destroy();
    conns.clear();
    await Promise.all([
      new Promise<void>((resolve) => (u ? u.close(() => resolve()) : resolve())),
      new Promise<void>((resolve) => (t ? t.close(() => resolve()) : resolve())),
    ]);
  }

  return {
    start,
    stop,
    update,
    serial: () => answers?.serial,
    query: async (msg, transport) => handle(msg, transport),
  };
}

/** dgram's default lookup defers every send by a tick even for IP literals; we only send to IPs. */
function fastLookup(address: string, family: unknown, cb: (err: Error | null, address: string, family: number) => void): void {
  const f = net.isIP(address);
  if (f !== 0) cb(null, address, f);
  else dns.lookup(address, family as number, cb as (err: NodeJS.ErrnoException | null, address: string, family: number) => void);
}
