/**
 * dcos-dns benchmark (issue 5): Debian's `dnsperf` against our dcos-dns and against dnsmasq, back
 * to back in one run, for both of dcos-dns's query paths:
 *  - authoritative: `*.dcos.thisdcos.directory` from a zone this process publishes on a real NATS
 *    bus (≥ 1,000 names); dnsmasq serves the same names → same IPs from a hosts file;
 *  - forwarded: `*.mesos` relayed to an upstream (a second dnsmasq, authoritative for the names);
 *    the reference is dnsmasq as a forwarder to the same upstream with its cache off (dcos-dns does
 *    not cache).
 * dcos-dns runs as a child process (`dcnet run dcos-dns --config FILE`); servers pinned to CPU 1,
 * dnsperf (and this process) to CPU 0; rounds alternate the servers; medians are reported. A
 * minimal Node responder / relay on the same CPU gives the Node ceiling of each path.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Resolver } from "node:dns/promises";
import { busSection, connectBus, createLogger, startNatsServer, type Bus, type NatsServerHandle } from "@dcnet/core";
import { DCOS_ZONE, ZONE_BUCKET, encodeZone, zoneKey, type ZoneData } from "@dcnet/dcos-dns";
import { startDnsmasq, spawnPinned, waitForDns, type Pinned } from "./dnsmasq";
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
import { envInt, loadavg, prng, serverUdpPath, shuffled, spread, syntheticDcosZone } from "./dns-common";
import { max, median, percentile, ratio, round, writeResults, type Figure } from "./results";

const AUTH_QPS_GOAL = 0.8;
const FWD_QPS_GOAL = 0.5;
const P99_GOAL = 2;
const LOAD_FRACTION = 0.25;
/** dcos-dns answers with TTL 5 (§3.4); dnsmasq is given the same. */
const TTL = 5;
/** Outstanding queries: 200 for the authoritative path (as the mesos-dns bench); 100 when forwarding (dnsmasq forwards at most 150 at once by default). */
const AUTH_OUTSTANDING = 200;
const FWD_OUTSTANDING = 100;
const CLUSTER = { id: "bench-dcos-dns", key: "bench-dcos-dns-cluster-key-0001" };

