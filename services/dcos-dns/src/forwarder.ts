/**
 * Forwarding (spec §3.3): the client's raw message goes, over the transport the client used, on a
 * fresh socket, to a choice of upstreams in parallel; the first reply of any rcode is relayed; the
 * others are abandoned. Every one failing (5 s each, 10 s overall) → null (the caller answers SERVFAIL).
 *
 * Choice: fewer than 3 upstreams → all of them. Otherwise upstreams are bucketed by their lifetime
 * failure count: two at random from the lowest bucket if it has two or more, else its single member
 * plus one at random from the next bucket. `.mesos` goes to every Mesos-DNS (`all`). An upstream that
 * times out or errors is counted as failed even when another one has already answered (dcos-net counts
 * its workers' timeouts the same way); the client is answered at the first reply and does not wait.
 *
 * UDP goes through a pool of connected sockets per upstream with our own query IDs
 * (upstream-pool.ts) rather than a fresh socket per exchange as dcos-net does: the socket churn was
 * most of a forward's cost. TCP still opens a connection per exchange.
 */
import { type Exchanged, type Transport, type Upstream, ExchangeError, exchangeTcp } from "@dcnet/dns";
import { setMaxListeners } from "node:events";
import { UdpUpstreamPool } from "./upstream-pool";

export interface ForwardOutcome extends Exchanged {
  upstream: Upstream;
}

export interface ForwarderOptions {
  perUpstreamMs?: number;
  overallMs?: number;
  onAttempt?: (up: Upstream, transport: Transport, seconds: number, error: ExchangeError | null) => void;
  random?: () => number;
}

export class Forwarder {
  private readonly failures = new Map<string, number>();
  private readonly perUpstreamMs: number;
  private readonly overallMs: number;
  private readonly random: () => number;
  private readonly pool = new UdpUpstreamPool();
  private readonly tcpAbort = new AbortController();
  private closed = false;

  constructor(private readonly opts: ForwarderOptions = {}) {
    this.perUpstreamMs = opts.perUpstreamMs ?? 5000;
    this.overallMs = opts.overallMs ?? 10_000;
    this.random = opts.random ?? Math.random;
    // One listener per TCP exchange in flight.
    setMaxListeners(0, this.tcpAbort.signal);
  }

  failureCount(up: Upstream): number {
    return this.failures.get(up.label) ?? 0;
  }

  /** The upstreams to ask (§3.3 buckets). */
  choose(upstreams: readonly Upstream[]): Upstream[] {
    if (upstreams.length < 3) return upstreams.slice();
    const buckets = new Map<number, Upstream[]>();
    for (const u of upstreams) {
      const f = this.failureCount(u);
      let b = buckets.get(f);
      if (!b) buckets.set(f, (b = []));
      b.push(u);
    }
    const levels = [...buckets.keys()].sort((a, b) => a - b);
    const lowest = buckets.get(levels[0]!)!;
    if (lowest.length >= 2) return this.pick(lowest, 2);
    const next = levels.length > 1 ? buckets.get(levels[1]!)! : [];
    return [lowest[0]!, ...this.pick(next, 1)];
  }

  private pick(from: readonly Upstream[], n: number): Upstream[] {
    const pool = from.slice();
    const out: Upstream[] = [];
    while (out.length < n && pool.length > 0) out.push(pool.splice(Math.floor(this.random() * pool.length), 1)[0]!);
    return out;
  }

  /** Asks `upstreams` in parallel; the first valid reply wins. `all` skips the bucket choice. */
  forward(query: Buffer, upstreams: readonly Upstream[], transport: Transport, all = false): Promise<ForwardOutcome | null> {
    const chosen = all ? upstreams : this.choose(upstreams);
    if (chosen.length === 0 || this.closed) return Promise.resolve(null);
    const timeoutMs = Math.min(this.perUpstreamMs, this.overallMs);
    return new Promise<ForwardOutcome | null>((resolve) => {
      let pending = chosen.length;
      let done = false;
      for (const up of chosen) {
        const t0 = process.hrtime.bigint();
        const attempt =
          transport === "udp" ? this.pool.exchange(query, up, timeoutMs) : exchangeTcp(query, up, timeoutMs, this.tcpAbort.signal);
        attempt.then(
          (r) => {
            this.opts.onAttempt?.(up, transport, seconds(t0), null);
            if (done) return;
            done = true;
            resolve({ ...r, upstream: up });
          },
          (err: unknown) => {
            const e = err instanceof ExchangeError ? err : new ExchangeError("network", String(err));
            // A failure counts (buckets, metric) even after another upstream has answered: the client
            // has its reply already and does not wait for this; only our own shutdown is not a failure.
            if (!this.closed) {
              this.failures.set(up.label, this.failureCount(up) + 1);
              this.opts.onAttempt?.(up, transport, seconds(t0), e);
            }
            if (--pending === 0 && !done) {
              done = true;
              resolve(null);
            }
          },
        );
      }
    });
  }

  /** Fails everything in flight and closes the pooled sockets. */
  close(): void {
    this.closed = true;
    this.pool.close();
    this.tcpAbort.abort();
  }
}

function seconds(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e9;
}
