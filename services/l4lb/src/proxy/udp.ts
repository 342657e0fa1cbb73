/**
 * The UDP half of the userspace data plane. A VIP socket is bound to `<vip>:<port>`; each client
 * address:port gets a session: its own socket connected to one backend chosen by weight (a
 * connected socket only receives from that backend). Replies are sent back from the VIP socket,
 * so the client sees them come from the address it asked. A session ends after `idleMs` without a
 * packet either way, or when the backend refuses (ICMP port unreachable); the next packet picks
 * again. At most `maxSessions` sessions exist per driver: a packet that would open one more is
 * dropped and counted, as is a packet for a VIP with no backend taking new sessions.
 *
 * Per packet: two map lookups (address string, then port number, both from Node's `rinfo`), no
 * allocation of ours; sends use a synchronous lookup (destinations are always IP literals).
 */
import * as dgram from "node:dgram";
import { isIPv6 } from "node:net";
import type { Logger } from "@dcnet/core";
import type { Endpoint } from "../dataplane";
import { pick } from "./balancer";
import type { Target } from "./tcp";

export interface UdpStats {
  /** Sessions open now. */
  sessions: number;
  /** Sessions opened. */
  opened: number;
  /** Sessions closed after the idle timeout. */
  expired: number;
  /** Packets dropped: no backend takes new sessions. */
  droppedNoBackend: number;
  /** Packets dropped: the session limit is reached. */
  droppedSessionLimit: number;
  /** Packets dropped while a session was still connecting and its queue was full. */
  droppedQueueFull: number;
  /** Session socket errors (a refusing backend ends its sessions). */
  sessionErrors: number;
  /** Sessions closed because their backend left the VIP (the client's next packet picks again). */
  backendGone: number;
  /** Errors on VIP sockets (failed sends back to clients; logged at most every 10 s per VIP). */
  vipSocketErrors: number;
}

/** dgram resolves every destination; ours are IP literals, so answer at once (no extra tick per packet). */
const literalLookup = (address: string, family: unknown, cb: (err: Error | null, address: string, family: number) => void): void =>
  cb(null, address, isIPv6(address) ? 6 : 4);

const typeOf = (ip: string): dgram.SocketType => (isIPv6(ip) ? "udp6" : "udp4");

/** Packets held per session until its socket is connected. */
const MAX_PENDING = 64;

const SESSION = Symbol("l4lb.udpSession");
type SessionSocket = dgram.Socket & { [SESSION]?: UdpSession };

class UdpSession {
  last: number;
  /** Packets waiting for the connect; undefined once connected. */
  pending: Buffer[] | undefined = [];
  closed = false;
  constructor(
    readonly listener: UdpListener,
    readonly address: string,
    readonly port: number,
    readonly backend: Endpoint,
    readonly socket: SessionSocket,
    now: number,
  ) {
    this.last = now;
  }
}

function onSessionConnect(this: SessionSocket): void {
  const s = this[SESSION]!;
  const pending = s.pending;
  s.pending = undefined;
  if (s.closed || pending === undefined) return;
  for (const m of pending) this.send(m);
}

function onSessionMessage(this: SessionSocket, msg: Buffer): void {
  const s = this[SESSION]!;
  s.last = Date.now();
  const l = s.listener;
  if (l.alive) l.socket.send(msg, s.port, s.address);
}

function onSessionError(this: SessionSocket, err: NodeJS.ErrnoException): void {
  const s = this[SESSION]!;
  const proxy = s.listener.proxy;
  proxy.stats.sessionErrors++;
  proxy.logger.debug({ vip: s.listener.target.name, backend: s.backend, err: err.code ?? err.message }, "udp session error");
  s.listener.closeSession(s);
}

/** One VIP socket and its sessions. */
export class UdpListener {
  /** Client address → client port → session. */
  readonly sessions = new Map<string, Map<number, UdpSession>>();
  alive = true;

  constructor(
    readonly proxy: UdpProxy,
    readonly target: Target,
    readonly socket: dgram.Socket,
  ) {}

  /** Whether the VIP socket is still open and bound. */
  get bound(): boolean {
    if (!this.alive) return false;
    try {
      this.socket.address();
      return true;
    } catch {
      return false;
    }
  }

  onMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const now = Date.now();
    let byPort = this.sessions.get(rinfo.address);
    let s = byPort?.get(rinfo.port);
    if (s === undefined) {
      const proxy = this.proxy;
      if (proxy.stats.sessions >= proxy.maxSessions) {
        proxy.stats.droppedSessionLimit++;
        return;
      }
      const ep = pick(this.target.slots);
      if (ep === undefined) {
        proxy.stats.droppedNoBackend++;
        return;
      }
      const sock = dgram.createSocket({ type: typeOf(ep.ip), lookup: literalLookup }) as SessionSocket;
      s = new UdpSession(this, rinfo.address, rinfo.port, ep, sock, now);
      sock[SESSION] = s;
      sock.on("message", onSessionMessage);
      sock.on("error", onSessionError);
      sock.connect(ep.port, ep.ip, onSessionConnect);
      if (byPort === undefined) {
        byPort = new Map();
        this.sessions.set(rinfo.address, byPort);
      }
      byPort.set(rinfo.port, s);
      proxy.stats.sessions++;
      proxy.stats.opened++;
    }
    s.last = now;
    const pending = s.pending;
    if (pending === undefined) s.socket.send(msg);
    else if (pending.length < MAX_PENDING) pending.push(msg);
    else this.proxy.stats.droppedQueueFull++;
  }

  closeSession(s: UdpSession): void {
    if (s.closed) return;
    s.closed = true;
    this.proxy.stats.sessions--;
    const byPort = this.sessions.get(s.address);
    if (byPort?.get(s.port) === s) {
      byPort.delete(s.port);
      if (byPort.size === 0) this.sessions.delete(s.address);
    }
    try {
      s.socket.close();
    } catch {
      // already closed
    }
  }

  /**
   * Closes the sessions whose backend is not in `backends` (`ip|port`, see udp-flows.ts): it left
   * the VIP, and a client that keeps sending would otherwise stay on it. Drained (weight 0)
   * backends are still listed: their sessions stay. Returns how many were closed.
   */
  dropGone(backends: ReadonlySet<string>): number {
    let n = 0;
    for (const byPort of [...this.sessions.values()]) {
      for (const s of [...byPort.values()]) {
        if (backends.has(`${s.backend.ip}|${s.backend.port}`)) continue;
        this.closeSession(s);
        n++;
      }
    }
    this.proxy.stats.backendGone += n;
    return n;
  }

  /** Closes sessions idle since before `cutoff`; returns how many. */
  expire(cutoff: number): number {
    let n = 0;
    for (const byPort of [...this.sessions.values()]) {
      for (const s of [...byPort.values()]) {
        if (s.last < cutoff) {
          this.closeSession(s);
          n++;
        }
      }
    }
    return n;
  }

  /** Closes the VIP socket and all its sessions. */
  close(): void {
    for (const byPort of [...this.sessions.values()]) for (const s of [...byPort.values()]) this.closeSession(s);
    if (this.alive) {
      this.alive = false;
      this.proxy.listeners.delete(this);
      try {
        this.socket.close();
      } catch {
        // already closed
      }
    }
  }
}

/** Sessions, counters and the idle sweep shared by all UDP listeners of one driver. */
export class UdpProxy {
  readonly stats: UdpStats = {
    sessions: 0,
    opened: 0,
    expired: 0,
    droppedNoBackend: 0,
    droppedSessionLimit: 0,
    droppedQueueFull: 0,
    sessionErrors: 0,
    backendGone: 0,
    vipSocketErrors: 0,
  };
  readonly listeners = new Set<UdpListener>();
  private readonly sweep: NodeJS.Timeout;

  constructor(
    readonly logger: Logger,
    readonly idleMs: number,
    readonly maxSessions: number,
  ) {
    this.sweep = setInterval(() => this.expire(), Math.min(1000, Math.max(10, Math.floor(idleMs / 4))));
    this.sweep.unref();
  }

  /** A VIP socket for `target` bound to host:port; rejects with the bind error. */
  async listen(host: string, port: number, target: Target): Promise<UdpListener> {
    const socket = dgram.createSocket({ type: typeOf(host), lookup: literalLookup });
    await new Promise<void>((resolve, reject) => {
      const fail = (err: Error): void => {
        try {
          socket.close();
        } catch {
          // never bound
        }
        reject(err);
      };
      socket.once("error", fail);
      socket.bind({ address: host, port, exclusive: true }, () => {
        socket.off("error", fail);
        resolve();
      });
    });
    const l = new UdpListener(this, target, socket);
    this.listeners.add(l);
    socket.on("message", (msg, rinfo) => l.onMessage(msg, rinfo));
    let lastWarn = 0;
    socket.on("error", (err: NodeJS.ErrnoException) => {
      this.stats.vipSocketErrors++;
      if (Date.now() - lastWarn < 10_000) return;
      lastWarn = Date.now();
      this.logger.warn({ vip: target.name, err: err.code ?? err.message, total: this.stats.vipSocketErrors }, "udp listener error");
    });
    socket.on("close", () => {
      if (l.alive) l.close();
    });
    return l;
  }

  expire(now = Date.now()): number {
    const cutoff = now - this.idleMs;
    let n = 0;
    for (const l of this.listeners) n += l.expire(cutoff);
    this.stats.expired += n;
    return n;
  }

  /** Closes every VIP socket and session and stops the sweep. */
  close(): void {
    clearInterval(this.sweep);
    for (const l of [...this.listeners]) l.close();
  }
}
