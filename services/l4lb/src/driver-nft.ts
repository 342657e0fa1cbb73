/**
 * The nftables data plane driver (spec §4.3 without IPVS) on top of nft-render / nft-apply:
 *
 * - `apply(vips)`: compiles the table — incrementally: a VIP object seen before (or one whose
 *   backends are equal to the cached ones) reuses its slots, so a change costs what changed — and
 *   applies `renderDelta(kernel, next)` as ONE nft transaction. If that fails (the kernel is not
 *   what we think), the whole table is rebuilt with `renderFull` in one transaction (established
 *   connections keep their conntrack NAT). Local routes for VIP addresses (routes.ts): stale ones
 *   removed before the transaction, new ones added after, as upstream orders it.
 * - `reconcile()`: reads the table back (`nft -j list table`) and the routes, repairs any drift
 *   (delta when the read fits the model, full rebuild otherwise); resolves to the repairs made
 *   (VIP entries and dispatch chains that differed + routes added or removed). Run every
 *   `reconcileIntervalMs` (default 30 s; 0 = only when called).
 * - Creation checks that nft works here (NET_ADMIN) and fails with FAILED_PRECONDITION otherwise;
 *   it checks `net.ipv4.ip_forward` (and `net.ipv6.conf.all.forwarding`), which connections from
 *   bridge-mode task namespaces need: IPv4 forwarding is turned on when it is off (a clear warning
 *   when /proc/sys is read-only), IPv6 forwarding only reported (turning it on would make the
 *   kernel ignore router advertisements). Connections from the node itself work without them.
 *
 * Calls are serialised; DataplaneVip objects passed in must not be mutated afterwards (the compile
 * cache is keyed by them).
 */
import { spawn } from "node:child_process";
import { Code, DcnetError, counter, histogram, type Logger, type Registry } from "@dcnet/core";
import {
  dispatchChain,
  familyKey,
  sameSlot,
  slotsOf,
  vipEntryKey,
  type DataplaneBackend,
  type DataplaneState,
  type DataplaneVip,
  type FamilyState,
  type VipEntry,
} from "./dataplane";
import type { DataplaneDriver } from "./driver";
import { formatIp, parseIp, type Family } from "./ip";
import { createNft, type Nft } from "./nft-apply";
import { renderDelta, renderFull, type NftOptions } from "./nft-render";
import { createLocalRoutes, type LocalRoutes } from "./routes";

export interface NftDriverOptions extends NftOptions {
  logger: Logger;
  /** Run inside this network namespace (tests). */
  netns?: string;
  /** The nft binary (default `nft`). */
  nft?: string;
  /** Full reconcile period (default 30000 ms; 0 = only when `reconcile()` is called). */
  reconcileIntervalMs?: number;
  /** Manage local routes for VIP addresses (default true). */
  routes?: boolean;
  /** Routing protocol number of our routes (default 211). */
  routeProtocol?: number;
  /** Check (and try to set) the forwarding sysctls (default true). */
  checkSysctls?: boolean;
  /** Metrics: `l4lb_nft_duration_seconds`, `l4lb_routes_duration_seconds`, `l4lb_reconciled_{nft,routes}_total`. */
  registry?: Registry;
}

export interface NftDriver extends DataplaneDriver {
  readonly mode: "nft";
  /** Things that limit what works (sysctls); empty when all is well. */
  readonly warnings: readonly string[];
  /** What the kernel holds as far as we know (undefined before the first apply). */
  state(): DataplaneState | undefined;
  routes(): ReadonlySet<string>;
}

function exec(
  file: string,
  args: readonly string[],
  netns: string | undefined,
  input = "",
): Promise<{ code: number | null; out: string; err: string }> {
  const [f, a] = netns === undefined ? [file, args] : ["ip", ["netns", "exec", netns, file, ...args]];
  return new Promise((resolve) => {
    const child = spawn(f, a, { stdio: ["pipe", "pipe", "pipe"], timeout: 10_000, killSignal: "SIGKILL" });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
    child.on("error", (e) => resolve({ code: null, out, err: e.message }));
    child.on("close", (code) => resolve({ code, out, err }));
    child.stdin.on("error", () => undefined);
    child.stdin.end(input);
  });
}

/** Whether nft can list tables here (what `mode: auto` asks). */
export async function nftUsable(opts: { netns?: string; nft?: string } = {}): Promise<{ ok: boolean; reason: string }> {
  const r = await exec(opts.nft ?? "nft", ["list", "tables"], opts.netns);
  return r.code === 0 ? { ok: true, reason: "" } : { ok: false, reason: (r.err || `exit ${r.code}`).trim() };
}

/**
 * Reads a forwarding sysctl; when it is 0, sets it to 1 if `set` (a warning when that fails), or
 * just warns. Resolves to the warning, if any.
 */
