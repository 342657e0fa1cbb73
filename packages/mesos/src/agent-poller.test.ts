import { strict as assert } from "node:assert";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { eventually, sleep } from "@dcnet/core";
import type { MesosSim } from "@dcnet/mesos-sim";
import { agentTasks, createAgentPoller, type AgentPoller } from "./agent-poller";
import type { NormalTask } from "./task";
import { AGENT_ID, AGENT_IP, FRAMEWORK_ID, bridgeTaskV0, hostTaskV1 } from "./testing/fixtures";
import { SimCluster, simLogger } from "./testing/sim-cluster";

describe("agentTasks (GET_STATE + GET_AGENT → tasks)", () => {
  const getAgent = (hostname: string) => ({
    type: "GET_AGENT",
    get_agent: { agent_info: { id: { value: AGENT_ID }, hostname, port: 5051 } },
  });
  const getState = (tasks: unknown[]) => ({
    type: "GET_STATE",
    get_state: {
      get_tasks: { launched_tasks: tasks, completed_tasks: [] },
      get_frameworks: { frameworks: [{ framework_info: { id: { value: FRAMEWORK_ID }, name: "marathon" } }] },
    },
  });

  it("normalises launched tasks with the framework names and the agent IP; terminal and unknown-framework tasks left out", () => {
    const done = { ...hostTaskV1(), task_id: { value: "done" }, state: "TASK_FINISHED" };
    const alien = { ...hostTaskV1(), task_id: { value: "alien" }, framework_id: { value: "other" } };
    const { tasks, agentIp } = agentTasks(getState([hostTaskV1(), done, alien]), getAgent(AGENT_IP), "127.0.0.1");
    assert.equal(agentIp, AGENT_IP);
    assert.deepEqual(
      tasks.map((t) => [t.id, t.framework, t.agentIp]),
      [["demo_echo.8e6c6f42-6c1d-11e9-a9f7-0242ac110002", "marathon", AGENT_IP]],
    );
  });

  it("the agent's hostname is not an IP: the polled address is the agent IP", () => {
    const { agentIp, tasks } = agentTasks(getState([hostTaskV1()]), getAgent("ip-10-0-4-12.internal"), "10.0.4.12");
    assert.equal(agentIp, "10.0.4.12");
    assert.equal(tasks[0]!.ports[0]!.hostPort, 31044);
  });

  it("garbage answers give no tasks, never an exception", () => {
    for (const g of [null, 1, "x", {}, { get_state: [] }, { get_state: { get_tasks: { launched_tasks: [1, null, {}] } } }])
      assert.deepEqual(agentTasks(g, g, "10.0.0.1").tasks, []);
    assert.equal(agentTasks(getState([bridgeTaskV0()]), null, "10.0.0.1").tasks.length, 1);
  });
});

describe("createAgentPoller", function () {
  this.timeout(60_000);
  const cleanup: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  it("backs off on failures and reports nothing until the agent answers", async () => {
    let calls = 0;
    let healthy = false;
    const server = http.createServer((req, res) => {
      req.resume();
      calls++;
      if (!healthy) return res.writeHead(503).end("busy");
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ type: "GET_STATE", get_state: { get_tasks: { launched_tasks: [] } } }));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    cleanup.push(() => new Promise<void>((r) => server.close(() => r())));
    const poller = createAgentPoller({ agent: `127.0.0.1:${(server.address() as AddressInfo).port}`, intervalMs: 40, logger: simLogger });
    const seen: NormalTask[][] = [];
    poller.onChange((t) => seen.push(t));
    poller.start();
    cleanup.push(() => poller.stop());
    await sleep(700);
    // Two calls per round; doubling from 40 ms: ~40, 80, 160, 320 → about 5 rounds, not 17.
    assert.ok(calls <= 14, `${calls} calls while failing`);
    assert.deepEqual(seen, []);
    healthy = true;
    await eventually(() => assert.deepEqual(seen, [[]]), 3000);
    await sleep(200);
    assert.deepEqual(seen, [[]], "unchanged: reported once");
  });

  describe("against a mesos-sim agent (real processes)", () => {
    const cluster = new SimCluster();
    let agent: MesosSim;
    let poller: AgentPoller;
    const seen: { tasks: NormalTask[]; agentIp: string }[] = [];
    const last = () => seen[seen.length - 1];

    before(async () => {
      await cluster.master(1);
      agent = await cluster.agent(1, 23300);
      await cluster.ready();
      poller = createAgentPoller({ agent: `127.0.0.1:${agent.agent!.port()}`, intervalMs: 100, logger: simLogger });
      poller.onChange((tasks, agentIp) => seen.push({ tasks, agentIp }));
      poller.start();
    });
    after(async () => {
      await poller?.stop();
      await cluster.stop();
    });

    it("reports the agent's tasks, normalised, when they change", async () => {
      await eventually(() => assert.deepEqual(last(), { tasks: [], agentIp: "127.0.0.1" }), 5000);
      await cluster.deploy({
        id: "/lb/web",
        cmd: "sleep 600",
        instances: 2,
        cpus: 0.1,
        mem: 16,
        portDefinitions: [
          { port: 0, name: "http", labels: { VIP_0: "/web:80" } },
          { port: 0, name: "dns", protocol: "udp", labels: { VIP_1: "10.20.0.53:53" } },
        ],
      });
      await eventually(() => assert.equal(last()!.tasks.filter((t) => t.state === "running").length, 2), 20_000);
      for (const t of last()!.tasks) {
        assert.equal(t.name, "web.lb");
        assert.equal(t.agentIp, "127.0.0.1");
        assert.deepEqual(
          t.ports.map((p) => [p.protocol, p.name, p.port === p.hostPort, p.vips]),
          [
            ["tcp", "http", true, [{ key: "VIP_0", value: "/web:80" }]],
            ["udp", "dns", true, [{ key: "VIP_1", value: "10.20.0.53:53" }]],
          ],
        );
      }
      const n = seen.length;
      await sleep(400);
      assert.equal(seen.length, n, "no report without a change");
    });

    it("scaling to zero: the tasks go", async () => {
      await cluster.scale("/lb/web", 0);
      await eventually(() => assert.deepEqual(last()!.tasks, []), 20_000);
    });
  });
});
