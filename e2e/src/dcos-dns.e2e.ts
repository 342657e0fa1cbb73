/**
 * dcos-dns (spartan) on every node, as in docker-compose.yml: 3 NATS servers, 3
 * masters (`dcnet run node mesos-sim mesos-dns dcos-dns`, the zone producer
 * publishing while its own Mesos master leads), 2 agents (`... mesos-sim
 * dcos-dns`, resolv.conf generator on), an upstream DNS server (dnsmasq:
 * `*.example.test` → a fixed address, the rest to Docker's DNS). Every
 * dcos-dns listens on 198.51.100.1-3:53 in its node container.
 *
 * Names are resolved from inside tasks (issue 5): the apps run a small HTTP
 * server that resolves a name on request in the task's own network namespace
 * (host mode: the agent container's; bridge mode: the task's netns), through
 * /etc/resolv.conf (as written by dcos-dns: c-ares and getaddrinfo) or at
 * 198.51.100.1 explicitly, and answers JSON. Then: a new app is resolvable at
 * every node's dcos-dns within seconds; with 2 of the 3 Mesos-DNS unreachable
 * (nftables drop on 61053), and then stopped (reject: port unreachable, as a dead
 * process gives), `.mesos` still answers; kill -9 of the leading
 * master leaves no NXDOMAIN window for existing tasks, and the new leader's
 * dcos-dns publishes the next app.
 *
 * Environment (besides the harness's): DCNET_E2E_NODE_LOG_LEVEL=debug sets the
 * nodes' log level (see them with DCNET_E2E_LOGS=1).
 */
