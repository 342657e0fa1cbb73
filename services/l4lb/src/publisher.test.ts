import { strict as assert } from "node:assert";
import { connectBus, createMemoryHub, type KvChange, type KvStore } from "@dcnet/core";
import { agentBackends } from "./backends";
import { slotsOf } from "./dataplane";
import { BackendsPublisher, agentToken, backendsKey, parseBackendsDoc, L4LB_BUCKET } from "./publisher";
import { port, task } from "./testutil";
import { CLUSTER, quiet } from "./testutil-service";

const enc = (o: unknown): Uint8Array => Buffer.from(JSON.stringify(o));

describe("l4lb backends documents on the bus", () => {
  it("key: backends.<agent IP with . → _ and : → ->", () => {
    assert.equal(backendsKey("10.0.0.5"), "backends.10_0_0_5");
    assert.equal(agentToken("FD00:0::5"), "fd00--5");
  });

  it("parses what the publisher writes; refuses a document under another agent's key or of another version", () => {
    const b = agentBackends([task({ id: "t1", ports: [port(8080, ["/web:80"])] })], "10.0.0.1");
    const doc = { v: 1, agentIp: "10.0.0.1", vips: b.vips, problems: b.problems, updatedMs: 5 };
    const ok = parseBackendsDoc("backends.10_0_0_1", enc(doc));
    assert.ok(ok.ok);
    assert.deepEqual(ok.doc, doc);
    const wrongKey = parseBackendsDoc("backends.10_0_0_2", enc(doc));
    assert.ok(!wrongKey.ok && /does not belong/.test(wrongKey.reason));
    const v2 = parseBackendsDoc("backends.10_0_0_1", enc({ ...doc, v: 2 }));
    assert.ok(!v2.ok && /version 2/.test(v2.reason));
    assert.ok(!parseBackendsDoc("backends.10_0_0_1", Buffer.from("{")).ok);
  });

  it("drops what is not a VIP or backend; backends carry the document's agent; legacy entries without weight are weight 1", () => {
    const r = parseBackendsDoc(
      "backends.10_0_0_1",
      enc({
        v: 1,
        agentIp: "10.0.0.1",
        vips: [
          {
            id: "tcp/ip:172.16.0.1/80",
            backends: [
              { ip: "172.17.0.2", port: 80 },
              { ip: "nope", port: 80 },
              { ip: "172.17.0.3", port: 0 },
            ],
          },
          { id: "garbage", backends: [{ ip: "1.1.1.1", port: 1 }] },
          { id: "tcp/ip:172.16.0.9/80", backends: [] },
        ],
        problems: [{ taskId: "t", app: "a", framework: "marathon", label: "VIP_0", value: "x", reason: "r" }],
      }),
    );
    assert.ok(r.ok);
    assert.deepEqual(
      r.doc.vips.map((v) => [v.id, v.backends]),
      [["tcp/ip:172.16.0.1/80", [{ ip: "172.17.0.2", port: 80, weight: 1, taskId: "", agentIp: "10.0.0.1" }]]],
    );
    assert.equal(r.doc.problems.length, 1);
  });

  it("a weight JSON reads as Infinity (1e999) drops that backend, an infinite updatedMs reads as 0 (fuzz seed 21; such a weight overflowed the stack in slotsOf on every node)", () => {
    const text =
      '{"v":1,"agentIp":"10.0.0.1","updatedMs":1e999,"vips":[{"id":"tcp/ip:172.16.0.1/80","backends":[' +
      '{"ip":"172.17.0.2","port":80,"weight":1e999},{"ip":"172.17.0.3","port":80,"weight":-1e999},{"ip":"172.17.0.4","port":80,"weight":1}]}]}';
    const r = parseBackendsDoc("backends.10_0_0_1", Buffer.from(text));
    assert.ok(r.ok);
    assert.deepEqual(
      r.doc.vips[0]!.backends.map((b) => [b.ip, b.weight]),
      [["172.17.0.4", 1]],
    );
    assert.equal(r.doc.updatedMs, 0);
    assert.deepEqual(slotsOf(r.doc.vips[0]!.backends, 4), [{ ip: "172.17.0.4", port: 80 }]);
  });

  describe("BackendsPublisher", () => {
    let kv: KvStore;
    const changes: KvChange[] = [];
    before(async () => {
      const hub = createMemoryHub();
      const bus = await connectBus({
        cluster: CLUSTER,
        bus: { kind: "memory", servers: [], replicas: 1, heartbeatMs: 100, missedBeats: 3, forgetAfterMs: 86_400_000, connectTimeoutMs: 0 },
        nodeId: "agent",
        logger: quiet(),
        hub,
      });
      kv = await bus.kv(L4LB_BUCKET);
      kv.watch((c) => changes.push(c), { initial: false });
    });

    it("writes only when the content changed, deletes the key when there is nothing, and does not rewrite after a restart", async () => {
      const p = new BackendsPublisher(kv, { logger: quiet(), now: () => 42 });
      const one = agentBackends([task({ id: "t1", ports: [port(8080, ["/web:80"])] })], "10.0.0.1");
      assert.equal(await p.publish("10.0.0.1", { vips: [], problems: [] }), "unchanged", "nothing and no key: nothing to do");
      assert.equal(await p.publish("10.0.0.1", one), "put");
      assert.equal(
        await p.publish("10.0.0.1", agentBackends([task({ id: "t1", ports: [port(8080, ["/web:80"])] })], "10.0.0.1")),
        "unchanged",
      );
      const stored = parseBackendsDoc("backends.10_0_0_1", (await kv.get("backends.10_0_0_1"))!.value);
      assert.ok(stored.ok);
      assert.equal(stored.doc.updatedMs, 42);
      const restarted = new BackendsPublisher(kv, { logger: quiet(), now: () => 99 });
      assert.equal(await restarted.publish("10.0.0.1", one), "unchanged");
      assert.equal(await restarted.publish("10.0.0.1", { vips: [], problems: [] }), "deleted");
      assert.equal(await kv.get("backends.10_0_0_1"), undefined);
      await kv.put("backends.10_0_0_1", enc({ bogus: true }));
      assert.equal(await restarted.reassert(), "deleted");
      assert.equal(await restarted.publish("10.0.0.1", one), "put");
      await kv.delete("backends.10_0_0_1");
      assert.equal(await restarted.reassert(), "put");
      assert.ok(await kv.get("backends.10_0_0_1"));
      assert.equal(await restarted.reassert(), "unchanged");
    });
  });
});
