/**
 * A fake Mesos master speaking just enough of the v1 Operator API for dcos-dns's zone producer:
 * `POST /api/v1 {"type":"SUBSCRIBE"}` answers a RecordIO stream starting with SUBSCRIBED (a
 * `get_state` with the agents, the `marathon` framework and every non-terminal task), then the
 * events the benchmark emits (TASK_ADDED / TASK_UPDATED) and a HEARTBEAT every 5 s. Shapes as in
 * packages/mesos/src/testing/fixtures.ts (Operator API v1: `{value}` ids, resources as a list).
 * Anything else gets 404.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { agentIp, taskIp } from "./dns-common";

export const FRAMEWORK_ID = "bench-fw-0000";
const HEARTBEAT_SECONDS = 15;

const agentId = (n: number): string => `bench-agent-S${n}`;

export interface FakeTask {
  readonly n: number;
  readonly id: string;
  readonly name: string;
  readonly agent: number;
  readonly ip: string;
  state: "TASK_STAGING" | "TASK_RUNNING";
}

function frame(event: unknown): string {
  const json = JSON.stringify(event);
  return `${Buffer.byteLength(json)}\n${json}`;
}

function status(t: FakeTask, state: string, timestamp: number): Record<string, unknown> {
  return {
    task_id: { value: t.id },
    agent_id: { value: agentId(t.agent) },
    state,
    timestamp,
    source: "SOURCE_EXECUTOR",
    container_status: { network_infos: [{ ip_addresses: [{ protocol: "IPv4", ip_address: t.ip }] }] },
  };
}

function taskJson(t: FakeTask, timestamp: number): Record<string, unknown> {
  return {
    name: t.name,
    task_id: { value: t.id },
    framework_id: { value: FRAMEWORK_ID },
    executor_id: { value: t.id },
    agent_id: { value: agentId(t.agent) },
    state: t.state,
    resources: [
      { name: "cpus", type: "SCALAR", scalar: { value: 0.1 } },
      { name: "mem", type: "SCALAR", scalar: { value: 32 } },
    ],
    statuses: t.state === "TASK_RUNNING" ? [status(t, "TASK_RUNNING", timestamp)] : [],
  };
}

export interface FakeOperatorMaster {
  /** `127.0.0.1:port`. */
  readonly address: string;
  /** SUBSCRIBE requests served so far (1 when the producer never reconnected). */
  subscriptions(): number;
  /** Open streams. */
  streams(): number;
  /** Task number n (IP `taskIp(n)`, app name `app-<n>`), not yet known to the master. */
  task(n: number): FakeTask;
  /** TASK_ADDED in TASK_STAGING (no IP yet, so no DNS record). */
  added(t: FakeTask): void;
  /** TASK_UPDATED to TASK_RUNNING with the container IP. */
  running(t: FakeTask): void;
  /** TASK_UPDATED to TASK_KILLED (terminal: its records go). */
  killed(t: FakeTask): void;
  close(): Promise<void>;
}

/** A master with `tasks` RUNNING tasks (numbers 0..tasks-1) on `agents` agents. */
export async function startFakeOperatorMaster(opts: { tasks: number; agents: number }): Promise<FakeOperatorMaster> {
  const live = new Map<string, FakeTask>();
  const streams = new Set<http.ServerResponse>();
  let subscriptions = 0;
  let clock = 1_700_000_000;
  const now = (): number => (clock += 0.001);
  const task = (n: number): FakeTask => ({
    n,
    id: `app-${String(n).padStart(6, "0")}.bench-${n}`,
    name: `app-${String(n).padStart(6, "0")}`,
    agent: n % opts.agents,
    ip: taskIp(n),
    state: "TASK_STAGING",
  });
  for (let n = 0; n < opts.tasks; n++) {
    const t = task(n);
    t.state = "TASK_RUNNING";
    live.set(t.id, t);
  }
  const send = (event: unknown): void => {
    const data = frame(event);
    for (const s of streams) s.write(data);
  };
  const subscribed = (): unknown => ({
    type: "SUBSCRIBED",
    subscribed: {
      heartbeat_interval_seconds: HEARTBEAT_SECONDS,
      get_state: {
        get_agents: {
          agents: Array.from({ length: opts.agents }, (_, i) => ({
            agent_info: { id: { value: agentId(i) }, hostname: agentIp(i), port: 5051 },
            pid: `slave(1)@${agentIp(i)}:5051`,
          })),
          recovered_agents: [],
        },
        get_frameworks: { frameworks: [{ framework_info: { id: { value: FRAMEWORK_ID }, name: "marathon" } }] },
        get_tasks: { tasks: [...live.values()].map((t) => taskJson(t, now())) },
      },
    },
  });

  const server = http.createServer((req, res) => {
    req.resume();
    if (req.method !== "POST" || req.url !== "/api/v1") {
      res.writeHead(404).end();
      return;
    }
    subscriptions++;
    res.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked" });
    res.write(frame(subscribed()));
    streams.add(res);
    res.on("close", () => streams.delete(res));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const heartbeat = setInterval(() => send({ type: "HEARTBEAT" }), 5000);
  const { port } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    subscriptions: () => subscriptions,
    streams: () => streams.size,
    task,
    added(t) {
      t.state = "TASK_STAGING";
      live.set(t.id, t);
      send({ type: "TASK_ADDED", task_added: { task: taskJson(t, now()) } });
    },
    running(t) {
      t.state = "TASK_RUNNING";
      live.set(t.id, t);
      send({
        type: "TASK_UPDATED",
        task_updated: { framework_id: { value: FRAMEWORK_ID }, status: status(t, "TASK_RUNNING", now()), state: "TASK_RUNNING" },
      });
    },
    killed(t) {
      live.delete(t.id);
      send({
        type: "TASK_UPDATED",
        task_updated: { framework_id: { value: FRAMEWORK_ID }, status: status(t, "TASK_KILLED", now()), state: "TASK_KILLED" },
      });
    },
    async close() {
      clearInterval(heartbeat);
      for (const s of streams) s.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
