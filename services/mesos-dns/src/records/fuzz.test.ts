import * as assert from "node:assert/strict";
import type { MesosDnsConfig, RecordSet } from "../model";
import { generateRecords } from "./generator";
import { parseIp } from "./ip";
import { UnusableStateError } from "./state";
import { loadFake, rng, testConfig } from "./testutil";

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const STRINGS = [
  "",
  " ",
  "TASK_RUNNING",
  "TASK_KILLED",
  "UPPER.Case_Name",
  "a..b",
  ".lead",
  "trail.",
  "ünïcödé 😀",
  "$$$",
  "-",
  "0",
  "x".repeat(80),
  "[31000-31001, 31005]",
  "[5]",
  "[1-2",
  "31000-31001",
  "[0-70000]",
  "[a-b]",
  "slave(1)@1.2.3.4:5051",
  "slave(1)@[2001:db8::9]:5051",
  "slave(1)@host.example:5051",
  "x@y@z",
  "master@1.2.3.4",
  "master@name:5050",
  "1.2.3.4",
  "::1",
  "::ffff:10.0.0.1",
  "999.1.1.1",
  "Docker.NetworkSettings.IPAddress",
  "MesosContainerizer.NetworkSettings.IPAddress",
  "20140803-125133-3041283216-5050-2410-0",
  "ID-WITH.DOT-S9.X",
];
const NUMBERS = [0, -1, 1, 1.5, 80, 65535, 65536, -70000, 1e300, 2 ** 53 + 2];

function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

/** All (container, key) slots of the tree. */
function slots(root: Json): { parent: Json[] | { [k: string]: Json }; key: string | number }[] {
  const out: { parent: Json[] | { [k: string]: Json }; key: string | number }[] = [];
  const walk = (v: Json): void => {
    if (Array.isArray(v)) {
      v.forEach((c, i) => {
        out.push({ parent: v, key: i });
        walk(c);
      });
    } else if (v !== null && typeof v === "object") {
      for (const k of Object.keys(v)) {
        out.push({ parent: v, key: k });
        walk(v[k]!);
      }
    }
  };
  walk(root);
  return out;
}

function mutate(state: Json, r: () => number): Json {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const n = 1 + Math.floor(r() * 6);
  let root = state;
  for (let i = 0; i < n; i++) {
    if (r() < 0.01) {
      root = pick<Json>([null, 1, "state", [], true]);
      continue;
    }
    const all = slots(root);
    if (all.length === 0) break;
    const { parent, key } = pick(all);
    const get = (): Json => (parent as Record<string | number, Json>)[key]!;
    const set = (v: Json): void => {
      (parent as Record<string | number, Json>)[key] = v;
    };
    const op = Math.floor(r() * 9);
    switch (op) {
      case 0:
        if (Array.isArray(parent)) parent.splice(key as number, 1);
        else delete parent[key as string];
        break;
      case 1:
        set(null);
        break;
      case 2:
        set(pick(STRINGS));
        break;
      case 3:
        set(pick(NUMBERS));
        break;
      case 4:
        set(pick<Json>([{}, [], true, false]));
        break;
      case 5: {
        const other = pick(all);
        set(clone((other.parent as Record<string | number, Json>)[other.key]!));
        break;
      }
      case 6:
        if (Array.isArray(parent)) parent.push(clone(get()));
        else set(pick(STRINGS));
        break;
      case 7: {
        const v = get();
        if (typeof v === "string") set(v.toUpperCase() + pick(STRINGS));
        else set(pick(STRINGS));
        break;
      }
      default: {
        const v = get();
        if (typeof v === "string" && v.length > 0) {
          const at = Math.floor(r() * v.length);
          set(v.slice(0, at) + pick(["", ".", "-", "@", ":", "[", "]", " ", "Z", "é"]) + v.slice(at + 1));
        } else set(pick(NUMBERS));
      }
    }
  }
  return root;
}

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
