/**
 * Publishes whole zones to the bus at a bounded rate (§3.7): the first change goes out at once,
 * then at most one push per `intervalMs` per zone, with a trailing push carrying the latest state.
 * Unchanged zones (same encoded bytes as the last push) are not pushed again (DCOS_OSS-5495).
 */
import { type KvStore, type Logger } from "@dcnet/core";
import { type ZoneData } from "./zone";
import { encodeZone, zoneKey } from "./zone-codec";

interface Slot {
  latest: ZoneData | null;
  lastBytes: Buffer | null;
  lastPushMs: number;
  timer: NodeJS.Timeout | null;
  pushing: boolean;
}

export class ZonePublisher {
  private readonly slots = new Map<string, Slot>();
  private stopped = false;

  constructor(
    private readonly kv: KvStore,
    private readonly opts: { logger: Logger; intervalMs?: number; onPushed?: (zone: string, seconds: number, bytes: number) => void },
  ) {}

  /** Offers the current state of a zone; it is pushed now or at the end of the current interval. */
  offer(z: ZoneData): void {
    if (this.stopped) return;
    let s = this.slots.get(z.zone);
    if (!s) this.slots.set(z.zone, (s = { latest: null, lastBytes: null, lastPushMs: 0, timer: null, pushing: false }));
    s.latest = z;
    this.schedule(s);
  }

  private schedule(s: Slot): void {
    if (s.timer !== null || s.pushing || s.latest === null) return;
    const wait = s.lastPushMs + (this.opts.intervalMs ?? 1000) - Date.now();
    if (wait <= 0) void this.push(s);
    else
      s.timer = setTimeout(() => {
        s.timer = null;
        void this.push(s);
      }, wait);
  }

  private async push(s: Slot): Promise<void> {
    const z = s.latest;
    if (z === null || this.stopped) return;
    s.latest = null;
    const bytes = Buffer.from(encodeZone(z));
    if (s.lastBytes !== null && bytes.equals(s.lastBytes)) return this.schedule(s);
    s.pushing = true;
    const t0 = process.hrtime.bigint();
    try {
      await this.kv.put(zoneKey(z.zone), bytes);
      s.lastBytes = bytes;
      s.lastPushMs = Date.now();
      this.opts.onPushed?.(z.zone, Number(process.hrtime.bigint() - t0) / 1e9, bytes.length);
    } catch (err) {
      this.opts.logger.warn({ err: (err as Error).message, zone: z.zone }, "zone push failed; retrying");
      s.latest ??= z;
      s.lastPushMs = Date.now();
    } finally {
      s.pushing = false;
    }
    this.schedule(s);
  }

  stop(): void {
    this.stopped = true;
    for (const s of this.slots.values()) if (s.timer) clearTimeout(s.timer);
  }
}
