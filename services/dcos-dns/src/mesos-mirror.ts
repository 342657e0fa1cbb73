/**
 * `mesos.thisdcos.directory`, the mirror of Mesos-DNS (§3.5). Upstream polls `/v1/axfr` every 30 s;
 * we follow Mesos-DNS's gRPC `Watch` stream (a snapshot, then each reload's difference), so a new
 * task's `.mesos` records reach the mirror as soon as Mesos-DNS has them. Each name's `.<domain>.`
 * suffix becomes `.mesos.thisdcos.directory.`, SRV targets likewise.
 */
import * as grpc from "@grpc/grpc-js";
import { serverStream, type Logger } from "@dcnet/core";
import { mesosdnsv1 } from "@dcnet/proto";
import { type RecordValues, type ZoneData, MESOS_ZONE } from "./zone";

export interface MesosMirrorOptions {
  /** Mesos-DNS gRPC address, `host:port`. */
  target: string;
  /** Mesos-DNS domain (default `mesos`). */
  domain?: string;
  logger: Logger;
  retryMs?: number;
}

export class MesosMirror {
  private readonly values = new Map<string, { a: Set<string>; aaaa: Set<string>; srv: Set<string> }>();
  private readonly suffix: string;
  private ac: AbortController | undefined;
  private client: mesosdnsv1.MesosDnsServiceClient | undefined;
  private listener: ((z: ZoneData) => void) | undefined;
  private synced = false;

  constructor(private readonly opts: MesosMirrorOptions) {
    this.suffix = "." + (opts.domain ?? "mesos").toLowerCase().replace(/^\.|\.$/g, "") + ".";
  }

  onChange(cb: (z: ZoneData) => void): void {
    this.listener = cb;
  }

  /** True once a snapshot has been received (the zone is complete). */
  ready(): boolean {
    return this.synced;
  }

  start(): void {
    if (this.ac) return;
    this.ac = new AbortController();
    this.client = new mesosdnsv1.MesosDnsServiceClient(this.opts.target, grpc.credentials.createInsecure());
    void this.loop(this.ac.signal);
  }

  stop(): void {
    this.ac?.abort();
    this.ac = undefined;
    this.client?.close();
    this.client = undefined;
  }

  zone(): ZoneData {
    const records = new Map<string, RecordValues>();
    for (const [name, v] of this.values) {
      const r: RecordValues = {};
      if (v.a.size) r.a = [...v.a];
      if (v.aaaa.size) r.aaaa = [...v.aaaa];
      for (const s of v.srv) {
        const i = s.lastIndexOf(":");
        (r.srv ??= []).push({ target: this.rename(s.slice(0, i)) ?? s.slice(0, i), port: Number(s.slice(i + 1)) });
      }
      records.set(name, r);
    }
    return { zone: MESOS_ZONE, records };
  }

  private rename(name: string): string | null {
    const n = name.toLowerCase().endsWith(".") ? name.toLowerCase() : name.toLowerCase() + ".";
    if (n.endsWith(this.suffix)) return n.slice(0, n.length - this.suffix.length) + "." + MESOS_ZONE;
    if ("." + n === this.suffix) return MESOS_ZONE;
    return null;
  }

  private apply(records: mesosdnsv1.Record[], add: boolean): void {
    for (const rec of records) {
      const name = this.rename(rec.name);
      if (name === null) continue;
      let v = this.values.get(name);
      if (!v) {
        if (!add) continue;
        this.values.set(name, (v = { a: new Set(), aaaa: new Set(), srv: new Set() }));
      }
      const set = rec.type === "A" ? v.a : rec.type === "AAAA" ? v.aaaa : rec.type === "SRV" ? v.srv : null;
      if (!set) continue;
      if (add) set.add(rec.value);
      else set.delete(rec.value);
      if (v.a.size + v.aaaa.size + v.srv.size === 0) this.values.delete(name);
    }
  }

  private async loop(signal: AbortSignal): Promise<void> {
    let backoff = 500;
    while (!signal.aborted) {
      try {
        const c = this.client!;
        for await (const ev of serverStream(c.watch.bind(c), {}, { signal })) {
          if (ev.kind === mesosdnsv1.ChangeKind.CHANGE_KIND_SNAPSHOT) {
            this.values.clear();
            this.synced = true;
          }
          this.apply(ev.removed, false);
          this.apply(ev.added, true);
          backoff = 500;
          if (this.synced) this.listener?.(this.zone());
        }
      } catch (err) {
        if (signal.aborted) return;
        this.opts.logger.debug({ err: (err as Error).message, target: this.opts.target }, "Mesos-DNS watch ended");
      }
      if (signal.aborted) return;
      await new Promise((r) => setTimeout(r, backoff));
      backoff = Math.min(backoff * 2, this.opts.retryMs ?? 10_000);
    }
  }
}
