/**
 * Forwarding (spec §3.3): the client's raw message goes, over the transport the client used, on a
 * fresh socket, to a choice of upstreams in parallel; the first reply of any rcode is relayed; the
 * others are abandoned. Every one failing (5 s each), or the overall deadline (10 s) passing → null
 * (the caller answers SERVFAIL).
 *
 * Choice: fewer than 3 upstreams → all of them. Otherwise upstreams are bucketed by their lifetime
 * failure count: two at random from the lowest bucket if it has two or more, else its single member
 * plus one at random from the next bucket. `.mesos` goes to every Mesos-DNS (`all`). An upstream that
 * times out or errors is counted as failed even when another one has already answered (dcos-net counts
 * its workers' timeouts the same way); the client is answered at the first reply and does not wait.
 *
 * UDP goes through a pool of connected sockets per upstream (upstream-pool.ts) rather than a fresh
 * socket per exchange as dcos-net does: the socket churn was most of a forward's cost. A deliberate
 * deviation; the pool's random query IDs and reply matching on ID and question stand in for the
 * per-query source port. TCP still opens a connection per exchange.
 */
import { type Exchanged, type Transport, type Upstream, ExchangeError, exchangeTcp } from "@dcnet/dns";
import { UdpUpstreamPool } from "./upstream-pool";

export interface ForwardOutcome extends Exchanged {
  upstream: Upstream;
}

export interface ForwarderOptions {
  perUpstreamMs?: number;
  overallMs?: number;
  onAttempt?: (up: Upstream, transport: Transport, seconds: number, error: ExchangeError | null) => void;
  random?: () => number;
  /** The TCP exchange (tests replace it). */
  exchangeTcp?: typeof exchangeTcp;
}

export class Forwarder {
  private readonly failures = new Map<string, number>();
  private readonly perUpstreamMs: number;
  private readonly overallMs: number;
  private readonly random: () => number;
  private readonly pool = new UdpUpstreamPool();
  /** One controller per TCP forward in flight (aborted at its deadline or on close). */
  private readonly tcpInFlight = new Set<AbortController>();
  private readonly exchangeTcp: typeof exchangeTcp;
  private closed = false;

  constructor(private readonly opts: ForwarderOptions = {}) {
    this.perUpstreamMs = opts.perUpstreamMs ?? 5000;
    this.overallMs = opts.overallMs ?? 10_000;
    this.random = opts.random ?? Math.random;
    this.exchangeTcp = opts.exchangeTcp ?? exchangeTcp;
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

  /**
   * Asks `upstreams` in parallel; the first valid reply wins. `all` skips the bucket choice. Every
   * forward ends by `overallMs`: UDP exchanges carry min(per-upstream, overall) as their deadline;
   * TCP ones (whose connect and reply phases each get the per-upstream timeout) are aborted at the
   * overall deadline, connect phase included, and count as timeouts.
   */
  forward(query: Buffer, upstreams: readonly Upstream[], transport: Transport, all = false): Promise<ForwardOutcome | null> {
    const chosen = all ? upstreams : this.choose(upstreams);
    if (chosen.length === 0 || this.closed) return Promise.resolve(null);
    const timeoutMs = Math.min(this.perUpstreamMs, this.overallMs);
    return new Promise<ForwardOutcome | null>((resolve) => {
      let pending = chosen.length;
      let done = false;
      let overdue = false;
      let tcp: AbortController | undefined;
      let deadline: NodeJS.Timeout | undefined;
      if (transport === "tcp") {
        tcp = new AbortController();
        this.tcpInFlight.add(tcp);
        deadline = setTimeout(() => {
          overdue = true;
          if (!done) {
            done = true;
            resolve(null);
          }
          tcp!.abort();
        }, this.overallMs);
      }
      const settled = () => {
        if (--pending > 0) return;
        if (deadline) clearTimeout(deadline);
        if (tcp) this.tcpInFlight.delete(tcp);
        if (!done) {
          done = true;
          resolve(null);
        }
      };
      for (const up of chosen) {
        const t0 = process.hrtime.bigint();
        const attempt =
          transport === "udp" ? this.pool.exchange(query, up, timeoutMs) : this.exchangeTcp(query, up, timeoutMs, tcp!.signal);
        attempt.then(
          (r) => {
            this.opts.onAttempt?.(up, transport, seconds(t0), null);
            if (!done) {
              done = true;
              resolve({ ...r, upstream: up });
            }
            settled();
          },
          (err: unknown) => {
            let e = err instanceof ExchangeError ? err : new ExchangeError("network", String(err));
            if (overdue && !this.closed)
              e = new ExchangeError("timeout", `no reply from ${up.label} within the overall ${this.overallMs} ms`);
            // A failure counts (buckets, metric) even after another upstream has answered: the client
            // has its reply already and does not wait for this; only our own shutdown is not a failure.
            if (!this.closed) {
              this.failures.set(up.label, this.failureCount(up) + 1);
              this.opts.onAttempt?.(up, transport, seconds(t0), e);
            }
            settled();
          },
        );
      }
    });
  }

  /** Fails everything in flight and closes the pooled sockets. */
  close(): void {
    this.closed = true;
    this.pool.close();
    for (const c of this.tcpInFlight) c.abort();
    this.tcpInFlight.clear();
  }
}

function seconds(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e9;
}
