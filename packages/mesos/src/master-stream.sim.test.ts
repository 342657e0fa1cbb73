import { strict as assert } from "node:assert";
import { eventually } from "@dcnet/core";
import type { MesosSim } from "@dcnet/mesos-sim";
import { createMasterStream, type MasterStream, type MasterView } from "./master-stream";
import type { NormalTask } from "./task";
import { SimCluster, simLogger } from "./testing/sim-cluster";

/** A host-mode Marathon app whose task just sleeps (nothing needs to listen: no health checks). */
const app = (id: string, instances: number) => ({
  id,
  cmd: "sleep 600",
  instances,
  cpus: 0.1,
  mem: 16,
  portDefinitions: [{ port: 0, name: "http", labels: { VIP_0: `${id}:80` } }],
});

describe("createMasterStream against mesos-sim (2 masters, Marathon, 1 agent, real processes)", function () {
  this.timeout(60_000);
  const cluster = new SimCluster();
  let stream: MasterStream;
  let leader: MesosSim;
  let follower: MesosSim;
  const views: { view: MasterView; leader: string; at: number }[] = [];
  let lost = 0;
  const last = (): { view: MasterView; leader: string } => {
    const v = views[views.length - 1];
    assert.ok(v, "a view was published");
    return v;
  };
  const tasksOf = (v: MasterView, name: string): NormalTask[] => [...v.tasks.values()].filter((t) => t.name === name);

  before(async () => {
    await cluster.master(1);
    await cluster.master(2);
    await cluster.agent(1, 23100);
    leader = await cluster.ready();
    follower = cluster.masters().find((m) => m !== leader)!;
    // The follower is listed first: it answers 307, and must not be taken as the stream source.
    stream = createMasterStream({
      masters: [cluster.address(follower), cluster.address(leader)],
      logger: simLogger,
      settleMs: 0,
      retryMinMs: 100,
      retryMaxMs: 500,
    });
    stream.onChange((view, l) => views.push({ view, leader: l, at: Date.now() }));
    stream.onLost(() => lost++);
    stream.start();
  });
  after(async () => {
    await stream?.stop();
    await cluster.stop();
  });

  it("SUBSCRIBED gives the full view, from the leader (the follower's 307 is not accepted)", async () => {
    await eventually(() => assert.ok(views.length > 0), 5000);
    const v = views[0]!;
    assert.equal(v.leader, cluster.address(leader));
    assert.notEqual(v.leader, cluster.address(follower));
    assert.deepEqual([...v.view.agents], [["a1", "127.0.0.1"]]);
    assert.deepEqual([...v.view.frameworks.values()], ["marathon"]);
    assert.equal(stream.live(), true);
  });

  it("deploying an app: onChange with the running tasks within a second of the master's TASK_RUNNING", async () => {
    const runningAt = new Map<string, number>();
    leader.master!.state().on("taskUpdated", (t: { launch: { taskId: string } }, s: { state: string }) => {
      if (s.state === "TASK_RUNNING" && !runningAt.has(t.launch.taskId)) runningAt.set(t.launch.taskId, Date.now());
    });
    await cluster.deploy(app("/demo/sleeper", 2));
    await eventually(() => assert.equal(tasksOf(last().view, "sleeper.demo").filter((t) => t.state === "running").length, 2), 20_000);
    const running = tasksOf(last().view, "sleeper.demo");
    for (const t of running) {
      const seen = views.find((v) => v.view.tasks.get(t.id)?.state === "running")!.at;
      const at = runningAt.get(t.id);
      assert.ok(at !== undefined, "the master reported TASK_RUNNING");
      assert.ok(seen - at < 1000, `published ${seen - at} ms after TASK_RUNNING`);
      assert.equal(t.framework, "marathon");
      assert.equal(t.agentId, "a1");
      assert.equal(t.agentIp, "127.0.0.1");
      assert.deepEqual(t.taskIps, ["127.0.0.1"]);
      assert.equal(t.runtime, "MESOS");
      assert.equal(t.healthy, true);
      assert.equal(t.ports.length, 1);
      const p = t.ports[0]!;
      assert.ok(p.port >= 23100 && p.port < 23200, `host port ${p.port}`);
      assert.deepEqual(p, {
        protocol: "tcp",
        port: p.port,
        hostPort: p.port,
        name: "http",
        vips: [{ key: "VIP_0", value: "/demo/sleeper:80" }],
      });
    }
  });

  it("scaling down removes the killed task; deleting the app removes the rest", async () => {
    await cluster.scale("/demo/sleeper", 1);
    await eventually(() => assert.equal(tasksOf(last().view, "sleeper.demo").length, 1), 20_000);
    await cluster.remove("/demo/sleeper");
    await eventually(() => assert.equal(tasksOf(last().view, "sleeper.demo").length, 0), 20_000);
    assert.equal(lost, 0);
  });

  it("the leading master fails: onLost, then a complete view from the new leader", async () => {
    await cluster.deploy(app("/demo/survivor", 1));
    await eventually(() => assert.equal(tasksOf(last().view, "survivor.demo").filter((t) => t.state === "running").length, 1), 20_000);
    const [task] = tasksOf(last().view, "survivor.demo");
    const before = views.length;
    await cluster.kill(leader);
    await eventually(() => assert.equal(lost, 1), 5000);
    await eventually(() => assert.ok(views.length > before), 15_000);
    const first = views[before]!;
    assert.equal(first.leader, cluster.address(follower), "the other master now leads");
    // Complete at once: agents, frameworks and the surviving task, not a half-built view.
    assert.deepEqual([...first.view.agents], [["a1", "127.0.0.1"]]);
    assert.deepEqual([...first.view.frameworks.values()], ["marathon"]);
    assert.deepEqual(first.view.tasks.get(task!.id), task);
    assert.equal(stream.current()?.leader, cluster.address(follower));
  });
});
