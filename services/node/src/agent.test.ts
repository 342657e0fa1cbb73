import { strict as assert } from "node:assert";
import * as grpc from "@grpc/grpc-js";
import { MemberChange, MemberFilter, NodeServiceClient, type WatchMembersResponse } from "@dcnet/proto";
import {
  Code,
  DcnetError,
  checkHealth,
  createLogger,
  createMemoryHub,
  createRegistry,
  eventually,
  listServices,
  serverStream,
  unary,
  validate,
} from "@dcnet/core";
import { createNodeAgent, type NodeAgent } from "./agent";
import { nodeConfigSchema } from "./config";

describe("node agent (in-process bus, real gRPC on loopback)", function () {
  this.timeout(15_000);
  const hub = createMemoryHub();
  const logger = createLogger({ service: "test", level: "silent" });
  const agents: NodeAgent[] = [];
  const clients: NodeServiceClient[] = [];

  before(async () => {
    for (const id of ["n1", "n2", "n3"]) {
      const config = validate(nodeConfigSchema, {
        cluster: { id: "unit", key: "unit-test-cluster-key-xx" },
        bus: { kind: "memory", heartbeatMs: 100 },
        node: { id, address: "127.0.0.1" },
        grpc: { host: "127.0.0.1", port: 0 },
        http: { host: "127.0.0.1", port: 0 },
      });
      const agent = createNodeAgent(config, { logger, registry: createRegistry({ defaultMetrics: false }), hub });
      await agent.lifecycle.start();
      agents.push(agent);
      clients.push(new NodeServiceClient(`127.0.0.1:${agent.ports.grpc}`, grpc.credentials.createInsecure()));
    }
  });
  after(async () => {
    clients.forEach((c) => c.close());
    for (const a of agents) await a.lifecycle.stop();
  });

  it("every node sees the other two through the bus (GetStatus, ListMembers)", async () => {
    for (const c of clients) {
      await eventually(async () => {
        const st = await unary(c.getStatus.bind(c), {});
        assert.equal(st.reachableMembers, 3);
        assert.equal(st.bus, "memory");
        assert.equal(st.busConnected, true);
      });
      const list = await unary(c.listMembers.bind(c), { filter: MemberFilter.MEMBER_FILTER_REACHABLE });
      assert.deepEqual(
        list.members.map((m) => m.node?.nodeId),
        ["n1", "n2", "n3"],
      );
    }
  });

  it("GetMember: INVALID_ARGUMENT naming node_id when empty, NOT_FOUND when unknown", async () => {
    const c = clients[0]!;
    const m = await unary(c.getMember.bind(c), { nodeId: "n2" });
    assert.equal(m.member?.node?.nodeId, "n2");
    await assert.rejects(
      unary(c.getMember.bind(c), { nodeId: "" }),
      (e: DcnetError) => e.code === Code.INVALID_ARGUMENT && e.field === "node_id",
    );
    await assert.rejects(unary(c.getMember.bind(c), { nodeId: "nope" }), (e: DcnetError) => e.code === Code.NOT_FOUND);
  });

  it("ListMembers with an unknown filter value is INVALID_ARGUMENT naming filter", async () => {
    const c = clients[0]!;
    await assert.rejects(
      unary(c.listMembers.bind(c), { filter: 42 as MemberFilter }),
      (e: DcnetError) => e.code === Code.INVALID_ARGUMENT && e.field === "filter",
    );
  });

  it("serves grpc.health.v1 and server reflection", async () => {
    const addr = `127.0.0.1:${agents[0]!.ports.grpc}`;
    assert.equal(await checkHealth(addr), "SERVING");
    assert.equal(await checkHealth(addr, "dcnet.core.v1.NodeService"), "SERVING");
    await assert.rejects(checkHealth(addr, "no.such.Service"), (e: DcnetError) => e.code === Code.NOT_FOUND);
    const services = await listServices(addr);
    assert.ok(services.includes("dcnet.core.v1.NodeService"), services.join(","));
    assert.ok(services.includes("grpc.health.v1.Health"), services.join(","));
  });

  it("exposes Prometheus metrics and /healthz over HTTP", async () => {
    const port = agents[0]!.ports.http;
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    assert.match(metrics, /dcnet_members\{node="n1",state="reachable"\} 3/);
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(health.status, 200);
    const missing = await fetch(`http://127.0.0.1:${port}/nope`);
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { error: string }).error, "not_found");
  });

  it("a stopped node leaves the others' member lists, and WatchMembers streams the change", async () => {
    const c = clients[0]!;
    const ac = new AbortController();
    const seen: WatchMembersResponse[] = [];
    const watching = (async () => {
      for await (const ev of serverStream(c.watchMembers.bind(c), {}, { signal: ac.signal })) seen.push(ev);
    })();
    await eventually(() => assert.equal(seen.length, 3));
    assert.ok(seen.every((e) => e.change === MemberChange.MEMBER_CHANGE_SNAPSHOT));
    const last = agents.pop()!;
    clients.pop()!.close();
    await last.lifecycle.stop();
    await eventually(() => assert.ok(seen.some((e) => e.change === MemberChange.MEMBER_CHANGE_LEFT && e.member?.node?.nodeId === "n3")));
    ac.abort();
    await watching;
    await eventually(async () => {
      const list = await unary(c.listMembers.bind(c), { filter: MemberFilter.MEMBER_FILTER_UNSPECIFIED });
      assert.deepEqual(
        list.members.map((m) => m.node?.nodeId),
        ["n1", "n2"],
      );
    });
  });
});

describe("node config", () => {
  it("names the offending field", () => {
    assert.throws(
      () => validate(nodeConfigSchema, { grpc: { port: 70000 } }),
      (e: DcnetError) => e.field === "grpc.port",
    );
    assert.throws(
      () => validate(nodeConfigSchema, { bus: { servers: ["http://x"] } }),
      (e: DcnetError) => e.field === "bus.servers.0",
    );
    assert.throws(
      () => validate(nodeConfigSchema, { cluster: { id: "Bad_Id" } }),
      (e: DcnetError) => e.field === "cluster.id",
    );
    assert.throws(
      () => validate(nodeConfigSchema, { node: { role: "boss" } }),
      (e: DcnetError) => e.field === "node.role",
    );
  });
});
