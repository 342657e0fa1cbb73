import { strict as assert } from "node:assert";
import * as grpc from "@grpc/grpc-js";
import { MemberFilter, NodeServiceClient, NodeServiceService, descriptorSetPath } from "@dcnet/proto";
import { Code, DcnetError, invalidArgument } from "../errors";
import { createLogger } from "../log";
import { eventually, sleep } from "../testing/eventually";
import { serverStream, unary } from "./client";
import { createGrpcServer, type AsyncService, type GrpcServer } from "./server";

describe("gRPC server helper", function () {
  this.timeout(10_000);
  let server: GrpcServer;
  let client: NodeServiceClient;
  let streamEnded = false;
  const impl: AsyncService<typeof NodeServiceService> = {
    getStatus: async () => {
      throw new Error("database on fire");
    },
    listMembers: async (req) => {
      if (req.filter === MemberFilter.MEMBER_FILTER_UNREACHABLE) throw invalidArgument("filter", "not today");
      await sleep(300); // the client gives up first
      return { members: [] };
    },
    getMember: async (req) => ({ member: { node: undefined, reachable: req.nodeId === "yes", lastSeenMs: 0, heartbeats: 0 } }),
    watchMembers: async (_req, send, ctx) => {
      send({ change: 1, member: undefined });
      send({ change: 2, member: undefined });
      if (ctx.metadata.get("fail")[0] === "1") throw new DcnetError(Code.RESOURCE_EXHAUSTED, "too many watchers");
      await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve(), { once: true }));
      streamEnded = true;
    },
  };

  before(async () => {
    server = createGrpcServer({ logger: createLogger({ service: "test", level: "silent" }), descriptorSetPath });
    server.add("dcnet.core.v1.NodeService", NodeServiceService, impl);
    const port = await server.listen("127.0.0.1", 0);
    client = new NodeServiceClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  });
  after(async () => {
    client.close();
    await server.stop(1000);
  });

  it("returns what the handler returns", async () => {
    assert.equal((await unary(client.getMember.bind(client), { nodeId: "yes" })).member?.reachable, true);
  });

  it("maps an unexpected error to INTERNAL with its message", async () => {
    await assert.rejects(
      unary(client.getStatus.bind(client), {}),
      (e: DcnetError) => e.code === Code.INTERNAL && /database on fire/.test(e.message),
    );
  });

  it("maps a DcnetError to its code and names the field", async () => {
    await assert.rejects(
      unary(client.listMembers.bind(client), { filter: MemberFilter.MEMBER_FILTER_UNREACHABLE }),
      (e: DcnetError) => e.code === Code.INVALID_ARGUMENT && e.field === "filter" && e.message === "filter: not today",
    );
  });

  it("survives a handler that finishes after the client's deadline", async () => {
    await assert.rejects(
      unary(client.listMembers.bind(client), { filter: MemberFilter.MEMBER_FILTER_UNSPECIFIED }, { timeoutMs: 50 }),
      (e: DcnetError) => e.code === Code.DEADLINE_EXCEEDED,
    );
    await sleep(400);
    assert.equal((await unary(client.getMember.bind(client), { nodeId: "yes" })).member?.reachable, true);
  });

  it("streams, and ends the handler when the client cancels", async () => {
    const ac = new AbortController();
    const got: number[] = [];
    for await (const ev of serverStream(client.watchMembers.bind(client), {}, { signal: ac.signal })) {
      got.push(ev.change);
      if (got.length === 2) ac.abort();
    }
    assert.deepEqual(got, [1, 2]);
    await eventually(() => assert.ok(streamEnded));
  });

  it("ends a stream with the handler's error status after what was sent", async () => {
    const md = new grpc.Metadata();
    md.set("fail", "1");
    const got: number[] = [];
    await assert.rejects(
      (async () => {
        for await (const ev of serverStream(client.watchMembers.bind(client), {}, { metadata: md })) got.push(ev.change);
      })(),
      (e: DcnetError) => e.code === Code.RESOURCE_EXHAUSTED && /too many watchers/.test(e.message),
    );
    assert.deepEqual(got, [1, 2]);
  });
});
