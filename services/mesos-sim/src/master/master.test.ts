import { strict as assert } from "node:assert";
import * as http from "node:http";
import {
  createBus,
  createLogger,
  createMemoryHub,
  createRegistry,
  eventually,
  type Bus,
  type MemoryHub,
  type RawKv,
  type Transport,
} from "@dcnet/core";
import { BUCKET, keys } from "../model/kv-layout";
import type { AgentRecord } from "../model/launch";
import type { TaskStatus } from "../model/mesos";
import { launchOf } from "../agent/test-harness";
import { masterSection } from "./config";
import { AGENT_HEARTBEAT_SUBJECT } from "./cluster-state";
import { createMesosMaster, type MesosMaster } from "./master";

const KEY = "mesos-master-test-key-000";
const logger = createLogger({ service: "test", level: "silent" });

function bus(hub: MemoryHub, nodeId: string, transport: Transport = hub.transport()): Bus {
  return createBus(transport, { clusterId: "mtest", clusterKey: KEY, nodeId });
}

/** A transport whose KV reads of `frameworks.*` wait until `open()`: a master's framework registration stalls there. */
function stallFrameworkReads(transport: Transport): { transport: Transport; open: () => void } {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const kv = async (bucket: string): Promise<RawKv> => {
    const raw = await transport.kv(bucket);
    return { ...raw, get: async (key) => (key.startsWith("frameworks.") ? gate.then(() => raw.get(key)) : raw.get(key)) };
  };
  return { transport: { ...transport, kv }, open };
}

async function startMaster(hub: MemoryHub, n: number, transport?: Transport): Promise<MesosMaster> {
  const config = masterSection.parse({
    id: `m${n}`,
    ip: "127.0.0.1",
    host: "127.0.0.1",
    port: 0,
    marathonPort: 0,
    grpcPort: 0,
    leaseMs: 600,
    renewMs: 100,
    agentTimeoutMs: 600,
  });
  const m = createMesosMaster(config, {
    bus: bus(hub, `m${n}`, transport),
    logger,
    registry: createRegistry({ defaultMetrics: false }),
    defaultIp: "127.0.0.1",
  });
  await m.lifecycle.start();
  return m;
}

/** Reads a RecordIO stream, calling onRecord per record; returns a stop function. */
function subscribe(port: number, onRecord: (r: { type: string } & Record<string, unknown>) => void): () => void {
  const req = http.request(
    { host: "127.0.0.1", port, path: "/api/v1", method: "POST", headers: { "content-type": "application/json" } },
    (res) => {
      let buf = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        buf += chunk;
        for (;;) {
          const nl = buf.indexOf("\n");
          if (nl < 0) return;
          const len = Number(buf.slice(0, nl));
          if (Buffer.byteLength(buf.slice(nl + 1)) < len) return;
          const body = Buffer.from(buf.slice(nl + 1))
            .subarray(0, len)
            .toString();
          buf = buf.slice(nl + 1 + body.length);
          onRecord(JSON.parse(body) as { type: string });
        }
      });
    },
  );
  req.on("error", () => undefined);
  req.end(JSON.stringify({ type: "SUBSCRIBE" }));
  return () => req.destroy();
}

