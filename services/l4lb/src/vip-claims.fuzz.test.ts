import { strict as assert } from "node:assert";
import { seededRandom } from "@dcnet/core";
import { escapeName, unescapeName } from "./vip-claims";

/**
 * Fuzz of the VIP name ⇄ KV key token codec (`l4lb.vipname.ipv4.<escaped name>`; dcos-dns and every
 * l4lb read names back from the keys other nodes wrote). Contract: a non-empty name escapes to
 * key-safe tokens (`[A-Za-z0-9_-]`, joined by single dots, none empty) and unescapes to itself;
 * unescaping any key text (damaged escapes included) never throws.
 */

const CHARS = ["a", "Z", "0", "-", "_", ".", "/", " ", "%", "ü", "😀", "\u0000", "*", ">", "..", "_4", "_zz"];

describe("VIP name key codec fuzz", () => {
  it("seed 171: names round-trip through key-safe tokens; any key text unescapes (5000 names)", () => {
    const rnd = seededRandom(171);
    for (let round = 0; round < 5000; round++) {
      const name = Array.from({ length: 1 + Math.floor(rnd() * 10) }, () => CHARS[Math.floor(rnd() * CHARS.length)]).join("");
      const where = `seed 171 round ${round} name ${JSON.stringify(name)}`;
      const key = escapeName(name);
      assert.match(key, /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, where);
      assert.equal(unescapeName(key), name, where);
      const damaged = key.slice(0, Math.floor(rnd() * (key.length + 1))) + CHARS[Math.floor(rnd() * CHARS.length)];
      assert.equal(typeof unescapeName(damaged), "string", `${where}: damaged ${JSON.stringify(damaged)}`);
    }
  });
});
