/**
 * Fuzz of the SUBSCRIBE event path: seeded mutations of a realistic event sequence (SUBSCRIBED
 * with a running instance of the app, TASK_ADDED of a second one, TASK_UPDATED to RUNNING and
 * KILLED, AGENT_ADDED) go through LiveTasks, withRunningTask and withoutStoppedTask against
 * fake.json's state (with the first instance). Nothing may throw; a task that
 * comes out as RUNNING only ever adds records (never removes a name or value that was served), a
 * task that comes out as stopped only ever removes them (never adds one, never leaves a name
 * without values); the unmutated sequence ends with the set it started from.
 */
import { strict as assert } from "node:assert";
import type { RecordSet } from "../model";
import { generateRecords } from "../records/generator";
import { clone, loadFake, mutateJson, rng, testConfig, type Json } from "../records/testutil";
import { withoutStoppedTask, withRunningTask } from "./incremental";
import { LiveTasks, toV0 } from "./live-tasks";

/** fake.json's marathon framework and one of its agents. */
const FW = "20140703-014514-3041283216-5050-5348-0000";
const AGENT = "20140803-125133-3041283216-5050-2410-0";

const status = (id: string, state: string): Json => ({
  task_id: { value: id },
  state,
  timestamp: 1.5,
  labels: { labels: [{ key: "Docker.NetworkSettings.IPAddress", value: "172.17.0.9" }] },
  container_status: { network_infos: [{ ip_addresses: [{ ip_address: "10.9.0.1" }] }] },
});
/** An instance of app `web` (v1); the two instances share the app's names and address. */
const webTask = (id: string, state: string, port: number): { [k: string]: Json } => ({
  name: "web",
  task_id: { value: id },
  framework_id: { value: FW },
  agent_id: { value: AGENT },
  state,
  resources: [{ name: "ports", type: "RANGES", ranges: { range: [{ begin: port, end: port + 1 }] } }],
  statuses: state === "TASK_RUNNING" ? [status(id, state)] : [],
  discovery: { name: "web", ports: { ports: [{ number: port, name: "http", protocol: "tcp" }] } },
});

function events(): Json[] {
  const status1 = (state: string) => status("web.1", state);
  return [
    { type: "SUBSCRIBED", subscribed: { get_state: { get_tasks: { tasks: [webTask("web.0", "TASK_RUNNING", 31010)] } } } },
    { type: "TASK_ADDED", task_added: { task: webTask("web.1", "TASK_STAGING", 31000) } },
    { type: "TASK_UPDATED", task_updated: { framework_id: { value: FW }, status: status1("TASK_RUNNING"), state: "TASK_RUNNING" } },
    { type: "AGENT_ADDED", agent_added: { agent: {} } },
    { type: "TASK_UPDATED", task_updated: { framework_id: { value: FW }, status: status1("TASK_KILLED"), state: "TASK_KILLED" } },
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
  it("400 mutated sequences: nothing throws; a RUNNING task only adds records, a stopped one only removes", function () {
    this.timeout(60_000);
    const cfg = testConfig({ masters: ["144.76.157.37:5050"] });
    const state = loadFake();
    const marathon = (state["frameworks"] as { id: string; tasks: unknown[] }[]).find((f) => f.id === FW)!;
    marathon.tasks.push(toV0(webTask("web.0", "TASK_RUNNING", 31010)));
    const current = generateRecords(state, cfg).records;
    assert.ok(current.a.has("web.marathon.mesos."));
    const before = served(current);
    const r = rng(0xe7e7);
    let running = 0;
    let added = 0;
    let stopped = 0;
    let removed = 0;
    for (let i = 0; i < 400; i++) {
      const seq = i === 0 ? events() : (mutateJson(clone(events()), r) as Json);
      const tasks = new LiveTasks();
      // The set as the events leave it.
      let set = current;
      for (const e of Array.isArray(seq) ? seq : [seq]) {
        const { running: t, removal } = tasks.take(e);
        const was = served(set);
        let next: RecordSet | undefined;
        if (t !== undefined) {
          running++;
          next = withRunningTask(set, state, t, cfg, {});
          if (next === undefined) continue;
          const after = served(next);
          if (after.size > was.size) added++;
          for (const rec of was) assert.ok(after.has(rec), `sequence ${i}: ${rec} was removed`);
        } else if (removal !== undefined) {
          stopped++;
          next = withoutStoppedTask(set, state, removal.task, removal.siblings, cfg, {});
          if (next === undefined) continue;
          const after = served(next);
          if (after.size < was.size) removed++;
          for (const rec of after) assert.ok(was.has(rec), `sequence ${i}: ${rec} was added by a removal`);
          for (const m of [next.a, next.aaaa, next.srv])
            for (const [n, vs] of m) assert.ok(vs.length > 0, `sequence ${i}: ${n} left empty`);
        } else continue;
        set = next;
      }
      if (i === 0) assert.deepEqual(served(set), before, "launch then kill: the set it started from");
    }
    assert.ok(running > 100, `only ${running} sequences reached RUNNING: the fuzz would not test withRunningTask`);
    assert.ok(added > 50, `only ${added} sequences added records`);
    assert.ok(stopped > 100, `only ${stopped} sequences stopped a running task: the fuzz would not test withoutStoppedTask`);
    assert.ok(removed > 50, `only ${removed} sequences removed records`);
  });
});
