import { strict as assert } from "node:assert";
import { seededRandom, jsonSlots, type Json } from "@dcnet/core";
import { agentTasks } from "./agent-poller";
import { AGENT_ID, AGENT_IP, FRAMEWORK_ID, bridgeTaskV0, hostTaskV1, legacyTaskV0 } from "./testing/fixtures";

/**
 * Fuzz of the agent's GET_STATE / GET_AGENT answers (l4lb's source of local backends): mutated
 * answers (values replaced by other JSON types, fields deleted, subtrees copied). Contract:
 * `agentTasks` never throws; its tasks are non-terminal, of known frameworks, sorted by id, with
 * sane ports, and carry the agent IP it returns; that IP is the agent's or the fallback. A failure
 * names the seed and round.
 */

const VALUES: Json[] = [
  null,
  true,
  0,
  -1,
  1e308,
  "",
  "x",
  "TASK_RUNNING",
  "TASK_FINISHED",
  AGENT_ID,
  FRAMEWORK_ID,
  "10.0.4.99",
  "::1",
  [],
  {},
  [{}],
];

describe("agentTasks fuzz", () => {
  it("seed 81: mutated GET_STATE / GET_AGENT answers never throw and give sane tasks (700 rounds)", () => {
    const rnd = seededRandom(81);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    let tasksSeen = 0;
    for (let round = 0; round < 700; round++) {
      const answers: Json = [
        {
          type: "GET_STATE",
          get_state: {
            get_tasks: { launched_tasks: [hostTaskV1(), bridgeTaskV0(), legacyTaskV0()] as Json[], completed_tasks: [] },
            get_frameworks: { frameworks: [{ framework_info: { id: { value: FRAMEWORK_ID }, name: "marathon" } }] },
          },
        },
        { type: "GET_AGENT", get_agent: { agent_info: { id: { value: AGENT_ID }, hostname: AGENT_IP, port: 5051 } } },
      ];
      for (let e = 1 + Math.floor(rnd() * 4); e > 0; e--) {
        const all = jsonSlots(answers);
        const { parent, key } = pick(all);
        const r = rnd();
        if (r < 0.15 && !Array.isArray(parent)) delete parent[key as string];
        else
          (parent as Record<string | number, Json>)[key] = JSON.parse(JSON.stringify(r < 0.75 ? pick(VALUES) : pick(all).parent)) as Json;
      }
      const [state, agent] = answers as Json[];
      const where = `seed 81 round ${round} ${JSON.stringify(answers)}`;
      let out;
      try {
        out = agentTasks(state, agent, "127.0.0.9");
      } catch (err) {
        assert.fail(`${where}: threw ${(err as Error).message}`);
      }
      assert.equal(typeof out.agentIp, "string", where);
      assert.ok(out.agentIp !== "", `${where}: empty agent IP`);
      const ids = out.tasks.map((t) => t.id);
      assert.deepEqual(ids, [...ids].sort(), `${where}: not sorted`);
      for (const t of out.tasks) {
        tasksSeen++;
        assert.notEqual(t.state, "terminal", where);
        for (const p of t.ports) assert.ok(Number.isInteger(p.port) && p.port >= 0 && p.port <= 65535, `${where}: ${JSON.stringify(p)}`);
      }
    }
    assert.ok(tasksSeen > 400, `only ${tasksSeen} tasks came out: the mutations no longer reach the success path`);
  });
});
