import { strict as assert } from "node:assert";
import { seededRandom } from "@dcnet/core";
import { canonicalIp } from "./ip";
import { parseVipLabel, type VipTarget } from "./vip-label";

/**
 * Fuzz of the VIP label grammar (labels are written by whoever deploys an app): random strings and
 * mutations of valid labels. Contract: never throws; a refusal names the label key and its value;
 * an accepted label has an integer port 1–65535, a canonical IP or a non-empty name without
 * `:`, `[`, `]`; and the accepted target printed back as a label parses to the same target.
 * A failure names the seed and round.
 */

const VALID = ["/web:80", "web:8080", "10.0.0.1:53", "fd00::1:80", "[fd00::1]:443", "/grp/app.x:65535", " 1.2.3.4:1 ", "a:1"];
const ALPHABET = ["/", ":", "[", "]", ".", "0", "9", "a", "Z", " ", "\t", "-", "%", "ü", "😀", "\u0000", "tcp://", "65536", "::", "ffff"];

const print = (v: VipTarget): string =>
  v.kind === "name" ? `/${v.name}:${v.port}` : v.family === 6 ? `[${v.ip}]:${v.port}` : `${v.ip}:${v.port}`;

function mutate(rnd: () => number, s: string): string {
  const edits = 1 + Math.floor(rnd() * 3);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(rnd() * (s.length + 1));
    const r = rnd();
    if (r < 0.3) s = s.slice(0, at) + ALPHABET[Math.floor(rnd() * ALPHABET.length)] + s.slice(at);
    else if (r < 0.5) s = s.slice(0, at) + s.slice(at + 1);
    else if (r < 0.65) s = s.slice(0, at);
    else if (r < 0.8) s = s.slice(0, at) + VALID[Math.floor(rnd() * VALID.length)]!.slice(Math.floor(rnd() * 6));
    else if (r < 0.9) s = s.slice(0, at) + "9".repeat(Math.floor(rnd() * 30)) + s.slice(at);
    else s = s.slice(0, at) + "a".repeat(Math.floor(rnd() * 5000)) + s.slice(at);
  }
  return s;
}

describe("VIP label fuzz", () => {
  for (const seed of [11, 12]) {
    it(`seed ${seed}: random and mutated labels either parse to a sane target that round-trips or are refused naming the label (3000 rounds)`, () => {
      const rnd = seededRandom(seed);
      let accepted = 0;
      for (let round = 0; round < 3000; round++) {
        const value =
          rnd() < 0.15
            ? Array.from({ length: Math.floor(rnd() * 12) }, () => ALPHABET[Math.floor(rnd() * ALPHABET.length)]).join("")
            : mutate(rnd, VALID[Math.floor(rnd() * VALID.length)]!);
        const where = `seed ${seed} round ${round} value ${JSON.stringify(value)}`;
        let r;
        try {
          r = parseVipLabel({ key: "VIP_7", value });
        } catch (err) {
          assert.fail(`${where}: threw ${(err as Error).message}`);
        }
        if (!r.ok) {
          assert.ok(r.reason.startsWith(`VIP_7 value ${JSON.stringify(value)} `), `${where}: ${r.reason}`);
          continue;
        }
        accepted++;
        const v = r.vip;
        assert.ok(Number.isInteger(v.port) && v.port >= 1 && v.port <= 65535, `${where}: port ${v.port}`);
        if (v.kind === "ip") assert.equal(canonicalIp(v.ip), v.ip, `${where}: ip not canonical`);
        else assert.ok(v.name !== "" && !/[:[\]]/.test(v.name), `${where}: name ${JSON.stringify(v.name)}`);
        const back = parseVipLabel({ key: "VIP_7", value: print(v) });
        assert.ok(back.ok, `${where}: ${print(v)} does not parse back`);
        assert.deepEqual(back.vip, v, `${where}: round trip`);
      }
      assert.ok(accepted > 300, `only ${accepted} accepted: the mutations no longer reach the success path`);
    });
  }
});
