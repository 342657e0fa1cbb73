import { strict as assert } from "node:assert";
import { eventually } from "@dcnet/core";
import { ECHO, freePort, get, Harness, launchOf, post } from "./test-harness";

interface V0Task {
  id: string;
  state: string;
  framework_id: string;
  slave_id: string;
  resources: { cpus: number; ports?: string };
  statuses: { state: string; timestamp: number }[];
}

describe("mesos agent HTTP: /state and the v1 API", function () {
  this.timeout(20_000);
  let h: Harness;
  let base: string;
  let port: number;

  before(async () => {
    h = await new Harness().start();
    base = `http://127.0.0.1:${h.agent.port()}`;
    port = await freePort();
    await h.launch(launchOf("live.1", ECHO, { hostPorts: [port], labels: [{ key: "k", value: "v" }] }));
    await h.launch(launchOf("done.1", "exit 0"));
    await h.waitFor("live.1", "TASK_RUNNING");
    await h.waitFor("done.1", "TASK_FINISHED");
  });
  after(async () => h.stop());

  it("GET /state: id, pid, resources with the port range, live and completed tasks in the Mesos shape", async () => {
    for (const path of ["/state", "/state.json"]) {
      const res = await get(base + path);
      assert.equal(res.status, 200);
      const s = JSON.parse(res.body);
      assert.equal(s.id, h.agentId);
      assert.equal(s.pid, `slave(1)@127.0.0.1:${h.agent.port()}`);
      assert.equal(s.resources.ports, "[1024-65535]");
      const fw = s.frameworks.find((f: { id: string }) => f.id === "marathon-fw");
      assert.equal(fw.name, "marathon");
      const live = fw.executors.flatMap((e: { tasks: V0Task[] }) => e.tasks) as V0Task[];
      const done = fw.completed_executors.flatMap((e: { completed_tasks: V0Task[] }) => e.completed_tasks) as V0Task[];
      const t = live.find((x) => x.id === "live.1")!;
      assert.deepEqual(
        [t.state, t.framework_id, t.slave_id, t.resources.ports],
        ["TASK_RUNNING", "marathon-fw", h.agentId, `[${port}-${port}]`],
      );
      assert.deepEqual(
        t.statuses.map((x) => x.state),
        ["TASK_STAGING", "TASK_STARTING", "TASK_RUNNING"],
      );
      assert.equal(done.find((x) => x.id === "done.1")?.state, "TASK_FINISHED");
    }
  });

  it("POST /api/v1 GET_STATE: launched and completed tasks in the v1 shape", async () => {
    const res = await post(`${base}/api/v1`, JSON.stringify({ type: "GET_STATE" }));
    assert.equal(res.status, 200);
    const body = JSON.parse(res.body);
    assert.equal(body.type, "GET_STATE");
    const { get_tasks, get_frameworks, get_executors } = body.get_state;
    const live = get_tasks.launched_tasks.find((t: { task_id: { value: string } }) => t.task_id.value === "live.1");
    assert.deepEqual(live.agent_id, { value: h.agentId });
    assert.deepEqual(live.framework_id, { value: "marathon-fw" });
    assert.equal(live.state, "TASK_RUNNING");
    assert.deepEqual(live.labels, { labels: [{ key: "k", value: "v" }] });
    assert.deepEqual(
      live.resources.find((r: { name: string }) => r.name === "ports"),
      { name: "ports", type: "RANGES", ranges: { range: [{ begin: port, end: port }] } },
    );
    assert.equal(live.statuses.at(-1).task_id.value, "live.1");
    assert.equal(
      get_tasks.completed_tasks.find((t: { task_id: { value: string } }) => t.task_id.value === "done.1").state,
      "TASK_FINISHED",
    );
    assert.deepEqual(get_frameworks.frameworks[0].framework_info.id, { value: "marathon-fw" });
    assert.equal(get_frameworks.frameworks[0].framework_info.name, "marathon", "the framework's name, not its id");
    assert.ok(
      get_executors.executors.some(
        (e: { executor_info: { executor_id: { value: string } } }) => e.executor_info.executor_id.value === "live.1",
      ),
    );
  });

  it("POST /api/v1: 400 naming the problem for malformed JSON and unsupported calls", async () => {
    const bad = await post(`${base}/api/v1`, "{nope");
    assert.equal(bad.status, 400);
    assert.match(JSON.parse(bad.body).reason, /^malformed JSON: /);
    const unsupported = await post(`${base}/api/v1`, JSON.stringify({ type: "LAUNCH_NESTED_CONTAINER" }));
    assert.equal(unsupported.status, 400);
    assert.deepEqual(Object.keys(JSON.parse(unsupported.body)), ["error", "reason"]);
    assert.match(JSON.parse(unsupported.body).reason, /^unsupported call type LAUNCH_NESTED_CONTAINER/);
    const agent = JSON.parse((await post(`${base}/api/v1`, JSON.stringify({ type: "GET_AGENT" }))).body);
    assert.deepEqual(agent.get_agent.agent_info.id, { value: h.agentId });
  });

  it("/metrics: tasks by state, launches, health check failures", async () => {
    const m = await eventually(async () => {
      const text = (await get(`${base}/metrics`)).body;
      assert.match(text, new RegExp(`dcnet_mesos_agent_tasks\\{agent="${h.agentId}",state="TASK_RUNNING"\\} 1`));
      return text;
    });
    assert.match(m, new RegExp(`dcnet_mesos_agent_tasks\\{agent="${h.agentId}",state="TASK_FINISHED"\\} 1`));
    assert.match(m, new RegExp(`dcnet_mesos_agent_launches_total\\{agent="${h.agentId}",mode="host"\\} 2`));
    assert.match(m, /dcnet_mesos_agent_health_check_failures_total/);
  });
});
