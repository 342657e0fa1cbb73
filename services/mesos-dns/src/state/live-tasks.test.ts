import { strict as assert } from "node:assert";
import { parseMesosDnsConfig } from "../config";
import { makeSet } from "../dns/test-helpers";
import { generateRecords } from "../records/generator";
import { lines } from "../records/testutil";
import { MAX_NAME_SIBLINGS, stateBasis, withoutStoppedTask, withRunningTask } from "./incremental";
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

  it("a task leaving TASK_RUNNING comes out as it was while running, with its framework's running tasks on every agent", () => {
    const lt = new LiveTasks();
    const t = (id: string, state: string, agent = "S1", fw = "F1") => ({
      ...v1Task(state),
      task_id: { value: id },
      agent_id: { value: agent },
      framework_id: { value: fw },
    });
    lt.take({
      type: "SUBSCRIBED",
      subscribed: {
        get_state: {
          get_tasks: {
            tasks: [
              t("web.1", "TASK_STARTING"),
              t("web.2", "TASK_RUNNING", "S2"),
              t("web.3", "TASK_STAGING"),
              t("web.4", "TASK_RUNNING", "S1", "F2"),
            ],
          },
        },
      },
    });
    lt.take(update("TASK_RUNNING", running));
    const e = lt.take(update("TASK_KILLING", { ...running, state: "TASK_KILLING" }));
    assert.equal(e.stopped, "F1/web.1");
    assert.ok(e.removal);
    assert.equal(e.removal.task.key, "F1/web.1");
    assert.equal(e.removal.task.agentId, "S1");
    assert.equal(e.removal.task.task["state"], "TASK_RUNNING", "as it was while running");
    assert.deepEqual(
      (e.removal.task.task["statuses"] as { state: string }[]).map((x) => x.state),
      ["TASK_RUNNING"],
      "not the KILLING status",
    );
    assert.deepEqual(
      e.removal.siblings.map((x) => [toV0(x)["id"], toV0(x)["slave_id"]]),
      [["web.2", "S2"]],
      "running, same framework, any agent; not itself, not STAGING, not F2's",
    );
    assert.equal(lt.take(update("TASK_KILLED")).removal, undefined, "it was not running any more");
  });

  it("no removal when the stopped task or a running task of its framework is known only from an update", () => {
    const lt = new LiveTasks();
    lt.take({ type: "SUBSCRIBED", subscribed: { get_state: { get_tasks: { tasks: [] } } } });
    // Known only from its update: no body.
    lt.take(update("TASK_RUNNING"));
    let e = lt.take(update("TASK_FAILED"));
    assert.equal(e.stopped, "F1/web.1");
    assert.equal(e.removal, undefined);
    lt.take({ type: "TASK_ADDED", task_added: { task: v1Task("TASK_STAGING") } });
    lt.take(update("TASK_RUNNING", running));
    lt.take(update("TASK_RUNNING", { task_id: { value: "web.9" }, state: "TASK_RUNNING" }));
    e = lt.take(update("TASK_FINISHED"));
    assert.equal(e.stopped, "F1/web.1");
    assert.equal(e.removal, undefined, "web.9 has no body: what it gives is unknown");
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

describe("withoutStoppedTask: a stopped task's values removed from the served set", () => {
  const cfg = parseMesosDnsConfig({ masters: ["10.0.0.1:5050"] }, { env: {}, warn: () => undefined });
  const S1 = { id: "S1", hostname: "agent1", pid: "slave(1)@10.0.0.5:5051" };
  const S2 = { id: "S2", hostname: "agent2", pid: "slave(1)@10.0.0.6:5051" };
  /** A v0 running task of app `name` on `agent`; with `ip`, that container address (else the agent's). */
  const v0 = (id: string, name: string, port: number, agent = "S1", ip?: string) => ({
    id,
    name,
    framework_id: "F1",
    slave_id: agent,
    state: "TASK_RUNNING",
    statuses: [
      {
        state: "TASK_RUNNING",
        timestamp: 1,
        ...(ip !== undefined ? { container_status: { network_infos: [{ ip_addresses: [{ ip_address: ip }] }] } } : {}),
      },
    ],
    resources: { ports: `[${port}-${port}]` },
  });
  const stateWith = (...tasks: unknown[]) => ({
    leader: "master@10.0.0.1:5050",
    slaves: [S1, S2],
    frameworks: [
      { id: "F1", name: "marathon", hostname: "m1", pid: "marathon@10.0.0.1:8080", tasks },
      { id: "F2", name: "other", hostname: "m2", pid: "other@10.0.0.2:8080", tasks: [v0("o.1", "app", 31009)] },
    ],
  });
  const records = (state: unknown) => generateRecords(state, cfg, {}).records;
  const stopped = (t: ReturnType<typeof v0>) => ({ key: `F1/${t.id}`, frameworkId: "F1", agentId: t.slave_id, task: t });
  const [app1, app2, db1] = [v0("app.1", "app", 31000), v0("app.2", "app", 31001), v0("db.1", "db", 31002, "S2")];

  it("two host-mode instances on one agent: the kill of one removes its own names and SRV values; the app's name stays", () => {
    const current = records(stateWith(app1, app2, db1));
    const next = withoutStoppedTask(current, stateBasis(stateWith()), stopped(app1), [app2, db1], cfg, {})!;
    assert.deepEqual(lines(next), lines(records(stateWith(app2, db1))), "as a reload without it");
    assert.deepEqual(next.a.get("app.marathon.mesos."), ["10.0.0.5"]);
    assert.ok(lines(current).length > lines(next).length);
    assert.equal(next.enumeration, current.enumeration, "the enumeration waits for the reload");
    assert.deepEqual(current.a.get("app.marathon.mesos."), ["10.0.0.5"], "the current set is not changed");
  });

  it("the last instance: its names go (a name left without values is deleted)", () => {
    const current = records(stateWith(app2, db1));
    const next = withoutStoppedTask(current, stateBasis(stateWith()), stopped(app2), [db1], cfg, {})!;
    assert.deepEqual(lines(next), lines(records(stateWith(db1))));
    for (const m of [next.a, next.srv]) for (const name of m.keys()) assert.ok(!/app.*\.marathon\./.test(name), name);
    assert.ok(current.a.has("app.marathon.mesos."));
    assert.deepEqual(next.a.get("app.other.mesos."), ["10.0.0.5"], "another framework's app of the same name stays");
  });

  it("a value a task on another agent also gives stays (every agent of the framework counts)", () => {
    const [b1, b2] = [v0("b.1", "b", 31003, "S1", "172.17.0.2"), v0("b.2", "b", 31004, "S2", "172.17.0.2")];
    const current = records(stateWith(b1, b2));
    const next = withoutStoppedTask(current, stateBasis(stateWith()), stopped(b1), [b2], cfg, {})!;
    assert.deepEqual(next.a.get("b.marathon.mesos."), ["172.17.0.2"]);
    assert.deepEqual(lines(next), lines(records(stateWith(b2))));
  });

  it("nothing of the task served: the current set itself; an unknown framework or agent: undefined", () => {
    const current = records(stateWith(app2));
    assert.equal(withoutStoppedTask(current, stateWith(), stopped(app1), [app2], cfg, {}), current);
    assert.equal(withoutStoppedTask(current, stateWith(), { ...stopped(app1), frameworkId: "F9" }, [], cfg, {}), undefined);
    assert.equal(withoutStoppedTask(current, stateWith(), { ...stopped(app1), agentId: "S9" }, [], cfg, {}), undefined);
    assert.equal(withoutStoppedTask(current, null, stopped(app1), [], cfg, {}), undefined);
  });

  it("another framework whose records can have the same names (same name, or nested by a dot): undefined", () => {
    const current = records(stateWith(app1, app2));
    const other = (name: string) => {
      const st = stateWith();
      return { ...st, frameworks: [...st.frameworks, { id: "F3", name, hostname: "m3", pid: "x@10.0.0.3:8080", tasks: [] }] };
    };
    for (const name of ["marathon", "Marathon", "web.marathon", "marathon.slave", "slave"])
      assert.equal(withoutStoppedTask(current, other(name), stopped(app1), [app2], cfg, {}), undefined, name);
    for (const name of ["marathon2", "marathon.web", "", "---"])
      assert.notEqual(withoutStoppedTask(current, other(name), stopped(app1), [app2], cfg, {}), undefined, name);
  });

  it("only tasks with one of its task labels count: other apps are not generated; over 100 of them, the reload removes it", () => {
    const others = Array.from({ length: 1000 }, (_, i) => v0(`x.${i}`, `x${i}`, 32000 + (i % 1000)));
    const current = records(stateWith(app1, app2, ...others));
    const next = withoutStoppedTask(current, stateBasis(stateWith()), stopped(app1), [app2, ...others], cfg, {})!;
    assert.deepEqual(lines(next), lines(withoutStoppedTask(current, stateBasis(stateWith()), stopped(app1), [app2], cfg, {})!));
    assert.deepEqual(next.a.get("app.marathon.mesos."), ["10.0.0.5"]);
    // A task named otherwise whose discovery name is the app's gives the app's names too: it counts.
    const alias = { ...v0("z.1", "zzz", 31005), discovery: { name: "app", ports: { ports: [] } } };
    const aliased = withoutStoppedTask(records(stateWith(app1, alias)), stateBasis(stateWith()), stopped(app1), [alias], cfg, {})!;
    assert.deepEqual(aliased.a.get("app.marathon.mesos."), ["10.0.0.5"]);
    const instances = (n: number) => Array.from({ length: n }, (_, i) => v0(`app.${i + 10}`, "app", 33000 + i));
    const many = records(stateWith(app1, ...instances(MAX_NAME_SIBLINGS + 1)));
    assert.equal(withoutStoppedTask(many, stateBasis(stateWith()), stopped(app1), instances(MAX_NAME_SIBLINGS + 1), cfg, {}), undefined);
    assert.notEqual(withoutStoppedTask(many, stateBasis(stateWith()), stopped(app1), instances(MAX_NAME_SIBLINGS), cfg, {}), undefined);
  });

  it("withRunningTask of a task already served: the current set itself", () => {
    const current = records(stateWith(app1));
    assert.equal(withRunningTask(current, stateWith(), stopped(app1), cfg, {}), current);
  });
});
