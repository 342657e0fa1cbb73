import { strict as assert } from "node:assert";
import * as zlib from "node:zlib";
import { seededRandom, jsonSlots, type Json } from "@dcnet/core";
import { buildQuery, nameToWire, parseQuery, walkMessage, TYPE_A, TYPE_AAAA, TYPE_ANY, TYPE_SRV } from "@dcnet/dns";
import { Authority } from "./authority";
import { busZoneAllowed, decodeZone, encodeZone } from "./zone-codec";

/**
 * Fuzz of the zone codec: zones come from the bus, written by other nodes. The zone document is
 * mutated as JSON (values replaced by other types, extreme numbers, odd names, fields deleted,
 * subtrees copied) and as bytes (raw and deflated, bit flips, truncation). Contract: decodeZone
 * throws only an Error whose message starts `zone:`; an accepted zone holds only what the bus may
 * carry (allowed apex, lower-case names inside it, addresses of their family, SRV ports 0–65535);
 * it re-encodes and decodes to itself; and serving it answers every question about its names with
 * a well-formed reply (NOERROR or NXDOMAIN). A failure names the seed and round.
 */

const APEX = "dcos.thisdcos.directory.";
const VALUES: Json[] = [
  null,
  true,
  0,
  -1,
  65535,
  65536,
  1.5,
  1e999 as number,
  "",
  "10.0.0.1",
  "fd00::1",
  "999.1.1.1",
  "A.B.",
  "x..dcos.thisdcos.directory.",
  `${"a".repeat(70)}.${APEX}`,
  "spartan.",
  "thisnode.thisdcos.directory.",
  [],
  {},
  [""],
  [["t.", 80]],
  [["", 1]],
  [["t.", -1]],
];
const NAMES = [
  `web.marathon.autoip.${APEX}`,
  `Web.${APEX}`,
  APEX,
  `..${APEX}`,
  `${"a".repeat(70)}.${APEX}`,
  `${"b.".repeat(130)}${APEX}`,
  "evil.spartan.",
  "__proto__",
  "constructor",
  `_x._tcp.${APEX}`,
];

function base(rnd: () => number): { [k: string]: Json } {
  const records: { [k: string]: Json } = {
    [`a.marathon.autoip.${APEX}`]: { a: ["10.0.0.1", "10.0.0.2"] },
    [`six.${APEX}`]: { aaaa: ["fd00::1"] },
    [`_web._tcp.marathon.${APEX}`]: {
      srv: [
        [`a.marathon.autoip.${APEX}`, 80],
        [`six.${APEX}`, 443],
      ],
    },
  };
  if (rnd() < 0.05) for (let i = 0; i < 1200; i++) records[`t${i}.marathon.autoip.${APEX}`] = { a: [`10.1.${i >> 8}.${i & 255}`] };
  return rnd() < 0.5 ? { v: 1, zone: APEX, records } : { v: 1, zone: APEX, epoch: "e1", seq: 3, records };
}

function mutated(rnd: () => number): Buffer {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const doc = base(rnd);
  const recs = doc["records"] as { [k: string]: Json };
  for (let e = Math.floor(rnd() * 4); e > 0; e--) {
    const r = rnd();
    if (r < 0.2) recs[pick(NAMES)] = JSON.parse(JSON.stringify(pick([{ a: ["10.9.9.9"] }, { srv: [["x.", 1]] }, ...VALUES]))) as Json;
    else {
      const all = jsonSlots(doc);
      const { parent, key } = pick(all);
      if (r < 0.3 && !Array.isArray(parent)) delete parent[key as string];
      else
        (parent as Record<string | number, Json>)[key] = JSON.parse(
          JSON.stringify(r < 0.85 ? pick(VALUES) : pick(all).parent) ?? "null",
        ) as Json;
    }
  }
  const json = Buffer.from(JSON.stringify(doc));
  let bytes = json.length > 16 * 1024 || rnd() < 0.1 ? Buffer.concat([Buffer.from([1]), zlib.deflateRawSync(json)]) : json;
  const r = rnd();
  if (r < 0.1) {
    const at = Math.floor(rnd() * bytes.length);
    bytes[at] = bytes[at]! ^ (1 << Math.floor(rnd() * 8));
  } else if (r < 0.15) bytes = bytes.subarray(0, Math.floor(rnd() * bytes.length));
  return bytes;
}

describe("zone codec fuzz", function () {
  this.timeout(20_000);
  for (const seed of [101, 102]) {
    it(`seed ${seed}: mutated zones are refused with a zone: error, or accepted sane, stable and servable (400 rounds)`, () => {
      const rnd = seededRandom(seed);
      let accepted = 0;
      for (let round = 0; round < 400; round++) {
        const bytes = mutated(rnd);
        const where = `seed ${seed} round ${round} ${bytes[0] === 1 ? "(deflated)" : bytes.toString().slice(0, 600)}`;
        let d;
        try {
          d = decodeZone(bytes);
        } catch (err) {
          assert.ok(err instanceof Error && err.message.startsWith("zone:"), `${where}: threw ${String(err)}`);
          continue;
        }
        accepted++;
        const apex = d.zone.zone;
        assert.ok(busZoneAllowed(apex), where);
        for (const [name, v] of d.zone.records) {
          assert.ok(name === name.toLowerCase() && (name === apex || name.endsWith(`.${apex}`)), `${where}: name ${name}`);
          for (const ip of v.a ?? []) assert.match(ip, /^\d+\.\d+\.\d+\.\d+$/, where);
          for (const ip of v.aaaa ?? []) assert.ok(ip.includes(":"), where);
          for (const s of v.srv ?? []) assert.ok(Number.isInteger(s.port) && s.port >= 0 && s.port <= 65535, where);
        }
        const again = decodeZone(encodeZone(d.zone, d.epoch === null ? undefined : { epoch: d.epoch, seq: d.seq }));
        assert.deepEqual([...again.zone.records], [...d.zone.records], `${where}: records do not round-trip`);
        assert.deepEqual([again.epoch, again.seq, again.dropped], [d.epoch, d.seq, []], where);
        const auth = new Authority();
        auth.setZone(d.zone);
        // The first 40 names (a big zone's other names are alike).
        for (const name of [...d.zone.records.keys()].slice(0, 40)) {
          if (!nameToWire(name)) continue;
          for (const qtype of [TYPE_A, TYPE_AAAA, TYPE_SRV, TYPE_ANY]) {
            const msg = buildQuery({ id: 9, name, qtype });
            const p = parseQuery(msg);
            assert.ok(p.ok, where);
            let reply;
            try {
              reply = auth.respond(msg, p.query, p.query.name, 512, null, null);
            } catch (err) {
              assert.fail(`${where}: answering ${name} type ${qtype} threw ${(err as Error).message}`);
            }
            assert.notEqual(walkMessage(reply.buf), null, `${where}: reply for ${name} type ${qtype} does not walk`);
            assert.ok([0, 3].includes(reply.buf[3]! & 0xf), `${where}: rcode ${reply.buf[3]! & 0xf} for ${name}`);
          }
        }
      }
      assert.ok(accepted > 120, `only ${accepted} accepted`);
    });
  }
});
