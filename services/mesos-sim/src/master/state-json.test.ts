import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { createBus, createMemoryHub } from "@dcnet/core";
import type { AgentRecord, TaskLaunch } from "../model/launch";
import { formatPorts, parsePorts, type TaskStatus } from "../model/mesos";
import { ClusterState } from "./cluster-state";
import { masterStateJson } from "./state-json";

/** Upstream Mesos-DNS's state fixture: ../shared beside the repo (see ../shared/mesos-dns-fixtures/README.md). */
const FAKE = path.resolve(__dirname, "../../../../../shared/mesos-dns-fixtures/fake.json");

/** The JSON type of every value on a path, e.g. `frameworks[].tasks[].statuses[].timestamp` → number. */
function shapes(value: unknown, prefix = "", out = new Map<string, Set<string>>()): Map<string, Set<string>> {
  const add = (p: string, t: string): void => void (out.get(p) ?? out.set(p, new Set()).get(p)!).add(t);
  if (Array.isArray(value)) {
    add(prefix, "array");
    for (const v of value) shapes(v, `${prefix}[]`, out);
  } else if (value !== null && typeof value === "object") {
    add(prefix, "object");
    for (const [k, v] of Object.entries(value)) shapes(v, prefix ? `${prefix}.${k}` : k, out);
  } else add(prefix, value === null ? "null" : typeof value);
  return out;
}

/** The paths Mesos-DNS and dcos-net read (mesos-dns.md §2, dcos-net.md §2.1). */
const READ = [
  "leader",
  "slaves[].id",
  "slaves[].pid",
  "slaves[].hostname",
  "frameworks[].name",
  "frameworks[].pid",
  "frameworks[].hostname",
  "frameworks[].tasks[].id",
  "frameworks[].tasks[].name",
  "frameworks[].tasks[].slave_id",
  "frameworks[].tasks[].state",
  "frameworks[].tasks[].resources.ports",
  "frameworks[].tasks[].statuses[].state",
  "frameworks[].tasks[].statuses[].timestamp",
  "frameworks[].tasks[].statuses[].container_status.network_infos[].ip_addresses[].ip_address",
  "frameworks[].tasks[].discovery.name",
  "frameworks[].tasks[].discovery.ports.ports[].number",
  "frameworks[].tasks[].discovery.ports.ports[].protocol",
  "frameworks[].tasks[].discovery.ports.ports[].name",
];

describe("master state JSON", () => {
  it("has fake.json's shape on every path Mesos-DNS and dcos-net read", async () => {
    const fake = shapes(JSON.parse(fs.readFileSync(FAKE, "utf8")));
    const hub = createMemoryHub();
    const state = new ClusterState(createBus(hub.transport(), { clusterId: "s", clusterKey: "state-json-test-key-00", nodeId: "m" }), {
      agentTimeoutMs: 60_000,
    });
    const agent: AgentRecord = {
      id: "S0-agent",
      ip: "10.0.0.9",
      hostname: "agent-9",
      port: 5051,
      portRange: [31000, 32000],
      cpus: 4,
      mem: 1024,
      disk: 0,
      registeredAt: 1_700_000_000_000,
      attributes: {},
    };
    state.agents.set(agent.id, { record: agent, lastHeartbeatMs: Date.now(), active: true });
    const launch: TaskLaunch = {
      taskId: "web.1",
      name: "web",
      frameworkId: "fw-1",
      agentId: agent.id,
      cmd: "true",
      env: {},
      cpus: 1,
      mem: 32,
      disk: 0,
      network: { mode: "host" },
      hostPorts: [31001, 31000],
      healthChecks: [],
      killGracePeriodSeconds: 3,
      labels: [],
      discovery: { visibility: "FRAMEWORK", name: "web", ports: { ports: [{ number: 31000, name: "http", protocol: "tcp" }] } },
    };
    const status: TaskStatus = {
      task_id: { value: "web.1" },
      state: "TASK_RUNNING",
      timestamp: 1_700_000_000.5,
      container_status: { network_infos: [{ ip_addresses: [{ protocol: "IPv4", ip_address: "10.0.0.9" }] }] },
    };
    state.tasks.set("web.1", { launch, statuses: [status], state: "TASK_RUNNING" });
    const doc = masterStateJson(
      { id: "m", ip: "10.0.0.1", port: 5050, hostname: "master", startTime: 1 },
      { id: "m", ip: "10.0.0.1", port: 5050, hostname: "master", electedAt: 2 },
      state,
      [{ id: "fw-1", name: "marathon", hostname: "master", pid: "scheduler(1)@10.0.0.1:8080", registeredTime: 3 }],
    );
    const ours = shapes(doc);
    for (const p of READ) {
      assert.ok(fake.has(p), `fixture has ${p}`);
      assert.deepEqual(ours.get(p), fake.get(p), `type of ${p}`);
    }
    assert.equal(doc.leader, "master@10.0.0.1:5050");
    assert.equal(doc.frameworks[0]!.tasks[0]!.resources.ports, "[31000-31001]");
    assert.equal(doc.slaves[0]!.pid, "slave(1)@10.0.0.9:5051");
  });

  it("formats and parses Mesos port ranges", () => {
    assert.equal(formatPorts([31005, 31000, 31001, 31002]), "[31000-31002, 31005-31005]");
    assert.deepEqual(parsePorts("[31111-31111, 31115-31117]"), [31111, 31115, 31116, 31117]);
    assert.deepEqual(parsePorts("[]"), []);
    assert.deepEqual(parsePorts(formatPorts([1, 2, 3, 9])), [1, 2, 3, 9]);
    assert.throws(() => parsePorts("[31000]"), /bad port range/);
    assert.throws(() => parsePorts("[9-1]"), /bad port range/);
  });
});
