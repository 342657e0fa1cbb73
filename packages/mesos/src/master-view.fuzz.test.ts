import { strict as assert } from "node:assert";
import { createLogger, seededRandom, jsonSlots, type Json } from "@dcnet/core";
import { MasterViewState } from "./master-view";
import { AGENT_ID, AGENT_IP, FRAMEWORK_ID, bridgeTaskV0, hostTaskV1 } from "./testing/fixtures";
import type { Obj } from "./json";

/**
 * Fuzz of the operator API event path (what dcos-dns and l4lb know of the cluster): a realistic
 * event sequence whose events are mutated (values replaced by other JSON types, fields deleted,
 * subtrees copied elsewhere), with garbage events mixed in. Contract: `apply` never throws; when it
 * returns false the view did not change (consumers publish only on true); an event whose body is
 * not an object changes nothing; the heartbeat stays a positive finite number; every task in the
 * view has sane ports. A failure names the seed and round.
 */

const logger = createLogger({ service: "test", level: "silent" });
const VALUES: Json[] = [
  null,
  true,
  0,
  -1,
  1e308,
  "",
  "x",
  "TASK_RUNNING",
  "TASK_KILLED",
  AGENT_ID,
  FRAMEWORK_ID,
  "10.0.4.99",
  [],
  {},
  [{}],
  { value: "v" },
];
const TYPES = [
  "SUBSCRIBED",
  "TASK_ADDED",
  "TASK_UPDATED",
  "FRAMEWORK_ADDED",
  "FRAMEWORK_UPDATED",
  "FRAMEWORK_REMOVED",
  "AGENT_ADDED",
  "AGENT_REMOVED",
  "HEARTBEAT",
];
const BODY: Record<string, string> = {
  SUBSCRIBED: "subscribed",
  TASK_ADDED: "task_added",
  TASK_UPDATED: "task_updated",
  FRAMEWORK_ADDED: "framework_added",
  FRAMEWORK_UPDATED: "framework_updated",
  FRAMEWORK_REMOVED: "framework_removed",
  AGENT_ADDED: "agent_added",
  AGENT_REMOVED: "agent_removed",
};

const agent = (id: string, ip: string): Json => ({
  agent_info: { id: { value: id }, hostname: ip, port: 5051 },
  pid: `slave(1)@${ip}:5051`,
});
const framework = (id: string, name: string): Json => ({ framework_info: { id: { value: id }, name } });

function events(): Json[] {
  const host = hostTaskV1() as { [k: string]: Json };
  const bridge = bridgeTaskV0() as { [k: string]: Json };
  const hostId = (host["task_id"] as { value: string }).value;
  const status = (state: string): Json => ({ task_id: { value: hostId }, state, timestamp: 1557000100, healthy: true });
  return [
    {
      type: "SUBSCRIBED",
      subscribed: {
        heartbeat_interval_seconds: 15,
        get_state: {
          get_agents: { agents: [agent(AGENT_ID, AGENT_IP)], recovered_agents: [{ id: { value: "S9" }, hostname: "10.0.4.9" }] },
          get_frameworks: { frameworks: [framework(FRAMEWORK_ID, "marathon")] },
          get_tasks: { tasks: [host] },
        },
      },
    },
    { type: "TASK_ADDED", task_added: { task: bridge } },
    { type: "TASK_UPDATED", task_updated: { state: "TASK_RUNNING", status: status("TASK_RUNNING") } },
    { type: "AGENT_ADDED", agent_added: { agent: agent("S2", "10.0.4.13") } },
    { type: "FRAMEWORK_UPDATED", framework_updated: { framework: framework(FRAMEWORK_ID, "marathon-user") } },
    { type: "HEARTBEAT" },
    { type: "TASK_UPDATED", task_updated: { state: "TASK_KILLED", status: status("TASK_KILLED") } },
    { type: "AGENT_REMOVED", agent_removed: { agent_id: { value: "S2" } } },
    { type: "FRAMEWORK_REMOVED", framework_removed: { framework_info: { id: { value: FRAMEWORK_ID } } } },
  ];
}

// What consumers get (snapshot()); parked tasks are internal.
const view = (s: MasterViewState): string => JSON.stringify([[...s.agents], [...s.frameworks], [...s.tasks]]);

describe("MasterViewState fuzz", () => {
  for (const seed of [71, 72]) {
    it(`seed ${seed}: mutated event sequences never throw, and false means unchanged (1500 rounds)`, () => {
      const rnd = seededRandom(seed);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
      for (let round = 0; round < 1500; round++) {
        const evs = events();
        for (let e = Math.floor(rnd() * 6); e > 0; e--) {
          const all = jsonSlots(evs);
          const { parent, key } = pick(all);
          const r = rnd();
          if (r < 0.15 && !Array.isArray(parent)) delete parent[key as string];
          else
            (parent as Record<string | number, Json>)[key] = JSON.parse(JSON.stringify(r < 0.75 ? pick(VALUES) : pick(all).parent)) as Json;
        }
        const s = new MasterViewState(logger);
        evs.forEach((ev, i) => {
          const where = `seed ${seed} round ${round} event ${i} ${JSON.stringify(ev)}`;
          const run = (event: Json, garbage: boolean): void => {
            if (event === null || typeof event !== "object" || Array.isArray(event)) return; // the stream refuses non-objects first
            const before = view(s);
            let changed: boolean;
            try {
              changed = s.apply(event as Obj);
            } catch (err) {
              assert.fail(`${where}: threw ${(err as Error).message}`);
            }
            const after = view(s);
            if (!changed) assert.equal(after, before, `${where}: apply returned false but the view changed`);
            if (garbage) assert.equal(after, before, `${where}: an event with a non-object body changed the view`);
            assert.ok(Number.isFinite(s.heartbeatSeconds) && s.heartbeatSeconds > 0, `${where}: heartbeat ${s.heartbeatSeconds}`);
            for (const t of s.tasks.values())
              for (const p of t.ports)
                assert.ok(Number.isInteger(p.port) && p.port >= 0 && p.port <= 65535, `${where}: ${JSON.stringify(p)}`);
          };
          run(ev, false);
          const type = pick(TYPES);
          if (type !== "SUBSCRIBED" && type !== "HEARTBEAT") run({ type, [BODY[type]!]: pick([null, 0, "x", [], [{}]]) }, true);
        });
      }
    });
  }
});
