import { strict as assert } from "node:assert";
import { buildQuery, decode } from "./testing";
import {
  TYPE_A,
  TYPE_SRV,
  Writer,
  errorReply,
  headerOnly,
  laterQuestionNames,
  nameToWire,
  parseQuery,
  skipName,
  walkMessage,
} from "./wire";

function mustParse(msg: Buffer) {
  const r = parseQuery(msg);
  assert.ok(r.ok, `parse failed: ${JSON.stringify(r)}`);
  return r.query;
}

describe("dns/wire", () => {
  it("parses header, first question and the lower-cased key", () => {
    const q = mustParse(buildQuery({ id: 7, name: "Web.Marathon.MESOS.", qtype: TYPE_SRV, qclass: 3, flags: 0x0110 }));
    assert.equal(q.id, 7);
    assert.equal(q.flags, 0x0110);
    assert.equal(q.name, "web.marathon.mesos.");
    assert.equal(q.qtype, TYPE_SRV);
    assert.equal(q.qclass, 3);
    assert.ok(q.plain && !q.escaped && q.hasQuestion);
    assert.equal(q.decompressed, null);
    assert.equal(q.edns, null);
  });

  it("parses the root name and EDNS0", () => {
    const q = mustParse(buildQuery({ name: ".", qtype: 2, edns: { udpSize: 4096, version: 0, do: true } }));
    assert.equal(q.name, ".");
    assert.deepEqual(q.edns, { udpSize: 4096, extRcode: 0, version: 0, flags: 0x8000 });
  });

  it("escapes special bytes like miekg (so they never match a record name)", () => {
    const name = Buffer.from([3, 0x61, 0x2e, 0x62, 2, 0x20, 0xff, 5, ...Buffer.from("mesos"), 0]);
    const msg = Buffer.concat([Buffer.from([0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]), name, Buffer.from([0, 1, 0, 1])]);
    const q = mustParse(msg);
    assert.equal(q.name, "a\\.b.\\ \\255.mesos.");
    assert.ok(q.escaped && !q.plain);
  });

  it("follows compression pointers in the question and rebuilds the echoed name", () => {
    // Question name = "x" + pointer to a "mesos" label placed (oddly) after the question.
    const head = Buffer.from([0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    const qname = Buffer.from([1, 0x78, 0xc0, 12 + 4 + 4]);
    const tail = Buffer.from([0, 1, 0, 1, 5, ...Buffer.from("MESOS"), 0]);
    const q = mustParse(Buffer.concat([head, qname, tail]));
    assert.equal(q.name, "x.mesos.");
    assert.ok(!q.plain);
    assert.equal(q.decompressed!.toString("latin1"), "\x01x\x05MESOS\x00");
  });

  it("rejects malformed messages", () => {
    const ok = buildQuery({ name: "a.mesos.", qtype: TYPE_A });
    assert.deepEqual(parseQuery(ok.subarray(0, 11)), { ok: false, reason: "short", id: 0x1234 });
    const qr = Buffer.from(ok);
    qr[2] = qr[2]! | 0x80;
    assert.equal((parseQuery(qr) as { reason: string }).reason, "response");
    for (const cut of [13, 14, 20, ok.length - 1]) {
      assert.equal((parseQuery(ok.subarray(0, cut)) as { reason: string }).reason, "malformed", `cut at ${cut}`);
    }
    const loop = Buffer.concat([ok.subarray(0, 12), Buffer.from([0xc0, 12, 0, 1, 0, 1])]);
    assert.equal((parseQuery(loop) as { reason: string }).reason, "malformed");
    const badLabel = Buffer.concat([ok.subarray(0, 12), Buffer.from([0x41, 0, 0, 1, 0, 1])]);
    assert.equal((parseQuery(badLabel) as { reason: string }).reason, "malformed");
    const long = Buffer.concat([
      ok.subarray(0, 12),
      Buffer.alloc(0),
      ...Array.from({ length: 5 }, () => Buffer.from([63, ...Buffer.alloc(63, 0x61)])),
      Buffer.from([0, 0, 1, 0, 1]),
    ]);
    assert.equal((parseQuery(long) as { reason: string }).reason, "malformed", "names over 255 bytes");
    const rrPastEnd = Buffer.from(ok);
    rrPastEnd.writeUInt16BE(1, 6); // ANCOUNT=1 but a partial record follows
    assert.equal((parseQuery(Buffer.concat([rrPastEnd, Buffer.from([0, 0, 1])])) as { reason: string }).reason, "malformed");
  });

  it("tolerates counts that run past the exact end (miekg: counts are a lie)", () => {
    const ok = Buffer.from(buildQuery({ name: "a.mesos.", qtype: TYPE_A }));
    ok.writeUInt16BE(3, 6);
    assert.ok(parseQuery(ok).ok);
    const noQ = ok.subarray(0, 12);
    const q = mustParse(noQ);
    assert.equal(q.hasQuestion, false);
  });

  it("nameToWire validates labels", () => {
    assert.equal(nameToWire("a.b.")!.toString("hex"), "0161016200");
    assert.equal(nameToWire(".")!.toString("hex"), "00");
    assert.equal(nameToWire("a..b."), null);
    assert.equal(nameToWire("x".repeat(64) + ".mesos."), null);
    assert.equal(nameToWire(Array.from({ length: 130 }, () => "a").join(".") + "."), null);
  });

  it("Writer compresses case-insensitively and registers suffixes", () => {
    const w = new Writer(16);
    w.pos = 12;
    w.name(nameToWire("Web.Mesos.")!);
    const at = w.pos;
    w.name(nameToWire("web.mesos.")!);
    assert.equal(w.buf.readUInt16BE(at), 0xc00c);
    const at2 = w.pos;
    w.name(nameToWire("x.mesos.")!);
    assert.equal(w.buf[at2], 1);
    assert.equal(w.buf.readUInt16BE(at2 + 2), 0xc000 | 16);
  });

  it("walkMessage and skipName find section boundaries", () => {
    const q = buildQuery({ name: "a.mesos.", qtype: TYPE_A, edns: { udpSize: 1232 } });
    const l = walkMessage(q)!;
    assert.equal(l.qd, 1);
    assert.equal(l.qEnd, 12 + 9 + 4);
    assert.equal(l.optStart, l.qEnd);
    assert.equal(l.optEnd, q.length);
    assert.equal(skipName(q, 12), 21);
    assert.equal(skipName(Buffer.from([0xc0]), 0), -1);
  });

  it("laterQuestionNames: questions 2…QDCOUNT as Query.name gives the first (pointers followed, lower-cased, escaped); a QDCOUNT past the end is cut", () => {
    const first = buildQuery({ name: "Web.Marathon.MESOS.", qtype: TYPE_A });
    const tail = (...parts: Buffer[]) => Buffer.concat(parts);
    const typeClass = Buffer.from([0, 1, 0, 1]);
    // Question 2: "api." + a pointer to "Marathon.MESOS." inside question 1 (offset 12 + 4 = 16).
    // Question 3: "a\.b.example." with a dot inside a label (escaped as in miekg).
    const msg = tail(
      first,
      nameToWire("API")!.subarray(0, 4),
      Buffer.from([0xc0, 16]),
      typeClass,
      Buffer.from([3, 0x61, 0x2e, 0x62, 7]),
      Buffer.from("example"),
      Buffer.from([0]),
      typeClass,
    );
    msg.writeUInt16BE(3, 4);
    const q = mustParse(msg);
    assert.equal(q.name, "web.marathon.mesos.");
    assert.deepEqual(laterQuestionNames(msg, q.qEnd), ["api.marathon.mesos.", "a\\.b.example."]);
    assert.deepEqual(laterQuestionNames(first, mustParse(first).qEnd), [], "one question");
    const lying = Buffer.from(first);
    lying.writeUInt16BE(5, 4);
    assert.deepEqual(laterQuestionNames(lying, mustParse(lying).qEnd), [], "QDCOUNT 5, one question in the message");
  });

  it("headerOnly and errorReply", () => {
    assert.deepEqual(decode(headerOnly(0xabcd, 1)), {
      ...decode(headerOnly(0xabcd, 1)),
      id: 0xabcd,
      qr: true,
      rcode: 1,
      questions: [],
    });
    const msg = buildQuery({ id: 9, name: "X.example.", qtype: TYPE_A, flags: 0x0110 });
    const d = decode(errorReply(msg, mustParse(msg), 5, null));
    assert.equal(d.rcode, 5);
    assert.ok(d.qr && d.rd && d.cd && !d.aa && !d.ra);
    assert.deepEqual(d.questions, [{ name: "X.example.", type: 1, class: 1 }]);
  });
});
