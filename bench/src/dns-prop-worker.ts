/**
 * Child process of the dns-propagation benchmark (`fork`ed, IPC messages): runs `count` dcos-dns
 * node instances, each the real per-node wiring (`createDcosDns`: its own NATS bus connection, the
 * zone watch (ZoneSync) into its own Authority, a DNS listener on 127.0.0.1 with an ephemeral
 * port, the HTTP and gRPC APIs on ephemeral ports); no producer. One logger and one metrics
 * registry are shared by the instances of a process (metrics add up, as in the embedded mode).
 *
 * For the breakdown, each instance's `authority.setZone` (snapshots) and `authority.applyChanges`
 * (per-record deltas) are wrapped (observation only) to note when the zone applied there first
 * satisfies the expectation the parent set (name has the IP / name gone), as wall-clock ms
 * (performance.timeOrigin + performance.now()), and the process's event-loop delay is reported
 * per event.
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import { createLogger, createRegistry } from "@dcnet/core";
import { createDcosDns, DCOS_ZONE, loadDcosDnsConfig, type DcosDns, type RecordValues, type ZoneData } from "@dcnet/dcos-dns";

export type ToWorker =
  | { type: "start"; count: number; first: number; natsUrl: string; cluster: { id: string; key: string }; concurrency: number }
  | { type: "expect"; seq: number; name: string; ip: string | null }
  | { type: "report"; seq: number }
  | { type: "stop" };

export type FromWorker =
  | { type: "started"; ports: number[]; ms: number; rssMiB: number }
  | { type: "expecting"; seq: number }
  | { type: "applied"; seq: number; at: (number | null)[]; loopDelayP99Ms: number; loopDelayMaxMs: number }
  | { type: "stopped" }
  | { type: "error"; message: string };

const wallNow = (): number => performance.timeOrigin + performance.now();
/** This process's event-loop delay during each event (from "expect" to "report"): how long a message or query waits for its turn. */
const loopDelay = monitorEventLoopDelay({ resolution: 5 });
loopDelay.enable();

function send(m: FromWorker): void {
  process.send?.(m);
}

/** Instances by index (holes while starting). */
const nodes: (DcosDns | undefined)[] = [];
let expectation: { seq: number; name: string; ip: string | null; at: (number | null)[] } | undefined;

function satisfied(v: RecordValues | undefined, ip: string | null): boolean {
  return ip === null ? v === undefined : (v?.a?.includes(ip) ?? false);
}

async function start(m: Extract<ToWorker, { type: "start" }>): Promise<void> {
  const t0 = performance.now();
  const logger = createLogger({ service: "bench-node", level: "warn", destination: process.stderr });
  const registry = createRegistry({ defaultMetrics: false });
  const one = async (i: number): Promise<DcosDns> => {
    const config = loadDcosDnsConfig(
      {
        env: {},
        overrides: {
          bindIps: ["127.0.0.1"],
          udpPort: 0,
          tcpPort: 0,
          upstreamResolvers: [],
          masters: ["127.0.0.1"],
          mesosDns: [],
          nodeIp: "10.9.0.1",
          httpListen: { host: "127.0.0.1", port: 0 },
          grpcListen: { host: "127.0.0.1", port: 0 },
          cluster: m.cluster,
          bus: { servers: [m.natsUrl] },
          node: { id: `bench-node-${m.first + i}` },
        },
      },
      (msg) => logger.warn(msg),
    );
    const svc = createDcosDns(config, { logger, registry });
    const authority = svc.authority;
    const setZone = authority.setZone.bind(authority);
    authority.setZone = (z: ZoneData): void => {
      setZone(z);
      const e = expectation;
      if (e !== undefined && z.zone === DCOS_ZONE && e.at[i] === null && satisfied(z.records.get(e.name), e.ip)) e.at[i] = wallNow();
    };
    const applyChanges = authority.applyChanges.bind(authority);
    authority.applyChanges = (apex, set, del) => {
      const n = applyChanges(apex, set, del);
      const e = expectation;
      if (e !== undefined && apex === DCOS_ZONE && e.at[i] === null && satisfied(authority.lookup(e.name)?.values, e.ip))
        e.at[i] = wallNow();
      return n;
    };
    await svc.lifecycle.start();
    return svc;
  };
  // Bounded concurrency: each start opens a NATS connection, a KV view and an ordered consumer.
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(m.concurrency, m.count) }, async () => {
      for (let i = next++; i < m.count; i = next++) nodes[i] = await one(i);
    }),
  );
  // Ready = every instance serves the zone from the bus.
  const deadline = Date.now() + 60_000;
  while (nodes.some((s) => s?.authority.zone(DCOS_ZONE) === undefined)) {
    if (Date.now() > deadline) throw new Error("not every instance got the zone from the bus within 60 s");
    await new Promise((r) => setTimeout(r, 50));
  }
  const ports = nodes.map((s) => s?.ports().dns[0]?.udp ?? 0);
  send({ type: "started", ports, ms: performance.now() - t0, rssMiB: process.memoryUsage().rss / 2 ** 20 });
}

async function stop(): Promise<void> {
  await Promise.allSettled(nodes.map((n) => n?.lifecycle.stop()));
  nodes.length = 0;
  send({ type: "stopped" });
}

process.on("message", (m: ToWorker) => {
  const fail = (err: unknown): void => send({ type: "error", message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  switch (m.type) {
    case "start":
      start(m).catch(fail);
      break;
    case "expect": {
      loopDelay.reset();
      const at = new Array<number | null>(nodes.length).fill(null);
      expectation = { seq: m.seq, name: m.name, ip: m.ip, at };
      send({ type: "expecting", seq: m.seq });
      break;
    }
    case "report":
      send({
        type: "applied",
        seq: m.seq,
        at: expectation?.seq === m.seq ? expectation.at : [],
        loopDelayP99Ms: loopDelay.percentile(99) / 1e6,
        loopDelayMaxMs: loopDelay.max / 1e6,
      });
      break;
    case "stop":
      stop()
        .catch(fail)
        .finally(() => process.exit(0));
      break;
  }
});
// The parent gone (IPC closed): stop too.
process.on("disconnect", () => void stop().finally(() => process.exit(0)));
