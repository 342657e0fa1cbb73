/**
 * Publishes zones to the bus in two forms:
 * - whole-zone snapshots into the KV at a bounded rate (§3.7): the first change goes out at once,
 *   then at most one push per `intervalMs` per zone, with a trailing push carrying the latest
 *   state; unchanged zones (same encoded bytes as the last push) are not pushed again
 *   (DCOS_OSS-5495). Nodes that start or lose track of the deltas read these;
 * - with a bus to publish on, each change AT ONCE as a per-record delta event (zone-delta.ts):
 *   the names whose values changed against the previously offered version, numbered by `seq`
 *   within this publisher's `epoch`. The snapshot carries the epoch and the seq of the last delta
 *   it includes. Diffing is O(zone) per offer, on the producer only.
 * A delta that could not be sent still consumes its seq: nodes see the gap and wait for the snapshot.
 */
import { randomBytes } from "node:crypto";
import { type Bus, type KvStore, type Logger } from "@dcnet/core";
import { type RecordValues, type ZoneData } from "./zone";
import { encodeZone, zoneKey } from "./zone-codec";
import { DELTA_MAX_BYTES, deltaSubject, diffRecords, encodeDelta } from "./zone-delta";

interface Slot {
  latest: ZoneData | null;
  /** The seq of the last delta `latest` includes. */
  latestSeq: number;
  lastBytes: Buffer | null;
  lastPushMs: number;
  timer: NodeJS.Timeout | null;
  pushing: boolean;
  /** The records of the last offered version (what the next delta is computed against). */
  offered: ReadonlyMap<string, RecordValues> | null;
  seq: number;
}

export interface ZonePublisherOptions {
  logger: Logger;
  intervalMs?: number;
  /** Where deltas go; without it only snapshots are published. */
  bus?: Pick<Bus, "publish"> | undefined;
  /** This publisher's epoch (default: random). */
  epoch?: string;
  onPushed?: (zone: string, seconds: number, bytes: number) => void;
  onDelta?: (zone: string, names: number, bytes: number, sent: boolean) => void;
}

export class ZonePublisher {
  private readonly slots = new Map<string, Slot>();
  private stopped = false;
  readonly epoch: string;

  constructor(
    private readonly kv: KvStore,
    private readonly opts: ZonePublisherOptions,
  ) {
    this.epoch = opts.epoch ?? randomBytes(8).toString("hex");
  }

  /** Offers the current state of a zone: its delta goes out now, its snapshot now or at the end of the current interval. */
  offer(z: ZoneData): void {
    if (this.stopped) return;
    let s = this.slots.get(z.zone);
    if (!s)
      this.slots.set(
        z.zone,
        (s = { latest: null, latestSeq: 0, lastBytes: null, lastPushMs: 0, timer: null, pushing: false, offered: null, seq: 0 }),
      );
    if (this.opts.bus && s.offered !== null) this.sendDelta(s, z);
    s.offered = z.records;
    s.latest = z;
    s.latestSeq = s.seq;
    this.schedule(s);
  }

  private sendDelta(s: Slot, z: ZoneData): void {
    const { set, del } = diffRecords(s.offered!, z.records);
    if (set.size === 0 && del.length === 0) return;
    const seq = ++s.seq;
    const bytes = encodeDelta({ zone: z.zone, epoch: this.epoch, seq, set, del });
    const sent = bytes.length <= DELTA_MAX_BYTES;
    this.opts.onDelta?.(z.zone, set.size + del.length, bytes.length, sent);
    if (!sent) return;
    this.opts.bus!.publish(deltaSubject(z.zone), bytes).catch((err: unknown) => {
      this.opts.logger.warn({ err: (err as Error).message, zone: z.zone, seq }, "zone delta not sent; nodes catch up from the snapshot");
    });
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
    const seq = s.latestSeq;
    if (z === null || this.stopped) return;
    s.latest = null;
    const bytes = Buffer.from(encodeZone(z, this.opts.bus ? { epoch: this.epoch, seq } : undefined));
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
      if (s.latest === null) {
        s.latest = z;
        s.latestSeq = seq;
      }
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
