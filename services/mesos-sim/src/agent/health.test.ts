import { strict as assert } from "node:assert";
import type { HealthCheckTiming } from "../model/launch";
import { aggregateHealth, HealthChecker, type Clock } from "./health";

/** Timers that only move when told to. */
class FakeClock implements Clock {
  t = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();
  private seq = 0;
  now = (): number => this.t;
  setTimeout = (fn: () => void, ms: number): unknown => {
    this.timers.set(++this.seq, { at: this.t + ms, fn });
    return this.seq;
  };
  clearTimeout = (h: unknown): void => void this.timers.delete(h as number);
  /** Advances in steps, firing due timers and letting probes' promises settle. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      const next = [...this.timers.entries()].filter(([, v]) => v.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!next) break;
      this.t = next[1].at;
      this.timers.delete(next[0]);
      next[1].fn();
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    }
    this.t = end;
  }
}

const timing = (t: Partial<HealthCheckTiming> = {}): HealthCheckTiming => ({
  gracePeriodSeconds: 0,
  intervalSeconds: 10,
  timeoutSeconds: 2,
  maxConsecutiveFailures: 3,
  delaySeconds: 5,
  ...t,
});

function setup(t: HealthCheckTiming, answers: (boolean | "hang")[]) {
  const clock = new FakeClock();
  const probes: number[] = [];
  const changes: boolean[] = [];
  const failed: number[] = [];
  let failures = 0;
  const checker = new HealthChecker(
    t,
    async () => {
      probes.push(clock.now());
      const a = answers.shift() ?? true;
      return a === "hang" ? new Promise<boolean>(() => undefined) : a;
    },
    { onChange: (h) => changes.push(h), onFailed: (n) => failed.push(n), onFailure: () => failures++ },
    clock,
  );
  return { clock, checker, probes, changes, failed, failures: () => failures };
}

describe("health check timing (fake clock)", () => {
  it("first probe after delaySeconds, then every intervalSeconds; reports changes only", async () => {
    const s = setup(timing(), [true, true, false, true]);
    s.checker.start();
    await s.clock.advance(4999);
    assert.deepEqual(s.probes, []);
    await s.clock.advance(40_001);
    assert.deepEqual(s.probes, [5000, 15000, 25000, 35000, 45000]);
    assert.deepEqual(s.changes, [true, false, true]);
    assert.equal(s.failures(), 1);
    s.checker.stop();
  });

  it("failures during the grace period do not count; the first success ends the grace period", async () => {
    const s = setup(timing({ gracePeriodSeconds: 30, delaySeconds: 0, maxConsecutiveFailures: 1 }), [false, false, false, false, false]);
    s.checker.start();
    await s.clock.advance(25_000);
    assert.deepEqual([s.changes, s.failed, s.failures()], [[], [], 0]);
    await s.clock.advance(10_000); // probe at 30 s: outside the grace period
    assert.deepEqual(s.changes, [false]);
    assert.deepEqual(s.failed, [1]);
    const probes = s.probes.length;
    await s.clock.advance(60_000);
    assert.equal(s.probes.length, probes, "gave up: no more probes");

    const g = setup(timing({ gracePeriodSeconds: 300, delaySeconds: 0, maxConsecutiveFailures: 1 }), [true, false]);
    g.checker.start();
    await g.clock.advance(10_000);
    assert.deepEqual(g.changes, [true, false]);
    assert.deepEqual(g.failed, [1], "after a success, grace is over");
  });

  it("a probe slower than timeoutSeconds fails; maxConsecutiveFailures counts consecutive ones only", async () => {
    const s = setup(timing({ delaySeconds: 0, intervalSeconds: 1 }), [false, "hang", true, false, false, "hang"]);
    s.checker.start();
    await s.clock.advance(1000);
    assert.deepEqual(s.failed, []);
    await s.clock.advance(20_000);
    assert.deepEqual(s.failed, [3]);
    assert.deepEqual(s.changes, [false, true, false]);
  });

  it("maxConsecutiveFailures 0 never gives up", async () => {
    const s = setup(timing({ delaySeconds: 0, intervalSeconds: 1, maxConsecutiveFailures: 0 }), Array(50).fill(false));
    s.checker.start();
    await s.clock.advance(30_000);
    assert.deepEqual(s.failed, []);
    assert.ok(s.probes.length >= 20);
    s.checker.stop();
  });

  it("aggregates several checks", () => {
    assert.equal(aggregateHealth([]), undefined);
    assert.equal(aggregateHealth([true, undefined]), undefined);
    assert.equal(aggregateHealth([true, true]), true);
    assert.equal(aggregateHealth([undefined, false]), false);
  });
});
