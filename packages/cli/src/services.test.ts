import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Writable } from "node:stream";
import { createLogger, createRegistry } from "@dcnet/core";
import { findService, mesosDnsGrpcPort } from "./services";

describe("cli services: DCNET_MESOS_DNS_GRPC_PORT", () => {
  it("unset → 50070, off → none, a port as given", () => {
    assert.equal(mesosDnsGrpcPort(undefined), 50070);
    assert.equal(mesosDnsGrpcPort("off"), undefined);
    assert.equal(mesosDnsGrpcPort("0"), 0);
    assert.equal(mesosDnsGrpcPort("50071"), 50071);
  });

  it("anything else is an error naming the variable", () => {
    for (const bad of ["", "abc", "-1", "70000", "1.5", "50070x"]) {
      assert.throws(
        () => mesosDnsGrpcPort(bad),
        (e: Error & { field?: string }) =>
          e.field === "DCNET_MESOS_DNS_GRPC_PORT" && /^DCNET_MESOS_DNS_GRPC_PORT: must be a port 0-65535 or "off", got/.test(e.message),
        bad,
      );
    }
  });
});

describe("cli services: dcos-dns log level", () => {
  it("takes log.level from the config file, and logs the config's warnings at that logger", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cli-dcos-dns-"));
    const file = path.join(dir, "dcos-dns.json");
    const config = { bind_ips: ["127.0.0.1"], udp_port: 0, tcp_port: 0, http_listen: { port: 0 }, grpc_listen: { port: 0 } };
    fs.writeFileSync(file, JSON.stringify({ ...config, upstream_resolvers: ["127.0.0.1:9"], log: { level: "warn" }, bogus: 1 }));
    const levels: string[] = [];
    const lines: string[] = [];
    const stream = new Writable({ write: (chunk: Buffer, _enc, done) => void (lines.push(chunk.toString()), done()) });
    const started = await findService("dcos-dns")!.start({
      configFile: file,
      env: {},
      registry: createRegistry(),
      logger: (level) => (levels.push(level), createLogger({ service: "dcos-dns", level: level as "warn", destination: stream })),
    });
    await started.stop();
    assert.deepEqual(levels, ["warn"]);
    assert.ok(
      lines.some((l) => l.includes('config key \\"bogus\\" is not used by dcos-dns')),
      lines.join(""),
    );
  });
});
