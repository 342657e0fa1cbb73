import { strict as assert } from "node:assert";
import { seededRandom } from "@dcnet/core";
import { type RecordValues } from "./zone";
import { busZoneAllowed, decodeZone, encodeZone } from "./zone-codec";

describe("zones on the bus: encoding and checks", () => {
  const zone = (apex: string, recs: Record<string, RecordValues>) => ({ zone: apex, records: new Map(Object.entries(recs)) });

  it("round-trips, and deflates big zones", () => {
    const recs: Record<string, RecordValues> = {};
    for (let i = 0; i < 2000; i++) recs[`t${i}.marathon.autoip.dcos.thisdcos.directory.`] = { a: [`10.0.${i >> 8}.${i & 255}`] };
    recs["_t._tcp.marathon.dcos.thisdcos.directory."] = { srv: [{ target: "t1.marathon.autoip.dcos.thisdcos.directory.", port: 80 }] };
    const bytes = encodeZone(zone("dcos.thisdcos.directory.", recs));
    assert.equal(bytes[0], 1, "deflated");
    const d = decodeZone(bytes);
    assert.equal(d.zone.records.size, 2001);
    assert.deepEqual(d.zone.records.get("t5.marathon.autoip.dcos.thisdcos.directory."), { a: ["10.0.0.5"] });
    assert.equal(d.zone.records.get("_t._tcp.marathon.dcos.thisdcos.directory.")!.srv![0]!.port, 80);
    assert.deepEqual(d.dropped, []);
  });

  it("rejects zones the bus may not carry, drops values that are not addresses", () => {
    assert.ok(!busZoneAllowed("spartan."));
    assert.ok(!busZoneAllowed("thisnode.thisdcos.directory."));
    assert.throws(() => decodeZone(encodeZone(zone("spartan.", {}))), /may not come from the bus/);
    assert.throws(() => decodeZone(Buffer.from("{")), /not JSON/);
    assert.throws(() => decodeZone(Buffer.from('{"v":2}')), /unknown version/);
    const d = decodeZone(
      encodeZone(
        zone("dcos.thisdcos.directory.", {
          "ok.m.autoip.dcos.thisdcos.directory.": { a: ["10.0.0.1", "not-an-ip"], aaaa: ["10.0.0.1"] },
          "evil.spartan.": { a: ["1.2.3.4"] },
        }),
      ),
    );
    assert.deepEqual(d.zone.records.get("ok.m.autoip.dcos.thisdcos.directory."), { a: ["10.0.0.1"] });
    assert.ok(!d.zone.records.has("evil.spartan."));
    assert.equal(d.dropped.length, 3);
  });

  it("fuzz: random mutations either decode or throw an Error, nothing else", () => {
    const rnd = seededRandom(7);
    const base = Buffer.from(encodeZone(zone("dcos.thisdcos.directory.", { "a.b.autoip.dcos.thisdcos.directory.": { a: ["10.0.0.1"] } })));
    for (let i = 0; i < 3000; i++) {
      const b = Buffer.from(base);
      for (let k = 0; k < 1 + Math.floor(rnd() * 4); k++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
      try {
        decodeZone(b);
      } catch (err) {
        assert.ok(err instanceof Error);
      }
    }
  });
});
