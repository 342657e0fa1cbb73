import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Code, type DcnetError } from "../errors";
import { busSection, clusterSection, listenSection } from "./common";
import { envOverrides, list, loadConfig, z } from "./load";

const schema = z.object({
  cluster: clusterSection,
  bus: busSection,
  grpc: listenSection(50051),
  tags: list(z.string()).default([]),
});

describe("config", () => {
  const file = path.join(os.tmpdir(), `dcnet-config-${process.pid}.json`);
  afterEach(() => fs.rmSync(file, { force: true }));

  it("applies defaults", () => {
    const c = loadConfig(schema, { env: {} });
    assert.equal(c.cluster.id, "dcnet");
    assert.deepEqual(c.bus.servers, ["nats://127.0.0.1:4222"]);
    assert.equal(c.grpc.port, 50051);
  });

  it("layers environment over file over defaults", () => {
    fs.writeFileSync(file, JSON.stringify({ cluster: { id: "from-file" }, grpc: { port: 1000, host: "10.0.0.1" } }));
    const c = loadConfig(schema, {
      file,
      env: { DCNET_GRPC__PORT: "2000", DCNET_BUS__SERVERS: "nats://a:4222, nats://b:4222", DCNET_BUS__HEARTBEAT_MS: "250", OTHER: "x" },
    });
    assert.equal(c.cluster.id, "from-file");
    assert.equal(c.grpc.port, 2000);
    assert.equal(c.grpc.host, "10.0.0.1");
    assert.deepEqual(c.bus.servers, ["nats://a:4222", "nats://b:4222"]);
    assert.equal(c.bus.heartbeatMs, 250);
  });

  it("maps environment names to nested camelCase keys", () => {
    assert.deepEqual(envOverrides({ DCNET_BUS__CONNECT_TIMEOUT_MS: "5", DCNET_LOG__LEVEL: "debug", X_Y: "1" }, "DCNET"), {
      bus: { connectTimeoutMs: 5 },
      log: { level: "debug" },
    });
  });

  const bad: [string, unknown, Record<string, string>, string][] = [
    ["port out of range", {}, { DCNET_GRPC__PORT: "70000" }, "grpc.port"],
    ["port not a number", { grpc: { port: "http" } }, {}, "grpc.port"],
    ["bad server url", { bus: { servers: ["localhost:4222"] } }, {}, "bus.servers.0"],
    ["bad cluster id", {}, { DCNET_CLUSTER__ID: "Prod_East" }, "cluster.id"],
    ["short key", { cluster: { key: "short" } }, {}, "cluster.key"],
    ["unknown bus kind", { bus: { kind: "zeromq" } }, {}, "bus.kind"],
  ];
  for (const [name, fileContent, env, field] of bad) {
    it(`names the field: ${name}`, () => {
      fs.writeFileSync(file, JSON.stringify(fileContent));
      assert.throws(
        () => loadConfig(schema, { file, env }),
        (e: DcnetError) => e.code === Code.INVALID_ARGUMENT && e.field === field && e.message.startsWith(`${field}: `),
      );
    });
  }

  it("reports a missing or invalid file against --config", () => {
    assert.throws(
      () => loadConfig(schema, { file: "/nonexistent/dcnet.json" }),
      (e: DcnetError) => e.field === "--config",
    );
    fs.writeFileSync(file, "{ not json");
    assert.throws(
      () => loadConfig(schema, { file }),
      (e: DcnetError) => e.field === "--config" && /not valid JSON/.test(e.message),
    );
  });
});
