/**
 * l4lb nftables benchmark (issue 6, G6 and G7): `npm run bench -- l4lb-nft`.
 *
 * Data plane (G7), everything in network namespaces made for the run:
 *
 *     backend ns: lo 10.200.0.1 (direct) + 10.200.0.2 (the VIP's backend); HAProxy 2.6, one thread,
 *                 `mode http`, `http-request return status 200 … string ok` on *:8080
 *     client ns 0…15: veth c0 10.202.<i>.2/24 ↔ b<i> 10.202.<i>.1/24 in the backend ns; default
 *                 route via the backend; the VIP 11.0.0.1:80 → 10.200.0.2:8080 programmed by the
 *                 real nft driver (createNftDriver: table, local route whose src is the default
 *                 route's, 10.202.<i>.2) in each — every client namespace is a node balancing its
 *                 own connections (zero-hop)
 *     task ns t0:  a bridge-mode task behind the node client ns 0: veth t0 172.31.0.2/24 ↔ n0
 *                 172.31.0.1/24 in client ns 0 (ip_forward on), default route via the node; the
 *                 backend ns routes 172.31.0.0/24 via 10.202.0.2 (replies come back through the node)
 *
 *  - keep-alive: `wrk -t1 -c50` in client ns 0, VIP vs direct, same round, order alternating;
 *  - task keep-alive: the same `wrk -t1 -c50` in the task namespace: the node DNATs the VIP in its
 *    prerouting hook before routing it and forwards both paths (no output-hook re-route per packet,
 *    which a connection the node itself originates pays);
 *  - new connections: 16 `wrk -t1 -c2 -H "Connection: close"`, one per client namespace (so 16
 *    source addresses: wrk cannot pick one, and the masquerade of VIP connections rewrites the
 *    source to the node's own address — one namespace per source is one node per source);
 *  - latency: p50/p99 from those runs, and `wrk -t1 -c1` (one request in flight).
 *  Direct and VIP traffic go to two addresses of the same HAProxy so that their conntrack entries
 *  never share a tuple. CPU layout (BENCH_L4LB_NFT_LAYOUT): `split` (default) = load generators on
 *  CPU 0, HAProxy on CPU 1; `free` = no pinning.
 *
 * Control plane (G6): see l4lb-nft-control.ts; rounds alternate 10,000 VIPs / 100,000 backends
 * and 1,000 / 10,000, each in a fresh namespace and a fresh Node process; plus one 10k round with
 * the driver's nft session off (one `nft -f` per change, as before the session), reported only.
 *
 * Knobs: BENCH_L4LB_NFT_ROUNDS (5 data-plane rounds), BENCH_L4LB_NFT_SECONDS (10 s per
 * measurement, at most 30), BENCH_L4LB_NFT_CP_ROUNDS (3 control-plane round pairs),
 * BENCH_L4LB_NFT_CHANGES (500), BENCH_L4LB_NFT_PARTS (`data,control`).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createLogger } from "@dcnet/core";
import { cgroup2Mount, createNftDriver, startSockLb, type SockLb } from "@dcnet/l4lb";
import { CHANGE_KINDS, runControlRound, type ChangeKind, type ControlResult } from "./l4lb-nft-control";
import {
  addNetns,
  delAllNetns,
  delNetns,
  inNs,
  removeAtExit,
  runBounded,
  sh,
  sockLbUnavailable,
  unavailable,
  WRK_SCRIPT,
  wrkInNs,
  type WrkResult,
} from "./l4lb-nft-netns";
import { median, percentile, ratio, resultsDir, round, writeResults, type Figure } from "./results";
import { envInt } from "./env";

const KEEPALIVE_GOAL = 0.95;
const NEWCONN_GOAL = 0.8;
const COLD_GOAL_MS = 1000;
const CHANGE_P99_GOAL_MS = 50;
const SCALE_GOAL = 2;
const CLIENTS = 16;
const KEEPALIVE_CONNS = 50;
const NEWCONN_CONNS_PER_CLIENT = 2;
const SLICE_SECONDS = 2;
const VIP = "11.0.0.1";
/** The driver's `routeSource` (services/l4lb README): "auto" as the service runs it, "none" for comparison. */
const routeSource = process.env["BENCH_L4LB_NFT_ROUTE_SOURCE"] === "none" ? "none" : "auto";
const DIRECT = "10.200.0.1";
const VIP_BACKEND = "10.200.0.2";
/** The bridge-mode task behind client ns 0 (the node): its address, its gateway (the node's n0), its network. */
const TASK_ADDR = "172.31.0.2";
const TASK_GW = "172.31.0.1";
const TASK_NET = "172.31.0.0/24";

