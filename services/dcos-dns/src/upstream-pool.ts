/**
 * UDP exchanges with upstreams over a few long-lived connected sockets per upstream, instead of a
 * fresh socket per query (create + bind + connect + close cost more than the rest of a forward).
 *
 * Each query leaves with an ID of our own, unique among the socket's queries in flight, and the
 * reply gets the client's ID back before it is relayed. A reply is accepted only from the
 * connected upstream (the kernel filters), with an ID we are waiting for, carrying QR. Sockets are
 * replaced after `maxQueriesPerSocket` queries (default 10,000) so the source port keeps changing
 * over time, and the 16-bit ID space of one socket is never close to full.
 */
import * as dgram from "node:dgram";
import { type Exchanged, type Upstream, ExchangeError, FLAG_QR, walkMessage } from "@dcnet/dns";

interface Pending {
  resolve: (r: Exchanged) => void;
  reject: (e: ExchangeError) => void;
  timer: NodeJS.Timeout;
  clientId: number;
}

class PooledSocket {
  readonly sock: dgram.Socket;
  readonly pending = new Map<number, Pending>();
  used = 0;
  private ready: Promise<void>;
  private nextId = Math.floor(Math.random() * 0x10000);

  constructor(
    private readonly up: Upstream,
    private readonly onDead: (s: PooledSocket) => void,
  ) {
    this.sock = dgram.createSocket(up.family === 6 ? "udp6" : "udp4");
    this.sock.on("message", (msg) => this.onMessage(msg));
    this.sock.on("error", (err) => this.close(new ExchangeError("network", `${up.label}: ${err.message}`)));
    this.ready = new Promise((resolve) => this.sock.connect(up.port, up.host, () => resolve()));
  }

  /** A free 16-bit ID (random start, then sequential skipping those in flight). */
  private id(): number {
    for (let i = 0; i < 0x10000; i++) {
      this.nextId = (this.nextId + 1) & 0xffff;
      if (!this.pending.has(this.nextId)) return this.nextId;
    }
    throw new ExchangeError("network", "no free query ID");
  }

  async exchange(query: Buffer, timeoutMs: number): Promise<Exchanged> {
    await this.ready;
    const id = this.id();
    this.used++;
    const out = Buffer.from(query);
    out[0] = id >> 8;
    out[1] = id & 0xff;
    return new Promise<Exchanged>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ExchangeError("timeout", `no reply from ${this.up.label} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer, clientId: (query[0]! << 8) | query[1]! });
      this.sock.send(out, (err) => {
        if (!err) return;
        const p = this.pending.get(id);
        if (!p) return;
        this.pending.delete(id);
        clearTimeout(p.timer);
        p.reject(new ExchangeError("network", `${this.up.label}: ${err.message}`));
      });
    });
  }

  private onMessage(msg: Buffer): void {
    if (msg.length < 12 || !(msg[2]! & (FLAG_QR >> 8))) return;
    const id = (msg[0]! << 8) | msg[1]!;
    const p = this.pending.get(id);
    if (!p) return; // late (timed out) or not ours
    this.pending.delete(id);
    clearTimeout(p.timer);
    msg[0] = p.clientId >> 8;
    msg[1] = p.clientId & 0xff;
    const layout = walkMessage(msg);
    if (!layout) p.reject(new ExchangeError("invalid", `unparsable reply from ${this.up.label}`));
    else p.resolve({ reply: msg, layout });
  }

  /** Fails everything in flight (ICMP unreachable on a connected socket surfaces here). */
  fail(err: ExchangeError): void {
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
    this.onDead(this);
  }

  close(err = new ExchangeError("network", "closed")): void {
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

  constructor(private readonly opts: { socketsPerUpstream?: number; maxQueriesPerSocket?: number } = {}) {}

  exchange(query: Buffer, up: Upstream, timeoutMs: number): Promise<Exchanged> {
    if (this.closed) return Promise.reject(new ExchangeError("network", "closed"));
    if (query.length < 12) return Promise.reject(new ExchangeError("invalid", "query shorter than a header"));
    return this.socketFor(up).exchange(query, timeoutMs);
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
      const retire = () => (old.pending.size === 0 ? old.close() : setTimeout(retire, 1000).unref());
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
    for (const list of this.pools.values()) for (const s of list) s?.close();
    this.pools.clear();
  }
}
