import { strict as assert } from "node:assert";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { connectBus, createLogger, createMemoryHub, createRegistry, eventually, type Bus, type KvStore, type MemoryHub } from "@dcnet/core";
import { LocalAgent } from "./local-agent";
import { l4lbMetrics } from "./metrics";
import { backendsKey, L4LB_BUCKET, parseBackendsDoc } from "./publisher";
import type { L4lb } from "./service";
import { CLUSTER, FakeAgent, RecordingDriver, quiet, startL4lb, testConfig } from "./testutil-service";

/**
 * The agent IP of a node's backends when its Mesos agent's hostname is not an IP (compose:
 * `agent-1`): GET_AGENT then carries no IP and the poller falls back to the host it polls
 * (127.0.0.1). Every agent publishing as 127.0.0.1 would share one key and overwrite each other;
 * the node's own address (its record on the bus, or `node.address`) is used instead.
 */
describe("l4lb agent side: the agent IP when the Mesos agent's hostname is not an IP", function () {
  this.timeout(30_000);
  const FRAMEWORK = "fw-1";
  const task = {
    name: "web",
    task_id: { value: "web.1" },
    framework_id: { value: FRAMEWORK },
    agent_id: { value: "agent-1" },
    state: "TASK_RUNNING",
    resources: [{ name: "ports", type: "RANGES", ranges: { range: [{ begin: 31044, end: 31044 }] } }],
    statuses: [
      { state: "TASK_RUNNING", timestamp: 1, container_status: { network_infos: [{ ip_addresses: [{ ip_address: "10.0.0.7" }] }] } },
    ],
    discovery: {
      visibility: "FRAMEWORK",
      name: "web",
      ports: { ports: [{ number: 31044, name: "http", protocol: "tcp", labels: { labels: [{ key: "VIP_0", value: "/web:80" }] } }] },
    },
  };
  let server: http.Server;
  let url = "";
  let hub: MemoryHub;
  let bus: Bus;
  let kv: KvStore;
  const running: { stop(): Promise<void> }[] = [];

  before(async () => {
    server = http.createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        const type = (JSON.parse(body) as { type: string }).type;
        const answer =
          type === "GET_AGENT"
            ? { type, get_agent: { agent_info: { id: { value: "agent-1" }, hostname: "agent-1", port: 5051 } } }
            : {
                type,
                get_state: {
                  get_tasks: { launched_tasks: [task], completed_tasks: [] },
                  get_frameworks: { frameworks: [{ framework_info: { id: { value: FRAMEWORK }, name: "marathon" } }] },
                },
              };
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(answer));
      });
    });
    await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  beforeEach(async () => {
    hub = createMemoryHub();
    bus = await connectBus({
      cluster: CLUSTER,
      bus: { kind: "memory", servers: [], replicas: 1, heartbeatMs: 100, missedBeats: 3, forgetAfterMs: 86_400_000, connectTimeoutMs: 0 },
      nodeId: "reader",
      logger: quiet(),
      hub,
    });
    kv = await bus.kv(L4LB_BUCKET);
  });
  afterEach(async () => {
    for (const r of running.splice(0).reverse()) await r.stop();
    await bus.close();
  });
  after(() => server.close());

  const start = async (node: Record<string, string>): Promise<L4lb> => {
    const svc = await startL4lb(hub, testConfig({ node, agent: { enabled: true, url, pollIntervalMs: 100 } }), {
      driver: new RecordingDriver(),
    });
    running.push({ stop: () => svc.lifecycle.stop() });
    return svc;
  };
  const published = (ip: string) =>
    eventually(async () => {
      const e = await kv.get(backendsKey(ip));
      assert.ok(e, `no ${backendsKey(ip)}`);
      const parsed = parseBackendsDoc(backendsKey(ip), e.value);
      assert.ok(parsed.ok);
      return parsed.doc;
    }, 10_000);

  it("this node's record on the bus gives the address (the node agent's node.address)", async () => {
    const nodeAgent = await new FakeAgent(hub, "10.0.0.7").start(true); // node id agent-10-0-0-7, address 10.0.0.7
    running.push(nodeAgent);
    await start({ id: "agent-10-0-0-7" });
    const doc = await published("10.0.0.7");
    assert.equal(doc.agentIp, "10.0.0.7");
    assert.deepEqual(
      doc.vips.flatMap((v) => v.backends.map((b) => `${b.ip}:${b.port} ${b.agentIp}`)),
      ["10.0.0.7:31044 10.0.0.7"],
    );
    assert.equal(await kv.get(backendsKey("127.0.0.1")), undefined, "nothing published as 127.0.0.1");
  });

  it("node.address, when configured, wins", async () => {
    await start({ id: "agent-x", address: "10.0.0.8" });
    assert.equal((await published("10.0.0.8")).agentIp, "10.0.0.8");
  });

  it("an agent IP no membership record has: warned once (log and dataplane.warnings), withdrawn when a record has it", async () => {
    const other = await new FakeAgent(hub, "10.0.0.7").start(true); // a node agent's record, but with another address
    running.push(other);
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger({
      service: "l4lb-test",
      level: "info",
      destination: { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) },
    });
    const svc = await startL4lb(
      hub,
      testConfig({ node: { id: "agent-z", address: "10.0.0.9" }, agent: { enabled: true, url, pollIntervalMs: 100 } }),
      { driver: new RecordingDriver(), logger },
    );
    running.push({ stop: () => svc.lifecycle.stop() });
    await published("10.0.0.9");
    const warning = await eventually(() => {
      const w = svc.snapshot().dataplane.warnings.find((x) => x.includes("10.0.0.9"));
      assert.ok(w, JSON.stringify(svc.snapshot().dataplane.warnings));
      return w;
    }, 10_000);
    assert.match(warning, /agent IP 10\.0\.0\.9, which no membership record has \(node addresses: 10\.0\.0\.7\)/);
    await new Promise((r) => setTimeout(r, 500)); // several more checks: still one warning, logged once
    assert.equal(svc.snapshot().dataplane.warnings.filter((x) => x === warning).length, 1);
    assert.equal(lines.filter((l) => l["level"] === "warn" && l["msg"] === warning).length, 1);
    // The node agent of this node appears with the agent's IP: the warning goes.
    const self = await new FakeAgent(hub, "10.0.0.9").start(true);
    running.push(self);
    await eventually(
      () =>
        assert.deepEqual(
          svc.snapshot().dataplane.warnings.filter((x) => x.includes("10.0.0.9")),
          [],
        ),
      10_000,
    );
  });

  it("no address known: the polled host, as before", async () => {
    await start({ id: "agent-y" });
    assert.equal((await published("127.0.0.1")).agentIp, "127.0.0.1");
  });
});

