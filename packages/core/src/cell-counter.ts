/**
 * Hot-path counters: one Float64Array cell per label combination, copied into the prom-client
 * counter when it is scraped (through its `collect()` hook). Counting a query is then one array
 * increment; prom-client's `inc()` hashes the label set into a new string on every call.
 */
import type { Counter } from "./metrics";

type Collect = (this: unknown) => void | Promise<void>;

export class CellCounter<L extends string> {
  private readonly counts: Float64Array;
  private readonly flushed: Float64Array;

  /**
   * `labels(cell)`: the label values of a cell (called at scrape time only for cells that moved).
   * Several CellCounters may feed one metric (servers sharing a registry): each adds its own deltas.
   */
  constructor(
    private readonly metric: Counter<L>,
    cells: number,
    private readonly labels: (cell: number) => Partial<Record<L, string>>,
  ) {
    this.counts = new Float64Array(cells);
    this.flushed = new Float64Array(cells);
    const m = metric as unknown as { collect?: Collect };
    const previous = m.collect;
    const flush = () => this.flush();
    m.collect = function (this: unknown) {
      flush();
      return previous?.call(this);
    };
  }

  /** Counts one event in `cell` (0 ≤ cell < cells). */
  inc(cell: number): void {
    this.counts[cell]!++;
  }

  /** Copies what was counted since the last flush into the prom-client counter (done at every scrape). */
  flush(): void {
    const { counts, flushed } = this;
    for (let i = 0; i < counts.length; i++) {
      const delta = counts[i]! - flushed[i]!;
      if (delta > 0) {
        this.metric.inc(this.labels(i), delta);
        flushed[i] = counts[i]!;
      }
    }
  }
}
