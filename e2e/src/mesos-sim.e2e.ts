/**
 * mesos-sim on the compose topology (docker-compose.yml): 3 NATS servers, 3
 * masters and 2 agents, each node container running `dcnet run node mesos-sim`.
 * An HTTP echo app (answers with its MESOS_TASK_ID) runs 3 instances in host
 * mode and 3 in bridge mode; then the leading master and an agent are killed
 * (SIGKILL: nothing is released gracefully).
 *
 * Where requests come from (see MesosCluster): masters, Marathon, agents and
 * `<agentIP>:<hostPort>` (host mode, and bridge mode through the agent's DNAT)
 * from the test process, at the container IPs; a bridge task's own
 * `<taskIP>:<containerPort>` from inside its agent container (the task subnet
 * exists only in that container's network namespace), as is
 * `127.0.0.1:<hostPort>` there.
 */
import * as assert from "node:assert/strict";
import * as http from "node:http";
import { eventually, sleep } from "@dcnet/core";
import {
  MARATHON_PORT,
  MESOS_MASTER_PORT,
  MesosCluster,
  completedTasks,
  log,
  parsePortRanges,
  pidIp,
  stateTasks,
  type DcnetNode,
  type MasterStateDoc,
  type MesosTaskDoc,
} from "./harness";

/** Lines left out of failure reports. */
const NOISE = /"level":"debug"|membership change|nats connection status/;

const echo = (port: string): string => `node -e "require('http').createServer((q, s) => s.end(process.env.MESOS_TASK_ID)).listen(${port})"`;

const HOST_APP = {
  id: "/echo-host",
  instances: 3,
  cpus: 0.1,
  mem: 64,
  portDefinitions: [{ port: 0, name: "http" }],
  cmd: echo("+process.env.PORT0"),
};

/** Marathon 1.5 shape: a MESOS container on the bridge, containerPort 8080 mapped to a host port from the range. */
const BRIDGE_APP = {
  id: "/echo-bridge",
  instances: 3,
  cpus: 0.1,
  mem: 64,
  networks: [{ mode: "container/bridge" }],
  container: { type: "MESOS", portMappings: [{ containerPort: 8080, hostPort: 0, name: "http" }] },
  cmd: echo("8080"),
};

interface MarathonTask {
  id: string;
  appId: string;
  host: string;
  slaveId: string;
  state: string;
  ports: number[];
  ipAddresses: { ipAddress: string }[];
}

interface MarathonApp {
  id: string;
  instances: number;
  tasksRunning: number;
}

/** Task ids of an app start with its name (`/echo-host` → `echo-host.<uuid>`). */
const ofApp = (appId: string) => (t: { id: string }) => t.id.startsWith(`${appId.slice(1)}.`);

const runningOf = (state: MasterStateDoc, appId: string): MesosTaskDoc[] =>
  stateTasks(state).filter((t) => ofApp(appId)(t) && t.state === "TASK_RUNNING");

const ids = (tasks: { id: string }[]): string[] => tasks.map((t) => t.id).sort();

/** The agent a task runs on, from the master state: its IP from the agent's pid (`slave(1)@ip:5051`). */
function agentIpOf(state: MasterStateDoc, task: MesosTaskDoc): string {
  const agent = state.slaves.find((s) => s.id === task.slave_id);
  if (!agent) throw new Error(`task ${task.id}: agent ${task.slave_id} not in the master state`);
  return pidIp(agent.pid);
}

/** The bridge IP and container port a task reports in its latest status. */
function taskNetwork(task: MesosTaskDoc): { ip: string; containerPort: number; hostPort: number } {
  const info = task.statuses[task.statuses.length - 1]?.container_status?.network_infos?.[0];
  const ip = info?.ip_addresses?.[0]?.ip_address;
  const mapping = info?.port_mappings?.[0];
  if (!ip || !mapping) throw new Error(`task ${task.id}: no network_infos with an IP and a port mapping: ${JSON.stringify(info)}`);
  return { ip, containerPort: mapping.container_port, hostPort: mapping.host_port };
}

/**
 * A SUBSCRIBE stream on the Operator API (POST /api/v1, RecordIO `<len>\n<json>`),
 * collecting its events. Needs direct HTTP to the master.
 */
function subscribe(url: string): {
  events: { type: string; task_updated?: { task_id: { value: string }; state: string } }[];
  close(): void;
} {
  const events: { type: string; task_updated?: { task_id: { value: string }; state: string } }[] = [];
  let buffer = Buffer.alloc(0);
  const req = http.request(url, { method: "POST", headers: { "content-type": "application/json" } }, (res) => {
    res.on("data", (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        const nl = buffer.indexOf(10);
        if (nl < 0) break;
        const length = Number(buffer.subarray(0, nl).toString());
        if (buffer.length < nl + 1 + length) break;
        events.push(JSON.parse(buffer.subarray(nl + 1, nl + 1 + length).toString()) as (typeof events)[number]);
        buffer = buffer.subarray(nl + 1 + length);
      }
    });
    res.on("error", () => undefined);
  });
  req.on("error", () => undefined);
  req.end(JSON.stringify({ type: "SUBSCRIBE" }));
  return { events, close: () => req.destroy() };
}

