/**
 * A DNS listener: one UDP socket and one TCP server on `host:port`, handing each message to a
 * handler and writing back what it returns. Knows nothing about zones: mesos-dns and dcos-dns plug
 * their own handler in.
 *
 * - UDP: the reply goes back from the bound address (one socket per bound IP) to the sender.
 * - TCP: 2-byte length framing, many queries per connection, answered as they complete (possibly
 *   out of order, RFC 7766 §6.2.1.1), reads paused while `maxTcpInFlight` are pending or while
 *   replies the client does not read fill the socket's buffer (so a client that only sends cannot
 *   grow our memory), closed after `tcpIdleTimeoutMs` idle, at most `maxTcpConnections` at once.
 * - The handler returns a reply, null (drop), or a promise of either; synchronous replies are sent
 *   without a promise or closure on the hot path.
 */
import * as dgram from "node:dgram";
import { lookup as resolveHost } from "node:dns/promises";
import * as net from "node:net";
import type { Logger } from "@dcnet/core";
import { batchUdpUnavailable, openBatchUdp, type BatchUdpSocket, type BatchUdpStats } from "./batch-udp";
import { openRawUdp } from "./raw-udp";
import type { Transport } from "./truncate";

export type UdpPath = "batch" | "raw" | "dgram";
export const UDP_PATHS: readonly UdpPath[] = ["batch", "raw", "dgram"];

export type DnsHandler = (msg: Buffer, transport: Transport) => Buffer | null | Promise<Buffer | null>;

export interface DnsListenerOptions {
  host: string;
  /** 0 = ephemeral (UDP and TCP chosen independently). */
  port: number;
  handle: DnsHandler;
  logger: Logger;
  /** Close a TCP connection idle this long (default 8000 ms). */
  tcpIdleTimeoutMs?: number;
  /** Refuse TCP connections beyond this many (default 1000). */
  maxTcpConnections?: number;
  /** Queries in flight per TCP connection before we stop reading from it (default 64). */
  maxTcpInFlight?: number;
  /** SO_RCVBUF for the UDP socket (default 4 MiB; the kernel caps it at net.core.rmem_max). */
  udpRecvBufferBytes?: number;
  /** Serve UDP (default true). */
  udp?: boolean;
  /**
   * How UDP is received and sent, fastest first (each falls back to the next when unavailable):
   * - `batch`: recvmmsg/sendmmsg through the native module (batch-udp.ts), no garbage per datagram;
   * - `raw`: Node's udp_wrap handle below node:dgram (raw-udp.ts, ~10% less CPU than dgram);
   * - `dgram`: node:dgram.
   * Default: `DCNET_DNS_UDP` from the environment when it names one of these (an operator's switch
   * without a config change), else `batch`.
   */
  udpPath?: UdpPath;
  /** Datagrams per recvmmsg on the `batch` path (default 64). */
  udpBatch?: number;
  /** Serve TCP (default true). */
  tcp?: boolean;
}

export interface DnsListener {
  /** Binds; resolves with the bound ports (0 for a transport that is off). */
  start(): Promise<{ udp: number; tcp: number }>;
  /** The UDP path in use once started (after fallbacks), undefined before or without UDP. */
  udpPath(): UdpPath | undefined;
  /** The batched path's counters since start, drops included (undefined on the other paths, which drop nothing themselves). */
  udpDrops(): BatchUdpStats | undefined;
  /** Closes the sockets and drops TCP connections; replies still pending are discarded. */
  stop(): Promise<void>;
}

