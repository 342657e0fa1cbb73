/**
 * Discovery propagation benchmark (issue 5; benchmarks.md §9 G4/G5): a task becomes TASK_RUNNING
 * on the (fake) Mesos master → its name resolves on EVERY dcos-dns node; and TASK_KILLED → the name
 * is gone (NXDOMAIN) on every node. p50/p99 over events of the max over nodes, at N = 100 and
 * N = 1,000 node instances on one real nats-server.
 *  - Producer: a real dcos-dns child process (`dcnet run dcos-dns`, producer enabled, default push
 *    interval 1 s) subscribed to a fake master this process serves (Operator API SUBSCRIBE stream:
 *    SUBSCRIBED with get_state, then TASK_ADDED / TASK_UPDATED events the benchmark writes).
 *  - Nodes: N `createDcosDns` instances (bus connection, zone watch + delta subscription, UDP
 *    listener, APIs) spread over forked worker processes (dns-prop-worker.ts).
 *  - Transport: each change goes out at once as a per-record delta (core subject
 *    `dns.delta.dcos.thisdcos.directory`, a few hundred bytes), which every node applies in place;
 *    whole-zone snapshots in the KV follow at most once per push interval (they are what a node
 *    that starts or misses a delta catches up from). This process watches both, for the
 *    event → bus breakdown.
 *  - Probe: this process asks every node over UDP for the task's autoip name, each node at most
 *    once per probe interval, bounded outstanding queries, until each gave the expected answer;
 *    time from just before the event was written to that answer.
 * Events are spaced more than the producer's push interval apart, after the previous event's
 * snapshot reached the bus (it trails the delta by one interval), so every event starts quiet and
 * measures one change on its own, as the snapshot-only runs did.
 */
import { fork, type ChildProcess } from "node:child_process";
import * as dgram from "node:dgram";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  busSection,
  connectBus,
  createLogger,
  startNatsServer,
  type Bus,
  type KvWatch,
  type NatsServerHandle,
  type Subscription,
} from "@dcnet/core";
import { Authority, DCOS_ZONE, ZONE_BUCKET, decodeZone, deltaSubject, encodeZone, zoneKey } from "@dcnet/dcos-dns";
import { cpuSeconds, freePort, requireTools, rssMiB } from "./dnsperf";
import { envInt, loadavg, replyAddresses, encodeQuery, syntheticDcosZone } from "./dns-common";
import { spawnSupervised, supervise, type Supervised } from "./child";
import { startFakeOperatorMaster, type FakeOperatorMaster, type FakeTask } from "./fake-operator-master";
import type { FromWorker, ToWorker } from "./dns-prop-worker";
import { max, median, percentile, ratio, round, writeResults, type Figure } from "./results";

const CLUSTER = { id: "bench-dns-prop", key: "bench-dns-propagation-key-0001" };
const PUSH_INTERVAL_MS = 1000;
const AGENTS = 8;
/** Goals (issue 5): p99 of "resolvable on every node" at 100 and at 1,000 nodes. */
const RUNNING_GOAL_MS: Readonly<Record<number, number>> = { 100: 250, 1000: 1000 };
/** G5: removal p99 ≤ 2 s (+ TTL at caching clients; the nodes are authoritative, so measured here without it). */
const KILLED_GOAL_MS = 2000;
const MESOS_DNS_REFRESH_MS = 30_000;
const REFERENCE_NAME =
  "Mesos-DNS in DC/OS: refreshSeconds 30 (a new task resolves 0–30 s after it starts, ~15 s mean; 60 s with Mesos-DNS's default), " +
  "ttl 60; DC/OS dcos-net: ~1 s zone push + 5 s TTL";

// ---------------------------------------------------------------------------------------------
// child processes

type Child = Supervised;

const spawnChild = (name: string, cmd: string, args: readonly string[], env: NodeJS.ProcessEnv): Child =>
  spawnSupervised(name, cmd, args, { env });

