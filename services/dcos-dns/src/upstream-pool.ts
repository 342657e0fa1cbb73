/**
 * UDP exchanges with upstreams over a few long-lived connected sockets per upstream, instead of a
 * fresh socket per query (create + bind + connect + close cost more than the rest of a forward).
 *
 * A deliberate deviation from §3.3's fresh socket per query, for throughput. What a fresh socket
 * gives against off-path spoofing (an unpredictable source port per query) is kept in part, and
 * made up for by checks a fresh socket does not need:
 * - each query leaves with a random ID of our own (from crypto.randomFillSync, not sequential),
 *   unique among the socket's queries in flight; the reply gets the client's ID back;
 * - a reply is accepted only from the connected upstream (the kernel filters), carrying QR, with
 *   an ID we are waiting for AND the query's question (names compared case-insensitively, type and
 *   class exactly); anything else is ignored and the query keeps waiting for the real reply;
 * - sockets are replaced after `maxQueriesPerSocket` queries (default 10,000), so the source port
 *   keeps changing over time and the 16-bit ID space of one socket is never close to full.
 *
 * Timeouts: a query carries its deadline and one sweep per pool (every tenth of the shortest
 * timeout asked for, 5–100 ms) fails the overdue ones, instead of a timer set and cleared per
 * query (Node's timer list churn was a visible share of a forward's CPU). A query may so fail up
 * to one sweep interval late.
 */
import { randomFillSync } from "node:crypto";
import * as dgram from "node:dgram";
import { type Exchanged, type Upstream, ExchangeError, FLAG_QR, HEADER_LEN, walkMessage } from "@dcnet/dns";

/** Random 16-bit IDs, drawn from a block refilled from the CSPRNG. */
const idBlock = new Uint16Array(1024);
let idNext = idBlock.length;
function randomId(): number {
  if (idNext === idBlock.length) {
    randomFillSync(idBlock);
    idNext = 0;
  }
  return idBlock[idNext++]!;
}

/** End of the question section (qd questions from offset 12, uncompressed names), or -1. */
function questionEnd(msg: Buffer): number {
  if (msg.length < HEADER_LEN) return -1;
  let p = HEADER_LEN;
  for (let qd = msg.readUInt16BE(4); qd > 0; qd--) {
    for (;;) {
      if (p >= msg.length) return -1;
      const len = msg[p]!;
      if (len === 0) break;
      if (len > 63) return -1;
      p += len + 1;
    }
    p += 5;
    if (p > msg.length) return -1;
  }
  return p;
}

/**
 * Whether `reply` asks the question of `query` (`qEnd` = its question end): names compared
 * case-insensitively, type/class exactly, every question — or only the first when the query has
 * several and the reply echoes one (miekg's `SetReply`, so Mesos-DNS, keeps the first question only).
 */
export function sameQuestion(query: Buffer, qEnd: number, reply: Buffer): boolean {
  if (reply.length < HEADER_LEN || query.length < qEnd) return false;
  const qd = query.readUInt16BE(4);
  const echoed = reply.readUInt16BE(4);
  if (echoed !== qd && !(qd > 1 && echoed === 1)) return false;
  let p = HEADER_LEN;
  for (let n = echoed; n > 0; n--) {
    for (;;) {
      const len = query[p]!;
      if (reply[p] !== len) return false;
      p++;
      if (len === 0) break;
      for (const end = p + len; p < end; p++) {
        const a = query[p]!;
        const b = reply[p];
        if (a === b) continue;
        // Only ASCII letters differ by case (0x20 randomisation echoed by the upstream is fine).
        const folded = a | 0x20;
        if (b === undefined || folded !== (b | 0x20) || folded < 0x61 || folded > 0x7a) return false;
      }
    }
    if (p + 4 > reply.length) return false;
    for (const end = p + 4; p < end; p++) if (query[p] !== reply[p]) return false;
  }
  return true;
}

interface Pending {
  resolve: (r: Exchanged) => void;
  reject: (e: ExchangeError) => void;
  /** performance.now() after which the query fails. */
  deadline: number;
  timeoutMs: number;
  clientId: number;
  /** The query as sent (our ID) and its question end, to check the reply's question. */
  sent: Buffer;
  qEnd: number;
}

class PooledSocket {
  readonly sock: dgram.Socket;
  readonly pending = new Map<number, Pending>();
  used = 0;
  private connected = false;
  private ready: Promise<void>;
  /** Fails queries waiting for the connect when the socket is closed before it completes. */
  private rejectReady: ((e: ExchangeError) => void) | undefined;

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

  /** A random 16-bit ID not in flight on this socket. */
  private id(): number {
    for (let i = 0; i < 64; i++) {
      const id = randomId();
      if (!this.pending.has(id)) return id;
    }
    // Nearly full (never with the pool's limits): the first free one from a random start.
    const start = randomId();
    for (let i = 0; i < 0x10000; i++) {
      const id = (start + i) & 0xffff;
      if (!this.pending.has(id)) return id;
    }
    throw new ExchangeError("network", "no free query ID");
  }

  exchange(query: Buffer, timeoutMs: number): Promise<Exchanged> {
    // Connected (every query but the first few of a socket): no extra turn through `ready`.
    return this.connected ? this.send(query, timeoutMs) : this.ready.then(() => this.send(query, timeoutMs));
  }

  private send(query: Buffer, timeoutMs: number): Promise<Exchanged> {
    const qEnd = questionEnd(query);
    if (qEnd < 0) return Promise.reject(new ExchangeError("invalid", "query question section does not parse"));
    const id = this.id();
    this.used++;
    const out = Buffer.from(query);
    out[0] = id >> 8;
    out[1] = id & 0xff;
    return new Promise<Exchanged>((resolve, reject) => {
      this.pending.set(id, {
        resolve,
        reject,
        deadline: performance.now() + timeoutMs,
        timeoutMs,
        clientId: (query[0]! << 8) | query[1]!,
        sent: out,
        qEnd,
      });
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
    if (!sameQuestion(p.sent, p.qEnd, msg)) return; // not the reply to this query (spoofed or stray): keep waiting
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
