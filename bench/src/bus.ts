/**
 * Bus benchmark: an event published to 10 subscribers through our signed bus
 * vs the bare `nats` client, same run, same nats-server.
 *  - throughput: N messages of 128 bytes as fast as possible, timed until every
 *    subscriber has all N (median of alternating rounds after a warm-up);
 *  - latency: 1,000 events/s for a few seconds, send-to-handler delay at each subscriber.
 */
import { startNatsServer } from "@dcnet/core";
import { ourSide, rawSide, type Endpoint, type Side } from "./bus-endpoints";
import { max, median, percentile, ratio, round, writeResults, type Figure } from "./results";
import { envInt } from "./env";

const SUBSCRIBERS = 10;
const PAYLOAD_BYTES = 128;
/** Publisher flushes (PING/PONG round trip) every this many messages. */
const FLUSH_EVERY = 1000;
const LATENCY_RATE = 1000;
const THROUGHPUT_GOAL = 0.5;
const P99_GOAL_MS = 5;

/** Resolves when `done` fires, rejects on `fail` or after `ms`; the timer never outlives it. */
function completion(ms: number, what: string): { promise: Promise<void>; done(): void; fail(err: unknown): void } {
  let done = (): void => {};
  let fail = (_err: unknown): void => {};
  const promise = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms);
    done = () => {
      clearTimeout(timer);
      resolve();
    };
    fail = (err) => {
      clearTimeout(timer);
      reject(err);
    };
  });
  return { promise, done, fail };
}

async function flushAll(endpoints: readonly Endpoint[]): Promise<void> {
  await Promise.all(endpoints.map((e) => e.flush()));
}

/** Publishes `n` messages flat out; returns seconds until every subscriber has received all of them. */
async function throughputRound(side: Side, subject: string, n: number, timeoutMs: number): Promise<number> {
  const payload = new Uint8Array(PAYLOAD_BYTES).fill(0x61);
  const all = completion(timeoutMs, `${side.name} throughput`);
  let incomplete = side.subscribers.length;
  const subs = side.subscribers.map((ep) => {
    let got = 0;
    return ep.subscribe(subject, () => {
      if (++got === n && --incomplete === 0) all.done();
    });
  });
  try {
    await flushAll(side.subscribers); // interest registered at the server before the first message
    const start = performance.now();
    const pending: Promise<void>[] = [];
    for (let i = 0; i < n;) {
      const end = Math.min(n, i + FLUSH_EVERY);
      for (; i < end; i++) {
        const p = side.publisher.publish(subject, payload);
        if (p) pending.push(p);
      }
      await Promise.all(pending);
      pending.length = 0;
      await side.publisher.flush();
    }
    await all.promise;
    return (performance.now() - start) / 1000;
  } finally {
    for (const s of subs) s.unsubscribe();
  }
}

/**
 * Publishes at `rate` events/s for `seconds`, paced by a 1 ms timer catching up
 * with the schedule; each payload carries its send time (performance.now()).
 * Returns the delivery latency in ms of every delivery at every subscriber.
 */
async function latencyRound(side: Side, subject: string, rate: number, seconds: number): Promise<Float64Array> {
  const total = rate * seconds;
  const expected = total * side.subscribers.length;
  const latencies = new Float64Array(expected);
  let received = 0;
  const all = completion(seconds * 1000 + 30_000, `${side.name} latency`);
  const subs = side.subscribers.map((ep) =>
    ep.subscribe(subject, (data) => {
      const now = performance.now();
      if (data.byteLength < 8) return all.fail(new Error(`${side.name}: short payload (${data.byteLength} bytes)`));
      const sentAt = new DataView(data.buffer, data.byteOffset, data.byteLength).getFloat64(0, true);
      if (received < expected) latencies[received] = now - sentAt;
      if (++received === expected) all.done();
    }),
  );
  let timer: NodeJS.Timeout | undefined;
  try {
    await flushAll(side.subscribers);
    const payload = new Uint8Array(PAYLOAD_BYTES);
    const view = new DataView(payload.buffer);
    const start = performance.now();
    let sent = 0;
    const tick = (): void => {
      const due = Math.min(total, Math.floor(((performance.now() - start) * rate) / 1000) + 1);
      try {
        for (; sent < due; sent++) {
          view.setFloat64(0, performance.now(), true);
          side.publisher.publish(subject, payload)?.catch(all.fail);
        }
      } catch (err) {
        all.fail(err);
      }
      if (sent >= total) clearInterval(timer);
    };
    timer = setInterval(tick, 1);
    tick();
    await all.promise;
    return latencies;
  } finally {
    clearInterval(timer);
    for (const s of subs) s.unsubscribe();
  }
}

function spread(values: readonly number[]): { min: number; max: number } {
  return { min: round(Math.min(...values)), max: round(max(values)) };
}

