/**
 * Every node: follows the zones on the bus (KV bucket `dns`, keys `zone.*`) and swaps each one
 * into the authority wholesale. A zone that fails the checks in zone-codec.ts is rejected (the
 * previous version stays) and counted; dropped values are logged.
 */
import { counter, gauge, type KvStore, type KvWatch, type Logger, type Registry } from "@dcnet/core";
import type { Authority } from "./authority";
import { countRecords } from "./zone";
import { apexOfKey, decodeZoneShared } from "./zone-codec";

export class ZoneSync {
  private watch: KvWatch | undefined;
  private readonly revisions = new Map<string, number>();
  private readonly listeners: ((zone: string) => void)[] = [];

  constructor(
    private readonly kv: KvStore,
    private readonly authority: Authority,
    private readonly deps: { logger: Logger; registry: Registry },
  ) {}

  /** Called after a zone from the bus was applied or removed. */
  onApplied(cb: (zone: string) => void): void {
    this.listeners.push(cb);
  }

  /** Starts following; resolves when the zones present on the bus are being served. */
  async start(): Promise<void> {
    const { logger: log, registry } = this.deps;
    const rejected = counter(registry, "dns_zone_rejected_total", "Zones from the bus that failed the checks", ["zone"]);
    const records = gauge(registry, "dns_zone_records", "Records in each zone served", ["zone"]);
    this.watch = this.kv.watch(
      (change) => {
        if (change.op === "delete") {
          const apex = apexOfKey(change.key);
          if (apex === null) return;
          this.authority.removeZone(apex);
          this.revisions.delete(apex);
          records.remove(apex);
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
          this.authority.setZone(d.zone);
          this.revisions.set(apex, change.entry.revision);
          records.labels(apex).set(countRecords(d.zone.records));
          log.debug({ zone: apex, revision: change.entry.revision, names: d.zone.records.size }, "zone applied");
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

  revision(zone: string): number | undefined {
    return this.revisions.get(zone);
  }

  stop(): void {
    this.watch?.stop();
  }
}
