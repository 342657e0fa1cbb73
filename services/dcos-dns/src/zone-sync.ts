/**
 * Every node: follows the zones on the bus and keeps the authority's copy current.
 *
 * - Snapshots: the KV bucket `dns`, keys `zone.*` (whole zones, ≤ 1 push/s per zone). Each one is
 *   swapped into the authority wholesale, and its (epoch, seq) remembered. A zone that fails the
 *   checks in zone-codec.ts is rejected (the previous version stays) and counted; dropped values
 *   are logged. A snapshot of the same epoch older than the deltas already applied is skipped
 *   (snapshots and deltas travel separately, JetStream vs core subjects, so either may come first);
 *   one of exactly the version served (every delta it includes already applied, the usual case:
 *   the snapshot follows its deltas) changes nothing and is skipped, unless more than
 *   {@link REBASE_OVER} names changed since the zone's base (then it becomes the new base, which
 *   bounds the authority's per-name change overlay).
 * - Deltas (zone-delta.ts, core subject `dns.delta.>`, sent at once on each change): a delta of the
 *   remembered epoch with seq = last + 1 is applied in place (Authority.applyChanges); seq ≤ last is
 *   a repeat and ignored; a gap, another epoch, or no snapshot yet means the delta cannot be applied:
 *   it is kept in a small per-zone buffer (at most {@link PENDING_MAX}, oldest dropped) and counted.
 *   The next snapshot (≤ 1 s later) replaces the zone, and buffered deltas that follow it directly
 *   are applied then (counted again as `late`), so a delta that overtook its snapshot is not lost. A delta that cannot be
 *   read is rejected and counted; the state accepted so far stays, and the hole it leaves in the
 *   seq sequence makes later deltas wait for the snapshot.
 */
import {
  counter,
  gauge,
  labelledChild,
  type Bus,
  type BusEvent,
  type KvStore,
  type KvWatch,
  type Logger,
  type Registry,
  type Subscription,
} from "@dcnet/core";
import type { Authority } from "./authority";
import { countRecords } from "./zone";
import { apexOfKey, decodeZoneShared } from "./zone-codec";
import { DELTA_SUBJECTS, decodeDeltaShared, type ZoneDelta } from "./zone-delta";

/** Deltas kept per zone while waiting for a snapshot to follow. */
export const PENDING_MAX = 256;
/** A snapshot of the version already served replaces the zone only when more names than this changed since its base. */
export const REBASE_OVER = 1024;

/** How a delta was taken (label `result` of `dns_zone_deltas_total`). */
export type DeltaResult = "applied" | "late" | "old" | "gap" | "epoch" | "early" | "rejected";

interface Track {
  /** Epoch and seq of what the authority serves (null epoch: a producer that sends no deltas). */
  epoch: string | null;
  seq: number;
}

export class ZoneSync {
  private watch: KvWatch | undefined;
  private sub: Subscription | undefined;
  private readonly revisions = new Map<string, number>();
  private readonly tracks = new Map<string, Track>();
  private readonly pending = new Map<string, ZoneDelta[]>();
  private readonly listeners: ((zone: string) => void)[] = [];
  private deltaCount: ((zone: string, result: DeltaResult) => void) | undefined;
  private recordGauge: ((zone: string, n: number | null, add: boolean) => void) | undefined;

  constructor(
    private readonly kv: KvStore,
    private readonly authority: Authority,
    private readonly deps: { logger: Logger; registry: Registry; bus?: Pick<Bus, "subscribe"> | undefined },
  ) {}

  /** Called after a zone from the bus was applied (snapshot or delta) or removed. */
  onApplied(cb: (zone: string) => void): void {
    this.listeners.push(cb);
  }

