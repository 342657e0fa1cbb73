import { strict as assert } from "node:assert";
import * as grpc from "@grpc/grpc-js";
import { connectBus, createMemoryHub, eventually, unary, type KvStore, type MemoryHub } from "@dcnet/core";
import { l4lbv1 } from "@dcnet/proto";
import { inRange, vipRange } from "./allocate";
import type { CompatVip } from "./http-api";
import { L4LB_BUCKET } from "./publisher";
import type { L4lb, L4lbSnapshot } from "./service";
import { vipKeys } from "./vip-claims";
import { CLUSTER, FakeAgent, RecordingDriver, quiet, startL4lb, testConfig } from "./testutil-service";

const WEB = "tcp/name:web.marathon/80";
const IPVIP = "tcp/ip:172.16.0.1/80";
const DNS_UDP = "udp/ip:172.16.0.2/53";

describe("l4lb service (in-process bus, fake agents, recording data plane)", function () {
  this.timeout(20_000);
  let hub: MemoryHub;
  let a1: FakeAgent;
  let a2: FakeAgent;
  let driver: RecordingDriver;
  let svc: L4lb;
  let kv: KvStore;

  const http = async <T>(path: string, init?: RequestInit): Promise<{ status: number; body: T; etag: string | null }> => {
    const r = await fetch(`http://127.0.0.1:${svc.ports().http}${path}`, init);
    const text = await r.text();
    return { status: r.status, body: (text ? JSON.parse(text) : undefined) as T, etag: r.headers.get("etag") };
  };
  const webAddress = (s: L4lbSnapshot = svc.snapshot()): string => s.vips.find((v) => v.id === WEB)!.addresses[0]!;

  before(async () => {
    hub = createMemoryHub();
    a1 = await new FakeAgent(hub, "10.0.0.1").start();
    a2 = await new FakeAgent(hub, "10.0.0.2").start();
    driver = new RecordingDriver();
    svc = await startL4lb(hub, testConfig({ node: { id: "n1" }, reconcileIntervalMs: 200, releaseGraceMs: 600 }), { driver });
    const bus = await connectBus({
      cluster: CLUSTER,
      bus: { kind: "memory", servers: [], replicas: 1, heartbeatMs: 100, missedBeats: 3, forgetAfterMs: 86_400_000, connectTimeoutMs: 0 },
      nodeId: "observer",
      logger: quiet(),
      hub,
    });
    kv = await bus.kv(L4LB_BUCKET);
  });
  after(async () => {
    await svc?.lifecycle.stop();
    await a1?.stop();
    await a2?.stop();
  });

  it("a VIP appears with the backends of every agent; a named VIP gets a claimed address in 11.0.0.0/8", async () => {
    await a1.publish([
      [WEB, [["10.0.0.1", 31000, 1]]],
      [IPVIP, [["10.0.0.1", 31001, 1]]],
    ]);
    await a2.publish([
      [WEB, [["10.0.0.2", 31000, 1]]],
      [DNS_UDP, [["10.0.0.2", 5353, 1]]],
    ]);
    await eventually(() => {
      const s = svc.snapshot();
      assert.deepEqual(
        s.vips.map((v) => v.id),
        [IPVIP, WEB, DNS_UDP],
      );
      assert.equal(s.vips.find((v) => v.id === WEB)!.addresses.length, 1);
    });
    const ip = webAddress();
    assert.ok(inRange(vipRange(4), ip), ip);
    await eventually(() => {
      assert.deepEqual(driver.entry(ip, 80)?.backends, [
        { ip: "10.0.0.1", port: 31000, weight: 1 },
        { ip: "10.0.0.2", port: 31000, weight: 1 },
      ]);
      assert.deepEqual(driver.entry("172.16.0.1", 80)?.backends, [{ ip: "10.0.0.1", port: 31001, weight: 1 }]);
      assert.deepEqual(driver.entry("172.16.0.2", 53, "udp")?.backends, [{ ip: "10.0.0.2", port: 5353, weight: 1 }]);
    });
    assert.equal(Buffer.from((await kv.get(vipKeys.name("web.marathon", 4)))!.value).toString(), ip);
    const web = svc.snapshot().vips.find((v) => v.id === WEB)!;
    assert.equal(web.dnsName, "web.marathon.l4lb.thisdcos.directory");
    assert.equal(web.vip, "web.marathon.l4lb.thisdcos.directory:80");
  });

  it("weight 0 (health pending/failing, killing) reaches the data plane as a drained backend", async () => {
    await a2.publish([
      [WEB, [["10.0.0.2", 31000, 0]]],
      [DNS_UDP, [["10.0.0.2", 5353, 1]]],
    ]);
    const ip = webAddress();
    await eventually(() =>
      assert.deepEqual(driver.entry(ip, 80)?.backends, [
        { ip: "10.0.0.1", port: 31000, weight: 1 },
        { ip: "10.0.0.2", port: 31000, weight: 0 },
      ]),
    );
    await a2.publish([
      [WEB, [["10.0.0.2", 31000, 1]]],
      [DNS_UDP, [["10.0.0.2", 5353, 1]]],
    ]);
    await eventually(() => assert.equal(driver.entry(ip, 80)?.backends[1]?.weight, 1));
  });

  it("GET /v1/vips: dcos-net's shape, with an ETag; /v1/vips/detail: weights, reachability, addresses, problems", async () => {
    const r = await http<CompatVip[]>("/v1/vips");
    assert.equal(r.status, 200);
    const ip = webAddress();
    assert.deepEqual(r.body, [
      { vip: "172.16.0.1:80", protocol: "tcp", backend: [{ ip: "10.0.0.1", port: 31001 }] },
      {
        vip: "web.marathon.l4lb.thisdcos.directory:80",
        protocol: "tcp",
        backend: [
          { ip: "10.0.0.1", port: 31000 },
          { ip: "10.0.0.2", port: 31000 },
        ],
      },
      { vip: "172.16.0.2:53", protocol: "udp", backend: [{ ip: "10.0.0.2", port: 5353 }] },
    ]);
    assert.ok(r.etag);
    const again = await fetch(`http://127.0.0.1:${svc.ports().http}/v1/vips`, { headers: { "if-none-match": r.etag } });
    assert.equal(again.status, 304);
    const d = await http<L4lbSnapshot>("/v1/vips/detail");
    const web = d.body.vips.find((v) => v.id === WEB)!;
    assert.deepEqual(web.addresses, [ip]);
    assert.deepEqual(
      web.backends.map((b) => [b.ip, b.port, b.weight, b.agentIp, b.reachable, b.inUse]),
      [
        ["10.0.0.1", 31000, 1, "10.0.0.1", true, true],
        ["10.0.0.2", 31000, 1, "10.0.0.2", true, true],
      ],
    );
    assert.equal(d.body.dataplane.mode, "userspace");
    assert.deepEqual((await http<unknown>("/v1/vips?detail")).body, d.body);
    assert.equal((await http<{ error: string }>("/v1/vips", { method: "POST" })).status, 405);
    const metrics = await (await fetch(`http://127.0.0.1:${svc.ports().http}/metrics`)).text();
    assert.match(metrics, /^l4lb_vips 3$/m);
    assert.match(metrics, /^l4lb_backends 4$/m);
  });

  it("label problems an agent publishes are visible in the API", async () => {
    const problem = {
      taskId: "t9",
      app: "bad",
      framework: "marathon",
      label: "VIP_0",
      value: "foo",
      reason: 'VIP_0 value "foo" has no port',
    };
    await a1.publish(
      [
        [WEB, [["10.0.0.1", 31000, 1]]],
        [IPVIP, [["10.0.0.1", 31001, 1]]],
      ],
      [problem],
    );
    await eventually(() => assert.deepEqual(svc.snapshot().problems, [{ agentIp: "10.0.0.1", ...problem }]));
    const d = await http<L4lbSnapshot>("/v1/vips/detail");
    assert.equal(d.body.problems[0]?.reason, problem.reason);
  });

  it("gRPC: ListVips, GetVip by id and by address, WatchVips (snapshot, then changes)", async () => {
    const client = new l4lbv1.L4lbServiceClient(`127.0.0.1:${svc.ports().grpc}`, grpc.credentials.createInsecure());
    try {
      const list = await unary(client.listVips.bind(client), {});
      assert.deepEqual(
        list.vips.map((v) => v.id),
        [IPVIP, WEB, DNS_UDP],
      );
      assert.equal(list.problems.length, 1);
      // The data plane as /v1/vips/detail shows it (this test's driver has no socket LB).
      const dp = svc.snapshot().dataplane;
      assert.ok(dp.entries > 0);
      assert.deepEqual(list.dataplane, { mode: dp.mode, entries: dp.entries, lastError: "", warnings: dp.warnings, socketLb: undefined });
      const ip = webAddress();
      for (const q of [WEB, "web.marathon.l4lb.thisdcos.directory:80", `${ip}:80`, "web.marathon:80"]) {
        const got = await unary(client.getVip.bind(client), { vip: q, protocol: "" });
        assert.equal(got.vip?.id, WEB, q);
        assert.equal(got.vip?.backends.length, 2);
      }
      await assert.rejects(unary(client.getVip.bind(client), { vip: "nope:1", protocol: "" }), (e: { code: number }) => e.code === 5);
      await assert.rejects(unary(client.getVip.bind(client), { vip: "", protocol: "" }), (e: { code: number }) => e.code === 3);

      const events: l4lbv1.WatchVipsResponse[] = [];
      const stream = client.watchVips({});
      stream.on("data", (m: l4lbv1.WatchVipsResponse) => events.push(m));
      stream.on("error", () => undefined);
      await eventually(() => assert.ok(events.some((e) => e.synced)));
      assert.deepEqual(
        events.filter((e) => e.vip).map((e) => e.vip!.id),
        [IPVIP, WEB, DNS_UDP],
      );
      await a2.publish([[WEB, [["10.0.0.2", 31000, 1]]]]);
      await eventually(() => assert.ok(events.some((e) => e.removed === DNS_UDP)));
      stream.cancel();
    } finally {
      client.close();
    }
  });

  it("an agent that stops heartbeating is filtered out within the membership timeout; fail-open when it is the only one", async () => {
    const a3 = await new FakeAgent(hub, "10.0.0.3").start();
    await a3.publish([
      [WEB, [["10.0.0.3", 31000, 1]]],
      ["tcp/name:solo.marathon/80", [["10.0.0.3", 31005, 1]]],
    ]);
    const ip = webAddress();
    await eventually(() => assert.equal(driver.entry(ip, 80)?.backends.length, 3));
    const killedAt = Date.now();
    await a3.kill();
    await eventually(() => {
      assert.deepEqual(
        driver.entry(ip, 80)?.backends.map((b) => b.ip),
        ["10.0.0.1", "10.0.0.2"],
      );
    }, 5000);
    const took = Date.now() - killedAt;
    assert.ok(took < 2000, `filtered after ${took} ms (heartbeat 100 ms × 3)`);
    const s = svc.snapshot();
    assert.deepEqual(s.unreachableAgents, ["10.0.0.3"]);
    const solo = s.vips.find((v) => v.id === "tcp/name:solo.marathon/80")!;
    assert.equal(solo.failedOpen, true);
    assert.equal(driver.entry(solo.addresses[0]!, 80)?.backends.length, 1, "fail-open: the only backend is kept");
    const web = s.vips.find((v) => v.id === WEB)!;
    assert.deepEqual(
      web.backends.filter((b) => !b.inUse).map((b) => b.agentIp),
      ["10.0.0.3"],
    );
    // The document of a dead agent is not ours to delete; it goes when it comes back and republishes.
    await kv.delete("backends.10_0_0_3");
    await a3.stop();
    await eventually(() => assert.equal(driver.entry(ip, 80)?.backends.length, 2));
  });

  it("a VIP whose backend set is empty cluster-wide is gone; its named address is released after the grace period", async () => {
    await a1.publish([[IPVIP, [["10.0.0.1", 31001, 1]]]]);
    await a2.unpublish();
    await eventually(() =>
      assert.equal(
        svc.snapshot().vips.find((v) => v.id === WEB),
        undefined,
      ),
    );
    assert.ok(!driver.applied.some((v) => v.port === 80 && v.ip.startsWith("11.")));
    assert.ok(await kv.get(vipKeys.name("web.marathon", 4)), "kept during the grace period");
    await eventually(async () => assert.equal(await kv.get(vipKeys.name("web.marathon", 4)), undefined), 5000);
  });

  it("a data plane failure is retried", async () => {
    driver.fail = new Error("boom");
    await a1.publish([[IPVIP, [["10.0.0.1", 31002, 1]]]]);
    await eventually(() => assert.equal(svc.snapshot().dataplane.lastError, "boom"));
    driver.fail = undefined;
    await eventually(() => {
      assert.equal(svc.snapshot().dataplane.lastError, undefined);
      assert.equal(driver.entry("172.16.0.1", 80)?.backends[0]?.port, 31002);
    }, 5000);
  });
});

