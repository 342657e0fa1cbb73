import { strict as assert } from "node:assert";
import { createLogger } from "@dcnet/core";
import { MasterViewState } from "./master-view";
import { AGENT_ID, AGENT_IP, FRAMEWORK_ID, hostTaskV1 } from "./testing/fixtures";

const logger = createLogger({ service: "test", level: "silent" });
const agentV1 = (id: string, hostname: string, pidIp: string) => ({
  agent_info: { id: { value: id }, hostname, port: 5051 },
  pid: `slave(1)@${pidIp}:5051`,
  active: true,
});
const frameworkV1 = (id: string, name: string) => ({ framework_info: { id: { value: id }, name, user: "root" }, active: true });
const subscribed = (state: Record<string, unknown>, heartbeat = 15) => ({
  type: "SUBSCRIBED",
  subscribed: { get_state: state, heartbeat_interval_seconds: heartbeat },
});
const taskId = (hostTaskV1()["task_id"] as { value: string }).value;

describe("MasterViewState", () => {
  it("SUBSCRIBED: agents (IP from hostname or pid), frameworks, tasks, recovered agents, heartbeat", () => {
    const s = new MasterViewState(logger);
    assert.equal(
      s.apply(
        subscribed(
          {
            get_agents: {
              agents: [agentV1(AGENT_ID, "ip-10-0-4-12.internal", AGENT_IP), agentV1("S2", "10.0.4.13", "10.9.9.9")],
              recovered_agents: [{ id: { value: "S3" }, hostname: "10.0.4.14" }],
            },
            get_frameworks: { frameworks: [frameworkV1(FRAMEWORK_ID, "marathon")] },
            get_tasks: {
              tasks: [hostTaskV1()],
              completed_tasks: [{ ...hostTaskV1(), task_id: { value: "done" }, state: "TASK_FINISHED" }],
            },
          },
          2,
        ),
      ),
      true,
    );
    assert.deepEqual(
      [...s.agents],
      [
        [AGENT_ID, AGENT_IP],
        ["S2", "10.0.4.13"],
      ],
    );
    assert.deepEqual([...s.frameworks], [[FRAMEWORK_ID, "marathon"]]);
    assert.deepEqual([...s.tasks.keys()], [taskId]);
    assert.equal(s.tasks.get(taskId)!.framework, "marathon");
    assert.deepEqual(s.recoveredAgents, ["S3"]);
    assert.equal(s.heartbeatSeconds, 2);
  });

  it("a task whose framework or agent is unknown is parked until FRAMEWORK_ADDED / AGENT_ADDED", () => {
    const s = new MasterViewState(logger);
    s.apply(subscribed({}));
    assert.equal(s.apply({ type: "TASK_ADDED", task_added: { task: hostTaskV1() } }), false);
    assert.deepEqual(s.parked(), [taskId]);
    assert.equal(s.apply({ type: "FRAMEWORK_ADDED", framework_added: { framework: frameworkV1(FRAMEWORK_ID, "marathon") } }), true);
    assert.equal(s.tasks.size, 0, "agent still unknown");
    assert.equal(s.apply({ type: "AGENT_ADDED", agent_added: { agent: agentV1(AGENT_ID, AGENT_IP, AGENT_IP) } }), true);
    assert.deepEqual(s.parked(), []);
    const t = s.tasks.get(taskId)!;
    assert.equal(t.framework, "marathon");
    assert.equal(t.agentIp, AGENT_IP);
    assert.equal(t.ports[0]!.hostPort, 31044);
  });

  it("TASK_UPDATED takes the state from the event (not the status), its status becomes the latest", () => {
    const s = new MasterViewState(logger);
    s.apply(
      subscribed({
        get_agents: { agents: [agentV1(AGENT_ID, AGENT_IP, AGENT_IP)] },
        get_frameworks: { frameworks: [frameworkV1(FRAMEWORK_ID, "marathon")] },
        get_tasks: { tasks: [hostTaskV1()] },
      }),
    );
    const update = (state: string, status: Record<string, unknown>) => ({
      type: "TASK_UPDATED",
      task_updated: { task_id: { value: taskId }, framework_id: { value: FRAMEWORK_ID }, agent_id: { value: AGENT_ID }, state, status },
    });
    const st = (state: string, ts: number, extra: Record<string, unknown> = {}) => ({
      task_id: { value: taskId },
      state,
      timestamp: ts,
      ...extra,
    });
    assert.equal(s.apply(update("TASK_KILLING", st("TASK_RUNNING", 1557000100))), true);
    assert.equal(s.tasks.get(taskId)!.state, "killing");
    assert.equal(s.tasks.get(taskId)!.name, "echo.demo", "the task's own fields are kept");
    assert.equal(s.apply(update("TASK_KILLING", st("TASK_KILLING", 1557000101))), false, "nothing changed");
    assert.equal(s.apply(update("TASK_RUNNING", st("TASK_RUNNING", 1557000102, { healthy: false }))), true);
    assert.equal(s.tasks.get(taskId)!.healthy, false);
    assert.equal(s.apply(update("TASK_KILLED", st("TASK_KILLED", 1557000103))), true);
    assert.equal(s.tasks.size, 0);
    assert.deepEqual(s.parked(), []);
    assert.equal(s.apply({ type: "HEARTBEAT" }), false);
  });

  it("AGENT_REMOVED / FRAMEWORK_REMOVED drop them from the view; unknown and malformed events are ignored", () => {
    const s = new MasterViewState(logger);
    s.apply(
      subscribed({
        get_agents: { agents: [agentV1(AGENT_ID, AGENT_IP, AGENT_IP)] },
        get_frameworks: { frameworks: [frameworkV1(FRAMEWORK_ID, "marathon")] },
      }),
    );
    assert.equal(s.apply({ type: "AGENT_REMOVED", agent_removed: { agent_id: { value: AGENT_ID } } }), true);
    assert.equal(s.apply({ type: "AGENT_REMOVED", agent_removed: { agent_id: { value: AGENT_ID } } }), false);
    assert.equal(s.apply({ type: "FRAMEWORK_REMOVED", framework_removed: { framework_info: { id: { value: FRAMEWORK_ID } } } }), true);
    for (const e of [
      { type: "TASK_ADDED" },
      { type: "TASK_UPDATED", task_updated: 5 },
      { type: "AGENT_ADDED", agent_added: {} },
      { type: "WHAT" },
      {},
    ])
      assert.equal(s.apply(e), false, JSON.stringify(e));
  });
});
