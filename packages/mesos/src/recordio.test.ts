import { strict as assert } from "node:assert";
import { RecordIoDecoder, RecordIoError } from "./recordio";

const frame = (s: string): string => `${Buffer.byteLength(s)}\n${s}`;

describe("RecordIoDecoder", () => {
  it("decodes records split anywhere, including inside the prefix and inside multi-byte characters", () => {
    const records = ['{"type":"SUBSCRIBED"}', '{"type":"HEARTBEAT"}', '{"name":"ünïcödé 😀"}', "{}"];
    const bytes = Buffer.from(records.map(frame).join(""));
    for (let cut = 1; cut < 8; cut++) {
      const d = new RecordIoDecoder();
      const out: string[] = [];
      for (let i = 0; i < bytes.length; i += cut) out.push(...d.push(bytes.subarray(i, i + cut)));
      assert.deepEqual(out, records, `chunks of ${cut}`);
      assert.equal(d.pending(), 0);
    }
  });

  it("several records in one chunk; an empty record", () => {
    const d = new RecordIoDecoder();
    assert.deepEqual(d.push(Buffer.from(`${frame("a")}0\n${frame("bc")}3\nde`)), ["a", "", "bc"]);
    assert.deepEqual(d.push(Buffer.from("f")), ["def"]);
  });

  it("a length prefix longer than 12 bytes without a newline is a protocol error", () => {
    const d = new RecordIoDecoder();
    assert.deepEqual(d.push(Buffer.from("123456789012")), []);
    assert.throws(() => d.push(Buffer.from("3")), RecordIoError);
    assert.throws(() => new RecordIoDecoder().push(Buffer.from('{"type":"SUBSCRIBED"}')), RecordIoError);
  });

  it("a non-numeric length prefix is a protocol error", () => {
    assert.throws(() => new RecordIoDecoder().push(Buffer.from("12a\n")), /bad length prefix/);
    assert.throws(() => new RecordIoDecoder().push(Buffer.from("-1\n")), /bad length prefix/);
    assert.throws(() => new RecordIoDecoder().push(Buffer.from("\n")), /bad length prefix/);
  });

  it("a large record arriving in many chunks is assembled once", () => {
    const big = JSON.stringify({ data: "x".repeat(1_000_000) });
    const bytes = Buffer.from(frame(big));
    const d = new RecordIoDecoder();
    const out: string[] = [];
    for (let i = 0; i < bytes.length; i += 16_384) out.push(...d.push(bytes.subarray(i, i + 16_384)));
    assert.equal(out.length, 1);
    assert.equal(out[0], big);
  });
});
