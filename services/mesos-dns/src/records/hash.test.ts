import * as assert from "node:assert/strict";
import { hashString, zbase32 } from "./hash";
import { rng } from "./testutil";

describe("records/hash", () => {
  it('hashString("test") === "iffe9" (upstream TestHashString)', () => {
    assert.equal(hashString("test"), "iffe9");
  });

  it("hashes of the fake.json task IDs used in upstream canonical names", () => {
    const cases: [string, string][] = [
      ["car-store.43758382-562f-11e4-a088-c20493233aa5", "zinaz"],
      ["liquor-store.b8db9f73-562f-11e4-a088-c20493233aa5", "4dfjd"],
      ["liquor-store.b71166c1-562f-11e4-a088-c20493233aa5", "zasmd"],
    ];
    for (const [id, want] of cases) assert.equal(hashString(id), want, id);
  });

  it("z-base-32 encoding (tv42/zbase32 bit order, no padding)", () => {
    // Vectors from the z-base-32 specification (whole bytes).
    assert.equal(zbase32(new Uint8Array([])), "");
    assert.equal(zbase32(new Uint8Array([0xf0, 0xbf, 0xc7])), "6n9hq");
    assert.equal(zbase32(new Uint8Array([0xd4, 0x7a, 0x04])), "4t7ye");
    assert.equal(zbase32(new Uint8Array([0x00])), "yy");
    assert.equal(zbase32(new Uint8Array(20).fill(0xff)).length, 32);
  });

  it("5 characters from the z-base-32 alphabet; no collision among 100000 random pairs", () => {
    const r = rng(34553613);
    const rand = (): string => Math.floor(r() * 2 ** 52).toString(36) + "." + Math.floor(r() * 2 ** 52).toString(16);
    for (let i = 0; i < 100000; i++) {
      const a = rand();
      const b = rand();
      const ha = hashString(a);
      assert.match(ha, /^[ybndrfg8ejkmcpqxot1uwisza345h769]{5}$/);
      if (a !== b) assert.notEqual(ha, hashString(b), `${a} / ${b}`);
    }
  });
});
