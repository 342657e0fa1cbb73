import type { HealthCheckTiming } from "../model/launch";

/** Timers the checker uses; tests pass a fake one. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** One probe attempt: resolves true when healthy; may reject (counted as a failure). */
export type Probe = (timeoutMs: number) => Promise<boolean>;

export interface HealthEvents {
  /** The check's verdict changed (first result included). */
  onChange(healthy: boolean): void;
  /** maxConsecutiveFailures reached (outside the grace period): the task must be killed. */
  onFailed(consecutiveFailures: number): void;
  /** Every failure that counts (for metrics). */
  onFailure?(): void;
}

/**
 * Runs one health check with Mesos/Marathon timing: first probe after
 * `delaySeconds`, then every `intervalSeconds` after the previous one
 * finished; a probe slower than `timeoutSeconds` fails. Failures during
 * `gracePeriodSeconds` (counted from start) are ignored until the first
 * success; after `maxConsecutiveFailures` (0 = never) onFailed fires once.
 */
export class HealthChecker {
  private timer: unknown;
  private stopped = false;
  private startedAt = 0;
  private succeededOnce = false;
  private failures = 0;
  private verdict: boolean | undefined;

  constructor(
    private readonly timing: HealthCheckTiming,
    private readonly probe: Probe,
    private readonly events: HealthEvents,
    private readonly clock: Clock = realClock,
  ) {}

  get healthy(): boolean | undefined {
    return this.verdict;
  }

  start(): void {
    this.startedAt = this.clock.now();
    this.schedule(this.timing.delaySeconds * 1000);
  }

  stop(): void {
    this.stopped = true;
    this.clock.clearTimeout(this.timer);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = this.clock.setTimeout(() => void this.runOnce(), Math.max(0, ms));
  }

  private async runOnce(): Promise<void> {
    const timeoutMs = Math.max(1, this.timing.timeoutSeconds * 1000);
    let timeout: unknown;
    const ok = await Promise.race([
      this.probe(timeoutMs).catch(() => false),
      new Promise<boolean>((resolve) => (timeout = this.clock.setTimeout(() => resolve(false), timeoutMs))),
    ]);
    this.clock.clearTimeout(timeout);
    if (this.stopped) return;
    if (ok) this.success();
    else if (!this.failure()) return;
    this.schedule(this.timing.intervalSeconds * 1000);
  }

  private success(): void {
    this.succeededOnce = true;
    this.failures = 0;
    this.set(true);
  }

  /** Returns false when the checker gave up (task to be killed). */
  private failure(): boolean {
    const inGrace = !this.succeededOnce && this.clock.now() - this.startedAt < this.timing.gracePeriodSeconds * 1000;
    if (inGrace) return true;
    this.failures++;
    this.events.onFailure?.();
    this.set(false);
    const max = this.timing.maxConsecutiveFailures;
    if (max > 0 && this.failures >= max) {
      this.stopped = true;
      this.events.onFailed(this.failures);
      return false;
    }
    return true;
  }

  private set(healthy: boolean): void {
    if (this.verdict === healthy) return;
    this.verdict = healthy;
    this.events.onChange(healthy);
  }
}

/** All checks of a task together: healthy when every check has passed, unhealthy as soon as one fails. */
export function aggregateHealth(verdicts: readonly (boolean | undefined)[]): boolean | undefined {
  if (verdicts.some((v) => v === false)) return false;
  if (verdicts.length && verdicts.every((v) => v === true)) return true;
  return undefined;
}
