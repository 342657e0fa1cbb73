/**
 * mesos-dns on every master, as in DC/OS and docker-compose.yml: 3 NATS
 * servers, 3 masters each running `dcnet run node mesos-sim mesos-dns` (DNS
 * 61053, HTTP 8123, reading all three masters by IP: the cluster network has a
 * subnet of its own and the masters fixed addresses), 2 agents.
 *
 * An HTTP echo app (host mode) is deployed through Marathon; its records are
 * asked from inside an agent container (`dns.promises.Resolver`, UDP) at every
 * master's mesos-dns and compared with the leading master's `/master/state`:
 * `<app>.marathon.mesos` A = the agents' IPs of its tasks, `_<app>._tcp.marathon.mesos`
 * SRV = one record per task, port = the task's host port, target resolving to
 * its agent. Scaling, killing a task and deleting the app change them within
 * seconds (the Operator API stream triggers the reloads). Last, the leading
 * master (and its mesos-dns) is killed: the surviving mesos-dns instances keep
 * answering throughout the failover, and follow the new leader.
 */
import * as assert from "node:assert/strict";
import { eventually, sleep } from "@dcnet/core";
import {
  MESOS_DNS_HTTP_PORT,
  MesosCluster,
  log,
  parsePortRanges,
  pidIp,
  stateTasks,
  type DcnetNode,
  type DnsAnswer,
  type DnsQuestion,
  type MasterStateDoc,
  type MesosTaskDoc,
} from "./harness";

/** Lines left out of failure reports. */
const NOISE = /"level":"debug"|membership change|nats connection status/;

const echoApp = (id: string, instances: number) => ({
  id,
  instances,
  cpus: 0.1,
  mem: 64,
  portDefinitions: [{ port: 0, name: "http" }],
  cmd: `node -e "require('http').createServer((q, s) => s.end(process.env.MESOS_TASK_ID)).listen(+process.env.PORT0)"`,
});

const APP = "/echo-dns";

/**
 * How long after a leader failover mesos-dns may take to serve the new leader's
 * records: the followed master's event stream breaks, mesos-dns reloads every
 * second until a master answers, and then follows the new leader's stream —
 * well before the next periodic reload (MESOS_DNS_REFRESHSECONDS=30, as in DC/OS).
 */
const FOLLOW_LEADER_MS = 10_000;

/** Task ids of an app start with its name (`/echo-dns` → `echo-dns.<uuid>`). */
const ofApp = (appId: string) => (t: { id: string }) => t.id.startsWith(`${appId.slice(1)}.`);

const questions = (appId: string): DnsQuestion[] => [
  { name: `${appId.slice(1)}.marathon.mesos`, type: "A" },
  { name: `_${appId.slice(1)}._tcp.marathon.mesos`, type: "SRV" },
];

/** What mesos-dns must answer for an app, from a master state: A = its tasks' agent IPs, SRV ports = their host ports. */
interface Expected {
  a: string[];
  srvPorts: number[];
  /** host port → agent IP, for the SRV targets. */
  agentOfPort: Map<number, string>;
  tasks: string[];
}

function expectedOf(state: MasterStateDoc, appId: string): Expected {
  const tasks = stateTasks(state).filter((t) => ofApp(appId)(t) && t.state === "TASK_RUNNING");
  const agentIp = (task: MesosTaskDoc): string => {
    const agent = state.slaves.find((s) => s.id === task.slave_id);
    if (!agent) throw new Error(`task ${task.id}: agent ${task.slave_id} not in the master state`);
    return pidIp(agent.pid);
  };
  const agentOfPort = new Map<number, string>();
  for (const t of tasks) {
    const ports = parsePortRanges(t.resources.ports);
    assert.equal(ports.length, 1, `${t.id}: ports ${t.resources.ports}`);
    agentOfPort.set(ports[0]!, agentIp(t));
  }
  return {
    a: [...new Set(tasks.map(agentIp))].sort(),
    srvPorts: [...agentOfPort.keys()].sort((x, y) => x - y),
    agentOfPort,
    tasks: tasks.map((t) => t.id).sort(),
  };
}

const srvPorts = (records: string[]): number[] => records.map((r) => Number(r.slice(r.lastIndexOf(":") + 1))).sort((x, y) => x - y);
const matches = (a: DnsAnswer, want: Expected): boolean =>
  a.records !== undefined && (a.type === "A" ? a.records.join() === want.a.join() : srvPorts(a.records).join() === want.srvPorts.join());
