import { strict as assert } from "node:assert";
import {
  connectBus,
  createMemoryHub,
  createRegistry,
  eventually,
  type Bus,
  type KvStore,
  type MemoryHub,
  type Registry,
} from "@dcnet/core";
import { DeadAgentGc } from "./dead-agent-gc";
import { backendsKey, L4LB_BUCKET } from "./publisher";
import type { L4lb } from "./service";
import { CLUSTER, FakeAgent, RecordingDriver, quiet, startL4lb, testConfig } from "./testutil-service";

const doc = (agentIp: string): Uint8Array =>
  Buffer.from(
    JSON.stringify({
      v: 1,
      agentIp,
      vips: [
        {
          key: { protocol: "tcp", vip: { kind: "ip", ip: "172.16.0.1" }, port: 80 },
          id: "tcp/ip:172.16.0.1/80",
          backends: [{ ip: agentIp, port: 31000, weight: 1, taskId: "t", agentIp }],
        },
      ],
      problems: [],
      updatedMs: 1,
    }),
  );

describe("dead agents' backends documents (DeadAgentGc on the in-process bus)", () => {
  let hub: MemoryHub;
  let bus: Bus;
  let kv: KvStore;
  let now = 0;
  const gcWith = (store: KvStore, afterMs = 1000) => new DeadAgentGc({ kv: store, afterMs, logger: quiet(), now: () => now });
  const inputs = (unreachable: string[], over: Partial<Parameters<DeadAgentGc["sweep"]>[0]> = {}) => ({
    unreachable: new Set(unreachable),
    known: new Set(["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"]),
    agents: ["10.0.0.1", "10.0.0.2", "10.0.0.3"],
    self: "10.0.0.1",
    ...over,
  });

  beforeEach(async () => {
    now = 0;
    hub = createMemoryHub();
    bus = await connectBus({
      cluster: CLUSTER,
      bus: { kind: "memory", servers: [], replicas: 1, heartbeatMs: 100, missedBeats: 3, forgetAfterMs: 86_400_000, connectTimeoutMs: 0 },
      nodeId: "gc-test",
      logger: quiet(),
      hub,
    });
    kv = await bus.kv(L4LB_BUCKET);
    for (const ip of ["10.0.0.1", "10.0.0.2", "10.0.0.3"]) await kv.put(backendsKey(ip), doc(ip));
  });
  afterEach(async () => bus.close());

  it("deletes only after the agent has been unreachable for afterMs without a break", async () => {
    const gc = gcWith(kv);
    assert.deepEqual(await gc.sweep(inputs(["10.0.0.2"])), []);
    now = 999;
    assert.deepEqual(await gc.sweep(inputs(["10.0.0.2"])), []);
    assert.ok(await kv.get(backendsKey("10.0.0.2")));
    now = 1000;
    assert.deepEqual(await gc.sweep(inputs(["10.0.0.2"])), ["10.0.0.2"]);
    assert.equal(await kv.get(backendsKey("10.0.0.2")), undefined);
    assert.ok(await kv.get(backendsKey("10.0.0.3")), "a live agent's document stays");
  });

  it("an agent that came back in between starts over", async () => {
    const gc = gcWith(kv);
    await gc.sweep(inputs(["10.0.0.2"]));
    now = 800;
    gc.observe(new Set()); // back
    now = 900;
    gc.observe(new Set(["10.0.0.2"])); // gone again
    now = 1500;
    assert.deepEqual(await gc.sweep(inputs(["10.0.0.2"])), []);
    now = 1900;
    assert.deepEqual(await gc.sweep(inputs(["10.0.0.2"])), ["10.0.0.2"]);
  });

  it("compare-and-delete: a document rewritten after it was read (the agent is back) is kept", async () => {
    // A store whose get is followed by the agent republishing before the delete.
    const racing: KvStore = {
      ...kv,
      bucket: kv.bucket,
      get: async (key) => {
        const e = await kv.get(key);
        await kv.put(key, doc("10.0.0.2"));
        return e;
      },
      delete: (key, rev) => kv.delete(key, rev),
    };
    const gc = gcWith(racing);
    await gc.sweep(inputs(["10.0.0.2"]));
    now = 5000;
    assert.deepEqual(await gc.sweep(inputs(["10.0.0.2"])), []);
    assert.ok(await kv.get(backendsKey("10.0.0.2")));
  });

  it("never this node's own document; nothing while most of the cluster looks unreachable; never with afterMs 0", async () => {
    const gc = gcWith(kv);
    await gc.sweep(inputs(["10.0.0.1"]));
    now = 5000;
    assert.deepEqual(await gc.sweep(inputs(["10.0.0.1"])), [], "self");
    const cut = gcWith(kv);
    await cut.sweep(inputs(["10.0.0.2", "10.0.0.3", "10.0.0.4"]));
    now = 10_000;
    assert.deepEqual(await cut.sweep(inputs(["10.0.0.2", "10.0.0.3", "10.0.0.4"])), [], "3 of 4 unreachable: this node is likely cut off");
    const off = gcWith(kv, 0);
    await off.sweep(inputs(["10.0.0.2"]));
    now = 1e9;
    assert.deepEqual(await off.sweep(inputs(["10.0.0.2"])), []);
    for (const ip of ["10.0.0.1", "10.0.0.2", "10.0.0.3"]) assert.ok(await kv.get(backendsKey(ip)), ip);
  });
});