describe("mesos-sim on the compose topology (testcontainers)", function () {
  const cluster = new MesosCluster({ clusterId: "dcnet", masters: 3, agents: 2 });

  /** Waits until the leader's state shows exactly `count` running tasks of the app and none starting. */
  async function waitRunning(appId: string, count: number, timeoutMs: number): Promise<{ state: MasterStateDoc; tasks: MesosTaskDoc[] }> {
    return eventually(
      async () => {
        const state = await cluster.masterState();
        const live = stateTasks(state).filter(ofApp(appId));
        const running = live.filter((t) => t.state === "TASK_RUNNING");
        assert.equal(running.length, count, `${appId}: ${live.map((t) => `${t.id}@${t.slave_id}=${t.state}`).join(", ") || "no tasks"}`);
        assert.equal(live.length, count, `${appId}: only running tasks`);
        return { state, tasks: running };
      },
      timeoutMs,
      250,
    );
  }

  /** Every host-mode task answers its own id at <agentIP>:<hostPort> (from the test process). */
  async function checkHostTasks(state: MasterStateDoc, tasks: MesosTaskDoc[]): Promise<string[]> {
    const checked: string[] = [];
    for (const task of tasks) {
      const ports = parsePortRanges(task.resources.ports);
      assert.equal(ports.length, 1, `${task.id} ports ${task.resources.ports}`);
      const url = `http://${agentIpOf(state, task)}:${ports[0]}/`;
      // TASK_RUNNING comes at spawn: the server may take a moment to listen.
      const answer = await eventually(() => cluster.http(url), 10_000, 200);
      assert.equal(answer.text, task.id, `${url} answers its task id`);
      checked.push(`${task.id.slice(0, 18)}… at ${url}`);
    }
    return checked;
  }

  /**
   * Every bridge task answers its own id at <agentIP>:<hostPort> (from the test
   * process, through the agent's DNAT) and at <taskIP>:<containerPort> and
   * 127.0.0.1:<hostPort> (from inside its agent container).
   */
  async function checkBridgeTasks(state: MasterStateDoc, tasks: MesosTaskDoc[]): Promise<string[]> {
    const checked: string[] = [];
    for (const task of tasks) {
      const net = taskNetwork(task);
      const agentIp = agentIpOf(state, task);
      const agent = cluster.nodeByIp(agentIp);
      assert.deepEqual(parsePortRanges(task.resources.ports), [net.hostPort], `${task.id}: port mapping host port = ports resource`);
      assert.equal(net.containerPort, 8080);
      assert.match(net.ip, new RegExp(`^10\\.251\\.${agent.id.slice("agent-".length)}\\.`), `${task.id}: IP in ${agent.id}'s task subnet`);
      const dnat = `http://${agentIp}:${net.hostPort}/`;
      assert.equal((await eventually(() => cluster.http(dnat), 10_000, 200)).text, task.id, `${dnat} (DNAT) answers its task id`);
      const direct = `http://${net.ip}:${net.containerPort}/`;
      assert.equal((await cluster.http(direct, { from: agent })).text, task.id, `${direct} from ${agent.id} answers its task id`);
      const local = `http://127.0.0.1:${net.hostPort}/`;
      assert.equal((await cluster.http(local, { from: agent })).text, task.id, `${local} from ${agent.id} answers its task id`);
      checked.push(`${task.id.slice(0, 20)}… at ${dnat} and ${direct} + ${local} in ${agent.id}`);
    }
    return checked;
  }

  before(async function () {
    this.timeout(600_000); // the image build (~1 min, more without cache) is part of it
    await cluster.start();
    // A leader, and both agents registered with it (bridge mode available on both).
    await eventually(
      async () => {
        const { state } = await cluster.leader();
        assert.deepEqual(state.slaves.map((s) => s.id).sort(), ["agent-1", "agent-2"]);
      },
      30_000,
      250,
    );
    for (const agent of cluster.agents()) {
      const res = await cluster.httpJson<{ id: string; pid: string }>(`http://${agent.ip}:5051/state`);
      assert.equal(res.pid, `slave(1)@${agent.ip}:5051`);
    }
  });

  after(async function () {
    this.timeout(120_000);
    await cluster.stop();
  });

  afterEach(function () {
    if (this.currentTest?.state === "failed") log(`container output (last lines):\n${cluster.recentLogs(30, NOISE)}`);
  });

  it("deploys a host-mode echo app (3 instances): each answers at the agent IP and port the master reports", async function () {
    const t0 = Date.now();
    const created = await cluster.marathon<{ id: string }>("/v2/apps", { method: "POST", body: HOST_APP });
    assert.equal(created.id, HOST_APP.id);
    const { state, tasks } = await waitRunning(HOST_APP.id, 3, 45_000);
    log(`${HOST_APP.id}: 3 TASK_RUNNING ${Date.now() - t0} ms after the POST`);
    for (const line of await checkHostTasks(state, tasks)) log(`  ${line}`);
    // Marathon's view matches: host, slaveId, ports, ipAddresses (the agent IP).
    const { tasks: mt } = await cluster.marathon<{ tasks: MarathonTask[] }>(`/v2/apps${HOST_APP.id}/tasks`);
    assert.deepEqual(ids(mt), ids(tasks));
    for (const t of mt) {
      const task = tasks.find((x) => x.id === t.id)!;
      assert.equal(t.state, "TASK_RUNNING");
      assert.equal(t.slaveId, task.slave_id);
      assert.equal(t.host, task.slave_id, "host = the agent's hostname");
      assert.deepEqual(t.ports, parsePortRanges(task.resources.ports));
      assert.deepEqual(
        t.ipAddresses.map((a) => a.ipAddress),
        [agentIpOf(state, task)],
      );
    }
  }).timeout(90_000);

  it("deploys a bridge-mode echo app (3 instances): each answers at agentIP:hostPort (DNAT) and at its task IP", async function () {
    const t0 = Date.now();
    await cluster.marathon("/v2/apps", { method: "POST", body: BRIDGE_APP });
    const { state, tasks } = await waitRunning(BRIDGE_APP.id, 3, 45_000);
    log(`${BRIDGE_APP.id}: 3 TASK_RUNNING ${Date.now() - t0} ms after the POST`);
    for (const line of await checkBridgeTasks(state, tasks)) log(`  ${line}`);
    const { tasks: mt } = await cluster.marathon<{ tasks: MarathonTask[] }>(`/v2/apps${BRIDGE_APP.id}/tasks`);
    assert.deepEqual(ids(mt), ids(tasks));
    for (const t of mt) {
      const task = tasks.find((x) => x.id === t.id)!;
      assert.deepEqual(
        t.ipAddresses.map((a) => a.ipAddress),
        [taskNetwork(task).ip],
        "Marathon reports the task IP",
      );
      assert.deepEqual(t.ports, [taskNetwork(task).hostPort]);
    }
  }).timeout(90_000);

  it("kill -9 of the leading master: a new leader within 5 s, apps and tasks intact", async function () {
    const before = await cluster.leader();
    const old = cluster.nodeByIp(pidIp(before.state.leader));
    assert.equal(old.id, before.node.id);
    const running = { host: ids(runningOf(before.state, HOST_APP.id)), bridge: ids(runningOf(before.state, BRIDGE_APP.id)) };
    assert.equal(running.host.length, 3);
    assert.equal(running.bridge.length, 3);

    log(`killing the leading master ${old.id} (${before.state.leader})`);
    await cluster.killNode(old.id);
    const killedAt = Date.now();
    const after = await cluster.leader(15_000);
    const took = Date.now() - killedAt;
    log(`new leader ${after.node.id} (${after.state.leader}) ${took} ms after the kill`);
    assert.notEqual(after.node.id, old.id);
    assert.ok(took <= 5_000, `a new leader within 5 s (took ${took} ms)`);

    // Same tasks, still running, still answering; Marathon (through either survivor: the other forwards) has both apps.
    assert.deepEqual(ids(runningOf(after.state, HOST_APP.id)), running.host);
    assert.deepEqual(ids(runningOf(after.state, BRIDGE_APP.id)), running.bridge);
    for (const master of cluster.masters()) {
      // A survivor that does not lead may still point at the dead leader until its next lease read (renewMs).
      let firstError: string | undefined;
      const { apps } = await eventually(
        () =>
          cluster.marathon<{ apps: MarathonApp[] }>("/v2/apps", { master }).catch((err: Error) => {
            firstError ??= err.message;
            throw err;
          }),
        5_000,
        100,
      );
      if (firstError) log(`${master.id} answered only after a retry; first: ${firstError}`);
      assert.deepEqual(
        apps.map((a) => `${a.id}:${a.instances}:${a.tasksRunning}`).sort(),
        ["/echo-bridge:3:3", "/echo-host:3:3"],
        master.id,
      );
    }
    const info = await cluster.httpJson<{ leader: string; elected: boolean }>(`http://${after.node.ip}:${MARATHON_PORT}/v2/info`);
    assert.equal(info.leader, `${after.node.ip}:${MARATHON_PORT}`);
    assert.equal(info.elected, true);
    await checkHostTasks(after.state, runningOf(after.state, HOST_APP.id));
    await checkBridgeTasks(after.state, runningOf(after.state, BRIDGE_APP.id));
    // And it stays so: the new leader's Marathon neither relaunches nor kills anything.
    await sleep(3_000);
    const later = await cluster.masterState();
    assert.deepEqual(ids(runningOf(later, HOST_APP.id)), running.host);
    assert.deepEqual(ids(runningOf(later, BRIDGE_APP.id)), running.bridge);
    assert.equal(stateTasks(later).length, 6, "no other tasks");
    // The survivor that does not lead redirects to the new leader.
    const other = cluster.masters().find((m) => m.id !== after.node.id)!;
    const redirect = await cluster.http(`http://${other.ip}:${MESOS_MASTER_PORT}/master/state`);
    assert.equal(redirect.status, 307);
    assert.equal(redirect.location, `http://${after.node.ip}:${MESOS_MASTER_PORT}/master/state`);
  }).timeout(90_000);

  it("kill -9 of an agent: its tasks become TASK_LOST and are relaunched on the other agent", async function () {
    const { node: leader, state } = await cluster.leader();
    const all = [...runningOf(state, HOST_APP.id), ...runningOf(state, BRIDGE_APP.id)];
    // The agent with most tasks goes.
    const byAgent = (id: string): MesosTaskDoc[] => all.filter((t) => t.slave_id === id);
    const [victim, survivor] = [...cluster.agents()].sort((a, b) => byAgent(b.id).length - byAgent(a.id).length) as [DcnetNode, DcnetNode];
    const lost = ids(byAgent(victim.id));
    assert.ok(lost.length > 0, `${victim.id} runs tasks`);
    const stream = cluster.httpMode === "direct" ? subscribe(`http://${leader.ip}:${MESOS_MASTER_PORT}/api/v1`) : undefined;
    try {
      if (stream) await eventually(() => assert.equal(stream.events[0]?.type, "SUBSCRIBED"), 5_000, 50);
      log(`killing ${victim.id}, which runs ${lost.length} task(s): ${lost.join(", ")}`);
      await cluster.killNode(victim.id);
      const killedAt = Date.now();

      // TASK_LOST for each of them: in the master state (live, or completed once Marathon cleared them) ...
      await eventually(
        async () => {
          const s = await cluster.masterState();
          const states = new Map([...completedTasks(s), ...stateTasks(s)].map((t) => [t.id, t.state]));
          for (const id of lost) assert.equal(states.get(id), "TASK_LOST", `${id} state`);
          assert.deepEqual(
            s.slaves.map((a) => a.id),
            [survivor.id],
            "the killed agent is no longer active",
          );
        },
        30_000,
        250,
      );
      log(`tasks of ${victim.id} TASK_LOST ${Date.now() - killedAt} ms after the kill`);
      // ... and as TASK_UPDATED events on the Operator API stream.
      // The stream is read asynchronously: the state can show the last TASK_LOST before its event
      // has reached this process, so the events get a few seconds of their own.
      if (stream)
        await eventually(
          () => {
            const seen = stream.events
              .filter((e) => e.type === "TASK_UPDATED" && e.task_updated?.state === "TASK_LOST")
              .map((e) => e.task_updated!.task_id.value);
            assert.deepEqual([...new Set(seen)].sort(), lost, "TASK_LOST events on SUBSCRIBE");
          },
          5_000,
          50,
        );

      // Marathon relaunches them: 3 running per app again, all on the survivor, answering.
      const host = await waitRunning(HOST_APP.id, 3, 45_000);
      const bridge = await waitRunning(BRIDGE_APP.id, 3, 45_000);
      log(`both apps back at 3 running ${Date.now() - killedAt} ms after the kill`);
      for (const t of [...host.tasks, ...bridge.tasks]) {
        assert.equal(t.slave_id, survivor.id, `${t.id} on ${survivor.id}`);
        assert.ok(!lost.includes(t.id), `${t.id} is a new task`);
      }
      for (const line of await checkHostTasks(host.state, host.tasks)) log(`  ${line}`);
      for (const line of await checkBridgeTasks(bridge.state, bridge.tasks)) log(`  ${line}`);
      for (const app of [HOST_APP, BRIDGE_APP]) {
        const { tasks } = await cluster.marathon<{ tasks: MarathonTask[] }>(`/v2/apps${app.id}/tasks`);
        assert.deepEqual(
          tasks.map((t) => `${t.slaveId}:${t.state}`),
          Array(3).fill(`${survivor.id}:TASK_RUNNING`),
          app.id,
        );
      }
    } finally {
      stream?.close();
    }
  }).timeout(90_000);
});
