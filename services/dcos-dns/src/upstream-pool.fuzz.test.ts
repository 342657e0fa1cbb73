import { strict as assert } from "node:assert";
import { seededRandom } from "@dcnet/core";
import { buildQuery, ExchangeError, parseResolver, startUpstream, TYPE_A, upstreamReply, walkMessage } from "@dcnet/dns";
import { UdpUpstreamPool, sameQuestion } from "./upstream-pool";

/**
 * Fuzz of what the upstream pool reads from an upstream: its replies. Mutated replies (bit flips,
 * byte overwrites, case flips, truncation, appended garbage, section counts set to extremes).
 * Contract: `sameQuestion` is exactly "same question count; each question's label lengths equal,
 * label bytes equal or differing only in the case of an ASCII letter; type and class equal" (an
 * independent oracle), never reading past either message; a reply through the pool resolves
 * (with the client's ID and a layout that walks) or fails with an ExchangeError, nothing else.
 * A failure names the seed and round.
 */

/** The oracle: the question section of `reply` compared with that of `query`, byte by byte. */
function oracle(query: Buffer, qEnd: number, reply: Buffer): boolean {
  if (reply.length < qEnd || reply.readUInt16BE(4) !== query.readUInt16BE(4)) return false;
  let p = 12;
  while (p < qEnd) {
    const len = query[p]!;
    if (reply[p] !== len) return false;
    p++;
    if (len === 0) {
      if (!query.subarray(p, p + 4).equals(reply.subarray(p, p + 4))) return false;
      p += 4;
      continue;
    }
    for (let i = 0; i < len; i++, p++) {
      const a = String.fromCharCode(query[p]!);
      const b = String.fromCharCode(reply[p]!);
      if (a !== b && !(/[a-z]/i.test(a) && /[a-z]/i.test(b) && a.toLowerCase() === b.toLowerCase())) return false;
    }
  }
  return true;
}

function mutate(rnd: () => number, reply: Buffer, qEnd: number): Buffer {
  let b = Buffer.from(reply);
  for (let e = 1 + Math.floor(rnd() * 3); e > 0; e--) {
    const r = rnd();
    // Half the edits land in the question section (where the check looks), half anywhere.
    const at = rnd() < 0.5 ? 12 + Math.floor(rnd() * Math.max(1, qEnd - 12)) : Math.floor(rnd() * b.length);
    if (at >= b.length) continue;
    if (r < 0.3) b[at] = b[at]! ^ 0x20;
    else if (r < 0.5) b[at] = b[at]! ^ (1 << Math.floor(rnd() * 8));
    else if (r < 0.65) b[at] = Math.floor(rnd() * 256);
    else if (r < 0.75) b = b.subarray(0, at);
    else if (r < 0.85) b = Buffer.concat([b, Buffer.alloc(Math.floor(rnd() * 40), Math.floor(rnd() * 256))]);
    else if (b.length >= 12) b.writeUInt16BE([0, 1, 2, 0xffff][Math.floor(rnd() * 4)]!, 6 + 2 * Math.floor(rnd() * 3));
  }
  return Buffer.from(b);
}

const NAMES = ["web.marathon.mesos", "A-b.Z", "x", "_srv._tcp.Example.COM", "a.b.c.d.e.f"];

describe("upstream reply fuzz", () => {
  it("seed 41: sameQuestion agrees with a byte-level oracle on mutated replies (5000 rounds)", () => {
    const rnd = seededRandom(41);
    let matched = 0;
    for (let round = 0; round < 5000; round++) {
      const query = buildQuery({ id: round & 0xffff, name: NAMES[round % NAMES.length]!, qtype: rnd() < 0.5 ? TYPE_A : 33 });
      const qEnd = query.length;
      const reply = mutate(rnd, upstreamReply(query, { a: rnd() < 0.5 ? ["10.0.0.1"] : [] }), qEnd);
      const where = `seed 41 round ${round} query ${query.toString("hex")} reply ${reply.toString("hex")}`;
      let got: boolean;
      try {
        got = sameQuestion(query, qEnd, reply);
      } catch (err) {
        assert.fail(`${where}: threw ${(err as Error).message}`);
      }
      assert.equal(got, oracle(query, qEnd, reply), where);
      if (got) matched++;
    }
    assert.ok(matched > 1000 && matched < 4500, `${matched} of 5000 matched: the mutations no longer cover both outcomes`);
  });

  it("seed 42: mutated replies through the pool resolve with the client's ID and a layout, or fail with an ExchangeError", async function () {
    this.timeout(20_000);
    const rnd = seededRandom(42);
    const up = await startUpstream((m) => {
      const qEnd = m.length;
      return mutate(rnd, upstreamReply(m, { a: ["10.0.0.1", "10.0.0.2"] }), qEnd);
    });
    const pool = new UdpUpstreamPool({ socketsPerUpstream: 2 });
    const outcomes = { ok: 0, invalid: 0, timeout: 0 };
    try {
      const server = parseResolver(up.address)!;
      for (let batch = 0; batch < 5; batch++) {
        await Promise.all(
          Array.from({ length: 60 }, async (_, i) => {
            const id = batch * 1000 + i;
            const where = `seed 42 batch ${batch} query ${i}`;
            try {
              const query = buildQuery({ id, name: NAMES[i % NAMES.length]!, qtype: TYPE_A });
              const r = await pool.exchange(query, server, 150);
              assert.equal(r.reply.readUInt16BE(0), id, `${where}: client ID not restored`);
              assert.deepEqual(walkMessage(r.reply), r.layout, where);
              assert.ok(r.reply[2]! & 0x80, `${where}: not a response`);
              assert.ok(oracle(query, query.length, r.reply), `${where}: another question's reply accepted`);
              outcomes.ok++;
            } catch (err) {
              assert.ok(err instanceof ExchangeError, `${where}: ${(err as Error).name}: ${(err as Error).message}`);
              assert.ok(err.reason === "invalid" || err.reason === "timeout", `${where}: ${err.reason}`);
              outcomes[err.reason]++;
            }
          }),
        );
      }
    } finally {
      pool.close();
      await up.close();
    }
    assert.ok(outcomes.ok > 20 && outcomes.timeout > 20, JSON.stringify(outcomes));
  });
});
