import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseResolver, startUpstream } from "@dcnet/dns";
import { renderResolvConf, writeIfChanged } from "./resolvconf";
import type { DcosDns } from "./service";
import { startDcosDns, testConfig } from "./test-util";

describe("resolv.conf generator (dcos-gen-resolvconf)", function () {
  this.timeout(10_000);
  let svc: DcosDns;
  before(async () => {
    svc = await startDcosDns(testConfig());
  });
  after(async () => svc?.lifecycle.stop());

  it("lists the listeners that answer ready.spartan, not the silent ones", async () => {
    const silent = await startUpstream(() => null);
    try {
      const text = await renderResolvConf({
        listeners: [parseResolver(silent.address)!, parseResolver(`127.0.0.1:${svc.ports().dns[0]!.udp}`)!],
        upstreams: [parseResolver("10.0.0.2")!],
        search: "example.internal",
        timeoutMs: 300,
      });
      assert.match(text, /options timeout:1\noptions attempts:3\nsearch example.internal\nnameserver 127.0.0.1\n$/);
    } finally {
      await silent.close();
    }
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