const show = (a: DnsAnswer): string => `${a.server} ${a.type} ${a.name}: ${a.error ?? a.records?.join(" ")}`;

describe("mesos-dns on every master (testcontainers, mesos-sim)", function () {
  const cluster = new MesosCluster({ clusterId: "dcnet", masters: 3, agents: 2, mesosDns: true });
  /** Where DNS questions come from: an agent container (another container than any mesos-dns). */
  const client = (): DcnetNode => cluster.agents()[0]!;
  const servers = (): string[] => cluster.masters().map((m) => m.ip);

  async function waitRunning(appId: string, count: number, timeoutMs = 45_000): Promise<MasterStateDoc> {
    return eventually(
      async () => {
        const state = await cluster.masterState();
        const live = stateTasks(state).filter(ofApp(appId));
        assert.equal(
          live.filter((t) => t.state === "TASK_RUNNING").length,
          count,
          `${appId}: ${live.map((t) => `${t.id}=${t.state}`).join(", ") || "no tasks"}`,
        );
        assert.equal(live.length, count, `${appId}: only running tasks`);
        return state;
      },
      timeoutMs,
      250,
    );
  }

  /** Checks answers against `want` (every server answered A + SRV as expected); throws naming the first mismatch. */
  function check(answers: DnsAnswer[], want: Expected, nServers: number): void {
    assert.equal(answers.length, nServers * 2, "an A and an SRV answer per server");
    for (const a of answers) assert.ok(matches(a, want), `${show(a)}; want A ${want.a.join(" ")}, SRV ports ${want.srvPorts.join(" ")}`);
  }

  /**
   * Waits until every running master's mesos-dns answers the app's records as
   * in the leader's current state, then checks that the SRV targets resolve to
   * the agents of the tasks; returns how long it took.
   */
  async function waitRecords(appId: string, timeoutMs: number): Promise<{ ms: number; want: Expected }> {
    const t0 = Date.now();
    let last = "";
    const want = await eventually(
      async () => {
        const w = expectedOf(await cluster.masterState(), appId);
        const answers = await cluster.dns(client(), servers(), questions(appId));
        last = answers.map(show).join("; ");
        check(answers, w, servers().length);
        return w;
      },
      timeoutMs,
      100,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n(last answers: ${last})`);
    });
    const ms = Date.now() - t0;
    // SRV targets (`<task>-<id>-<agent>.marathon.mesos`, or `.slave.mesos`) resolve to the task's agent, at every server.
    const srv = (await cluster.dns(client(), servers(), [questions(appId)[1]!])).flatMap((a) => a.records ?? []);
    const targets = [...new Set(srv.map((r) => r.slice(0, r.lastIndexOf(":"))))];
    const resolved = await cluster.dns(
      client(),
      servers(),
      targets.map((name) => ({ name, type: "A" as const })),
    );
    for (const r of srv) {
      const [target, port] = [r.slice(0, r.lastIndexOf(":")), Number(r.slice(r.lastIndexOf(":") + 1))];
      for (const a of resolved.filter((x) => x.name === target)) assert.deepEqual(a.records, [want.agentOfPort.get(port)], show(a));
    }
    return { ms, want };
  }

  /**
   * Waits until every mesos-dns has forgotten the app: NXDOMAIN (ENOTFOUND) for
   * its A name; for its SRV name an empty NOERROR answer (ENODATA), as upstream
   * Mesos-DNS answers an SRV miss (spec §4: "SRV miss: NOERROR, no SOA").
   */
  async function expectGone(appId: string, timeoutMs: number): Promise<number> {
    const t0 = Date.now();
    await eventually(
      async () => {
        const answers = await cluster.dns(client(), servers(), questions(appId));
        for (const a of answers) assert.equal(a.error, a.type === "A" ? "ENOTFOUND" : "ENODATA", `no records expected: ${show(a)}`);
      },
      timeoutMs,
      100,
    );
    return Date.now() - t0;
  }

  before(async function () {
    this.timeout(600_000); // the image build is part of it
    await cluster.start();
    await eventually(
      async () => {
        const { state } = await cluster.leader();
        assert.deepEqual(state.slaves.map((s) => s.id).sort(), ["agent-1", "agent-2"]);
      },
      30_000,
      250,
    );
    // Every mesos-dns serves the leader and both agents.
    const { node: leader } = await cluster.leader();
    const agentIps = cluster
      .agents()
      .map((a) => a.ip)
      .sort();
    await eventually(
      async () => {
        const answers = await cluster.dns(client(), servers(), [
          { name: "leader.mesos", type: "A" },
          { name: "slave.mesos", type: "A" },
        ]);
        for (const a of answers) assert.deepEqual(a.records, a.name === "leader.mesos" ? [leader.ip] : agentIps, show(a));
      },
      15_000,
      250,
    );
    log(
      `mesos-dns on ${cluster
        .masters()
        .map((m) => `${m.id}=${m.ip}`)
        .join(" ")}; leader ${leader.id}`,
    );
  });

  after(async function () {
    this.timeout(120_000);
    await cluster.stop();
  });

  afterEach(function () {
    if (this.currentTest?.state === "failed") log(`container output (last lines):\n${cluster.recentLogs(30, NOISE)}`);
  });

  it("deploys a host-mode app (3 instances): A and SRV records at every master's mesos-dns match /master/state", async function () {
    await cluster.marathon("/v2/apps", { method: "POST", body: echoApp(APP, 3) });
    await waitRunning(APP, 3);
    const { ms, want } = await waitRecords(APP, 10_000);
    log(
      `${APP}: A ${want.a.join(" ")}, SRV ports ${want.srvPorts.join(" ")} at ${servers().length} servers ${ms} ms after TASK_RUNNING x3`,
    );
    assert.equal(want.srvPorts.length, 3);
    // The HTTP API of one master's mesos-dns agrees.
    const master = cluster.masters()[1]!;
    const hosts = await cluster.httpJson<{ host: string; ip: string }[]>(
      `http://${master.ip}:${MESOS_DNS_HTTP_PORT}/v1/hosts/${APP.slice(1)}.marathon.mesos`,
    );
    assert.deepEqual(hosts.map((h) => h.ip).sort(), want.a, `${master.id} /v1/hosts`);
    for (const h of hosts) assert.equal(h.host, `${APP.slice(1)}.marathon.mesos.`);
    const services = await cluster.httpJson<{ port: string; ip: string }[]>(
      `http://${master.ip}:${MESOS_DNS_HTTP_PORT}/v1/services/_${APP.slice(1)}._tcp.marathon.mesos`,
    );
    assert.deepEqual(
      services.map((s) => Number(s.port)).sort((x, y) => x - y),
      want.srvPorts,
      `${master.id} /v1/services`,
    );
    for (const s of services) assert.equal(s.ip, want.agentOfPort.get(Number(s.port)));
  }).timeout(90_000);

  it("scale to 1: within seconds every mesos-dns answers 1 SRV record, the remaining task's", async function () {
    const t0 = Date.now();
    await cluster.marathon(`/v2/apps${APP}`, { method: "PUT", body: { instances: 1 } });
    await waitRunning(APP, 1);
    const { ms, want } = await waitRecords(APP, 5_000);
    log(
      `${APP} scaled to 1: records ${want.srvPorts.join(" ")} at every server ${Date.now() - t0} ms after the PUT (${ms} ms after the state)`,
    );
    assert.equal(want.srvPorts.length, 1);
    assert.equal(want.a.length, 1);
  }).timeout(90_000);

  it("kill the task: the replacement's records replace the killed task's", async function () {
    const [killed] = expectedOf(await cluster.masterState(), APP).tasks;
    assert.ok(killed);
    const targets = async (): Promise<string[]> =>
      (await cluster.dns(client(), servers(), [questions(APP)[1]!])).map((a) => (a.records ?? [a.error ?? "?"]).join(" "));
    const before = await targets();
    const t0 = Date.now();
    await cluster.marathon(`/v2/apps${APP}/tasks/${encodeURIComponent(killed)}`, { method: "DELETE" });
    const state = await eventually(
      async () => {
        const s = await waitRunning(APP, 1, 2_000);
        assert.notDeepEqual(expectedOf(s, APP).tasks, [killed], "replaced");
        return s;
      },
      45_000,
      250,
    );
    const replacement = expectedOf(state, APP).tasks[0]!;
    // The replacement's port (and agent); its SRV target (which names the task) differs from the killed task's.
    const { ms, want } = await waitRecords(APP, 5_000);
    assert.deepEqual(want.tasks, [replacement]);
    const after = await targets();
    log(
      `${APP}: ${killed} killed, replaced by ${replacement}; SRV ${before[0]} -> ${after[0]} ${Date.now() - t0} ms after the DELETE (${ms} ms after the state)`,
    );
    for (const [i, a] of after.entries()) {
      assert.equal(a.split(" ").length, 1, `one SRV record at ${servers()[i]}: ${a}`);
      assert.notEqual(a, before[i], `the SRV record changed at ${servers()[i]}`);
    }
  }).timeout(90_000);

  it("delete the app: NXDOMAIN for its name (and an empty SRV answer) at every mesos-dns", async function () {
    const t0 = Date.now();
    await cluster.marathon(`/v2/apps${APP}`, { method: "DELETE" });
    await eventually(async () => assert.equal(stateTasks(await cluster.masterState()).filter(ofApp(APP)).length, 0), 30_000, 250);
    const ms = await expectGone(APP, 5_000);
    log(`${APP} deleted: NXDOMAIN (A), no SRV at every server ${Date.now() - t0} ms after the DELETE (${ms} ms after the state)`);
  }).timeout(90_000);

  it("kill -9 of the leading master: the other mesos-dns keep answering throughout, then follow the new leader", async function () {
    const HA = "/echo-ha";
    const AFTER = "/echo-after";
    await cluster.marathon("/v2/apps", { method: "POST", body: echoApp(HA, 2) });
    await waitRunning(HA, 2);
    const { want } = await waitRecords(HA, 10_000);
    const old = (await cluster.leader()).node;
    const survivors = cluster.masters().filter((m) => m.id !== old.id);

    // Ask both survivors every 200 ms from the agent, from 1 s before the kill to 9 s after it.
    const poll = cluster.pollDns(
      client(),
      survivors.map((m) => m.ip),
      questions(HA),
      { durationMs: 10_000, intervalMs: 200 },
    );
    await sleep(1_000);
    log(`killing the leading master ${old.id} (${old.ip}) and its mesos-dns`);
    const killedAt = Date.now();
    await cluster.killNode(old.id);
    const { node: leader } = await cluster.leader(15_000);
    const electedAt = Date.now();
    log(`new leader ${leader.id} ${electedAt - killedAt} ms after the kill; deploying ${AFTER} through it`);
    // Deployed while the survivors are still polled: its records must reach them through the new leader.
    await cluster.marathon("/v2/apps", { method: "POST", body: echoApp(AFTER, 1) });
    const rounds = await poll;
    const bad = rounds.flat().filter((a) => !matches(a, want));
    log(`${rounds.length} rounds of ${rounds[0]?.length ?? 0} questions over the failover; ${bad.length} wrong`);
    assert.ok(rounds.length >= 30, `polled every 200 ms (${rounds.length} rounds)`);
    assert.deepEqual(bad.map(show), [], "every answer during the failover is the app's records");

    // Records follow the new leader: the new app, and leader.mesos.
    const state = await waitRunning(AFTER, 1);
    const runningAt = Date.now();
    const { ms } = await waitRecords(AFTER, FOLLOW_LEADER_MS);
    log(
      `${AFTER} (deployed through the new leader) resolves at both survivors ${ms} ms after TASK_RUNNING (${Date.now() - electedAt} ms after the election)`,
    );
    assert.equal(expectedOf(state, AFTER).tasks.length, 1);
    await eventually(
      async () => {
        for (const a of await cluster.dns(client(), servers(), [{ name: "leader.mesos", type: "A" }]))
          assert.deepEqual(a.records, [leader.ip], show(a));
      },
      Math.max(1_000, FOLLOW_LEADER_MS - (Date.now() - runningAt)),
      200,
    );
    // The app deployed before the failover still resolves as before.
    check(await cluster.dns(client(), servers(), questions(HA)), expectedOf(await cluster.masterState(), HA), survivors.length);
    for (const app of [HA, AFTER]) await cluster.marathon(`/v2/apps${app}`, { method: "DELETE" });
    await expectGone(AFTER, 30_000);
  }).timeout(90_000);
});
