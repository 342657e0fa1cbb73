import { strict as assert } from "node:assert";
import { NodeIdentity, NodeRole } from "@dcnet/proto";
import { Code, ConflictError, DcnetError } from "../errors";
import { createRegistry } from "../metrics";
import { eventually, sleep } from "../testing/eventually";
import { Membership, NODES_BUCKET } from "./membership";
import { createBus } from "./signed-bus";
import type { Transport } from "./transport";
import type { Bus, BusEvent, KvChange } from "./types";

/**
 * One behaviour, two implementations: this suite runs against the in-process
 * transport and against a real nats-server (bus.memory.test.ts, bus.nats.test.ts).
 */
export interface ContractHarness {
  /** A new raw connection to the shared "server". */
  transport(): Promise<Transport>;
}

const KEY = "contract-test-cluster-key-0001";
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

export function busContract(name: string, setup: () => Promise<ContractHarness>, cleanup: () => Promise<void>): void {
  describe(`bus contract: ${name}`, function () {
    this.timeout(20_000);
    let h: ContractHarness;
    const open: Bus[] = [];
    let seq = 0;
    // A fresh cluster id per test keeps tests apart on one server.
    let cluster = "";

    const bus = async (nodeId: string, over: { clusterId?: string; key?: string } = {}) => {
      const b = createBus(await h.transport(), { clusterId: over.clusterId ?? cluster, clusterKey: over.key ?? KEY, nodeId });
      open.push(b);
      return b;
    };

    before(async () => {
      h = await setup();
    });
    after(cleanup);
    beforeEach(() => {
      cluster = `c${process.pid}-${++seq}`;
    });
    afterEach(async () => {
      await Promise.all(open.splice(0).map((b) => b.close().catch(() => undefined)));
    });

    describe("events", () => {
      it("delivers a published event with its subject, sender and payload", async () => {
        const a = await bus("a");
        const b = await bus("b");
        const got: BusEvent[] = [];
        b.subscribe("test.hello", (e) => got.push(e));
        await b.flush();
        await a.publish("test.hello", enc("hi"));
        await eventually(() => assert.equal(got.length, 1));
        assert.equal(got[0]!.subject, "test.hello");
        assert.equal(got[0]!.sender, "a");
        assert.equal(dec(got[0]!.payload), "hi");
        assert.ok(Math.abs(got[0]!.sentAtMs - Date.now()) < 5000);
      });

      it("matches * and > wildcards and keeps order per publisher", async () => {
        const a = await bus("a");
        const b = await bus("b");
        const one: string[] = [];
        const all: string[] = [];
        b.subscribe("w.*", (e) => one.push(e.subject));
        b.subscribe("w.>", (e) => all.push(dec(e.payload)));
        await b.flush();
        for (let i = 0; i < 50; i++) await a.publish(i % 2 ? "w.x" : "w.x.y", enc(String(i)));
        await eventually(() => assert.equal(all.length, 50));
        assert.deepEqual(
          all,
          Array.from({ length: 50 }, (_, i) => String(i)),
        );
        assert.equal(one.length, 25);
        assert.ok(one.every((s) => s === "w.x"));
      });

      it("fans out to ten subscribers and stops after unsubscribe", async () => {
        const a = await bus("a");
        const counts = new Array<number>(10).fill(0);
        const subs = [];
        for (let i = 0; i < 10; i++) {
          const b = await bus(`s${i}`);
          subs.push(b.subscribe("fan", () => counts[i]!++));
          await b.flush();
        }
        await a.publish("fan", enc("1"));
        await eventually(() => assert.deepEqual(counts, new Array(10).fill(1)));
        subs.forEach((s) => s.unsubscribe());
        await sleep(20);
        await a.publish("fan", enc("2"));
        await sleep(100);
        assert.deepEqual(counts, new Array(10).fill(1));
      });

      it("a handler that throws is reported, and delivery goes on (to it and to the other subscriptions)", async () => {
        const a = await bus("a");
        const errors: string[] = [];
        const b = createBus(await h.transport(), {
          clusterId: cluster,
          clusterKey: KEY,
          nodeId: "b",
          onHandlerError: (err, kind, place) => errors.push(`${kind} ${place}: ${(err as Error).message}`),
        });
        open.push(b);
        const got: string[] = [];
        b.subscribe("boom", (e) => {
          got.push(`boom ${dec(e.payload)}`);
          if (dec(e.payload) === "1") throw new Error("handler bug");
        });
        b.subscribe("calm", (e) => got.push(`calm ${dec(e.payload)}`));
        await b.flush();
        await a.publish("boom", enc("1"));
        await eventually(() => assert.deepEqual(errors, ["event boom: handler bug"]));
        await a.publish("calm", enc("2"));
        await a.publish("boom", enc("3"));
        await eventually(() => assert.deepEqual(got, ["boom 1", "calm 2", "boom 3"]), 3000);
      });

      it("rejects an invalid subject with INVALID_ARGUMENT naming the field", async () => {
        const a = await bus("a");
        await assert.rejects(
          a.publish("bad subject", enc("x")),
          (e: DcnetError) => e.code === Code.INVALID_ARGUMENT && e.field === "subject",
        );
        await assert.rejects(a.publish("a.>", enc("x")), (e: DcnetError) => e.field === "subject");
        assert.throws(
          () => a.subscribe("a.>.b", () => undefined),
          (e: DcnetError) => e.field === "subject",
        );
      });
    });

    describe("key-value", () => {
      it("puts, gets and deletes, with increasing revisions", async () => {
        const kv = await (await bus("a")).kv("state");
        assert.equal(await kv.get("k1"), undefined);
        const r1 = await kv.put("k1", enc("v1"));
        const r2 = await kv.put("k1", enc("v2"));
        assert.ok(r2 > r1);
        const e = await kv.get("k1");
        assert.equal(dec(e!.value), "v2");
        assert.equal(e!.revision, r2);
        assert.equal(e!.sender, "a");
        await kv.delete("k1");
        assert.equal(await kv.get("k1"), undefined);
      });

      it("compare-and-set: create once, update only at the current revision", async () => {
        const kv = await (await bus("a")).kv("cas");
        const r1 = await kv.create("subnet.10-0-0-1", enc("9.0.1.0/24"));
        await assert.rejects(kv.create("subnet.10-0-0-1", enc("9.0.2.0/24")), ConflictError);
        const r2 = await kv.update("subnet.10-0-0-1", enc("9.0.3.0/24"), r1);
        await assert.rejects(
          kv.update("subnet.10-0-0-1", enc("9.0.4.0/24"), r1),
          (e: DcnetError) => e instanceof ConflictError && e.field === "revision",
        );
        const cur = await kv.get("subnet.10-0-0-1");
        assert.equal(dec(cur!.value), "9.0.3.0/24");
        assert.equal(cur!.revision, r2);
      });

      it("compare-and-delete: deletes only at the current revision", async () => {
        const kv = await (await bus("a")).kv("casdel");
        const r1 = await kv.put("doc", enc("1"));
        const r2 = await kv.put("doc", enc("2"));
        await assert.rejects(kv.delete("doc", r1), (e: DcnetError) => e instanceof ConflictError && e.field === "revision");
        assert.equal(dec((await kv.get("doc"))!.value), "2", "a stale revision deletes nothing");
        await kv.delete("doc", r2);
        assert.equal(await kv.get("doc"), undefined);
      });

      it("concurrent compare-and-set: exactly one of two writers wins", async () => {
        const k1 = await (await bus("a")).kv("race");
        const k2 = await (await bus("b")).kv("race");
        const r0 = await k1.put("vip", enc("0"));
        const results = await Promise.allSettled([k1.update("vip", enc("a"), r0), k2.update("vip", enc("b"), r0)]);
        assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
        assert.equal(results.filter((r) => r.status === "rejected" && r.reason instanceof ConflictError).length, 1);
      });

      it("lists keys with a filter", async () => {
        const kv = await (await bus("a")).kv("list");
        await kv.put("backends.10.0.0.1", enc("x"));
        await kv.put("backends.10.0.0.2", enc("y"));
        await kv.put("other", enc("z"));
        assert.deepEqual((await kv.keys("backends.>")).sort(), ["backends.10.0.0.1", "backends.10.0.0.2"]);
        assert.equal((await kv.keys()).length, 3);
      });

      it("watch: initial values first, then puts and deletes from other nodes, in order", async () => {
        const w = await (await bus("w")).kv("watch");
        const a = await (await bus("a")).kv("watch");
        await a.put("x.1", enc("one"));
        await a.put("y.1", enc("other"));
        const seen: string[] = [];
        const watch = w.watch((c: KvChange) => seen.push(c.op === "put" ? `put ${c.entry.key}=${dec(c.entry.value)}` : `del ${c.key}`), {
          key: "x.>",
        });
        await watch.ready;
        assert.deepEqual(seen, ["put x.1=one"]);
        await a.put("x.2", enc("two"));
        await a.put("y.2", enc("ignored"));
        await a.delete("x.1");
        await eventually(() => assert.deepEqual(seen, ["put x.1=one", "put x.2=two", "del x.1"]));
        watch.stop();
        await a.put("x.3", enc("after stop"));
        await sleep(100);
        assert.equal(seen.length, 3);
      });

      it("a closed bus neither writes nor reads, and its watches see nothing more (a crashed node's view)", async () => {
        const gone = await bus("gone");
        const kv = await gone.kv("closed");
        const other = await (await bus("other")).kv("closed");
        const seen: string[] = [];
        const watch = kv.watch((c) => c.op === "put" && seen.push(c.entry.key));
        await watch.ready;
        await gone.close();
        await assert.rejects(kv.put("k", enc("v")));
        await assert.rejects(kv.get("k"));
        await other.put("after", enc("1"));
        await sleep(100);
        assert.deepEqual(seen, []);
        assert.equal(await other.get("k"), undefined);
      });

      it("watch without initial values sees only later changes; an empty bucket is ready at once", async () => {
        const a = await (await bus("a")).kv("fresh");
        const seen: string[] = [];
        const empty = a.watch(() => seen.push("x"));
        await empty.ready;
        empty.stop();
        await a.put("old", enc("1"));
        const watch = a.watch((c) => c.op === "put" && seen.push(c.entry.key), { initial: false });
        await watch.ready;
        await a.put("new", enc("2"));
        await eventually(() => assert.deepEqual(seen, ["new"]));
        watch.stop();
      });

      it("a watch callback that throws is reported, and later changes still arrive, each once", async () => {
        const errors: string[] = [];
        const w = createBus(await h.transport(), {
          clusterId: cluster,
          clusterKey: KEY,
          nodeId: "w",
          onHandlerError: (err, kind, place) => errors.push(`${kind} ${place}: ${(err as Error).message}`),
        });
        open.push(w);
        const kv = await w.kv("throwing");
        const a = await (await bus("a")).kv("throwing");
        const seen: string[] = [];
        const watch = kv.watch(
          (c) => {
            if (c.op !== "put") return;
            seen.push(c.entry.key);
            if (c.entry.key === "k1") throw new Error("watcher bug");
          },
          { initial: false },
        );
        await watch.ready;
        await a.put("k1", enc("1"));
        await eventually(() => assert.deepEqual(errors, ["kv throwing/k1: watcher bug"]));
        await a.put("k2", enc("2"));
        await eventually(() => assert.deepEqual(seen, ["k1", "k2"]), 3000);
        await sleep(100);
        assert.deepEqual(seen, ["k1", "k2"]);
        watch.stop();
      });

      it("rejects invalid keys and buckets, naming the field", async () => {
        const a = await bus("a");
        await assert.rejects(a.kv("bad bucket"), (e: DcnetError) => e.code === Code.INVALID_ARGUMENT && e.field === "bucket");
        const kv = await a.kv("ok");
        await assert.rejects(kv.put("bad key", enc("1")), (e: DcnetError) => e.field === "key");
      });
    });

    describe("cluster identity", () => {
      it("two clusters on one server see nothing of each other", async () => {
        const a = await bus("a", { clusterId: `${cluster}-a` });
        const b = await bus("b", { clusterId: `${cluster}-b`, key: "another-cluster-key-00000" });
        const gotB: BusEvent[] = [];
        b.subscribe(">", (e) => gotB.push(e));
        await b.flush();
        await a.publish("dns.zone", enc("from a"));
        const kva = await a.kv("zones");
        const kvb = await b.kv("zones");
        await kva.put("z", enc("a's zone"));
        await sleep(150);
        assert.equal(gotB.length, 0);
        assert.equal(await kvb.get("z"), undefined);
        assert.deepEqual(await kvb.keys(), []);
      });

      it("drops and counts events signed with another key, unsigned or tampered", async () => {
        const registry = createRegistry({ defaultMetrics: false });
        const good = createBus(await h.transport(), { clusterId: cluster, clusterKey: KEY, nodeId: "rx", registry });
        open.push(good);
        const impostor = await bus("evil", { key: "not-the-cluster-key-0000" });
        const raw = await h.transport();
        const got: string[] = [];
        good.subscribe("t.>", (e) => got.push(dec(e.payload)));
        await good.flush();
        await impostor.publish("t.x", enc("forged"));
        await raw.publish(`dcnet.${cluster}.t.x`, enc("plain bytes, no envelope"));
        // A genuine envelope for another subject, replayed onto this one: its signature covers the subject.
        const signer = createBus(raw, { clusterId: cluster, clusterKey: KEY, nodeId: "ok" });
        let captured: Uint8Array | undefined;
        const sniff = raw.subscribe(`dcnet.${cluster}.t.orig`, (m) => (captured = m.data));
        await raw.flush();
        await signer.publish("t.orig", enc("genuine"));
        await eventually(() => assert.ok(captured));
        sniff.unsubscribe();
        await raw.publish(`dcnet.${cluster}.t.x`, captured!);
        await eventually(() =>
          assert.equal(
            Object.values(good.rejected()).reduce((a, b) => a + b, 0),
            3,
          ),
        );
        assert.deepEqual(got, ["genuine"]);
        assert.equal(good.rejected()["bad_signature"], 2);
        const text = await registry.metrics();
        assert.match(text, /dcnet_bus_rejected_total\{reason="bad_signature",kind="event"\} 2/);
        await raw.close();
      });

      it("never applies a forged or moved key-value entry", async () => {
        const a = await bus("a");
        const kv = await a.kv("vips");
        const raw = await (await h.transport()).kv(`dcnet_${cluster}_vips`);
        await kv.put("real", enc("11.0.0.1"));
        const genuine = await raw.get("real");
        await raw.put("moved", genuine!.data); // a valid value copied under another key
        await raw.put("forged", enc("11.6.6.6"));
        const seen: string[] = [];
        const w = kv.watch((c) => c.op === "put" && seen.push(c.entry.key));
        await w.ready;
        w.stop();
        assert.deepEqual(seen, ["real"]);
        assert.equal(await kv.get("moved"), undefined);
        assert.equal(await kv.get("forged"), undefined);
        assert.ok((a as ReturnType<typeof createBus>).rejected()["bad_signature"]! >= 2);
      });
    });

    describe("membership", () => {
      const ident = (id: string): NodeIdentity => ({
        nodeId: id,
        clusterId: cluster,
        address: `10.0.0.${id.slice(1)}`,
        role: NodeRole.NODE_ROLE_AGENT,
        hostname: id,
        version: "test",
      });

      it("nodes see each other; a silent node turns unreachable, a leaving one is removed", async () => {
        const nodes = await Promise.all(
          ["n1", "n2", "n3"].map(async (id) => {
            const b = await bus(id);
            return { b, m: new Membership(b, { identity: ident(id), intervalMs: 100, missedBeats: 3 }) };
          }),
        );
        await Promise.all(nodes.map((n) => n.m.start()));
        for (const n of nodes)
          await eventually(() =>
            assert.deepEqual(
              n.m.reachable().map((x) => x.node.nodeId),
              ["n1", "n2", "n3"],
            ),
          );
        const changes: string[] = [];
        nodes[0]!.m.onChange((m, c) => changes.push(`${m.node.nodeId} ${c}`));
        await nodes[2]!.b.close(); // n3 crashes: no leave, heartbeats stop
        await eventually(() => assert.equal(nodes[0]!.m.get("n3")?.reachable, false), 3000);
        assert.deepEqual(
          nodes[0]!.m.reachable().map((x) => x.node.nodeId),
          ["n1", "n2"],
        );
        await nodes[1]!.m.stop(); // n2 leaves gracefully
        await eventually(() => assert.equal(nodes[0]!.m.get("n2"), undefined), 3000);
        assert.deepEqual(changes, ["n3 unreachable", "n2 left"]);
        await nodes[0]!.m.stop();
        await nodes[2]!.m.stop();
      });

      it("a node unreachable for forgetAfterMs is forgotten: its record deleted, every member drops it; a live node's deleted record is written back", async () => {
        const nodes = await Promise.all(
          ["n1", "n2", "n3"].map(async (id) => {
            const b = await bus(id);
            return { b, m: new Membership(b, { identity: ident(id), intervalMs: 100, missedBeats: 3, forgetAfterMs: 1000 }) };
          }),
        );
        await Promise.all(nodes.map((n) => n.m.start()));
        for (const n of nodes) await eventually(() => assert.equal(n.m.reachable().length, 3));
        const kv = await nodes[0]!.b.kv(NODES_BUCKET);
        const changes: string[] = [];
        nodes[0]!.m.onChange((m, c) => changes.push(`${m.node.nodeId} ${c}`));
        await nodes[2]!.b.close(); // n3 crashes: no leave
        await eventually(() => assert.equal(nodes[0]!.m.get("n3")?.reachable, false), 3000);
        assert.ok(await kv.get("n3"), "still listed while unreachable");
        await eventually(async () => {
          assert.equal(nodes[0]!.m.get("n3"), undefined);
          assert.equal(nodes[1]!.m.get("n3"), undefined);
          assert.equal(await kv.get("n3"), undefined, "record deleted from the bucket");
        }, 5000);
        assert.deepEqual(
          changes.filter((c) => c.startsWith("n3")),
          ["n3 unreachable", "n3 left"],
        );
        assert.ok(!changes.includes("n2 left"), "a live node is never forgotten");
        // n2's record deleted while n2 runs (as the others do after a long network cut): n2 writes it back.
        await kv.delete("n2");
        await eventually(async () => assert.ok(await kv.get("n2")), 3000);
        await eventually(() => assert.equal(nodes[0]!.m.get("n2")?.reachable, true), 3000);
        await nodes[0]!.m.stop();
        await nodes[1]!.m.stop();
      });

      it("a node joining later learns earlier members from the bucket", async () => {
        const b1 = await bus("n1");
        const m1 = new Membership(b1, { identity: ident("n1"), intervalMs: 100 });
        await m1.start();
        const b2 = await bus("n2");
        const m2 = new Membership(b2, { identity: ident("n2"), intervalMs: 100 });
        await m2.start();
        assert.ok(m2.get("n1"), "n1 known from the nodes bucket right after start");
        await eventually(() => assert.equal(m2.get("n1")?.reachable, true));
        await m1.stop();
        await m2.stop();
      });
    });
  });
}
