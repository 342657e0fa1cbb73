import { strict as assert } from "node:assert";
import { sleep, type KvStore } from "@dcnet/core";
import { quiet } from "./test-util";
import { type RecordValues, type ZoneData } from "./zone";
import { decodeZone, zoneKey } from "./zone-codec";
import { decodeDelta, DELTA_MAX_BYTES } from "./zone-delta";
import { ZonePublisher } from "./zone-publisher";

/** The publisher against a recording KV and bus: deltas at once, snapshots rate-limited. */
const Z = "dcos.thisdcos.directory.";
const n = (s: string) => `${s}.marathon.autoip.${Z}`;
const zone = (o: Record<string, RecordValues>): ZoneData => ({ zone: Z, records: new Map(Object.entries(o)) });

function harness(intervalMs: number, withBus = true, snapshotTrailsDeltas = false) {
  const puts: { at: number; key: string; value: Uint8Array }[] = [];
  const events: { at: number; subject: string; payload: Uint8Array }[] = [];
  const kv = {
    put: async (key: string, value: Uint8Array) => {
      puts.push({ at: Date.now(), key, value });
      return puts.length;
    },
  } as unknown as KvStore;
  const bus = {
    publish: async (subject: string, payload: Uint8Array) => {
      events.push({ at: Date.now(), subject, payload });
    },
  };
  const p = new ZonePublisher(kv, { logger: quiet(), intervalMs, epoch: "ep", snapshotTrailsDeltas, ...(withBus ? { bus } : {}) });
  return { p, puts, events };
}

