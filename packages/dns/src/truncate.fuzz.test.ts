import { strict as assert } from "node:assert";
import { seededRandom } from "@dcnet/core";
import { buildQuery, upstreamReply } from "./testing";
import { truncateRelayed } from "./truncate";
import { TYPE_A, walkMessage } from "./wire";

/**
 * Fuzz of cutting a relayed reply (bytes from an upstream) to the client's size: replies with up to
 * 300 answers, an OPT or not, then damaged (bit flips, counts set to extremes, truncation, appended
 * bytes); only replies that walk are relayed. Contract: the result is within the limit when it was
 * cut, walks, its answers are a prefix of the reply's answers byte for byte, its answer count is
 * what it holds, and TC is set exactly when asked for on a cut reply. A failure names the seed and
 * round.
 */

describe("relayed reply truncation fuzz", () => {
  it("seed 181: cut replies fit, walk, and keep a prefix of the answers (3000 rounds)", () => {
    const rnd = seededRandom(181);
    let cut = 0;
    for (let round = 0; round < 3000; round++) {
      const q = buildQuery({ id: round & 0xffff, name: `n${round}.example.com`, qtype: TYPE_A });
      const n = Math.floor(rnd() * 300);
      let reply = upstreamReply(q, {
        a: Array.from({ length: n }, (_, i) => `10.0.${i >> 8}.${i & 255}`),
        optSize: rnd() < 0.5 ? 4096 : undefined,
      });
      for (let e = Math.floor(rnd() * 3); e > 0; e--) {
        const r = rnd();
        const at = Math.floor(rnd() * reply.length);
        if (r < 0.4) reply[at] = reply[at]! ^ (1 << Math.floor(rnd() * 8));
        else if (r < 0.6) reply.writeUInt16BE([0, 1, 2, 0xffff][Math.floor(rnd() * 4)]!, 4 + 2 * Math.floor(rnd() * 4));
        else if (r < 0.8) reply = Buffer.from(reply.subarray(0, at));
        else reply = Buffer.concat([reply, Buffer.alloc(Math.floor(rnd() * 30), Math.floor(rnd() * 256))]);
      }
      const layout = walkMessage(reply);
      if (!layout) continue;
      const limit = 512 + Math.floor(rnd() * 3600);
      const setTc = rnd() < 0.8;
      const keepOpt = rnd() < 0.5;
      const where = `seed 181 round ${round} limit ${limit} tc ${setTc} opt ${keepOpt} reply ${reply.toString("hex")}`;
      const original = Buffer.from(reply);
      let out;
      try {
        out = truncateRelayed(reply, layout, limit, setTc, keepOpt);
      } catch (err) {
        assert.fail(`${where}: threw ${(err as Error).message}`);
      }
      assert.ok(original.equals(reply), `${where}: the reply was modified`);
      const got = walkMessage(out.buf);
      assert.notEqual(got, null, `${where}: result does not walk`);
      if (!out.truncated) continue;
      cut++;
      assert.ok(out.buf.length <= limit, `${where}: ${out.buf.length} bytes`);
      assert.equal(got!.anEnds.length, out.buf.readUInt16BE(6), `${where}: answer count`);
      assert.ok(got!.anEnds.length <= layout.anEnds.length, where);
      const k = got!.anEnds.length;
      const end = k > 0 ? layout.anEnds[k - 1]! : layout.qEnd;
      assert.ok(out.buf.subarray(12, end).equals(reply.subarray(12, end)), `${where}: answers are not a prefix`);
      assert.equal((out.buf[2]! & 0x02) !== 0, setTc, `${where}: TC`);
    }
    assert.ok(cut > 300, `only ${cut} replies were cut`);
  });
});
