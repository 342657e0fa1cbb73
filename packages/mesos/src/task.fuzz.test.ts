import { strict as assert } from "node:assert";
import { seededRandom, jsonSlots, type Json } from "@dcnet/core";
import { normaliseTask } from "./task";
import { bridgeTaskV0, ctx, hostTaskV1, legacyTaskV0, ucrBridgeTaskV1 } from "./testing/fixtures";

const VALUES: Json[] = [
  null,
  true,
  0,
  -1,
  1.5,
  65536,
  1e300,
  "",
  "tcp",
  "UDP",
  "sctp",
  "TASK_RUNNING",
  "TASK_KILLED",
  "host",
  "network-scope",
  "VIP_PORT0",
  "tcp://x:1",
  "[1-2, 3]",
  "[a-",
  "10.0.4.12",
  "::1",
  "ünï😀",
  [],
  {},
  [{}],
  { value: "id" },
  { labels: [{ key: "VIP_0", value: "/x:1" }] },
];

describe("normaliseTask fuzz: random mutations of valid tasks never throw", () => {
  for (const [name, make] of [
    ["host (v1)", hostTaskV1],
    ["bridge (v0)", bridgeTaskV0],
    ["legacy (v0)", legacyTaskV0],
    ["ucr bridge (v1)", ucrBridgeTaskV1],
  ] as const) {
    it(name, () => {
      const rnd = seededRandom(name.length * 7919);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
      for (let n = 0; n < 2000; n++) {
        const task = make() as Json;
        const edits = 1 + Math.floor(rnd() * 4);
        for (let e = 0; e < edits; e++) {
          const all = jsonSlots(task);
          if (all.length === 0) break;
          const { parent, key } = pick(all);
          const r = rnd();
          const value = JSON.parse(JSON.stringify(r < 0.7 ? pick(VALUES) : pick(all).parent)) as Json;
          if (r > 0.9 && !Array.isArray(parent)) delete parent[key as string];
          else (parent as Record<string | number, Json>)[key] = value;
        }
        const before = JSON.stringify(task);
        let out;
        try {
          out = normaliseTask(task, ctx());
        } catch (err) {
          assert.fail(`threw ${(err as Error).message} on ${before}`);
        }
        assert.equal(JSON.stringify(task), before, "input not mutated");
        if (out) {
          assert.ok(
            out.problems.every((p) => !p.startsWith("normalisation failed")),
            `${out.problems.join("; ")} on ${before}`,
          );
          for (const p of out.ports) {
            assert.ok(p.protocol === "tcp" || p.protocol === "udp");
            assert.ok(Number.isInteger(p.port) && p.port >= 0 && p.port <= 65535, JSON.stringify(p));
          }
        }
      }
    });
  }
});
