import { EventEmitter } from "node:events";
import { ConflictError, type KvStore, type Logger } from "@dcnet/core";
import { keys, type LeaderLease } from "../model/kv-layout";

/**
 * Leader election among masters with a lease in the bus KV: the holder renews
 * it every `renewMs` with compare-and-set; when it lapses (`leaseMs` without a
 * renewal) another master takes it over, also with compare-and-set, so two
 * masters never both win. A master that stops gracefully gives the lease up.
 */
export class LeaderElection extends EventEmitter {
  private timer: NodeJS.Timeout | undefined;
  private current: LeaderLease | undefined;
  private leading = false;
  private ticking: Promise<void> | undefined;

  constructor(
    private readonly kv: KvStore,
    private readonly me: Omit<LeaderLease, "electedAt" | "expiresAt">,
    private readonly opts: { leaseMs: number; renewMs: number; log: Logger; now?: () => number },
  ) {
    super();
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** The lease as last read (the leader's addresses), while it is valid. */
  get lease(): LeaderLease | undefined {
    if (this.current && !this.leading && this.current.expiresAt <= this.now()) return undefined; // lapsed: no known leader
    return this.current;
  }

  async start(): Promise<void> {
    await this.tick();
    this.timer = setInterval(() => {
      this.ticking ??= this.tick().finally(() => (this.ticking = undefined));
    }, this.opts.renewMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.ticking;
    if (this.leading) {
      const e = await this.kv.get(keys.leader).catch(() => undefined);
      if (e && (JSON.parse(Buffer.from(e.value).toString()) as LeaderLease).masterId === this.me.masterId) {
        await this.kv.delete(keys.leader).catch(() => undefined);
      }
      this.setLeading(false);
    }
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  private async tick(): Promise<void> {
    try {
      const now = this.now();
      const entry = await this.kv.get(keys.leader);
      const held = entry ? (JSON.parse(Buffer.from(entry.value).toString()) as LeaderLease) : undefined;
      const mine = held?.masterId === this.me.masterId;
      if (held && !mine && held.expiresAt > now) {
        this.current = held;
        this.setLeading(false);
        return;
      }
      const lease: LeaderLease = { ...this.me, electedAt: mine && held ? held.electedAt : now, expiresAt: now + this.opts.leaseMs };
      const value = Buffer.from(JSON.stringify(lease));
      if (entry) await this.kv.update(keys.leader, value, entry.revision);
      else await this.kv.create(keys.leader, value);
      this.current = lease;
      this.setLeading(true);
    } catch (err) {
      if (err instanceof ConflictError) {
        this.setLeading(false); // someone else won this round: learn who
        const e = await this.kv.get(keys.leader).catch(() => undefined);
        this.current = e ? (JSON.parse(Buffer.from(e.value).toString()) as LeaderLease) : undefined;
        return;
      }
      this.opts.log.warn({ err }, "leader election: bus error");
      // Without the bus we cannot know whether the lease still holds: step down once it would have lapsed.
      if (this.leading && this.current && this.current.expiresAt <= this.now()) this.setLeading(false);
    }
  }

  private setLeading(leading: boolean): void {
    if (leading === this.leading) return;
    this.leading = leading;
    this.opts.log.info({ master: this.me.masterId, leading }, leading ? "elected leader" : "not the leader");
    this.emit(leading ? "elected" : "demoted");
  }
}
