import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Code, type DcnetError } from "../errors";
import { busSection, clusterSection, listenSection } from "./common";
import { type KeyOrigin, envOverrides, list, loadConfig, snakeFileKeys, validate, z } from "./load";

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
    ["port out of range (environment)", {}, { DCNET_GRPC__PORT: "70000" }, "DCNET_GRPC__PORT"],
    ["environment wins over the file", { grpc: { port: 1 } }, { DCNET_GRPC__PORT: "70000" }, "DCNET_GRPC__PORT"],
    ["list item from the environment", {}, { DCNET_BUS__SERVERS: "nats://a:4222,localhost:4222" }, "DCNET_BUS__SERVERS.1"],
    ["port not a number", { grpc: { port: "http" } }, {}, "grpc.port"],
    ["bad server url", { bus: { servers: ["localhost:4222"] } }, {}, "bus.servers.0"],
    ["bad cluster id", {}, { DCNET_CLUSTER__ID: "Prod_East" }, "DCNET_CLUSTER__ID"],
    ["file key beside an environment key", { cluster: { key: "short" } }, { DCNET_CLUSTER__ID: "east" }, "cluster.key"],
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

  it("snake_case files: converted keys, unknown ones warned, errors name the key as written", () => {
    const snakeSchema = z.object({
      upstreamResolvers: list(z.string().regex(/^\d/, "must be an IP")).default([]),
      httpListen: z.object({ port: z.number().max(65535), readTimeoutMs: z.number().min(0).default(1) }).default({ port: 1 }),
      zones: z.record(z.string(), z.number()).default({}),
      handlerLimit: z.number().min(1).default(1),
    });
    const known = new Set(Object.keys(snakeSchema.shape));
    const warnings: string[] = [];
    const load = (raw: unknown, over: Record<string, unknown> = {}) => {
      const origins: KeyOrigin = {};
      const value = snakeFileKeys(raw, { known, nested: new Set(["httpListen"]), service: "svc", warn: (m) => warnings.push(m) }, origins);
      return validate(snakeSchema, { ...(value as object), ...over }, origins);
    };
    assert.deepEqual(load({ upstream_resolvers: ["10.0.0.1"], http_listen: { port: 80 }, bogus: 1 }).httpListen, {
      port: 80,
      readTimeoutMs: 1,
    });
    assert.match(warnings.join(), /"bogus" is not used by svc/);
    const field = (raw: unknown, over?: Record<string, unknown>) => {
      try {
        load(raw, over);
      } catch (e) {
        return (e as DcnetError).field;
      }
      return "no error";
    };
    assert.equal(field({ upstream_resolvers: ["x"] }), "upstream_resolvers.0");
    assert.equal(field({ http_listen: { port: 70000 } }), "http_listen.port");
    assert.equal(field({ http_listen: { port: 1, read_timeout_ms: -1 } }), "http_listen.read_timeout_ms");
    assert.equal(field({ zones: { Corp_Zone: "x" } }), "zones.Corp_Zone", "map keys are kept");
    assert.equal(field({}, { handlerLimit: 0 }), "handler_limit", "a key the file did not set, in snake_case");
  });
});