  /** Starts following; resolves when the zones present on the bus are being served. */
  async start(): Promise<void> {
    const { logger: log, registry } = this.deps;
    const rejected = counter(registry, "dns_zone_rejected_total", "Zones from the bus that failed the checks", ["zone"]);
    const records = gauge(registry, "dns_zone_records", "Records in each zone served", ["zone"]);
    const deltas = counter(registry, "dns_zone_deltas_total", "Zone deltas from the bus, by how they were taken", ["zone", "result"]);
    const deltaChild = labelledChild(deltas);
    this.deltaCount = (zone, result) => deltaChild(zone, result).inc();
    this.recordGauge = (zone, n, add) => {
      if (n === null) records.remove(zone);
      else if (add) records.labels(zone).inc(n);
      else records.labels(zone).set(n);
    };
    // Deltas first, so none published while the snapshots are read goes unseen (they wait in the buffer).
    if (this.deps.bus) this.sub = this.deps.bus.subscribe(DELTA_SUBJECTS, (ev) => this.onDelta(ev));
    this.watch = this.kv.watch(
      (change) => {
        if (change.op === "delete") {
          const apex = apexOfKey(change.key);
          if (apex === null) return;
          this.authority.removeZone(apex);
          this.revisions.delete(apex);
          this.tracks.delete(apex);
          this.pending.delete(apex);
          this.recordGauge!(apex, null, false);
          log.info({ zone: apex }, "zone removed from the bus");
          for (const l of this.listeners) l(apex);
          return;
        }
        const apex = apexOfKey(change.entry.key);
        if (apex === null) return;
        try {
          const d = decodeZoneShared(change.entry.value);
          if (d.zone.zone !== apex) throw new Error(`zone: key ${change.entry.key} holds ${d.zone.zone}`);
          if (d.dropped.length) log.warn({ zone: apex, dropped: d.dropped }, "zone values dropped");
          this.revisions.set(apex, change.entry.revision);
          const t = this.tracks.get(apex);
          if (t !== undefined && d.epoch !== null && t.epoch === d.epoch) {
            if (d.seq < t.seq) {
              log.debug({ zone: apex, seq: d.seq, serving: t.seq }, "snapshot older than the deltas applied; kept the newer state");
              return;
            }
            // The same version as served (its deltas all applied): nothing to change, unless the
            // changes held beside the base have grown enough to be worth folding into a new base.
            if (d.seq === t.seq && this.authority.changedNames(apex) <= REBASE_OVER) return;
          }
          this.authority.setZone(d.zone);
          this.tracks.set(apex, { epoch: d.epoch, seq: d.seq });
          this.recordGauge!(apex, countRecords(d.zone.records), false);
          log.debug({ zone: apex, revision: change.entry.revision, names: d.zone.records.size, seq: d.seq }, "zone applied");
          this.drain(apex);
          for (const l of this.listeners) l(apex);
        } catch (err) {
          rejected.labels(apex).inc();
          log.warn(
            { zone: apex, err: (err as Error).message, sender: change.entry.sender },
            "zone from the bus rejected; keeping the previous one",
          );
        }
      },
      { key: "zone.>", initial: true },
    );
    await this.watch.ready;
  }

  private onDelta(ev: BusEvent): void {
    const apex = apexOfKey(ev.subject.replace(/^dns\.delta\./, "zone."));
    if (apex === null) return;
    let delta: ZoneDelta;
    try {
      const d = decodeDeltaShared(ev.payload);
      if (d.delta.zone !== apex) throw new Error(`delta: subject ${ev.subject} carries ${d.delta.zone}`);
      if (d.dropped.length) this.deps.logger.warn({ zone: apex, seq: d.delta.seq, dropped: d.dropped }, "zone delta values dropped");
      delta = d.delta;
    } catch (err) {
      this.deltaCount!(apex, "rejected");
      this.deps.logger.warn({ zone: apex, err: (err as Error).message, sender: ev.sender }, "zone delta from the bus rejected");
      return;
    }
    const t = this.tracks.get(apex);
    const result: DeltaResult =
      t === undefined
        ? "early"
        : t.epoch !== delta.epoch
          ? "epoch"
          : delta.seq <= t.seq
            ? "old"
            : delta.seq > t.seq + 1
              ? "gap"
              : this.apply(apex, delta, t)
                ? "applied"
                : "early";
    this.deltaCount!(apex, result);
    if (result === "applied") for (const l of this.listeners) l(apex);
    else if (result !== "old") this.keep(apex, delta);
  }

  /** Applies the delta that directly follows `t`; false when the authority does not hold the zone. */
  private apply(apex: string, d: ZoneDelta, t: Track): boolean {
    const change = this.authority.applyChanges(apex, d.set, d.del);
    if (change === null) return false;
    t.seq = d.seq;
    this.recordGauge!(apex, change, true);
    return true;
  }

  private keep(apex: string, d: ZoneDelta): void {
    let list = this.pending.get(apex);
    if (list === undefined) this.pending.set(apex, (list = []));
    list.push(d);
    if (list.length > PENDING_MAX) list.shift();
  }

  /** After a snapshot: applies the buffered deltas that follow it directly; drops those it includes or that belong to another epoch. */
  private drain(apex: string): void {
    const list = this.pending.get(apex);
    const t = this.tracks.get(apex);
    if (list === undefined || t === undefined) return;
    const later = list.filter((d) => d.epoch === t.epoch && d.seq > t.seq).sort((x, y) => x.seq - y.seq);
    let i = 0;
    for (; i < later.length && later[i]!.seq === t.seq + 1; i++) {
      if (!this.apply(apex, later[i]!, t)) break;
      this.deltaCount!(apex, "late");
    }
    const rest = later.slice(i);
    if (rest.length > 0) this.pending.set(apex, rest);
    else this.pending.delete(apex);
  }

  revision(zone: string): number | undefined {
    return this.revisions.get(zone);
  }

  /** The epoch and seq of what is served for a zone. */
  version(zone: string): { epoch: string | null; seq: number } | undefined {
    const t = this.tracks.get(zone);
    return t ? { ...t } : undefined;
  }

  stop(): void {
    this.sub?.unsubscribe();
    this.watch?.stop();
  }
}
