import { strict as assert } from "node:assert";
import {
  busSection,
  connectBus,
  createRegistry,
  eventually,
  startNatsServer,
  type Bus,
  type NatsServerHandle,
  type Registry,
} from "@dcnet/core";
import { Authority } from "./authority";
import { quiet } from "./test-util";
import { type RecordValues, type ZoneData } from "./zone";
import { ZONE_BUCKET } from "./zone-codec";
import { ZonePublisher } from "./zone-publisher";
import { ZoneSync } from "./zone-sync";

/**
 * Producer → real nats-server → nodes: a change reaches the nodes as a delta well before the
 * rate-limited snapshot could; a node that starts late misses a delta and catches up from the snapshot.
 */
const CLUSTER = { id: "dnsdelta", key: "dcos-dns-delta-test-key-0001" };
const Z = "dcos.thisdcos.directory.";
const n = (s: string) => `${s}.marathon.autoip.${Z}`;
const zone = (o: Record<string, RecordValues>): ZoneData => ({ zone: Z, records: new Map(Object.entries(o)) });
const INTERVAL_MS = 2000;

describe("zone deltas over a real nats-server", function () {
  this.timeout(20_000);
  let nats: NatsServerHandle;
  const buses: Bus[] = [];
  const syncs: ZoneSync[] = [];
  let publisher: ZonePublisher;

  const connect = async (id: string) => {
    const bus = await connectBus({ cluster: CLUSTER, bus: busSection.parse({ servers: [nats.url] }), nodeId: id, logger: quiet() });
    buses.push(bus);
    return bus;
  };
  const node = async (id: string) => {
    const bus = await connect(id);
    const authority = new Authority();
    const registry: Registry = createRegistry({ defaultMetrics: false });
    const sync = new ZoneSync(await bus.kv(ZONE_BUCKET), authority, { logger: quiet(), registry, bus });
    await sync.start();
    syncs.push(sync);
    const deltas = async (result: string) =>
      (await registry.getSingleMetric("dns_zone_deltas_total")!.get()).values.find((v) => v.labels["result"] === result)?.value ?? 0;
    return { authority, sync, deltas };
  };

  before(async () => {
    nats = await startNatsServer();
  });
  after(async () => {
    publisher?.stop();
    for (const s of syncs) s.stop();
    for (const b of buses) await b.close();
    await nats?.stop();
  });

  it("changes arrive at once as deltas; a late node waits for the snapshot", async () => {
    const pbus = await connect("producer");
    publisher = new ZonePublisher(await pbus.kv(ZONE_BUCKET), { logger: quiet(), intervalMs: INTERVAL_MS, bus: pbus });
    const nodes = [await node("n1"), await node("n2")];
    const t0 = Date.now();
    publisher.offer(zone({ [n("web")]: { a: ["10.0.0.1"] } }));
    for (const x of nodes) await eventually(() => assert.deepEqual(x.authority.lookup(n("web"))?.values, { a: ["10.0.0.1"] }), 1000, 5);

    publisher.offer(zone({ [n("web")]: { a: ["10.0.0.1"] }, [n("api")]: { a: ["10.0.0.2"] } }));
    for (const x of nodes) await eventually(() => assert.deepEqual(x.authority.lookup(n("api"))?.values, { a: ["10.0.0.2"] }), 1000, 5);
    assert.ok(Date.now() - t0 < INTERVAL_MS, "applied before a second snapshot could have been pushed");
    for (const x of nodes) assert.equal(await x.deltas("applied"), 1);

    // A node that starts now serves the first snapshot (seq 0) and has missed delta 1.
    const late = await node("late");
    assert.deepEqual(late.sync.version(Z), { epoch: publisher.epoch, seq: 0 });
    publisher.offer(zone({ [n("api")]: { a: ["10.0.0.2"] }, [n("db")]: { a: ["10.0.0.3"] } }));
    for (const x of nodes) await eventually(() => assert.equal(x.authority.lookup(n("web"))?.values, undefined), 1000, 5);
    await eventually(async () => assert.equal(await late.deltas("gap"), 1), 1000, 5);
    assert.deepEqual(late.authority.lookup(n("web"))?.values, { a: ["10.0.0.1"] }, "the gap is not applied");
    // The trailing snapshot (seq 2) catches it up.
    await eventually(() => assert.deepEqual(late.sync.version(Z), { epoch: publisher.epoch, seq: 2 }), 5000);
    assert.equal(late.authority.lookup(n("web"))?.values, undefined);
    assert.deepEqual(late.authority.lookup(n("db"))?.values, { a: ["10.0.0.3"] });
    for (const x of nodes) assert.deepEqual(x.sync.version(Z), { epoch: publisher.epoch, seq: 2 });
  });
});
