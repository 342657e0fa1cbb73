import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createLocalRoutes, RoutesError, startBatchSession, type LocalRoutes, type RouteSource } from "./routes";
import { addNetns, delNetns, nftUnavailable, routesIn, sh } from "./testutil-netns";
import { quiet } from "./testutil-service";

describe("l4lb local routes through one ip -batch session (real ip in a network namespace)", function () {
  this.timeout(30_000);
  const ns = `dcnet-l4lb-rt-${process.pid}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dcnet-l4lb-rt-"));
  const made: LocalRoutes[] = [];
  const routes = (ip?: string, source?: RouteSource): LocalRoutes => {
    const r = createLocalRoutes({ logger: quiet(), netns: ns, ...(ip ? { ip } : {}), ...(source ? { source } : {}), timeoutMs: 5000 });
    made.push(r);
    return r;
  };
  /** An `ip` that passes everything to the real one, `batch` being a shell filter for the batch's input. */
  const fakeIp = (name: string, batch: string): string => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, `#!/bin/sh\ncase " $* " in\n  *" -batch "*) ${batch} | ip "$@" ;;\n  *) exec ip "$@" ;;\nesac\n`, {
      mode: 0o755,
    });
    return file;
  };

  before(async function () {
    const why = await nftUnavailable();
    if (why) {
      console.warn(`    l4lb route tests skipped: ${why}`);
      this.skip();
    }
    await addNetns(ns);
  });
  afterEach(async () => {
    for (const r of made.splice(0)) r.close();
    await sh("ip", ["-n", ns, "route", "flush", "table", "local", "proto", "211"]).catch(() => undefined);
    await sh("ip", ["-n", ns, "-6", "route", "flush", "table", "local", "proto", "211"]).catch(() => undefined);
  });
  after(async () => {
    await delNetns(ns);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("adds and removes with one long-lived process; a local route that is not ours is left alone", async () => {
    const r = routes();
    assert.deepEqual(await r.sync(["11.0.0.1", "11.0.0.2", "fd01:c::1"]), { added: 3, removed: 0 });
    assert.deepEqual(await routesIn(ns), ["11.0.0.1", "11.0.0.2", "fd01:c::1"]);
    assert.deepEqual(await r.sync(["11.0.0.1", "11.0.0.3"]), { added: 1, removed: 2 });
    assert.deepEqual(await routesIn(ns), ["11.0.0.1", "11.0.0.3"]);
    // Someone else's local route for a VIP address: not an error, not ours.
    await sh("ip", ["-n", ns, "route", "add", "local", "11.0.0.9/32", "dev", "lo", "table", "local"]);
    assert.deepEqual(await r.sync(["11.0.0.1", "11.0.0.3", "11.0.0.9"]), { added: 0, removed: 0 });
    assert.deepEqual([...r.conflicts()], ["11.0.0.9"]);
    assert.deepEqual([...r.installed()].sort(), ["11.0.0.1", "11.0.0.3"]);
    // Many changes in a row on the same session (line numbers keep counting).
    for (let i = 0; i < 20; i++) await r.sync(i % 2 === 0 ? ["11.0.0.1"] : ["11.0.0.1", "11.0.0.3"]);
    assert.deepEqual(await routesIn(ns), ["11.0.0.1", "11.0.0.3"]);
    await sh("ip", ["-n", ns, "route", "del", "local", "11.0.0.9/32", "dev", "lo", "table", "local"]);
  });

  it("update changes only the addresses given; reconcile then holds the kernel to the result", async () => {
    const r = routes();
    await r.sync(["11.0.0.1", "11.0.0.2"]);
    assert.deepEqual(await r.update(["11.0.0.3", "fd01:c:0:0::2"], ["11.0.0.1"]), { added: 2, removed: 1 });
    assert.deepEqual(await routesIn(ns), ["11.0.0.2", "11.0.0.3", "fd01:c::2"]);
    // Already there / already gone: nothing to do.
    assert.deepEqual(await r.update(["11.0.0.3"], ["11.0.0.1"]), { added: 0, removed: 0 });
    await sh("ip", ["-n", ns, "route", "del", "local", "11.0.0.3/32", "dev", "lo", "table", "local"]);
    assert.equal(await r.reconcile(), 1);
    assert.deepEqual(await routesIn(ns), ["11.0.0.2", "11.0.0.3", "fd01:c::2"]);
  });

  it("a route the kernel refuses: the others go in, sync rejects naming it, and the next sync retries it", async () => {
    // 11.0.0.66's route goes to a device that does not exist.
    const r = routes(fakeIp("ip-bad-dev", `sed -u 's|11.0.0.66/32 dev lo|11.0.0.66/32 dev nosuchdev|'`));
    await assert.rejects(r.sync(["11.0.0.1", "11.0.0.66", "11.0.0.2"]), (e: unknown) => {
      assert.ok(e instanceof RoutesError);
      assert.match(e.message, /1 VIP route\(s\) failed: route add local 11\.0\.0\.66\/32: .*nosuchdev/);
      assert.equal(e.failures.length, 1);
      return true;
    });
    assert.deepEqual(await routesIn(ns), ["11.0.0.1", "11.0.0.2"]);
    assert.deepEqual([...r.installed()].sort(), ["11.0.0.1", "11.0.0.2"]);
    // The same session goes on: a sync without that address succeeds.
    assert.deepEqual(await r.sync(["11.0.0.1", "11.0.0.2", "11.0.0.3"]), { added: 1, removed: 0 });
  });

  it("the ip process dying part-way: sync rejects naming it, what went in is read back, the next sync starts a new process", async () => {
    // Only the first line reaches ip, which then ends (no answer for the marker).
    const r = routes(fakeIp("ip-dies", "head -n 1"));
    await assert.rejects(r.sync(["11.0.0.1", "11.0.0.2"]), (e: unknown) => {
      assert.ok(e instanceof RoutesError);
      assert.match(e.message, /VIP routes: 0 to remove and 2 to add, and .*-batch -: the ip process ended/);
      return true;
    });
    assert.deepEqual(await routesIn(ns), ["11.0.0.1"]);
    assert.deepEqual([...r.installed()], ["11.0.0.1"]);
    // The next sync starts a new process (which again takes one line and ends).
    await assert.rejects(r.sync(["11.0.0.1", "11.0.0.2"]), /the ip process ended/);
    assert.deepEqual(await routesIn(ns), ["11.0.0.1", "11.0.0.2"]);
    assert.deepEqual([...r.installed()].sort(), ["11.0.0.1", "11.0.0.2"]);
  });

  /** Our routes with their `src` ("-" for none), as `dst src`. */
  const withSrc = async (): Promise<string[]> => {
    const out: string[] = [];
    for (const fam of ["-4", "-6"]) {
      const rows = JSON.parse(await sh("ip", ["-n", ns, fam, "-j", "route", "show", "table", "local", "proto", "211"])) as {
        dst: string;
        prefsrc?: string;
      }[];
      out.push(...rows.map((r) => `${r.dst} ${r.prefsrc ?? "-"}`));
    }
    return out.sort();
  };

  describe("the routes' src (the source address of the node's own connections to a VIP)", () => {
    const ip = (...args: string[]) => sh("ip", ["-n", ns, ...args]);
    before(async () => {
      // A node with a default route: 10.77.0.2 on an uplink (a veth whose peer stays in the namespace).
      await ip("link", "add", "up0", "type", "veth", "peer", "name", "up1");
      await ip("addr", "add", "10.77.0.2/24", "dev", "up0");
      await ip("addr", "add", "10.77.0.3/24", "dev", "up0");
      await ip("link", "set", "up0", "up");
      await ip("link", "set", "up1", "up");
      await ip("route", "add", "default", "via", "10.77.0.1", "src", "10.77.0.2");
    });
    after(async () => {
      await ip("link", "del", "up0").catch(() => undefined);
    });

    it("auto (the default): the default route's source; reconcile follows when it changes", async () => {
      const r = routes();
      await r.sync(["11.0.0.1", "11.0.0.2", "fd01:c::1"]);
      // No IPv6 default route here: IPv6 routes have none.
      assert.deepEqual(await withSrc(), ["11.0.0.1 10.77.0.2", "11.0.0.2 10.77.0.2", "fd01:c::1 -"]);
      assert.match(await ip("-4", "route", "get", "11.0.0.1"), /local 11\.0\.0\.1 dev lo .*src 10\.77\.0\.2/);
      await ip("route", "replace", "default", "via", "10.77.0.1", "src", "10.77.0.3");
      // Both IPv4 routes replaced (deleted and added again); the IPv6 one left.
      assert.equal(await r.reconcile(), 4);
      assert.deepEqual(await withSrc(), ["11.0.0.1 10.77.0.3", "11.0.0.2 10.77.0.3", "fd01:c::1 -"]);
      // Changes after that use it too.
      assert.deepEqual(await r.update(["11.0.0.4"], ["11.0.0.1"]), { added: 1, removed: 1 });
      assert.deepEqual(await withSrc(), ["11.0.0.2 10.77.0.3", "11.0.0.4 10.77.0.3", "fd01:c::1 -"]);
      assert.equal(await r.reconcile(), 0);
      await ip("route", "replace", "default", "via", "10.77.0.1", "src", "10.77.0.2");
    });

    it('given addresses are used per family; "none" gives none; a route of ours with another src is replaced', async () => {
      await ip("-6", "addr", "add", "fd77::2/64", "dev", "up0", "nodad");
      const given = routes(undefined, ["10.77.0.3", "fd77::2"]);
      assert.deepEqual(await given.sync(["11.0.0.1", "fd01:c::1"]), { added: 2, removed: 0 });
      assert.deepEqual(await withSrc(), ["11.0.0.1 10.77.0.3", "fd01:c::1 fd77::2"]);
      given.close();
      // Another instance (a restart with "none") finds them with a src it does not want.
      const none = routes(undefined, "none");
      assert.deepEqual(await none.sync(["11.0.0.1", "fd01:c::1", "11.0.0.2"]), { added: 3, removed: 2 });
      assert.deepEqual(await withSrc(), ["11.0.0.1 -", "11.0.0.2 -", "fd01:c::1 -"]);
      assert.throws(() => routes(undefined, ["10.77.0.3", "10.77.0.2"]), /two IPv4 addresses/);
      assert.throws(() => routes(undefined, ["eth0"]), /not an IP address: "eth0"/);
    });

    it("a src the kernel refuses (not the node's): that family's routes go in without one, and later ones too", async () => {
      const r = routes(undefined, ["10.66.0.1"]);
      assert.deepEqual(await r.sync(["11.0.0.1", "11.0.0.2"]), { added: 2, removed: 0 });
      assert.deepEqual(await withSrc(), ["11.0.0.1 -", "11.0.0.2 -"]);
      assert.deepEqual(await r.update(["11.0.0.3"], []), { added: 1, removed: 0 });
      assert.deepEqual(await withSrc(), ["11.0.0.1 -", "11.0.0.2 -", "11.0.0.3 -"]);
      assert.equal(await r.reconcile(), 0);
    });
  });

  it("an ip that cannot start: the error names it", async () => {
    const s = startBatchSession(["/nonexistent/ip", "-force", "-batch", "-"], 2000);
    await assert.rejects(s.run(["route show"]), /\/nonexistent\/ip -force -batch -: .*ENOENT/);
    s.close();
    const r = routes("/nonexistent/ip");
    await assert.rejects(r.sync(["11.0.0.1"]), /ENOENT/);
  });
});
