import { strict as assert } from "node:assert";
import { seededRandom } from "@dcnet/core";
import { type RecordValues } from "./zone";
import { decodeZone, encodeZone } from "./zone-codec";
import { decodeDelta, diffRecords, encodeDelta } from "./zone-delta";

/**
 * Fuzz of the per-record deltas against the snapshots they stand for (both come from the bus, and
 * a node follows either): random pairs of zones, with bad values (not addresses, bad SRV entries,
 * names outside the apex or upper-case) among good ones. Contract: the previous snapshot plus the
 * delta between the two, each as read from the bus, is exactly the next snapshot as read from the
 * bus (so a node that follows deltas serves what a node that reads snapshots serves); a damaged
 * delta throws only an Error whose message starts `delta:`. A failure names the seed and round.
 */

const APEX = "dcos.thisdcos.directory.";
const NAMES = ["a", "b", "c", "_w._tcp.m", "d.e", "Upper", "x.spartan.", ""].map((n) => (n.endsWith(".") ? n : n ? `${n}.${APEX}` : APEX));
const VALUES: RecordValues[] = [
  { a: ["10.0.0.1"] },
  { a: ["10.0.0.2", "10.0.0.1"] },
  { aaaa: ["fd00::1"] },
  { a: ["not-an-ip", "10.0.0.3"] },
  { aaaa: ["10.0.0.1"] },
  { srv: [{ target: `a.${APEX}`, port: 80 }] },
  { srv: [{ target: `a.${APEX}`, port: 70000 }] },
  {},
];

function zone(rnd: () => number): Map<string, RecordValues> {
  const m = new Map<string, RecordValues>();
  for (const n of NAMES) if (rnd() < 0.6) m.set(n, structuredClone(VALUES[Math.floor(rnd() * VALUES.length)]!));
  return m;
}

describe("zone delta fuzz", () => {
  it("seed 141: previous snapshot + delta = next snapshot, as read from the bus (3000 pairs)", () => {
    const rnd = seededRandom(141);
    for (let round = 0; round < 3000; round++) {
      const prev = zone(rnd);
      const next = zone(rnd);
      const where = `seed 141 round ${round} prev ${JSON.stringify([...prev])} next ${JSON.stringify([...next])}`;
      const { set, del } = diffRecords(prev, next);
      const base = decodeZone(encodeZone({ zone: APEX, records: prev }, { epoch: "e", seq: round + 1 }));
      const want = decodeZone(encodeZone({ zone: APEX, records: next }, { epoch: "e", seq: round + 2 }));
      const d = decodeDelta(encodeDelta({ zone: APEX, epoch: "e", seq: round + 2, set, del }));
      const got = new Map(base.zone.records);
      for (const n of d.delta.del) got.delete(n);
      for (const [n, v] of d.delta.set) got.set(n, v);
      const sorted = (m: Map<string, RecordValues>): [string, RecordValues][] => [...m].sort(([x], [y]) => (x < y ? -1 : 1));
      assert.deepEqual(sorted(got), sorted(want.zone.records), where);
    }
  });

  it("seed 142: damaged deltas are refused with a delta: error or read (3000 rounds)", () => {
    const rnd = seededRandom(142);
    for (let round = 0; round < 3000; round++) {
      const { set, del } = diffRecords(zone(rnd), zone(rnd));
      const bytes = Buffer.from(encodeDelta({ zone: APEX, epoch: "e", seq: 5, set, del }));
      for (let e = 1 + Math.floor(rnd() * 3); e > 0; e--) bytes[Math.floor(rnd() * bytes.length)] = Math.floor(rnd() * 256);
      const cut = rnd() < 0.2 ? bytes.subarray(0, Math.floor(rnd() * bytes.length)) : bytes;
      try {
        const d = decodeDelta(cut);
        for (const n of [...d.delta.set.keys(), ...d.delta.del]) assert.ok(n === n.toLowerCase() && n.endsWith(d.delta.zone), n);
      } catch (err) {
        assert.ok(
          err instanceof Error && err.message.startsWith("delta:"),
          `seed 142 round ${round} ${cut.toString("latin1")}: ${String(err)}`,
        );
      }
    }
  });
});