describe("l4lb agent side: publishing while the bus fails", () => {
  it("one warning for a run of failed publishes (the rest at debug, all counted), and the recovery is logged", async () => {
    const agentServer = http.createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        const type = (JSON.parse(body) as { type: string }).type;
        const answer =
          type === "GET_AGENT"
            ? { type, get_agent: { agent_info: { id: { value: "a1" }, hostname: "10.0.0.5", port: 5051 } } }
            : { type, get_state: { get_tasks: { launched_tasks: [] }, get_frameworks: { frameworks: [] } } };
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(answer));
      });
    });
    await new Promise<void>((ok) => agentServer.listen(0, "127.0.0.1", ok));
    let down = true;
    const fail = async (): Promise<never> => {
      throw new Error("bus is down");
    };
    const kv = {
      bucket: L4LB_BUCKET,
      get: async () => (down ? fail() : undefined),
      put: async () => (down ? fail() : 1),
      create: fail,
      update: fail,
      delete: async () => (down ? fail() : undefined),
      keys: async () => [],
      watch: () => ({ ready: Promise.resolve(), stop: () => undefined }),
    } as unknown as KvStore;
    const lines: { level: string; msg: string }[] = [];
    const logger = createLogger({ service: "test", level: "debug", destination: { write: (s: string) => void lines.push(JSON.parse(s)) } });
    const registry = createRegistry({ defaultMetrics: false });
    const agent = new LocalAgent({
      kv,
      url: `127.0.0.1:${(agentServer.address() as AddressInfo).port}`,
      intervalMs: 30,
      ipv6: false,
      logger,
      metrics: l4lbMetrics(registry),
      onTasks: () => undefined,
    });
    const failures = () => lines.filter((l) => l.msg === "publishing this agent's backends failed: retrying");
    try {
      agent.start();
      await eventually(() => assert.ok(failures().length >= 4), 5000);
      assert.equal(failures().filter((l) => l.level === "warn").length, 1);
      assert.ok(/l4lb_backends_publishes_total\{result="error"\} ([4-9]|[1-9]\d+)\n/.test(await registry.metrics()));
      down = false;
      await eventually(() => assert.ok(lines.some((l) => l.level === "info" && l.msg === "this agent's backends published again")), 5000);
    } finally {
      await agent.stop();
      agentServer.close();
    }
  });
});
