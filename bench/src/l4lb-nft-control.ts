/**
 * The l4lb nftables control-plane round (issue 6, G6), run as a child process so that each cold
 * load starts from a fresh Node process, as the service does at start:
 *
 *   node bench/dist/l4lb-nft-control.js '<ControlOptions as JSON>'   → one ControlResult as JSON on stdout
 *
 * In the (empty, parent-made) namespace `ns`, with the real driver (`createNftDriver`, nft session
 * and local routes, as `dcnet run l4lb` runs it; only the `ip netns exec` wrapper differs):
 *
 *  - cold load: `driver.apply(table)` of `vips` VIPs × `backendsPerVip` backends, timed from the
 *    call to its completion (tables, every element, every VIP route);
 *  - `changes` single changes, in turn: a backend added, a backend removed, a weight changed, a VIP
 *    added (with its route), a VIP removed (and its route); each one `driver.apply(whole table)`
 *    with one VIP object replaced/added/dropped, as the service calls it, timed from the call until
 *    it resolves. apply() resolves once nft has answered the transaction (the kernel has committed
 *    it: nft sends the batch and waits for the kernel's answers) and the routes are in. That is
 *    checked, not assumed: after every `checkEvery`-th change (outside the timing) the changed VIP
 *    is read back from the kernel with `nft -j get element` (its `vips` verdict and every slot, or
 *    its absence) and must already be what the change asked for.
 *
 * Where the time goes comes from the driver's own histograms (`l4lb_nft_duration_seconds`,
 * `l4lb_routes_duration_seconds`, read around each change): nft = the transaction (session round
 * trip: nft parsing, netlink, kernel commit), routes = `ip -batch`, the rest = JavaScript (compile,
 * render, bookkeeping).
 */
import { spawn } from "node:child_process";
import * as os from "node:os";
import * as path from "node:path";
import { createLogger, createRegistry, type Registry } from "@dcnet/core";
import { createNftDriver, slotsOf, vipRange, type DataplaneVip } from "@dcnet/l4lb";
import { inNs } from "./l4lb-nft-netns";
import { prng } from "./env";

export interface ControlOptions {
  ns: string;
  vips: number;
  backendsPerVip: number;
  changes: number;
  seed: number;
  /** Read every n-th change back from the kernel. */
  checkEvery: number;
  /** The driver's nft session (false: one `nft -f -` process per change, as before it had one). */
  session: boolean;
  /**
   * Routes as the service sets them (true: the default named-VIP ranges, where the benchmark's
   * 11.x VIPs are, share prefix routes) or one local route per VIP address (false: IP VIPs).
   */
  routeCover: boolean;
}

export type ChangeKind = "backend-add" | "backend-remove" | "weight" | "vip-add" | "vip-remove";
export const CHANGE_KINDS: readonly ChangeKind[] = ["backend-add", "backend-remove", "weight", "vip-add", "vip-remove"];

export interface ChangeSample {
  kind: ChangeKind;
  ms: number;
  nftMs: number;
  routesMs: number;
}

export interface ControlResult {
  vips: number;
  backends: number;
  coldMs: number;
  coldNftMs: number;
  coldRoutesMs: number;
  /** Building the table objects (not timed as part of the load). */
  buildMs: number;
  changes: ChangeSample[];
  checks: { done: number; visible: number; failures: string[] };
  /** Starting a process (`true`) from this Node process after the load, p50: what each `ip`/`nft` spawn costs at this heap size. */
  spawnMs: number;
  rssMiB: number;
  load1: number;
}

/** VIP n (0-based): 11.x.y.z from n + 1, port 80; backend j: 10.x.y.(j+1):8080 (unique per VIP, up to 254 each). */
const vipIp = (n: number): string => `11.${((n + 1) >> 16) & 255}.${((n + 1) >> 8) & 255}.${(n + 1) & 255}`;
const backendIp = (n: number, j: number): string => `10.${((n + 1) >> 8) & 255}.${(n + 1) & 255}.${j + 1}`;

