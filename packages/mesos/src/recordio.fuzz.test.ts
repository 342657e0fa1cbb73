import { strict as assert } from "node:assert";
import { seededRandom } from "@dcnet/core";
import { RecordIoDecoder, RecordIoError } from "./recordio";

/**
 * Fuzz of the RecordIO framing of the master's event stream: random records (multi-byte UTF-8,
 * empty, long) framed, then damaged (bit flips, truncation, spliced garbage, lying prefixes) and
 * fed in random chunks. Contract: only RecordIoError escapes; valid streams decode to exactly
 * their records whatever the chunking; for any stream the records returned before an error are a
 * prefix of what a byte-at-a-time reader returns (chunk boundaries never change what is read).
 * A failure names the seed and round.
 */

const PIECES = ['{"type":"HEARTBEAT"}', "ü", "😀", "\n", "12\n", "", "x".repeat(300), '{"a":[1,2,3]}'];

function records(rnd: () => number): string[] {
  return Array.from({ length: Math.floor(rnd() * 6) }, () =>
    Array.from({ length: Math.floor(rnd() * 4) }, () => PIECES[Math.floor(rnd() * PIECES.length)]).join(""),
  );
}

const frame = (rs: string[]): Buffer => Buffer.concat(rs.map((r) => Buffer.from(`${Buffer.byteLength(r)}\n${r}`)));

function damage(rnd: () => number, b: Buffer): Buffer {
  const out = Buffer.from(b);
  const r = rnd();
  if (out.length === 0) return Buffer.from("9".repeat(Math.floor(rnd() * 20)));
  const at = Math.floor(rnd() * out.length);
  if (r < 0.4) out[at] = out[at]! ^ (1 << Math.floor(rnd() * 8));
  else if (r < 0.6) return out.subarray(0, at);
  else if (r < 0.8) return Buffer.concat([out.subarray(0, at), Buffer.from([Math.floor(rnd() * 256), 0x0a]), out.subarray(at)]);
  else out[at] = 0x30 + Math.floor(rnd() * 10);
  return out;
}

/** Feeds `bytes` in chunks cut by `cut`; the records returned and the error thrown, if any. */
function feed(bytes: Buffer, cut: () => number): { out: string[]; err: Error | undefined } {
  const d = new RecordIoDecoder();
  const out: string[] = [];
  for (let i = 0; i < bytes.length;) {
    const n = Math.max(1, cut());
    try {
      out.push(...d.push(bytes.subarray(i, i + n)));
    } catch (err) {
      return { out, err: err as Error };
    }
    i += n;
  }
  return { out, err: undefined };
}

describe("RecordIO fuzz", () => {
  for (const seed of [31, 32]) {
    it(`seed ${seed}: valid and damaged streams in random chunks (2000 rounds)`, () => {
      const rnd = seededRandom(seed);
      for (let round = 0; round < 2000; round++) {
        const rs = records(rnd);
        const valid = rnd() < 0.4;
        const bytes = valid ? frame(rs) : damage(rnd, frame(rs));
        const where = `seed ${seed} round ${round} stream ${JSON.stringify(bytes.toString("latin1"))}`;
        const one = feed(bytes, () => 1);
        const chunked = feed(bytes, () => Math.floor(rnd() * 40));
        const whole = feed(bytes, () => bytes.length);
        for (const r of [one, chunked, whole]) {
          if (r.err) assert.ok(r.err instanceof RecordIoError, `${where}: threw ${r.err.name}: ${r.err.message}`);
        }
        if (valid) {
          assert.equal(one.err, undefined, where);
          assert.deepEqual(one.out, rs, where);
          assert.deepEqual(chunked.out, rs, where);
          assert.deepEqual(whole.out, rs, where);
          continue;
        }
        assert.equal(chunked.err === undefined, one.err === undefined, `${where}: chunking changed whether it fails`);
        for (const r of [chunked, whole]) {
          if (one.err === undefined) assert.deepEqual(r.out, one.out, where);
          else assert.deepEqual(r.out, one.out.slice(0, r.out.length), `${where}: not a prefix`);
        }
      }
    });
  }
});
