import * as assert from "node:assert/strict";
import type { MesosDnsConfig, RecordSet } from "../model";
import { generateRecords } from "./generator";
import { parseIp } from "./ip";
import { UnusableStateError } from "./state";
import { clone, loadFake, mutateJson as mutate, rng, testConfig, type Json } from "./testutil";

/** Raw discovery names anywhere in the state (the only source of non-lower-case names). */
function discoveryNames(v: unknown, out: Set<string> = new Set()): Set<string> {
  if (Array.isArray(v)) for (const c of v) discoveryNames(c, out);
  else if (v !== null && typeof v === "object") {
    const o = v as Record<string, unknown>;
    const d = o["discovery"];
    if (d !== null && typeof d === "object" && typeof (d as Record<string, unknown>)["name"] === "string")
      out.add((d as Record<string, unknown>)["name"] as string);
    for (const c of Object.values(o)) discoveryNames(c, out);
  }
  return out;
}

function checkSet(set: RecordSet, legacy: Set<string>, ctx: string): void {
  const checked = new Set<string>();
  const nameOk = (n: string): void => {
    if (checked.has(n)) return;
    checked.add(n);
    assert.ok(n.endsWith(".") && !n.startsWith(".") && !n.includes(".."), `${ctx}: bad name ${JSON.stringify(n)}`);
    if (n !== n.toLowerCase() || /[^a-z0-9._-]/.test(n)) {
      assert.ok(
        [...legacy].some((d) => d !== "" && n.includes(d)),
        `${ctx}: name ${JSON.stringify(n)} is not lower-case / hostname-safe and comes from no discovery name`,
      );
    }
  };
  for (const [n, vs] of set.a) {
    nameOk(n);
    assert.ok(vs.length > 0 && new Set(vs).size === vs.length, `${ctx}: values of ${n}`);
    for (const v of vs) assert.deepEqual(parseIp(v), { family: 4, text: v }, `${ctx}: A ${n} ${v}`);
  }
  for (const [n, vs] of set.aaaa) {
    nameOk(n);
    assert.ok(vs.length > 0 && new Set(vs).size === vs.length, `${ctx}: values of ${n}`);
    for (const v of vs) assert.deepEqual(parseIp(v), { family: 6, text: v }, `${ctx}: AAAA ${n} ${v}`);
  }
  for (const [n, vs] of set.srv) {
    nameOk(n);
    assert.ok(vs.length > 0 && new Set(vs).size === vs.length, `${ctx}: values of ${n}`);
    for (const v of vs) {
      const m = /^(.+\.):(\d+)$/.exec(v);
      assert.ok(m && Number(m[2]) <= 65535, `${ctx}: SRV ${n} ${v}`);
      nameOk(m[1]!);
    }
  }
  const all = new Set<string>();
  for (const [t, m] of [
    ["A", set.a],
    ["AAAA", set.aaaa],
    ["SRV", set.srv],
  ] as const) {
    for (const [n, vs] of m) for (const v of vs) all.add(`${t} ${n} ${v}`);
  }
  for (const f of set.enumeration.frameworks) {
    assert.equal(typeof f.name, "string");
    for (const t of f.tasks) {
      for (const rec of t.records) {
        const k = `${rec.rtype} ${rec.name} ${rec.host}`;
        if (!all.has(k)) assert.fail(`${ctx}: enumerated ${k} missing`);
      }
    }
  }
}

describe("records/generator fuzz (seeded mutations of fake.json)", () => {
  const ITERATIONS = 1000;
  const configs: Partial<MesosDnsConfig>[] = [
    {},
    { enforceRFC952: true, ipSources: ["netinfo", "docker", "mesos", "host"], masters: ["144.76.157.37:5050", "1.2.3.4:5050"] },
    { ipSources: ["docker", "host"], listener: "2001:db8::53", masters: ["[2001:db8::1]:5050", "bogus:1", ""] },
    { ipSources: ["host"], listener: "not-an-ip" },
  ];

  it(`${ITERATIONS} mutated states: only UnusableStateError is thrown; names absolute, lower-case (except legacy discovery names), values well-formed`, function () {
    this.timeout(60000);
    const fake = loadFake() as Json;
    const r = rng(0x5eed);
    let generated = 0;
    let refused = 0;
    for (let i = 0; i < ITERATIONS; i++) {
      const state = mutate(clone(fake), r);
      const cfg = testConfig(configs[i % configs.length]);
      const resolveHost = (h: string): string[] => {
        if (h === "localhost") return ["127.0.0.1", "::1"];
        if (h.includes("example")) return ["10.1.2.3", "junk", "fd00::1"];
        if (h.startsWith("throw")) throw new Error("resolver down");
        return [];
      };
      const ctx = `iteration ${i}`;
      let out: ReturnType<typeof generateRecords> | undefined;
      try {
        out = generateRecords(state, cfg, { resolveHost, listenerIps: () => ["10.0.0.5", "127.0.0.1"] });
      } catch (err) {
        assert.ok(err instanceof UnusableStateError, `${ctx}: unexpected ${(err as Error)?.stack ?? String(err)}`);
        refused++;
        continue;
      }
      generated++;
      assert.ok(Array.isArray(out.warnings) && out.warnings.every((w) => typeof w === "string"));
      checkSet(out.records, discoveryNames(state), ctx);
    }
    // the mutations must exercise both paths
    assert.ok(generated > ITERATIONS * 0.5, `generated ${generated}`);
    assert.ok(refused > 0, `refused ${refused}`);
  });
});