describe("mesos master (in-process bus)", function () {
  this.timeout(15_000);
  let hub: MemoryHub;
  let masters: MesosMaster[] = [];
  beforeEach(async () => {
    hub = createMemoryHub();
    masters = [await startMaster(hub, 1), await startMaster(hub, 2)];
  });
  afterEach(async () => {
    for (const m of masters) await m.lifecycle.stop();
  });

  const leader = (): MesosMaster => {
    const l = masters.filter((m) => m.isLeader());
    assert.equal(l.length, 1, "exactly one leader");
    return l[0]!;
  };

  it("elects exactly one leader; the other redirects to it with 307", async () => {
    const l = await eventually(() => leader());
    const other = masters.find((m) => m !== l)!;
    const res = await fetch(`http://127.0.0.1:${other.ports().master}/master/state`, { redirect: "manual" });
    assert.equal(res.status, 307);
    assert.equal(res.headers.get("location"), `http://127.0.0.1:${l.ports().master}/master/state`);
    const state = (await (await fetch(`http://127.0.0.1:${other.ports().master}/master/state`)).json()) as Record<string, unknown>;
    assert.equal(state["leader"], `master@127.0.0.1:${l.ports().master}`);
    assert.ok(Array.isArray(state["slaves"]) && Array.isArray(state["frameworks"]));
    const op = await fetch(`http://127.0.0.1:${other.ports().master}/api/v1`, {
      method: "POST",
      body: '{"type":"GET_STATE"}',
      redirect: "manual",
    });
    assert.equal(op.status, 307);
  });

  it("a new leader takes over within the lease when the leader stops", async () => {
    const l = await eventually(() => leader());
    const t0 = Date.now();
    await l.lifecycle.stop();
    masters = masters.filter((m) => m !== l);
    await eventually(() => assert.ok(masters[0]!.isLeader()), 3000);
    assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms`);
  });

  it("a new leader lists the framework's tasks at once, before it has re-registered the framework", async () => {
    // A third master whose framework registration stalls until we let it go.
    const stalled = stallFrameworkReads(hub.transport());
    const m3 = await startMaster(hub, 3, stalled.transport);
    masters.push(m3);
    const first = await eventually(() => leader());
    const framework = await eventually(() => {
      const f = m3.state().frameworks.get("marathon");
      assert.ok(f, "the standby knows the framework from the bus");
      return f;
    });
    assert.equal(framework.pid, `scheduler(1)@127.0.0.1:${first.ports().marathon}`);
    const kv = await bus(hub, "a1").kv(BUCKET);
    const launch = launchOf("db.1", "true", { frameworkId: framework.id, agentId: "a1" });
    await kv.put(keys.launch("a1", launch.taskId), Buffer.from(JSON.stringify(launch)));
    await eventually(() => assert.ok(m3.state().tasks.has("db.1")));

    // Only m3 may take over: the leader and the other standby stop.
    for (const m of masters.filter((m) => m !== m3)) await m.lifecycle.stop();
    masters = [m3];
    await eventually(() => assert.ok(m3.isLeader()), 3000);
    const stateNow = async () =>
      (await (await fetch(`http://127.0.0.1:${m3.ports().master}/master/state`)).json()) as {
        frameworks: { id: string; pid: string; tasks: { id: string }[] }[];
      };
    const during = await stateNow();
    assert.deepEqual(
      during.frameworks.map((f) => [f.id, f.tasks.map((t) => t.id)]),
      [[framework.id, ["db.1"]]],
      "the tasks stay listed while the framework re-registers",
    );
    const records: ({ type: string } & Record<string, unknown>)[] = [];
    const stop = subscribe(m3.ports().master, (r) => records.push(r));
    await eventually(() => assert.equal(records[0]?.type, "SUBSCRIBED"));
    const sub = records[0]!["subscribed"] as { get_state: { get_tasks: { tasks: { task_id: { value: string } }[] } } };
    assert.deepEqual(
      sub.get_state.get_tasks.tasks.map((t) => t.task_id.value),
      ["db.1"],
    );

    // Re-registered at m3: same id, m3's pid, announced as an update.
    stalled.open();
    await eventually(() => assert.ok(records.some((r) => r.type === "FRAMEWORK_UPDATED")));
    stop();
    const after = await stateNow();
    assert.deepEqual(
      after.frameworks.map((f) => [f.id, f.pid, f.tasks.map((t) => t.id)]),
      [[framework.id, `scheduler(1)@127.0.0.1:${m3.ports().marathon}`, ["db.1"]]],
    );
  });

  it("streams SUBSCRIBED, AGENT_ADDED, TASK_ADDED, TASK_UPDATED and AGENT_REMOVED over the Operator API", async () => {
    const l = await eventually(() => leader());
    const records: ({ type: string } & Record<string, unknown>)[] = [];
    const stop = subscribe(l.ports().master, (r) => records.push(r));
    await eventually(() => assert.equal(records[0]?.type, "SUBSCRIBED"));
    const sub = records[0]!["subscribed"] as {
      heartbeat_interval_seconds: number;
      get_state: { get_frameworks: { frameworks: unknown[] } };
    };
    assert.equal(sub.heartbeat_interval_seconds, 15);
    assert.equal(sub.get_state.get_frameworks.frameworks.length, 1);

    const agentBus = bus(hub, "a1");
    const kv = await agentBus.kv(BUCKET);
    const record: AgentRecord = {
      id: "a1",
      ip: "10.0.0.7",
      hostname: "agent-1",
      port: 5051,
      portRange: [31000, 32000],
      cpus: 4,
      mem: 4096,
      disk: 0,
      registeredAt: Date.now(),
      attributes: {},
    };
    await kv.put(keys.agent("a1"), Buffer.from(JSON.stringify(record)));
    const launch = launchOf("web.1234", "true", {
      frameworkId: "f",
      agentId: "a1",
      hostPorts: [31000, 31001],
      labels: [{ key: "HAPROXY_GROUP", value: "external" }],
      discovery: {
        visibility: "FRAMEWORK",
        name: "web",
        ports: { ports: [{ number: 31000, name: "http", protocol: "tcp", labels: { labels: [{ key: "VIP_0", value: "/web:80" }] } }] },
      },
    });
    await kv.put(keys.launch("a1", launch.taskId), Buffer.from(JSON.stringify(launch)));
    const status: TaskStatus = {
      task_id: { value: launch.taskId },
      agent_id: { value: "a1" },
      slave_id: { value: "a1" },
      state: "TASK_RUNNING",
      timestamp: Date.now() / 1000,
      container_status: { network_infos: [{ ip_addresses: [{ ip_address: "10.0.0.7" }] }] },
    };
    await kv.put(keys.status("a1", launch.taskId), Buffer.from(JSON.stringify(status)));
    await eventually(() =>
      assert.deepEqual(
        records.map((r) => r.type),
        ["SUBSCRIBED", "AGENT_ADDED", "TASK_ADDED", "TASK_UPDATED"],
      ),
    );
    const added = records[2]!["task_added"] as { task: { task_id: { value: string }; resources: { name: string }[] } };
    assert.equal(added.task.task_id.value, "web.1234");
    assert.ok(added.task.resources.some((r) => r.name === "ports"));
    const updated = records[3]!["task_updated"] as { state: string; status: TaskStatus };
    assert.equal(updated.state, "TASK_RUNNING");

    // The v0 state document carries the same task, in Mesos-DNS's shape.
    const state = (await (await fetch(`http://127.0.0.1:${l.ports().master}/master/state.json`)).json()) as {
      slaves: { id: string; pid: string }[];
      frameworks: { name: string }[];
    };
    assert.deepEqual(
      state.slaves.map((s) => [s.id, s.pid]),
      [["a1", "slave(1)@10.0.0.7:5051"]],
    );

    // No heartbeats: the agent is removed after agentTimeoutMs.
    await eventually(() => assert.ok(records.some((r) => r.type === "AGENT_REMOVED")), 3000);
    stop();
  });

  it("keeps an agent that heartbeats", async () => {
    const l = await eventually(() => leader());
    const agentBus = bus(hub, "a2");
    const kv = await agentBus.kv(BUCKET);
    const record: AgentRecord = {
      id: "a2",
      ip: "10.0.0.8",
      hostname: "agent-2",
      port: 5051,
      portRange: [31000, 32000],
      cpus: 4,
      mem: 4096,
      disk: 0,
      registeredAt: Date.now(),
      attributes: {},
    };
    await kv.put(keys.agent("a2"), Buffer.from(JSON.stringify(record)));
    const beat = setInterval(
      () => void agentBus.publish(AGENT_HEARTBEAT_SUBJECT, Buffer.from(JSON.stringify({ agentId: "a2", at: Date.now() }))),
      100,
    );
    await new Promise((r) => setTimeout(r, 1500));
    clearInterval(beat);
    assert.equal(l.state().agents.get("a2")?.active, true);
  });

  it("answers bad Operator API calls with 400 and a reason", async () => {
    const l = await eventually(() => leader());
    for (const body of ["{not json", '{"type":"LAUNCH_NUKES"}', "[]"]) {
      const res = await fetch(`http://127.0.0.1:${l.ports().master}/api/v1`, { method: "POST", body });
      assert.equal(res.status, 400, body);
      const json = (await res.json()) as { message: string };
      assert.ok(json.message.length > 0);
    }
  });
});