/** Minimal Node authoritative ceiling: answers every query with one fixed A record (same idea as the mesos-dns bench). */
const NODE_ECHO_SCRIPT = `
const dgram = require("node:dgram");
const rr = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 10, 0, 0, 1]);
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

/**
 * Minimal Node forwarding ceiling: one upstream socket, query ids remapped, no parsing, no
 * timeouts, no metrics. What any Node forwarder can at best reach here.
 */
const NODE_RELAY_SCRIPT = `
const dgram = require("node:dgram");
const [port, upPort] = process.argv.slice(1).map(Number);
const opts = { type: "udp4", recvBufferSize: 4 << 20, lookup: (a, f, cb) => cb(null, a, 4) };
const s = dgram.createSocket(opts);
const u = dgram.createSocket(opts);
const pending = new Array(65536);
let next = 0;
s.on("message", (m, r) => {
  if (m.length < 12) return;
  const id = next;
  next = (next + 1) & 0xffff;
  pending[id] = [m[0], m[1], r.port, r.address];
  m[0] = id >> 8;
  m[1] = id & 255;
  u.send(m, upPort, "127.0.0.1");
});
u.on("message", (m) => {
  const id = (m[0] << 8) | m[1];
  const p = pending[id];
  if (!p) return;
  pending[id] = undefined;
  m[0] = p[0];
  m[1] = p[1];
  s.send(m, p[2], p[3]);
});
u.bind(0, "127.0.0.1");
s.bind(port, "127.0.0.1");
process.on("SIGTERM", () => process.exit(0));
`;

interface Server {
  readonly label: string;
  readonly port: number;
  readonly proc: Pinned;
}

interface Sample {
  result: DnsperfResult;
  /** Server CPU seconds used during the run / run seconds. */
  busyCores: number;
  /** Same for the upstream (forwarding runs only). */
  upstreamBusyCores: number;
}

/** `name → sorted IPs` of a zone (names without the final dot). */
function expectedOf(zone: ZoneData, rename?: (name: string) => string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [name, v] of zone.records) {
    if (!v.a?.length) continue;
    const n = name.replace(/\.$/, "");
    out.set(rename ? rename(n) : n, [...v.a].sort());
  }
  return out;
}

/** Asks each server for a sample of names; every answer must be the expected IP set. */
async function checkAnswers(ports: Record<string, number>, expected: ReadonlyMap<string, readonly string[]>, sample: readonly string[]) {
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

/** Polls until `name` resolves to `want` on the server (the zone arrived over the bus). */
async function waitForAnswer(port: number, name: string, want: readonly string[], ms: number, exited: Promise<never>): Promise<void> {
  const deadline = Date.now() + ms;
  const r = new Resolver({ timeout: 500, tries: 1 });
  r.setServers([`127.0.0.1:${port}`]);
  let last = "";
  for (;;) {
    try {
      const got = await Promise.race([r.resolve4(name), exited]);
      if (got.sort().join(",") === [...want].sort().join(",")) return;
      last = got.join(",");
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`dcos-dns does not answer ${name} with ${want.join(",")} within ${ms} ms (last: ${last})`);
    await Promise.race([new Promise((res) => setTimeout(res, 100)), exited]);
  }
}

const dnsmasqForwarderArgs = (port: number, upstreamPort: number): string[] => [
  "-k",
  "--conf-file=/dev/null",
  "--no-resolv",
  "--no-hosts",
  `--server=/mesos/127.0.0.1#${upstreamPort}`,
  "--cache-size=0",
  `--port=${port}`,
  "--listen-address=127.0.0.1",
  "--bind-interfaces",
  "--user=root",
  "--pid-file=",
  "--log-facility=-",
];

