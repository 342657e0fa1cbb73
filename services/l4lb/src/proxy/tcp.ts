/**
 * The TCP half of the userspace data plane: a listener per VIP that accepts, picks a backend by
 * weight, dials it (with a timeout, one retry on another backend) and then copies bytes both ways.
 *
 * Copying: by default below Node's streams (raw-copy.ts: the handles read into a callback that
 * writes to the other handle; ~30% less CPU per chunk), else with stream events as follows.
 * Clients are accepted paused and a backend is paused in its `connect` handler, so nothing is read
 * before the copy starts (bytes a client sends early wait in the kernel).
 *
 * Hot path: every socket carries one symbol property pointing to its {@link Conn}; the event
 * handlers are module-level functions that find their peer through it (`this` is the emitting
 * socket), so a connection costs one small object and no closures. Chunks are written on as Node
 * read them (no copies), a full write buffer pauses the other side until `drain` (backpressure),
 * and an `end` is passed on as `end()` (half-close; both sockets have `allowHalfOpen`). An error
 * on either side resets the other. The connect timeout is a sweep over the sockets still dialing,
 * not a timer per connection.
 */
import * as net from "node:net";
import { invalidArgument, type Logger } from "@dcnet/core";
import type { Endpoint } from "../dataplane";
import { pick, pickOther } from "./balancer";
import { rawCopyAvailable, releaseRawCopy, startRawCopy } from "./raw-copy";

/**
 * `raw`: below Node's streams where this Node allows it (else `stream`), each socket reading into a
 * 16 KiB buffer of its own; `raw-alloc`: the same with a buffer allocated per read (no memory held
 * per idle connection, ~8 % more CPU per request); `stream`: data events and writes.
 */
export type TcpCopy = "raw" | "raw-alloc" | "stream";

/** What a listener balances over; `slots` is replaced in place when weights or backends change. */
export interface Target {
  /** For logs: `tcp 127.11.0.1 80`. */
  readonly name: string;
  slots: Endpoint[];
}

export interface TcpStats {
  /** Connections accepted. */
  accepted: number;
  /** Accepted and reset at once because no backend takes new connections. */
  rejected: number;
  /** Backend dials that failed or timed out. */
  connectFailures: number;
  /** Dials retried on another backend. */
  failovers: number;
  /** Client connections reset because no backend could be reached. */
  failed: number;
  /** Client connections open now. */
  active: number;
  /** Errors on listening sockets (accept failures such as EMFILE; logged at most every 10 s per VIP). */
  acceptErrors: number;
}

const CONN = Symbol("l4lb.conn");
type Sock = net.Socket & { [CONN]?: Conn };

class Conn {
  upstream: Sock | undefined = undefined;
  endpoint: Endpoint | undefined = undefined;
  connected = false;
  retried = false;
  /** {@link TcpProxy.now} when the current dial began. */
  dialStarted = 0;
  constructor(
    readonly proxy: TcpProxy,
    readonly target: Target,
    readonly client: Sock,
  ) {}
}

const connOf = (s: Sock): Conn => s[CONN]!;

/** Resets (RST) a socket that is still open; a socket still dialing is just destroyed. */
function abort(s: net.Socket | undefined): void {
  if (s === undefined || s.destroyed) return;
  if (s.connecting) s.destroy();
  else s.resetAndDestroy();
}

// ---- data phase (this = the socket that emitted) ----

function onClientData(this: Sock, chunk: Buffer): void {
  if (!connOf(this).upstream!.write(chunk)) this.pause();
}
function onUpstreamData(this: Sock, chunk: Buffer): void {
  if (!connOf(this).client.write(chunk)) this.pause();
}
function onClientDrain(this: Sock): void {
  connOf(this).upstream!.resume();
}
function onUpstreamDrain(this: Sock): void {
  connOf(this).client.resume();
}
/**
 * Passes a FIN on to `peer`: `end()` (shutdown), or a plain close when the peer has sent its own
 * FIN already and has nothing left to write — the usual last step of a connection, one syscall
 * (and one FIN-to-a-closed-socket round) less.
 */
function passEnd(peer: Sock): void {
  if (peer.readableEnded && peer.writableLength === 0) peer.destroy();
  else peer.end();
}
function onClientEnd(this: Sock): void {
  passEnd(connOf(this).upstream!);
}
function onUpstreamEnd(this: Sock): void {
  passEnd(connOf(this).client);
}
function onClientError(this: Sock): void {
  abort(connOf(this).upstream);
}
function onClientClose(this: Sock): void {
  releaseRawCopy(this);
  const c = connOf(this);
  c.proxy.sockets.delete(this);
  c.proxy.stats.active--;
}
function onUpstreamClose(this: Sock): void {
  releaseRawCopy(this);
  const proxy = connOf(this).proxy;
  proxy.sockets.delete(this);
  proxy.dialing.delete(this);
}

// ---- dial phase ----

function onUpstreamConnect(this: Sock): void {
  const c = connOf(this);
  c.connected = true;
  c.proxy.dialing.delete(this);
  const client = c.client;
  if (client.destroyed) {
    this.destroy();
    return;
  }
  if (c.proxy.raw) {
    this.pause(); // before net's first read after `connect`
    if (startRawCopy(client, this, { readBuffer: c.proxy.readBuffer })) return;
    this.resume();
  }
  client.on("data", onClientData);
  client.on("drain", onClientDrain);
  client.on("end", onClientEnd);
  this.on("data", onUpstreamData);
  this.on("drain", onUpstreamDrain);
  this.on("end", onUpstreamEnd);
  client.resume();
}

