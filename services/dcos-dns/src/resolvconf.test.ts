import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseResolver, startUpstream } from "@dcnet/dns";
import { orderNameservers, renderResolvConf, writeIfChanged } from "./resolvconf";
import type { DcosDns } from "./service";
import { startDcosDns, testConfig } from "./test-util";

describe("resolv.conf generator (dcos-gen-resolvconf)", function () {
  this.timeout(10_000);
  let svc: DcosDns;
  before(async () => {
    svc = await startDcosDns(testConfig());
  });
  after(async () => svc?.lifecycle.stop());

  it("a listener not on port 53 is never a nameserver (resolv.conf has no port): warned, upstreams used instead", async () => {
    const warnings: string[] = [];
    const listener = parseResolver(`127.0.0.1:${svc.ports().dns[0]!.udp}`)!;
    assert.notEqual(listener.port, 53);
    const text = await renderResolvConf({
      listeners: [listener],
      upstreams: [parseResolver("10.0.0.2")!],
      search: "example.internal",
      timeoutMs: 300,
      warn: (m) => warnings.push(m),
    });
    assert.match(text, /options timeout:1\noptions attempts:3\nsearch example.internal\nnameserver 10.0.0.2\n$/);
    assert.doesNotMatch(text, /127\.0\.0\.1/);
    assert.match(warnings.join(), new RegExp(`cannot carry a port: listeners ${listener.label} are not on port 53`));
  });

  it("lists at most 3 listeners on port 53 that answer ready.spartan, not the silent ones", async () => {
    // Listeners on port 53 of addresses no other test uses (root in the test environment).
    const ips = ["127.77.5.1", "127.77.5.2", "127.77.5.3", "127.77.5.4"];
    const on53 = await startDcosDns(testConfig({ bindIps: ips, udpPort: 53, tcpPort: 53 }));
    const silent = await startUpstream(() => null);
    try {
      const listeners = [parseResolver(silent.address)!, parseResolver("127.77.5.9")!, ...ips.map((ip) => parseResolver(ip)!)];
      const text = await renderResolvConf({ listeners, upstreams: [parseResolver("10.0.0.2")!], timeoutMs: 300 });
      const ns = text.split("\n").filter((l) => l.startsWith("nameserver"));
      assert.deepEqual(ns, ["nameserver 127.77.5.1", "nameserver 127.77.5.2", "nameserver 127.77.5.3"], "glibc reads 3");
    } finally {
      await silent.close();
      await on53.lifecycle.stop();
    }
  });

  it("nameserver order: 198.51.100.1-3, then loopback, then the node's other addresses", () => {
    assert.deepEqual(orderNameservers(["10.0.0.5", "127.0.0.1", "198.51.100.3", "198.51.100.1", "10.0.0.6", "198.51.100.2"]), [
      "198.51.100.1",
      "198.51.100.2",
      "198.51.100.3",
      "127.0.0.1",
      "10.0.0.5",
      "10.0.0.6",
    ]);
  });

  it("falls back to up to 3 configured upstreams on port 53 when no listener answers", async () => {
    const silent = await startUpstream(() => null);
    try {
      const ups = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5:5353"].map((s) => parseResolver(s)!);
      const text = await renderResolvConf({ listeners: [parseResolver(silent.address)!], upstreams: ups, timeoutMs: 200 });
      const ns = text.split("\n").filter((l) => l.startsWith("nameserver"));
      assert.equal(ns.length, 3);
      assert.ok(!text.includes("10.0.0.5"), "port 53 only");
    } finally {
      await silent.close();
    }
  });

  it("rewrites the file only when the content changes", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "resolv-"));
    const f = path.join(dir, "resolv.conf");
    assert.equal(writeIfChanged(f, "a\n"), true);
    assert.equal(writeIfChanged(f, "a\n"), false);
    assert.equal(writeIfChanged(f, "b\n"), true);
    assert.equal(fs.readFileSync(f, "utf8"), "b\n");
    assert.deepEqual(fs.readdirSync(dir), ["resolv.conf"], "no temporary file left");
    fs.rmSync(dir, { recursive: true });
  });
});
