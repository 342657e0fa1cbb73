import { strict as assert } from "node:assert";
import { createRegistry, type BusEvent, type KvChange, type KvStore, type Registry } from "@dcnet/core";
import { buildQuery, parseQuery, TYPE_A } from "@dcnet/dns";
import { Authority } from "./authority";
import { quiet } from "./test-util";
import { type RecordValues } from "./zone";
import { encodeZone, zoneKey } from "./zone-codec";
import { deltaSubject, encodeDelta } from "./zone-delta";
import { PENDING_MAX, REBASE_OVER, ZoneSync } from "./zone-sync";

/**
 * ZoneSync against a hand-driven KV watch and delta subscription, so the order in which snapshots
 * and deltas arrive is the test's choice.
 */
const Z = "dcos.thisdcos.directory.";
const n = (s: string) => `${s}.marathon.autoip.${Z}`;

function harness() {
  let onChange: ((c: KvChange) => void) | undefined;
  let onEvent: ((e: BusEvent) => void) | undefined;
  let revision = 0;
  const kv = {
    bucket: "dns",
    watch: (cb: (c: KvChange) => void) => {
      onChange = cb;
      return { ready: Promise.resolve(), stop: () => undefined };
    },
  } as unknown as KvStore;
  const bus = {
    subscribe: (filter: string, h: (e: BusEvent) => void) => {
      assert.equal(filter, "dns.delta.>");
      onEvent = h;
      return { unsubscribe: () => (onEvent = undefined) };
    },
  };
  const authority = new Authority();
  const registry: Registry = createRegistry({ defaultMetrics: false });
  const sync = new ZoneSync(kv, authority, { logger: quiet(), registry, bus });
  const applied: string[] = [];
  sync.onApplied((z) => applied.push(z));
  return {
    authority,
    sync,
    applied,
    registry,
    snapshot(records: Record<string, RecordValues>, epoch: string | null, seq: number) {
      const value = encodeZone({ zone: Z, records: new Map(Object.entries(records)) }, epoch === null ? undefined : { epoch, seq });
      onChange!({ op: "put", entry: { key: zoneKey(Z), value, revision: ++revision, sender: "producer" } });
    },
    delta(epoch: string, seq: number, set: Record<string, RecordValues>, del: string[] = []) {
      const payload = encodeDelta({ zone: Z, epoch, seq, set: new Map(Object.entries(set)), del });
      onEvent!({ subject: deltaSubject(Z), payload, sender: "producer", sentAtMs: Date.now() });
    },
    raw(payload: string, subject = deltaSubject(Z)) {
      onEvent!({ subject, payload: Buffer.from(payload), sender: "producer", sentAtMs: Date.now() });
    },
    a(name: string): string[] | "NXDOMAIN" {
      const msg = buildQuery({ id: 0, name, qtype: TYPE_A });
      const p = parseQuery(msg);
      assert.ok(p.ok);
      const r = authority.respond(msg, p.query, p.query.name, 512, null, null);
      if (r.rcode === 3) return "NXDOMAIN";
      return (authority.lookup(name)?.values?.a ?? []).slice();
    },
    async counts(): Promise<Record<string, number>> {
      const out: Record<string, number> = {};
      for (const v of (await registry.getSingleMetric("dns_zone_deltas_total")!.get()).values) out[String(v.labels["result"])] = v.value;
      return out;
    },
    async records(): Promise<number | undefined> {
      return (await registry.getSingleMetric("dns_zone_records")!.get()).values.find((v) => v.labels["zone"] === Z)?.value;
    },
  };
}

