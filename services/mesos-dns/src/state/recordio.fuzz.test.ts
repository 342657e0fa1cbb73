import { strict as assert } from "node:assert";
import { seededRandom } from "@dcnet/core";
import { RecordIoError, RecordReader } from "./recordio";

/**
 * Fuzz of the SUBSCRIBE stream's RecordIO framing: random records (multi-byte UTF-8, empty, long)
 * framed, then damaged (bit flips, truncation, spliced bytes, prefixes JavaScript would read as
 * numbers: `0x10`, ` 5`, `1e3`, ``) and fed in random chunks. Contract: only RecordIoError
 * escapes; a valid stream decodes to exactly its records whatever the chunking; for any stream the
 * records returned before an error are a prefix of what a byte-at-a-time reader returns.
 * A failure names the seed and round.
 */

const PIECES = ['{"type":"HEARTBEAT"}', "ü", "😀", "\n", "12\n", "", "x".repeat(300)];
const BAD_PREFIXES = ["0x2", " 2", "2 ", "1e1", "", "+2", "-0", "2.0", "１"];

const frame = (rs: string[]): Buffer => Buffer.concat(rs.map((r) => Buffer.from(`${Buffer.byteLength(r)}\n${r}`)));

function feed(bytes: Buffer, cut: () => number): { out: string[]; err: Error | undefined } {
  const r = new RecordReader();
  const out: string[] = [];
  for (let i = 0; i < bytes.length;) {
    const n = Math.max(1, cut());
    try {
      out.push(...r.push(Buffer.from(bytes.subarray(i, i + n))));
    } catch (err) {
      return { out, err: err as Error };
    }
    i += n;
  }
  return { out, err: undefined };
}

describe("mesos-dns SUBSCRIBE RecordIO fuzz", () => {
  it("seed 161: valid and damaged streams in random chunks (2000 rounds)", () => {
    const rnd = seededRandom(161);
    for (let round = 0; round < 2000; round++) {
      const rs = Array.from({ length: Math.floor(rnd() * 5) }, () =>
        Array.from({ length: Math.floor(rnd() * 4) }, () => PIECES[Math.floor(rnd() * PIECES.length)]).join(""),
      );
      let bytes = frame(rs);
      const valid = rnd() < 0.4 || bytes.length === 0;
      if (!valid) {
        const at = Math.floor(rnd() * bytes.length);
        const r = rnd();
        if (r < 0.3) bytes[at] = bytes[at]! ^ (1 << Math.floor(rnd() * 8));
        else if (r < 0.5) bytes = bytes.subarray(0, at);
        else if (r < 0.7) bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from([Math.floor(rnd() * 256), 0x0a]), bytes.subarray(at)]);
        else bytes = Buffer.concat([bytes, Buffer.from(`${BAD_PREFIXES[Math.floor(rnd() * BAD_PREFIXES.length)]}\n{}`)]);
      }
      const where = `seed 161 round ${round} stream ${JSON.stringify(bytes.toString("latin1"))}`;
      const one = feed(bytes, () => 1);
      const chunked = feed(bytes, () => Math.floor(rnd() * 40));
      const whole = feed(bytes, () => bytes.length);
      for (const r of [one, chunked, whole]) if (r.err) assert.ok(r.err instanceof RecordIoError, `${where}: threw ${String(r.err)}`);
      if (valid) {
        for (const r of [one, chunked, whole]) assert.deepEqual([r.out, r.err], [rs, undefined], where);
        continue;
      }
      assert.equal(chunked.err === undefined, one.err === undefined, `${where}: chunking changed whether it fails`);
      for (const r of [chunked, whole]) assert.deepEqual(r.out, one.err ? one.out.slice(0, r.out.length) : one.out, where);
    }
  });

  it("a length prefix must be digits: 0x2, ' 2', 1e1, empty… are refused (the inline parser read them as numbers)", () => {
    for (const p of BAD_PREFIXES) {
      const where = JSON.stringify(p);
      assert.throws(() => new RecordReader().push(Buffer.from(`2\n{}${p}\n{}`)), RecordIoError, where);
      const r = new RecordReader();
      assert.deepEqual(r.push(Buffer.from("2\n{}")), ["{}"], `${where}: the record before is kept`);
    }
    assert.throws(() => new RecordReader().push(Buffer.from("1234567890123\n")), RecordIoError, "13 digits");
    assert.deepEqual(new RecordReader().push(Buffer.from("000000000002\n{}")), ["{}"], "12 digits with leading zeros");
  });

  it("a record longer than the limit fails at its prefix, before any of it is buffered; records before it are returned", () => {
    const r = new RecordReader(100);
    assert.deepEqual(r.push(Buffer.from("2\n{}")), ["{}"]);
    assert.throws(
      () => r.push(Buffer.from("101\n{")),
      (e: Error) => e instanceof RecordIoError && /101 bytes is over the limit of 100/.test(e.message),
    );
    assert.deepEqual(new RecordReader(100).push(Buffer.from(`100\n${"x".repeat(100)}`)), ["x".repeat(100)], "at the limit");
    assert.throws(() => new RecordReader().push(Buffer.from("999999999999\n")), RecordIoError, "the default limit (256 MiB)");
  });
});