function makeVip(n: number, backends: number): DataplaneVip {
  return {
    protocol: "tcp",
    ip: vipIp(n),
    port: 80,
    backends: Array.from({ length: backends }, (_, j) => ({ ip: backendIp(n, j), port: 8080, weight: 1 })),
  };
}

async function histogramSum(reg: Registry, name: string): Promise<number> {
  const m = reg.getSingleMetric(name);
  if (!m) return 0;
  const v = await m.get();
  return (v.values as { metricName?: string; value: number }[])
    .filter((x) => x.metricName === `${name}_sum`)
    .reduce((a, x) => a + x.value, 0);
}

/** What the kernel holds for a VIP: its verdict and its slots, or undefined when it is not there. */
async function kernelVip(ns: string, v: DataplaneVip): Promise<{ target: string; slots: string[] } | undefined> {
  const get = async (map: string, keys: string[]): Promise<unknown[] | undefined> => {
    try {
      const out = await inNs(ns, "nft", ["-j", "get", "element", "ip", "dcnet_l4lb", map, `{ ${keys.join(", ")} }`]);
      const j = JSON.parse(out) as { nftables: { map?: { elem?: unknown[] } }[] };
      return j.nftables.find((x) => x.map)?.map?.elem ?? [];
    } catch (err) {
      if (/No such file or directory|does not exist/i.test((err as Error).message)) return undefined;
      throw err;
    }
  };
  const vipEl = await get("vips", [`${v.ip} . tcp . ${v.port}`]);
  if (!vipEl) return undefined;
  const first = vipEl[0] as [unknown, { goto?: { target?: string } }] | undefined;
  const unwrap = (x: unknown): { concat: [string, number, number] } =>
    (typeof x === "object" && x !== null && "elem" in x ? (x as { elem: { val: unknown } }).elem.val : x) as {
      concat: [string, number, number];
    };
  const target = first?.[1]?.goto?.target ?? "?";
  const n = /^tcp_slots_(\d+)$/.exec(target)?.[1];
  const slots: string[] = [];
  if (n !== undefined) {
    const elems = (await get(
      "backends_tcp",
      Array.from({ length: Number(n) }, (_, i) => `${v.ip} . ${v.port} . ${i}`),
    )) as [unknown, { concat: [string, number] }][] | undefined;
    for (const [k, val] of elems ?? []) slots[unwrap(k).concat[2]] = `${val.concat[0]}:${val.concat[1]}`;
  }
  return { target, slots };
}

