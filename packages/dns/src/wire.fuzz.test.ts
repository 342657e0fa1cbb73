import { strict as assert } from "node:assert";
import { seededRandom } from "@dcnet/core";
import { buildQuery, decode } from "./testing";
import {
  FLAG_QR,
  HEADER_LEN,
  QueryScratch,
  RCODE_FORMERR,
  TYPE_A,
  errorReply,
  laterQuestionNames,
  nameToWire,
  optRecord,
  parseQuery,
  parseQueryInto,
  parseReason,
  skipName,
  walkMessage,
  wireKeyHash,
} from "./wire";

/**
 * Fuzz of the query parser and the message walker (the two readers of bytes from the network):
 * random bytes and mutations of valid queries (bit flips, byte overwrites, truncation, splicing,
 * count words set to extremes, compression pointers anywhere). Contract: never throws; a parse
 * result is one of the documented reasons; parseQuery and walkMessage agree on what is well formed
 * (both follow miekg's tolerance); an accepted query's name, key and hash are consistent and the
 * error reply built from it is itself a well-formed message echoing the question.
 * Each case is seeded: a failure names the seed and round to replay it.
 */

const ROUNDS = 4000;

function valids(rnd: () => number): Buffer[] {
  const label = (): string => {
    const n = 1 + Math.floor(rnd() * 12);
    let s = "";
    for (let i = 0; i < n; i++) s += "abcXYZ09-_*"[Math.floor(rnd() * 11)];
    return s;
  };
  const name = Array.from({ length: 1 + Math.floor(rnd() * 5) }, label).join(".");
  const q = buildQuery({ id: Math.floor(rnd() * 65536), name, qtype: TYPE_A, edns: rnd() < 0.5 ? { udpSize: 1232 } : undefined });
  // A second, compressed question pointing at the first name, and an answer-like record.
  const ptr = Buffer.from([0xc0, HEADER_LEN, 0, 1, 0, 1]);
  const two = Buffer.concat([q.subarray(0, 12), q.subarray(12, q.length - (q.readUInt16BE(10) ? 11 : 0)), ptr]);
  two.writeUInt16BE(2, 4);
  two.writeUInt16BE(0, 10);
  return [q, two, buildQuery({ name: ".", qtype: 255 })];
}

function mutate(rnd: () => number, base: Buffer, other: Buffer): Buffer {
  let b = Buffer.from(base);
  const edits = 1 + Math.floor(rnd() * 4);
  for (let e = 0; e < edits; e++) {
    const r = rnd();
    const at = Math.floor(rnd() * Math.max(1, b.length));
    if (r < 0.25 && b.length > 0) b[at] = b[at]! ^ (1 << Math.floor(rnd() * 8));
    else if (r < 0.45 && b.length > 0) b[at] = Math.floor(rnd() * 256);
    else if (r < 0.55) b = b.subarray(0, at);
    else if (r < 0.65) b = Buffer.concat([b.subarray(0, at), other.subarray(Math.floor(rnd() * other.length))]);
    else if (r < 0.75 && b.length >= 12) b.writeUInt16BE([0, 1, 2, 0xffff][Math.floor(rnd() * 4)]!, 4 + 2 * Math.floor(rnd() * 4));
    else if (r < 0.85 && b.length > 13) b.writeUInt16BE(0xc000 | Math.floor(rnd() * b.length), 12 + Math.floor(rnd() * (b.length - 13)));
    else if (r < 0.9) b = Buffer.concat([b, Buffer.alloc(Math.floor(rnd() * 600), Math.floor(rnd() * 256))]);
    else {
      // A long run of maximal labels (past the 255-byte name limit).
      const l = Buffer.alloc(64, 0x61);
      l[0] = 63;
      b = Buffer.concat([b.subarray(0, HEADER_LEN), l, l, l, l, l, Buffer.from([0, 0, 1, 0, 1])]);
    }
  }
  return Buffer.from(b);
}

function randomBytes(rnd: () => number): Buffer {
  const b = Buffer.alloc(Math.floor(rnd() * 80));
  for (let i = 0; i < b.length; i++) b[i] = Math.floor(rnd() * 256);
  return b;
}