export function createDnsListener(opts: DnsListenerOptions): DnsListener {
  const { handle, logger: log } = opts;
  const idleMs = opts.tcpIdleTimeoutMs ?? 8000;
  const maxInFlight = opts.maxTcpInFlight ?? 64;
  let running = false;
  let path: UdpPath | undefined;
  let udp: UdpSide | undefined;
  let batchSide: BatchUdpSocket | null = null;
  let tcp: net.Server | undefined;
  const conns = new Set<net.Socket>();

  /** The handler's answer to a UDP query (null after a throw, logged); the batched path sends it itself. */
  function answerUdp(msg: Buffer): Buffer | null | Promise<Buffer | null> {
    try {
      return handle(msg, "udp");
    } catch (err) {
      log.error({ err }, "DNS handler failed");
      return null;
    }
  }

  function onUdp(sock: SendingSide, msg: Buffer, port: number, address: string): void {
    const r = answerUdp(msg);
    if (r === null) return;
    if (r instanceof Promise) {
      void r.then(
        (reply) => {
          if (reply !== null && running) sock.send(reply, port, address);
        },
        (err: unknown) => log.error({ err }, "DNS handler failed"),
      );
    } else sock.send(r, port, address);
  }

  function onTcp(sock: net.Socket): void {
    conns.add(sock);
    let buf: Buffer | null = null;
    let inFlight = 0;
    let ended = false;
    /** Replies the client has not read fill the socket's buffer: stop reading queries until it drains. */
    let blocked = false;
    sock.setNoDelay(true);
    sock.setTimeout(idleMs, () => sock.destroy());
    const maybeEnd = () => {
      if (ended && inFlight === 0 && !sock.destroyed) sock.end();
    };
    const done = (reply: Buffer | null) => {
      inFlight--;
      if (reply !== null && running && !sock.destroyed) {
        const framed = Buffer.allocUnsafe(reply.length + 2);
        framed.writeUInt16BE(reply.length, 0);
        reply.copy(framed, 2);
        if (!sock.write(framed) && !blocked) {
          blocked = true;
          sock.pause();
          sock.once("drain", () => {
            blocked = false;
            sock.resume();
            drain();
          });
        }
      }
      if (!blocked && sock.isPaused() && inFlight < maxInFlight) {
        sock.resume();
        drain();
      }
      maybeEnd();
    };
    const failed = (err: unknown) => {
      log.error({ err }, "DNS handler failed");
      done(null);
    };
    const drain = () => {
      while (buf !== null && buf.length >= 2) {
        if (inFlight >= maxInFlight || blocked) {
          sock.pause();
          return;
        }
        const n = buf.readUInt16BE(0);
        if (buf.length < n + 2) break;
        const frame = buf.subarray(2, n + 2);
        buf = buf.length === n + 2 ? null : buf.subarray(n + 2);
        inFlight++;
        let r: Buffer | null | Promise<Buffer | null>;
        try {
          r = handle(frame, "tcp");
        } catch (err) {
          failed(err);
          continue;
        }
        if (r instanceof Promise) void r.then(done, failed);
        else done(r);
      }
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
    if (running) throw new Error("DNS listener already started");
    const host = opts.host;
    let u: UdpSide | undefined;
    let t: net.Server | undefined;
    if (opts.udp !== false) {
      const v6 = net.isIP(host) === 6;
      // Replies go to rinfo.address, an IP literal: resolve a host name to bind once, here.
      const bindAddress = net.isIP(host) !== 0 ? host : (await resolveHost(host, { family: 4 })).address;
      const recvBufferBytes = opts.udpRecvBufferBytes ?? 4 << 20;
      const onError = (err: Error): void => log.debug({ err: err.message }, "DNS UDP socket error");
      // A datagram can only arrive once the socket exists, so the reply side is set by then.
      const box: { side: SendingSide | null } = { side: null };
      const onMessage = (m: Buffer, p: number, a: string): void => onUdp(box.side!, m, p, a);
      const want = opts.udpPath ?? envUdpPath(log);
      let side: UdpSide | null = null;
      if (want === "batch") {
        batchSide = openBatchUdp({
          address: bindAddress,
          port: opts.port,
          v6,
          recvBufferBytes,
          batch: opts.udpBatch,
          answer: answerUdp,
          onHandlerError: (err) => log.error({ err }, "DNS handler failed"),
          onError,
        });
        if (batchSide !== null) [side, path] = [batchSide, "batch"];
        else if (!toldUnavailable) {
          toldUnavailable = true; // once per process, not per listener
          log.info({ reason: batchUdpUnavailable() }, "DNS UDP: the batched path is unavailable, using udp_wrap");
        }
      }
      if (side === null && want !== "dgram") {
        box.side = openRawUdp({ address: bindAddress, port: opts.port, v6, recvBufferBytes, onError, onMessage });
        if (box.side !== null) [side, path] = [box.side, "raw"];
      }
      if (side === null) {
        side = box.side = await dgramSide(v6, bindAddress, opts.port, recvBufferBytes, onMessage, log);
        path = "dgram";
      }
      u = side;
    }
    if (opts.tcp !== false) {
      const s = net.createServer({ allowHalfOpen: true, noDelay: true }, onTcp);
      s.maxConnections = opts.maxTcpConnections ?? 1000;
      s.on("error", (err) => log.warn({ err: err.message }, "DNS TCP server error"));
      try {
        await new Promise<void>((resolve, reject) => {
          s.once("error", reject);
          s.listen(opts.port, host, () => {
            s.off("error", reject);
            resolve();
          });
        });
      } catch (err) {
        await u?.close();
        throw err;
      }
      t = s;
    }
    udp = u;
    tcp = t;
    running = true;
    const tAddr = t?.address();
    return { udp: u ? u.port : 0, tcp: typeof tAddr === "object" && tAddr ? tAddr.port : 0 };
  }

  async function stop(): Promise<void> {
    if (!running) return;
    running = false;
    const u = udp;
    const t = tcp;
    udp = undefined;
    tcp = undefined;
    for (const c of conns) c.destroy();
    conns.clear();
    await Promise.all([u ? u.close() : Promise.resolve(), new Promise<void>((resolve) => (t ? t.close(() => resolve()) : resolve()))]);
  }

  return {
    start,
    stop,
    udpPath: () => (running && udp ? path : undefined),
    udpDrops: () => batchSide?.stats(),
  };
}

let warnedEnv = false;
let toldUnavailable = false;

function envUdpPath(log: Logger): UdpPath {
  const v = process.env["DCNET_DNS_UDP"];
  if (v === undefined || v === "") return "batch";
  if ((UDP_PATHS as readonly string[]).includes(v)) return v as UdpPath;
  if (!warnedEnv) {
    warnedEnv = true;
    log.warn({ DCNET_DNS_UDP: v, expected: UDP_PATHS }, "DCNET_DNS_UDP names no UDP path; using batch");
  }
  return "batch";
}

/** The UDP socket of a listener: batched (batch-udp.ts, which sends its own replies), raw or dgram. */
interface UdpSide {
  readonly port: number;
  close(): Promise<void>;
}

/** A raw (raw-udp.ts) or dgram socket: the listener sends the replies. */
interface SendingSide extends UdpSide {
  send(buf: Buffer, port: number, address: string): void;
}

async function dgramSide(
  v6: boolean,
  address: string,
  port: number,
  recvBufferBytes: number,
  onMessage: (msg: Buffer, port: number, address: string) => void,
  log: Logger,
): Promise<SendingSide> {
  const lookup = v6 ? literalLookup6 : literalLookup4;
  const s = dgram.createSocket({ type: v6 ? "udp6" : "udp4", lookup, recvBufferSize: recvBufferBytes });
  s.on("message", (msg, rinfo) => onMessage(msg, rinfo.port, rinfo.address));
  s.on("error", (err) => log.warn({ err: err.message }, "DNS UDP socket error"));
  await new Promise<void>((resolve, reject) => {
    s.once("error", reject);
    s.bind(port, address, () => {
      s.off("error", reject);
      resolve();
    });
  });
  return {
    port: s.address().port,
    send: (buf, p, a) => s.send(buf, p, a),
    close: () => new Promise<void>((resolve) => s.close(() => resolve())),
  };
}

/**
 * dgram resolves the destination of every `send` through `lookup`; the default defers each send by
 * a tick even for IP literals. The listener only ever sends to `rinfo.address` of a datagram received
 * on the same socket, which is an IP literal of the socket's family, so the lookup passes it through
 * without parsing it (dgram ignores the family it is given back).
 */
function literalLookup4(address: string, _family: unknown, cb: (err: Error | null, address: string, family: number) => void): void {
  cb(null, address, 4);
}

function literalLookup6(address: string, _family: unknown, cb: (err: Error | null, address: string, family: number) => void): void {
  cb(null, address, 6);
}
