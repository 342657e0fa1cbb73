/**
 * Named-VIP addresses made durable on the bus, so every node uses the same address for a name
 * even when hashes collide (spec §4.4 allocates per node and can disagree; we do not).
 *
 * Two keys per claim, in the bucket the caller passes:
 *
 *     l4lb.vipip.<ip>                 → name   (who owns the address; IPv6 with ":" written "-")
 *     l4lb.vipname.ipv4|ipv6.<name>   → ip     (the name's address; the name escaped, see escapeName)
 *
 * Both are written with create-if-absent. `vipip` is the lock on an address: whoever creates it
 * owns it. `vipname` is the answer for a name: the first claim to create it wins, and every
 * later claim for the name returns it. A claim walks the name's probe order (allocate.ts),
 * reserving the first free address, then tries to publish it as the name's answer; losing that
 * race gives the reservation back. So two names never share an address (one `vipip` key each)
 * and one name never has two answers (one `vipname` key).
 *
 * Release (a name whose VIP has had no backends anywhere for a grace period): `vipname` is
 * deleted first, then `vipip` if it still names the name. A claim that sees a `vipname` whose
 * `vipip` is missing recreates it, and one whose `vipip` names another name (possible only when a
 * release raced a claim) moves the name with compare-and-set. Claims run again on every
 * reconcile, so such a repair is picked up by every node within a reconcile period.
 */
import { Code, ConflictError, DcnetError, type KvStore } from "@dcnet/core";
import { probeOrder, vipRange, type VipRange } from "./allocate";
import { canonicalIp, type Family } from "./ip";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A name as one or more key tokens: `[a-zA-Z0-9-]` kept, every other byte `_xx`; `.` kept between non-empty tokens. */
export function escapeName(name: string): string {
  if (name === "") throw new DcnetError(Code.INVALID_ARGUMENT, "a VIP name cannot be empty", { field: "name" });
  const esc = (s: string): string =>
    [...enc.encode(s)]
      .map((b) => {
        const c = String.fromCharCode(b);
        return /[a-zA-Z0-9-]/.test(c) ? c : `_${b.toString(16).padStart(2, "0")}`;
      })
      .join("");
  const parts = name.split(".");
  if (parts.some((p) => p === "")) return esc(name);
  return parts.map(esc).join(".");
}

