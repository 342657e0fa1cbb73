import { strict as assert } from "node:assert";
import { buildQuery } from "./testing";
import {
  PARSE_MALFORMED,
  PARSE_OK,
  PARSE_RESPONSE,
  PARSE_SHORT,
  QueryScratch,
  TYPE_A,
  TYPE_SRV,
  nameToWire,
  parseQuery,
  parseQueryInto,
  parseReason,
  plainKey,
  wireKeyHash,
} from "./wire";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const keyOf = (q: QueryScratch) => hex(q.key.subarray(0, q.keyLen));

describe("dns/wire: parseQueryInto (allocation-free parse into a reused QueryScratch)", () => {
  it("fills the Query fields like parseQuery, plus the lower-cased wire key and its hash", () => {
    const msg = buildQuery({ id: 7, name: "Web.Marathon.MESOS.", qtype: TYPE_SRV, qclass: 3, flags: 0x0110, edns: { udpSize: 4096 } });
    const q = new QueryScratch();
    assert.equal(parseQueryInto(msg, q), PARSE_OK);
    const ref = parseQuery(msg);
    assert.ok(ref.ok);
    assert.deepEqual(q.snapshot(), ref.query);
    assert.equal(q.name, "web.marathon.mesos.");
    assert.equal(keyOf(q), hex(nameToWire("web.marathon.mesos.")!));
    assert.equal(q.keyHash, wireKeyHash(q.key, q.keyLen));
    assert.ok(!q.escaped && !q.star);
    assert.deepEqual(q.edns, { udpSize: 4096, extRcode: 0, version: 0, flags: 0 });
  });

  it("resets every field on reuse (EDNS, compression, escapes, star, the cached name)", () => {
    const q = new QueryScratch();
    parseQueryInto(buildQuery({ name: "a.*.mesos.", qtype: TYPE_A, edns: { udpSize: 1232 } }), q);
    assert.ok(q.star && q.edns !== null);
    assert.equal(q.name, "a.*.mesos.");
    const escaped = Buffer.concat([
      Buffer.from([0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]),
      Buffer.from([3, 0x61, 0x2e, 0x62, 5, ...Buffer.from("mesos"), 0]),
      Buffer.from([0, 1, 0, 1]),
    ]);
    parseQueryInto(escaped, q);
    assert.ok(q.escaped && !q.star && q.edns === null);
    assert.equal(q.name, "a\\.b.mesos.");
    // Compressed: "x" + pointer to "MESOS" after the question.
    const compressed = Buffer.concat([
      Buffer.from([0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]),
      Buffer.from([1, 0x78, 0xc0, 12 + 4 + 4]),
      Buffer.from([0, 1, 0, 1, 5, ...Buffer.from("MESOS"), 0]),
    ]);
    parseQueryInto(compressed, q);
    assert.ok(!q.escaped && !q.plain && q.decompressed !== null);
    assert.equal(keyOf(q), hex(nameToWire("x.mesos.")!));
    assert.equal(q.name, "x.mesos.");
    parseQueryInto(buildQuery({ name: "leader.mesos.", qtype: TYPE_A }), q);
    assert.ok(q.plain && q.decompressed === null && !q.escaped && !q.star);
    assert.equal(q.name, "leader.mesos.");
    assert.equal(q.keyHash, wireKeyHash(q.key, q.keyLen));
    parseQueryInto(buildQuery({ name: "leader.mesos.", qtype: TYPE_A }).subarray(0, 12), q);
    assert.ok(!q.hasQuestion);
    assert.equal(q.name, "");
    assert.equal(q.keyLen, 1);
    assert.equal(q.keyHash, wireKeyHash(Uint8Array.of(0), 1));
  });

  it("a snapshot is independent of later parses", () => {
    const q = new QueryScratch();
    parseQueryInto(buildQuery({ id: 1, name: "one.example.com.", qtype: TYPE_A, edns: { udpSize: 700 } }), q);
    const held = q.snapshot();
    parseQueryInto(buildQuery({ id: 2, name: "two.mesos.", qtype: TYPE_SRV }), q);
    assert.equal(held.id, 1);
    assert.equal(held.name, "one.example.com.");
    assert.equal(held.qtype, TYPE_A);
    assert.deepEqual(held.edns, { udpSize: 700, extRcode: 0, version: 0, flags: 0 });
  });

  it("failure statuses carry the ID and map onto parseQuery's reasons", () => {
    const ok = buildQuery({ id: 0x1234, name: "a.mesos.", qtype: TYPE_A });
    const q = new QueryScratch();
    assert.equal(parseQueryInto(ok.subarray(0, 11), q), PARSE_SHORT);
    assert.equal(q.id, 0x1234);
    assert.equal(parseQueryInto(ok.subarray(0, 1), q), PARSE_SHORT);
    assert.equal(q.id, 0);
    const resp = Buffer.from(ok);
    resp[2] = resp[2]! | 0x80;
    assert.equal(parseQueryInto(resp, q), PARSE_RESPONSE);
    assert.equal(parseQueryInto(ok.subarray(0, 14), q), PARSE_MALFORMED);
    assert.equal(q.id, 0x1234);
    assert.deepEqual(
      ([PARSE_SHORT, PARSE_RESPONSE, PARSE_MALFORMED] as const).map((s) => parseReason(s)),
      ["short", "response", "malformed"],
    );
  });

  it("plainKey: the wire key of names a plain query parses to, null for the others", () => {
    assert.equal(hex(plainKey("web.marathon.mesos.")!), hex(nameToWire("web.marathon.mesos.")!));
    assert.equal(hex(plainKey(".")!), "00");
    assert.equal(plainKey("Web.mesos."), null, "upper case never matches a lower-cased query");
    assert.equal(plainKey("a*b.mesos."), null, "* takes the string path (.* stripping)");
    assert.equal(plainKey("a b.mesos."), null, "escaped on the wire");
    assert.equal(plainKey("a\\.b.mesos."), null);
    assert.equal(plainKey("x".repeat(64) + ".mesos."), null);
  });

  it("key and hash agree with plainKey/wireKeyHash for random-case queries (seeded)", () => {
    let seed = 42;
    const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296;
    const q = new QueryScratch();
    for (let i = 0; i < 500; i++) {
      const labels = Array.from({ length: 1 + Math.floor(rnd() * 4) }, () =>
        Array.from({ length: 1 + Math.floor(rnd() * 12) }, () => "abcdefghijklmnopqrstuvwxyz0123456789-_"[Math.floor(rnd() * 38)]).join(""),
      );
      const name = labels.join(".") + ".";
      const asked = [...name].map((c) => (rnd() < 0.5 ? c.toUpperCase() : c)).join("");
      assert.equal(parseQueryInto(buildQuery({ name: asked, qtype: TYPE_A }), q), PARSE_OK);
      const key = plainKey(name)!;
      assert.equal(keyOf(q), hex(key), asked);
      assert.equal(q.keyHash, wireKeyHash(key, key.length));
      assert.equal(q.name, name);
    }
  });
});
