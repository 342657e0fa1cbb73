import { strict as assert } from "node:assert";
import { seededRandom, jsonSlots, type Json } from "@dcnet/core";
import { agentBackends } from "./backends";
import { canonicalIp } from "./ip";
import { parseBackendsDoc } from "./publisher";
import { port, task } from "./testutil";
import { parseVipKeyId, vipKeyId } from "./vip-key";

/**
 * Fuzz of the backends document codec: documents come from the bus, written by other agents (any
 * version, any bug). Mutations of valid documents (values replaced by other JSON types, extreme
 * numbers, deleted fields, copied subtrees) and of their bytes. Contract: never throws; a refused
 * document says why; an accepted one holds only sane values (canonical IPs, ports 1–65535, finite
 * non-negative integer weights, ids that are their keys' ids), and writing it back as JSON and
 * reading it again gives the same document. A failure names the seed and round.
 */

const KEY = "backends.10_0_0_1";
const VALUES: Json[] = [
  null,
  true,
  0,
  -1,
  1.5,
  2,
  65535,
  65536,
  1e308,
  "",
  "10.0.0.1",
  "fd00::1",
  "x",
  "tcp/ip:1.2.3.4/80",
  "tcp/name:a.b/0",
  [],
  {},
  [{}],
];
// Numbers JSON.parse reads but JSON.stringify cannot write back (or writes differently).
const RAW_NUMBERS = ["1e999", "-1e999", "-0", "1e-400", "9007199254740993", "0.0000001"];

function base(): Json {
  const b = agentBackends(
    [task({ id: "t1", ports: [port(8080, ["/web:80", "10.1.0.1:53"])] }), task({ id: "t2", ports: [port(8081, ["/web:80", "bad"])] })],
    "10.0.0.1",
  );
  return JSON.parse(JSON.stringify({ v: 1, agentIp: "10.0.0.1", vips: b.vips, problems: b.problems, updatedMs: 5 })) as Json;
}

function mutated(rnd: () => number): Buffer {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const doc = base();
  for (let e = 1 + Math.floor(rnd() * 3); e > 0; e--) {
    const all = jsonSlots(doc);
    const { parent, key } = pick(all);
    const r = rnd();
    if (r < 0.1 && !Array.isArray(parent)) delete parent[key as string];
    else (parent as Record<string | number, Json>)[key] = JSON.parse(JSON.stringify(r < 0.8 ? pick(VALUES) : pick(all).parent)) as Json;
  }
  let text = JSON.stringify(doc);
  // Only numbers that are JSON values (after `:`), not digits inside strings.
  if (rnd() < 0.3) text = text.replace(/:-?\d+(\.\d+)?(e[+-]?\d+)?(?=[,}\]])/gi, (m) => (rnd() < 0.3 ? `:${pick(RAW_NUMBERS)}` : m));
  const bytes = Buffer.from(text);
  if (rnd() < 0.2) bytes[Math.floor(rnd() * bytes.length)] = Math.floor(rnd() * 256);
  return rnd() < 0.1 ? bytes.subarray(0, Math.floor(rnd() * bytes.length)) : bytes;
}

describe("l4lb backends document fuzz", () => {
  for (const seed of [21, 22]) {
    it(`seed ${seed}: mutated documents are refused with a reason or read as sane documents that round-trip (3000 rounds)`, () => {
      const rnd = seededRandom(seed);
      let accepted = 0;
      for (let round = 0; round < 3000; round++) {
        const bytes = mutated(rnd);
        const where = `seed ${seed} round ${round} doc ${bytes.toString("latin1")}`;
        let r;
        try {
          r = parseBackendsDoc(KEY, bytes);
        } catch (err) {
          assert.fail(`${where}: threw ${(err as Error).message}`);
        }
        if (!r.ok) {
          assert.ok(r.reason.length > 0, where);
          continue;
        }
        accepted++;
        const d = r.doc;
        assert.equal(d.agentIp, "10.0.0.1", where);
        assert.ok(Number.isFinite(d.updatedMs), `${where}: updatedMs ${d.updatedMs}`);
        for (const v of d.vips) {
          assert.equal(v.id, vipKeyId(v.key), where);
          assert.deepEqual(parseVipKeyId(v.id), v.key, `${where}: id ${v.id} does not read back as its key`);
          assert.ok(v.backends.length > 0, where);
          for (const b of v.backends) {
            assert.equal(canonicalIp(b.ip), b.ip, where);
            assert.ok(Number.isInteger(b.port) && b.port >= 1 && b.port <= 65535, `${where}: port ${b.port}`);
            assert.ok(Number.isInteger(b.weight) && b.weight >= 0, `${where}: weight ${b.weight}`);
            assert.equal(b.agentIp, "10.0.0.1", where);
            assert.equal(typeof b.taskId, "string", where);
          }
        }
        for (const p of d.problems) for (const f of Object.values(p)) assert.equal(typeof f, "string", where);
        const again = parseBackendsDoc(KEY, Buffer.from(JSON.stringify(d)));
        assert.ok(again.ok, `${where}: written back, refused: ${again.ok ? "" : again.reason}`);
        // Compared as written (JSON has no -0: `-0` reads back as 0).
        assert.equal(JSON.stringify(again.doc), JSON.stringify(d), `${where}: round trip`);
      }
      assert.ok(accepted > 500, `only ${accepted} accepted: the mutations no longer reach the success path`);
    });
  }
});
