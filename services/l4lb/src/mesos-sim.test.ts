import { strict as assert } from "node:assert";
import { createMemoryHub, eventually } from "@dcnet/core";
import { SimCluster } from "@dcnet/mesos/dist/testing/sim-cluster";
import type { L4lb } from "./service";
import { CLUSTER, RecordingDriver, startL4lb, testConfig } from "./testutil-service";

/**
 * The agent side against the real thing, in one process: mesos-sim (master + Marathon + an agent
 * running real processes) on the in-process bus, an l4lb with `agent.enabled` polling that agent
 * and a second l4lb (a "master") reading the bus. A Marathon app with a VIP label becomes a VIP
 * with the task's agentIp:hostPort on both.
 */
describe("l4lb with mesos-sim: Marathon app → agent poller → bus → every node", function () {
  this.timeout(60_000);
  let cluster: SimCluster;
  let onAgent: L4lb;
  let onMaster: L4lb;
  const agentDriver = new RecordingDriver();
  const masterDriver = new RecordingDriver();

  const marathon = (path: string, init?: RequestInit) => cluster.marathon(path, init);

  before(async () => {
    cluster = new SimCluster({ hub: createMemoryHub(), cluster: CLUSTER });
    const m = await cluster.master(1);
    const a = await cluster.agent(1, 22700);
    await eventually(() => assert.ok(m.master!.isLeader()));
    onAgent = await startL4lb(
      cluster.hub,
      testConfig({ node: { id: "a1" }, agent: { enabled: true, url: `127.0.0.1:${a.agent!.port()}`, pollIntervalMs: 200 } }),
      { driver: agentDriver },
    );
    onMaster = await startL4lb(cluster.hub, testConfig({ node: { id: "m1" } }), { driver: masterDriver });
  });
  after(async () => {
    await onMaster?.lifecycle.stop();
    await onAgent?.lifecycle.stop();
    await cluster?.stop();
  });

  it('portDefinitions [{port: 0, labels: {VIP_0: "/web:80"}}] → the VIP web.marathon with the tasks\' agentIp:hostPort', async () => {
    const res = await marathon("/v2/apps", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        id: "/web",
        cmd: `node -e "setInterval(()=>{},1000)"`,
        instances: 2,
        cpus: 0.1,
        mem: 16,
        portDefinitions: [{ port: 0, labels: { VIP_0: "/web:80" } }],
      }),
    });
    assert.equal(res.status, 201, await res.clone().text());
    const tasks = async (): Promise<{ host: string; ports: number[] }[]> =>
      ((await (await marathon("/v2/apps/web/tasks")).json()) as { tasks: { host: string; ports: number[]; state: string }[] }).tasks.filter(
        (t) => t.state === "TASK_RUNNING",
      );
    const running = await eventually(async () => {
      const t = await tasks();
      assert.equal(t.length, 2);
      return t;
    }, 20_000);
    const expected = running.map((t) => `127.0.0.1:${t.ports[0]}`).sort();
    for (const [svc, driver] of [
      [onAgent, agentDriver],
      [onMaster, masterDriver],
    ] as const) {
      await eventually(() => {
        const v = svc.snapshot().vips.find((x) => x.id === "tcp/name:web.marathon/80");
        assert.ok(v, "the VIP is there");
        assert.equal(v.dnsName, "web.marathon.l4lb.thisdcos.directory");
        assert.deepEqual(v.backends.map((b) => `${b.ip}:${b.port}`).sort(), expected);
        assert.ok(v.backends.every((b) => b.agentIp === "127.0.0.1" && b.weight === 1));
        assert.equal(v.addresses.length, 1);
        const entry = driver.entry(v.addresses[0]!, 80);
        assert.deepEqual(entry?.backends.map((b) => `${b.ip}:${b.port}`).sort(), expected);
      }, 20_000);
    }
    assert.equal(onAgent.agentIp(), "127.0.0.1");
    assert.equal(onAgent.snapshot().vips[0]!.addresses[0], onMaster.snapshot().vips[0]!.addresses[0], "the same address on both nodes");
  });

  it("a bad VIP label is reported (API) and does not stop the app's good VIP", async () => {
    const res = await marathon("/v2/apps", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        id: "/mixed",
        cmd: `node -e "setInterval(()=>{},1000)"`,
        instances: 1,
        cpus: 0.1,
        mem: 16,
        portDefinitions: [
          { port: 0, labels: { VIP_0: "mixed:8080" } },
          { port: 0, labels: { VIP_1: "nonsense" } },
        ],
      }),
    });
    assert.equal(res.status, 201, await res.clone().text());
    await eventually(() => {
      const s = onMaster.snapshot();
      assert.ok(s.vips.some((v) => v.id === "tcp/name:mixed.marathon/8080"));
      const p = s.problems.find((x) => x.app === "mixed");
      assert.ok(p);
      assert.equal(p.label, "VIP_1");
      assert.equal(p.value, "nonsense");
      assert.match(p.reason, /has no port/);
    }, 20_000);
  });

  it("deleting the apps removes their VIPs everywhere", async () => {
    for (const app of ["web", "mixed"]) {
      const res = await marathon(`/v2/apps/${app}`, { method: "DELETE" });
      assert.ok(res.ok, await res.clone().text());
    }
    for (const svc of [onAgent, onMaster]) await eventually(() => assert.deepEqual(svc.snapshot().vips, []), 20_000);
  });
});
