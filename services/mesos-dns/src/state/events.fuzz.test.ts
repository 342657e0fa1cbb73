/**
 * Fuzz of the SUBSCRIBE event path: seeded mutations of a realistic event sequence (SUBSCRIBED,
 * TASK_ADDED, TASK_UPDATED to RUNNING and KILLED, AGENT_ADDED) go through LiveTasks
 * and withRunningTask against fake.json's state. Nothing may throw, and a task that comes out as
 * RUNNING only ever adds records (never removes a name or value that was served).
 */
import { strict as assert } from "node:assert";
import type { RecordSet } from "../model";
import { generateRecords } from "../records/generator";
import { clone, loadFake, mutateJson, rng, testConfig, type Json } from "../records/testutil";
import { withRunningTask } from "./incremental";
import { LiveTasks } from "./live-tasks";

/** fake.json's marathon framework and one of its agents. */
const FW = "20140703-014514-3041283216-5050-5348-0000";
const AGENT = "20140803-125133-3041283216-5050-2410-0";

function events(): Json[] {
  const status = (state: string): Json => ({
    task_id: { value: "web.1" },
    state,
    timestamp: 1.5,
    labels: { labels: [{ key: "Docker.NetworkSettings.IPAddress", value: "172.17.0.9" }] },
    container_status: { network_infos: [{ ip_addresses: [{ ip_address: "10.9.0.1" }] }] },
  });
  return [
    { type: "SUBSCRIBED", subscribed: { get_state: { get_tasks: { tasks: [] } } } },
    {
      type: "TASK_ADDED",
      task_added: {
        task: {
          name: "web",
          task_id: { value: "web.1" },
          framework_id: { value: FW },
          agent_id: { value: AGENT },
          state: "TASK_STAGING",
          resources: [{ name: "ports", type: "RANGES", ranges: { range: [{ begin: 31000, end: 31001 }] } }],
          statuses: [],
          discovery: { name: "web", ports: { ports: [{ number: 31000, name: "http", protocol: "tcp" }] } },
        },
      },
    },
    { type: "TASK_UPDATED", task_updated: { framework_id: { value: FW }, status: status("TASK_RUNNING"), state: "TASK_RUNNING" } },
    { type: "AGENT_ADDED", agent_added: { agent: {} } },
    { type: "TASK_UPDATED", task_updated: { framework_id: { value: FW }, status: status("TASK_KILLED"), state: "TASK_KILLED" } },
    { type: "HEARTBEAT" },
  ];
}

function served(set: RecordSet): Set<string> {
  const out = new Set<string>();
  for (const [t, m] of [
    ["A", set.a],
    ["AAAA", set.aaaa],
    ["SRV", set.srv],
  ] as const)
    for (const [n, vs] of m) for (const v of vs) out.add(`${t} ${n} ${v}`);
  return out;
}

describe("SUBSCRIBE events fuzz (seeded mutations of a launch/kill sequence)", () => {
  it("400 mutated sequences: nothing throws; a RUNNING task only adds records", function () {
    this.timeout(60_000);
    const cfg = testConfig({ masters: ["144.76.157.37:5050"] });
    const state = loadFake();
    const current = generateRecords(state, cfg).records;
    const before = served(current);
    const r = rng(0xe7e7);
    let running = 0;
    let added = 0;
    for (let i = 0; i < 400; i++) {
      const seq = i === 0 ? events() : (mutateJson(clone(events()), r) as Json);
      const tasks = new LiveTasks();
      for (const e of Array.isArray(seq) ? seq : [seq]) {
        const t = tasks.take(e).running;
        if (t === undefined) continue;
        running++;
        const next = withRunningTask(current, state, t, cfg, {});
        if (next === undefined) continue;
        const after = served(next);
        if (after.size > before.size) added++;
        for (const rec of before) assert.ok(after.has(rec), `sequence ${i}: ${rec} was removed`);
      }
    }
    assert.ok(running > 100, `only ${running} sequences reached RUNNING: the fuzz would not test withRunningTask`);
    assert.ok(added > 50, `only ${added} sequences added records`);
  });
});
