/**
 * l4lb userspace data plane benchmark (issue 6, G8): HTTP through our userspace proxy vs straight
 * to the backend vs through HAProxy `mode tcp`, same backend, same run.
 *
 *  - backend: HAProxy (one thread) answering every request itself (`http-request return … ok`);
 *  - ours: `services/l4lb/dist/proxy/standalone.js` (the driver of the embedded mode, one VIP in
 *    127.11.0.0/16 → the backend), default Node flags;
 *  - reference: HAProxy `mode tcp` (one thread) on 127.12.0.1 → the same backend;
 *  - keep-alive: `wrk -t1 -c50` (Debian's wrk; a Node client if wrk is missing), req/s;
 *  - new connections: a Node client (this file, `--loadgen`) opening 20 connections at a time with
 *    `Connection: close` from 32 source addresses 127.0.0.2–33 (one source would hit TIME_WAIT);
 *  - latency: `wrk -t1 -c1` (one request in flight, so no queueing), p99; added = proxy − direct.
 *
 * Rounds (BENCH_L4LB_ROUNDS, default 8) alternate the three targets (order rotated each round),
 * medians are reported; short measurements (BENCH_L4LB_SECONDS, default 3, at most 10) so that
 * load from elsewhere on the VM hits the three alike. CPU layout (BENCH_L4LB_LAYOUT): `free`
 * (default, as G8's method: nothing pinned) or `split` = load generator on CPU 0, backend and proxy
 * on CPU 1. The proxies' CPU time per request is measured too: it depends much less on the layout
 * and on other load than rates do. BENCH_L4LB_KINDS (default `keepalive,newconn,latency`) runs a
 * part only; a partial run prints its figures without writing the results file.
 */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { spawnPinned, type Pinned } from "./dnsmasq";
import { cpuSeconds, freePort, pin, requireTools, versionLine } from "./dnsperf";
import { formatTable, machine, median, ratio, round, writeResults, type Figure } from "./results";
import { envInt } from "./env";

const KEEPALIVE_DIRECT_GOAL = 0.5;
const KEEPALIVE_HAPROXY_GOAL = 0.9;
const NEWCONN_DIRECT_GOAL = 0.4;
const NEWCONN_HAPROXY_GOAL = 0.6;
const ADDED_P99_GOAL_MS = 2;
const KEEPALIVE_CONNS = 50;
const NEWCONN_CONNS = 20;
const SOURCES = 32;
/** The Node load generator gives up on a connection silent for this long (counted as an error). */
const CONN_TIMEOUT_MS = 5000;

type TargetName = "direct" | "ours" | "haproxy";
const TARGETS: readonly TargetName[] = ["direct", "ours", "haproxy"];

interface Target {
  readonly name: TargetName;
  readonly host: string;
  readonly port: number;
  /** The proxy's pid (undefined for direct). */
  readonly pid: number | undefined;
}

interface Sample {
  /** Requests (or connections) per second. */
  rate: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  /** The proxy's CPU seconds per 1,000 requests (NaN for direct). */
  cpuMsPerKReq: number;
  load1: number;
}

const load1 = (): number => round(os.loadavg()[0] ?? Number.NaN, 3);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// The Node load generator (child process: `node l4lb-userspace.js --loadgen '<json>'`)
// ---------------------------------------------------------------------------------------------

interface LoadgenOptions {
  host: string;
  port: number;
  /** Connections in flight. */
  conns: number;
  seconds: number;
  /** `close`: one request per connection (Connection: close); `keepalive`: requests back to back on each connection. */
  mode: "close" | "keepalive";
  /** Source addresses to bind, round robin (empty = the kernel's choice). */
  sources: string[];
}

interface LoadgenResult {
  requests: number;
  errors: number;
  seconds: number;
  p50Ms: number;
  p99Ms: number;
}

