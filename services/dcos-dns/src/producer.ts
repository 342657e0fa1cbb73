/**
 * The zone producer (§3.5, §3.7), on masters: while the local Mesos master leads, builds
 * `dcos.thisdcos.directory` from the master's Operator API stream and mirrors Mesos-DNS into
 * `mesos.thisdcos.directory`, and publishes both through the rate-limited publisher.
 *
 * - The stream (packages/mesos) hands over a view only once it is complete after a (re)subscribe
 *   (readiness gating, DCOS_OSS-5463), so a leader change never publishes a half-empty zone.
 * - On stream loss nothing is published (the zones on the bus stay as they were, §3.7).
 * - A master that does not lead follows the stream too but publishes nothing: only the producer
 *   whose own master leads writes, so two masters never fight over a zone.
 */
import { createMasterStream, type MasterStream, type MasterView } from "@dcnet/mesos";
import type { Logger } from "@dcnet/core";
import type { MesosMirror } from "./mesos-mirror";
import { dcosZone } from "./task-records";
import type { ZonePublisher } from "./zone-publisher";

export interface ProducerOptions {
  /** Mesos masters' API addresses (`ip:port`), local one included. */
  masters: readonly string[];
  /** This node's master (`ip:port`): we publish only while it leads. */
  self: string;
  /** IPs for `master.dcos.thisdcos.directory`. */
  masterIps: () => readonly string[];
  publisher: ZonePublisher;
  mirror?: MesosMirror | undefined;
  logger: Logger;
  headers?: Record<string, string>;
  recoveryTimeoutMs?: number;
  settleMs?: number;
  retryMinMs?: number;
  retryMaxMs?: number;
  connectTimeoutMs?: number;
}

export class ZoneProducer {
  private stream: MasterStream | undefined;
  private leading = false;
  private last: { view: MasterView; leader: string } | undefined;

  constructor(private readonly opts: ProducerOptions) {}

  isLeading(): boolean {
    return this.leading;
  }

  start(): void {
    const o = this.opts;
    const stream = createMasterStream({
      masters: [...o.masters],
      logger: o.logger,
      ...(o.headers ? { headers: o.headers } : {}),
      ...(o.recoveryTimeoutMs !== undefined ? { recoveryTimeoutMs: o.recoveryTimeoutMs } : {}),
      ...(o.settleMs !== undefined ? { settleMs: o.settleMs } : {}),
      ...(o.retryMinMs !== undefined ? { retryMinMs: o.retryMinMs } : {}),
      ...(o.retryMaxMs !== undefined ? { retryMaxMs: o.retryMaxMs } : {}),
      ...(o.connectTimeoutMs !== undefined ? { connectTimeoutMs: o.connectTimeoutMs } : {}),
    });
    stream.onChange((view, leader) => {
      const was = this.leading;
      this.leading = sameHost(leader, o.self);
      this.last = { view, leader };
      if (this.leading !== was) o.logger.info({ leader, self: o.self, producing: this.leading }, "zone producer leadership");
      // Another producer may have written the zones meanwhile: number our deltas afresh after a snapshot.
      if (this.leading && !was) o.publisher.newEpoch();
      if (this.leading) this.publishDcos();
      if (this.leading && !was && o.mirror?.ready()) o.publisher.offer(o.mirror.zone());
    });
    stream.onLost(() => {
      if (this.leading) o.logger.warn("master stream lost: zones on the bus are kept as they are until the stream is back");
      this.leading = false;
    });
    o.mirror?.onChange((z) => {
      if (this.leading) o.publisher.offer(z);
    });
    o.mirror?.start();
    stream.start();
    this.stream = stream;
  }

  /** Re-publishes `dcos.thisdcos.directory` (e.g. after the master list changed). */
  publishDcos(): void {
    if (!this.leading || !this.last) return;
    const leaderIp = hostOf(this.last.leader);
    this.opts.publisher.offer(dcosZone(this.last.view.tasks.values(), this.opts.masterIps(), leaderIp));
  }

  async stop(): Promise<void> {
    this.opts.mirror?.stop();
    await this.stream?.stop();
  }
}

function hostOf(hostPort: string): string {
  const s = hostPort.replace(/^https?:\/\//, "").replace(/\/.*$/, "");
  if (s.startsWith("[")) return s.slice(1, s.indexOf("]"));
  const i = s.lastIndexOf(":");
  return i > 0 && s.indexOf(":") === i ? s.slice(0, i) : s;
}

function sameHost(a: string, b: string): boolean {
  const norm = (s: string) => s.replace(/^https?:\/\//, "").replace(/\/.*$/, "");
  return norm(a) === norm(b);
}
