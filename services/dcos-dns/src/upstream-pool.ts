/**
 * UDP exchanges with upstreams over a few long-lived connected sockets per upstream, instead of a
 * fresh socket per query (create + bind + connect + close cost more than the rest of a forward).
 *
 * Each query leaves with an ID of our own, unique among the socket's queries in flight, and the
 * reply gets the client's ID back before it is relayed. A reply is accepted only from the
 * connected upstream (the kernel filters), with an ID we are waiting for, carrying QR. Sockets are
 * replaced after `maxQueriesPerSocket` queries (default 10,000) so the source port keeps changing
 * over time, and the 16-bit ID space of one socket is never close to full.
 *
 * Timeouts: a query carries its deadline and one sweep per pool (every tenth of the shortest
 * timeout asked for, 5–100 ms) fails the overdue ones, instead of a timer set and cleared per
 * query (Node's timer list churn was a visible share of a forward's CPU). A query may so fail up
 * to one sweep interval late.
 */
import * as dgram from "node:dgram";
import { type Exchanged, type Upstream, ExchangeError, FLAG_QR, walkMessage } from "@dcnet/dns";

interface Pending {
  resolve: (r: Exchanged) => void;
  reject: (e: ExchangeError) => void;
  /** performance.now() after which the query fails. */
  deadline: number;
  timeoutMs: number;
  clientId: number;
}

class PooledSocket {
  readonly sock: dgram.Socket;
  readonly pending = new Map<number, Pending>();
  used = 0;
  private connected = false;
  private ready: Promise<void>;
  /** Fails queries waiting for the connect when the socket is closed before it completes. */
  private rejectReady: ((e: ExchangeError) => void) | undefined;
  private nextId = Math.floor(Math.random() * 0x10000);

  constructor(
    private readonly up: Upstream,
    private readonly onDead: (s: PooledSocket) => void,
  ) {
    this.sock = dgram.createSocket(up.family === 6 ? "udp6" : "udp4");
    this.sock.on("message", (msg) => this.onMessage(msg));
    this.sock.on("error", (err) => this.close(new ExchangeError("network", `${up.label}: ${err.message}`)));
    // A failed connect (EACCES, ENETUNREACH…) reaches this callback, not "error": the socket is
    // retired (the pool opens a fresh one for the next query) and its queries fail as "network".
    this.ready = new Promise((resolve, reject) => {
      this.rejectReady = reject;
      this.sock.connect(up.port, up.host, ((err?: Error) => {
        if (err) {
          const e = new ExchangeError("network", `${up.label}: connect: ${err.message}`);
          this.close(e);
          reject(e);
          return;
        }
        this.connected = true;
        resolve();
      }) as () => void);
    });
    this.ready.catch(() => undefined);
  }

  /** A free 16-bit ID (random start, then sequential skipping those in flight). */
  private id(): number {
    for (let i = 0; i < 0x10000; i++) {
      this.nextId = (this.nextId + 1) & 0xffff;
      if (!this.pending.has(this.nextId)) return this.nextId;
    }
    throw new ExchangeError("network", "no free query ID");
  }

  exchange(query: Buffer, timeoutMs: number): Promise<Exchanged> {
    // Connected (every query but the first few of a socket): no extra turn through `ready`.
    return this.connected ? this.send(query, timeoutMs) : this.ready.then(() => this.send(query, timeoutMs));
  }