const load1 = (): number => round(os.loadavg()[0] ?? Number.NaN, 3);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const log = (msg: string): void => void process.stderr.write(`l4lb-nft: ${msg}\n`);

// ---------------------------------------------------------------------------------------------
// Data plane
// ---------------------------------------------------------------------------------------------

/** An HTTP GET from inside a namespace (Node's http client, 3 s); the body or an error text. */
async function httpGet(ns: string, host: string, port: number): Promise<string> {
  const code = `require("node:http").get({host:${JSON.stringify(host)},port:${port},path:"/",timeout:3000},(r)=>{let b="";r.on("data",(d)=>b+=d);r.on("end",()=>console.log(r.statusCode+" "+b))}).on("error",(e)=>console.log("error "+e.code)).on("timeout",function(){this.destroy(new Error("timeout"))})`;
  return (await inNs(ns, process.execPath, ["-e", code], { timeoutMs: 10_000 })).trim();
}

interface Sample {
  requests: number;
  seconds: number;
  rate: number;
  p50Ms: number;
  p99Ms: number;
  /** The largest per-client p99 (new connections: 16 wrk processes). */
  p99MaxMs: number;
  errors: number;
  load1: number;
}

type Path = "direct" | "vip";
type Kind = "keepalive" | "socklbkeepalive" | "taskkeepalive" | "newconn" | "latency";

