/**
 * Mesos-DNS benchmark (issue 4): `dnsperf` against our mesos-dns and against
 * dnsmasq serving the same A names → same IPs, back to back in one run.
 *  - mesos-dns runs as a child process (`dcnet run mesos-dns --config FILE`)
 *    reading a synthetic Mesos master state (≥ 1,000 RUNNING tasks) that this
 *    process serves over HTTP; its `/v1/axfr` gives the A names, which are
 *    written to a hosts file for dnsmasq (`--addn-hosts`, exact names only);
 *  - both servers pinned to CPU 1, dnsperf (and this process) to CPU 0;
 *  - max rate: 3 s warm-up each, then rounds of 10 s alternating the servers,
 *    median qps; server CPU (utime+stime from /proc) → qps per busy core;
 *  - latency: dnsperf `-Q` at 25% of dnsmasq's median max qps, `-v`, p50/p99
 *    from the per-response latency lines, median over the rounds.
 */
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { Resolver } from "node:dns/promises";
import { startDnsmasq, spawnPinned, waitForDns, dnsmasqArgsSummary, type Pinned } from "./dnsmasq";
import {
  affinity,
  cpuSeconds,
  freePort,
  pin,
  requireTools,
  rssMiB,
  runDnsperf,
  versionLine,
  type DnsperfOptions,
  type DnsperfResult,
} from "./dnsperf";
import { max, median, percentile, ratio, round, writeResults, type Figure } from "./results";
import { envInt, prng } from "./env";
import { serverUdpPath } from "./dns-common";

const QPS_GOAL = 0.8;
const P99_GOAL = 2;
const LOAD_FRACTION = 0.25;
const DOMAIN = "mesos";
const TTL = 60;
const OUTSTANDING = 200;

/**
 * The Node ceiling: a minimal dgram responder answering every query with one
 * fixed A record (no parsing, no lookup, no metrics), same socket options and
 * synchronous `lookup` as mesos-dns. What any Node DNS server can at best reach here.
 */
const NODE_CEILING_SCRIPT = `
const dgram = require("node:dgram");
const rr = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, 1]);
const s = dgram.createSocket({ type: "udp4", recvBufferSize: 4 << 20, lookup: (a, f, cb) => cb(null, a, 4) });
s.on("message", (m, r) => {
  if (m.length < 12) return;
  const out = Buffer.allocUnsafe(m.length + 16);
  m.copy(out);
  out[2] |= 0x84;
  out[3] = 0x80;
  out[7] = 1;
  rr.copy(out, m.length);
  s.send(out, r.port, r.address);
});
s.bind(Number(process.argv[1]), "127.0.0.1");
process.on("SIGTERM", () => process.exit(0));
`;

function shuffled<T>(items: readonly T[], rand: () => number): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

/**
 * A Mesos `/master/state` document: `tasks` RUNNING tasks of `tasks / 4` apps
 * (4 instances each) spread over 3 frameworks and 8 agents, each task with one
 * container IP in statuses[].container_status.network_infos (shape of
 * /work/shared/mesos-dns-fixtures/fake.json).
 */
export function syntheticState(masterPort: number, tasks: number): Record<string, unknown> {
  const frameworks = ["marathon", "chronos", "spark"].map((name, i) => ({
    id: `bench-fw-000${i}`,
    name,
    pid: `scheduler-${i}@10.0.0.${11 + i}:${15100 + i}`,
    hostname: `10.0.0.${11 + i}`,
    active: true,
    tasks: [] as unknown[],
  }));
  const slaves = Array.from({ length: 8 }, (_, i) => ({
    id: `bench-agent-S${i}`,
    hostname: `10.1.0.${i + 1}`,
    pid: `slave(1)@10.1.0.${i + 1}:5051`,
    attributes: {},
    resources: { cpus: 8, mem: 30844, disk: 1035066, ports: "[31000-32000]" },
  }));
  const now = 1_700_000_000;
  for (let t = 0; t < tasks; t++) {
    const app = Math.floor(t / 4);
    const fw = frameworks[app % frameworks.length]!;
    const slave = slaves[t % slaves.length]!;
    const port = 31000 + (t % 1000);
    fw.tasks.push({
      id: `app-${String(app).padStart(4, "0")}.task-${String(t).padStart(5, "0")}-bench`,
      name: `app-${String(app).padStart(4, "0")}`,
      framework_id: fw.id,
      executor_id: "",
      slave_id: slave.id,
      state: "TASK_RUNNING",
      resources: { cpus: 0.1, mem: 128, disk: 0, ports: `[${port}-${port}]` },
      statuses: [
        {
          state: "TASK_RUNNING",
          timestamp: now + t,
          container_status: {
            network_infos: [{ ip_addresses: [{ protocol: "IPv4", ip_address: `10.${2 + (t >> 16)}.${(t >> 8) & 255}.${t & 255}` }] }],
          },
        },
      ],
    });
  }
  return {
    version: "1.11.0",
    hostname: "127.0.0.1",
    pid: `master@127.0.0.1:${masterPort}`,
    leader: `master@127.0.0.1:${masterPort}`,
    activated_slaves: slaves.length,
    frameworks,
    slaves,
  };
}