  private send(query: Buffer, timeoutMs: number): Promise<Exchanged> {
    const id = this.id();
    this.used++;
    const out = Buffer.from(query);
    out[0] = id >> 8;
    out[1] = id & 0xff;
    return new Promise<Exchanged>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, deadline: performance.now() + timeoutMs, timeoutMs, clientId: (query[0]! << 8) | query[1]! });
      const failed = (err: Error) => {
        const p = this.pending.get(id);
        if (!p) return;
        this.pending.delete(id);
        p.reject(new ExchangeError("network", `${this.up.label}: ${err.message}`));
      };
      try {
        this.sock.send(out, (err) => {
          if (err) failed(err);
        });
      } catch (err) {
        // Closed under us (an error event retired the socket): fail this query now, not at its deadline.
        failed(err as Error);
      }
    });
  }

  /** Fails the queries whose deadline has passed. */
  expire(now: number): void {
    for (const [id, p] of this.pending) {
      if (p.deadline > now) continue;
      this.pending.delete(id);
      p.reject(new ExchangeError("timeout", `no reply from ${this.up.label} within ${p.timeoutMs} ms`));
    }
  }

  private onMessage(msg: Buffer): void {
    if (msg.length < 12 || !(msg[2]! & (FLAG_QR >> 8))) return;
    const id = (msg[0]! << 8) | msg[1]!;
    const p = this.pending.get(id);
    if (!p) return; // late (timed out) or not ours
    this.pending.delete(id);
    msg[0] = p.clientId >> 8;
    msg[1] = p.clientId & 0xff;
    const layout = walkMessage(msg);
    if (!layout) p.reject(new ExchangeError("invalid", `unparsable reply from ${this.up.label}`));
    else p.resolve({ reply: msg, layout });
  }

  /** Fails everything in flight (ICMP unreachable on a connected socket surfaces here). */
  fail(err: ExchangeError): void {
    for (const [, p] of this.pending) p.reject(err);
    this.pending.clear();
    this.onDead(this);
  }

  private closed = false;

  close(err = new ExchangeError("network", "closed")): void {
    if (this.closed) return;
    this.closed = true;
    this.rejectReady?.(err);
    this.fail(err);
    try {
      this.sock.close();
    } catch {
      /* already closed */
    }
  }
}

export class UdpUpstreamPool {
  private readonly pools = new Map<string, PooledSocket[]>();
  private rr = 0;
  private closed = false;
  /** Sockets retired but still waiting for replies (swept too). */
  private readonly retiring = new Set<PooledSocket>();
  private sweep: NodeJS.Timeout | undefined;
  private sweepMs = Infinity;

  constructor(private readonly opts: { socketsPerUpstream?: number; maxQueriesPerSocket?: number } = {}) {}

  exchange(query: Buffer, up: Upstream, timeoutMs: number): Promise<Exchanged> {
    if (this.closed) return Promise.reject(new ExchangeError("network", "closed"));
    if (query.length < 12) return Promise.reject(new ExchangeError("invalid", "query shorter than a header"));
    this.sweepEvery(Math.max(5, Math.min(100, Math.floor(timeoutMs / 10))));
    return this.socketFor(up).exchange(query, timeoutMs);
  }

  /** (Re)starts the sweep when a shorter interval is needed; it never keeps the process alive. */
  private sweepEvery(ms: number): void {
    if (ms >= this.sweepMs) return;
    this.sweepMs = ms;
    if (this.sweep) clearInterval(this.sweep);
    this.sweep = setInterval(() => {
      const now = performance.now();
      for (const list of this.pools.values()) for (const s of list) s?.expire(now);
      for (const s of this.retiring) s.expire(now);
    }, ms);
    this.sweep.unref();
  }

  private socketFor(up: Upstream): PooledSocket {
    const n = this.opts.socketsPerUpstream ?? 4;
    const max = this.opts.maxQueriesPerSocket ?? 10_000;
    let list = this.pools.get(up.label);
    if (!list) this.pools.set(up.label, (list = []));
    const i = this.rr++ % n;
    let s = list[i];
    if (s && s.used >= max) {
      // Retire it once its queries are answered; new queries go to a fresh socket (new source port).
      const old = s;
      list[i] = undefined as unknown as PooledSocket;
      s = undefined;
      this.retiring.add(old);
      const retire = (): void => {
        if (old.pending.size > 0 && !this.closed) {
          setTimeout(retire, 1000).unref();
          return;
        }
        this.retiring.delete(old);
        old.close();
      };
      retire();
    }
    if (!s) {
      s = new PooledSocket(up, (dead) => {
        const l = this.pools.get(up.label);
        const at = l?.indexOf(dead) ?? -1;
        if (l && at >= 0) l[at] = undefined as unknown as PooledSocket;
      });
      list[i] = s;
    }
    return s;
  }

  close(): void {
    this.closed = true;
    if (this.sweep) clearInterval(this.sweep);
    for (const list of this.pools.values()) for (const s of list) s?.close();
    for (const s of this.retiring) s.close();
    this.retiring.clear();
    this.pools.clear();
  }
}
