import { strict as assert } from "node:assert";
import { type RecordValues } from "./zone";
import { decodeZone, encodeZone } from "./zone-codec";
import { decodeDelta, decodeDeltaShared, deltaSubject, diffRecords, encodeDelta } from "./zone-delta";

describe("zone deltas: diff, encoding and checks", () => {
  const Z = "dcos.thisdcos.directory.";
  const n = (s: string) => `${s}.${Z}`;
  const recs = (o: Record<string, RecordValues>) => new Map(Object.entries(o));

  it("diffs two versions of a zone: changed and added names in set, removed names in del", () => {
    const prev = recs({
      [n("same")]: { a: ["10.0.0.1"] },
      [n("changed")]: { a: ["10.0.0.2"] },
      [n("gone")]: { a: ["10.0.0.3"] },
      [n("srv")]: { srv: [{ target: n("same"), port: 80 }] },
    });
    const next = recs({
      [n("same")]: { a: ["10.0.0.1"] },
      [n("changed")]: { a: ["10.0.0.2", "10.0.0.4"] },
      [n("added")]: { aaaa: ["fd01::1"] },
      [n("srv")]: { srv: [{ target: n("same"), port: 81 }] },
    });
    const d = diffRecords(prev, next);
    assert.deepEqual([...d.set.keys()].sort(), [n("added"), n("changed"), n("srv")]);
    assert.deepEqual(d.del, [n("gone")]);
    const none = diffRecords(next, new Map(next));
    assert.equal(none.set.size + none.del.length, 0);
  });

  it("round-trips, on a subject per zone", () => {
    const set = recs({ [n("a")]: { a: ["10.0.0.1"], srv: [{ target: n("b"), port: 8080 }] } });
    const d = decodeDelta(encodeDelta({ zone: Z, epoch: "e1", seq: 7, set, del: [n("c")] }));
    assert.deepEqual(d.delta, { zone: Z, epoch: "e1", seq: 7, set, del: [n("c")] });
    assert.deepEqual(d.dropped, []);
    assert.equal(deltaSubject(Z), "dns.delta.dcos.thisdcos.directory");
  });

  it("checks values as snapshots do: bad values and names outside the apex are dropped", () => {
    const raw = {
      v: 1,
      zone: Z,
      epoch: "e1",
      seq: 2,
      set: {
        [n("ok")]: { a: ["10.0.0.1", "nope"], aaaa: ["10.0.0.1"] },
        "evil.spartan.": { a: ["1.2.3.4"] },
        [n("UPPER")]: { a: ["10.0.0.1"] },
      },
      del: ["evil.spartan.", n("x")],
    };
    const d = decodeDelta(Buffer.from(JSON.stringify(raw)));
    assert.deepEqual([...d.delta.set], [[n("ok"), { a: ["10.0.0.1"] }]]);
    assert.deepEqual(d.delta.del, [n("x")]);
    assert.equal(d.dropped.length, 5);
    // The snapshot of the same values drops the same ones.
    const snap = decodeZone(Buffer.from(JSON.stringify({ v: 1, zone: Z, records: raw.set })));
    assert.deepEqual([...snap.zone.records], [...d.delta.set]);
  });

  it("shares one decode per payload object between the consumers of a process", () => {
    const bytes = encodeDelta({ zone: Z, epoch: "e1", seq: 1, set: recs({ [n("a")]: { a: ["10.0.0.1"] } }), del: [] });
    const one = decodeDeltaShared(bytes);
    assert.equal(decodeDeltaShared(bytes), one, "the same object: decoded once");
    assert.notEqual(decodeDeltaShared(Buffer.from(bytes)), one, "other bytes objects decode on their own");
    assert.deepEqual(decodeDeltaShared(Buffer.from(bytes)), one);
    const bad = Buffer.from("{");
    assert.throws(() => decodeDeltaShared(bad), /not JSON/);
    assert.throws(() => decodeDeltaShared(bad), /not JSON/, "every consumer sees the rejection");
  });

  it("rejects deltas that cannot be used at all", () => {
    const ok = { v: 1, zone: Z, epoch: "e1", seq: 1, set: {}, del: [] };
    const bad = (o: unknown, re: RegExp) =>
      assert.throws(() => decodeDelta(Buffer.from(typeof o === "string" ? o : JSON.stringify(o))), re);
    bad("{", /not JSON/);
    bad([], /not an object/);
    bad({ ...ok, v: 2 }, /unknown version/);
    bad({ ...ok, zone: "spartan." }, /may not come from the bus/);
    bad({ ...ok, zone: "thisnode.thisdcos.directory." }, /may not come from the bus/);
    bad({ ...ok, epoch: "" }, /bad epoch/);
    bad({ ...ok, epoch: 3 }, /bad epoch/);
    bad({ ...ok, seq: 0 }, /bad seq/);
    bad({ ...ok, seq: 1.5 }, /bad seq/);
    bad({ ...ok, set: [] }, /set is not an object/);
    bad({ ...ok, del: [1] }, /del is not a list/);
    assert.doesNotThrow(() => decodeDelta(Buffer.from(JSON.stringify(ok))));
  });

  it("snapshots carry the epoch and seq of the last delta they include; older snapshots read as no epoch", () => {
    const z = { zone: Z, records: recs({ [n("a")]: { a: ["10.0.0.1"] } }) };
    const with_ = decodeZone(encodeZone(z, { epoch: "e9", seq: 41 }));
    assert.equal(with_.epoch, "e9");
    assert.equal(with_.seq, 41);
    assert.deepEqual([...with_.zone.records], [...z.records]);
    const without = decodeZone(encodeZone(z));
    assert.equal(without.epoch, null);
    assert.equal(without.seq, 0);
    assert.equal(
      Buffer.from(encodeZone(z)).toString(),
      `{"v":1,"zone":"${Z}","records":{"${n("a")}":{"a":["10.0.0.1"]}}}`,
      "unchanged form",
    );
    assert.throws(() => decodeZone(Buffer.from(JSON.stringify({ v: 1, zone: Z, records: {}, epoch: "e", seq: -1 }))), /bad seq/);
    assert.throws(() => decodeZone(Buffer.from(JSON.stringify({ v: 1, zone: Z, records: {}, seq: 3 }))), /bad epoch/);
  });
});
