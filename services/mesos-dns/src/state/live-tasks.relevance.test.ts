import { strict as assert } from "node:assert";
import { LiveTasks, type TaskEvent } from "./live-tasks";

const id = (value: string) => ({ value });
const subscribed = (...tasks: [string, string, string][]) => ({
  type: "SUBSCRIBED",
  subscribed: {
    get_state: { get_tasks: { tasks: tasks.map(([fw, task, state]) => ({ framework_id: id(fw), task_id: id(task), state })) } },
  },
});
const added = (fw: string, task: string, state: string) => ({
  type: "TASK_ADDED",
  task_added: { task: { framework_id: id(fw), task_id: id(task), state } },
});
const updated = (fw: string, task: string, state: string, statusState = state) => ({
  type: "TASK_UPDATED",
  task_updated: { framework_id: id(fw), status: { task_id: id(task), state: statusState }, state },
});

describe("LiveTasks: which master events can change Mesos-DNS records", () => {
  it("a launch: only TASK_RUNNING matters (ADDED, STAGING, STARTING do not)", () => {
    const r = new LiveTasks();
    assert.equal(r.take(subscribed()).relevant, true, "SUBSCRIBED: the state as a whole");
    assert.equal(r.take(added("F1", "web.1", "TASK_STAGING")).relevant, false);
    assert.equal(r.take(updated("F1", "web.1", "TASK_STARTING")).relevant, false);
    assert.equal(r.take(updated("F1", "web.1", "TASK_RUNNING")).relevant, true);
    assert.equal(r.runningTasks, 1);
  });

  it("a running task's later updates, killing and its end matter once; after that nothing", () => {
    const r = new LiveTasks();
    r.take(subscribed(["F1", "web.1", "TASK_RUNNING"]));
    let e: TaskEvent = r.take(updated("F1", "web.1", "TASK_RUNNING"));
    assert.equal(e.relevant, true, "RUNNING → RUNNING (health, addresses)");
    assert.equal(e.stopped, undefined);
    e = r.take(updated("F1", "web.1", "TASK_KILLING"));
    assert.equal(e.relevant, true, "leaves RUNNING: its records go");
    assert.equal(e.stopped, "F1/web.1");
    e = r.take(updated("F1", "web.1", "TASK_KILLED"));
    assert.equal(e.relevant, false, "was not running any more");
    assert.equal(e.stopped, undefined);
    assert.equal(r.runningTasks, 0);
  });

  it("a task that fails before running changes nothing", () => {
    const r = new LiveTasks();
    r.take(subscribed());
    assert.equal(r.take(added("F1", "bad.1", "TASK_STAGING")).relevant, false);
    assert.equal(r.take(updated("F1", "bad.1", "TASK_FAILED")).relevant, false);
  });

  it("uses the task's latest state, not the state of an update that arrived late", () => {
    const r = new LiveTasks();
    r.take(subscribed(["F1", "web.1", "TASK_RUNNING"]));
    // A late STARTING update for a task that is still running: not a change of running-ness.
    assert.equal(r.take(updated("F1", "web.1", "TASK_RUNNING", "TASK_STARTING")).relevant, true);
    assert.equal(r.runningTasks, 1, "still running");
  });

  it("a task id is per framework", () => {
    const r = new LiveTasks();
    r.take(subscribed(["F1", "t", "TASK_RUNNING"]));
    assert.equal(r.take(updated("F2", "t", "TASK_STARTING")).relevant, false, "F2's t never ran");
    assert.equal(r.take(updated("F1", "t", "TASK_FINISHED")).relevant, true, "F1's t did");
  });

  it("a new SUBSCRIBED replaces what was known", () => {
    const r = new LiveTasks();
    r.take(subscribed(["F1", "a", "TASK_RUNNING"]));
    r.take(subscribed(["F1", "b", "TASK_RUNNING"]));
    assert.equal(r.take(updated("F1", "a", "TASK_KILLED")).relevant, false);
    assert.equal(r.take(updated("F1", "b", "TASK_KILLED")).relevant, true);
  });

  it("agents, frameworks and event types it does not know count as changes; HEARTBEAT does not", () => {
    const r = new LiveTasks();
    for (const type of ["AGENT_ADDED", "AGENT_REMOVED", "FRAMEWORK_ADDED", "FRAMEWORK_UPDATED", "FRAMEWORK_REMOVED", "SOMETHING_NEW"])
      assert.equal(r.take({ type }).relevant, true, type);
    assert.equal(r.take({ type: "HEARTBEAT" }).relevant, false);
  });

  it("malformed events do not throw: a task event without ids is keyed by empty ids", () => {
    const r = new LiveTasks();
    for (const e of [null, 7, "x", [], {}, { type: 3 }, { type: "TASK_UPDATED" }, { type: "TASK_ADDED", task_added: [] }])
      assert.doesNotThrow(() => r.take(e));
    assert.equal(r.take({ type: "TASK_UPDATED", task_updated: { state: "TASK_RUNNING" } }).relevant, true);
    assert.equal(r.take({ type: "SUBSCRIBED", subscribed: { get_state: { get_tasks: { tasks: "no" } } } }).relevant, true);
  });
});
