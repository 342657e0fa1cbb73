/**
 * Publishes zones to the bus in two forms:
 * - with a bus to publish on, each change AT ONCE as a per-record delta event (zone-delta.ts):
 *   the names whose values changed against the previously offered version, numbered by `seq`
 *   within this publisher's `epoch` (a new epoch when the producer becomes the leader again).
 *   Diffing is O(zone) per offer, on the producer only. A delta that could not be sent still
 *   consumes its seq: nodes see the gap and wait for the snapshot;
 * - whole-zone snapshots into the KV at a bounded rate (§3.7), carrying the epoch and the seq of
 *   the last delta they include; nodes that start or lose track of the deltas read these. At most
 *   one push per `intervalMs` per zone, with a trailing push carrying the latest state; unchanged
 *   zones (same encoded bytes as the last push) are not pushed again (DCOS_OSS-5495). The first
 *   change after a quiet spell goes out at once, as in dcos-net, unless it went out as a delta
 *   and `snapshotTrailsDeltas` is set: then its snapshot follows one interval after that delta,
 *   so the nodes do not take the same change twice at the same moment (the snapshot is only the
 *   resync path for them; a node that missed the delta still has it within one interval).
 */
import { randomBytes } from "node:crypto";
import { type Bus, type KvStore, type Logger } from "@dcnet/core";
import { type RecordValues, type ZoneData } from "./zone";
import { encodeZone, zoneKey } from "./zone-codec";
import { DELTA_MAX_BYTES, deltaSubject, diffRecords, encodeDelta } from "./zone-delta";

interface Slot {
  latest: ZoneData | null;
  /** The epoch and seq of the last delta `latest` includes. */
  latestEpoch: string;
  latestSeq: number;
  lastBytes: Buffer | null;
  lastPushMs: number;
  timer: NodeJS.Timeout | null;
  pushing: boolean;
  /** The records of the last offered version (what the next delta is computed against). */
  offered: ReadonlyMap<string, RecordValues> | null;
  seq: number;
  /** When the first delta not yet in a snapshot was sent (null: none). */
  firstDeltaMs: number | null;
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
  /**
   * A change that went out as a delta has its snapshot wait one interval (counted from that first
   * delta) instead of going out at once, so nodes do not take the same change twice at the same
   * moment. Pushes stay at most one per interval.
   */
  snapshotTrailsDeltas?: boolean;
}

export class ZonePublisher {
  private readonly slots = new Map<string, Slot>();
  private stopped = false;
  private epochNow: string;

  constructor(
    private readonly kv: KvStore,
    private readonly opts: ZonePublisherOptions,
  ) {
    this.epochNow = opts.epoch ?? randomBytes(8).toString("hex");
  }

  /** The epoch deltas and snapshots are numbered in now. */
  get epoch(): string {
    return this.epochNow;
  }

  /**
   * Starts a new epoch (the producer became the leader again: what it offered before may no
   * longer be what the nodes hold). The next version of each zone goes out as a snapshot, at once
   * (within the rate limit), and deltas follow it.
   */
  newEpoch(): void {
    this.epochNow = randomBytes(8).toString("hex");
    for (const s of this.slots.values()) {
      s.offered = null;
      s.seq = 0;
      s.firstDeltaMs = null;
    }
  }

  /** Offers the current state of a zone: its delta goes out now, its snapshot now or at the end of the current interval. */
  offer(z: ZoneData): void {
    if (this.stopped) return;
    let s = this.slots.get(z.zone);
    if (!s)
      this.slots.set(
        z.zone,
        (s = {
          latest: null,
          latestEpoch: this.epochNow,
          latestSeq: 0,
          lastBytes: null,
          lastPushMs: 0,
          timer: null,
          pushing: false,
          offered: null,
          seq: 0,
          firstDeltaMs: null,
        }),
      );
    if (this.opts.bus && s.offered !== null && this.sendDelta(s, z) && this.opts.snapshotTrailsDeltas) s.firstDeltaMs ??= Date.now();
    s.offered = z.records;
    s.latest = z;
    s.latestEpoch = this.epochNow;
    s.latestSeq = s.seq;
    this.schedule(s);
  }

  /** Sends the delta from the last offered version to `z`; true when one went out. */
  private sendDelta(s: Slot, z: ZoneData): boolean {
    const { set, del } = diffRecords(s.offered!, z.records);
    if (set.size === 0 && del.length === 0) return false;
    const seq = ++s.seq;
    const bytes = encodeDelta({ zone: z.zone, epoch: this.epochNow, seq, set, del });
    const sent = bytes.length <= DELTA_MAX_BYTES;
    this.opts.onDelta?.(z.zone, set.size + del.length, bytes.length, sent);
    if (!sent) return false;
    this.opts.bus!.publish(deltaSubject(z.zone), bytes).catch((err: unknown) => {
      this.opts.logger.warn({ err: (err as Error).message, zone: z.zone, seq }, "zone delta not sent; nodes catch up from the snapshot");
    });
    return true;
  }

  private schedule(s: Slot): void {
    if (s.timer !== null || s.pushing || s.latest === null) return;
    const interval = this.opts.intervalMs ?? 1000;
    const wait = Math.max(s.lastPushMs, s.firstDeltaMs ?? 0) + interval - Date.now();
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
    const epoch = s.latestEpoch;
    if (z === null || this.stopped) return;
    s.latest = null;
    const bytes = Buffer.from(encodeZone(z, this.opts.bus ? { epoch, seq } : undefined));
    if (s.lastBytes !== null && bytes.equals(s.lastBytes)) return this.schedule(s);
    s.pushing = true;
    const t0 = process.hrtime.bigint();
    try {
      await this.kv.put(zoneKey(z.zone), bytes);
      s.lastBytes = bytes;
      s.lastPushMs = Date.now();
      if (s.latest === null) s.firstDeltaMs = null;
      this.opts.onPushed?.(z.zone, Number(process.hrtime.bigint() - t0) / 1e9, bytes.length);
    } catch (err) {
      this.opts.logger.warn({ err: (err as Error).message, zone: z.zone }, "zone push failed; retrying");
      if (s.latest === null) {
        s.latest = z;
        s.latestEpoch = epoch;
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
