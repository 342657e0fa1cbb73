/**
 * End to end: the dcnet image, a 3-server NATS cluster (JetStream) and 3 nodes
 * on one Docker network. Every node sees the others through the bus; a node
 * with another cluster key is kept out; after losing one NATS server, events
 * and KV reads/writes still work and nothing written before is lost.
 */
import * as assert from "node:assert/strict";
import {
  ConflictError,
  checkHealth,
  eventually,
  sleep,
  unary,
  type Bus,
  type BusEvent,
  type KvChange,
  type KvEntry,
  type KvStore,
} from "@dcnet/core";
import { MemberFilter, NodeRole } from "@dcnet/proto";
import { E2eCluster, log, memberIds, natsConnectionNames, scrapeMetric, type DcnetNode, type NatsServer, type TestBus } from "./harness";

const GOOD = ["agent-1", "agent-2", "master-1"];
/** Log lines left out of failure reports: the intruder's rejected messages, routes retrying the lost server. */
const NOISE = /bus message rejected|Error trying to connect to route/;
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

/** Collects events on a subject filter. */
function collect(bus: Bus, filter: string): { events: BusEvent[]; stop(): void } {
  const events: BusEvent[] = [];
  const sub = bus.subscribe(filter, (e) => events.push(e));
  return { events, stop: () => sub.unsubscribe() };
}

/**
 * After a NATS server is lost, JetStream needs a moment to settle (stream and
 * meta leaders re-elected). Seen here (nats-server 2.9.10): for 10-30 s after
 * the loss, about one in three ephemeral consumers (what KV keys() and watch()
 * create) is placed on the lost server and its creation times out after 5 s.
 * KV operations failing in that window are retried, counted and reported; one
 * that keeps failing past it fails the test.
 */
const RECOVERY_MS = 30_000;
const kvStats = { reads: 0, stale: 0, errors: new Map<string, number>() };

/** Runs a KV operation until it succeeds, for up to RECOVERY_MS; errors on the way are recorded. */
function recovering<T>(what: string, op: () => Promise<T>): Promise<T> {
  return eventually(
    async () => {
      try {
        return await op();
      } catch (err) {
        if (!(err instanceof assert.AssertionError)) {
          const kind = `${what.split(" ")[0]}: ${err instanceof Error ? err.message : String(err)}`;
          kvStats.errors.set(kind, (kvStats.errors.get(kind) ?? 0) + 1);
        }
        throw err;
      }
    },
    RECOVERY_MS,
    100,
  );
}

/**
 * Reads a key until it holds the expected value (and revision). KV reads are
 * JetStream "direct gets", which any replica answers: right after a write, a
 * replica that has not applied it yet can answer with the previous state.
 * Such stale reads are retried and counted, not failed; a value that does not
 * show up within RECOVERY_MS (lost, or overwritten) fails.
 */
async function readBack(kv: KvStore, key: string, want: { value: string; revision?: number }, what = key): Promise<KvEntry> {
  let stale = false;
  kvStats.reads++;
  return recovering(`get ${what}`, async () => {
    const e = await kv.get(key);
    if (e && dec(e.value) === want.value && (want.revision === undefined || e.revision === want.revision)) return e;
    if (!stale) kvStats.stale++;
    stale = true;
    const got = e ? `"${dec(e.value)}" @${e.revision}` : "nothing";
    throw new assert.AssertionError({
      message: `${what}: read ${got}, want "${want.value}"${want.revision === undefined ? "" : ` @${want.revision}`}`,
    });
  });
}

/**
 * Polls every node's reachable members in the background (from a server
 * loss on) and keeps the worst it saw, to report how the nodes lived through it.
 */