/** RecordIO framing of the Operator API stream: `<length>\n<json>`. */
function recordIo(event: Record<string, unknown>): string {
  const json = JSON.stringify(event);
  return `${Buffer.byteLength(json)}\n${json}`;
}

/**
 * Serves the state at /master/state, and the v1 Operator API `SUBSCRIBE` stream as a Mesos >= 1.1
 * master does (SUBSCRIBED, then a HEARTBEAT every 15 s, never a task event: the state does not
 * change). Without the stream mesos-dns would reload after every failed subscription attempt (about
 * every 30 s), and a reload inside a run measures record generation, not serving. Anything else is 404.
 */
async function fakeMaster(state: (port: number) => string): Promise<{ port: number; close(): Promise<void> }> {
  let body = "";
  const timers = new Set<NodeJS.Timeout>();
  const server = http.createServer((req, res) => {
    if (req.method === "GET" && (req.url === "/master/state" || req.url === "/master/state.json")) {
      res.writeHead(200, { "content-type": "application/json" }).end(body);
    } else if (req.method === "POST" && req.url === "/api/v1") {
      req.resume();
      res.writeHead(200, { "content-type": "application/json" });
      res.write(recordIo({ type: "SUBSCRIBED", subscribed: { get_state: {}, heartbeat_interval_seconds: 15 } }));
      const timer = setInterval(() => res.write(recordIo({ type: "HEARTBEAT" })), 15_000);
      timers.add(timer);
      res.on("close", () => {
        clearInterval(timer);
        timers.delete(timer);
      });
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  body = state(port);
  return {
    port,
    close: () => {
      for (const t of timers) clearInterval(t);
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Sum of `mesos_dns_refresh_total` (successful reloads, every trigger) from mesos-dns's /metrics. */
async function reloadCount(httpPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  let n = 0;
  for (const m of text.matchAll(/^mesos_dns_refresh_total(?:\{[^}]*\})? (\S+)$/gm)) n += Number(m[1]);
  return n;
}

interface Axfr {
  Records: { As: Record<string, string[]> };
}

async function fetchAxfr(httpPort: number, deadlineMs: number, exited: Promise<never>): Promise<Axfr> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    try {
      const res = await Promise.race([fetch(`http://127.0.0.1:${httpPort}/v1/axfr`, { signal: AbortSignal.timeout(2000) }), exited]);
      if (res.ok) return (await res.json()) as Axfr;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`mesos-dns /v1/axfr not answering after ${deadlineMs} ms: ${(err as Error).message}`);
    }
    if (Date.now() > deadline) throw new Error(`mesos-dns /v1/axfr not answering after ${deadlineMs} ms`);
    await Promise.race([new Promise((r) => setTimeout(r, 200)), exited]);
  }
}

/** Compares the A answers of both servers with the expected IPs for a sample of names. */
async function checkAnswers(ports: Record<string, number>, expected: ReadonlyMap<string, readonly string[]>, sample: string[]) {
  for (const [server, port] of Object.entries(ports)) {
    const r = new Resolver({ timeout: 2000, tries: 2 });
    r.setServers([`127.0.0.1:${port}`]);
    for (const name of sample) {
      const got = (await r.resolve4(name)).sort().join(",");
      const want = [...(expected.get(name) ?? [])].sort().join(",");
      if (got !== want) throw new Error(`${server} answers ${name} with [${got}], expected [${want}]`);
    }
  }
}

interface Server {
  readonly label: string;
  readonly port: number;
  readonly proc: Pinned;
}

interface Sample {
  result: DnsperfResult;
  /** Server CPU seconds used during the run / run seconds. */
  busyCores: number;
}

function spread(values: readonly number[]): { min: number; max: number } {
  return { min: round(Math.min(...values)), max: round(max(values)) };
}

export async function runMesosDns(): Promise<void> {
  const log = (msg: string): void => void process.stderr.write(`mesos-dns: ${msg}\n`);
  const tasks = Math.max(1000, envInt("BENCH_DNS_TASKS", 1000));
  const seconds = envInt("BENCH_DNS_SECONDS", 10);
  const warmupSeconds = envInt("BENCH_DNS_WARMUP_SECONDS", 3);
  const rounds = envInt("BENCH_DNS_ROUNDS", 3);
  const nodeFlags = (process.env["BENCH_MESOS_DNS_NODE_FLAGS"] ?? "").split(/\s+/).filter(Boolean);
  const ceilingFlags = (process.env["BENCH_CEILING_NODE_FLAGS"] ?? "").split(/\s+/).filter(Boolean);

  requireTools({ dnsperf: "dnsperf", dnsmasq: "dnsmasq", taskset: "util-linux" }, log);
  const cli = path.resolve(__dirname, "..", "..", "packages", "cli", "dist", "main.js");
  if (!fs.existsSync(cli)) throw new Error(`${cli} is missing: build first (npx tsc -b at the repository root)`);
  const twoCpus = os.cpus().length >= 2;
  const serverCpu = twoCpus ? 1 : 0;
  const clientCpu = 0;
  if (!twoCpus) log("only one CPU: server and client share it (figures are not comparable with the 2-CPU protocol)");
  const dnsmasqVersion = versionLine("dnsmasq", ["--version"], /Dnsmasq version (\S+)/);
  const dnsperfVersion = versionLine("dnsperf", ["-h"], /Version (\S+)/);

  const loadStart = os.loadavg().map((v) => round(v, 3));
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dcnet-bench-mesos-dns-"));
  const servers: Server[] = [];
  const ownAffinity = affinity(process.pid);
  let master: Awaited<ReturnType<typeof fakeMaster>> | undefined;
  try {
    // This process (dnsperf's parser, the fake master) stays off the server's CPU.
    if (twoCpus) pin(process.pid, String(clientCpu));

    // The state names the master's own address (leader), so it is built once the port is known.
    master = await fakeMaster((port) => JSON.stringify(syntheticState(port, tasks)));
    const [dnsPort, httpPort, dnsmasqPort] = [await freePort(), await freePort(), await freePort()];
    const configFile = path.join(tmp, "mesos-dns.json");
    const mesosConfig = {
      masters: [`127.0.0.1:${master.port}`],
      refreshSeconds: 3600,
      port: dnsPort,
      listener: "127.0.0.1",
      httpport: httpPort,
      HTTPListener: "127.0.0.1",
      domain: DOMAIN,
      ttl: TTL,
      externalOn: false,
      IPSources: ["netinfo", "host"],
    };
    fs.writeFileSync(configFile, JSON.stringify(mesosConfig, null, 2));
    const env: NodeJS.ProcessEnv = {
      PATH: process.env["PATH"],
      HOME: process.env["HOME"],
      DCNET_LOG__LEVEL: "warn",
      DCNET_MESOS_DNS_GRPC_PORT: "off",
      ...serverUdpPath().env,
    };
    const ours = spawnPinned(
      "mesos-dns",
      serverCpu,
      process.execPath,
      [...nodeFlags, cli, "run", "mesos-dns", "--config", configFile],
      env,
    );
    servers.push({ label: "mesos-dns", port: dnsPort, proc: ours });
    const axfr = await fetchAxfr(httpPort, 30_000, ours.exited);
    await waitForDns(dnsPort, `leader.${DOMAIN}`, 10_000, ours.exited);

    // The A names and their IPs, exactly as mesos-dns serves them.
    const expected = new Map<string, string[]>();
    for (const [name, ips] of Object.entries(axfr.Records.As)) {
      const v4 = ips.filter((ip) => /^\d+\.\d+\.\d+\.\d+$/.test(ip));
      if (v4.length > 0) expected.set(name.replace(/\.$/, ""), v4);
    }
    const names = [...expected.keys()];
    if (names.length < 1000) throw new Error(`mesos-dns serves only ${names.length} A names (< 1,000)`);
    const hostsFile = path.join(tmp, "hosts");
    fs.writeFileSync(hostsFile, [...expected].flatMap(([name, ips]) => ips.map((ip) => `${ip} ${name}\n`)).join(""));
    const rand = prng(4);
    const queryFile = path.join(tmp, "queries.txt");
    const copies = 4;
    const queryLines = Array.from({ length: copies }, () => shuffled(names, rand).map((n) => `${n} A\n`)).flat();
    fs.writeFileSync(queryFile, queryLines.join(""));
    const multi = [...expected.values()].filter((ips) => ips.length > 1).length;
    log(`${tasks} tasks → ${names.length} A names (${multi} with several IPs); query file ${queryLines.length} lines`);

    const reference = await startDnsmasq({ hostsFile, port: dnsmasqPort, cpu: serverCpu, ttl: TTL });
    servers.unshift({ label: "dnsmasq", port: dnsmasqPort, proc: reference });
    const ceilingPort = await freePort();
    const ceilingProc = spawnPinned(
      "node-ceiling",
      serverCpu,
      process.execPath,
      [...ceilingFlags, "-e", NODE_CEILING_SCRIPT, String(ceilingPort)],
      env,
    );
    const ceiling: Server = { label: "node dgram ceiling", port: ceilingPort, proc: ceilingProc };
    servers.push(ceiling);
    await waitForDns(ceilingPort, `leader.${DOMAIN}`, 10_000, ceilingProc.exited);
    await checkAnswers({ dnsmasq: dnsmasqPort, "mesos-dns": dnsPort }, expected, shuffled(names, rand).slice(0, 100));
    log(`servers pinned to CPU ${serverCpu}, dnsperf ${dnsperfVersion} to CPU ${clientCpu}; 100 sampled names answer alike`);

    const [refServer, ourServer] = [servers[0]!, servers[1]!];
    // Every round visits dnsmasq, the Node ceiling, then mesos-dns (the ceiling's p99 is the runtime's floor at that rate).
    const tpOrder = [refServer, ceiling, ourServer];
    const latOrder = [refServer, ceiling, ourServer];
    const died = Promise.race(servers.map((s) => s.proc.exited));
    died.catch(() => {}); // raced by every measurement; unobserved between them
    const measure = async (s: Server, o: Omit<DnsperfOptions, "server" | "port" | "file" | "cpu">): Promise<Sample> => {
      const c0 = cpuSeconds(s.proc.pid);
      const result = await Promise.race([runDnsperf({ server: "127.0.0.1", port: s.port, file: queryFile, cpu: clientCpu, ...o }), died]);
      const busyCores = (cpuSeconds(s.proc.pid) - c0) / result.runSeconds;
      const bad = Object.entries(result.rcodes).filter(([rc, n]) => rc !== "NOERROR" && n > 0);
      if (bad.length > 0) throw new Error(`${s.label}: non-NOERROR answers ${JSON.stringify(result.rcodes)}`);
      return { result, busyCores };
    };

    // Reloads of mesos-dns's record set while measuring (expected 0: refreshSeconds 3600, a quiet master).
    const reloadsBefore = await reloadCount(httpPort);

    // Max rate: warm-up, then alternating rounds.
    for (const s of tpOrder) {
      const w = await measure(s, { seconds: warmupSeconds, outstanding: OUTSTANDING });
      log(`warm-up ${s.label}: ${Math.round(w.result.qps)} qps`);
    }
    const tp = new Map<Server, Sample[]>(tpOrder.map((s) => [s, []]));
    for (let r = 0; r < rounds; r++) {
      for (const s of tpOrder) {
        const m = await measure(s, { seconds, outstanding: OUTSTANDING });
        tp.get(s)!.push(m);
        log(
          `round ${r + 1} ${s.label}: ${Math.round(m.result.qps)} qps, lost ${m.result.lost}, server ${m.busyCores.toFixed(2)} cores, ` +
            `${Math.round(m.result.qps / m.busyCores)} qps/core, response ${m.result.responseBytes} B`,
        );
      }
    }
    const qpsOf = (s: Server): number[] => tp.get(s)!.map((m) => m.result.qps);
    const busyOf = (s: Server): number[] => tp.get(s)!.map((m) => m.busyCores);
    const perCoreOf = (s: Server): number[] => tp.get(s)!.map((m) => m.result.qps / m.busyCores);
    const refQps = median(qpsOf(refServer));
    const ourQps = median(qpsOf(ourServer));

    // Latency at a fixed rate: 25% of dnsmasq's max.
    const rate = Math.round(refQps * LOAD_FRACTION);
    const lat = new Map<Server, Sample[]>(latOrder.map((s) => [s, []]));
    for (let r = 0; r < rounds; r++) {
      for (const s of latOrder) {
        const m = await measure(s, { seconds, rate, outstanding: OUTSTANDING, latencies: true });
        lat.get(s)!.push(m);
        const l = m.result.latenciesMs;
        log(
          `latency ${r + 1} ${s.label} at ${rate} qps: p50 ${percentile(l, 50).toFixed(3)} ms, p99 ${percentile(l, 99).toFixed(3)} ms, ` +
            `p99.9 ${percentile(l, 99.9).toFixed(3)} ms, max ${max(l).toFixed(3)} ms (${l.length} samples, lost ${m.result.lost})`,
        );
      }
    }
    const rss = { ours: round(rssMiB(ourServer.proc.pid), 3), reference: round(rssMiB(refServer.proc.pid), 3) };
    const reloads = (await reloadCount(httpPort)) - reloadsBefore;
    if (reloads > 0) log(`warning: mesos-dns reloaded its record set ${reloads} time(s) during the runs`);
    const pct = (s: Server, p: number): number[] => lat.get(s)!.map((m) => percentile(m.result.latenciesMs, p));
    const pooled = (s: Server): Float64Array => {
      const all = lat.get(s)!.map((m) => m.result.latenciesMs);
      const out = new Float64Array(all.reduce((n, a) => n + a.length, 0));
      let off = 0;
      for (const a of all) {
        out.set(a, off);
        off += a.length;
      }
      return out;
    };
    const [ourPooled, refPooled] = [pooled(ourServer), pooled(refServer)];
    const p50 = { ours: median(pct(ourServer, 50)), ref: median(pct(refServer, 50)) };
    const p99 = { ours: median(pct(ourServer, 99)), ref: median(pct(refServer, 99)) };
    const rounded = (v: readonly number[]): number[] => v.map((x) => round(x));
    const lost = (m: Map<Server, Sample[]>, s: Server): number[] => m.get(s)!.map((x) => x.result.lost);

    const common = {
      reference_name: `dnsmasq ${dnsmasqVersion} (same names → same IPs from a hosts file)`,
      tool: `dnsperf ${dnsperfVersion} -c 1 -T 1 -q ${OUTSTANDING}, pinned to CPU ${clientCpu}; servers pinned to CPU ${serverCpu}`,
      reference_command: dnsmasqArgsSummary,
      names: names.length,
      tasks,
    };
    const qpsRatio = ratio(ourQps, refQps);
    const p99Ratio = ratio(p99.ours, p99.ref);
    const figures: Figure[] = [
      {
        name: "mesos-dns A queries, max qps",
        unit: "qps",
        ours: round(ourQps),
        reference: round(refQps),
        ...common,
        ratio: round(qpsRatio, 3),
        goal: `>= ${QPS_GOAL}x dnsmasq`,
        met: qpsRatio >= QPS_GOAL,
        runs: { ours: rounded(qpsOf(ourServer)), reference: rounded(qpsOf(refServer)) },
        spread: { ours: spread(qpsOf(ourServer)), reference: spread(qpsOf(refServer)) },
        // Same-round ratios: each pair ran back to back, so these drift less with the VM's load than the medians.
        round_ratios: qpsOf(ourServer).map((q, i) => round(ratio(q, qpsOf(refServer)[i] ?? Number.NaN), 3)),
        lost: { ours: lost(tp, ourServer), reference: lost(tp, refServer) },
        server_busy_cores: { ours: round(median(busyOf(ourServer)), 3), reference: round(median(busyOf(refServer)), 3) },
        qps_per_busy_core: { ours: round(median(perCoreOf(ourServer))), reference: round(median(perCoreOf(refServer))) },
        qps_per_busy_core_ratio: round(ratio(median(perCoreOf(ourServer)), median(perCoreOf(refServer))), 3),
        response_bytes: {
          ours: tp.get(ourServer)![0]?.result.responseBytes,
          reference: tp.get(refServer)![0]?.result.responseBytes,
        },
        rss_mib_after_load: rss,
        udp_path: serverUdpPath().label,
        node_udp_ceiling: {
          what: "minimal Node dgram responder (one fixed A record, no parsing), same pinning: the ceiling of a server on udp_wrap, not of the batched path",
          qps: round(median(qpsOf(ceiling))),
          runs: rounded(qpsOf(ceiling)),
          ratio_to_dnsmasq: round(ratio(median(qpsOf(ceiling)), refQps), 3),
          ours_ratio_to_ceiling: round(ratio(ourQps, median(qpsOf(ceiling))), 3),
          qps_per_busy_core: round(median(perCoreOf(ceiling))),
        },
        loadavg: { start: loadStart, end: os.loadavg().map((v) => round(v, 3)) },
        reloads_during_runs: reloads,
        seconds_per_run: seconds,
        rounds,
      },
      {
        name: `mesos-dns p99 latency at ${LOAD_FRACTION * 100}% of dnsmasq's max rate`,
        unit: "ms",
        ours: round(p99.ours),
        reference: round(p99.ref),
        ...common,
        ratio: round(p99Ratio, 3),
        goal: `<= ${P99_GOAL}x dnsmasq`,
        met: p99.ours <= P99_GOAL * p99.ref,
        rate_qps: rate,
        runs: { ours: rounded(pct(ourServer, 99)), reference: rounded(pct(refServer, 99)) },
        pooled_p99: { ours: round(percentile(ourPooled, 99)), reference: round(percentile(refPooled, 99)) },
        p99_9: { ours: round(percentile(ourPooled, 99.9)), reference: round(percentile(refPooled, 99.9)) },
        max: { ours: round(max(ourPooled)), reference: round(max(refPooled)) },
        samples: { ours: ourPooled.length, reference: refPooled.length },
        lost: { ours: lost(lat, ourServer), reference: lost(lat, refServer) },
        server_busy_cores: {
          ours: round(median(lat.get(ourServer)!.map((m) => m.busyCores)), 3),
          reference: round(median(lat.get(refServer)!.map((m) => m.busyCores)), 3),
        },
        absolute_goal_2ms_met: p99.ours <= 2,
        node_udp_ceiling: {
          what: "the same minimal Node dgram responder at the same rate: the p99 of a Node UDP server on dgram (udp_wrap) here",
          p99: round(median(pct(ceiling, 99))),
          runs: rounded(pct(ceiling, 99)),
          ratio_to_dnsmasq: round(ratio(median(pct(ceiling, 99)), p99.ref), 3),
          ours_ratio_to_ceiling: round(ratio(p99.ours, median(pct(ceiling, 99))), 3),
        },
        reloads_during_runs: reloads,
      },
      {
        name: `mesos-dns p50 latency at ${LOAD_FRACTION * 100}% of dnsmasq's max rate`,
        unit: "ms",
        ours: round(p50.ours),
        reference: round(p50.ref),
        ...common,
        ratio: round(ratio(p50.ours, p50.ref), 3),
        goal: "none (reported only)",
        met: true,
        rate_qps: rate,
        runs: { ours: rounded(pct(ourServer, 50)), reference: rounded(pct(refServer, 50)) },
        pooled_p50: { ours: round(percentile(ourPooled, 50)), reference: round(percentile(refPooled, 50)) },
      },
    ];
    writeResults("mesos-dns", figures);
  } finally {
    await Promise.allSettled(servers.map((s) => s.proc.stop()));
    await master?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
    if (twoCpus) {
      try {
        pin(process.pid, ownAffinity);
      } catch {
        // best effort
      }
    }
  }
}