import * as assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { eventually, sleep } from "@dcnet/core";
import {
  DCOS_DNS_IPS,
  MESOS_DNS_PORT,
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

/**
 * The task's program (`node -e "$RESOLVER_JS"`): HTTP on LISTEN_PORT (bridge) or PORT0 (host).
 * - GET /resolv.conf → {task, text}: /etc/resolv.conf as the task sees it;
 * - GET /resolve?name=N&type=A|SRV&via=system|getaddrinfo|<ip> → {records, ms, servers} or {error, ms}:
 *   `system` = a fresh c-ares Resolver (servers from /etc/resolv.conf), `getaddrinfo` = the libc
 *   resolver (dns.lookup, A only), `<ip>` = a Resolver at that server.
 */
const RESOLVER_JS = [
  "const http = require('http'); const fs = require('fs'); const dns = require('dns');",
  "const json = (s, o) => { s.setHeader('content-type', 'application/json'); s.end(JSON.stringify(o)); };",
  "http.createServer(async (q, s) => {",
  "  const u = new URL(q.url, 'http://task');",
  "  if (u.pathname === '/resolv.conf') return json(s, { task: process.env.MESOS_TASK_ID, text: fs.readFileSync('/etc/resolv.conf', 'utf8') });",
  "  const name = u.searchParams.get('name'); const type = u.searchParams.get('type') || 'A'; const via = u.searchParams.get('via') || 'system';",
  "  const t0 = Date.now(); let servers = [];",
  "  try {",
  "    let records;",
  "    if (via === 'getaddrinfo') records = (await dns.promises.lookup(name, { all: true, family: 4 })).map((a) => a.address);",
  "    else {",
  "      const r = new dns.promises.Resolver({ timeout: 2000, tries: 2 });",
  "      if (via !== 'system') r.setServers([via]);",
  "      servers = r.getServers();",
  "      records = type === 'SRV' ? (await r.resolveSrv(name)).map((x) => x.name + ':' + x.port) : await r.resolve4(name);",
  "    }",
  "    json(s, { records: records.sort(), ms: Date.now() - t0, servers });",
  "  } catch (e) { json(s, { error: e.code || String(e), ms: Date.now() - t0, servers }); }",
  "}).listen(+(process.env.LISTEN_PORT || process.env.PORT0));",
].join("\n");

const hostApp = (id: string, instances = 1) => ({
  id,
  instances,
  cpus: 0.1,
  mem: 64,
  portDefinitions: [{ port: 0, name: "http" }],
  env: { RESOLVER_JS },
  cmd: 'node -e "$RESOLVER_JS"',
});

/** Marathon 1.5 shape: a MESOS container on the bridge, containerPort 8080 mapped to a host port (see mesos-sim.e2e.ts). */
const bridgeApp = (id: string, instances = 1) => ({
  id,
  instances,
  cpus: 0.1,
  mem: 64,
  networks: [{ mode: "container/bridge" }],
  container: { type: "MESOS", portMappings: [{ containerPort: 8080, hostPort: 0, name: "http" }] },
  env: { RESOLVER_JS, LISTEN_PORT: "8080" },
  cmd: 'node -e "$RESOLVER_JS"',
});

const HOST_APP = "/dns-probe-host";
const BRIDGE_APP = "/dns-probe-bridge";

/** `/dns-probe-host` → `dns-probe-host` (task name = app name; framework `marathon`). */
const label = (appId: string): string => appId.slice(1);
const autoip = (appId: string): string => `${label(appId)}.marathon.autoip.dcos.thisdcos.directory`;
const containerip = (appId: string): string => `${label(appId)}.marathon.containerip.dcos.thisdcos.directory`;
const mesosName = (appId: string): string => `${label(appId)}.marathon.mesos`;
const mesosSrv = (appId: string): string => `_${label(appId)}._tcp.marathon.mesos`;

/** Task ids of an app start with its name (`/dns-probe-host` → `dns-probe-host.<uuid>`). */
const ofApp = (appId: string) => (t: { id: string }) => t.id.startsWith(`${label(appId)}.`);

/** A node's own dcos-dns (asked from inside its container). */
const LOCAL_DNS = `${DCOS_DNS_IPS[0]}:53`;

/** A new app's record at every node: within this long of its TASK_RUNNING (measured: ~0.1 s). */
const PROPAGATION_MS = 10_000;

/**
 * After kill -9 of the leading master, the new leader's dcos-dns publishes within this long of the kill:
 * the lease moves in ~3-4 s, the producer's Operator API stream retries after ~2 s and may first be
 * redirected to the dead master, whose vanished address never refuses: each such attempt waits the
 * producer's connect timeout (2 s; it was 10 s and this took 11-22 s), then settle (2 s) and the push. Measured since: ~2.4 s.
 */
const FAILOVER_PUBLISH_MS = 10_000;

type StatusWithTime = MesosTaskDoc["statuses"][number] & { timestamp?: number };

function agentIpOf(state: MasterStateDoc, task: MesosTaskDoc): string {
  const agent = state.slaves.find((s) => s.id === task.slave_id);
  if (!agent) throw new Error(`task ${task.id}: agent ${task.slave_id} not in the master state`);
  return pidIp(agent.pid);
}

/** The bridge IP and host port a task reports in its latest status. */
function bridgeNetwork(task: MesosTaskDoc): { ip: string; hostPort: number } {
  const info = task.statuses[task.statuses.length - 1]?.container_status?.network_infos?.[0];
  const ip = info?.ip_addresses?.[0]?.ip_address;
  const hostPort = info?.port_mappings?.[0]?.host_port;
  if (!ip || hostPort === undefined)
    throw new Error(`task ${task.id}: no network_infos with an IP and a port mapping: ${JSON.stringify(info)}`);
  return { ip, hostPort };
}

/** When the task became TASK_RUNNING (epoch ms), from its status timestamp (seconds). */
function runningSince(task: MesosTaskDoc): number {
  const s = (task.statuses as StatusWithTime[]).find((x) => x.state === "TASK_RUNNING");
  if (s?.timestamp === undefined) throw new Error(`task ${task.id}: no TASK_RUNNING status with a timestamp`);
  return Math.round(s.timestamp * 1000);
}

const show = (a: DnsAnswer): string => `${a.server} ${a.type} ${a.name}: ${a.error ?? a.records?.join(" ")}`;

interface TaskAnswer {
  records?: string[];
  error?: string;
  ms: number;
  servers?: string[];
}

describe("dcos-dns on every node (testcontainers, mesos-sim)", function () {
  const cluster = new MesosCluster({
    clusterId: "dcnet",
    masters: 3,
    agents: 2,
    dcosDns: true,
    // DCNET_E2E_NODE_LOG_LEVEL=debug: the nodes' log level (e.g. to see the producer's master stream; with DCNET_E2E_LOGS=1).
    ...(process.env["DCNET_E2E_NODE_LOG_LEVEL"] ? { nodeEnv: { DCNET_LOG__LEVEL: process.env["DCNET_E2E_NODE_LOG_LEVEL"] } } : {}),
  });
  const masterIps = (): string[] => cluster.masters().map((m) => m.ip);
  const running = (): DcnetNode[] => [...cluster.masters(), ...cluster.agents()];

  async function waitRunning(appId: string, count: number, timeoutMs = 60_000): Promise<{ state: MasterStateDoc; tasks: MesosTaskDoc[] }> {
    return eventually(
      async () => {
        const state = await cluster.masterState();
        const live = stateTasks(state).filter(ofApp(appId));
        const tasks = live.filter((t) => t.state === "TASK_RUNNING");
        assert.equal(tasks.length, count, `${appId}: ${live.map((t) => `${t.id}=${t.state}`).join(", ") || "no tasks"}`);
        assert.equal(live.length, count, `${appId}: only running tasks`);
        return { state, tasks };
      },
      timeoutMs,
      250,
    );
  }

  /** Asks every node's own dcos-dns (198.51.100.1, from inside the node container) until each answers `want` for every question. */
  async function waitEveryNode(questions: { q: DnsQuestion; want: string[] }[], timeoutMs: number, nodes = running()): Promise<number> {
    const t0 = Date.now();
    let last = "";
    await eventually(
      async () => {
        const answers = (
          await Promise.all(
            nodes.map((n) =>
              cluster.dns(
                n,
                [LOCAL_DNS],
                questions.map((x) => x.q),
              ),
            ),
          )
        ).map((list, i) =>
          list.map((a) => ({ node: nodes[i]!, a, want: questions.find((x) => x.q.name === a.name && x.q.type === a.type)!.want })),
        );
        const bad = answers.flat().filter(({ a, want }) => a.records?.join() !== want.join());
        last = bad.map(({ node, a, want }) => `${node.id}: ${show(a)} (want ${want.join(" ")})`).join("; ");
        assert.equal(bad.length, 0, last);
      },
      timeoutMs,
      250,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n(last: ${last})`);
    });
    return Date.now() - t0;
  }

  /** What a master's Mesos-DNS answers itself (asked at every running master's :61053; they must agree and not be empty). */
  async function mesosDnsAnswer(q: DnsQuestion, from: DcnetNode): Promise<string[]> {
    return eventually(
      async () => {
        const answers = await cluster.dns(
          from,
          masterIps().map((ip) => `${ip}:${MESOS_DNS_PORT}`),
          [q],
        );
        const first = answers[0]?.records;
        assert.ok(first && first.length > 0, answers.map(show).join("; "));
        for (const a of answers) assert.deepEqual(a.records, first, answers.map(show).join("; "));
        return first;
      },
      15_000,
      250,
    );
  }

  /** The task's resolver endpoint (at its agent IP and host port: bridge tasks through the agent's DNAT). */
  interface ProbeTask {
    app: string;
    mode: "host" | "bridge";
    task: MesosTaskDoc;
    agent: DcnetNode;
    url: string;
    /** Bridge mode: the task's own IP. */
    taskIp?: string;
  }

  function probeTask(state: MasterStateDoc, app: string, mode: "host" | "bridge"): ProbeTask {
    const task = stateTasks(state).find((t) => ofApp(app)(t) && t.state === "TASK_RUNNING");
    if (!task) throw new Error(`${app}: no running task`);
    const agentIp = agentIpOf(state, task);
    const agent = cluster.nodeByIp(agentIp);
    if (mode === "host") {
      const [port] = parsePortRanges(task.resources.ports);
      return { app, mode, task, agent, url: `http://${agentIp}:${port}` };
    }
    const net = bridgeNetwork(task);
    return { app, mode, task, agent, url: `http://${agentIp}:${net.hostPort}`, taskIp: net.ip };
  }

  async function resolveIn(p: ProbeTask, name: string, type: "A" | "SRV", via: string): Promise<TaskAnswer> {
    const qs = new URLSearchParams({ name, type, via });
    return cluster.httpJson<TaskAnswer>(`${p.url}/resolve?${qs.toString()}`, { timeoutMs: 15_000 });
  }

  let host: ProbeTask;
  let bridge: ProbeTask;
  /** autoip / containerip records of the probe apps, as checked in the first test (used again across the failover). */
  const expected = new Map<string, string[]>();

  before(async function () {
    this.timeout(900_000); // the image build is part of it
    await cluster.start();
    await eventually(
      async () => {
        const { state } = await cluster.leader();
        assert.deepEqual(state.slaves.map((s) => s.id).sort(), ["agent-1", "agent-2"]);
      },
      30_000,
      250,
    );
    const { node: leader } = await cluster.leader();
    // Every node's dcos-dns answers its static zone and the producer's dcos.thisdcos.directory (leader, masters).
    const ms = await waitEveryNode(
      [
        { q: { name: "ready.spartan", type: "A" }, want: ["127.0.0.1"] },
        { q: { name: "leader.dcos.thisdcos.directory", type: "A" }, want: [leader.ip] },
        { q: { name: "master.dcos.thisdcos.directory", type: "A" }, want: [...masterIps()].sort() },
      ],
      30_000,
    );
    log(`dcos-dns on ${running().length} nodes serves dcos.thisdcos.directory (leader ${leader.id}) ${ms} ms after the cluster was up`);
  });

  after(async function () {
    this.timeout(120_000);
    await cluster.stop();
  });

  afterEach(function () {
    if (this.currentTest?.state === "failed") log(`container output (last lines):\n${cluster.recentLogs(40, NOISE)}`);
  });

  it("from a host-mode and a bridge-mode task: ready.spartan, autoip, containerip, .mesos (forwarded) and an upstream name resolve", async function () {
    await cluster.marathon("/v2/apps", { method: "POST", body: hostApp(HOST_APP) });
    await cluster.marathon("/v2/apps", { method: "POST", body: bridgeApp(BRIDGE_APP) });
    await waitRunning(HOST_APP, 1);
    const { state } = await waitRunning(BRIDGE_APP, 1);
    host = probeTask(state, HOST_APP, "host");
    bridge = probeTask(state, BRIDGE_APP, "bridge");
    assert.match(bridge.taskIp!, /^10\.251\./, "bridge task IP in the agent's task subnet");
    log(`${HOST_APP} on ${host.agent.id} (${host.url}); ${BRIDGE_APP} on ${bridge.agent.id} (${bridge.url}, task IP ${bridge.taskIp})`);

    // autoip: the agent IP when a port has a host port (both apps), else the task IPs; containerip: the task IPs.
    expected.set(autoip(HOST_APP), [host.agent.ip]);
    expected.set(autoip(BRIDGE_APP), [bridge.agent.ip]);
    expected.set(containerip(BRIDGE_APP), [bridge.taskIp!]);
    const ms = await waitEveryNode(
      [...expected].map(([name, want]) => ({ q: { name, type: "A" as const }, want })),
      15_000,
    );
    log(`autoip/containerip records at every node's dcos-dns ${ms} ms after both TASK_RUNNING`);

    // What Mesos-DNS answers itself, for the forwarded names.
    const agent = cluster.agents()[0]!;
    const mesosA = {
      [mesosName(HOST_APP)]: await mesosDnsAnswer({ name: mesosName(HOST_APP), type: "A" }, agent),
      [mesosName(BRIDGE_APP)]: await mesosDnsAnswer({ name: mesosName(BRIDGE_APP), type: "A" }, agent),
    };
    const mesosSrvRecords = await mesosDnsAnswer({ name: mesosSrv(HOST_APP), type: "SRV" }, agent);
    const external = `e2e-${randomBytes(4).toString("hex")}.example.test`;
    const questions: { name: string; type: "A" | "SRV"; want: string[] }[] = [
      { name: "ready.spartan", type: "A", want: ["127.0.0.1"] },
      ...[...expected].map(([name, want]) => ({ name, type: "A" as const, want })),
      ...Object.entries(mesosA).map(([name, want]) => ({ name, type: "A" as const, want })),
      { name: mesosSrv(HOST_APP), type: "SRV", want: mesosSrvRecords },
      { name: external, type: "A", want: [cluster.exampleTestIp()] },
    ];

    for (const p of [host, bridge]) {
      // The task's resolv.conf is dcos-dns's: the three listeners that answer ready.spartan.
      const conf = await eventually(() => cluster.httpJson<{ task: string; text: string }>(`${p.url}/resolv.conf`), 15_000, 250);
      assert.equal(conf.task, p.task.id);
      const nameservers = [...conf.text.matchAll(/^nameserver\s+(\S+)/gm)].map((m) => m[1]);
      assert.deepEqual(nameservers, [...DCOS_DNS_IPS], `${p.mode} task's /etc/resolv.conf:\n${conf.text}`);
      assert.match(conf.text, /Generated by dcnet dcos-dns/);

      const bad: string[] = [];
      const lines: string[] = [];
      for (const q of questions) {
        // c-ares through /etc/resolv.conf, and 198.51.100.1 explicitly; getaddrinfo (libc, resolv.conf) for A names.
        const vias = q.type === "A" ? ["system", "getaddrinfo", DCOS_DNS_IPS[0]!] : ["system", DCOS_DNS_IPS[0]!];
        for (const via of vias) {
          const got = await resolveIn(p, q.name, q.type, via);
          if (via === "system" && got.servers) assert.deepEqual(got.servers, [...DCOS_DNS_IPS], "c-ares servers from /etc/resolv.conf");
          const text = got.error ?? got.records?.join(" ") ?? "?";
          lines.push(`${q.type} ${q.name} via ${via}: ${text} (${got.ms} ms)`);
          if (got.records?.join() !== q.want.join()) bad.push(`${q.type} ${q.name} via ${via}: ${text}, want ${q.want.join(" ")}`);
        }
      }
      log(`from the ${p.mode}-mode task ${p.task.id.slice(0, 24)}… on ${p.agent.id}:\n        ${lines.join("\n        ")}`);
      assert.deepEqual(bad, [], `${p.mode}-mode task`);
    }

    // Masters too (dcos-gen-resolvconf runs on every DC/OS node): their /etc/resolv.conf names the
    // listeners, and libc resolves a task name and a .mesos name (forwarded) through it.
    const master = cluster.masters()[0]!;
    const masterConf = await master.container.exec(["cat", "/etc/resolv.conf"]);
    assert.deepEqual(
      [...masterConf.stdout.matchAll(/^nameserver\s+(\S+)/gm)].map((m) => m[1]),
      [...DCOS_DNS_IPS],
      `${master.id}'s /etc/resolv.conf:\n${masterConf.stdout}`,
    );
    for (const [name, want] of [[...expected][0]!, ...Object.entries(mesosA)]) {
      const got = await master.container.exec(["getent", "ahostsv4", name]);
      const addrs = [...new Set([...got.stdout.matchAll(/^(\S+)\s/gm)].map((m) => m[1]!))].sort();
      assert.deepEqual(addrs, [...new Set(want)].sort(), `getent ahostsv4 ${name} on ${master.id}: ${got.output}`);
      log(`on ${master.id} through its resolv.conf: ${name} → ${addrs.join(" ")}`);
    }

    // The CLI agrees (one lookup and the zone list, in an agent container).
    const lookup = await bridge.agent.container.exec([
      "dcnet",
      "dns",
      "lookup",
      containerip(BRIDGE_APP),
      "A",
      "--server",
      DCOS_DNS_IPS[1]!,
    ]);
    assert.equal(lookup.exitCode, 0, lookup.output);
    assert.match(lookup.stdout, new RegExp(`\\tA\\t${bridge.taskIp!.replace(/\./g, "\\.")}$`, "m"), lookup.stdout);
    const zones = await bridge.agent.container.exec(["dcnet", "dns", "zones"]);
    assert.equal(zones.exitCode, 0, zones.output);
    assert.match(zones.stdout, /^dcos\.thisdcos\.directory\.?\s.*\(bus\)$/m, zones.stdout);
    log(`dcnet dns zones on ${bridge.agent.id}:\n        ${zones.stdout.trim().split("\n").join("\n        ")}`);
  }).timeout(240_000);

  it("a new app is resolvable at every node's dcos-dns within seconds of TASK_RUNNING", async function () {
    const APP = "/dns-new";
    const nodes = running();
    const q: DnsQuestion = { name: autoip(APP), type: "A" };
    // Poll every node's own dcos-dns every 100 ms from before the deployment (the execs take a few seconds to start).
    const polls = Promise.all(nodes.map((n) => cluster.pollDns(n, [LOCAL_DNS], [q], { durationMs: 30_000, intervalMs: 100 })));
    await sleep(5_000);
    const postedAt = Date.now();
    await cluster.marathon("/v2/apps", { method: "POST", body: hostApp(APP) });
    const { state, tasks } = await waitRunning(APP, 1);
    const task = tasks[0]!;
    const runningAt = runningSince(task);
    const want = [agentIpOf(state, task)];
    const rounds = await polls;

    const summary: string[] = [];
    for (const [i, node] of nodes.entries()) {
      const answers = rounds[i]!.flat();
      const firstOk = answers.findIndex((a) => a.records?.join() === want.join());
      assert.ok(firstOk >= 0, `${node.id}: never answered ${want.join(" ")}; last ${show(answers[answers.length - 1]!)}`);
      const first = answers[firstOk]!;
      // Before: NXDOMAIN (no such task yet); after: the record, every time.
      for (const a of answers.slice(0, firstOk)) assert.equal(a.error, "ENOTFOUND", `${node.id} before the record: ${show(a)}`);
      const flaps = answers.slice(firstOk).filter((a) => a.records?.join() !== want.join());
      assert.deepEqual(flaps.map(show), [], `${node.id}: the record stays once there`);
      const startedBefore = (answers[0]!.time ?? 0) < runningAt;
      const ms = first.time! - runningAt;
      summary.push(`${node.id} ${ms} ms${startedBefore ? "" : " (poll started late: upper bound)"}`);
      assert.ok(ms <= PROPAGATION_MS, `${node.id}: ${ms} ms after TASK_RUNNING`);
    }
    log(
      `${APP}: TASK_RUNNING ${runningAt - postedAt} ms after the POST; ${autoip(APP)} at each node's dcos-dns after TASK_RUNNING: ${summary.join(", ")}`,
    );
    await cluster.marathon(`/v2/apps${APP}`, { method: "DELETE" });
  }).timeout(180_000);

  // Unreachable (drop: queries time out) and stopped (reject: port unreachable / reset, what a dead process gives).
  for (const how of ["drop", "reject"] as const)
    it(`2 of 3 Mesos-DNS ${how === "drop" ? "unreachable (nftables drop" : "stopped (nftables reject"} on 61053): .mesos still answers at every dcos-dns and in the tasks`, async function () {
      const [m1, m2, m3] = cluster.masters() as [DcnetNode, DcnetNode, DcnetNode];
      const agent = cluster.agents()[0]!;
      const wantA = await mesosDnsAnswer({ name: mesosName(HOST_APP), type: "A" }, agent);
      const wantSrv = await mesosDnsAnswer({ name: mesosSrv(HOST_APP), type: "SRV" }, agent);
      const dropped = [m1, m2];
      const nft = async (node: DcnetNode, script: string): Promise<void> => {
        const res = await node.container.exec(["sh", "-c", script]);
        assert.equal(res.exitCode, 0, `${node.id}: ${script}: ${res.output}`);
      };
      try {
        for (const m of dropped)
          await nft(
            m,
            "nft add table inet e2e && nft add chain inet e2e in '{ type filter hook input priority 0; }' && " +
              `nft add rule inet e2e in udp dport ${MESOS_DNS_PORT} ${how} && ` +
              `nft add rule inet e2e in tcp dport ${MESOS_DNS_PORT} ${how === "drop" ? "drop" : "reject with tcp reset"}`,
          );
        // Really down for everyone: the dropped ones time out (the rejected ones fail), the third answers.
        const direct = await cluster.dns(
          agent,
          [m1, m2, m3].map((m) => `${m.ip}:${MESOS_DNS_PORT}`),
          [{ name: mesosName(HOST_APP), type: "A" }],
        );
        // Dropped: the query times out; rejected: port unreachable at once (ECONNREFUSED), as from a stopped server.
        const down = how === "drop" ? "ETIMEOUT" : "ECONNREFUSED";
        assert.deepEqual(
          direct.map((a) => a.error ?? a.records?.join(" ")),
          [down, down, wantA.join(" ")],
          direct.map(show).join("; "),
        );
        log(
          `Mesos-DNS on ${dropped.map((m) => m.id).join(" and ")} ${how === "drop" ? "dropped" : "rejected"} (nftables: ${direct.map(show).join("; ")}), ${m3.id}'s answers`,
        );

        // Every node's dcos-dns (the dropped masters' too) answers .mesos, from the one Mesos-DNS left, every time.
        const nodes = running();
        const rounds = await Promise.all(
          nodes.map((n) =>
            cluster.pollDns(
              n,
              [LOCAL_DNS],
              [
                { name: mesosName(HOST_APP), type: "A" },
                { name: mesosSrv(HOST_APP), type: "SRV" },
              ],
              { durationMs: 3_000, intervalMs: 250 },
            ),
          ),
        );
        const bad = rounds
          .flatMap((r, i) => r.flat().map((a) => ({ node: nodes[i]!, a })))
          .filter(({ a }) => a.records?.join() !== (a.type === "A" ? wantA : wantSrv).join())
          .map(({ node, a }) => `${node.id}: ${show(a)}`);
        assert.deepEqual(bad, [], "every .mesos answer at every dcos-dns");
        // From inside the tasks, through /etc/resolv.conf: answered at once (the three Mesos-DNS are asked in parallel, no 5 s per-upstream wait).
        const times: string[] = [];
        for (const p of [host, bridge])
          for (let i = 0; i < 3; i++) {
            const got = await resolveIn(p, mesosName(HOST_APP), "A", "system");
            assert.deepEqual(got.records, wantA, `${p.mode} task: ${got.error ?? ""}`);
            assert.ok(got.ms < 2_000, `${p.mode} task: answered in ${got.ms} ms`);
            times.push(`${got.ms}`);
          }
        log(
          `.mesos with 1 of 3 Mesos-DNS (${how}): ${rounds.flat(2).length} answers right at ${nodes.length} nodes; from the tasks in ${times.join(", ")} ms`,
        );
      } finally {
        for (const m of dropped) await nft(m, "nft delete table inet e2e || true").catch((err: Error) => log(`cleanup: ${err.message}`));
      }
      const back = await cluster.dns(
        agent,
        [m1, m2, m3].map((m) => `${m.ip}:${MESOS_DNS_PORT}`),
        [{ name: mesosName(HOST_APP), type: "A" }],
      );
      for (const a of back) assert.deepEqual(a.records, wantA, `rules removed: ${show(a)}`);
    }).timeout(180_000);

  it("kill -9 of the leading master: no NXDOMAIN for existing tasks on any node; the new leader's dcos-dns publishes a new app", async function () {
    const AFTER = "/dns-after";
    const LEADER = "leader.dcos.thisdcos.directory";
    assert.ok(expected.size === 3, "the first test ran");
    const existing: DnsQuestion[] = [...expected.keys()].map((name) => ({ name, type: "A" }));
    const { node: old } = await cluster.leader();
    const survivors = running().filter((n) => n.id !== old.id);

    // Each survivor asks its own dcos-dns every 150 ms, from before the kill until well after the new leader publishes:
    // the existing tasks' names, leader.dcos and the name of the app deployed after the failover.
    const questions: DnsQuestion[] = [...existing, { name: LEADER, type: "A" }, { name: autoip(AFTER), type: "A" }];
    const polls = Promise.all(
      survivors.map((n) =>
        cluster.pollDns(n, [LOCAL_DNS], questions, { durationMs: 6_000 + FAILOVER_PUBLISH_MS + 8_000, intervalMs: 150 }),
      ),
    );
    await sleep(6_000);
    log(`killing the leading master ${old.id} (${old.ip}), with its mesos-dns and dcos-dns (the producer)`);
    const killedAt = Date.now();
    await cluster.killNode(old.id);
    const { node: leader } = await cluster.leader(20_000);
    const electedAt = Date.now();
    log(`new leader ${leader.id} ${electedAt - killedAt} ms after the kill; deploying ${AFTER} through it`);
    await cluster.marathon("/v2/apps", { method: "POST", body: hostApp(AFTER) });
    const { state, tasks } = await waitRunning(AFTER, 1);
    const runningAt = runningSince(tasks[0]!);
    const want = [agentIpOf(state, tasks[0]!)];
    const rounds = await polls;

    const at = (a: DnsAnswer): string => `@${a.time! - killedAt} ms`;
    const bad: string[] = [];
    const timings: string[] = [];
    let total = 0;
    for (const [i, node] of survivors.entries()) {
      const answers = rounds[i]!.flat();
      total += answers.length;
      assert.ok((answers[0]?.time ?? Infinity) < killedAt, `${node.id}: polling started before the kill`);
      const pastKill = FAILOVER_PUBLISH_MS + 2_000;
      assert.ok((answers[answers.length - 1]?.time ?? 0) > killedAt + pastKill, `${node.id}: polling lasted ${pastKill} ms past the kill`);
      // Existing tasks: their records, every time (no NXDOMAIN, no empty answer, no timeout).
      for (const a of answers.filter((x) => expected.has(x.name)))
        if (a.records?.join() !== expected.get(a.name)!.join()) bad.push(`${node.id} ${at(a)}: ${show(a)}`);
      // leader.dcos: the old leader, then the new one (once the new leader's producer has published), never anything else.
      const leaders = answers.filter((x) => x.name === LEADER);
      const switched = leaders.findIndex((a) => a.records?.join() === leader.ip);
      for (const [j, a] of leaders.entries()) {
        const ok = switched >= 0 && j >= switched ? [leader.ip] : [old.ip];
        if (a.records?.join() !== ok.join()) bad.push(`${node.id} ${at(a)}: ${show(a)} (want ${ok.join(" ")})`);
      }
      // The new app: NXDOMAIN until its record appears, then the record every time.
      const after = answers.filter((x) => x.name === autoip(AFTER));
      const first = after.findIndex((a) => a.records !== undefined);
      for (const [j, a] of after.entries()) {
        const ok = first >= 0 && j >= first ? a.records?.join() === want.join() : a.error === "ENOTFOUND";
        if (!ok) bad.push(`${node.id} ${at(a)}: ${show(a)} (want ${first >= 0 && j >= first ? want.join(" ") : "ENOTFOUND"})`);
      }
      assert.ok(switched >= 0, `${node.id}: ${LEADER} never named the new leader ${leader.ip}`);
      assert.ok(first >= 0, `${node.id}: ${autoip(AFTER)} never resolved while polled (last: ${show(after[after.length - 1]!)})`);
      const appMs = after[first]!.time! - runningAt;
      const sinceKill = after[first]!.time! - killedAt;
      timings.push(
        `${node.id}: leader.dcos ${leaders[switched]!.time! - killedAt} ms after the kill, ${AFTER} ${appMs} ms after TASK_RUNNING (${sinceKill} ms after the kill)`,
      );
      assert.ok(sinceKill <= FAILOVER_PUBLISH_MS, `${node.id}: ${AFTER} resolvable ${sinceKill} ms after the kill`);
    }
    log(
      `${total} answers at ${survivors.length} survivors across the failover (every 150 ms, ${questions.length} names); ${bad.length} wrong; ` +
        `${AFTER} TASK_RUNNING ${runningAt - killedAt} ms after the kill:\n        ${timings.join("\n        ")}`,
    );
    assert.deepEqual(bad, [], "answers at every surviving dcos-dns throughout the failover");

    // And from inside the existing tasks, through /etc/resolv.conf.
    for (const p of [host, bridge]) {
      const got = await resolveIn(p, autoip(AFTER), "A", "system");
      assert.deepEqual(got.records, want, `${p.mode} task: ${got.error ?? ""}`);
    }
  }).timeout(240_000);
});