function onUpstreamError(this: Sock, err: NodeJS.ErrnoException): void {
  const c = connOf(this);
  if (c.connected) {
    abort(c.client);
    return;
  }
  // The dial failed: try one other backend, then give up on the client.
  const proxy = c.proxy;
  proxy.dialing.delete(this);
  proxy.stats.connectFailures++;
  proxy.logger.debug({ vip: c.target.name, backend: c.endpoint, err: err.code ?? err.message }, "backend connect failed");
  if (c.client.destroyed) return;
  const next = c.retried ? undefined : pickOther(c.target.slots, c.endpoint!);
  if (next !== undefined) {
    c.retried = true;
    proxy.stats.failovers++;
    dial(c, next);
    return;
  }
  proxy.stats.failed++;
  abort(c.client);
}

function dial(c: Conn, ep: Endpoint): void {
  const proxy = c.proxy;
  const up = net.connect({ host: ep.ip, port: ep.port, allowHalfOpen: true, noDelay: true }) as Sock;
  up[CONN] = c;
  c.upstream = up;
  c.endpoint = ep;
  c.dialStarted = proxy.now;
  proxy.sockets.add(up);
  proxy.dialing.add(up);
  up.on("error", onUpstreamError);
  up.on("close", onUpstreamClose);
  up.on("connect", onUpstreamConnect);
}

/** Connections and counters shared by all TCP listeners of one driver. */
export class TcpProxy {
  readonly stats: TcpStats = { accepted: 0, rejected: 0, connectFailures: 0, failovers: 0, failed: 0, active: 0, acceptErrors: 0 };
  /** Every proxied socket (client and backend side) still open. */
  readonly sockets = new Set<net.Socket>();
  /** Backend sockets still connecting (a sweep enforces the connect timeout: no timer per connection). */
  readonly dialing = new Set<net.Socket>();
  /** Date.now() as of the last sweep: a coarse clock, so a dial needs no clock read of its own. */
  now = Date.now();
  /** Copy below Node's streams (see {@link TcpCopy}). */
  readonly raw: boolean;
  /** With a read buffer per socket (`raw`), not one per read (`raw-alloc`). */
  readonly readBuffer: boolean;
  private readonly sweep: NodeJS.Timeout;

  constructor(
    readonly logger: Logger,
    readonly connectTimeoutMs: number,
    copy: TcpCopy = "raw",
  ) {
    if (copy !== "raw" && copy !== "raw-alloc" && copy !== "stream")
      throw invalidArgument("tcpCopy", `"${String(copy)}" is not raw, raw-alloc or stream`);
    this.raw = copy !== "stream" && rawCopyAvailable();
    this.readBuffer = copy === "raw";
    const tick = Math.max(5, Math.min(250, Math.floor(connectTimeoutMs / 10)));
    this.sweep = setInterval(() => this.expireDials(), tick);
    this.sweep.unref();
  }

  /** Fails the dials older than the connect timeout (to within two sweep periods). */
  private expireDials(): void {
    this.now = Date.now();
    if (this.dialing.size === 0) return;
    const cutoff = this.now - this.connectTimeoutMs;
    for (const s of this.dialing) {
      if (connOf(s as Sock).dialStarted < cutoff && s.connecting) {
        this.dialing.delete(s);
        s.destroy(Object.assign(new Error("connect timed out"), { code: "ETIMEDOUT" }));
      }
    }
  }

  accept(target: Target, socket: net.Socket): void {
    const client = socket as Sock;
    this.stats.accepted++;
    const ep = pick(target.slots);
    if (ep === undefined) {
      this.stats.rejected++;
      client.on("error", noop);
      client.resetAndDestroy();
      return;
    }
    const c = new Conn(this, target, client);
    client[CONN] = c;
    this.stats.active++;
    this.sockets.add(client);
    client.on("error", onClientError);
    client.on("close", onClientClose);
    dial(c, ep);
  }

  /** A listening server for `target` on host:port; rejects with the bind error (EADDRINUSE, EADDRNOTAVAIL…). */
  async listen(host: string, port: number, target: Target): Promise<net.Server> {
    const server = net.createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: true }, (s) => this.accept(target, s));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ host, port, backlog: 1024, exclusive: true }, () => {
        server.off("error", reject);
        resolve();
      });
    });
    // After listening, errors are accept failures (EMFILE…): the server keeps listening.
    let lastWarn = 0;
    server.on("error", (err: NodeJS.ErrnoException) => {
      this.stats.acceptErrors++;
      if (Date.now() - lastWarn < 10_000) return;
      lastWarn = Date.now();
      this.logger.warn({ vip: target.name, err: err.code ?? err.message, total: this.stats.acceptErrors }, "tcp listener error");
    });
    return server;
  }

  /** Resets every proxied connection and stops the sweep. */
  close(): void {
    clearInterval(this.sweep);
    for (const s of [...this.sockets]) abort(s);
    this.sockets.clear();
  }
}

function noop(): void {}