async function checkSysctl(name: string, netns: string | undefined, why: string, set: boolean, log: Logger): Promise<string | undefined> {
  const path = `/proc/sys/${name.replace(/\./g, "/")}`;
  const read = await exec("cat", [path], netns);
  if (read.code !== 0) return undefined; // not there (e.g. IPv6 disabled in the kernel): nothing to say
  if (read.out.trim() !== "0") return undefined;
  if (!set) return `${name} is 0: ${why}; set sysctl ${name}=1 for the node if it has IPv6 VIPs`;
  const done = await exec("sh", ["-c", `echo 1 > ${path}`], netns);
  if (done.code === 0) {
    log.info({ sysctl: name }, `${name} was 0: set to 1 (${why.split(";")[0]})`);
    return undefined;
  }
  return `${name} is 0 and cannot be set here (${done.err.trim() || "read-only /proc/sys"}): ${why}; set sysctl ${name}=1 for the node (compose: sysctls)`;
}

interface Compiled {
  key: string;
  family: Family;
  entry: VipEntry;
  backends: readonly DataplaneBackend[];
}

const sameBackends = (a: readonly DataplaneBackend[], b: readonly DataplaneBackend[]): boolean =>
  a.length === b.length && a.every((x, i) => x.ip === b[i]!.ip && x.port === b[i]!.port && x.weight === b[i]!.weight);

/** VIP entries and dispatch chains that differ between two states (what a reconcile repairs). */
export function countDifferences(a: DataplaneState, b: DataplaneState): number {
  let n = 0;
  for (const fk of ["ipv4", "ipv6"] as const) {
    const x = a[fk] ?? { vips: new Map<string, VipEntry>(), slotChains: new Set<string>() };
    const y = b[fk] ?? { vips: new Map<string, VipEntry>(), slotChains: new Set<string>() };
    for (const [k, v] of x.vips) {
      const w = y.vips.get(k);
      if (!w || dispatchChain(v) !== dispatchChain(w) || v.slots.some((s, i) => !sameSlot(s, w.slots[i]))) n++;
    }
    for (const k of y.vips.keys()) if (!x.vips.has(k)) n++;
    for (const c of x.slotChains) if (!y.slotChains.has(c)) n++;
    for (const c of y.slotChains) if (!x.slotChains.has(c)) n++;
  }
  return n;
}

/**
 * `prev` and `next` cut down to the VIP entries that differ (by object: compiled entries are
 * reused for unchanged VIPs), so renderDelta does not walk 10,000 unchanged VIPs. A family that
 * appears or goes is kept whole (renderDelta creates or drops its table). `routesChanged` is false
 * when no VIP address/protocol/port came or went.
 */
export function touchedOnly(
  prev: DataplaneState,
  next: DataplaneState,
): { prev: DataplaneState; next: DataplaneState; keysChanged: boolean } {
  const p: DataplaneState = {};
  const n: DataplaneState = {};
  let keysChanged = false;
  for (const fk of ["ipv4", "ipv6"] as const) {
    const a = prev[fk];
    const b = next[fk];
    if (!a || !b) {
      if (a) p[fk] = a;
      if (b) n[fk] = b;
      if (a?.vips.size || b?.vips.size) keysChanged = true;
      continue;
    }
    const pa: FamilyState = { vips: new Map(), slotChains: a.slotChains };
    const nb: FamilyState = { vips: new Map(), slotChains: b.slotChains };
    for (const [k, e] of a.vips) {
      const f = b.vips.get(k);
      if (f === e) continue;
      pa.vips.set(k, e);
      if (f) nb.vips.set(k, f);
      else keysChanged = true;
    }
    for (const [k, f] of b.vips) {
      if (a.vips.has(k)) continue;
      nb.vips.set(k, f);
      keysChanged = true;
    }
    p[fk] = pa;
    n[fk] = nb;
  }
  return { prev: p, next: n, keysChanged };
}