/** Closed loop: `conns` clients, each sends a request as soon as the previous answer is complete. */
async function loadgen(o: LoadgenOptions): Promise<LoadgenResult> {
  const request = Buffer.from(`GET / HTTP/1.1\r\nHost: bench\r\n${o.mode === "close" ? "Connection: close\r\n" : ""}\r\n`);
  const samples = new Float64Array(1 << 20);
  let nSamples = 0;
  let requests = 0;
  let errors = 0;
  let running = true;
  let sourceIndex = 0;
  const t0 = process.hrtime.bigint();
  const deadline = Date.now() + o.seconds * 1000;
  const record = (started: bigint): void => {
    requests++;
    if (nSamples < samples.length) samples[nSamples++] = Number(process.hrtime.bigint() - started) / 1e6;
  };
  const isOk = (resp: string): boolean => resp.startsWith("HTTP/1.1 200");

  const oneClose = (): Promise<void> =>
    new Promise((resolve) => {
      const started = process.hrtime.bigint();
      const localAddress = o.sources.length > 0 ? o.sources[sourceIndex++ % o.sources.length] : undefined;
      const s = net.connect({ host: o.host, port: o.port, noDelay: true, ...(localAddress ? { localAddress } : {}) });
      let resp = "";
      s.setTimeout(CONN_TIMEOUT_MS, () => s.destroy());
      s.on("connect", () => s.write(request));
      s.on("data", (d) => (resp += d.toString("latin1")));
      s.on("error", () => {});
      s.on("close", () => {
        if (isOk(resp)) record(started);
        else errors++;
        resolve();
      });
    });

  const closeLoop = async (): Promise<void> => {
    while (running) await oneClose();
  };

  const keepaliveLoop = (): Promise<void> =>
    new Promise((resolve) => {
      const s = net.connect({ host: o.host, port: o.port, noDelay: true });
      s.setTimeout(CONN_TIMEOUT_MS, () => s.destroy());
      let started = process.hrtime.bigint();
      let resp = "";
      const send = (): void => {
        if (!running) {
          s.destroy();
          return;
        }
        started = process.hrtime.bigint();
        resp = "";
        s.write(request);
      };
      s.on("connect", send);
      s.on("data", (d) => {
        resp += d.toString("latin1");
        if (!resp.endsWith("\r\n\r\nok")) return;
        if (isOk(resp)) record(started);
        else errors++;
        send();
      });
      s.on("error", () => errors++);
      s.on("close", () => resolve());
    });

  const stopper = setTimeout(() => (running = false), Math.max(0, deadline - Date.now()));
  await Promise.all(Array.from({ length: o.conns }, () => (o.mode === "close" ? closeLoop() : keepaliveLoop())));
  clearTimeout(stopper);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const sorted = samples.subarray(0, nSamples).sort();
  const at = (p: number): number => sorted[Math.min(nSamples - 1, Math.max(0, Math.ceil((p / 100) * nSamples) - 1))] ?? Number.NaN;
  return { requests, errors, seconds, p50Ms: at(50), p99Ms: at(99) };
}

/** Runs the Node load generator pinned to `cpus` (this file, as a child process). */
async function runLoadgen(o: LoadgenOptions, cpus: string | undefined): Promise<LoadgenResult> {
  const args = [__filename, "--loadgen", JSON.stringify(o)];
  const child = cpus === undefined ? spawn(process.execPath, args) : spawn("taskset", ["-c", cpus, process.execPath, ...args]);
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const killer = setTimeout(() => child.kill("SIGKILL"), (o.seconds + 30) * 1000);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.once("close", (c: number | null, s: NodeJS.Signals | null) => resolve([c, s])),
  );
  clearTimeout(killer);
  if (code !== 0) throw new Error(`load generator against ${o.host}:${o.port} failed (${code ?? signal}): ${err.trim()}`);
  return JSON.parse(out) as LoadgenResult;
}

// ---------------------------------------------------------------------------------------------
// wrk
// ---------------------------------------------------------------------------------------------