function watchMembership(nodes: DcnetNode[], expected: string[]): { stop(): Promise<string> } {
  let running = true;
  const startedAt = Date.now();
  let polls = 0;
  let degradedPolls = 0;
  let lastDegradedAt = 0;
  let grpcErrors = 0;
  const lowest = new Map(nodes.map((n) => [n.id, expected.length]));
  const loop = (async () => {
    while (running) {
      polls++;
      let degraded = false;
      for (const node of nodes) {
        try {
          const seen = (await memberIds(node)).filter((id) => expected.includes(id)).length;
          lowest.set(node.id, Math.min(lowest.get(node.id)!, seen));
          degraded ||= seen < expected.length;
        } catch {
          grpcErrors++;
          degraded = true;
        }
      }
      if (degraded) {
        degradedPolls++;
        lastDegradedAt = Date.now();
      }
      await sleep(250);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      const worst = [...lowest].map(([id, n]) => `${id} ${n}/${expected.length}`).join(", ");
      return (
        `lowest reachable count per node: ${worst}; ${degradedPolls}/${polls} polls degraded` +
        (lastDegradedAt ? `, the last ${((lastDegradedAt - startedAt) / 1000).toFixed(1)} s after the stop` : "") +
        (grpcErrors ? `; ${grpcErrors} gRPC errors` : "")
      );
    },
  };
}

/** Every node in `nodes` lists exactly `expected` as reachable. */
async function allSee(nodes: DcnetNode[], expected: string[]): Promise<void> {
  for (const node of nodes) assert.deepEqual(await memberIds(node), expected, `${node.id} reachable members`);
}

/**
 * Publishes on `subject` until `sink` receives it: after a (re)connect the
 * subscriber's interest reaches the other servers a moment later, and core
 * NATS drops what has no interest yet.
 */
async function roundTrip(from: Bus, sink: { events: BusEvent[] }, subject: string, timeoutMs: number): Promise<void> {
  const marker = `probe-${Math.random().toString(36).slice(2)}`;
  await eventually(
    async () => {
      await from.publish(subject, enc(marker));
      await from.flush();
      await sleep(100);
      assert.ok(
        sink.events.some((e) => dec(e.payload) === marker),
        `no round trip on ${subject}`,
      );
    },
    timeoutMs,
    200,
  );
}

describe("dcnet cluster on NATS (testcontainers)", function () {
  const cluster = new E2eCluster({ clusterId: "dcnet" });
  let good: DcnetNode[] = [];

  before(async function () {
    this.timeout(600_000); // the image build (~1 min, more without cache) is part of it
    await cluster.start();
    good = GOOD.map((id) => cluster.node(id));
  });

  after(async function () {
    this.timeout(120_000);
    await cluster.stop();
  });

  afterEach(function () {
    if (this.currentTest?.state === "failed") log(`container output (last lines):\n${cluster.recentLogs(30, NOISE)}`);
  });

  it("serves gRPC health and NodeService on every node", async function () {
    for (const node of good) {
      assert.equal(await checkHealth(node.grpcAddress), "SERVING", `${node.id} health`);
      const status = await unary(node.client.getStatus.bind(node.client), {});
      assert.equal(status.node?.nodeId, node.id);
      assert.equal(status.node?.clusterId, "dcnet");
      assert.equal(status.node?.role, node.id.startsWith("master") ? NodeRole.NODE_ROLE_MASTER : NodeRole.NODE_ROLE_AGENT);
      assert.equal(status.bus, "nats");
      assert.equal(status.busConnected, true, `${node.id} bus connected`);
    }
  }).timeout(30_000);

  it("every node sees the 3 nodes through the bus", async function () {
    await eventually(() => allSee(good, GOOD), 30_000, 250);
    for (const node of good) {
      const status = await unary(node.client.getStatus.bind(node.client), {});
      assert.equal(status.reachableMembers, 3, `${node.id} reachable_members`);
      assert.deepEqual(await memberIds(node, MemberFilter.MEMBER_FILTER_UNREACHABLE), [], `${node.id} unreachable members`);
    }
  }).timeout(60_000);

  it("keeps out a node with another cluster key (its messages are rejected)", async function () {
    const intruder = await cluster.addNode({ id: "intruder-1", role: "agent", clusterKey: "not-the-cluster-key-0123456789" });
    // The good nodes receive its heartbeats (and its record in the nodes bucket) and reject them...
    await eventually(
      async () => {
        for (const node of good) {
          const rejected = await scrapeMetric(node, "dcnet_bus_rejected_total", { reason: "bad_signature", kind: "event" });
          assert.ok(rejected > 0, `${node.id}: dcnet_bus_rejected_total{reason="bad_signature",kind="event"} = ${rejected}`);
        }
      },
      20_000,
      250,
    );
    // ... for several heartbeat intervals, and never list it.
    for (let i = 0; i < 4; i++) {
      for (const node of good) {
        assert.deepEqual(await memberIds(node, MemberFilter.MEMBER_FILTER_UNSPECIFIED), GOOD, `${node.id} members`);
        assert.deepEqual(await memberIds(node), GOOD, `${node.id} reachable members`);
      }
      await sleep(1_000);
    }
    const kvRejected = await scrapeMetric(good[0]!, "dcnet_bus_rejected_total", { reason: "bad_signature", kind: "kv" });
    log(`${good[0]!.id} rejected ${kvRejected} KV value(s) signed with the wrong key`);
    // The intruder, in turn, sees nobody but itself.
    assert.deepEqual(await memberIds(intruder, MemberFilter.MEMBER_FILTER_UNSPECIFIED), ["intruder-1"]);
    assert.ok((await scrapeMetric(intruder, "dcnet_bus_rejected_total", { reason: "bad_signature" })) > 0, "intruder rejects the cluster");
  }).timeout(90_000);

  describe("losing one NATS server", function () {
    const PRE_KEYS = 40;
    let writer: TestBus;
    let reader: TestBus;
    let kv: KvStore;
    const written = new Map<string, { value: string; revision: number }>();
    let casRevision = 0;
    let events: { events: BusEvent[]; stop(): void };
    let heartbeats: { events: BusEvent[]; stop(): void };
    const watched: KvChange[] = [];
    let victim: NatsServer;
    let stoppedAt = 0;
    const sinceStop = (): string => `${((Date.now() - stoppedAt) / 1000).toFixed(1)} s after the stop`;

    let membership: { stop(): Promise<string> } | undefined;

    after(async function () {
      await membership?.stop();
      log(`KV reads: ${kvStats.reads}, of which ${kvStats.stale} first returned stale data (direct get from a lagging replica)`);
      const errors = [...kvStats.errors].map(([e, n]) => `${n} x ${e}`);
      log(`KV operations retried after an error: ${errors.length ? errors.join("; ") : "none"}`);
    });

    it("writes KV keys and exchanges events through the cluster", async function () {
      // The server to lose: one that nodes are attached to (so they must fail
      // over), the one with most of them. The test's writer is attached to it
      // as well; the reader to another server (events cross the cluster).
      const attached = await Promise.all(cluster.runningNats().map(async (s) => ({ s, names: await natsConnectionNames(s) })));
      const nodesOn = (names: string[]): number => names.filter((n) => GOOD.some((id) => n === `dcnet-${id}`)).length;
      attached.sort((a, b) => nodesOn(b.names) - nodesOn(a.names) || a.s.name.localeCompare(b.s.name));
      victim = attached[0]!.s;
      writer = await cluster.connectBus("e2e-writer", { attachTo: victim });
      reader = await cluster.connectBus("e2e-reader", { attachTo: attached.slice(1).map((a) => a.s) });
      kv = await writer.kv("e2e");
      for (let i = 0; i < PRE_KEYS; i++) {
        const key = `pre.k${String(i).padStart(3, "0")}`;
        const value = `value-${i}-${Date.now()}`;
        written.set(key, { value, revision: await kv.put(key, enc(value)) });
      }
      casRevision = await kv.create("cas", enc("v1"));
      for (const [key, { value, revision }] of written) assert.equal((await readBack(kv, key, { value, revision })).sender, "e2e-writer");

      // A watch from the other connection, started now and kept across the outage.
      const readerKv = await reader.kv("e2e");
      const watch = readerKv.watch((c) => watched.push(c), { key: "post.>", initial: false });
      await watch.ready;

      events = collect(reader, "e2e.events.>");
      heartbeats = collect(reader, "membership.heartbeat");
      await reader.flush();
      await roundTrip(writer, events, "e2e.events.probe", 15_000);
      for (let i = 0; i < 20; i++) await writer.publish("e2e.events.pre", enc(`pre-${i}`));
      await writer.flush();
      await eventually(() => assert.equal(events.events.filter((e) => e.subject === "e2e.events.pre").length, 20), 10_000);
      assert.ok(events.events.every((e) => e.sender === "e2e-writer"));
      // The nodes' heartbeats reach the test process too, and verify with the cluster key.
      await eventually(() => assert.deepEqual([...new Set(heartbeats.events.map((e) => e.sender))].sort(), GOOD), 10_000, 100);
      // The intruder's heartbeats fail the check on the test bus as well.
      await eventually(() => assert.ok((reader.rejected()["bad_signature"] ?? 0) > 0, "test bus rejected the intruder"), 10_000, 100);
    }).timeout(120_000);

    it("loses a NATS server with clients and the KV stream leaders on it", async function () {
      // Put the leaders of the test bucket and of the nodes bucket on that server too.
      for (const bucket of ["e2e", "nodes"]) {
        await cluster.moveStreamLeader(cluster.kvStream(bucket), victim);
        assert.equal(await cluster.streamLeader(cluster.kvStream(bucket)), victim.name);
      }
      for (const s of cluster.runningNats()) log(`${s.name}: ${(await natsConnectionNames(s)).sort().join(", ") || "(no clients)"}`);
      assert.ok((await natsConnectionNames(victim)).includes(writer.connectionName), `${writer.connectionName} on ${victim.name}`);
      log(`stopping ${victim.name} with no grace period (leader of ${cluster.kvStream("e2e")} and ${cluster.kvStream("nodes")})`);
      await cluster.stopNats(victim.name);
      stoppedAt = Date.now();
      membership = watchMembership(good, GOOD);
    }).timeout(90_000);

    it("keeps every KV value written before", async function () {
      // The clients reconnect to another server: at once when the lost server
      // closed their connection, else after missed pings (5 s x 2).
      await eventually(
        async () => {
          for (const bus of [writer, reader]) {
            assert.ok(bus.isConnected() && (await cluster.serverOf(bus.connectionName)), `${bus.connectionName} not on a live server yet`);
          }
        },
        45_000,
        250,
      );
      log(`${writer.connectionName} is on ${(await cluster.serverOf(writer.connectionName))?.name}, ${sinceStop()}`);
      // Through the connection that lived through the outage ...
      for (const [key, { value, revision }] of written) await readBack(kv, key, { value, revision });
      assert.deepEqual((await recovering("keys pre.>", () => kv.keys("pre.>"))).sort(), [...written.keys()].sort());
      // ... and through a new connection to the servers left.
      const fresh = await cluster.connectBus("e2e-fresh");
      const freshKv = await recovering("open bucket", () => fresh.kv("e2e"));
      for (const [key, { value, revision }] of written) await readBack(freshKv, key, { value, revision }, `${key} (new connection)`);
      // The nodes' own records are there too.
      const nodesKv = await recovering("open bucket", () => fresh.kv("nodes"));
      const nodeKeys = await recovering("keys nodes", () => nodesKv.keys());
      for (const id of GOOD) assert.ok(nodeKeys.includes(id), `nodes bucket has ${id}: ${nodeKeys.join(",")}`);
      log(`all ${written.size} values read back, ${sinceStop()}`);
    }).timeout(120_000);

    it("accepts new writes and compare-and-set, and watchers see them", async function () {
      const t0 = Date.now();
      const post = new Map<string, string>();
      for (let i = 0; i < 20; i++) {
        const key = `post.k${String(i).padStart(3, "0")}`;
        post.set(key, `after-${i}`);
        await kv.put(key, enc(`after-${i}`));
      }
      for (const [key, value] of post) await readBack(kv, key, { value });

      await readBack(kv, "cas", { value: "v1", revision: casRevision });
      const next = await kv.update("cas", enc("v2"), casRevision);
      assert.ok(next > casRevision);
      await assert.rejects(kv.update("cas", enc("stale"), casRevision), ConflictError);
      await assert.rejects(kv.create("cas", enc("again")), ConflictError);
      await readBack(kv, "cas", { value: "v2", revision: next });
      await kv.create("post.created", enc("new"));
      const t1 = Date.now();

      // The watch started before the outage delivers every write made after it
      // (its consumer may have to be re-created first, see RECOVERY_MS).
      await eventually(
        () => {
          const seen = new Map(watched.flatMap((c) => (c.op === "put" ? [[c.entry.key, dec(c.entry.value)] as const] : [])));
          for (const [key, value] of post) assert.equal(seen.get(key), value, `watched ${key}`);
          assert.equal(seen.get("post.created"), "new");
        },
        2 * RECOVERY_MS,
        250,
      );
      log(`writes and CAS after the loss took ${t1 - t0} ms; the watch had them ${Date.now() - t1} ms later`);
    }).timeout(120_000);

    it("delivers events published after the loss", async function () {
      await roundTrip(writer, events, "e2e.events.probe", 30_000);
      for (let i = 0; i < 20; i++) await writer.publish("e2e.events.post", enc(`post-${i}`));
      await writer.flush();
      await eventually(
        () =>
          assert.deepEqual(
            events.events.filter((e) => e.subject === "e2e.events.post").map((e) => dec(e.payload)),
            Array.from({ length: 20 }, (_, i) => `post-${i}`),
          ),
        10_000,
      );
      // Heartbeats of every node still arrive.
      heartbeats.events.length = 0;
      await eventually(() => assert.deepEqual([...new Set(heartbeats.events.map((e) => e.sender))].sort(), GOOD), 30_000, 100);
    }).timeout(90_000);

    it("nodes still see each other (and still not the intruder)", async function () {
      await eventually(() => allSee(good, GOOD), 60_000, 250);
      const report = await membership!.stop();
      membership = undefined;
      log(`membership since the stop: ${report}`);
      for (const node of good) {
        const status = await unary(node.client.getStatus.bind(node.client), {});
        assert.equal(status.busConnected, true, `${node.id} bus connected`);
        assert.equal(await checkHealth(node.grpcAddress), "SERVING");
      }
      // And it holds: no flapping once failed over.
      for (let i = 0; i < 3; i++) {
        await sleep(1_000);
        await allSee(good, GOOD);
      }
      assert.deepEqual(await memberIds(good[0]!, MemberFilter.MEMBER_FILTER_UNSPECIFIED), GOOD);
      events.stop();
      heartbeats.stop();
    }).timeout(90_000);
  });
});
