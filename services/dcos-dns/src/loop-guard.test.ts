import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { type DcnetError, createRegistry } from "@dcnet/core";
import { allAddresses } from "./addresses";
import { loadDcosDnsConfig } from "./config";
import { defaultUpstreams, upstreamsFromResolvConf } from "./loop-guard";
import { createDcosDns } from "./service";
import { quiet, testConfig } from "./test-util";

describe("dcos-dns loop guard (§3.2, COPS-4616)", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dcos-dns-loop-"));
  const file = path.join(dir, "f");
  after(() => fs.rmSync(dir, { recursive: true }));

  const fieldOf = (raw: unknown): string => {
    fs.writeFileSync(file, JSON.stringify(raw));
    try {
      loadDcosDnsConfig({ file, env: {} }, () => undefined);
    } catch (e) {
      return `${(e as DcnetError).field} | ${(e as Error).message}`;
    }
    return "accepted";
  };

  it("rejects 198.51.100.1-3 and our own listeners in upstream_resolvers and forward_zones, naming the key", () => {
    assert.match(fieldOf({ upstream_resolvers: ["10.0.0.2", "198.51.100.2"] }), /^upstream_resolvers\.1 \| .*198\.51\.100\.2 .*loop/);
    assert.match(fieldOf({ upstream_resolvers: ["198.51.100.3:5353"] }), /^upstream_resolvers\.0 \|/, "any port");
    assert.match(
      fieldOf({ forward_zones: { "corp.example": ["10.0.0.3", "198.51.100.1"] } }),
      /^forward_zones\.corp\.example\.1 \| .*loop/,
    );
    // Our own listener address at our listener port.
    assert.match(
      fieldOf({ bind_ips: ["10.1.2.3"], udp_port: 53, upstream_resolvers: ["10.1.2.3"] }),
      /^upstream_resolvers\.0 \| .*10\.1\.2\.3:53 is this node's own dcos-dns listener/,
    );
    assert.match(
      fieldOf({ bind_ips: ["10.1.2.3"], udp_port: 5454, tcp_port: 5454, forward_zones: { corp: ["10.1.2.3:5454"] } }),
      /^forward_zones\.corp\.0 \|/,
    );
    // The same address on another port is another server; a blacklisted address is not bound.
    assert.equal(fieldOf({ bind_ips: ["10.1.2.3"], udp_port: 53, upstream_resolvers: ["10.1.2.3:5353"] }), "accepted");
    assert.equal(fieldOf({ bind_ips: ["10.1.2.3"], bind_ip_blacklist: ["10.1.2.3"], upstream_resolvers: ["10.1.2.3"] }), "accepted");
  });

  it("with bind_all, the node's addresses are checked when the service is created", () => {
    const mine = allAddresses().find((a) => a !== "127.0.0.1");
    assert.ok(mine, "the test needs a second address (e.g. ::1)");
    const config = testConfig({
      bindAll: true,
      udpPort: 53,
      tcpPort: 53,
      upstreamResolvers: ["10.0.0.2", mine.includes(":") ? `[${mine}]` : mine],
    });
    assert.throws(
      () => createDcosDns(config, { logger: quiet(), registry: createRegistry({ defaultMetrics: false }) }),
      (e: DcnetError) => e.field === "upstream_resolvers.1" && /loop/.test(e.message),
    );
    const zoned = testConfig({
      bindAll: true,
      udpPort: 53,
      tcpPort: 53,
      forwardZones: { "Corp.Example": [mine.includes(":") ? `[${mine}]` : mine] },
    });
    assert.throws(
      () => createDcosDns(zoned, { logger: quiet(), registry: createRegistry({ defaultMetrics: false }) }),
      (e: DcnetError) => e.field === "forward_zones.Corp.Example.0",
    );
  });

  it("default upstreams from resolv.conf: ourselves dropped (a resolv.conf we wrote), and said clearly when none remain", () => {
    fs.writeFileSync(file, "search x\nnameserver 198.51.100.1\nnameserver 127.0.0.1\nnameserver 10.0.0.2\nnameserver bogus\n");
    assert.deepEqual(defaultUpstreams(file, { ips: ["127.0.0.1"], ports: [53] }), {
      upstreams: ["10.0.0.2"],
      dropped: ["198.51.100.1", "127.0.0.1"],
    });
    // Listening on 127.0.0.1:5454 only: a resolver at 127.0.0.1:53 is someone else.
    assert.deepEqual(defaultUpstreams(file, { ips: ["127.0.0.1"], ports: [5454] }).upstreams, ["127.0.0.1", "10.0.0.2"]);

    const logs: { level: string; msg: string }[] = [];
    const log = {
      info: (_o: unknown, msg: string) => logs.push({ level: "info", msg }),
      warn: (_o: unknown, msg: string) => logs.push({ level: "warn", msg }),
    } as unknown as Parameters<typeof upstreamsFromResolvConf>[2];
    fs.writeFileSync(file, "nameserver 198.51.100.1\nnameserver 198.51.100.2\nnameserver 198.51.100.3\n");
    assert.deepEqual(upstreamsFromResolvConf(file, { ips: [], ports: [53] }, log), []);
    assert.equal(logs.length, 2);
    assert.match(logs[0]!.msg, /left out/);
    assert.equal(logs[1]!.level, "warn");
    assert.match(
      logs[1]!.msg,
      /no upstream resolvers: .*every nameserver in the file is this dcos-dns itself.*set upstream_resolvers|until upstream_resolvers is set/,
    );
  });
});