describe("l4lb named VIP addresses across nodes", function () {
  this.timeout(20_000);
  it("two nodes claim and use the same address for a name; the claim keys are the contract dcos-dns reads", async () => {
    const hub = createMemoryHub();
    const agent = await new FakeAgent(hub, "10.0.1.1").start();
    const d1 = new RecordingDriver();
    const d2 = new RecordingDriver();
    const n1 = await startL4lb(hub, testConfig({ node: { id: "m1" } }), { driver: d1 });
    const n2 = await startL4lb(hub, testConfig({ node: { id: "m2" } }), { driver: d2 });
    try {
      const names = Array.from({ length: 12 }, (_, i) => `app${i}`);
      await agent.publish(names.map((n): [string, [string, number, number][]] => [`tcp/name:${n}.marathon/80`, [["10.0.1.1", 31000, 1]]]));
      const addressesOf = (svc: L4lb) => Object.fromEntries(svc.snapshot().vips.map((v) => [v.id, v.addresses[0]]));
      await eventually(() => {
        const a = addressesOf(n1);
        assert.equal(Object.values(a).filter(Boolean).length, 12);
        assert.deepEqual(addressesOf(n2), a);
      });
      const a = addressesOf(n1);
      assert.equal(new Set(Object.values(a)).size, 12, "distinct addresses");
      await eventually(() => {
        for (const ip of Object.values(a)) {
          assert.ok(d1.entry(ip!, 80));
          assert.ok(d2.entry(ip!, 80));
        }
      });
      const bus = await connectBus({
        cluster: CLUSTER,
        bus: { kind: "memory", servers: [], replicas: 1, heartbeatMs: 100, missedBeats: 3, forgetAfterMs: 86_400_000, connectTimeoutMs: 0 },
        nodeId: "observer",
        logger: quiet(),
        hub,
      });
      const kv = await bus.kv(L4LB_BUCKET);
      for (const n of names) {
        const ip = a[`tcp/name:${n}.marathon/80`]!;
        assert.equal(Buffer.from((await kv.get(vipKeys.name(`${n}.marathon`, 4)))!.value).toString(), ip);
        assert.equal(Buffer.from((await kv.get(vipKeys.ip(ip)))!.value).toString(), `${n}.marathon`);
      }
      await bus.close();
    } finally {
      await n1.lifecycle.stop();
      await n2.lifecycle.stop();
      await agent.stop();
    }
  });
});
