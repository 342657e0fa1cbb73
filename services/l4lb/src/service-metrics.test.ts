import { strict as assert } from "node:assert";
import * as net from "node:net";
import { createMemoryHub, createRegistry, eventually, type MemoryHub, type Registry } from "@dcnet/core";
import type { L4lb } from "./service";
import { FakeAgent, RecordingDriver, startL4lb, testConfig } from "./testutil-service";

/** The value of a metric (labels matched exactly as given; for a histogram, its `_count`). */
async function value(registry: Registry, name: string, labels: Record<string, string> = {}, suffix = ""): Promise<number | undefined> {
  const m = await registry.getSingleMetric(name)?.get();
  const want = `${name}${suffix}`;
  return m?.values.find(
    (v) =>
      ((v as { metricName?: string }).metricName ?? name) === want &&
      Object.entries(labels).every(([k, x]) => String(v.labels[k]) === x) &&
      Object.keys(v.labels).filter((k) => k !== "le").length === Object.keys(labels).length,
  )?.value;
}

describe("l4lb service metrics", function () {
  this.timeout(20_000);
  const running: { stop(): Promise<void> }[] = [];
  let hub: MemoryHub;
  beforeEach(() => {
    hub = createMemoryHub();
  });
  afterEach(async () => {
    for (const r of running.splice(0).reverse()) await r.stop();
  });
  const start = async (over: Record<string, unknown>, driver?: RecordingDriver): Promise<{ svc: L4lb; registry: Registry }> => {
    const registry = createRegistry({ defaultMetrics: false });
    const svc = await startL4lb(hub, testConfig({ node: { id: "n1" }, reconcileIntervalMs: 3_600_000, ...over }), {
      registry,
      ...(driver ? { driver } : {}),
    });
    running.push({ stop: () => svc.lifecycle.stop() });
    return { svc, registry };
  };
  const agent = async (ip: string): Promise<FakeAgent> => {
    const a = await new FakeAgent(hub, ip).start();
    running.push(a);
    return a;
  };

  it("every reconcile round is counted by outcome and timed (clean, repaired, failed)", async () => {
    const driver = new RecordingDriver();
    const { svc, registry } = await start({}, driver);
    await svc.reconcile();
    driver.reconcileResult = 3;
    await svc.reconcile();
    await svc.reconcile();
    driver.reconcileResult = new Error("nft exploded");
    await svc.reconcile();
    assert.equal(await value(registry, "l4lb_reconcile_rounds_total", { outcome: "clean" }), 1);
    assert.equal(await value(registry, "l4lb_reconcile_rounds_total", { outcome: "repaired" }), 2);
    assert.equal(await value(registry, "l4lb_reconcile_rounds_total", { outcome: "failed" }), 1);
    assert.equal(await value(registry, "l4lb_reconcile_duration_seconds", { outcome: "clean" }, "_count"), 1);
    assert.equal(await value(registry, "l4lb_reconcile_duration_seconds", { outcome: "repaired" }, "_count"), 2);
    assert.equal(await value(registry, "l4lb_reconcile_duration_seconds", { outcome: "failed" }, "_count"), 1);
    assert.equal(await value(registry, "l4lb_reconciled_total", { mode: "userspace" }), 6);
    assert.equal(await value(registry, "l4lb_dataplane_errors_total", { op: "reconcile" }), 1);
  });

  it("l4lb_unreachable_{nodes,vips,backends} and l4lb_failed_open_vips follow an agent's death", async () => {
    const a1 = await agent("10.0.0.1");
    const a2 = await agent("10.0.0.2");
    const driver = new RecordingDriver();
    const { svc, registry } = await start({}, driver);
    await a1.publish([["tcp/name:web.marathon/80", [["10.0.0.1", 31000, 1]]]]);
    await a2.publish([
      ["tcp/name:web.marathon/80", [["10.0.0.2", 31000, 1]]],
      ["tcp/ip:172.16.0.1/80", [["10.0.0.2", 31001, 1]]],
      ["tcp/ip:172.16.0.2/80", [["10.0.0.2", 31002, 1]]],
    ]);
    await eventually(() => assert.equal(svc.snapshot().vips.length, 3));
    await svc.sync();
    for (const m of ["l4lb_unreachable_nodes", "l4lb_unreachable_vips", "l4lb_unreachable_backends", "l4lb_failed_open_vips"])
      assert.equal(await value(registry, m), 0, m);
    await a2.kill();
    await eventually(async () => assert.equal(await value(registry, "l4lb_unreachable_nodes"), 1), 5000);
    await eventually(async () => {
      // web: one of two backends dropped; the two IP VIPs have only 10.0.0.2: kept (fail-open).
      assert.equal(await value(registry, "l4lb_unreachable_vips"), 3);
      assert.equal(await value(registry, "l4lb_unreachable_backends"), 1);
      assert.equal(await value(registry, "l4lb_failed_open_vips"), 2);
    }, 5000);
  });

  it("the userspace proxy's stats() are on /metrics (listeners, TCP events, open connections)", async () => {
    const backend = net.createServer((s) => s.end("hi"));
    await new Promise<void>((ok) => backend.listen(0, "127.0.0.1", ok));
    running.push({ stop: () => new Promise<void>((ok) => backend.close(() => ok())) });
    const port = (backend.address() as net.AddressInfo).port;
    const a1 = await agent("127.0.0.1");
    // The embedded mode's setup: named VIPs from 127/8, which every Linux host holds.
    const { svc, registry } = await start({ mode: "userspace", namedIpv4Range: { min: "127.77.0.0", max: "127.77.255.255" } });
    await a1.publish([["tcp/name:echo.marathon/18080", [["127.0.0.1", port, 1]]]]);
    const ip = await eventually(() => {
      const v = svc.snapshot().vips[0];
      assert.ok(v?.addresses[0]);
      return v.addresses[0];
    });
    await eventually(async () => assert.equal(await value(registry, "l4lb_userspace_listeners"), 1));
    assert.equal(await value(registry, "l4lb_userspace_unbound"), 0);
    const got = await new Promise<string>((ok, fail) => {
      const c = net.connect(18080, ip);
      let text = "";
      c.on("data", (d) => (text += d.toString()));
      c.on("end", () => ok(text));
      c.on("error", fail);
    });
    assert.equal(got, "hi");
    await eventually(async () => assert.equal(await value(registry, "l4lb_userspace_tcp_events_total", { event: "accepted" }), 1));
    assert.equal(await value(registry, "l4lb_userspace_tcp_events_total", { event: "rejected" }), 0);
    assert.equal(await value(registry, "l4lb_userspace_udp_sessions"), 0);
    const text = await (await fetch(`http://127.0.0.1:${svc.ports().http}/metrics`)).text();
    assert.match(text, /l4lb_userspace_tcp_events_total\{event="accepted"\} 1/);
  });
});
