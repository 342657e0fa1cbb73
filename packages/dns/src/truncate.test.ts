import { strict as assert } from "node:assert";
import { buildQuery, decode, upstreamReply } from "./testing";
import { truncateRelayed } from "./truncate";
import { TYPE_A, walkMessage } from "./wire";

describe("truncateRelayed", () => {
  it("a kept answer whose name points forward into what is cut: the cut reply still parses (fuzz seed 181)", () => {
    const q = buildQuery({ id: 7, name: "web.example.com", qtype: TYPE_A });
    const reply = upstreamReply(q, { a: Array.from({ length: 60 }, (_, i) => `10.0.0.${i}`) });
    // An additional record at the end with its own name; the first answer's owner points at it.
    const extraName = Buffer.from([1, 120, 7, ...Buffer.from("example"), 3, ...Buffer.from("com"), 0]);
    const extra = Buffer.concat([extraName, Buffer.from([0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 10, 9, 9, 9])]);
    const at = reply.length;
    const msg = Buffer.concat([reply, extra]);
    msg.writeUInt16BE(1, 10);
    const firstAnswer = q.length; // the reply's question ends where the query's did (no OPT)
    msg.writeUInt16BE(0xc000 | at, firstAnswer);
    const layout = walkMessage(msg);
    assert.ok(layout, "the reply itself parses (forward pointers are read, as by miekg)");
    assert.equal(decode(msg).answers[0]!.name, "x.example.com.");
    const out = truncateRelayed(msg, layout, 512, true, false);
    assert.ok(out.truncated);
    assert.ok(out.buf.length <= 512);
    assert.notEqual(walkMessage(out.buf), null, "the cut reply parses");
    const d = decode(out.buf);
    assert.equal(d.id, 7);
    assert.equal(d.tc, true);
    assert.equal(d.questions[0]!.name, "web.example.com.");
  });
});