const WRK_SCRIPT = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%d,"duration_us":%d,"errors":%d,"non2xx":%d,"p50_us":%d,"p99_us":%d}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99)))
end
`;

async function runWrk(script: string, url: string, conns: number, seconds: number, cpus: string | undefined): Promise<LoadgenResult> {
  const args = ["-t1", `-c${conns}`, `-d${seconds}s`, "-s", script, url];
  const child = cpus === undefined ? spawn("wrk", args) : spawn("taskset", ["-c", cpus, "wrk", ...args]);
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (out += d.toString()));
  const killer = setTimeout(() => child.kill("SIGKILL"), (seconds + 30) * 1000);
  await new Promise((resolve) => child.once("close", resolve));
  clearTimeout(killer);
  const m = /WRKJSON (\{.*\})/.exec(out);
  if (!m) throw new Error(`wrk printed no result:\n${out}`);
  const r = JSON.parse(m[1]!) as { requests: number; duration_us: number; errors: number; non2xx: number; p50_us: number; p99_us: number };
  return {
    requests: r.requests,
    errors: r.errors + r.non2xx,
    seconds: r.duration_us / 1e6,
    p50Ms: r.p50_us / 1000,
    p99Ms: r.p99_us / 1000,
  };
}

// ---------------------------------------------------------------------------------------------
// Servers
// ---------------------------------------------------------------------------------------------

function haproxyConfig(kind: "backend" | "tcp", bind: string, backend: string): string {
  const common = [
    "global",
    "  nbthread 1",
    "  maxconn 4000",
    "defaults",
    "  timeout connect 5s",
    "  timeout client 30s",
    "  timeout server 30s",
  ];
  if (kind === "backend") {
    return [
      ...common,
      "  mode http",
      "frontend fe",
      `  bind ${bind}`,
      "  http-request return status 200 content-type text/plain string ok",
      "",
    ].join("\n");
  }
  return [
    ...common,
    "  mode tcp",
    "frontend fe",
    `  bind ${bind}`,
    "  default_backend be",
    "backend be",
    `  server s1 ${backend}`,
    "",
  ].join("\n");
}

async function waitForHttp(host: string, port: number, p: Pinned): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host, port });
      let got = "";
      s.on("connect", () => s.write("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
      s.on("data", (d) => (got += d.toString()));
      s.on("error", () => resolve(false));
      s.on("close", () => resolve(got.startsWith("HTTP/1.1 200")));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${p.name} does not answer HTTP on ${host}:${port}:\n${p.output()}`);
    await Promise.race([sleep(100), p.exited]);
  }
}

/** The proxy's CPU seconds while `run` runs, with `run`'s result. */
async function withCpu<T>(pid: number | undefined, run: () => Promise<T>): Promise<{ result: T; cpu: number }> {
  const before = pid === undefined ? 0 : cpuSeconds(pid);
  const result = await run();
  return { result, cpu: pid === undefined ? Number.NaN : cpuSeconds(pid) - before };
}

/**
 * Keeps the benchmark's connections out of conntrack (when nft and NET_ADMIN are there): a table of
 * our own with `notrack` for exactly our three ports, deleted at the end. Without it, tens of
 * thousands of new connections a second leave TIME_WAIT entries for 2 minutes and fill the shared
 * table (`nf_conntrack: table full, dropping packet`), which stalls our connections and everyone
 * else's on this VM. Returns the cleanup, or undefined (with the reason logged) when not possible.
 */