function check(msg: Buffer, scratch: QueryScratch): void {
  const r = parseQuery(msg);
  const status = parseQueryInto(msg, scratch);
  const walked = walkMessage(msg);
  if (!r.ok) {
    assert.ok(["short", "response", "malformed"].includes(r.reason), r.reason);
    assert.equal(parseReason(status), r.reason);
    if (msg.length >= 2) assert.equal(r.id, msg.readUInt16BE(0));
    if (msg.length < HEADER_LEN) assert.equal(r.reason, "short");
    else if (msg.readUInt16BE(2) & FLAG_QR) assert.equal(r.reason, "response");
    else assert.equal(walked, null, "parseQuery calls it malformed, walkMessage accepts it");
    return;
  }
  assert.equal(status, 0);
  assert.notEqual(walked, null, "parseQuery accepts it, walkMessage does not");
  const q = r.query;
  assert.equal(scratch.keyHash, wireKeyHash(scratch.key, scratch.keyLen), "keyHash is not wireKeyHash(key, keyLen)");
  assert.ok(scratch.keyLen >= 1 && scratch.keyLen <= 256, `key length ${scratch.keyLen}`);
  assert.ok(q.qEnd <= msg.length);
  if (!q.hasQuestion) return;
  assert.ok(q.name.endsWith("."), q.name);
  // Later questions: at most QDCOUNT - 1, each a lower-cased absolute name like Query.name.
  const later = laterQuestionNames(msg, q.qEnd);
  assert.ok(later.length <= msg.readUInt16BE(4) - 1, `${later.length} later questions of ${msg.readUInt16BE(4)}`);
  for (const n of later) assert.ok(n.endsWith(".") && !/[A-Z]/.test(n), n);
  // The key is the lower-cased wire name: it walks as a name to exactly its length.
  const key = Buffer.from(scratch.key.subarray(0, scratch.keyLen));
  assert.equal(skipName(key, 0), key.length);
  assert.ok(!/[A-Z]/.test(key.toString("latin1")), "key is not lower-cased");
  // The error reply echoes the question and is itself a well-formed message.
  const reply = errorReply(msg, q, RCODE_FORMERR, q.edns ? optRecord(1232) : null);
  const layout = walkMessage(reply);
  assert.notEqual(layout, null, "error reply does not walk");
  assert.equal(layout!.qd, 1);
  const back = parseQuery(Buffer.from(reply).fill(0, 2, 3));
  assert.ok(back.ok, "error reply's question does not parse back");
  if (back.ok) {
    assert.equal(back.query.name, q.name);
    assert.equal(back.query.qtype, q.qtype);
    assert.equal(back.query.qclass, q.qclass);
  }
}

describe("DNS wire fuzz: parseQuery / walkMessage", () => {
  for (const seed of [1, 2, 3]) {
    it(`seed ${seed}: random bytes and mutated queries (${ROUNDS} rounds)`, () => {
      const rnd = seededRandom(seed);
      const scratch = new QueryScratch();
      for (let round = 0; round < ROUNDS; round++) {
        const vs = valids(rnd);
        const msg = rnd() < 0.2 ? randomBytes(rnd) : mutate(rnd, vs[Math.floor(rnd() * vs.length)]!, vs[Math.floor(rnd() * vs.length)]!);
        try {
          check(msg, scratch);
        } catch (err) {
          throw new Error(`seed ${seed} round ${round} msg ${msg.toString("hex")}: ${(err as Error).message}`);
        }
      }
    });
  }

  it("valid queries round-trip: name (lower-cased), type, class and EDNS as built", () => {
    const rnd = seededRandom(99);
    for (let round = 0; round < 1000; round++) {
      const labels = Array.from({ length: 1 + Math.floor(rnd() * 4) }, () =>
        Array.from({ length: 1 + Math.floor(rnd() * 20) }, () => "aB9-_x"[Math.floor(rnd() * 6)]).join(""),
      );
      const name = labels.join(".");
      const qtype = Math.floor(rnd() * 65536);
      const udpSize = Math.floor(rnd() * 65536);
      const msg = buildQuery({ id: round, name, qtype, qclass: 1, edns: rnd() < 0.5 ? { udpSize } : undefined });
      const r = parseQuery(msg);
      assert.ok(r.ok, `seed 99 round ${round}: ${name}`);
      assert.equal(r.query.name, name.toLowerCase() + ".");
      assert.equal(r.query.qtype, qtype);
      assert.equal(r.query.id, round);
      assert.equal(r.query.edns?.udpSize ?? null, msg.readUInt16BE(10) ? udpSize : null);
      assert.deepEqual(decode(msg).questions[0]!.name.toLowerCase(), name.toLowerCase() + ".");
      assert.ok(nameToWire(r.query.name)!.equals(nameToWire(name.toLowerCase())!));
    }
  });
});