describe("zone sync: snapshots and per-record deltas", () => {
  it("applies deltas that follow the snapshot: set, new name, removed name; repeats ignored", async () => {
    const h = harness();
    await h.sync.start();
    h.snapshot({ [n("web")]: { a: ["10.0.0.1"] }, [n("db")]: { a: ["10.0.0.2"] } }, "e1", 4);
    assert.deepEqual(h.a(n("web")), ["10.0.0.1"]);
    h.delta("e1", 5, { [n("web")]: { a: ["10.0.0.1", "10.0.0.3"] }, [n("new")]: { a: ["10.0.0.4"] } });
    h.delta("e1", 6, {}, [n("db")]);
    assert.deepEqual(h.a(n("web")), ["10.0.0.1", "10.0.0.3"]);
    assert.deepEqual(h.a(n("new")), ["10.0.0.4"]);
    assert.equal(h.a(n("db")), "NXDOMAIN");
    h.delta("e1", 6, { [n("db")]: { a: ["10.0.0.2"] } });
    h.delta("e1", 3, { [n("db")]: { a: ["10.0.0.2"] } });
    assert.equal(h.a(n("db")), "NXDOMAIN", "seq ≤ last: ignored");
    assert.deepEqual(h.sync.version(Z), { epoch: "e1", seq: 6 });
    assert.deepEqual(await h.counts(), { applied: 2, old: 2 });
    assert.equal(await h.records(), 3, "gauge follows the deltas (web 2, new 1)");
    assert.deepEqual(h.applied, [Z, Z, Z]);
  });

  it("a gap stops the deltas until a snapshot catches up; buffered deltas that follow it are applied then", async () => {
    const h = harness();
    await h.sync.start();
    h.snapshot({ [n("web")]: { a: ["10.0.0.1"] } }, "e1", 1);
    h.delta("e1", 3, { [n("three")]: { a: ["10.0.0.3"] } });
    h.delta("e1", 4, { [n("four")]: { a: ["10.0.0.4"] } });
    assert.equal(h.a(n("three")), "NXDOMAIN", "seq 2 missing: not applied");
    assert.deepEqual(h.sync.version(Z), { epoch: "e1", seq: 1 });
    // The snapshot that includes delta 2 (but not 3): 3 and 4 follow it and are applied.
    h.snapshot({ [n("web")]: { a: ["10.0.0.1"] }, [n("two")]: { a: ["10.0.0.2"] } }, "e1", 2);
    assert.deepEqual(h.a(n("two")), ["10.0.0.2"]);
    assert.deepEqual(h.a(n("three")), ["10.0.0.3"]);
    assert.deepEqual(h.a(n("four")), ["10.0.0.4"]);
    assert.deepEqual(h.sync.version(Z), { epoch: "e1", seq: 4 });
    assert.deepEqual(await h.counts(), { gap: 2, late: 2 });
    // A snapshot older than what is served (same epoch) does not roll it back; one of the version
    // served changes nothing (skipped); a newer one replaces it.
    h.snapshot({ [n("web")]: { a: ["10.0.0.1"] } }, "e1", 3);
    assert.deepEqual(h.a(n("four")), ["10.0.0.4"]);
    h.snapshot({ [n("web")]: { a: ["10.0.0.8"] } }, "e1", 4);
    assert.deepEqual(h.a(n("web")), ["10.0.0.1"], "same version: skipped");
    h.snapshot({ [n("web")]: { a: ["10.0.0.9"] } }, "e1", 5);
    assert.deepEqual(h.a(n("web")), ["10.0.0.9"]);
    assert.equal(h.a(n("four")), "NXDOMAIN", "the snapshot is the truth at its seq");
  });

  it("a new epoch (new producer) is followed only from its snapshot on", async () => {
    const h = harness();
    await h.sync.start();
    h.snapshot({ [n("web")]: { a: ["10.0.0.1"] } }, "old", 10);
    h.delta("new", 1, { [n("x")]: { a: ["10.0.0.5"] } });
    assert.equal(h.a(n("x")), "NXDOMAIN");
    h.snapshot({ [n("web")]: { a: ["10.0.0.2"] } }, "new", 0);
    assert.deepEqual(h.a(n("x")), ["10.0.0.5"], "the buffered delta follows the new snapshot");
    h.delta("old", 11, { [n("y")]: { a: ["10.0.0.6"] } });
    assert.equal(h.a(n("y")), "NXDOMAIN", "the old producer's deltas no longer apply");
    h.delta("new", 2, { [n("z")]: { a: ["10.0.0.7"] } });
    assert.deepEqual(h.a(n("z")), ["10.0.0.7"]);
    assert.deepEqual(await h.counts(), { epoch: 2, late: 1, applied: 1 });
    // A producer that sends no deltas (no epoch in its snapshot): deltas wait.
    h.snapshot({ [n("web")]: { a: ["10.0.0.3"] } }, null, 0);
    h.delta("new", 3, { [n("w")]: { a: ["10.0.0.8"] } });
    assert.equal(h.a(n("w")), "NXDOMAIN");
  });

  it("a snapshot of the version served becomes the new base once many names changed beside it", async () => {
    const h = harness();
    await h.sync.start();
    h.snapshot({}, "e1", 0);
    for (let s = 1; s <= REBASE_OVER; s++) h.delta("e1", s, { [n(`t${s}`)]: { a: ["10.0.0.1"] } });
    h.snapshot({}, "e1", REBASE_OVER);
    assert.equal(h.authority.changedNames(Z), REBASE_OVER, "not over the bound: skipped");
    h.delta("e1", REBASE_OVER + 1, { [n("extra")]: { a: ["10.0.0.2"] } }, [n("t1")]);
    const all: Record<string, RecordValues> = { [n("extra")]: { a: ["10.0.0.2"] } };
    for (let s = 2; s <= REBASE_OVER; s++) all[n(`t${s}`)] = { a: ["10.0.0.1"] };
    h.snapshot(all, "e1", REBASE_OVER + 1);
    assert.equal(h.authority.changedNames(Z), 0, "over the bound: the snapshot is the new base");
    assert.equal(h.a(n("t1")), "NXDOMAIN");
    assert.deepEqual(h.a(n("t2")), ["10.0.0.1"]);
    assert.deepEqual(h.a(n("extra")), ["10.0.0.2"]);
    assert.equal(await h.records(), REBASE_OVER);
  });

  it("deltas before the first snapshot wait for it, in a bounded buffer", async () => {
    const h = harness();
    await h.sync.start();
    h.delta("e1", 1, { [n("a")]: { a: ["10.0.0.1"] } });
    h.delta("e1", 2, { [n("b")]: { a: ["10.0.0.2"] } });
    h.snapshot({}, "e1", 1);
    assert.equal(h.a(n("a")), "NXDOMAIN", "included in the snapshot (seq 1): not re-applied");
    assert.deepEqual(h.a(n("b")), ["10.0.0.2"]);
    // Deltas 10…(PENDING_MAX + 14) wait behind a gap; the buffer keeps the newest PENDING_MAX (15 on).
    const last = 14 + PENDING_MAX;
    for (let s = 10; s <= last; s++) h.delta("e1", s, { [n(`s${s}`)]: { a: ["10.0.1.1"] } });
    h.snapshot({}, "e1", 13);
    assert.equal(h.a(n("s15")), "NXDOMAIN", "delta 14 was dropped from the buffer: nothing follows seq 13");
    assert.deepEqual(h.sync.version(Z), { epoch: "e1", seq: 13 });
    h.snapshot({ [n("s14")]: { a: ["10.0.1.1"] } }, "e1", 14);
    assert.deepEqual(h.a(n("s15")), ["10.0.1.1"]);
    assert.deepEqual(h.a(n(`s${last}`)), ["10.0.1.1"], "the newest buffered deltas were kept and applied");
    assert.deepEqual(h.sync.version(Z), { epoch: "e1", seq: last });
    assert.equal((await h.counts())["early"], 2);
  });

  it("rejects and counts unreadable deltas, keeping what was accepted; bad values are dropped as in snapshots", async () => {
    const h = harness();
    await h.sync.start();
    h.snapshot({ [n("web")]: { a: ["10.0.0.1"] } }, "e1", 0);
    h.delta("e1", 1, { [n("one")]: { a: ["10.0.0.1"] } });
    h.raw("{not json");
    h.raw(JSON.stringify({ v: 1, zone: "l4lb.thisdcos.directory.", epoch: "e1", seq: 2, set: {}, del: [] }));
    h.raw(JSON.stringify({ v: 1, zone: Z, epoch: "e1", seq: 2, set: { [n("web")]: "x" }, del: "all" }));
    assert.deepEqual(h.a(n("web")), ["10.0.0.1"]);
    assert.deepEqual(h.a(n("one")), ["10.0.0.1"]);
    assert.equal((await h.counts())["rejected"], 3);
    // Values that fail the checks are dropped, the rest of the delta applies.
    h.delta("e1", 2, { [n("two")]: { a: ["10.0.0.2", "999.1.1.1"] }, "evil.spartan.": { a: ["1.2.3.4"] } });
    assert.deepEqual(h.a(n("two")), ["10.0.0.2"]);
    assert.equal(h.authority.lookup("evil.spartan."), undefined);
    assert.deepEqual(h.sync.version(Z), { epoch: "e1", seq: 2 });
  });
});
