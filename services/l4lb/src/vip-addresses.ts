/**
 * Named-VIP addresses as this node sees them: a watch on the claim keys of vip-claims.ts
 * (`l4lb.vipname.ipv4|ipv6.<name>` → ip, `l4lb.vipip.<ip>` → name, bucket `l4lb`) gives every
 * name's address without a bus round trip; `ensure` claims (claimVipAddress, create-if-absent) the
 * names that have backends but no consistent claim; `releaseDue` gives back, after the grace
 * period, the addresses of names whose VIP has had no backends anywhere (createReleaseTracker).
 *
 * A claim is consistent when `vipname` names an address whose `vipip` names the name back; only
 * those are used. Anything else (missing `vipip`, an address moved by a racing release) is repaired
 * by claiming again, which claimVipAddress does idempotently.
 */
import type { KvStore, KvWatch, Logger } from "@dcnet/core";
import type { VipRange } from "./allocate";
import { canonicalIp, type Family } from "./ip";
import { claimVipAddress, createReleaseTracker, releaseVipAddress, unescapeName, type ReleaseTracker } from "./vip-claims";

const NAME_PREFIX = "l4lb.vipname.ipv";
const IP_PREFIX = "l4lb.vipip.";
const dec = new TextDecoder();

export interface VipAddressesOptions {
  ranges: { 4: VipRange; 6: VipRange };
  graceMs: number;
  logger: Logger;
  /** Names whose address (in some family) changed. */
  onChange: (names: ReadonlySet<string>) => void;
  /** Claims in flight at once (default 8). */
  concurrency?: number;
  onClaimFailed?: (name: string, family: Family, err: Error) => void;
}

const nk = (name: string, family: Family): string => `${family}|${name}`;

export class VipAddresses {
  /** `family|name` → the address vipname gives. */
  private readonly names = new Map<string, string>();
  /** ip (canonical) → the name vipip gives. */
  private readonly owners = new Map<string, string>();
  private readonly inflight = new Set<string>();
  /** `family|name` → the error text already logged (logged once until the claim works). */
  private readonly failed = new Map<string, string>();
  private readonly trackers: Record<Family, ReleaseTracker>;
  private watch: KvWatch | undefined;
  private stopped = false;

  constructor(
    private readonly kv: KvStore,
    private readonly opts: VipAddressesOptions,
  ) {
    this.trackers = { 4: createReleaseTracker(opts.graceMs), 6: createReleaseTracker(opts.graceMs) };
  }

  async start(): Promise<void> {
    this.watch = this.kv.watch(
      (c) => {
        const key = c.op === "put" ? c.entry.key : c.key;
        const value = c.op === "put" ? dec.decode(c.entry.value) : undefined;
        const changed = new Set<string>();
        if (key.startsWith(NAME_PREFIX)) {
          const family = Number(key.charAt(NAME_PREFIX.length)) as Family;
          if (family !== 4 && family !== 6) return;
          const name = unescapeName(key.slice(NAME_PREFIX.length + 2));
          if (value === undefined) this.names.delete(nk(name, family));
          else this.names.set(nk(name, family), canonicalIp(value) ?? value);
          changed.add(name);
        } else if (key.startsWith(IP_PREFIX)) {
          const ip = canonicalIp(key.slice(IP_PREFIX.length).replace(/-/g, ":"));
          if (ip === undefined) return;
          const before = this.owners.get(ip);
          if (value === undefined) this.owners.delete(ip);
          else this.owners.set(ip, value);
          if (before !== undefined) changed.add(before);
          if (value !== undefined) changed.add(value);
        } else return;
        if (changed.size > 0) this.opts.onChange(changed);
      },
      { key: "l4lb.>", initial: true },
    );
    await this.watch.ready;
  }

  stop(): void {
    this.stopped = true;
    this.watch?.stop();
  }

  /** The consistent address of `name` in `family`, if it has one. */
  address(name: string, family: Family): string | undefined {
    const ip = this.names.get(nk(name, family));
    return ip !== undefined && this.owners.get(ip) === name ? ip : undefined;
  }

  /** Every name with an address (claim keys present) in `family`. */
  claimed(family: Family): string[] {
    const out: string[] = [];
    for (const k of this.names.keys()) if (k.startsWith(`${family}|`)) out.push(k.slice(2));
    return out;
  }

  /**
   * Claims addresses for the wanted names that have no consistent one (skipping those in flight).
   * Resolves when these claims are done; errors are logged once per name and reported, never thrown.
   * Returns the names that got (or confirmed) an address.
   */
  async ensure(wanted: Iterable<{ name: string; family: Family }>): Promise<Set<string>> {
    const todo: { name: string; family: Family }[] = [];
    for (const w of wanted) {
      const k = nk(w.name, w.family);
      if (this.address(w.name, w.family) !== undefined || this.inflight.has(k)) continue;
      this.inflight.add(k);
      todo.push(w);
    }
    const done = new Set<string>();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < todo.length && !this.stopped) {
        const { name, family } = todo[next++]!;
        const k = nk(name, family);
        try {
          const ip = await claimVipAddress(this.kv, name, family, { range: this.opts.ranges[family] });
          // The watch will say the same; knowing it now saves a round of waiting.
          this.names.set(k, ip);
          this.owners.set(ip, name);
          done.add(name);
          if (this.failed.delete(k)) this.opts.logger.info({ name, family, ip }, "named VIP address claimed after earlier failures");
          else this.opts.logger.info({ name, family, ip }, "named VIP address claimed");
        } catch (err) {
          const e = err as Error;
          this.opts.onClaimFailed?.(name, family, e);
          if (this.failed.get(k) !== e.message) {
            this.failed.set(k, e.message);
            this.opts.logger.warn({ name, family, err: e.message }, "named VIP address claim failed (retried every reconcile)");
          }
        } finally {
          this.inflight.delete(k);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.opts.concurrency ?? 8, todo.length) }, worker));
    if (done.size > 0) this.opts.onChange(done);
    return done;
  }

  /** Releases the addresses of claimed names not in use (per family) for the whole grace period. */
  async releaseDue(inUse: Record<Family, ReadonlySet<string>>, nowMs: number): Promise<{ name: string; family: Family; ip: string }[]> {
    const out: { name: string; family: Family; ip: string }[] = [];
    for (const family of [4, 6] as const) {
      for (const name of this.trackers[family].due(this.claimed(family), inUse[family], nowMs)) {
        if (this.stopped) return out;
        try {
          const ip = await releaseVipAddress(this.kv, name, family);
          if (ip !== undefined) {
            out.push({ name, family, ip });
            this.opts.logger.info({ name, family, ip }, "named VIP address released (no backends for the grace period)");
          }
        } catch (err) {
          this.opts.logger.warn({ name, family, err: (err as Error).message }, "named VIP address release failed (retried)");
        }
      }
    }
    return out;
  }
}