function untrack(ports: readonly number[], log: (msg: string) => void): (() => void) | undefined {
  const table = `dcnet_bench_notrack_${process.pid}`;
  const set = `{ ${ports.join(", ")} }`;
  const chain = (name: string, hook: string): string =>
    `  chain ${name} { type filter hook ${hook} priority raw; policy accept; tcp dport ${set} notrack; tcp sport ${set} notrack; }`;
  const script = [`table ip ${table} {`, chain("out", "output"), chain("pre", "prerouting"), "}", ""].join("\n");
  const r = spawnSync("nft", ["-f", "-"], { input: script, encoding: "utf8" });
  if (r.status !== 0) {
    log(
      `cannot keep the benchmark out of conntrack (${(r.stderr || r.error?.message || "nft failed").trim()}): new-connection rounds wait for the table to drain`,
    );
    return undefined;
  }
  return () => void spawnSync("nft", ["delete", "table", "ip", table]);
}

/** Conntrack entries in use / the table size (undefined without conntrack). */
function conntrackUse(): { count: number; max: number } | undefined {
  try {
    const read = (f: string): number => Number(fs.readFileSync(`/proc/sys/net/netfilter/${f}`, "utf8").trim());
    return { count: read("nf_conntrack_count"), max: read("nf_conntrack_max") };
  } catch {
    return undefined;
  }
}

/** Without notrack: waits (at most 130 s, the TIME_WAIT timeout and some) until the conntrack table is at most a quarter full. */
async function conntrackRoom(log: (msg: string) => void): Promise<void> {
  const deadline = Date.now() + 130_000;
  let said = false;
  for (let u = conntrackUse(); u !== undefined && u.count > u.max / 4 && Date.now() < deadline; u = conntrackUse()) {
    if (!said) log(`conntrack ${u.count}/${u.max} in use: waiting for it to drain`);
    said = true;
    await sleep(2000);
  }
}

