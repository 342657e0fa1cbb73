import { strict as assert } from "node:assert";
import { parseMesosDnsConfig } from "../config";
import { makeSet } from "../dns/test-helpers";
import { stateBasis, withRunningTask } from "./incremental";
import { LiveTasks, toV0 } from "./live-tasks";

const v1Task = (state: string) => ({
  name: "web",
  task_id: { value: "web.1" },
  framework_id: { value: "F1" },
  agent_id: { value: "S1" },
  state,
  resources: [
    { name: "cpus", type: "SCALAR", scalar: { value: 0.1 } },
    {
      name: "ports",
      type: "RANGES",
      ranges: {
        range: [
          { begin: 31000, end: 31000 },
          { begin: 31005, end: 31006 },
        ],
      },
    },
  ],
  statuses: [],
  labels: { labels: [{ key: "k", value: "v" }] },
  discovery: { name: "web", ports: { ports: [{ number: 31000, name: "http", protocol: "tcp" }] } },
});
const running = {
  task_id: { value: "web.1" },
  state: "TASK_RUNNING",
  timestamp: 2,
  labels: { labels: [{ key: "l", value: "1" }] },
  container_status: { network_infos: [{ ip_addresses: [{ ip_address: "10.0.0.9" }] }] },
};
const update = (state: string, status: Record<string, unknown> = { task_id: { value: "web.1" }, state }) => ({
  type: "TASK_UPDATED",
  task_updated: { framework_id: { value: "F1" }, status, state },
});

describe("LiveTasks: the stream's tasks, and the one that just reached TASK_RUNNING", () => {
  it("TASK_ADDED then STARTING then RUNNING: the task comes out once, at RUNNING, in v0 shape with the RUNNING status", () => {
    const lt = new LiveTasks();
    assert.equal(lt.take({ type: "SUBSCRIBED", subscribed: { get_state: { get_tasks: { tasks: [] } } } }).running, undefined);
    assert.equal(lt.take({ type: "TASK_ADDED", task_added: { task: v1Task("TASK_STAGING") } }).running, undefined);
    assert.equal(lt.take(update("TASK_STARTING")).running, undefined);
    const r = lt.take(update("TASK_RUNNING", running)).running;
    assert.ok(r);
    assert.equal(r.frameworkId, "F1");
    assert.equal(r.key, "F1/web.1");
    assert.equal(r.agentId, "S1");
    assert.deepEqual(r.task["resources"], { ports: "[31000-31000, 31005-31006]" });
    assert.equal(r.task["id"], "web.1");
    assert.equal(r.task["slave_id"], "S1");
    assert.deepEqual(r.task["labels"], [{ key: "k", value: "v" }]);
    const statuses = r.task["statuses"] as Record<string, unknown>[];
    assert.equal(statuses.length, 2, "STARTING and RUNNING");
    assert.deepEqual(statuses[1]!["labels"], [{ key: "l", value: "1" }], "status labels unwrapped");
    assert.equal(lt.take(update("TASK_RUNNING", running)).running, undefined, "already running: not again");
  });

  it("a terminal state forgets the task; an update for an unknown task gives nothing", () => {
    const lt = new LiveTasks();
    lt.take({ type: "SUBSCRIBED", subscribed: { get_state: { get_tasks: { tasks: [v1Task("TASK_RUNNING")] } } } });
    assert.equal(lt.size, 1);
    lt.take(update("TASK_KILLED"));
    assert.equal(lt.size, 0);
    assert.equal(lt.take(update("TASK_RUNNING", running)).running, undefined);
  });

  it("toV0 keeps a v0 task as it is", () => {
    const v0 = {
      id: "a.1",
      name: "a",
      framework_id: "F1",
      slave_id: "S1",
      state: "TASK_RUNNING",
      statuses: [],
      resources: { ports: "[1-1]" },
    };
    assert.deepEqual(toV0(v0), { ...v0 });
  });
});

describe("withRunningTask: a task's records added to the served set", () => {
  const cfg = parseMesosDnsConfig({ masters: ["10.0.0.1:5050"] }, { env: {}, warn: () => undefined });
  const state = {
    leader: "master@10.0.0.1:5050",
    slaves: [{ id: "S1", hostname: "agent1", pid: "slave(1)@10.0.0.5:5051" }],
    frameworks: [{ id: "F1", name: "marathon", hostname: "m1", pid: "marathon@10.0.0.1:8080", tasks: [] }],
  };
  const task = {
    key: "F1/web.1",
    frameworkId: "F1",
    agentId: "S1",
    task: toV0({ ...v1Task("TASK_RUNNING"), statuses: [running] }),
  };

  it("adds the task's names and values, keeps the rest, and does not repeat a value already served", () => {
    const current = makeSet({ a: { "web.marathon.mesos.": ["10.0.0.9"], "other.marathon.mesos.": ["10.0.0.7"] } });
    const next = withRunningTask(current, state, task, cfg, {})!;
    assert.deepEqual(next.a.get("web.marathon.mesos."), ["10.0.0.9"], "not repeated");
    assert.deepEqual(next.a.get("other.marathon.mesos."), ["10.0.0.7"]);
    assert.ok([...next.srv.keys()].includes("_web._tcp.marathon.mesos."), [...next.srv.keys()].join(" "));
    assert.ok(!next.a.has("leader.mesos."), "records that do not come from the task are not added");
    assert.deepEqual(current.a.get("web.marathon.mesos."), ["10.0.0.9"], "the current set is not changed");
  });

  it("the kept basis (tasks dropped) gives the same records as the whole state", () => {
    const other = { id: "o.1", name: "other", framework_id: "F1", slave_id: "S1", state: "TASK_RUNNING", statuses: [] };
    const whole = { ...state, frameworks: [{ ...state.frameworks[0]!, tasks: [other], completed_tasks: [other] }] };
    const basis = stateBasis(whole)!;
    const fws = basis["frameworks"] as Record<string, unknown>[];
    assert.deepEqual(fws[0]!["tasks"], []);
    assert.equal(fws[0]!["completed_tasks"], undefined);
    const current = makeSet({});
    assert.deepEqual(withRunningTask(current, basis, task, cfg, {}), withRunningTask(current, whole, task, cfg, {}));
    assert.equal(stateBasis("no"), undefined);
  });

  it("an unknown framework or agent: undefined (the full reload adds it)", () => {
    const current = makeSet({});
    assert.equal(withRunningTask(current, state, { ...task, agentId: "S9" }, cfg, {}), undefined);
    assert.equal(withRunningTask(current, state, { ...task, frameworkId: "F9" }, cfg, {}), undefined);
    assert.equal(withRunningTask(current, null, task, cfg, {}), undefined);
  });
});
