import { strict as assert } from "node:assert";
import { buildQuery } from "./testing";
import { QueryScratch, TYPE_A, nameToWire, parseQueryInto, wireKeyHash } from "./wire";
import { WireKeyTable } from "./wire-table";

const keyOf = (name: string) => new Uint8Array(nameToWire(name)!);
const valueOf = (t: WireKeyTable, s: number, n: number) => Buffer.from(t.data.subarray(t.valueAt(s), t.valueAt(s) + n)).toString();

describe("dns/wire-table: WireKeyTable (lookups by lower-cased wire name)", () => {
  it("finds an entry from a parsed query's key, whatever the query's case", () => {
    const t = new WireKeyTable();
    const k = keyOf("web.marathon.mesos.");
    t.set(k, k.length, wireKeyHash(k, k.length), Buffer.from("abc"), 3, 4);
    const q = new QueryScratch();
    parseQueryInto(buildQuery({ name: "WEB.Marathon.mesos.", qtype: TYPE_A }), q);
    const s = t.find(q.key, q.keyLen, q.keyHash);
    assert.ok(s >= 0);
    assert.equal(valueOf(t, s, 3), "abc");
    assert.deepEqual([t.count0(s), t.count1(s)], [3, 4]);
    parseQueryInto(buildQuery({ name: "web.marathon.mesos.x.", qtype: TYPE_A }), q);
    assert.equal(t.find(q.key, q.keyLen, q.keyHash), -1);
  });

  it("agrees with a Map through sets, replacements, deletes, rebuilds and clear", () => {
    const t = new WireKeyTable(4);
    const ref = new Map<string, string>();
    let seed = 7;
    const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n;
    for (let step = 0; step < 20_000; step++) {
      const name = `n${rnd(300)}.example.`;
      const k = keyOf(name);
      const h = wireKeyHash(k, k.length);
      const op = rnd(10);
      if (op < 5) {
        const v = `${name}:${step}`;
        t.set(k, k.length, h, Buffer.from(v), v.length, step, step * 2 + 1);
        ref.set(name, v);
      } else if (op < 9) {
        assert.equal(t.deleteKey(k), ref.delete(name));
      } else if (step % 5000 === 0) {
        t.clear();
        ref.clear();
      }
      assert.equal(t.size, ref.size);
    }
    for (let i = 0; i < 300; i++) {
      const name = `n${i}.example.`;
      const k = keyOf(name);
      const s = t.find(k, k.length, wireKeyHash(k, k.length));
      const want = ref.get(name);
      if (want === undefined) assert.equal(s, -1, name);
      else {
        assert.equal(valueOf(t, s, t.count0(s)), want);
        assert.equal(t.count2(s), t.count1(s) * 2 + 1, "the third int survives rebuilds");
      }
    }
  });
});
