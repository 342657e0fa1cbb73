import { strict as assert } from "node:assert";
import { randomBytes } from "node:crypto";
import { Envelope } from "@dcnet/proto";
import { encodeEnvelope, envelopeHead, signatureHint } from "./envelope-codec";
import { ALGORITHM, Rejected, Signer } from "./signing";

const KEY = "signing-test-key-0123456789";

describe("envelope codec", () => {
  it("writes protobuf the generated codec reads, signature last", () => {
    for (const size of [0, 1, 127, 128, 300, 70_000]) {
      const payload = randomBytes(size);
      const signature = randomBytes(32);
      const now = Date.now();
      const data = encodeEnvelope(envelopeHead("c1", "10.0.0.1", ALGORITHM), now, payload, signature);
      const env = Envelope.decode(data);
      assert.equal(env.clusterId, "c1");
      assert.equal(env.sender, "10.0.0.1");
      assert.equal(env.algorithm, ALGORITHM);
      assert.equal(env.sentAtMs, now);
      assert.deepEqual(Buffer.from(env.payload), payload);
      assert.deepEqual(Buffer.from(env.signature), signature);
      assert.equal(signatureHint(data), signature.readUIntBE(0, 6));
    }
  });
});

describe("signer", () => {
  const reason = (fn: () => unknown): string => {
    try {
      fn();
    } catch (err) {
      if (err instanceof Rejected) return err.reason;
      throw err;
    }
    return "accepted";
  };

  for (const verifyCache of [true, false]) {
    describe(verifyCache ? "with the verification cache" : "without the verification cache", () => {
      const a = new Signer("c1", KEY, "a", { verifyCache });
      const b = new Signer("c1", KEY, "b", { verifyCache });

      it("opens what another node sealed, with sender, time and payload", () => {
        const data = a.seal("event", "x.y", Buffer.from("hello"), 1234);
        const opened = b.open("event", "x.y", data);
        assert.equal(opened.sender, "a");
        assert.equal(opened.sentAtMs, 1234);
        assert.equal(Buffer.from(opened.payload).toString(), "hello");
        assert.equal(Buffer.from(b.open("event", "x.y", data).payload).toString(), "hello", "second open (cache hit) gives the same");
      });

      it("rejects a message moved to another place or kind", () => {
        const data = a.seal("event", "x.y", Buffer.from("hello"));
        assert.equal(
          reason(() => b.open("event", "x.z", data)),
          "bad_signature",
        );
        assert.equal(
          reason(() => b.open("kv", "x.y", data)),
          "bad_signature",
        );
      });

      it("rejects a tampered payload that keeps a valid signature (cannot poison the cache)", () => {
        const data = Buffer.from(a.seal("event", "p", Buffer.from("pay-100")));
        b.open("event", "p", data); // cached as verified
        const forged = Buffer.from(data);
        forged[forged.indexOf("pay-100") + 4] = "9".charCodeAt(0);
        assert.equal(
          reason(() => b.open("event", "p", forged)),
          "bad_signature",
        );
      });

      it("rejects another key, another cluster, unsigned and garbage", () => {
        const evil = new Signer("c1", "another-key-0123456789", "evil", { verifyCache });
        assert.equal(
          reason(() => b.open("event", "p", evil.seal("event", "p", Buffer.from("x")))),
          "bad_signature",
        );
        const foreign = new Signer("c2", KEY, "f", { verifyCache });
        assert.equal(
          reason(() => b.open("event", "p", foreign.seal("event", "p", Buffer.from("x")))),
          "foreign_cluster",
        );
        const unsigned = Envelope.encode({
          clusterId: "c1",
          sender: "a",
          sentAtMs: 1,
          payload: Buffer.from("x"),
          algorithm: ALGORITHM,
          signature: Buffer.alloc(0),
        }).finish();
        assert.equal(
          reason(() => b.open("event", "p", unsigned)),
          "unsigned",
        );
        assert.equal(
          reason(() => b.open("event", "p", Buffer.from([0xff, 0xff, 0xff]))),
          "malformed",
        );
      });
    });
  }

  it("survives random bytes without throwing anything but Rejected (fuzz)", () => {
    const s = new Signer("c1", KEY, "fuzz");
    const valid = Buffer.from(s.seal("event", "f", randomBytes(40)));
    for (let i = 0; i < 5000; i++) {
      const data = i % 2 ? randomBytes(i % 200) : Buffer.from(valid);
      if (i % 2 === 0) {
        for (let j = 0; j < 1 + (i % 4); j++) {
          const k = (i * 7 + j * 13) % data.length;
          data[k] = data[k]! ^ (1 << (j % 8));
        }
      }
      assert.notEqual(
        reason(() => s.open("event", "f", data)),
        "accepted",
      );
    }
  });
});
