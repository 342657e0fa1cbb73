/**
 * `l4lb.thisdcos.directory`, derived on every node from the l4lb VIP table on the bus (§3.5, §4.4):
 * for each named VIP that has backends in some agent's `backends.<agent>` document, the address
 * the cluster claimed for it (`l4lb.vipname.ipv4|ipv6.<name>`) → `<name>.l4lb.thisdcos.directory`
 * A / AAAA, name = domain_frag(`<label>.<framework>`). Nothing is published: every node computes
 * the same zone from the same keys, as dcos-net does from its VIP table.
 *
 * An address is served only while its lock key (`l4lb.vipip.<ip>`) names the same name, the rule
 * l4lb's data plane follows (vip-addresses.ts): in the moment a release races a claim, `vipname`
 * can still point at an address another name now owns, and DNS must not send clients there.
 */
import type { KvStore, KvWatch, Logger } from "@dcnet/core";
import { unescapeName, vipDnsName, vipKeys } from "@dcnet/l4lb";
import { type RecordValues, type ZoneData, L4LB_ZONE } from "./zone";

export const L4LB_BUCKET = "l4lb";
const NAME_PREFIX = "l4lb.vipname.ipv";
const OWNER_PREFIX = "l4lb.vipip.";

interface NamedVip {
  name: string;
  framework: string;
}

export class L4lbZone {
  /** backends key → the DNS names (domain_frag) of the named VIPs it has backends for. */
  private readonly byAgent = new Map<string, Set<string>>();
  /** `4|name` / `6|name` → address. */
  private readonly claims = new Map<string, string>();
  /** `l4lb.vipip.<ip>` key → the name that owns the address. */
  private readonly owners = new Map<string, string>();
  private watch: KvWatch | undefined;
  private scheduled = false;

  constructor(
    private readonly kv: KvStore,
    private readonly opts: { logger: Logger; onZone: (z: ZoneData) => void },
  ) {}

  async start(): Promise<void> {
    this.watch = this.kv.watch(
      (change) => {
        const key = change.op === "put" ? change.entry.key : change.key;
        if (key.startsWith("backends.")) {
          if (change.op === "delete") this.byAgent.delete(key);
          else this.byAgent.set(key, this.namesOf(change.entry.value, key));
        } else if (key.startsWith(NAME_PREFIX)) {
          const family = key.charAt(NAME_PREFIX.length);
          const name = unescapeName(key.slice(NAME_PREFIX.length + 2));
          if (change.op === "delete") this.claims.delete(`${family}|${name}`);
          else this.claims.set(`${family}|${name}`, Buffer.from(change.entry.value).toString());
        } else if (key.startsWith(OWNER_PREFIX)) {
          if (change.op === "delete") this.owners.delete(key);
          else this.owners.set(key, Buffer.from(change.entry.value).toString());
        } else return;
        this.schedule();
      },
      { initial: true },
    );
    await this.watch.ready;
    this.emit();
  }

  stop(): void {
    this.watch?.stop();
  }

  zone(): ZoneData {
    const names = new Set<string>();
    for (const s of this.byAgent.values()) for (const n of s) names.add(n);
    const records = new Map<string, RecordValues>();
    for (const n of names) {
      const a = this.owned(n, this.claims.get(`4|${n}`));
      const aaaa = this.owned(n, this.claims.get(`6|${n}`));
      if (!a && !aaaa) continue;
      const r: RecordValues = {};
      if (a) r.a = [a];
      if (aaaa) r.aaaa = [aaaa];
      records.set(`${n}.${L4LB_ZONE}`, r);
    }
    return { zone: L4LB_ZONE, records };
  }

  /** `ip` when `name` owns it (its lock key names it), else undefined. */
  private owned(name: string, ip: string | undefined): string | undefined {
    return ip !== undefined && this.owners.get(vipKeys.ip(ip)) === name ? ip : undefined;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.emit();
    });
  }

  private emit(): void {
    this.opts.onZone(this.zone());
  }

  private namesOf(value: Uint8Array, key: string): Set<string> {
    const out = new Set<string>();
    try {
      const doc = JSON.parse(Buffer.from(value).toString()) as {
        vips?: { key?: { vip?: NamedVip & { kind?: string } }; backends?: unknown[] }[];
      };
      for (const v of doc.vips ?? []) {
        const vip = v.key?.vip;
        if (vip?.kind !== "name" || typeof vip.name !== "string" || typeof vip.framework !== "string") continue;
        if (!Array.isArray(v.backends) || v.backends.length === 0) continue;
        const n = vipDnsName(vip);
        if (n !== "" && !n.includes("..")) out.add(n.toLowerCase());
      }
    } catch (err) {
      this.opts.logger.warn({ key, err: (err as Error).message }, "unreadable l4lb backends document ignored");
    }
    return out;
  }
}