async function controlRound(o: ControlOptions): Promise<ControlResult> {
  const load1 = os.loadavg()[0] ?? Number.NaN;
  const rand = prng(o.seed);
  const pick = (n: number): number => Math.floor(rand() * n);
  const registry = createRegistry({ defaultMetrics: false });
  const logger = createLogger({ service: "bench-l4lb-nft", level: "warn", destination: process.stderr });
  let t = performance.now();
  let table: DataplaneVip[] = Array.from({ length: o.vips }, (_, n) => makeVip(n, o.backendsPerVip));
  let nextVip = o.vips;
  const buildMs = performance.now() - t;
  const driver = await createNftDriver({
    logger,
    netns: o.ns,
    reconcileIntervalMs: 0,
    registry,
    checkSysctls: false,
    session: o.session,
    ...(o.routeCover ? { routeCover: [vipRange(4), vipRange(6)] } : {}),
  });
  const sums = async (): Promise<[number, number]> => [
    await histogramSum(registry, "l4lb_nft_duration_seconds"),
    await histogramSum(registry, "l4lb_routes_duration_seconds"),
  ];
  try {
    let [nft0, routes0] = await sums();
    t = performance.now();
    await driver.apply(table);
    const coldMs = performance.now() - t;
    let [nft1, routes1] = await sums();
    const coldNftMs = (nft1 - nft0) * 1000;
    const coldRoutesMs = (routes1 - routes0) * 1000;

    const samples: ChangeSample[] = [];
    const checks = { done: 0, visible: 0, failures: [] as string[] };
    for (let k = 0; k < o.changes; k++) {
      const kind = CHANGE_KINDS[k % CHANGE_KINDS.length]!;
      const next = [...table];
      let changed: DataplaneVip | undefined; // the VIP as it must now be in the kernel
      let gone: DataplaneVip | undefined; // a VIP that must not be there any more
      if (kind === "vip-add") {
        changed = makeVip(nextVip++, o.backendsPerVip);
        next.push(changed);
      } else if (kind === "vip-remove") {
        const i = pick(next.length);
        gone = next[i]!;
        next[i] = next[next.length - 1]!;
        next.pop();
      } else {
        const i = pick(next.length);
        const v = next[i]!;
        const backends = [...v.backends];
        if (kind === "backend-add") backends.push({ ip: `10.255.${pick(256)}.${1 + pick(254)}`, port: 9000 + pick(1000), weight: 1 });
        else if (kind === "backend-remove" && backends.length > 1) backends.splice(pick(backends.length), 1);
        else {
          const j = pick(backends.length);
          backends[j] = { ...backends[j]!, weight: backends[j]!.weight === 1 ? 2 : 1 };
        }
        changed = { ...v, backends };
        next[i] = changed;
      }
      [nft0, routes0] = await sums();
      t = performance.now();
      await driver.apply(next);
      const ms = performance.now() - t;
      [nft1, routes1] = await sums();
      samples.push({ kind, ms, nftMs: (nft1 - nft0) * 1000, routesMs: (routes1 - routes0) * 1000 });
      table = next;
      if ((k + 1) % o.checkEvery === 0) {
        checks.done++;
        if (gone) {
          const got = await kernelVip(o.ns, gone);
          if (got === undefined) checks.visible++;
          else checks.failures.push(`${kind} ${gone.ip}: still in the kernel`);
        } else if (changed) {
          const want = slotsOf(changed.backends, 4).map((s) => `${s.ip}:${s.port}`);
          const got = await kernelVip(o.ns, changed);
          const ok = got !== undefined && got.target === `tcp_slots_${want.length}` && got.slots.join(",") === want.join(",");
          if (ok) checks.visible++;
          else checks.failures.push(`${kind} ${changed.ip}: kernel ${JSON.stringify(got)} want ${want.length} slots`);
        }
      }
    }
    const backends = table.reduce((n, v) => n + v.backends.length, 0);
    const spawns: number[] = [];
    for (let i = 0; i < 21; i++) {
      const t0 = performance.now();
      await new Promise((resolve) => spawn("true", [], { stdio: "ignore" }).on("close", resolve));
      spawns.push(performance.now() - t0);
    }
    spawns.sort((a, b) => a - b);
    return {
      vips: table.length,
      backends,
      coldMs,
      coldNftMs,
      coldRoutesMs,
      buildMs,
      changes: samples,
      checks,
      spawnMs: spawns[10]!,
      rssMiB: process.memoryUsage().rss / 2 ** 20,
      load1,
    };
  } finally {
    await driver.close();
  }
}

/** Runs one round in a child process (bounded: `limitMs`). */
export function runControlRound(o: ControlOptions, limitMs: number): Promise<ControlResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(__dirname, "l4lb-nft-control.js"), JSON.stringify(o)], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
      process.stderr.write(d);
    });
    const killer = setTimeout(() => child.kill("SIGKILL"), limitMs);
    child.on("close", (code) => {
      clearTimeout(killer);
      if (code !== 0) return reject(new Error(`control round failed (exit ${code}): ${err.trim().slice(-2000)}`));
      try {
        resolve(JSON.parse(out) as ControlResult);
      } catch {
        reject(new Error(`control round printed no result: ${out.slice(0, 500)} ${err.slice(-500)}`));
      }
    });
  });
}

if (require.main === module) {
  controlRound(JSON.parse(process.argv[2] ?? "{}") as ControlOptions).then(
    (r) => process.stdout.write(`${JSON.stringify(r)}\n`),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