describe("zone publisher: per-record deltas at once, whole-zone snapshots at most once per interval", () => {
  it("sends each change at once as a delta while snapshots stay rate-limited, the trailing one carrying the last seq", async () => {
    const h = harness(300);
    const t0 = Date.now();
    h.p.offer(zone({ [n("a")]: { a: ["10.0.0.1"] } }));
    await sleep(10);
    assert.equal(h.puts.length, 1, "the first version goes out at once");
    assert.equal(h.events.length, 0, "nothing to diff the first version against");
    assert.deepEqual((({ epoch, seq }) => ({ epoch, seq }))(decodeZone(h.puts[0]!.value)), { epoch: "ep", seq: 0 });
    h.p.offer(zone({ [n("a")]: { a: ["10.0.0.1"] }, [n("b")]: { a: ["10.0.0.2"] } }));
    h.p.offer(zone({ [n("b")]: { a: ["10.0.0.3"] } }));
    h.p.offer(zone({ [n("b")]: { a: ["10.0.0.3"] } }));
    await sleep(10);
    assert.equal(h.events.length, 2, "two changes, two deltas (the repeat is no change)");
    assert.ok(
      h.events.every((e) => e.at - t0 < 100),
      "deltas go out at once",
    );
    assert.equal(h.events[0]!.subject, "dns.delta.dcos.thisdcos.directory");
    const d1 = decodeDelta(h.events[0]!.payload).delta;
    const d2 = decodeDelta(h.events[1]!.payload).delta;
    assert.deepEqual([d1.epoch, d1.seq, [...d1.set.keys()], d1.del], ["ep", 1, [n("b")], []]);
    assert.deepEqual([d2.seq, [...d2.set], d2.del], [2, [[n("b"), { a: ["10.0.0.3"] }]], [n("a")]]);
    assert.equal(h.puts.length, 1, "no second snapshot within the interval");
    await sleep(400);
    assert.equal(h.puts.length, 2, "one trailing snapshot");
    assert.ok(h.puts[1]!.at - h.puts[0]!.at >= 290);
    const snap = decodeZone(h.puts[1]!.value);
    assert.deepEqual([snap.epoch, snap.seq, [...snap.zone.records.keys()]], ["ep", 2, [n("b")]]);
    assert.equal(h.puts[1]!.key, zoneKey(Z));
    // Unchanged: neither delta nor snapshot.
    h.p.offer(zone({ [n("b")]: { a: ["10.0.0.3"] } }));
    await sleep(400);
    assert.equal(h.puts.length, 2);
    assert.equal(h.events.length, 2);
    h.p.stop();
  });

  it("snapshotTrailsDeltas: a change sent as a delta has its snapshot one interval later, even after a quiet spell", async () => {
    const h = harness(200, true, true);
    h.p.offer(zone({ [n("a")]: { a: ["10.0.0.1"] } }));
    await sleep(10);
    assert.equal(h.puts.length, 1, "the first version (no delta possible) goes out at once");
    await sleep(300);
    const t = Date.now();
    h.p.offer(zone({ [n("a")]: { a: ["10.0.0.2"] } }));
    await sleep(10);
    assert.equal(h.events.length, 1, "the delta at once");
    assert.equal(h.puts.length, 1, "the snapshot waits although the last push is more than an interval ago");
    await sleep(100);
    h.p.offer(zone({ [n("a")]: { a: ["10.0.0.3"] } }));
    await sleep(200);
    assert.equal(h.puts.length, 2);
    assert.ok(h.puts[1]!.at - t >= 190 && h.puts[1]!.at - t < 290, "one interval after the first delta, not after the last");
    assert.deepEqual([decodeZone(h.puts[1]!.value).seq, h.events.length], [2, 2]);
    h.p.stop();
  });

  it("a new epoch (leadership regained): the next version goes out as a snapshot, deltas restart at 1", async () => {
    const h = harness(50);
    h.p.offer(zone({ [n("a")]: { a: ["10.0.0.1"] } }));
    h.p.offer(zone({ [n("a")]: { a: ["10.0.0.2"] } }));
    await sleep(100);
    const first = h.p.epoch;
    h.p.newEpoch();
    assert.notEqual(h.p.epoch, first);
    h.p.offer(zone({ [n("a")]: { a: ["10.0.0.3"] } }));
    await sleep(100);
    assert.equal(h.events.length, 1, "no delta against what the previous epoch offered");
    const snap = decodeZone(h.puts[h.puts.length - 1]!.value);
    assert.deepEqual([snap.epoch, snap.seq, snap.zone.records.get(n("a"))], [h.p.epoch, 0, { a: ["10.0.0.3"] }]);
    h.p.offer(zone({ [n("a")]: { a: ["10.0.0.4"] } }));
    const d = decodeDelta(h.events[1]!.payload).delta;
    assert.deepEqual([d.epoch, d.seq], [h.p.epoch, 1]);
    h.p.stop();
  });

  it("a delta too big to send still takes its seq, so nodes wait for the snapshot", async () => {
    const h = harness(50);
    h.p.offer(zone({}));
    const big: Record<string, RecordValues> = {};
    for (let i = 0; DELTA_MAX_BYTES > 60 * i; i++) big[n(`t${i}`)] = { a: [`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`] };
    h.p.offer(zone(big));
    h.p.offer(zone({ ...big, [n("x")]: { a: ["10.9.9.9"] } }));
    await sleep(200);
    assert.equal(h.events.length, 1);
    assert.equal(decodeDelta(h.events[0]!.payload).delta.seq, 2);
    assert.equal(decodeZone(h.puts[h.puts.length - 1]!.value).seq, 2);
    h.p.stop();
  });

  it("without a bus: snapshots only, in the form older readers know", async () => {
    const h = harness(50, false);
    h.p.offer(zone({ [n("a")]: { a: ["10.0.0.1"] } }));
    h.p.offer(zone({ [n("a")]: { a: ["10.0.0.2"] } }));
    await sleep(150);
    assert.equal(h.events.length, 0);
    assert.equal(h.puts.length, 2);
    assert.equal(decodeZone(h.puts[1]!.value).epoch, null);
    h.p.stop();
  });
});
