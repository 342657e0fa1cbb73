import { strict as assert } from "node:assert";
import * as grpc from "@grpc/grpc-js";
import { mesosv1 } from "@dcnet/proto";
import {
  Code,
  createLogger,
  createMemoryHub,
  createRegistry,
  eventually,
  unary,
  validate,
  type DcnetError,
  type MemoryHub,
} from "@dcnet/core";
import { createMesosSim, mesosSimConfigSchema, type MesosSim } from "./service";

/**
 * The simulated cluster in one process: two masters (with Marathon) and two
 * agents on an in-process bus, tasks running as real processes on loopback.
 */
const logger = createLogger({ service: "test", level: "silent" });
const ECHO = `node -e "require('http').createServer((q,s)=>s.end(process.env.MESOS_TASK_ID)).listen(+process.env.PORT0,'127.0.0.1')"`;

interface MarathonTask {
  id: string;
  state: string;
  ports: number[];
  slaveId: string;
  host: string;
}

describe("mesos-sim cluster (2 masters, 2 agents, Marathon, real processes)", function () {
  this.timeout(60_000);
  let hub: MemoryHub;
  const sims: MesosSim[] = [];

  const start = async (raw: Record<string, unknown>): Promise<MesosSim> => {
    const config = validate(mesosSimConfigSchema, {
      cluster: { id: "sim", key: "mesos-sim-test-key-0000" },
      bus: { kind: "memory" },
      ...raw,
    });
    const sim = createMesosSim(config, { logger, registry: createRegistry({ defaultMetrics: false }), hub });
    await sim.lifecycle.start();
    sims.push(sim);
    return sim;
  };
  const master = (n: number) =>
    start({
      roles: ["master"],
      master: {
        id: `m${n}`,
        ip: "127.0.0.1",
        host: "127.0.0.1",
        port: 0,
        marathonPort: 0,
        grpcPort: 0,
        leaseMs: 600,
        renewMs: 100,
        agentTimeoutMs: 800,
        backoffMs: 100,
      },
    });
  const agent = (n: number) =>
    start({
      roles: ["agent"],
      agent: {
        id: `a${n}`,
        hostname: `sim-a${n}`,
        ip: "127.0.0.1",
        host: "127.0.0.1",
        port: 0,
        portRange: [22000 + n * 100, 22099 + n * 100],
        heartbeatMs: 100,
        bridge: { enabled: "off" },
      },
    });
  const leader = (): MesosSim => {
    const l = sims.filter((s) => s.master?.isLeader());
    assert.equal(l.length, 1, "one leader");
    return l[0]!;
  };
  const marathon = (path: string, init?: RequestInit): Promise<Response> =>
    fetch(`http://127.0.0.1:${sims.find((s) => s.master)!.master!.ports().marathon}${path}`, init);
  const tasks = async (appId: string): Promise<MarathonTask[]> =>
    ((await (await marathon(`/v2/apps${appId}/tasks`)).json()) as { tasks: MarathonTask[] }).tasks;
  const running = async (appId: string, n: number): Promise<MarathonTask[]> =>
    eventually(async () => {
      const t = (await tasks(appId)).filter((x) => x.state === "TASK_RUNNING");
      assert.equal(t.length, n);
      return t;
    }, 20_000);
  /** TASK_RUNNING means the process started, not that it listens yet (as in Mesos): allow it a moment. */
  const answers = (t: MarathonTask): Promise<string> =>
    eventually(async () => (await fetch(`http://127.0.0.1:${t.ports[0]}/`)).text(), 5000);
  const silent = (t: MarathonTask): Promise<void> => eventually(() => assert.rejects(fetch(`http://127.0.0.1:${t.ports[0]}/`)), 10_000);

  before(async () => {
    hub = createMemoryHub();
    await master(1);
    await master(2);
    await agent(1);
    await agent(2);
    await eventually(() => leader());
  });
  after(async () => {
    for (const s of sims.reverse()) await s.lifecycle.stop();
  });

  it("deploys an app through Marathon; every instance answers at the host port the master reports", async () => {
    const res = await marathon("/v2/apps", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        id: "/demo/echo",
        cmd: ECHO,
        instances: 3,
        cpus: 0.1,
        mem: 32,
        portDefinitions: [{ port: 0, name: "http", labels: { VIP_0: "/echo:80" } }],
      }),
    });
    assert.equal(res.status, 201, await res.clone().text());
    const ts = await running("/demo/echo", 3);
    assert.deepEqual(new Set(ts.map((t) => t.slaveId)), new Set(["a1", "a2"]), "spread over both agents");
    for (const t of ts) assert.equal(await answers(t), t.id);

    const l = leader().master!;
    const state = (await (await fetch(`http://127.0.0.1:${l.ports().master}/master/state`)).json()) as {
      frameworks: {
        name: string;
        tasks: {
          name: string;
          state: string;
          resources: { ports: string };
          discovery: { ports: { ports: { labels: { labels: { key: string; value: string }[] } }[] } };
        }[];
      }[];
    };
    const fw = state.frameworks.find((f) => f.name === "marathon")!;
    const mt = fw.tasks.filter((t) => t.state === "TASK_RUNNING");
    assert.equal(mt.length, 3);
    assert.ok(mt.every((t) => t.name === "echo.demo"));
    assert.ok(mt.every((t) => /^\[\d+-\d+\]$/.test(t.resources.ports)));
    assert.deepEqual(mt[0]!.discovery.ports.ports[0]!.labels.labels.find((x) => x.key === "VIP_0")?.value, "/echo:80");
  });

  it("gRPC: WaitForTasks returns the running tasks; bad requests name the field", async () => {
    const m = sims.find((s) => s.master && !s.master.isLeader())!.master!; // any master answers
    const client = new mesosv1.MesosSimServiceClient(`127.0.0.1:${m.ports().grpc}`, grpc.credentials.createInsecure());
    try {
      const res = await unary(
        client.waitForTasks.bind(client),
        { appId: "/demo/echo", state: "TASK_RUNNING", count: 3, timeoutMs: 10_000 },
        { timeoutMs: 15_000 },
      );
      assert.equal(res.tasks.length, 3);
      assert.ok(res.tasks.every((t) => t.hostPorts.length === 1 && t.ips[0] === "127.0.0.1"));
      await assert.rejects(
        unary(client.waitForTasks.bind(client), { appId: "/demo/echo", state: "TASK_SLEEPING", count: 1, timeoutMs: 10 }),
        (e: DcnetError) => e.code === Code.INVALID_ARGUMENT && e.field === "state",
      );
      await assert.rejects(
        unary(client.waitForTasks.bind(client), { appId: "/demo/echo", state: "TASK_RUNNING", count: 9, timeoutMs: 200 }),
        (e: DcnetError) => e.code === Code.DEADLINE_EXCEEDED && /3 of 9/.test(e.message),
      );
      const lead = await unary(client.getLeader.bind(client), {});
      assert.equal(lead.thisMasterLeads, false);
      assert.equal(lead.masterId, leader().master!.id);
    } finally {
      client.close();
    }
  });

  it("streams Marathon events over SSE: api_post_event, deployment_info, status_update_event, deployment_success", async () => {
    const l = leader().master!;
    const ac = new AbortController();
    const res = await fetch(`http://127.0.0.1:${l.ports().marathon}/v2/events`, { signal: ac.signal });
    assert.equal(res.headers.get("content-type"), "text/event-stream");
    const types: string[] = [];
    const reading = (async () => {
      let buf = "";
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          buf += Buffer.from(chunk).toString();
          for (let i = buf.indexOf("\n\n"); i >= 0; i = buf.indexOf("\n\n")) {
            const m = /^event: (.+)$/m.exec(buf.slice(0, i));
            if (m) types.push(m[1]!);
            buf = buf.slice(i + 2);
          }
        }
      } catch {
        /* aborted */
      }
    })();
    const post = await marathon("/v2/apps", {
      method: "POST",
      body: JSON.stringify({ id: "/evented", cmd: "sleep 30", instances: 1, cpus: 0.1, mem: 16 }),
    });
    const deploymentId = ((await post.json()) as { deployments: { id: string }[] }).deployments[0]!.id;
    await eventually(() => assert.ok(types.includes("deployment_success"), types.join(",")), 10_000);
    assert.deepEqual(
      ["api_post_event", "deployment_info", "status_update_event", "deployment_success"].map((t) => types.indexOf(t) >= 0),
      [true, true, true, true],
    );
    assert.ok(types.indexOf("deployment_info") < types.indexOf("deployment_success"));
    const pending = (await (await marathon("/v2/deployments")).json()) as { id: string }[];
    assert.ok(!pending.some((d) => d.id === deploymentId), "finished deployments leave /v2/deployments");
    assert.equal((await marathon("/v2/apps/evented", { method: "DELETE" })).status, 200);
    ac.abort();
    await reading;
  });

  it("rejects a duplicate id (409) and an invalid app (422 naming the field), deploying nothing", async () => {
    const dup = await marathon("/v2/apps", { method: "POST", body: JSON.stringify({ id: "/demo/echo", cmd: "true" }) });
    assert.equal(dup.status, 409);
    const bad = await marathon("/v2/apps", {
      method: "POST",
      body: JSON.stringify({ id: "/bad", cmd: "true", instances: -1, cpus: "lots" }),
    });
    assert.equal(bad.status, 422);
    const body = (await bad.json()) as { message: string; details: { path: string; errors: string[] }[] };
    assert.deepEqual(body.details.map((d) => d.path).sort(), ["/cpus", "/instances"]);
    assert.equal((await marathon("/v2/apps/bad")).status, 404);
  });

  it("scales down to 1: only that instance keeps answering", async () => {
    const before = await running("/demo/echo", 3);
    for (const t of before) await answers(t);
    const res = await marathon("/v2/apps/demo/echo", { method: "PUT", body: JSON.stringify({ instances: 1 }) });
    assert.equal(res.status, 200);
    const [left] = await running("/demo/echo", 1);
    await eventually(async () => assert.equal((await tasks("/demo/echo")).length, 1), 10_000);
    assert.equal(await answers(left!), left!.id);
    for (const t of before.filter((t) => t.id !== left!.id)) await silent(t);
  });

  it("kills one task with scale=true: exactly that one goes, the others stay and none is launched", async () => {
    const res = await marathon("/v2/apps/demo/echo", { method: "PUT", body: JSON.stringify({ instances: 3 }) });
    assert.equal(res.status, 200);
    const before = await running("/demo/echo", 3);
    const [victim, ...others] = before;
    const del = await marathon(`/v2/apps/demo/echo/tasks/${victim!.id}?scale=true`, { method: "DELETE" });
    assert.equal(del.status, 200);
    await eventually(
      async () => assert.deepEqual((await tasks("/demo/echo")).map((t) => t.id).sort(), others.map((t) => t.id).sort()),
      10_000,
    );
    await silent(victim!);
    // Settled: the same two, both still answering, and the app at 2 instances.
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual((await running("/demo/echo", 2)).map((t) => t.id).sort(), others.map((t) => t.id).sort());
    for (const t of others) assert.equal(await answers(t), t.id);
    const app = (await (await marathon("/v2/apps/demo/echo")).json()) as { app: { instances: number } };
    assert.equal(app.app.instances, 2);
    await marathon("/v2/apps/demo/echo", { method: "PUT", body: JSON.stringify({ instances: 1 }) });
    await running("/demo/echo", 1);
  });

  it("constraints: CLUSTER puts every task on one host, UNLIKE keeps them off it, UNIQUE leaves the extra instance waiting", async () => {
    const deploy = async (id: string, instances: number, constraints: string[][]): Promise<void> => {
      const res = await marathon("/v2/apps", {
        method: "POST",
        body: JSON.stringify({ id, cmd: "sleep 60", instances, cpus: 0.1, mem: 16, constraints }),
      });
      assert.equal(res.status, 201, await res.clone().text());
    };
    await deploy("/on-a2", 3, [["hostname", "CLUSTER", "sim-a2"]]);
    await deploy("/off-a2", 3, [["hostname", "UNLIKE", "sim-a2"]]);
    await deploy("/unique", 3, [["hostname", "UNIQUE"]]);
    assert.deepEqual(
      (await running("/on-a2", 3)).map((t) => t.slaveId),
      ["a2", "a2", "a2"],
    );
    assert.deepEqual(
      (await running("/off-a2", 3)).map((t) => t.slaveId),
      ["a1", "a1", "a1"],
    );
    const unique = await running("/unique", 2);
    assert.deepEqual(unique.map((t) => t.slaveId).sort(), ["a1", "a2"]);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await tasks("/unique")).length, 2, "the third instance has nowhere to go");
    const apps = (await (await marathon("/v2/apps/unique")).json()) as { app: { constraints: unknown } };
    assert.deepEqual(apps.app.constraints, [["hostname", "UNIQUE"]]);
    const bad = await marathon("/v2/apps", {
      method: "POST",
      body: JSON.stringify({ id: "/bad-constraint", cmd: "true", constraints: [["hostname", "NEAR", "x"]] }),
    });
    assert.equal(bad.status, 422);
    const body = (await bad.json()) as { details: { path: string }[] };
    assert.deepEqual(
      body.details.map((d) => d.path),
      ["/constraints(0)(1)"],
    );
    for (const id of ["/on-a2", "/off-a2", "/unique"]) assert.equal((await marathon(`/v2/apps${id}`, { method: "DELETE" })).status, 200);
    await eventually(async () => {
      const left = ((await (await marathon("/v2/tasks")).json()) as { tasks: { appId: string }[] }).tasks;
      assert.deepEqual(
        left.map((t) => t.appId).filter((id) => id !== "/demo/echo"),
        [],
      );
    }, 10_000);
  });

  it("the leading master fails: a new leader serves the same apps and tasks", async () => {
    await marathon("/v2/apps/demo/echo", { method: "PUT", body: JSON.stringify({ instances: 2 }) });
    const ts = await running("/demo/echo", 2);
    const old = leader();
    const t0 = Date.now();
    await old.lifecycle.stop();
    sims.splice(sims.indexOf(old), 1);
    await eventually(() => leader(), 5000);
    assert.ok(Date.now() - t0 < 5000);
    const after = await running("/demo/echo", 2);
    assert.deepEqual(after.map((t) => t.id).sort(), ts.map((t) => t.id).sort(), "same tasks, not relaunched");
  });

  it("an agent is lost: its tasks become TASK_LOST and are relaunched on the other agent", async () => {
    const ts = await running("/demo/echo", 2);
    const victimId = ts[0]!.slaveId;
    const victim = sims.find((s) => s.agent && s.agent.record().id === victimId)!;
    // Stop heartbeating without a goodbye: stop the agent (its processes die with it).
    await victim.lifecycle.stop();
    sims.splice(sims.indexOf(victim), 1);
    const now = await running("/demo/echo", 2);
    assert.ok(
      now.every((t) => t.slaveId !== victimId),
      "all on the surviving agent",
    );
    for (const t of now) assert.equal(await answers(t), t.id);
  });

  it("deletes an app: its tasks are killed", async () => {
    const ts = await running("/demo/echo", 2);
    for (const t of ts) await answers(t);
    assert.equal((await marathon("/v2/apps/demo/echo", { method: "DELETE" })).status, 200);
    for (const t of ts) await silent(t);
    assert.equal((await marathon("/v2/apps/demo/echo")).status, 404);
  });
});