export async function runL4lbUserspace(): Promise<void> {
  const log = (msg: string): void => void process.stderr.write(`l4lb-userspace: ${msg}\n`);
  const rounds = envInt("BENCH_L4LB_ROUNDS", 8);
  const seconds = envInt("BENCH_L4LB_SECONDS", 3, 10);
  const layout = process.env["BENCH_L4LB_LAYOUT"] ?? "free";
  const allKinds = ["keepalive", "newconn", "latency"] as const;
  const kinds = (process.env["BENCH_L4LB_KINDS"] ?? allKinds.join(",")).split(",") as (typeof allKinds)[number][];
  if (kinds.some((k) => !allKinds.includes(k))) throw new Error(`BENCH_L4LB_KINDS must list some of ${allKinds.join(",")}`);
  if (layout !== "split" && layout !== "free") throw new Error(`BENCH_L4LB_LAYOUT must be split or free, got "${layout}"`);
  const clientCpus = layout === "split" ? "0" : undefined;
  const serverCpus = layout === "split" ? "1" : "0,1";
  requireTools({ haproxy: "haproxy", taskset: "util-linux" }, log);
  const haveWrk = spawnSync("sh", ["-c", "command -v wrk"]).status === 0;
  if (!haveWrk) log("wrk not found (apt-get install -y wrk): keep-alive and latency use the Node load generator instead");

  const standalone = path.resolve(__dirname, "..", "..", "services", "l4lb", "dist", "proxy", "standalone.js");
  if (!fs.existsSync(standalone)) throw new Error(`${standalone} missing: build with npx tsc -b services/l4lb`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-l4lb-"));
  const wrkScript = path.join(dir, "report.lua");
  fs.writeFileSync(wrkScript, WRK_SCRIPT);
  const [backendPort, oursPort, haproxyPort] = [await freePort(), await freePort(), await freePort()];
  const backend = `127.0.0.1:${backendPort}`;
  const oursHost = "127.11.0.1";
  const haproxyHost = "127.12.0.1";
  const sources = Array.from({ length: SOURCES }, (_, i) => `127.0.0.${i + 2}`);

  const started: Pinned[] = [];
  const serverCpu = Number(serverCpus.split(",")[0]);
  const spawnServer = (name: string, cmd: string, args: readonly string[]): Pinned => {
    const p = spawnPinned(name, serverCpu, cmd, args);
    started.push(p);
    pin(p.pid, serverCpus);
    return p;
  };
  const untracked = untrack([backendPort, oursPort, haproxyPort], log);
  const loadStart = load1();
  try {
    fs.writeFileSync(path.join(dir, "backend.cfg"), haproxyConfig("backend", backend, ""));
    fs.writeFileSync(path.join(dir, "tcp.cfg"), haproxyConfig("tcp", `${haproxyHost}:${haproxyPort}`, backend));
    const be = spawnServer("haproxy-backend", "haproxy", ["-db", "-f", path.join(dir, "backend.cfg")]);
    const ref = spawnServer("haproxy-tcp", "haproxy", ["-db", "-f", path.join(dir, "tcp.cfg")]);
    const table = [{ protocol: "tcp", ip: oursHost, port: oursPort, backends: [{ ip: "127.0.0.1", port: backendPort, weight: 1 }] }];
    const ours = spawnServer("l4lb-userspace", process.execPath, [standalone, JSON.stringify(table)]);
    await waitForHttp("127.0.0.1", backendPort, be);
    await waitForHttp(haproxyHost, haproxyPort, ref);
    await waitForHttp(oursHost, oursPort, ours);
    const targets: Record<TargetName, Target> = {
      direct: { name: "direct", host: "127.0.0.1", port: backendPort, pid: undefined },
      ours: { name: "ours", host: oursHost, port: oursPort, pid: ours.pid },
      haproxy: { name: "haproxy", host: haproxyHost, port: haproxyPort, pid: ref.pid },
    };
    const haproxyVersion = versionLine("haproxy", ["-v"], /HAProxy version (\S+)/);
    const wrkVersion = haveWrk ? versionLine("wrk", ["-v"], /wrk (\S+)/) : "none";
    log(
      `layout ${layout} (client CPUs ${clientCpus ?? "any"}, servers ${serverCpus}); ${rounds} rounds x ${seconds} s; haproxy ${haproxyVersion}, wrk ${wrkVersion}; load ${loadStart}`,
    );

    type Kind = "keepalive" | "newconn" | "latency";
    const measure = async (kind: Kind, t: Target, secs: number): Promise<Sample> => {
      const url = `http://${t.host}:${t.port}/`;
      const l = load1();
      if (kind === "newconn" && untracked === undefined) await conntrackRoom(log);
      const { result, cpu } = await withCpu(t.pid, () => {
        if (kind === "newconn")
          return runLoadgen({ host: t.host, port: t.port, conns: NEWCONN_CONNS, seconds: secs, mode: "close", sources }, clientCpus);
        const conns = kind === "keepalive" ? KEEPALIVE_CONNS : 1;
        if (haveWrk) return runWrk(wrkScript, url, conns, secs, clientCpus);
        return runLoadgen({ host: t.host, port: t.port, conns, seconds: secs, mode: "keepalive", sources: [] }, clientCpus);
      });
      return {
        rate: result.requests / result.seconds,
        p50Ms: result.p50Ms,
        p99Ms: result.p99Ms,
        errors: result.errors,
        cpuMsPerKReq: (cpu * 1e6) / Math.max(1, result.requests),
        load1: l,
      };
    };

    // Warm-up: JIT for ours, caches for all.
    for (const t of TARGETS) await measure("keepalive", targets[t], 2);
    if (kinds.includes("newconn")) for (const t of TARGETS) await measure("newconn", targets[t], 2);

    const results: Record<Kind, Record<TargetName, Sample[]>> = {
      keepalive: { direct: [], ours: [], haproxy: [] },
      newconn: { direct: [], ours: [], haproxy: [] },
      latency: { direct: [], ours: [], haproxy: [] },
    };
    for (const kind of kinds) {
      for (let r = 0; r < rounds; r++) {
        const order = TARGETS.map((_, i) => TARGETS[(i + r) % TARGETS.length]!);
        const line: string[] = [];
        for (const t of order) {
          const s = await measure(kind, targets[t], kind === "latency" ? Math.min(seconds, 2) : seconds);
          results[kind][t].push(s);
          line.push(
            `${t} ${Math.round(s.rate)}/s p99 ${round(s.p99Ms, 3)} ms${Number.isNaN(s.cpuMsPerKReq) ? "" : ` cpu ${round(s.cpuMsPerKReq, 3)} ms/kreq`} (load ${s.load1})`,
          );
        }
        log(`${kind} round ${r + 1}: ${line.join("; ")}`);
      }
    }

    const med = (kind: Kind, t: TargetName, f: (s: Sample) => number): number => median(results[kind][t].map(f));
    const rate = (kind: Kind, t: TargetName): number => med(kind, t, (s) => s.rate);
    const perRound = (kind: Kind, t: TargetName, f: (s: Sample) => number): number[] => results[kind][t].map((s) => round(f(s)));
    const sameRound = (kind: Kind, a: TargetName, b: TargetName): number =>
      round(median(results[kind][a].map((s, i) => ratio(s.rate, results[kind][b][i]?.rate ?? Number.NaN))));
    const errors = (kind: Kind): Record<TargetName, number> => ({
      direct: results[kind].direct.reduce((n, s) => n + s.errors, 0),
      ours: results[kind].ours.reduce((n, s) => n + s.errors, 0),
      haproxy: results[kind].haproxy.reduce((n, s) => n + s.errors, 0),
    });
    const loadEnd = load1();
    const common = {
      layout,
      rounds,
      seconds_per_round: seconds,
      load1: { start: loadStart, end: loadEnd },
      backend: `haproxy ${haproxyVersion} nbthread 1, http-request return 200 "ok"`,
      reference_proxy: `haproxy ${haproxyVersion} nbthread 1, mode tcp`,
      ours_proxy: "services/l4lb/dist/proxy/standalone.js, node default flags",
      conntrack: untracked ? "benchmark ports exempt (notrack)" : "tracked (rounds wait for room)",
    };
    const keepaliveTool = haveWrk
      ? `wrk ${wrkVersion} -t1 -c${KEEPALIVE_CONNS} -d${seconds}s`
      : `node load generator, ${KEEPALIVE_CONNS} keep-alive connections`;
    const newconnTool = `node load generator, ${NEWCONN_CONNS} connections in flight, Connection: close, ${SOURCES} source addresses 127.0.0.2-${SOURCES + 1}`;
    const cpuExtras = (kind: Kind): Record<string, unknown> => ({
      ours_cpu_ms_per_1000_req: round(med(kind, "ours", (s) => s.cpuMsPerKReq)),
      haproxy_cpu_ms_per_1000_req: round(med(kind, "haproxy", (s) => s.cpuMsPerKReq)),
    });
    const figures: Figure[] = [];
    const rateFigure = (kind: "keepalive" | "newconn", vs: "direct" | "haproxy", goal: number, label: string, tool: string): void => {
      if (!kinds.includes(kind)) return;
      const ours = rate(kind, "ours");
      const reference = rate(kind, vs);
      const r = ratio(ours, reference);
      figures.push({
        name: `${label} through the userspace proxy vs ${vs === "direct" ? "direct to the backend" : "HAProxy mode tcp"}`,
        unit: "req/s",
        ours: round(ours),
        reference: round(reference),
        reference_name: vs === "direct" ? "direct to the backend" : `haproxy ${haproxyVersion} mode tcp`,
        ratio: round(r),
        goal: `>= ${goal}x`,
        met: r >= goal,
        same_round_ratio_median: sameRound(kind, "ours", vs),
        per_round: { ours: perRound(kind, "ours", (s) => s.rate), [vs]: perRound(kind, vs, (s) => s.rate) },
        other_target_median: round(rate(kind, vs === "direct" ? "haproxy" : "direct")),
        haproxy_vs_direct: round(ratio(rate(kind, "haproxy"), rate(kind, "direct"))),
        load1_per_round: results[kind].ours.map((s) => s.load1),
        errors: errors(kind),
        tool,
        ...cpuExtras(kind),
        ...common,
      });
    };
    rateFigure("keepalive", "direct", KEEPALIVE_DIRECT_GOAL, "keep-alive HTTP", keepaliveTool);
    rateFigure("keepalive", "haproxy", KEEPALIVE_HAPROXY_GOAL, "keep-alive HTTP", keepaliveTool);
    rateFigure("newconn", "direct", NEWCONN_DIRECT_GOAL, "new connections (one request each)", newconnTool);
    rateFigure("newconn", "haproxy", NEWCONN_HAPROXY_GOAL, "new connections (one request each)", newconnTool);
    const p99 = (t: TargetName): number => med("latency", t, (s) => s.p99Ms);
    const added = p99("ours") - p99("direct");
    const addedRef = p99("haproxy") - p99("direct");
    if (kinds.includes("latency"))
      figures.push({
        name: "added p99 latency, one request in flight (proxy p99 - direct p99)",
        unit: "ms",
        ours: round(added),
        reference: round(addedRef),
        reference_name: `haproxy ${haproxyVersion} mode tcp`,
        ratio: round(ratio(added, addedRef)),
        goal: `<= ${ADDED_P99_GOAL_MS} ms`,
        met: added <= ADDED_P99_GOAL_MS,
        p99_ms: { direct: round(p99("direct")), ours: round(p99("ours")), haproxy: round(p99("haproxy")) },
        added_p99_same_round_median_ms: {
          ours: round(median(results.latency.ours.map((s, i) => s.p99Ms - (results.latency.direct[i]?.p99Ms ?? Number.NaN)))),
          haproxy: round(median(results.latency.haproxy.map((s, i) => s.p99Ms - (results.latency.direct[i]?.p99Ms ?? Number.NaN)))),
        },
        /** One request in flight: 1 / rate is the mean request time, so these are mean added times (less noisy than p99). */
        added_mean_us: {
          ours: round(1e6 / rate("latency", "ours") - 1e6 / rate("latency", "direct")),
          haproxy: round(1e6 / rate("latency", "haproxy") - 1e6 / rate("latency", "direct")),
        },
        load1_per_round: results.latency.ours.map((s) => s.load1),
        p50_ms: {
          direct: round(med("latency", "direct", (s) => s.p50Ms)),
          ours: round(med("latency", "ours", (s) => s.p50Ms)),
          haproxy: round(med("latency", "haproxy", (s) => s.p50Ms)),
        },
        p99_ms_at_keepalive_load: {
          direct: round(med("keepalive", "direct", (s) => s.p99Ms)),
          ours: round(med("keepalive", "ours", (s) => s.p99Ms)),
          haproxy: round(med("keepalive", "haproxy", (s) => s.p99Ms)),
        },
        tool: haveWrk ? `wrk ${wrkVersion} -t1 -c1 -d${Math.min(seconds, 2)}s` : "node load generator, 1 keep-alive connection",
        ...common,
      });
    // Only a full run replaces the results file; a partial one (BENCH_L4LB_KINDS) just prints.
    if (kinds.length === allKinds.length) writeResults("l4lb-userspace", figures);
    else
      process.stdout.write(
        `\nl4lb-userspace (partial: ${kinds.join(",")}; results file not written) — ${machine()}\n${formatTable(figures)}\n`,
      );
  } finally {
    for (const p of started.reverse()) await p.stop();
    const oursStats = started
      .find((p) => p.name === "l4lb-userspace")
      ?.output()
      .trim()
      .split("\n")
      .pop();
    if (oursStats) log(`our proxy's counters: ${oursStats}`);
    untracked?.();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module && process.argv[2] === "--loadgen") {
  loadgen(JSON.parse(process.argv[3] ?? "{}") as LoadgenOptions).then(
    (r) => process.stdout.write(`${JSON.stringify(r)}\n`),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
