import { strict as assert } from "node:assert";
import type { ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createMemoryHub, createRegistry, eventually } from "@dcnet/core";
import { vipRange } from "./allocate";
import type { DataplaneVip } from "./dataplane";
import { countDifferences, createNftDriver, type NftDriver } from "./driver-nft";
import { createNft } from "./nft-apply";
import { RoutesError } from "./routes";
import { addNetns, connectMany, delNetns, inNs, nftUnavailable, routesIn, sh, startServers } from "./testutil-netns";
import { FakeAgent, quiet, startL4lb, testConfig } from "./testutil-service";

const vip = (ip: string, port: number, backends: [string, number, number][], protocol: "tcp" | "udp" = "tcp"): DataplaneVip => ({
  protocol,
  ip,
  port,
  backends: backends.map(([bip, bport, weight]) => ({ ip: bip, port: bport, weight })),
});

describe("l4lb nft driver (real nft and routes in a network namespace)", function () {
  this.timeout(30_000);
  const ns = `dcnet-l4lb-drv-${process.pid}`;
  let driver: NftDriver;

  before(async function () {
    const why = await nftUnavailable();
    if (why) {
      console.warn(`    l4lb nft driver tests skipped: ${why}`);
      this.skip();
    }
    await addNetns(ns);
    driver = await createNftDriver({
      logger: quiet(),
      netns: ns,
      reconcileIntervalMs: 0,
      registry: createRegistry({ defaultMetrics: false }),
    });
  });
  after(async () => {
    await driver?.close();
    await delNetns(ns);
  });

  it("applies a table: one table, the VIP routes (proto 211), weights as slots", async () => {
    await driver.apply([
      vip("11.0.0.1", 80, [
        ["10.1.0.1", 8080, 1],
        ["10.1.0.2", 8080, 1],
      ]),
      vip("11.0.0.2", 53, [["10.1.0.1", 5353, 1]], "udp"),
      vip("fd01:c::1", 80, [["fd00::1", 8080, 1]]),
    ]);
    const read = await createNft({ netns: ns }).read();
    assert.deepEqual(read.problems, []);
    assert.equal(countDifferences(read.state, driver.state()!), 0);
    assert.deepEqual(read.state.ipv4?.vips.get("tcp 11.0.0.1 80")?.slots.length, 2);
    assert.deepEqual(await routesIn(ns), ["11.0.0.1", "11.0.0.2", "fd01:c::1"]);
  });

  it("a weight change is a delta; weight 0 drains (no slot); a VIP that goes loses its route", async () => {
    await driver.apply([
      vip("11.0.0.1", 80, [
        ["10.1.0.1", 8080, 1],
        ["10.1.0.2", 8080, 0],
      ]),
      vip("fd01:c::1", 80, [["fd00::1", 8080, 1]]),
    ]);
    const read = await createNft({ netns: ns }).read();
    assert.deepEqual(read.state.ipv4?.vips.get("tcp 11.0.0.1 80")?.slots, [{ ip: "10.1.0.1", port: 8080 }]);
    assert.equal(read.state.ipv4?.vips.has("udp 11.0.0.2 53"), false);
    assert.deepEqual(await routesIn(ns), ["11.0.0.1", "fd01:c::1"]);
  });

  it("reconcile repairs drift in the table and in the routes, and counts the repairs", async () => {
    assert.equal(await driver.reconcile(), 0, "nothing to repair");
    await inNs(ns, "nft", ["delete element ip dcnet_l4lb vips { 11.0.0.1 . tcp . 80 }"]);
    await sh("ip", ["-n", ns, "route", "del", "local", "11.0.0.1/32", "dev", "lo", "table", "local", "proto", "211"]);
    await sh("ip", ["-n", ns, "route", "add", "local", "11.9.9.9/32", "dev", "lo", "table", "local", "proto", "211"]);
    const repairs = await driver.reconcile();
    assert.ok(repairs >= 3, `repairs: ${repairs}`);
    assert.deepEqual(await routesIn(ns), ["11.0.0.1", "fd01:c::1"]);
    const read = await createNft({ netns: ns }).read();
    assert.equal(countDifferences(read.state, driver.state()!), 0);
  });

  it("a table changed behind its back makes the next delta fail and a full rebuild take over", async () => {
    await inNs(ns, "nft", ["delete table ip dcnet_l4lb"]);
    await driver.apply([vip("11.0.0.1", 80, [["10.1.0.3", 8080, 1]])]);
    const read = await createNft({ netns: ns }).read();
    assert.deepEqual(read.problems, []);
    assert.deepEqual(read.state.ipv4?.vips.get("tcp 11.0.0.1 80")?.slots, [{ ip: "10.1.0.3", port: 8080 }]);
    assert.equal(read.state.ipv6, undefined);
  });

  it("a local route someone else owns for a VIP address is left alone", async () => {
    await sh("ip", ["-n", ns, "route", "add", "local", "11.0.0.7/32", "dev", "lo", "table", "local"]);
    await driver.apply([vip("11.0.0.1", 80, [["10.1.0.3", 8080, 1]]), vip("11.0.0.7", 80, [["10.1.0.3", 8080, 1]])]);
    assert.deepEqual(await routesIn(ns), ["11.0.0.1"]);
    await driver.apply([vip("11.0.0.1", 80, [["10.1.0.3", 8080, 1]])]);
    assert.match(await sh("ip", ["-n", ns, "route", "show", "table", "local", "11.0.0.7"]), /local 11\.0\.0\.7/);
  });

  it("a route that fails does not hold the table back: apply rejects naming it, the next apply retries only the routes", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dcnet-l4lb-drv-ip-"));
    const fakeIp = path.join(dir, "ip");
    // Routes for 11.9.0.66 go to a device that does not exist, while the file `broken` is there.
    const filter = `while IFS= read -r l; do case "$l" in *11.9.0.66/*) [ -e ${dir}/broken ] && l=$(echo "$l" | sed "s/dev lo/dev nosuchdev/") ;; esac; printf '%s\\n' "$l"; done`;
    fs.writeFileSync(fakeIp, `#!/bin/sh\ncase " $* " in\n  *" -batch "*) ${filter} | ip "$@" ;;\n  *) exec ip "$@" ;;\nesac\n`, {
      mode: 0o755,
    });
    fs.writeFileSync(path.join(dir, "broken"), "");
    const d = await createNftDriver({
      logger: quiet(),
      netns: ns,
      table: "dcnet_rt_test",
      routeProtocol: 212,
      ip: fakeIp,
      reconcileIntervalMs: 0,
    });
    try {
      const table = [vip("11.9.0.1", 80, [["10.1.0.3", 8080, 1]]), vip("11.9.0.66", 80, [["10.1.0.4", 8080, 1]])];
      await assert.rejects(d.apply(table), (e: unknown) => {
        assert.ok(e instanceof RoutesError);
        assert.match(e.message, /route add local 11\.9\.0\.66\/32: .*nosuchdev/);
        return true;
      });
      // The table is in the kernel all the same, and the other route.
      assert.equal(d.state()?.ipv4?.vips.size, 2);
      assert.match(await inNs(ns, "nft", ["list", "map", "ip", "dcnet_rt_test", "vips"]), /11\.9\.0\.66 \. tcp \. 80 : goto tcp_slots_1/);
      assert.deepEqual(await routesIn(ns, 212), ["11.9.0.1"]);
      // Fixed: the same table again puts the missing route in (no nft change needed).
      fs.rmSync(path.join(dir, "broken"));
      await d.apply(table);
      assert.deepEqual(await routesIn(ns, 212), ["11.9.0.1", "11.9.0.66"]);
      await d.apply([]);
      assert.deepEqual(await routesIn(ns, 212), []);
    } finally {
      await d.close();
      await inNs(ns, "nft", ["delete", "table", "ip", "dcnet_rt_test"]).catch(() => undefined);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("routeCover: VIPs of the named ranges share their prefix's route (while one is in it); other VIPs keep their own", async () => {
    const d = await createNftDriver({
      logger: quiet(),
      netns: ns,
      table: "dcnet_cover_test",
      routeProtocol: 213,
      routeCover: [vipRange(4, { min: "11.0.0.0", max: "11.255.255.254" }), vipRange(6)],
      reconcileIntervalMs: 0,
    });
    try {
      const a = vip("11.0.0.1", 80, [["10.1.0.3", 8080, 1]]);
      const b = vip("11.0.0.2", 80, [["10.1.0.4", 8080, 1]]);
      const c = vip("11.200.0.9", 443, [["10.1.0.4", 8443, 1]]);
      const ipVip = vip("172.16.0.1", 80, [["10.1.0.5", 8080, 1]]);
      const v6 = vip("fd01:c::7", 80, [["fd00::1", 8080, 1]]);
      await d.apply([a, b, c, ipVip, v6]);
      assert.deepEqual(await routesIn(ns, 213), ["11.0.0.0/9", "11.192.0.0/11", "172.16.0.1", "fd01:c::/64"]);
      assert.deepEqual([...d.routes()].sort(), ["11.0.0.0/9", "11.192.0.0/11", "172.16.0.1", "fd01:c::/64"]);
      // A connection from the node to a VIP the prefix covers still reaches the nft rules (local, then DNAT).
      assert.equal((await inNs(ns, "ip", ["route", "get", "11.0.0.2"])).split(" ")[0], "local");
      // One VIP of a prefix goes: the prefix stays for the other; the last goes: so does the prefix.
      await d.apply([b, c, ipVip, v6]);
      assert.deepEqual(await routesIn(ns, 213), ["11.0.0.0/9", "11.192.0.0/11", "172.16.0.1", "fd01:c::/64"]);
      await d.apply([ipVip]);
      assert.deepEqual(await routesIn(ns, 213), ["172.16.0.1"]);
      // Reconcile puts back a prefix route removed behind the driver's back.
      await d.apply([a, ipVip]);
      await inNs(ns, "ip", ["route", "del", "local", "11.0.0.0/9", "dev", "lo", "table", "local", "proto", "213"]);
      assert.ok((await d.reconcile()) >= 1);
      assert.deepEqual(await routesIn(ns, 213), ["11.0.0.0/9", "172.16.0.1"]);
      await d.apply([]);
      assert.deepEqual(await routesIn(ns, 213), []);
    } finally {
      await d.close();
      await inNs(ns, "nft", ["delete", "table", "ip", "dcnet_cover_test"]).catch(() => undefined);
      await inNs(ns, "nft", ["delete", "table", "ip6", "dcnet_cover_test"]).catch(() => undefined);
    }
  });

  it("one change at 10,000 VIPs / 100,000 backends stays incremental", async function () {
    this.timeout(120_000);
    const big: DataplaneVip[] = [];
    for (let i = 0; i < 10_000; i++) {
      const ip = `11.${(i >> 8) & 255}.${i & 255}.1`;
      big.push(
        vip(
          ip,
          80,
          Array.from({ length: 10 }, (_, j): [string, number, number] => [`10.2.${j}.${i & 255}`, 8000 + (i >> 8), 1]),
        ),
      );
    }
    let t = Date.now();
    await driver.apply(big);
    const cold = Date.now() - t;
    const times: number[] = [];
    for (let k = 0; k < 10; k++) {
      const next = [...big];
      next[k * 7] = vip(big[k * 7]!.ip, 80, [["10.3.0.1", 9000 + k, 1]]);
      t = Date.now();
      await driver.apply(next);
      times.push(Date.now() - t);
    }
    times.sort((a, b) => a - b);
    console.log(`      cold load ${cold} ms; one change: median ${times[5]} ms, max ${times[9]} ms`);
    assert.ok(times[5]! < 250, `median ${times[5]} ms`);
    await driver.apply([]);
    assert.deepEqual(await routesIn(ns), []);
  });
});

describe("l4lb service with the nft data plane (real traffic in network namespaces)", function () {
  this.timeout(60_000);
  const node = `dcnet-l4lb-svcn-${process.pid}`;
  const taskNs = `dcnet-l4lb-svct-${process.pid}`;
  const servers: ChildProcess[] = [];

  before(async function () {
    const why = await nftUnavailable();
    if (why) {
      console.warn(`    l4lb service nft tests skipped: ${why}`);
      this.skip();
    }
    await addNetns(node);
    await addNetns(taskNs);
    const ip = (n: string, ...args: string[]) => sh("ip", ["-n", n, ...args]);
    await ip(node, "link", "add", "h0", "type", "veth", "peer", "name", "t0", "netns", taskNs);
    await ip(node, "addr", "add", "10.98.0.1/24", "dev", "h0");
    await ip(node, "link", "set", "h0", "up");
    await ip(taskNs, "addr", "add", "10.98.0.2/24", "dev", "t0");
    await ip(taskNs, "addr", "add", "10.98.0.3/24", "dev", "t0");
    await ip(taskNs, "link", "set", "t0", "up");
    await ip(taskNs, "route", "add", "default", "via", "10.98.0.1");
    servers.push(
      await startServers(taskNs, [
        { proto: "tcp", host: "10.98.0.2", port: 8080, name: "b2" },
        { proto: "tcp", host: "10.98.0.3", port: 8080, name: "b3" },
      ]),
    );
  });
  after(async () => {
    for (const s of servers) s.kill("SIGKILL");
    await delNetns(taskNs);
    await delNetns(node);
  });

  it("a named VIP from the bus answers on this node from both backends; weight 0 drains one; no backends → gone", async () => {
    const hub = createMemoryHub();
    const agent = await new FakeAgent(hub, "10.98.0.9").start();
    const svc = await startL4lb(hub, testConfig({ mode: "nft", node: { id: "nft-node" } }), { nft: { netns: node } });
    try {
      assert.equal(svc.driver()?.mode, "nft");
      await agent.publish([
        [
          "tcp/name:web.marathon/80",
          [
            ["10.98.0.2", 8080, 1],
            ["10.98.0.3", 8080, 1],
          ],
        ],
      ]);
      const addr = await eventually(() => {
        const a = svc.snapshot().vips[0]?.addresses[0];
        assert.ok(a);
        return a;
      });
      const who = async () => [...new Set((await connectMany(node, "tcp", addr, 80, 16)).map((l) => l.split(" ")[0]))].sort();
      await eventually(async () => assert.deepEqual(await who(), ["b2", "b3"]), 5000, 100);
      await agent.publish([
        [
          "tcp/name:web.marathon/80",
          [
            ["10.98.0.2", 8080, 1],
            ["10.98.0.3", 8080, 0],
          ],
        ],
      ]);
      await eventually(async () => assert.deepEqual(await who(), ["b2"]), 5000, 100);
      await agent.unpublish();
      await eventually(async () => assert.equal((await routesIn(node)).length, 0), 5000, 100);
      for (const answer of await connectMany(node, "tcp", addr, 80, 2)) assert.match(answer, /^error /);
    } finally {
      await svc.lifecycle.stop();
      await agent.stop();
    }
  });
});