async function runDataPlane(
  tag: string,
  rounds: number,
  seconds: number,
  layout: "split" | "free",
): Promise<{ figures: Figure[]; info: Record<string, unknown> }> {
  const be = `${tag}-be`;
  const clients = Array.from({ length: CLIENTS }, (_, i) => `${tag}-c${i}`);
  /** A bridge-mode task behind the node client ns 0 (its connections are forwarded by the node). */
  const task = `${tag}-t0`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-l4lb-nft-"));
  removeAtExit(dir);
  const wrkScript = path.join(dir, "report.lua");
  fs.writeFileSync(wrkScript, WRK_SCRIPT);
  const clientCpus = layout === "split" ? "0" : undefined;
  const serverCpus = layout === "split" ? "1" : undefined;
  let haproxy: ReturnType<typeof runBounded> | undefined;
  let sockLb: SockLb | undefined;
  let sockCgroup: string | undefined;
  try {
    log(`setting up ${CLIENTS + 2} namespaces`);
    await addNetns(be);
    await sh("ip", ["-n", be, "-batch", "-"], { input: `addr add ${DIRECT}/32 dev lo\naddr add ${VIP_BACKEND}/32 dev lo\n` });
    for (const [i, c] of clients.entries()) {
      await addNetns(c);
      await sh("ip", ["-n", c, "link", "add", "c0", "type", "veth", "peer", "name", `b${i}`, "netns", be]);
      await sh("ip", ["-n", c, "-batch", "-"], {
        input: [`addr add 10.202.${i}.2/24 dev c0`, "link set c0 up", `route add default via 10.202.${i}.1`, ""].join("\n"),
      });
      await sh("ip", ["-n", be, "-batch", "-"], { input: `addr add 10.202.${i}.1/24 dev b${i}\nlink set b${i} up\n` });
    }
    // The task namespace: veth t0 <-> n0 in client ns 0, which routes (forwards) for it; the
    // backend sends replies to the task's network back through that node.
    await addNetns(task);
    await sh("ip", ["-n", task, "link", "add", "t0", "type", "veth", "peer", "name", "n0", "netns", clients[0]!]);
    await sh("ip", ["-n", task, "-batch", "-"], {
      input: [`addr add ${TASK_ADDR}/24 dev t0`, "link set lo up", "link set t0 up", `route add default via ${TASK_GW}`, ""].join("\n"),
    });
    await sh("ip", ["-n", clients[0]!, "-batch", "-"], { input: `addr add ${TASK_GW}/24 dev n0\nlink set n0 up\n` });
    await inNs(clients[0]!, "sysctl", ["-qw", "net.ipv4.ip_forward=1"]);
    await sh("ip", ["-n", be, "route", "add", TASK_NET, "via", "10.202.0.2"]);
    const cfg = path.join(dir, "haproxy.cfg");
    fs.writeFileSync(
      cfg,
      [
        "global",
        "  nbthread 1",
        "  maxconn 8000",
        "defaults",
        "  mode http",
        "  timeout connect 5s",
        "  timeout client 30s",
        "  timeout server 30s",
        "frontend fe",
        "  bind :8080",
        "  http-request return status 200 content-type text/plain string ok",
        "",
      ].join("\n"),
    );
    const haproxyCmd =
      serverCpus === undefined ? ["haproxy", "-db", "-f", cfg] : ["taskset", "-c", serverCpus, "haproxy", "-db", "-f", cfg];
    // Bounded by the whole run: killed by delNetns at the end at the latest.
    haproxy = runBounded("ip", ["netns", "exec", be, ...haproxyCmd], 6 * 3600_000);
    for (let i = 0; ; i++) {
      const got = await httpGet(clients[0]!, DIRECT, 8080);
      if (got === "200 ok") break;
      if (i >= 50) throw new Error(`HAProxy does not answer in ${be}: ${got}`);
      await sleep(100);
    }

    // The VIP, in every client namespace, by the real driver.
    const logger = createLogger({ service: "bench-l4lb-nft", level: "warn", destination: process.stderr });
    for (const c of clients) {
      const driver = await createNftDriver({ logger, netns: c, reconcileIntervalMs: 0, checkSysctls: false, routeSource });
      await driver.apply([{ protocol: "tcp", ip: VIP, port: 80, backends: [{ ip: VIP_BACKEND, port: 8080, weight: 1 }] }]);
      await driver.close(); // the table and the route stay in the kernel
      const route = (JSON.parse(await sh("ip", ["-n", c, "-j", "route", "show", "table", "local", VIP])) as { prefsrc?: string }[])[0];
      const wantSrc = routeSource === "auto" ? `10.202.${clients.indexOf(c)}.2` : undefined;
      if (route?.prefsrc !== wantSrc)
        throw new Error(`the VIP's route in ${c} has src ${route?.prefsrc ?? "none"}, expected ${wantSrc ?? "none"}`);
      const got = await httpGet(c, VIP, 80);
      if (got !== "200 ok") throw new Error(`the VIP does not answer in ${c}: ${got}`);
    }
    // The socket LB (services/l4lb README "Socket LB") for a cgroup of the run's own, used by the
    // socklbkeepalive wrk in client ns 0; the nft table stays under it as in the service.
    const sockLbOff = await sockLbUnavailable();
    if (sockLbOff === undefined) {
      sockCgroup = path.join(cgroup2Mount()!, `${tag}-socklb`);
      fs.mkdirSync(sockCgroup);
      sockLb = await startSockLb({ cgroup: sockCgroup, pin: `${tag}_socklb`.replace(/-/g, "_"), netns: clients[0]!, logger });
      await sockLb.apply([{ protocol: "tcp", ip: VIP, port: 80, backends: [{ ip: VIP_BACKEND, port: 8080, weight: 1 }] }]);
    } else log(`socket LB not measured: ${sockLbOff}`);
    for (const [host, port] of [
      [VIP, 80],
      [DIRECT, 8080],
    ] as const) {
      const got = await httpGet(task, host, port);
      if (got !== "200 ok") throw new Error(`${host}:${port} does not answer in the task namespace ${task}: ${got}`);
    }
    const nftVersion = (await sh("nft", ["--version"])).trim();
    const haproxyVersion = /HAProxy version (\S+)/.exec(await sh("haproxy", ["-v"]))?.[1] ?? "?";
    const wrkVersion = /wrk (\S+)/.exec((await runBounded("wrk", ["-v"], 5000)).out)?.[1] ?? "?";
    log(`${nftVersion}; haproxy ${haproxyVersion}; wrk ${wrkVersion}; layout ${layout}; ${rounds} rounds x ${seconds} s; load ${load1()}`);

    const url = (p: Path): string => (p === "vip" ? `http://${VIP}:80/` : `http://${DIRECT}:8080/`);
    /** One slice: requests, seconds, errors and the percentiles of each wrk run in it. */
    interface Slice {
      requests: number;
      seconds: number;
      errors: number;
      p50s: number[];
      p99s: number[];
    }
    const slice = async (kind: Kind, p: Path, secs: number): Promise<Slice> => {
      const one = (r: WrkResult): Slice => ({
        requests: r.requests,
        seconds: r.seconds,
        errors: r.errors,
        p50s: [r.p50Ms],
        p99s: [r.p99Ms],
      });
      if (kind !== "newconn") {
        const conns = kind === "latency" ? 1 : KEEPALIVE_CONNS;
        const ns = kind === "taskkeepalive" ? task : clients[0]!;
        const cgroup = kind === "socklbkeepalive" ? sockCgroup : undefined;
        return one(await wrkInNs(ns, { script: wrkScript, url: url(p), conns, seconds: secs, cpus: clientCpus, cgroup }));
      }
      const all = await Promise.all(
        clients.map((c) =>
          wrkInNs(c, {
            script: wrkScript,
            url: url(p),
            conns: NEWCONN_CONNS_PER_CLIENT,
            seconds: secs,
            cpus: clientCpus,
            extra: ["-H", "Connection: close"],
          }),
        ),
      );
      // 16 processes at once: their rates add up.
      const seconds = median(all.map((r) => r.seconds));
      return {
        requests: all.reduce((n, r) => n + (r.requests / r.seconds) * seconds, 0),
        seconds,
        errors: all.reduce((n, r) => n + r.errors, 0),
        p50s: all.map((r) => r.p50Ms),
        p99s: all.map((r) => r.p99Ms),
      };
    };
    /**
     * One measurement of both paths: `secs` each, cut into slices of SLICE_SECONDS that alternate
     * between the paths (A B B A A B …), so that both see the same background load.
     */
    const measurePair = async (kind: Kind, secs: number, first: Path): Promise<Record<Path, Sample>> => {
      const second: Path = first === "vip" ? "direct" : "vip";
      const n = Math.max(1, Math.round(secs / SLICE_SECONDS));
      const acc: Record<Path, Slice[]> = { direct: [], vip: [] };
      const loads: number[] = [];
      for (let i = 0; i < n; i++) {
        loads.push(load1());
        for (const p of i % 2 === 0 ? [first, second] : [second, first]) acc[p].push(await slice(kind, p, secs / n));
      }
      const sample = (xs: Slice[]): Sample => ({
        requests: xs.reduce((a, x) => a + x.requests, 0),
        seconds: xs.reduce((a, x) => a + x.seconds, 0),
        rate: xs.reduce((a, x) => a + x.requests, 0) / xs.reduce((a, x) => a + x.seconds, 0),
        p50Ms: median(xs.flatMap((x) => x.p50s)),
        p99Ms: median(xs.flatMap((x) => x.p99s)),
        p99MaxMs: Math.max(...xs.flatMap((x) => x.p99s)),
        errors: xs.reduce((a, x) => a + x.errors, 0),
        load1: round(median(loads), 3),
      });
      return { direct: sample(acc.direct), vip: sample(acc.vip) };
    };

    // Warm-up (ARP, caches, HAProxy's first allocations), discarded.
    await measurePair("keepalive", 2, "direct");
    await measurePair("taskkeepalive", 2, "direct");
    if (sockLb) await measurePair("socklbkeepalive", 2, "direct");
    await measurePair("newconn", 2, "direct");
    const results: Record<Kind, Record<Path, Sample[]>> = {
      keepalive: { direct: [], vip: [] },
      taskkeepalive: { direct: [], vip: [] },
      socklbkeepalive: { direct: [], vip: [] },
      newconn: { direct: [], vip: [] },
      latency: { direct: [], vip: [] },
    };
    for (let r = 0; r < rounds; r++) {
      for (const kind of ["keepalive", "socklbkeepalive", "taskkeepalive", "newconn", "latency"] as const) {
        if (kind === "socklbkeepalive" && !sockLb) continue;
        const pair = await measurePair(kind, kind === "latency" ? Math.min(seconds, 4) : seconds, r % 2 === 0 ? "direct" : "vip");
        const line: string[] = [];
        for (const p of ["direct", "vip"] as const) {
          const x = pair[p];
          results[kind][p].push(x);
          line.push(
            `${p} ${Math.round(x.rate)}/s p50 ${round(x.p50Ms, 3)} p99 ${round(x.p99Ms, 3)} ms${x.errors ? ` errors ${x.errors}` : ""}`,
          );
        }
        log(
          `round ${r + 1} ${kind}: ${line.join("; ")}; vip/direct ${round(ratio(pair.vip.rate, pair.direct.rate), 3)} (load ${pair.vip.load1})`,
        );
      }
    }

    const med = (kind: Kind, p: Path, f: (s: Sample) => number): number => median(results[kind][p].map(f));
    const perRound = (kind: Kind, p: Path, f: (s: Sample) => number): number[] => results[kind][p].map((s) => round(f(s)));
    const sameRound = (kind: Kind): number =>
      round(median(results[kind].vip.map((s, i) => ratio(s.rate, results[kind].direct[i]?.rate ?? Number.NaN))));
    const common = {
      layout,
      rounds,
      seconds_per_measurement: seconds,
      slicing: `each measurement: ${SLICE_SECONDS} s slices alternating direct/VIP (A B B A …), rates = requests / time summed per path, percentiles = median over slices (and over the 16 wrk of a new-connection slice)`,
      load1_per_round: results.keepalive.vip.map((s) => s.load1),
      backend: `haproxy ${haproxyVersion} nbthread 1, mode http, http-request return 200 "ok", in its own namespace`,
      nft: nftVersion,
      kernel: os.release(),
      vip: `${VIP}:80 → ${VIP_BACKEND}:8080 (nft driver: vips verdict map → tcp_slots_1 → backends_tcp; masquerade; local route, route_source ${routeSource})`,
    };
    const latencyExtras = (kind: Kind): Record<string, unknown> => ({
      p50_ms: { vip: round(med(kind, "vip", (s) => s.p50Ms)), direct: round(med(kind, "direct", (s) => s.p50Ms)) },
      p99_ms: { vip: round(med(kind, "vip", (s) => s.p99Ms)), direct: round(med(kind, "direct", (s) => s.p99Ms)) },
    });
    const rateFigure = (
      kind: Exclude<Kind, "latency">,
      name: string,
      goal: number,
      tool: string,
      extra: Record<string, unknown>,
    ): Figure => {
      // Every VIP slice has a direct slice next to it in time: all of a path's requests over all of
      // its time (pooled) compare the two under the same background load.
      const pooled = (p: Path): number =>
        results[kind][p].reduce((a, x) => a + x.requests, 0) / results[kind][p].reduce((a, x) => a + x.seconds, 0);
      const ours = pooled("vip");
      const reference = pooled("direct");
      const r = ratio(ours, reference);
      return {
        name,
        unit: kind === "newconn" ? "conn/s" : "req/s",
        ours: round(ours),
        reference: round(reference),
        reference_name: "direct to the backend (same HAProxy, same client namespaces)",
        ratio: round(r),
        goal: `>= ${goal}x direct`,
        met: r >= goal,
        estimator: "pooled: all requests / all seconds per path over every round (slices alternate, so both paths see the same load)",
        same_round_ratio_median: sameRound(kind),
        median_of_rounds: { vip: round(med(kind, "vip", (s) => s.rate)), direct: round(med(kind, "direct", (s) => s.rate)) },
        per_round: { vip: perRound(kind, "vip", (s) => s.rate), direct: perRound(kind, "direct", (s) => s.rate) },
        errors: {
          vip: results[kind].vip.reduce((n, s) => n + s.errors, 0),
          direct: results[kind].direct.reduce((n, s) => n + s.errors, 0),
        },
        ...latencyExtras(kind),
        tool,
        ...extra,
        ...common,
      };
    };
    const latencyFigure = (kind: Kind, name: string, tool: string): Figure => {
      const ours = med(kind, "vip", (s) => s.p99Ms);
      const reference = med(kind, "direct", (s) => s.p99Ms);
      return {
        name,
        unit: "ms",
        ours: round(ours),
        reference: round(reference),
        reference_name: "direct to the backend",
        ratio: round(ratio(ours, reference)),
        goal: "none (reported only)",
        met: true,
        ...latencyExtras(kind),
        per_round_p99: { vip: perRound(kind, "vip", (s) => s.p99Ms), direct: perRound(kind, "direct", (s) => s.p99Ms) },
        tool,
        ...common,
      };
    };
    const figures = [
      rateFigure(
        "keepalive",
        "keep-alive HTTP through the VIP (nftables) vs direct",
        KEEPALIVE_GOAL,
        `wrk ${wrkVersion} -t1 -c${KEEPALIVE_CONNS} in client ns 0, ${seconds} s per path per round`,
        {},
      ),
      ...(sockLb
        ? [
            rateFigure(
              "socklbkeepalive",
              "keep-alive HTTP through the VIP with the socket LB (connect-time BPF over the nftables table) vs direct",
              KEEPALIVE_GOAL,
              `wrk ${wrkVersion} -t1 -c${KEEPALIVE_CONNS} in client ns 0 inside a cgroup with the socket LB attached (both paths), ${seconds} s per path per round`,
              {
                path: "client ns 0, cgroup with l4lb's connect4 program: connect(VIP) becomes connect(backend); no NAT on the packets",
              },
            ),
          ]
        : []),
      rateFigure(
        "taskkeepalive",
        "keep-alive HTTP through the VIP (nftables) from a bridge-mode task namespace vs direct",
        KEEPALIVE_GOAL,
        `wrk ${wrkVersion} -t1 -c${KEEPALIVE_CONNS} in the task namespace (behind client ns 0), ${seconds} s per path per round`,
        {
          reference_name: "direct to the backend (same HAProxy, same task namespace, forwarded by the same node)",
          path: `task ns ${TASK_ADDR} -> veth -> node (client ns 0: prerouting DNAT for the VIP, forwarding for both) -> backend`,
        },
      ),
      rateFigure(
        "newconn",
        `new connections (one request each) through the VIP vs direct, ${CLIENTS} source addresses`,
        NEWCONN_GOAL,
        `${CLIENTS} x wrk ${wrkVersion} -t1 -c${NEWCONN_CONNS_PER_CLIENT} -H "Connection: close", one per client namespace (one source address each), run together, ${seconds} s per path per round`,
        {
          p99_max_ms: { vip: round(med("newconn", "vip", (s) => s.p99MaxMs)), direct: round(med("newconn", "direct", (s) => s.p99MaxMs)) },
          latency_note: "p50/p99: median over the 16 wrk processes (and slices) of each one's percentile; p99_max: the largest",
        },
      ),
      latencyFigure(
        "keepalive",
        `latency p99 at keep-alive load (-c${KEEPALIVE_CONNS}), VIP vs direct`,
        `wrk ${wrkVersion} -t1 -c${KEEPALIVE_CONNS}`,
      ),
      latencyFigure(
        "taskkeepalive",
        `latency p99 at keep-alive load (-c${KEEPALIVE_CONNS}) from a bridge-mode task namespace, VIP vs direct`,
        `wrk ${wrkVersion} -t1 -c${KEEPALIVE_CONNS} in the task namespace (behind client ns 0)`,
      ),
      latencyFigure(
        "latency",
        "latency p99, one request in flight (-c1), VIP vs direct",
        `wrk ${wrkVersion} -t1 -c1 -d${Math.min(seconds, 3)}s`,
      ),
    ];
    return { figures, info: { haproxyVersion, wrkVersion, nftVersion } };
  } finally {
    for (const n of [task, ...clients, be]) delNetns(n); // kills HAProxy, wrk (and anything else left inside)
    await haproxy?.catch(() => undefined);
    await sockLb?.close().catch(() => undefined);
    if (sockCgroup)
      try {
        fs.rmdirSync(sockCgroup); // a cgroup: rmdir once no process is left in it
      } catch (err) {
        log(`could not remove the cgroup ${sockCgroup}: ${(err as Error).message}`);
      }
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Control plane
// ---------------------------------------------------------------------------------------------

interface Scale {
  vips: number;
  backendsPerVip: number;
}
const BIG: Scale = { vips: 10_000, backendsPerVip: 10 };
const SMALL: Scale = { vips: 1_000, backendsPerVip: 10 };

async function controlRound(
  tag: string,
  scale: Scale,
  changes: number,
  session: boolean,
  seed: number,
  routeCover = true,
): Promise<ControlResult> {
  const ns = `${tag}-cp`;
  await addNetns(ns);
  try {
    return await runControlRound({ ns, ...scale, changes, seed, checkEvery: 25, session, routeCover }, 600_000);
  } finally {
    delNetns(ns);
    await sleep(2000); // the kernel frees the namespace's table in the background
  }
}

function summarise(rs: readonly ControlResult[], kind?: ChangeKind): { p50: number; p99: number; max: number; n: number } {
  const ms = rs.flatMap((r) => r.changes.filter((c) => kind === undefined || c.kind === kind).map((c) => c.ms));
  return { p50: round(median(ms), 3), p99: round(percentile(ms, 99), 3), max: round(Math.max(...ms), 3), n: ms.length };
}

function breakdown(rs: readonly ControlResult[]): Record<string, number> {
  const all = rs.flatMap((r) => r.changes);
  const nft = median(all.map((c) => c.nftMs));
  const routes = median(all.filter((c) => c.kind === "vip-add" || c.kind === "vip-remove").map((c) => c.routesMs));
  const js = median(all.map((c) => c.ms - c.nftMs - c.routesMs));
  return {
    nft_transaction_p50_ms: round(nft, 3),
    routes_p50_ms_when_an_address_changes: round(routes, 3),
    javascript_p50_ms: round(js, 3),
  };
}

async function runControlPlane(tag: string, pairs: number, changes: number): Promise<Figure[]> {
  const big: ControlResult[] = [];
  const small: ControlResult[] = [];
  for (let r = 0; r < pairs; r++) {
    for (const [scale, into] of [
      [BIG, big],
      [SMALL, small],
    ] as const) {
      const res = await controlRound(tag, scale, changes, true, 1000 + r);
      into.push(res);
      const s = summarise([res]);
      log(
        `control ${scale.vips}/${res.backends}: cold ${Math.round(res.coldMs)} ms (nft ${Math.round(res.coldNftMs)}, routes ${Math.round(res.coldRoutesMs)}); ` +
          `${s.n} changes p50 ${s.p50} p99 ${s.p99} max ${s.max} ms; kernel checks ${res.checks.visible}/${res.checks.done}; spawn ${round(res.spawnMs, 3)} ms; load ${round(res.load1, 3)}`,
      );
      for (const f of res.checks.failures) log(`  check failed: ${f}`);
    }
  }
  // Reference for "before": the same driver with one `nft -f` process per change.
  const noSession = await controlRound(tag, BIG, changes, false, 1000);
  const ns = summarise([noSession]);
  log(
    `control 10k without the nft session: cold ${Math.round(noSession.coldMs)} ms; changes p50 ${ns.p50} p99 ${ns.p99} ms; load ${round(noSession.load1, 3)}`,
  );

  // IP VIPs (outside the named ranges) each have a local route: the same cold load with a route per VIP.
  const perVipRoutes: ControlResult[] = [];
  for (let r = 0; r < pairs; r++) perVipRoutes.push(await controlRound(tag, BIG, 0, true, 1000 + r, false));
  log(`control 10k with a route per VIP: cold ${perVipRoutes.map((r) => Math.round(r.coldMs)).join(", ")} ms`);

  const colds = big.map((r) => r.coldMs);
  const coldSmall = small.map((r) => r.coldMs);
  const b = summarise(big);
  const s = summarise(small);
  const perKind = (rs: readonly ControlResult[]): Record<string, unknown> =>
    Object.fromEntries(CHANGE_KINDS.map((k) => [k, summarise(rs, k)]));
  const checks = (rs: readonly ControlResult[]): string =>
    `${rs.reduce((n, r) => n + r.checks.visible, 0)}/${rs.reduce((n, r) => n + r.checks.done, 0)}`;
  const common = {
    rounds: pairs,
    changes_per_round: changes,
    change_mix:
      "in turn: backend added, backend removed, weight 1<->2, VIP added (10 backends, new address), VIP removed (the named range's prefix routes cover both: no route change)",
    timing:
      "performance.now() before driver.apply(whole table) until it resolves: nft has answered the transaction (the kernel committed it) and routes are in",
    kernel_check: "every 25th change read back with nft -j get element (verdict + every slot, or absence) right after apply resolved",
    driver:
      "createNftDriver with its nft session (nft -i + include), local routes on, in a fresh namespace via ip netns exec; fresh Node process per round",
    load1_per_round: big.map((r) => round(r.load1, 3)),
    kernel: os.release(),
  };
  return [
    {
      name: `cold load of ${BIG.vips} VIPs / ${big[0]?.backends ?? 0} backends (table, elements, routes)`,
      unit: "ms",
      ours: round(median(colds)),
      reference: COLD_GOAL_MS,
      reference_name: "the goal (no reference implementation here: the kernel has no IPVS)",
      ratio: round(ratio(median(colds), COLD_GOAL_MS)),
      goal: `<= ${COLD_GOAL_MS} ms`,
      met: median(colds) <= COLD_GOAL_MS,
      per_round_ms: colds.map((v) => round(v)),
      nft_ms_per_round: big.map((r) => round(r.coldNftMs)),
      routes_ms_per_round: big.map((r) => round(r.coldRoutesMs)),
      cold_1000_vips_ms: coldSmall.map((v) => round(v)),
      without_session_ms: round(noSession.coldMs),
      routes:
        "as the service sets them: the VIPs' 11.x addresses are in the default named-VIP range, whose CIDR prefixes are the local routes (route-cover.ts)",
      with_a_route_per_vip_ms: {
        median: round(median(perVipRoutes.map((r) => r.coldMs))),
        per_round: perVipRoutes.map((r) => round(r.coldMs)),
        routes_ms_per_round: perVipRoutes.map((r) => round(r.coldRoutesMs)),
        note: "the same load when every VIP address needs its own local route (IP VIPs outside the named ranges)",
      },
      ...common,
    },
    {
      name: `one change applied to the kernel with ${BIG.vips} VIPs / ${big[0]?.backends ?? 0} backends loaded, p99`,
      unit: "ms",
      ours: b.p99,
      reference: CHANGE_P99_GOAL_MS,
      reference_name: "the goal",
      ratio: round(ratio(b.p99, CHANGE_P99_GOAL_MS)),
      goal: `p99 <= ${CHANGE_P99_GOAL_MS} ms`,
      met: b.p99 <= CHANGE_P99_GOAL_MS,
      p50_ms: b.p50,
      max_ms: b.max,
      samples: b.n,
      per_round: big.map((r) => summarise([r])),
      per_kind: perKind(big),
      where_the_time_goes: breakdown(big),
      kernel_checks_visible: checks(big),
      rss_mib: round(median(big.map((r) => r.rssMiB))),
      spawn_true_p50_ms: { big: round(median(big.map((r) => r.spawnMs)), 3), small: round(median(small.map((r) => r.spawnMs)), 3) },
      without_session: { ...ns, where_the_time_goes: breakdown([noSession]), load1: round(noSession.load1, 3) },
      ...common,
    },
    {
      name: `one change: program time at ${BIG.vips} VIPs / at ${SMALL.vips} VIPs, p50`,
      unit: "ms",
      ours: b.p50,
      reference: s.p50,
      reference_name: `the same with ${SMALL.vips} VIPs / ${small[0]?.backends ?? 0} backends, same run`,
      ratio: round(ratio(b.p50, s.p50)),
      goal: `<= ${SCALE_GOAL}x`,
      met: ratio(b.p50, s.p50) <= SCALE_GOAL,
      p99_ratio: round(ratio(b.p99, s.p99)),
      p99_ms: { big: b.p99, small: s.p99 },
      per_kind_small: perKind(small),
      where_the_time_goes_small: breakdown(small),
      kernel_checks_visible_small: checks(small),
      ...common,
    },
  ];
}

export async function runL4lbNft(): Promise<void> {
  const why = unavailable();
  if (why) throw new Error(`l4lb-nft: ${why}`);
  const rounds = envInt("BENCH_L4LB_NFT_ROUNDS", 5);
  const seconds = envInt("BENCH_L4LB_NFT_SECONDS", 10, 30);
  const pairs = envInt("BENCH_L4LB_NFT_CP_ROUNDS", 3);
  const changes = envInt("BENCH_L4LB_NFT_CHANGES", 500);
  const layout = process.env["BENCH_L4LB_NFT_LAYOUT"] ?? "split";
  if (layout !== "split" && layout !== "free") throw new Error(`BENCH_L4LB_NFT_LAYOUT must be split or free, got "${layout}"`);
  const parts = new Set((process.env["BENCH_L4LB_NFT_PARTS"] ?? "data,control").split(",").map((p) => p.trim()));
  const tag = `bl4n${process.pid}`;
  const loadStart = load1();
  const figures: Figure[] = [];
  try {
    if (parts.has("data")) figures.push(...(await runDataPlane(tag, rounds, seconds, layout)).figures.map((f) => ({ ...f, part: "data" })));
    if (parts.has("control")) figures.push(...(await runControlPlane(tag, pairs, changes)).map((f) => ({ ...f, part: "control" })));
  } finally {
    delAllNetns();
  }
  const loadEnd = load1();
  const file = path.join(resultsDir, "l4lb-nft.json");
  const previous = readPrevious(file);
  writeResults(
    "l4lb-nft",
    figures.map((f) => ({ ...f, load1_run: { start: loadStart, end: loadEnd } })),
  );
  keepOtherParts(file, previous, parts);
}

/** The part a figure of bench/results/l4lb-nft.json belongs to (older files have no `part`: by name). */
const partOf = (f: Record<string, unknown>): string =>
  typeof f["part"] === "string" ? f["part"] : /^(cold load|one change)/.test(String(f["name"])) ? "control" : "data";

function readPrevious(file: string): Record<string, unknown>[] {
  try {
    const j = JSON.parse(fs.readFileSync(file, "utf8")) as unknown;
    return Array.isArray(j) ? (j as Record<string, unknown>[]) : [];
  } catch {
    return [];
  }
}

/**
 * A run of some parts (BENCH_L4LB_NFT_PARTS) keeps the figures of the others from the previous
 * file, as they were (their own date and machine): data-plane figures first, then control-plane.
 */
function keepOtherParts(file: string, previous: readonly Record<string, unknown>[], ran: ReadonlySet<string>): void {
  const kept = previous.filter((f) => !ran.has(partOf(f)));
  if (kept.length === 0) return;
  const written = readPrevious(file);
  const order = (f: Record<string, unknown>): number => (partOf(f) === "data" ? 0 : 1);
  const merged = [...kept, ...written].map((f, i) => ({ f, i })).sort((a, b) => order(a.f) - order(b.f) || a.i - b.i);
  fs.writeFileSync(
    file,
    `${JSON.stringify(
      merged.map((x) => x.f),
      null,
      2,
    )}\n`,
  );
  log(`kept ${kept.length} figure(s) of the parts not run (${[...new Set(kept.map(partOf))].join(", ")}) from ${file}`);
}