export async function runDcosDns(): Promise<void> {
  const log = (msg: string): void => void process.stderr.write(`dcos-dns: ${msg}\n`);
  const tasks = Math.max(1000, envInt("BENCH_DCOS_DNS_TASKS", 1000));
  const seconds = envInt("BENCH_DNS_SECONDS", 10);
  const warmupSeconds = envInt("BENCH_DNS_WARMUP_SECONDS", 3);
  const rounds = envInt("BENCH_DNS_ROUNDS", 3);
  const nodeFlags = (process.env["BENCH_DCOS_DNS_NODE_FLAGS"] ?? "").split(/\s+/).filter(Boolean);

  requireTools({ dnsperf: "dnsperf", dnsmasq: "dnsmasq", taskset: "util-linux", "nats-server": "nats-server" }, log);
  const cli = path.resolve(__dirname, "..", "..", "packages", "cli", "dist", "main.js");
  if (!fs.existsSync(cli)) throw new Error(`${cli} is missing: build first (npx tsc -b at the repository root)`);
  const twoCpus = os.cpus().length >= 2;
  const serverCpu = twoCpus ? 1 : 0;
  const clientCpu = 0;
  if (!twoCpus) log("only one CPU: server and client share it (figures are not comparable with the 2-CPU protocol)");
  const dnsmasqVersion = versionLine("dnsmasq", ["--version"], /Dnsmasq version (\S+)/);
  const dnsperfVersion = versionLine("dnsperf", ["-h"], /Version (\S+)/);

  const loadStart = loadavg();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dcnet-bench-dcos-dns-"));
  const procs: Pinned[] = [];
  const ownAffinity = affinity(process.pid);
  let nats: NatsServerHandle | undefined;
  let bus: Bus | undefined;
  try {
    if (twoCpus) pin(process.pid, String(clientCpu));

    // The zone, published on a real NATS bus under the cluster's key, as the producer would.
    // Apps of 4 instances and of 1 instance alternate (4 + 1 + 1 + 1 tasks per 4 apps), so ~1/4 of the names have several IPs.
    const apps = Math.ceil((tasks * 4) / 7);
    const zone = syntheticDcosZone(apps, (a) => (a % 4 === 0 ? 4 : 1), 8);
    nats = await startNatsServer();
    bus = await connectBus({
      cluster: CLUSTER,
      bus: busSection.parse({ servers: [nats.url] }),
      nodeId: "bench-publisher",
      logger: createLogger({ service: "bench", level: "warn", destination: process.stderr }),
    });
    const kv = await bus.kv(ZONE_BUCKET);
    const zoneBytes = encodeZone(zone);
    await kv.put(zoneKey(DCOS_ZONE), zoneBytes);

    const expected = expectedOf(zone);
    const names = [...expected.keys()];
    if (names.length < 1000) throw new Error(`the zone has only ${names.length} A names (< 1,000)`);
    const multi = [...expected.values()].filter((ips) => ips.length > 1).length;
    // The upstream for `.mesos`: the same names with `.mesos` instead of `.dcos.thisdcos.directory`.
    const toMesos = (n: string): string => n.replace(/\.dcos\.thisdcos\.directory$/, ".mesos");
    const mesosExpected = expectedOf(zone, toMesos);
    const mesosNames = [...mesosExpected.keys()];
    const hostsOf = (m: Map<string, string[]>): string => [...m].flatMap(([name, ips]) => ips.map((ip) => `${ip} ${name}\n`)).join("");
    const hostsFile = path.join(tmp, "hosts");
    const mesosHostsFile = path.join(tmp, "mesos-hosts");
    fs.writeFileSync(hostsFile, hostsOf(expected));
    fs.writeFileSync(mesosHostsFile, hostsOf(mesosExpected));
    const rand = prng(5);
    const copies = 4;
    const queryFile = (file: string, list: readonly string[]): string => {
      const lines = Array.from({ length: copies }, () => shuffled(list, rand).map((n) => `${n} A\n`)).flat();
      fs.writeFileSync(path.join(tmp, file), lines.join(""));
      return path.join(tmp, file);
    };
    const authQueries = queryFile("auth-queries.txt", names);
    const fwdQueries = queryFile("mesos-queries.txt", mesosNames);
    log(
      `${tasks} tasks → zone ${DCOS_ZONE} with ${names.length} A names (${multi} with several IPs), ${zoneBytes.length} bytes on the bus; ` +
        `query files ${names.length * copies} lines each`,
    );

    const [ourPort, authRefPort, fwdRefPort] = [await freePort(), await freePort(), await freePort()];
    const [upstreamPort, echoPort, relayPort] = [await freePort(), await freePort(), await freePort()];
    // Upstream for the forwarding path, on the client's CPU so the forwarders under test have CPU 1 to themselves.
    const upstream = await startDnsmasq({ hostsFile: mesosHostsFile, port: upstreamPort, cpu: clientCpu, ttl: TTL });
    procs.push(upstream);

    const configFile = path.join(tmp, "dcos-dns.json");
    fs.writeFileSync(
      configFile,
      JSON.stringify(
        {
          bind_ips: ["127.0.0.1"],
          udp_port: ourPort,
          tcp_port: ourPort,
          upstream_resolvers: [],
          masters: [],
          mesos_dns: [`127.0.0.1:${upstreamPort}`],
          node_ip: "10.9.0.1",
          http_listen: { host: "127.0.0.1", port: 0 },
          grpc_listen: { host: "127.0.0.1", port: 0 },
          cluster: CLUSTER,
          bus: { servers: [nats.url] },
          node: { id: "bench-dcos-dns" },
          log: { level: "warn" },
        },
        null,
        2,
      ),
    );
    const env: NodeJS.ProcessEnv = {
      PATH: process.env["PATH"],
      HOME: process.env["HOME"],
      DCNET_LOG__LEVEL: "warn",
      ...serverUdpPath().env,
    };
    const ours = spawnPinned("dcos-dns", serverCpu, process.execPath, [...nodeFlags, cli, "run", "dcos-dns", "--config", configFile], env);
    procs.push(ours);
    await waitForDns(ourPort, "ready.spartan", 30_000, ours.exited);
    const probe = names[0]!;
    await waitForAnswer(ourPort, probe, expected.get(probe)!, 30_000, ours.exited);

    const authRef = await startDnsmasq({ hostsFile, port: authRefPort, cpu: serverCpu, ttl: TTL });
    procs.push(authRef);
    const fwdRef = spawnPinned("dnsmasq-forwarder", serverCpu, "dnsmasq", dnsmasqForwarderArgs(fwdRefPort, upstreamPort));
    procs.push(fwdRef);
    await waitForDns(fwdRefPort, "dnsmasq-ready.invalid", 10_000, fwdRef.exited);
    const echo = spawnPinned("node-echo", serverCpu, process.execPath, ["-e", NODE_ECHO_SCRIPT, String(echoPort)], env);
    procs.push(echo);
    await waitForDns(echoPort, "x.invalid", 10_000, echo.exited);
    const relay = spawnPinned(
      "node-relay",
      serverCpu,
      process.execPath,
      ["-e", NODE_RELAY_SCRIPT, String(relayPort), String(upstreamPort)],
      env,
    );
    procs.push(relay);
    await waitForDns(relayPort, "x.invalid", 10_000, relay.exited);

    await checkAnswers({ dnsmasq: authRefPort, "dcos-dns": ourPort }, expected, shuffled(names, rand).slice(0, 100));
    await checkAnswers(
      { "dnsmasq forwarder": fwdRefPort, "dcos-dns forwarding": ourPort, "node relay": relayPort },
      mesosExpected,
      shuffled(mesosNames, rand).slice(0, 100),
    );
    log(
      `servers pinned to CPU ${serverCpu}, dnsperf ${dnsperfVersion} and the upstream to CPU ${clientCpu}; 100 sampled names answer alike`,
    );

    const S = (label: string, port: number, proc: Pinned): Server => ({ label, port, proc });
    const dnsmasqAuth = S("dnsmasq", authRefPort, authRef);
    const ourAuth = S("dcos-dns", ourPort, ours);
    const echoSrv = S("node echo ceiling", echoPort, echo);
    const dnsmasqFwd = S("dnsmasq forwarder", fwdRefPort, fwdRef);
    const ourFwd = S("dcos-dns forwarding", ourPort, ours);
    const relaySrv = S("node relay ceiling", relayPort, relay);

    const died = Promise.race(procs.map((p) => p.exited));
    died.catch(() => {}); // raced by every measurement
    const measure = async (s: Server, file: string, o: Omit<DnsperfOptions, "server" | "port" | "file" | "cpu">): Promise<Sample> => {
      const c0 = cpuSeconds(s.proc.pid);
      const u0 = cpuSeconds(upstream.pid);
      const result = await Promise.race([runDnsperf({ server: "127.0.0.1", port: s.port, file, cpu: clientCpu, ...o }), died]);
      const busyCores = (cpuSeconds(s.proc.pid) - c0) / result.runSeconds;
      const upstreamBusyCores = (cpuSeconds(upstream.pid) - u0) / result.runSeconds;
      const bad = Object.entries(result.rcodes).filter(([rc, n]) => rc !== "NOERROR" && n > 0);
      if (bad.length > 0) throw new Error(`${s.label}: non-NOERROR answers ${JSON.stringify(result.rcodes)}`);
      return { result, busyCores, upstreamBusyCores };
    };

    /** Warm-up, then `rounds` rounds visiting the servers in turn; per-server samples. */
    const maxRate = async (order: Server[], file: string, outstanding: number): Promise<Map<Server, Sample[]>> => {
      for (const s of order) {
        const w = await measure(s, file, { seconds: warmupSeconds, outstanding });
        log(`warm-up ${s.label}: ${Math.round(w.result.qps)} qps`);
      }
      const out = new Map<Server, Sample[]>(order.map((s) => [s, []]));
      for (let r = 0; r < rounds; r++) {
        for (const s of order) {
          const m = await measure(s, file, { seconds, outstanding });
          out.get(s)!.push(m);
          log(
            `round ${r + 1} ${s.label}: ${Math.round(m.result.qps)} qps, lost ${m.result.lost}, server ${m.busyCores.toFixed(2)} cores` +
              (file === fwdQueries ? `, upstream ${m.upstreamBusyCores.toFixed(2)} cores` : "") +
              `, ${Math.round(m.result.qps / m.busyCores)} qps/core, response ${m.result.responseBytes} B`,
          );
        }
      }
      return out;
    };
    /** Fixed-rate rounds alternating the servers, latencies from dnsperf -v. */
    const fixedRate = async (order: Server[], file: string, rate: number, outstanding: number): Promise<Map<Server, Sample[]>> => {
      const out = new Map<Server, Sample[]>(order.map((s) => [s, []]));
      for (let r = 0; r < rounds; r++) {
        for (const s of order) {
          const m = await measure(s, file, { seconds, rate, outstanding, latencies: true });
          out.get(s)!.push(m);
          const l = m.result.latenciesMs;
          log(
            `latency ${r + 1} ${s.label} at ${rate} qps: p50 ${percentile(l, 50).toFixed(3)} ms, p99 ${percentile(l, 99).toFixed(3)} ms, ` +
              `p99.9 ${percentile(l, 99.9).toFixed(3)} ms, max ${max(l).toFixed(3)} ms (${l.length} samples, lost ${m.result.lost})`,
          );
        }
      }
      return out;
    };

    const authTp = await maxRate([dnsmasqAuth, echoSrv, ourAuth], authQueries, AUTH_OUTSTANDING);
    const qpsOf = (m: Map<Server, Sample[]>, s: Server): number[] => m.get(s)!.map((x) => x.result.qps);
    const authRate = Math.round(median(qpsOf(authTp, dnsmasqAuth)) * LOAD_FRACTION);
    const authLat = await fixedRate([dnsmasqAuth, echoSrv, ourAuth], authQueries, authRate, AUTH_OUTSTANDING);
    const fwdTp = await maxRate([dnsmasqFwd, relaySrv, ourFwd], fwdQueries, FWD_OUTSTANDING);
    // Forwarded latency at 25% of the lower of the two max rates, so both forwarders sustain it (no goal: reported only).
    const fwdRate = Math.round(Math.min(median(qpsOf(fwdTp, dnsmasqFwd)), median(qpsOf(fwdTp, ourFwd))) * LOAD_FRACTION);
    const fwdLat = await fixedRate([dnsmasqFwd, relaySrv, ourFwd], fwdQueries, fwdRate, FWD_OUTSTANDING);
    const rss = { ours: round(rssMiB(ours.pid), 3), reference: round(rssMiB(authRef.pid), 3) };

    // ---- figures ----
    const rounded = (v: readonly number[]): number[] => v.map((x) => round(x));
    const busyOf = (m: Map<Server, Sample[]>, s: Server): number[] => m.get(s)!.map((x) => x.busyCores);
    const perCoreOf = (m: Map<Server, Sample[]>, s: Server): number[] => m.get(s)!.map((x) => x.result.qps / x.busyCores);
    const lostOf = (m: Map<Server, Sample[]>, s: Server): number[] => m.get(s)!.map((x) => x.result.lost);
    const pct = (m: Map<Server, Sample[]>, s: Server, p: number): number[] => m.get(s)!.map((x) => percentile(x.result.latenciesMs, p));
    const pooled = (m: Map<Server, Sample[]>, s: Server): Float64Array => {
      const all = m.get(s)!.map((x) => x.result.latenciesMs);
      const out = new Float64Array(all.reduce((n, a) => n + a.length, 0));
      let off = 0;
      for (const a of all) {
        out.set(a, off);
        off += a.length;
      }
      return out;
    };
    const common = {
      tool: `dnsperf ${dnsperfVersion} -c 1 -T 1, pinned to CPU ${clientCpu}; servers pinned to CPU ${serverCpu}`,
      zone: `${DCOS_ZONE} from the bus (real nats-server), ${names.length} A names (${multi} with several IPs), ${tasks} tasks`,
      loadavg: { start: loadStart, end: loadavg() },
      seconds_per_run: seconds,
      rounds,
    };

    const tpFigure = (
      m: Map<Server, Sample[]>,
      ref: Server,
      our: Server,
      ceiling: Server,
      o: { name: string; goal: number; refName: string; extra: Record<string, unknown> },
    ): Figure => {
      const [ourQps, refQps, ceilQps] = [median(qpsOf(m, our)), median(qpsOf(m, ref)), median(qpsOf(m, ceiling))];
      const r = ratio(ourQps, refQps);
      return {
        name: o.name,
        unit: "qps",
        ours: round(ourQps),
        reference: round(refQps),
        reference_name: o.refName,
        ratio: round(r, 3),
        goal: `>= ${o.goal}x ${ref.label}`,
        met: r >= o.goal,
        ...common,
        ...o.extra,
        runs: { ours: rounded(qpsOf(m, our)), reference: rounded(qpsOf(m, ref)) },
        spread: { ours: spread(qpsOf(m, our)), reference: spread(qpsOf(m, ref)) },
        // Same-round ratios: each pair ran back to back, so these drift less with the VM's load than the medians.
        round_ratios: qpsOf(m, our).map((q, i) => round(ratio(q, qpsOf(m, ref)[i] ?? Number.NaN), 3)),
        lost: { ours: lostOf(m, our), reference: lostOf(m, ref) },
        server_busy_cores: { ours: round(median(busyOf(m, our)), 3), reference: round(median(busyOf(m, ref)), 3) },
        qps_per_busy_core: { ours: round(median(perCoreOf(m, our))), reference: round(median(perCoreOf(m, ref))) },
        qps_per_busy_core_ratio: round(ratio(median(perCoreOf(m, our)), median(perCoreOf(m, ref))), 3),
        response_bytes: { ours: m.get(our)![0]?.result.responseBytes, reference: m.get(ref)![0]?.result.responseBytes },
        udp_path: serverUdpPath().label,
        node_ceiling: {
          what: ceiling.label,
          qps: round(ceilQps),
          runs: rounded(qpsOf(m, ceiling)),
          ratio_to_reference: round(ratio(ceilQps, refQps), 3),
          ours_ratio_to_ceiling: round(ratio(ourQps, ceilQps), 3),
          qps_per_busy_core: round(median(perCoreOf(m, ceiling))),
        },
      };
    };
    const latFigures = (
      m: Map<Server, Sample[]>,
      ref: Server,
      our: Server,
      rate: number,
      ceiling: Server,
      o: { what: string; refName: string; goal: boolean; rateOf: string },
    ): Figure[] => {
      const ceilP99 = median(pct(m, ceiling, 99));
      const [ourPooled, refPooled] = [pooled(m, our), pooled(m, ref)];
      const p99 = { ours: median(pct(m, our, 99)), ref: median(pct(m, ref, 99)) };
      const p50 = { ours: median(pct(m, our, 50)), ref: median(pct(m, ref, 50)) };
      const lat = { reference_name: o.refName, ...common, rate_qps: rate };
      return [
        {
          name: `${o.what} p99 latency at ${LOAD_FRACTION * 100}% of ${o.rateOf}`,
          unit: "ms",
          ours: round(p99.ours),
          reference: round(p99.ref),
          ratio: round(ratio(p99.ours, p99.ref), 3),
          goal: o.goal ? `<= ${P99_GOAL}x ${ref.label}` : "none (reported only)",
          met: o.goal ? p99.ours <= P99_GOAL * p99.ref : true,
          ...lat,
          runs: { ours: rounded(pct(m, our, 99)), reference: rounded(pct(m, ref, 99)) },
          pooled_p99: { ours: round(percentile(ourPooled, 99)), reference: round(percentile(refPooled, 99)) },
          p99_9: { ours: round(percentile(ourPooled, 99.9)), reference: round(percentile(refPooled, 99.9)) },
          max: { ours: round(max(ourPooled)), reference: round(max(refPooled)) },
          samples: { ours: ourPooled.length, reference: refPooled.length },
          lost: { ours: lostOf(m, our), reference: lostOf(m, ref) },
          server_busy_cores: { ours: round(median(busyOf(m, our)), 3), reference: round(median(busyOf(m, ref)), 3) },
          ...(o.goal ? { absolute_goal_2ms_met: p99.ours <= 2 } : {}),
          node_ceiling: {
            what: `${ceiling.label} at the same rate: the p99 of a Node UDP server on dgram (udp_wrap) here`,
            p99: round(ceilP99),
            runs: rounded(pct(m, ceiling, 99)),
            ratio_to_reference: round(ratio(ceilP99, p99.ref), 3),
            ours_ratio_to_ceiling: round(ratio(p99.ours, ceilP99), 3),
          },
        },
        {
          name: `${o.what} p50 latency at ${LOAD_FRACTION * 100}% of ${o.rateOf}`,
          unit: "ms",
          ours: round(p50.ours),
          reference: round(p50.ref),
          ratio: round(ratio(p50.ours, p50.ref), 3),
          goal: "none (reported only)",
          met: true,
          ...lat,
          runs: { ours: rounded(pct(m, our, 50)), reference: rounded(pct(m, ref, 50)) },
        },
      ];
    };

    const authRefName = `dnsmasq ${dnsmasqVersion} (same names → same IPs from a hosts file, --local-ttl=${TTL})`;
    const fwdRefName = `dnsmasq ${dnsmasqVersion} as forwarder (--server=/mesos/UPSTREAM --cache-size=0), same upstream`;
    const upstreamNote = {
      upstream: `dnsmasq ${dnsmasqVersion} authoritative for ${mesosNames.length} .mesos names (hosts file), pinned to CPU ${clientCpu} with dnsperf`,
      no_cache: "dcos-dns does not cache forwarded answers, so the reference runs with --cache-size=0",
      method: `dnsperf max-rate rounds (closed loop, -q ${FWD_OUTSTANDING}) instead of resperf: same upstream, same pinning, alternating rounds`,
    };
    const figures: Figure[] = [
      tpFigure(authTp, dnsmasqAuth, ourAuth, echoSrv, {
        name: "dcos-dns authoritative thisdcos.directory A queries, max qps",
        goal: AUTH_QPS_GOAL,
        refName: authRefName,
        extra: { outstanding: AUTH_OUTSTANDING, rss_mib_after_load: rss },
      }),
      ...latFigures(authLat, dnsmasqAuth, ourAuth, authRate, echoSrv, {
        what: "dcos-dns authoritative",
        refName: authRefName,
        goal: true,
        rateOf: "dnsmasq's max rate",
      }),
      tpFigure(fwdTp, dnsmasqFwd, ourFwd, relaySrv, {
        name: "dcos-dns forwarded .mesos A queries, max qps",
        goal: FWD_QPS_GOAL,
        refName: fwdRefName,
        extra: {
          outstanding: FWD_OUTSTANDING,
          ...upstreamNote,
          upstream_busy_cores: {
            ours: round(median(fwdTp.get(ourFwd)!.map((x) => x.upstreamBusyCores)), 3),
            reference: round(median(fwdTp.get(dnsmasqFwd)!.map((x) => x.upstreamBusyCores)), 3),
          },
        },
      }),
      ...latFigures(fwdLat, dnsmasqFwd, ourFwd, fwdRate, relaySrv, {
        what: "dcos-dns forwarded .mesos",
        refName: fwdRefName,
        goal: false,
        rateOf: "the lower max rate of the two",
      }),
    ];
    writeResults("dcos-dns", figures);
  } finally {
    await Promise.allSettled(procs.map((p) => p.stop()));
    await bus?.close().catch(() => undefined);
    await nats?.stop().catch(() => undefined);
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