export function unescapeName(escaped: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < escaped.length; i++) {
    const c = escaped[i]!;
    if (c === "_") {
      bytes.push(parseInt(escaped.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(c.charCodeAt(0));
  }
  return dec.decode(Uint8Array.from(bytes));
}

export const VIP_KEY_PREFIX = "l4lb.";

export const vipKeys = {
  ip: (ip: string): string => `l4lb.vipip.${(canonicalIp(ip) ?? ip).replace(/:/g, "-")}`,
  name: (name: string, family: Family): string => `l4lb.vipname.ipv${family}.${escapeName(name)}`,
  /** Filter for every name mapping of a family. */
  names: (family: Family): string => `l4lb.vipname.ipv${family}.>`,
};

export interface ClaimOptions {
  /** The range for the family (default 11.0.0.0–11.255.255.254 / fd01:c::/64). */
  range?: VipRange;
  /** Addresses tried before giving up with RESOURCE_EXHAUSTED (default 4096). */
  maxProbes?: number;
}

const text = (v: Uint8Array): string => dec.decode(v);

async function createOr(kv: KvStore, key: string, value: string): Promise<boolean> {
  try {
    await kv.create(key, enc.encode(value));
    return true;
  } catch (err) {
    if (err instanceof ConflictError) return false;
    throw err;
  }
}

/** Reserves the first address of `name`'s order whose `vipip` key is free (or already names `name`). */
async function reserve(kv: KvStore, name: string, range: VipRange, maxProbes: number): Promise<string> {
  let n = 0;
  for (const ip of probeOrder(name, range)) {
    if (n++ >= maxProbes) break;
    if (await createOr(kv, vipKeys.ip(ip), name)) return ip;
    const owner = await kv.get(vipKeys.ip(ip));
    if (owner && text(owner.value) === name) return ip;
  }
  throw new DcnetError(Code.RESOURCE_EXHAUSTED, `no free VIP address for "${name}" after ${Math.min(n, maxProbes)} tries in its range`);
}

/** Gives a reservation back if it is still `name`'s. */
async function unreserve(kv: KvStore, name: string, ip: string): Promise<void> {
  const owner = await kv.get(vipKeys.ip(ip));
  if (owner && text(owner.value) === name) await kv.delete(vipKeys.ip(ip));
}

/** The address published for `name`, without claiming. */
export async function lookupVipAddress(kv: KvStore, name: string, family: Family): Promise<string | undefined> {
  const e = await kv.get(vipKeys.name(name, family));
  return e && text(e.value);
}

/**
 * The address of `name` in `family`, claiming one if it has none. Idempotent: the same name
 * gets the same address on every node, and concurrent claims for different names never get the
 * same address.
 */
export async function claimVipAddress(kv: KvStore, name: string, family: Family, options: ClaimOptions = {}): Promise<string> {
  const range = options.range ?? vipRange(family);
  if (range.family !== family) throw new DcnetError(Code.INVALID_ARGUMENT, `the range is IPv${range.family}, not IPv${family}`);
  const maxProbes = options.maxProbes ?? 4096;
  const nameKey = vipKeys.name(name, family);
  for (let attempt = 0; attempt < 8; attempt++) {
    const current = await kv.get(nameKey);
    if (current) {
      const ip = text(current.value);
      const owner = await kv.get(vipKeys.ip(ip));
      if (owner && text(owner.value) === name) return ip;
      if (!owner) {
        if (await createOr(kv, vipKeys.ip(ip), name)) return ip;
        continue; // taken meanwhile: look again
      }
      // The address belongs to another name (a release raced a claim): move this name.
      const next = await reserve(kv, name, range, maxProbes);
      try {
        await kv.update(nameKey, enc.encode(next), current.revision);
        return next;
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
        await unreserve(kv, name, next);
        continue;
      }
    }
    const ip = await reserve(kv, name, range, maxProbes);
    if (await createOr(kv, nameKey, ip)) return ip;
    const winner = await lookupVipAddress(kv, name, family);
    if (winner !== ip) await unreserve(kv, name, ip);
  }
  throw new DcnetError(Code.ABORTED, `could not settle an address for "${name}" (too much contention)`);
}

/**
 * Releases `name`'s address: `vipname` first, then `vipip` if it still names `name`. Returns
 * the released address. Call only after the VIP has had no backends for the grace period
 * ({@link createReleaseTracker}).
 */
export async function releaseVipAddress(kv: KvStore, name: string, family: Family): Promise<string | undefined> {
  const ip = await lookupVipAddress(kv, name, family);
  if (ip === undefined) return undefined;
  await kv.delete(vipKeys.name(name, family));
  await unreserve(kv, name, ip);
  return ip;
}

/** Every name with an address in `family`, from the keys. */
export async function claimedNames(kv: KvStore, family: Family): Promise<string[]> {
  const prefix = `l4lb.vipname.ipv${family}.`;
  return (await kv.keys(vipKeys.names(family))).map((k) => unescapeName(k.slice(prefix.length))).sort();
}

export interface ReleaseTracker {
  /**
   * Feeds the names that have an address (`claimed`) and those whose VIP has backends somewhere
   * (`inUse`); returns the claimed names unused for at least the grace period, to release now.
   * A name first seen unused starts its grace period then (so a restarted node waits a full period).
   */
  due(claimed: Iterable<string>, inUse: ReadonlySet<string>, nowMs: number): string[];
}

/** Default grace: 10 minutes (see README: longer than DNS caching, redeploys and bus lag). */
export const DEFAULT_RELEASE_GRACE_MS = 10 * 60_000;

export function createReleaseTracker(graceMs = DEFAULT_RELEASE_GRACE_MS): ReleaseTracker {
  const unusedSince = new Map<string, number>();
  return {
    due(claimed, inUse, nowMs) {
      const seen = new Set<string>();
      const out: string[] = [];
      for (const name of claimed) {
        seen.add(name);
        if (inUse.has(name)) {
          unusedSince.delete(name);
          continue;
        }
        const since = unusedSince.get(name) ?? nowMs;
        unusedSince.set(name, since);
        if (nowMs - since >= graceMs) out.push(name);
      }
      for (const name of unusedSince.keys()) if (!seen.has(name)) unusedSince.delete(name);
      return out.sort();
    },
  };
}