export async function createNftDriver(opts: NftDriverOptions): Promise<NftDriver> {
  const log = opts.logger.child({ component: "nft-driver" });
  const usable = await nftUsable(opts);
  if (!usable.ok)
    throw new DcnetError(
      Code.FAILED_PRECONDITION,
      `nftables is not usable here (l4lb mode "nft" needs the nft binary and NET_ADMIN; use mode "userspace" without them): ${usable.reason}`,
    );
  const warnings: string[] = [];
  if (opts.checkSysctls ?? true) {
    const why = "VIP connections from bridge-mode task namespaces are not forwarded (the node's own connections work)";
    // IPv6 forwarding is only checked: turning it on makes the kernel ignore router advertisements (accept_ra).
    for (const [name, set] of [
      ["net.ipv4.ip_forward", true],
      ["net.ipv6.conf.all.forwarding", false],
    ] as const) {
      const w = await checkSysctl(name, opts.netns, why, set, log);
      if (w) {
        warnings.push(w);
        log.warn(w);
      }
    }
  }
  const nftOpts: NftOptions = {
    ...(opts.table !== undefined ? { table: opts.table } : {}),
    ...(opts.ctMark !== undefined ? { ctMark: opts.ctMark } : {}),
    ...(opts.balance !== undefined ? { balance: opts.balance } : {}),
  };
  const nft: Nft = createNft({
    ...(opts.netns !== undefined ? { netns: opts.netns } : {}),
    ...(opts.nft !== undefined ? { nft: opts.nft } : {}),
    ...(opts.table !== undefined ? { table: opts.table } : {}),
  });
  const routes: LocalRoutes | undefined =
    opts.routes === false
      ? undefined
      : createLocalRoutes({
          logger: log,
          ...(opts.netns !== undefined ? { netns: opts.netns } : {}),
          ...(opts.routeProtocol !== undefined ? { protocol: opts.routeProtocol } : {}),
        });

  const reg = opts.registry;
  const nftSeconds =
    reg &&
    histogram(
      reg,
      "l4lb_nft_duration_seconds",
      "Time to apply one nft transaction",
      ["op"],
      [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    );
  const routeSeconds =
    reg &&
    histogram(reg, "l4lb_routes_duration_seconds", "Time to update the VIP routes", [], [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]);
  const reconciledNft = reg && counter(reg, "l4lb_reconciled_nft_total", "nft VIP entries and chains repaired by reconcile", []);
  const reconciledRoutes = reg && counter(reg, "l4lb_reconciled_routes_total", "VIP routes repaired by reconcile", []);

  /** By object: the fast path for VIPs the caller did not rebuild. */
  let byRef = new WeakMap<DataplaneVip, Compiled>();
  /** By entry key: reuses slots when a rebuilt VIP has the same backends. */
  let byKey = new Map<string, Compiled>();
  let applied: DataplaneState | undefined;
  let desired: DataplaneState = {};
  let chain: Promise<unknown> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  /** The last route sync completed (else the next apply syncs routes whatever changed). */
  let routesSynced = false;
  let requested = false;

  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const p = chain.then(fn);
    chain = p.catch(() => undefined);
    return p;
  };

  const compileOne = (v: DataplaneVip): Compiled => {
    const hit = byRef.get(v);
    if (hit) return hit;
    const ip = parseIp(v.ip);
    if (!ip) throw new DcnetError(Code.INVALID_ARGUMENT, `"${v.ip}" is not an IP address`, { field: "vip.ip" });
    if (!Number.isInteger(v.port) || v.port < 1 || v.port > 65535)
      throw new DcnetError(Code.INVALID_ARGUMENT, `${v.port} is not a port`, { field: "vip.port" });
    const text = ip.family === 4 ? v.ip : formatIp(6, ip.value);
    const key = vipEntryKey({ protocol: v.protocol, ip: text, port: v.port });
    const cached = byKey.get(key);
    const c: Compiled =
      cached && sameBackends(cached.backends, v.backends)
        ? { ...cached, backends: v.backends }
        : {
            key,
            family: ip.family,
            backends: v.backends,
            entry: { protocol: v.protocol, ip: text, port: v.port, slots: slotsOf(v.backends, ip.family) },
          };
    byRef.set(v, c);
    return c;
  };

  /** The state of a whole table, reusing compiled VIPs. */
  const compileAll = (vips: readonly DataplaneVip[]): DataplaneState => {
    const fams: Record<"ipv4" | "ipv6", FamilyState> = {
      ipv4: { vips: new Map(), slotChains: new Set() },
      ipv6: { vips: new Map(), slotChains: new Set() },
    };
    const nextByKey = new Map<string, Compiled>();
    const dup = new Map<string, DataplaneVip[]>();
    for (const v of vips) {
      const c = compileOne(v);
      const fs = fams[familyKey(c.family)];
      if (fs.vips.has(c.key)) {
        // Two VIPs at one address/protocol/port (e.g. names that sanitise alike): their backends are merged.
        const list = dup.get(c.key) ?? [vips.find((x) => byRef.get(x)?.key === c.key)!];
        list.push(v);
        dup.set(c.key, list);
        continue;
      }
      fs.vips.set(c.key, c.entry);
      nextByKey.set(c.key, c);
    }
    for (const [key, list] of dup) {
      const first = nextByKey.get(key)!;
      const backends = list.flatMap((v) => v.backends);
      const entry: VipEntry = { ...first.entry, slots: slotsOf(backends, first.family) };
      fams[familyKey(first.family)].vips.set(key, entry);
    }
    const state: DataplaneState = {};
    for (const fk of ["ipv4", "ipv6"] as const) {
      const fs = fams[fk];
      if (fk === "ipv6" && fs.vips.size === 0) continue;
      for (const e of fs.vips.values()) if (e.slots.length > 0) fs.slotChains.add(dispatchChain(e));
      state[fk] = fs;
    }
    byKey = nextByKey;
    return state;
  };

  const addresses = (s: DataplaneState): string[] => {
    const out: string[] = [];
    for (const fk of ["ipv4", "ipv6"] as const) for (const e of s[fk]?.vips.values() ?? []) out.push(e.ip);
    return [...new Set(out)];
  };

  const transact = async (op: string, script: string): Promise<void> => {
    if (script === "") return;
    const end = nftSeconds?.startTimer({ op });
    try {
      await nft.apply(script);
    } finally {
      end?.();
    }
  };

  /** Brings the kernel from whatever it holds to `next`; returns the differences repaired when reading back. */
  type Cut = ReturnType<typeof touchedOnly>;
  const converge = async (next: DataplaneState, readBack: boolean, cut?: Cut): Promise<number> => {
    try {
      return await convergeOnce(next, readBack, cut);
    } catch (err) {
      applied = undefined; // unknown now: the next apply reads the kernel back
      throw err;
    }
  };

  const convergeOnce = async (next: DataplaneState, readBack: boolean, cut?: Cut): Promise<number> => {
    let repaired = 0;
    if (readBack || applied === undefined) {
      const read = await nft.read();
      if (read.problems.length > 0) {
        log.warn(
          { problems: read.problems.slice(0, 10), count: read.problems.length },
          "our nft table does not fit the model: rebuilding it",
        );
        await transact("full", renderFull(next, nftOpts));
        repaired = Math.max(1, countDifferences(read.state, next));
      } else {
        repaired = countDifferences(read.state, next);
        await transact(readBack ? "reconcile" : "delta", renderDelta(read.state, next, nftOpts));
      }
    } else {
      try {
        const c = cut ?? touchedOnly(applied, next);
        await transact("delta", renderDelta(c.prev, c.next, nftOpts));
      } catch (err) {
        log.warn({ err: (err as Error).message }, "nft delta failed (the kernel differs from what we applied): rebuilding the table");
        applied = undefined;
        await transact("full", renderFull(next, nftOpts));
      }
    }
    applied = next;
    return repaired;
  };

  const syncRoutes = async (stage: "before" | "after", next: DataplaneState): Promise<void> => {
    if (!routes) return;
    const end = routeSeconds?.startTimer();
    try {
      const want = new Set(addresses(next));
      if (stage === "before") {
        // Remove stale routes first (upstream order): keep every current one still wanted.
        await routes.sync([...routes.installed()].filter((a) => want.has(a)));
      } else await routes.sync(want);
    } finally {
      end?.();
    }
  };

  const driver: NftDriver = {
    mode: "nft",
    warnings,
    state: () => applied,
    routes: () => routes?.installed() ?? new Set(),
    apply: (vips) =>
      serial(async () => {
        if (closed) throw new DcnetError(Code.FAILED_PRECONDITION, "the nft driver is closed");
        const next = compileAll(vips);
        desired = next;
        requested = true;
        // Routes follow VIP addresses: untouched when no VIP came or went.
        const cut = applied && touchedOnly(applied, next);
        const routesToo = !cut || !routesSynced || cut.keysChanged;
        if (routesToo) await syncRoutes("before", next);
        await converge(next, false, cut);
        if (routesToo) {
          routesSynced = false;
          await syncRoutes("after", next);
          routesSynced = true;
        }
      }),
    reconcile: () =>
      serial(async () => {
        if (closed || !requested) return 0; // nothing asked for yet: nothing to hold the kernel to
        const nftRepairs = await converge(desired, true);
        const routeRepairs = routes ? await routes.reconcile() : 0;
        if (nftRepairs > 0) reconciledNft?.inc(nftRepairs);
        if (routeRepairs > 0) reconciledRoutes?.inc(routeRepairs);
        if (nftRepairs + routeRepairs > 0) log.warn({ nft: nftRepairs, routes: routeRepairs }, "reconcile repaired drift");
        return nftRepairs + routeRepairs;
      }),
    close: async () => {
      clearInterval(timer);
      closed = true;
      await chain;
      byRef = new WeakMap();
    },
  };

  const interval = opts.reconcileIntervalMs ?? 30_000;
  if (interval > 0) {
    timer = setInterval(() => {
      driver.reconcile().catch((err: unknown) => log.warn({ err: (err as Error).message }, "nft reconcile failed"));
    }, interval);
    timer.unref();
  }
  return driver;
}