export async function runBus(): Promise<void> {
  const n = envInt("BENCH_BUS_MESSAGES", 50_000);
  const rounds = envInt("BENCH_BUS_ROUNDS", 3);
  // JIT and GC settle over the first rounds (ours has more code to optimise): discard them.
  const warmup = envInt("BENCH_BUS_WARMUP", 2);
  const latencySeconds = envInt("BENCH_BUS_LATENCY_SECONDS", 5);
  const log = (msg: string): void => void process.stderr.write(`bus: ${msg}\n`);

  const server = await startNatsServer();
  const sides: Side[] = [];
  try {
    const raw = await rawSide(server.url, SUBSCRIBERS);
    sides.push(raw);
    const ours = await ourSide(server.url, SUBSCRIBERS);
    sides.push(ours);
    // The same bus with the in-process verification cache off: each subscriber
    // HMAC-checks every message, as 10 separate nodes would (each on its own CPU).
    const uncached = await ourSide(server.url, SUBSCRIBERS, false);
    sides.push(uncached);
    log(`nats-server at ${server.url}; ${SUBSCRIBERS} subscribers, ${n} msgs x ${PAYLOAD_BYTES} B, ${rounds} rounds`);

    // Throughput: one warm-up each, then alternate raw/ours; a fresh subject per round.
    const rates = new Map<Side, number[]>([
      [raw, []],
      [ours, []],
      [uncached, []],
    ]);
    const timeoutMs = Math.max(60_000, n * 2);
    for (let r = 0; r < warmup + rounds; r++) {
      for (const s of [raw, ours]) {
        const secs = await throughputRound(s, `bench.tp.r${r}`, n, timeoutMs);
        const rate = n / secs;
        log(
          `${r < warmup ? "warm-up" : `round ${r - warmup + 1}`} ${s.name}: ${Math.round(rate)} msgs/s (${Math.round(rate * SUBSCRIBERS)} deliveries/s)`,
        );
        if (r >= warmup) rates.get(s)?.push(rate);
      }
    }
    // The uncached variant runs after the headline comparison, not interleaved with it,
    // so its different code path does not disturb the JIT state the headline measures.
    for (let r = 0; r < warmup + rounds; r++) {
      const secs = await throughputRound(uncached, `bench.tpu.r${r}`, n, timeoutMs);
      const rate = n / secs;
      log(
        `${r < warmup ? "warm-up" : `round ${r - warmup + 1}`} ${uncached.name}: ${Math.round(rate)} msgs/s (${Math.round(rate * SUBSCRIBERS)} deliveries/s)`,
      );
      if (r >= warmup) rates.get(uncached)?.push(rate);
    }
    const rawRates = rates.get(raw) ?? [];
    const ourRates = rates.get(ours) ?? [];
    const rawTp = median(rawRates);
    const ourTp = median(ourRates);
    const uncachedRates = rates.get(uncached) ?? [];
    const uncachedTp = median(uncachedRates);

    // Latency at a fixed rate.
    const lat = new Map<Side, Float64Array>();
    for (const s of [raw, ours]) {
      const l = await latencyRound(s, "bench.lat", LATENCY_RATE, latencySeconds);
      lat.set(s, l);
      log(`latency ${s.name}: p50 ${percentile(l, 50).toFixed(3)} ms, p99 ${percentile(l, 99).toFixed(3)} ms, max ${max(l).toFixed(3)} ms`);
    }
    const rawLat = lat.get(raw) ?? new Float64Array(0);
    const ourLat = lat.get(ours) ?? new Float64Array(0);

    const rejected = ours.rejected() + uncached.rejected();
    if (rejected !== 0) throw new Error(`our bus rejected ${rejected} messages`);

    const tpRatio = ratio(ourTp, rawTp);
    const p50 = { ours: percentile(ourLat, 50), raw: percentile(rawLat, 50) };
    const p99 = { ours: percentile(ourLat, 99), raw: percentile(rawLat, 99) };
    const common = { reference_name: "nats.js 2.29 (bare client)" };
    const figures: Figure[] = [
      {
        name: `bus publish→${SUBSCRIBERS} subscribers throughput`,
        unit: "msgs/s",
        ours: round(ourTp),
        reference: round(rawTp),
        ...common,
        ratio: round(tpRatio, 3),
        goal: `>= ${THROUGHPUT_GOAL}x raw`,
        met: tpRatio >= THROUGHPUT_GOAL,
        deliveries_per_s: { ours: round(ourTp * SUBSCRIBERS), reference: round(rawTp * SUBSCRIBERS) },
        runs: { ours: ourRates.map((v) => round(v)), reference: rawRates.map((v) => round(v)) },
        spread: { ours: spread(ourRates), reference: spread(rawRates) },
        messages: n,
        payload_bytes: PAYLOAD_BYTES,
        subscribers: SUBSCRIBERS,
      },
      {
        name: `bus publish→${SUBSCRIBERS} subscribers throughput, every subscriber checks the signature`,
        unit: "msgs/s",
        ours: round(uncachedTp),
        reference: round(rawTp),
        ...common,
        ratio: round(ratio(uncachedTp, rawTp), 3),
        goal: "none (reported only: 11 HMACs per message on one CPU; 10 real nodes check on 10 CPUs)",
        met: true,
        runs: { ours: uncachedRates.map((v) => round(v)), reference: rawRates.map((v) => round(v)) },
        spread: { ours: spread(uncachedRates), reference: spread(rawRates) },
        messages: n,
        payload_bytes: PAYLOAD_BYTES,
        subscribers: SUBSCRIBERS,
      },
      {
        name: `bus delivery latency p50 at ${LATENCY_RATE} events/s`,
        unit: "ms",
        ours: round(p50.ours),
        reference: round(p50.raw),
        ...common,
        ratio: round(ratio(p50.ours, p50.raw), 3),
        goal: "none (reported only)",
        met: true,
        samples: { ours: ourLat.length, reference: rawLat.length },
      },
      {
        name: `bus delivery latency p99 at ${LATENCY_RATE} events/s`,
        unit: "ms",
        ours: round(p99.ours),
        reference: round(p99.raw),
        ...common,
        ratio: round(ratio(p99.ours, p99.raw), 3),
        goal: `<= ${P99_GOAL_MS} ms`,
        met: p99.ours <= P99_GOAL_MS,
        max: { ours: round(max(ourLat)), reference: round(max(rawLat)) },
        samples: { ours: ourLat.length, reference: rawLat.length },
      },
    ];
    writeResults("bus", figures);
  } finally {
    await Promise.allSettled(sides.map((s) => s.close()));
    await server.stop();
  }
}