describe("dead agents' backends documents: members long dead do not count as 'most of the cluster'", () => {
  it("6 replaced nodes unreachable for long, 4 live: a newly dead agent is still collected; a broken view (nobody else reachable) is not", async () => {
    const hub = createMemoryHub();
    const bus = await connectBus({
      cluster: CLUSTER,
      bus: { kind: "memory", servers: [], replicas: 1, heartbeatMs: 100, missedBeats: 3, forgetAfterMs: 86_400_000, connectTimeoutMs: 0 },
      nodeId: "gc-test-2",
      logger: quiet(),
      hub,
    });
    try {
      const kv = await bus.kv(L4LB_BUCKET);
      for (const ip of ["10.0.0.1", "10.0.0.2", "10.0.0.3"]) await kv.put(backendsKey(ip), doc(ip));
      let now = 0;
      const gc = new DeadAgentGc({ kv, afterMs: 1000, logger: quiet(), now: () => now });
      const replaced = ["10.0.1.1", "10.0.1.2", "10.0.1.3", "10.0.1.4", "10.0.1.5", "10.0.1.6"];
      const live = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"];
      const at = (unreachable: string[], known = [...live, ...replaced]) => ({
        unreachable: new Set(unreachable),
        known: new Set(known),
        agents: ["10.0.0.1", "10.0.0.2", "10.0.0.3"],
        self: "10.0.0.1",
      });
      await gc.sweep(at(replaced));
      now = 5000;
      assert.deepEqual(await gc.sweep(at([...replaced, "10.0.0.3"])), [], "10.0.0.3 only just died");
      now = 6000;
      // 7 of 10 members unreachable, but 6 of them for long: 1 recent of 4 live.
      assert.deepEqual(await gc.sweep(at([...replaced, "10.0.0.3"])), ["10.0.0.3"]);
      assert.equal(await kv.get(backendsKey("10.0.0.3")), undefined);
      // This node's own view broken: every other member unreachable, long enough: nothing goes.
      now = 20_000;
      assert.deepEqual(await gc.sweep(at([...replaced, "10.0.0.2", "10.0.0.3", "10.0.0.4"])), []);
      now = 30_000;
      assert.deepEqual(await gc.sweep(at([...replaced, "10.0.0.2", "10.0.0.3", "10.0.0.4"])), []);
      assert.ok(await kv.get(backendsKey("10.0.0.2")));
    } finally {
      await bus.close();
    }
  });
});

describe("l4lb service: a permanently dead agent's VIPs are released (dead_agent_gc_ms)", function () {
  this.timeout(20_000);
  let hub: MemoryHub;
  const running: { stop(): Promise<void> }[] = [];
  afterEach(async () => {
    for (const r of running.splice(0).reverse()) await r.stop();
  });

  it("its document is removed after the time; its only-backend VIP (kept by fail-open) goes; the live agent's stays", async () => {
    hub = createMemoryHub();
    const a1 = await new FakeAgent(hub, "10.0.0.1").start();
    const a2 = await new FakeAgent(hub, "10.0.0.2").start();
    const a3 = await new FakeAgent(hub, "10.0.0.3").start();
    running.push(a1, a2, a3);
    const registry: Registry = createRegistry({ defaultMetrics: false });
    const svc: L4lb = await startL4lb(hub, testConfig({ node: { id: "n1" }, reconcileIntervalMs: 100, deadAgentGcMs: 1500 }), {
      driver: new RecordingDriver(),
      registry,
    });
    running.push({ stop: () => svc.lifecycle.stop() });
    await a1.publish([["tcp/name:web.marathon/80", [["10.0.0.1", 31000, 1]]]]);
    await a2.publish([
      ["tcp/name:web.marathon/80", [["10.0.0.2", 31000, 1]]],
      ["tcp/name:solo.marathon/80", [["10.0.0.2", 31001, 1]]],
    ]);
    await eventually(() => assert.equal(svc.snapshot().vips.length, 2));
    const observer = await connectBus({
      cluster: CLUSTER,
      bus: { kind: "memory", servers: [], replicas: 1, heartbeatMs: 100, missedBeats: 3, forgetAfterMs: 86_400_000, connectTimeoutMs: 0 },
      nodeId: "observer",
      logger: quiet(),
      hub,
    });
    running.push({ stop: () => observer.close() });
    const kv = await observer.kv(L4LB_BUCKET);
    await a2.kill();
    const killedAt = Date.now();
    await eventually(() => assert.deepEqual(svc.snapshot().unreachableAgents, ["10.0.0.2"]), 5000);
    // Fail-open keeps solo's only backend meanwhile; the document is still there.
    assert.equal(svc.snapshot().vips.find((v) => v.id === "tcp/name:solo.marathon/80")?.failedOpen, true);
    assert.ok(await kv.get(backendsKey("10.0.0.2")));
    await eventually(async () => assert.equal(await kv.get(backendsKey("10.0.0.2")), undefined), 10_000);
    assert.ok(Date.now() - killedAt >= 1500, "not before dead_agent_gc_ms");
    await eventually(() =>
      assert.deepEqual(
        svc.snapshot().vips.map((v) => [v.id, v.backends.map((b) => b.agentIp)]),
        [["tcp/name:web.marathon/80", ["10.0.0.1"]]],
      ),
    );
    assert.ok(await kv.get(backendsKey("10.0.0.1")), "the live agent's document stays");
    const m = await registry.getSingleMetric("l4lb_dead_agent_documents_removed_total")?.get();
    assert.equal(m?.values[0]?.value, 1);
  });
});
