/** Retry timing shared by the master stream and the agent poller. */

/** `ms` ± 25 %, so many nodes retrying after the same failure spread out. */
export function jittered(ms: number, random: () => number = Math.random): number {
  return Math.round(ms * (0.75 + random() * 0.5));
}

/** Doubling backoff between `minMs` and `maxMs`. */
export class Backoff {
  private next: number;

  constructor(
    private readonly minMs: number,
    private readonly maxMs: number,
  ) {
    this.next = minMs;
  }

  /** The delay to wait now (jittered); the one after it doubles, up to `maxMs`. */
  delay(): number {
    const d = jittered(this.next);
    this.next = Math.min(this.next * 2, this.maxMs);
    return Math.min(d, this.maxMs);
  }

  reset(): void {
    this.next = this.minMs;
  }
}

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