/** A worker process holding `count` node instances. */
class Worker {
  private readonly waiters: ((m: FromWorker) => boolean)[] = [];
  private readonly child: ChildProcess;
  readonly proc: Child;
  private stderr = "";

  constructor(readonly name: string) {
    const execArgv = (process.env["BENCH_PROP_WORKER_NODE_FLAGS"] ?? "").split(/\s+/).filter(Boolean);
    this.child = fork(path.join(__dirname, "dns-prop-worker.js"), [], { stdio: ["ignore", "ignore", "pipe", "ipc"], execArgv });
    this.child.stderr?.on("data", (b: Buffer) => {
      this.stderr = (this.stderr + b.toString()).slice(-8000);
    });
    this.child.on("message", (m: FromWorker) => {
      const i = this.waiters.findIndex((w) => w(m));
      if (i >= 0) this.waiters.splice(i, 1);
    });
    this.proc = supervise(name, this.child, () => this.stderr);
  }

  send(m: ToWorker): void {
    this.child.send(m);
  }

  /** The first message of `type` (matching `pred`), or a rejection on an error message / exit / timeout. */
  next<T extends FromWorker["type"]>(type: T, ms: number, pred: (m: Extract<FromWorker, { type: T }>) => boolean = () => true) {
    return new Promise<Extract<FromWorker, { type: T }>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name}: no "${type}" within ${ms} ms`)), ms);
      const w = (m: FromWorker): boolean => {
        if (m.type === "error") {
          clearTimeout(timer);
          reject(new Error(`${this.name}: ${m.message}`));
          return true;
        }
        if (m.type !== type || !pred(m as Extract<FromWorker, { type: T }>)) return false;
        clearTimeout(timer);
        resolve(m as Extract<FromWorker, { type: T }>);
        return true;
      };
      this.waiters.push(w);
      this.proc.exited.catch((err: unknown) => {
        clearTimeout(timer);
        reject(err as Error);
      });
    });
  }

  async stop(): Promise<void> {
    if (this.child.connected) {
      this.send({ type: "stop" });
      await Promise.race([this.next("stopped", 20_000).catch(() => undefined), this.proc.exited.catch(() => undefined)]);
      // It exits by itself right after "stopped" (writing a --cpu-prof profile, if asked); SIGTERM only if it lingers.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.proc.exited.catch(() => undefined), new Promise((r) => (timer = setTimeout(r, 10_000)))]);
      clearTimeout(timer);
    }
    await this.proc.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// the probe

interface ProbeResult {
  /** ms from the event to the first correct answer, per node (NaN = none before the timeout). */
  perNode: Float64Array;
  queries: number;
  lost: number;
}

/**
 * Asks every node (UDP port) for `name` until each gives an answer `ok` accepts: each node at
 * most once per `intervalMs`, at most `window` queries outstanding, a query unanswered after
 * 500 ms counts as lost and is re-sent. Times are from `t0` (performance.now()).
 */
class Prober {
  private readonly sock = dgram.createSocket({ type: "udp4", recvBufferSize: 8 << 20, lookup: (a, _f, cb) => cb(null, a, 4) });
  private readonly index = new Map<number, number>();
  private onReply: ((msg: Buffer, node: number) => void) | undefined;

  constructor(private readonly ports: readonly number[]) {
    ports.forEach((p, i) => this.index.set(p, i));
    this.sock.on("message", (msg, rinfo) => {
      const i = this.index.get(rinfo.port);
      if (i !== undefined) this.onReply?.(msg, i);
    });
  }

  async bind(): Promise<void> {
    await new Promise<void>((resolve) => this.sock.bind(0, "127.0.0.1", () => resolve()));
  }

  run(
    name: string,
    ok: (r: { rcode: number; a: string[] }) => boolean,
    t0: number,
    o: { intervalMs: number; window: number; timeoutMs: number },
  ): Promise<ProbeResult> {
    const n = this.ports.length;
    const perNode = new Float64Array(n).fill(Number.NaN);
    const nextAt = new Float64Array(n);
    const sentAt = new Float64Array(n);
    const sentId = new Int32Array(n).fill(-1);
    const template = encodeQuery(0, name);
    let remaining = n;
    let outstanding = 0;
    let cursor = 0;
    let id = Math.floor(Math.random() * 65536);
    let queries = 0;
    let lost = 0;
    return new Promise<ProbeResult>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = (): void => {
        clearTimeout(timer);
        this.onReply = undefined;
        resolve({ perNode, queries, lost });
      };
      this.onReply = (msg, i) => {
        if (msg.length < 2 || sentId[i] !== msg.readUInt16BE(0)) return;
        sentId[i] = -1;
        outstanding--;
        if (!Number.isNaN(perNode[i]!)) return;
        const r = replyAddresses(msg);
        if (r && ok(r)) {
          perNode[i] = performance.now() - t0;
          if (--remaining === 0) finish();
        }
      };
      const tick = (): void => {
        const now = performance.now();
        if (now - t0 > o.timeoutMs) return finish();
        for (let k = 0; k < n; k++) {
          const i = (cursor + k) % n;
          if (!Number.isNaN(perNode[i]!)) continue;
          if (sentId[i]! >= 0) {
            if (now - sentAt[i]! < 500) continue;
            sentId[i] = -1;
            outstanding--;
            lost++;
          }
          if (nextAt[i]! > now) continue;
          if (outstanding >= o.window) {
            cursor = i;
            break;
          }
          id = (id + 1) & 0xffff;
          const q = Buffer.from(template);
          q.writeUInt16BE(id, 0);
          sentId[i] = id;
          sentAt[i] = now;
          nextAt[i] = now + o.intervalMs;
          outstanding++;
          queries++;
          this.sock.send(q, this.ports[i]!, "127.0.0.1");
        }
        timer = setTimeout(tick, 1);
      };
      tick();
    });
  }

  close(): void {
    this.sock.close();
  }
}

// ---------------------------------------------------------------------------------------------

interface EventSample {
  kind: "running" | "killed";
  /** Max over nodes of the probe time (NaN when some node never answered correctly). */
  everyNodeMs: number;
  perNode: Float64Array;
  /** Event → the new zone seen on the bus by this process's own watcher. */
  busMs: number;
  /** For busMs: when the event was written, and the index its snapshot gets in `puts`. */
  t0: number;
  putIndex: number;
  /** Event → the change's delta seen on the bus by this process's own subscription. */
  deltaMs: number;
  /** Event → zone applied on every node (instance-side timestamps, wall clock). */
  appliedEveryNodeMs: number;
  /** Event → change applied, per node (same order as perNode; NaN = not seen). */
  appliedPerNode: Float64Array;
  /** Worst worker's event-loop delay p99 / max during the event. */
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  incomplete: number;
  queries: number;
  lost: number;
}

interface Phase {
  nodes: number;
  workers: number;
  startSeconds: number;
  workerRssMiB: number[];
  probeIntervalMs: number;
  probeWindow: number;
  events: EventSample[];
  /** Worker CPU seconds during the events / node / event, in ms. */
  nodeCpuMsPerEvent: number;
  producerCpuMsPerEvent: number;
  stoppedEarly: boolean;
  seconds: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function runDnsPropagation(): Promise<void> {
  const log = (msg: string): void => void process.stderr.write(`dns-propagation: ${msg}\n`);
  const sizes = (process.env["BENCH_PROP_NODES"] ?? "100,1000").split(",").map((s) => Number(s.trim()));
  if (sizes.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`BENCH_PROP_NODES must list node counts, got "${sizes.join(",")}"`);
  const eventsList = (process.env["BENCH_PROP_EVENTS"] ?? "100,50").split(",").map((s) => Number(s.trim()));
  const baseline = envInt("BENCH_PROP_TASKS", 100);
  // One worker process per CPU: the nodes' CPU work spreads over the VM's cores (a real cluster gives each node its own).
  const workersWanted = envInt("BENCH_PROP_WORKERS", os.cpus().length);
  const probeQps = envInt("BENCH_PROP_PROBE_QPS", 10_000);
  // Queries in flight (0: one per node). A small window throttles the probe below its interval when
  // the nodes answer slowly, and the figures then include that extra wait.
  const probeWindowEnv = envInt("BENCH_PROP_PROBE_WINDOW", 0);
  const maxSeconds = envInt("BENCH_PROP_MAX_SECONDS", 600);
  const timeoutMs = envInt("BENCH_PROP_TIMEOUT_MS", 30_000);

  requireTools({ "nats-server": "nats-server" }, log);
  const cli = path.resolve(__dirname, "..", "..", "packages", "cli", "dist", "main.js");
  if (!fs.existsSync(cli)) throw new Error(`${cli} is missing: build first (npx tsc -b at the repository root)`);

  const loadStart = loadavg();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dcnet-bench-dns-prop-"));
  let nats: NatsServerHandle | undefined;
  let bus: Bus | undefined;
  let watch: KvWatch | undefined;
  let deltaSub: Subscription | undefined;
  let master: FakeOperatorMaster | undefined;
  let producer: Child | undefined;
  const workers: Worker[] = [];
  const phases: Phase[] = [];
  let zoneNames = 0;
  let zoneBytes = 0;
  let decode = { ms: Number.NaN, ms10k: Number.NaN };
  try {
    nats = await startNatsServer();
    const logger = createLogger({ service: "bench", level: "warn", destination: process.stderr });
    bus = await connectBus({ cluster: CLUSTER, bus: busSection.parse({ servers: [nats.url] }), nodeId: "bench-observer", logger });
    const kv = await bus.kv(ZONE_BUCKET);
    // This process's own view of the bus: when each new version of the zone arrived.
    const puts: { at: number; bytes: Uint8Array }[] = [];
    watch = kv.watch(
      (c) => {
        if (c.op === "put") puts.push({ at: performance.now(), bytes: c.entry.value });
      },
      { key: zoneKey(DCOS_ZONE), initial: true },
    );
    await watch.ready;
    const deltas: number[] = [];
    deltaSub = bus.subscribe(deltaSubject(DCOS_ZONE), () => deltas.push(performance.now()));

    master = await startFakeOperatorMaster({ tasks: baseline, agents: AGENTS });
    const dnsPort = await freePort();
    const configFile = path.join(tmp, "producer.json");
    fs.writeFileSync(
      configFile,
      JSON.stringify(
        {
          bind_ips: ["127.0.0.1"],
          udp_port: dnsPort,
          tcp_port: dnsPort,
          upstream_resolvers: [],
          masters: ["127.0.0.1"],
          mesos_dns: [],
          node_ip: "10.9.0.1",
          http_listen: { host: "127.0.0.1", port: 0 },
          grpc_listen: { host: "127.0.0.1", port: 0 },
          cluster: CLUSTER,
          bus: { servers: [nats.url] },
          node: { id: "bench-producer" },
          producer: {
            enabled: true,
            mesos_masters: [master.address],
            mesos_dns_grpc: "",
            settle_ms: 0,
            recovery_timeout_ms: 1000,
            push_interval_ms: PUSH_INTERVAL_MS,
          },
          log: { level: "warn" },
        },
        null,
        2,
      ),
    );
    const env: NodeJS.ProcessEnv = { PATH: process.env["PATH"], HOME: process.env["HOME"], DCNET_LOG__LEVEL: "warn" };
    producer = spawnChild("dcos-dns producer", process.execPath, [cli, "run", "dcos-dns", "--config", configFile], env);
    const deadline = Date.now() + 30_000;
    while (puts.length === 0) {
      if (Date.now() > deadline) throw new Error("the producer published no zone within 30 s");
      await Promise.race([sleep(50), producer.exited]);
    }
    const first = decodeZone(puts[puts.length - 1]!.bytes);
    zoneNames = first.zone.records.size;
    zoneBytes = puts[puts.length - 1]!.bytes.length;
    log(
      `producer subscribed to the fake master (${baseline} running tasks) and published ${DCOS_ZONE}: ${zoneNames} names, ${zoneBytes} bytes`,
    );

    // Per-node cost of taking a zone off the bus (decode + checks + swap into the authority), measured here.
    const applyMs = (bytes: Uint8Array): number => {
      const times: number[] = [];
      for (let i = 0; i < 30; i++) {
        const t = performance.now();
        new Authority("round_robin").setZone(decodeZone(bytes).zone);
        times.push(performance.now() - t);
      }
      return median(times.slice(5));
    };
    decode = { ms: applyMs(puts[puts.length - 1]!.bytes), ms10k: applyMs(encodeZone(syntheticDcosZone(10_000, () => 1, AGENTS))) };
    log(`zone decode + swap: ${decode.ms.toFixed(3)} ms per node (${decode.ms10k.toFixed(2)} ms for a 10,000-task zone)`);

    let nextTask = baseline;
    let lastEventAt = performance.now();
    /** puts.length when the last event was written (-1: none yet). */
    let putsAtLastEvent = -1;
    for (const [si, nodes] of sizes.entries()) {
      const eventCount = eventsList[si] ?? eventsList[eventsList.length - 1] ?? 50;
      const workerCount = Math.min(workersWanted, nodes);
      const t0 = performance.now();
      const mine: Worker[] = [];
      for (let w = 0; w < workerCount; w++) {
        const wk = new Worker(`node worker ${w + 1}/${workerCount}`);
        mine.push(wk);
        workers.push(wk);
      }
      const counts = mine.map((_, w) => Math.floor(nodes / workerCount) + (w < nodes % workerCount ? 1 : 0));
      let firstIndex = 0;
      const started = await Promise.all(
        mine.map((wk, w) => {
          const p = wk.next("started", 300_000);
          wk.send({ type: "start", count: counts[w]!, first: firstIndex, natsUrl: nats!.url, cluster: CLUSTER, concurrency: 16 });
          firstIndex += counts[w]!;
          return p;
        }),
      );
      const ports = started.flatMap((s) => s.ports);
      if (ports.some((p) => p === 0)) throw new Error("a node instance has no UDP port");
      const startSeconds = (performance.now() - t0) / 1000;
      const workerRss = started.map((s) => round(s.rssMiB, 3));
      const prober = new Prober(ports);
      await prober.bind();
      const intervalMs = Math.max(10, Math.ceil((nodes * 1000) / probeQps));
      const probeWindow = probeWindowEnv > 0 ? probeWindowEnv : nodes;
      log(
        `${nodes} node instances in ${workerCount} worker(s) serving the zone after ${startSeconds.toFixed(1)} s ` +
          `(worker RSS ${workerRss.join(", ")} MiB); probe interval ${intervalMs} ms per node; ${eventCount} events`,
      );

      const events: EventSample[] = [];
      const phaseStart = performance.now();
      const cpu0 = mine.reduce((s, wk) => s + cpuSeconds(wk.proc.pid), 0);
      const pcpu0 = cpuSeconds(producer.pid);
      let seq = 0;
      let stoppedEarly = false;
      const died = Promise.race([producer.exited, ...mine.map((wk) => wk.proc.exited)]);
      died.catch(() => {});
      /** Writes one event and measures it. */
      const measureEvent = async (kind: "running" | "killed", task: FakeTask, write: () => void): Promise<EventSample> => {
        const name = `${task.name}.marathon.autoip.${DCOS_ZONE}`;
        const want = kind === "running" ? task.ip : null;
        const s = ++seq;
        await Promise.all(
          mine.map((wk) => {
            const p = wk.next("expecting", 10_000, (m) => m.seq === s);
            wk.send({ type: "expect", seq: s, name, ip: want });
            return p;
          }),
        );
        // Space events: more than the push interval after the previous event and after its push reached the bus
        // (the snapshot of a change sent as a delta follows one interval later: wait for it, so every event starts quiet).
        const putDeadline = performance.now() + 3 * PUSH_INTERVAL_MS;
        while (puts.length === putsAtLastEvent && putsAtLastEvent >= 0 && performance.now() < putDeadline) await sleep(20);
        const lastPut = puts[puts.length - 1]?.at ?? 0;
        // After the snapshot: long enough for every node to have taken it (it no longer has to clear the
        // rate-limit window: the next change goes out as a delta at once either way).
        const readyAt = Math.max(lastEventAt + PUSH_INTERVAL_MS + 100 + Math.random() * 100, lastPut + 300 + Math.random() * 100);
        const wait = readyAt - performance.now();
        if (wait > 0) await sleep(wait);
        const putsBefore = puts.length;
        putsAtLastEvent = putsBefore;
        const deltasBefore = deltas.length;
        const t0 = performance.now();
        const t0Wall = performance.timeOrigin + t0;
        write();
        lastEventAt = t0;
        const r = await Promise.race([
          prober.run(name, (a) => (want === null ? a.rcode === 3 : a.rcode === 0 && a.a.includes(want)), t0, {
            intervalMs,
            window: probeWindow,
            timeoutMs,
          }),
          died,
        ]);
        const reports = await Promise.all(
          mine.map((wk) => {
            const p = wk.next("applied", 10_000, (m) => m.seq === s);
            wk.send({ type: "report", seq: s });
            return p;
          }),
        );
        const applied = reports.flatMap((x) => x.at.map((at) => (at === null ? Number.NaN : at - t0Wall)));
        const busAt = puts.length > putsBefore ? puts[putsBefore]!.at : Number.NaN;
        const deltaAt = deltas.length > deltasBefore ? deltas[deltasBefore]! : Number.NaN;
        const incomplete = r.perNode.filter((v) => Number.isNaN(v)).length;
        return {
          kind,
          everyNodeMs: incomplete > 0 ? Number.NaN : max(r.perNode),
          perNode: r.perNode,
          busMs: busAt - t0,
          t0,
          putIndex: putsBefore,
          deltaMs: deltaAt - t0,
          appliedEveryNodeMs: applied.some((v) => Number.isNaN(v)) ? Number.NaN : max(applied),
          appliedPerNode: Float64Array.from(applied),
          loopDelayP99Ms: Math.max(...reports.map((x) => x.loopDelayP99Ms)),
          loopDelayMaxMs: Math.max(...reports.map((x) => x.loopDelayMaxMs)),
          incomplete,
          queries: r.queries,
          lost: r.lost,
        };
      };
      try {
        for (let e = 0; e < eventCount; e++) {
          if ((performance.now() - phaseStart) / 1000 > maxSeconds) {
            stoppedEarly = true;
            log(`time bound of ${maxSeconds} s reached after ${e} events`);
            break;
          }
          const task = master.task(nextTask++);
          // TASK_ADDED (staging: no record yet) a moment before it runs, as Mesos reports it.
          master.added(task);
          await sleep(50);
          const up = await measureEvent("running", task, () => master!.running(task));
          const down = await measureEvent("killed", task, () => master!.killed(task));
          events.push(up, down);
          if (e % 10 === 9 || e === eventCount - 1) {
            const ups = events.filter((x) => x.kind === "running").map((x) => x.everyNodeMs);
            log(
              `N=${nodes}: ${e + 1} events; last running ${up.everyNodeMs.toFixed(1)} ms (delta ${up.deltaMs.toFixed(1)}, applied ${up.appliedEveryNodeMs.toFixed(1)}, worker loop delay p99 ${up.loopDelayP99Ms.toFixed(1)}), ` +
                `killed ${down.everyNodeMs.toFixed(1)} ms; running p50 ${median(ups).toFixed(1)} p99 ${percentile(ups, 99).toFixed(1)} ms`,
            );
          }
        }
      } finally {
        prober.close();
      }
      const evCount = events.length / 2;
      const nodeCpu = mine.reduce((s, wk) => s + cpuSeconds(wk.proc.pid), 0) - cpu0;
      const producerCpu = cpuSeconds(producer.pid) - pcpu0;
      phases.push({
        nodes,
        workers: workerCount,
        startSeconds,
        workerRssMiB: mine.map((wk) => round(rssMiB(wk.proc.pid), 3)),
        probeIntervalMs: intervalMs,
        probeWindow,
        events,
        nodeCpuMsPerEvent: (nodeCpu * 1000) / Math.max(1, events.length) / nodes,
        producerCpuMsPerEvent: (producerCpu * 1000) / Math.max(1, events.length),
        stoppedEarly,
        seconds: (performance.now() - phaseStart) / 1000,
      });
      log(`N=${nodes}: ${evCount} running + ${evCount} killed events in ${((performance.now() - phaseStart) / 1000).toFixed(0)} s`);
      await Promise.allSettled(mine.map((wk) => wk.stop()));
    }
    if (master.subscriptions() !== 1) log(`note: the producer subscribed ${master.subscriptions()} times (stream lost in between)`);

    // ---- figures ----
    const figures: Figure[] = [];
    const r1 = (v: number): number => round(v, 4);
    for (const p of phases) {
      for (const kind of ["running", "killed"] as const) {
        const ev = p.events.filter((e) => e.kind === kind);
        const every = ev.map((e) => (Number.isNaN(e.everyNodeMs) ? timeoutMs : e.everyNodeMs));
        const pooled = new Float64Array(ev.reduce((n, e) => n + e.perNode.length, 0));
        let off = 0;
        for (const e of ev) {
          pooled.set(
            e.perNode.map((v) => (Number.isNaN(v) ? timeoutMs : v)),
            off,
          );
          off += e.perNode.length;
        }
        // The snapshot may trail the event by an interval (after the probe finished): the next event waited for it.
        const bus = ev.map((e) => (puts[e.putIndex] ? puts[e.putIndex]!.at - e.t0 : Number.NaN)).filter((v) => !Number.isNaN(v));
        const delta = ev.map((e) => e.deltaMs).filter((v) => !Number.isNaN(v));
        const applied = ev.map((e) => e.appliedEveryNodeMs).filter((v) => !Number.isNaN(v));
        // Per node: when the change was applied there, and how much later the probe saw it answered.
        const appliedPooled: number[] = [];
        const probeLag: number[] = [];
        for (const e of ev)
          e.appliedPerNode.forEach((at, i) => {
            if (Number.isNaN(at)) return;
            appliedPooled.push(at);
            const seen = e.perNode[i]!;
            if (!Number.isNaN(seen)) probeLag.push(seen - at);
          });
        const goalMs = kind === "running" ? (RUNNING_GOAL_MS[p.nodes] ?? 1000) : KILLED_GOAL_MS;
        const what = kind === "running" ? "TASK_RUNNING → resolvable" : "TASK_KILLED → NXDOMAIN";
        const extras = {
          reference_name: REFERENCE_NAME,
          nodes: p.nodes,
          events: ev.length,
          events_incomplete: ev.filter((e) => e.incomplete > 0).length,
          stopped_early_by_time_bound: p.stoppedEarly,
          every_node_ms: { p50: r1(median(every)), p99: r1(percentile(every, 99)), max: r1(max(every)) },
          per_node_ms: { p50: r1(percentile(pooled, 50)), p99: r1(percentile(pooled, 99)), samples: pooled.length },
          event_to_delta_ms: {
            p50: r1(median(delta)),
            p99: r1(percentile(delta, 99)),
            what: "event → the change's per-record delta seen by this process's own subscription",
          },
          event_to_bus_ms: {
            p50: r1(median(bus)),
            p99: r1(percentile(bus, 99)),
            what: "event → its snapshot (new zone revision) seen by this process's own KV watch; trails the delta by one push interval",
          },
          event_to_applied_per_node_ms: {
            p50: r1(percentile(appliedPooled, 50)),
            p99: r1(percentile(appliedPooled, 99)),
            what: "event → the change applied at a node (all nodes of all events pooled)",
          },
          probe_lag_ms: {
            p50: r1(percentile(probeLag, 50)),
            p99: r1(percentile(probeLag, 99)),
            what: "per node: the probe's first correct answer − the change applied there (query spacing + answer time; part of every figure above)",
          },
          worker_event_loop_delay_ms: {
            p99_median: r1(median(ev.map((e) => e.loopDelayP99Ms))),
            max: r1(max(ev.map((e) => e.loopDelayMaxMs))),
            what: "worst worker's event-loop delay during an event: p99 (median over events) and max",
          },
          event_to_applied_on_every_node_ms: {
            p50: r1(median(applied)),
            p99: r1(percentile(applied, 99)),
            what: "event → last node's Authority.applyChanges (delta) or setZone (snapshot) with the change (instance-side timestamp, wall clock across processes)",
          },
          probe: {
            interval_ms_per_node: p.probeIntervalMs,
            window: p.probeWindow,
            queries_per_event: round(median(ev.map((e) => e.queries)), 4),
            lost_queries: ev.reduce((n, e) => n + e.lost, 0),
            note: "each node asked at most once per interval, so a figure can be late by up to one interval",
          },
          node_instance:
            "createDcosDns per node (own NATS connection, zone watch + delta subscription, UDP+TCP listener on 127.0.0.1, HTTP+gRPC APIs)",
          workers: p.workers,
          worker_rss_mib: p.workerRssMiB,
          start_seconds: round(p.startSeconds, 3),
          node_cpu_ms_per_event_per_node: round(p.nodeCpuMsPerEvent, 3),
          producer_cpu_ms_per_event: round(p.producerCpuMsPerEvent, 3),
          zone: { names: zoneNames, bytes: zoneBytes, baseline_tasks: baseline },
          zone_decode_and_swap_ms_per_node: { this_zone: round(decode.ms, 3), tasks_10k: round(decode.ms10k, 3) },
          push_interval_ms: PUSH_INTERVAL_MS,
          event_spacing: `> push interval (${PUSH_INTERVAL_MS} ms + 100–200 ms) after the previous event, and 300–400 ms after its snapshot (which trails the delta by ${PUSH_INTERVAL_MS} ms) reached the bus`,
          producer_subscriptions: master.subscriptions(),
          dcos_net_reference_ms: { push: 1000, ttl: 5000 },
          loadavg: { start: loadStart, end: loadavg() },
          phase_seconds: round(p.seconds, 3),
        };
        const p99 = percentile(every, 99);
        figures.push({
          name: `${what} on every node, N=${p.nodes}, p99`,
          unit: "ms",
          ours: r1(p99),
          reference: MESOS_DNS_REFRESH_MS,
          ratio: round(ratio(p99, MESOS_DNS_REFRESH_MS), 3),
          goal: `<= ${goalMs} ms`,
          met: p99 <= goalMs && ev.length > 0,
          ...extras,
        });
        figures.push({
          name: `${what} on every node, N=${p.nodes}, p50`,
          unit: "ms",
          ours: r1(median(every)),
          reference: MESOS_DNS_REFRESH_MS / 2,
          ratio: round(ratio(median(every), MESOS_DNS_REFRESH_MS / 2), 3),
          goal: "none (reported only)",
          met: true,
          reference_name: `${REFERENCE_NAME} (reference here: the mean refresh wait, 15 s)`,
          nodes: p.nodes,
          events: ev.length,
        });
      }
    }
    writeResults("dns-propagation", figures);
  } finally {
    await Promise.allSettled(workers.map((wk) => wk.stop()));
    await producer?.stop().catch(() => undefined);
    await master?.close().catch(() => undefined);
    watch?.stop();
    deltaSub?.unsubscribe();
    await bus?.close().catch(() => undefined);
    await nats?.stop().catch(() => undefined);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
