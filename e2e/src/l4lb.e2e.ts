/**
 * l4lb (minuteman) on every node, as in docker-compose.yml (issue 6, the seeds' example):
 * 3 NATS servers, 3 masters and 3 agents, every node running `... dcos-dns l4lb` with the
 * nftables data plane (DCNET_MODE=nft), agents publishing their backends
 * (DCNET_AGENT__ENABLED=true), dcos-dns serving `<name>.<framework>.l4lb.thisdcos.directory`.
 *
 * Every app runs one program (APP_JS): `GET /` answers the task id, `/health` 200 (500 once
 * `/fail` was called), and `/probe?url=U&n=N` makes N requests to U, each on a new connection
 * (`agent: false`, so each one is balanced on its own) resolving the name through the task's
 * /etc/resolv.conf (dcos-dns), and answers which task ids replied. A client task is pinned to
 * agent-3 with a Marathon constraint (`["hostname", "CLUSTER", "agent-3"]`), the backends to
 * agent-1 and agent-2 (`UNLIKE agent-3`, `MAX_PER 2`: 3 instances always use both). Then:
 *
 * 1. a named VIP (`minitwit:80`, the seeds' label) and an IP VIP (`172.16.0.1:80`): every instance answers
 *    through both from the client task (the name through dcos-dns), from node containers, and
 *    `/v1/vips` on every node lists both with the 3 backends, in dcos-net's shape; `dcnet vips`;
 * 2. scale to 1: within seconds only the survivor answers (the killed ones drain: TASK_KILLING
 *    → weight 0 while they still serve their grace period, so no request fails);
 * 3. an instance failing its HTTP health check gets weight 0 (on every node) and no new
 *    connections, the others still do;
 * 4. bridge-mode backends and a bridge-mode client: from inside a task namespace to a VIP
 *    served partly by that very task (hairpin) and to the host-mode VIP;
 * 5. kill -9 of agent-2 (hosting backends): its backends leave the data plane of every
 *    surviving node within 5 s (the detail API and the nft table, polled every 100 ms inside
 *    each node), and traffic through the VIP reaches only the surviving instances.
 *
 * Environment (besides the harness's): DCNET_E2E_NODE_LOG_LEVEL=debug sets the nodes' log
 * level (see them with DCNET_E2E_LOGS=1).
 */
import * as assert from "node:assert/strict";
import { eventually, sleep } from "@dcnet/core";
import {
  DCOS_DNS_HTTP_PORT,
  DCOS_DNS_IPS,
  L4LB_HTTP_PORT,
  L4LB_NFT_TABLE,
  MesosCluster,
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

/**
 * `probe(url, n)`: n sequential GETs, each on a new connection (`agent: false`; the name is
 * looked up each time, through /etc/resolv.conf), 2 s timeout each → `{resolved, ids, errors}`.
 * Shared by the task program and the scripts run in node containers.
 */
const PROBE_FN = [
  "const http = require('http'); const dns = require('dns');",
  "const get1 = (url) => new Promise((done) => {",
  "  const req = http.get(url, { agent: false, timeout: 2000, headers: { connection: 'close' } }, (res) => {",
  "    let body = ''; res.setEncoding('utf8'); res.on('data', (c) => (body += c));",
  "    res.on('end', () => done(res.statusCode === 200 ? { body } : { error: 'HTTP ' + res.statusCode }));",
  "  });",
  "  req.on('timeout', () => req.destroy(new Error('timeout')));",
  "  req.on('error', (e) => done({ error: e.code || e.message }));",
  "});",
  "const probe = async (url, n) => {",
  "  const host = new URL(url).hostname; let resolved;",
  "  try { resolved = (await dns.promises.lookup(host, { family: 4 })).address; } catch (e) { resolved = 'error: ' + (e.code || e.message); }",
  "  const ids = {}; const errors = [];",
  "  for (let i = 0; i < n; i++) { const r = await get1(url); if (r.error) errors.push(r.error); else ids[r.body] = (ids[r.body] || 0) + 1; }",
  "  return { resolved, ids, errors };",
  "};",
].join("\n");

/**
 * The task program (`exec node -e "$APP_JS"`): HTTP on LISTEN_PORT (bridge) or PORT0 (host).
 * On SIGTERM it keeps serving for LINGER_MS (a graceful shutdown, as real services do), so a
 * killed instance that still got a new connection would answer it: what must not happen after
 * l4lb drained it is that it is picked at all, which the task ids show.
 */
const APP_JS = [
  PROBE_FN,
  "const id = process.env.MESOS_TASK_ID; let failing = false;",
  "http.createServer(async (q, s) => {",
  "  const u = new URL(q.url, 'http://task'); s.setHeader('connection', 'close');",
  "  if (u.pathname === '/') return s.end(id);",
  "  if (u.pathname === '/health') { s.statusCode = failing ? 500 : 200; return s.end(failing ? 'failing' : 'ok'); }",
  "  if (u.pathname === '/fail') { failing = true; return s.end('failing from now on'); }",
  "  if (u.pathname === '/probe') {",
  "    const got = await probe(u.searchParams.get('url'), +(u.searchParams.get('n') || 20));",
  "    s.setHeader('content-type', 'application/json'); return s.end(JSON.stringify({ from: id, ...got }));",
  "  }",
  "  s.statusCode = 404; s.end();",
  "}).listen(+(process.env.LISTEN_PORT || process.env.PORT0));",
  "process.on('SIGTERM', () => setTimeout(() => process.exit(0), +(process.env.LINGER_MS || 0)));",
].join("\n");

/** Run in a node container: `node -e PROBE_JS <url> <n>` prints probe()'s result. */
const PROBE_JS = `${PROBE_FN}\nprobe(process.argv[1], +process.argv[2]).then((r) => console.log(JSON.stringify(r)));`;

/** A killed instance keeps serving this long after SIGTERM (within its kill grace period). */
const LINGER_MS = 5_000;
const KILL_GRACE_SECONDS = 7;

/** Backends on agent-1 and agent-2 only; 3 instances always use both. */
const BACKEND_CONSTRAINTS = [
  ["hostname", "UNLIKE", "agent-3"],
  ["hostname", "MAX_PER", "2"],
];

const common = {
  cpus: 0.1,
  mem: 64,
  env: { APP_JS, LINGER_MS: String(LINGER_MS) },
  cmd: 'exec node -e "$APP_JS"',
  taskKillGracePeriodSeconds: KILL_GRACE_SECONDS,
};

/** A host-mode app with one port (VIP label `vip`, if any). */
const hostApp = (id: string, instances: number, vip: string | undefined, extra: Record<string, unknown> = {}) => ({
  id,
  instances,
  ...common,
  portDefinitions: [{ port: 0, name: "http", ...(vip ? { labels: { VIP_0: vip } } : {}) }],
  constraints: BACKEND_CONSTRAINTS,
  ...extra,
});

/** A bridge-mode app (Marathon 1.5 shape): containerPort 8080 mapped to a host port, VIP label on the mapping. */
const bridgeApp = (id: string, instances: number, vip: string, constraints: string[][]) => ({
  id,
  instances,
  ...common,
  env: { ...common.env, LISTEN_PORT: "8080" },
  networks: [{ mode: "container/bridge" }],
  container: { type: "MESOS", portMappings: [{ containerPort: 8080, hostPort: 0, name: "http", labels: { VIP_0: vip } }] },
  constraints,
});

/** A UDP app: a datagram gets the task id back. */
const UDP_JS =
  "const u = require('dgram').createSocket('udp4'); u.on('message', (m, r) => u.send(process.env.MESOS_TASK_ID, r.port, r.address)); u.bind(+process.env.PORT0);";
const udpApp = (id: string, instances: number, vip: string) => ({
  id,
  instances,
  ...common,
  env: { UDP_JS },
  cmd: 'exec node -e "$UDP_JS"',
  portDefinitions: [{ port: 0, protocol: "udp", name: "dns", labels: { VIP_0: vip } }],
  constraints: BACKEND_CONSTRAINTS,
});

/**
 * Run in a node container: `n` unconnected UDP sockets send one datagram each to `host:port`; each reply as
 * `{ id, from }` (the source the application saw), or `{ error }`.
 */
const UDP_PROBE_JS = [
  "const dgram = require('dgram'); const [host, port, n] = process.argv.slice(1);",
  "const one = () => new Promise((done) => {",
  "  const u = dgram.createSocket('udp4'); const end = (v) => { clearTimeout(t); u.close(); done(v); };",
  "  const t = setTimeout(() => end({ error: 'TIMEOUT' }), 2000);",
  "  u.on('message', (m, r) => end({ id: m.toString(), from: r.address + ':' + r.port }));",
  "  u.on('error', (e) => end({ error: e.code || e.message }));",
  "  u.send('hi', +port, host);",
  "});",
  "(async () => { const out = []; for (let i = 0; i < +n; i++) out.push(await one()); console.log(JSON.stringify(out)); })();",
].join("\n");

/**
 * Run in a node container: ONE unconnected UDP socket sends a datagram to `host:port` every 100 ms. The
 * first reply's id goes to the file `pinFile` (its conntrack flow pins the socket to that backend); the
 * script ends once 5 replies in a row came from another id, or after `ms`, printing
 * `{ first, moved, afterMs, lost, seq }` (moved: the other id; afterMs: from the file write to its first reply;
 * seq: the replies in order, run-length encoded, `-` for a datagram without a reply).
 */
const UDP_STICKY_JS = [
  "const dgram = require('dgram'); const fs = require('fs'); const [host, port, pinFile, ms] = process.argv.slice(1);",
  "const u = dgram.createSocket('udp4'); let first, pinnedAt, moved, movedAt, run = 0, sent = 0, got = 0; const seq = [];",
  "const note = (id) => { const last = seq[seq.length - 1]; if (last && last[0] === id) last[1]++; else seq.push([id, 1]); };",
  "let ended = false; const end = () => { if (ended) return; ended = true; clearInterval(t); clearTimeout(stop); u.close(); console.log(JSON.stringify({ first, moved, afterMs: movedAt && movedAt - pinnedAt, lost: sent - got, seq: seq.map(([id, n]) => id.slice(0, 17) + '×' + n).join(' ') })); };",
  "u.on('message', (m) => { got++; waiting = false; const id = m.toString(); note(id);",
  "  if (first === undefined) { first = id; pinnedAt = Date.now(); fs.writeFileSync(pinFile, id); return; }",
  "  if (id === first) { run = 0; return; }",
  "  if (run++ === 0) { moved = id; movedAt = Date.now(); }",
  "  if (run >= 5) end(); });",
  "let waiting = false; const t = setInterval(() => { if (waiting) note('-'); waiting = true; sent++; u.send('hi', +port, host); }, 100);",
  "const stop = setTimeout(end, +ms);",
].join("\n");

/**
 * `n` connected UDP sockets to host:port, each sending a datagram every 100 ms for `ms`; a socket
 * whose send or read fails with anything but ECONNREFUSED (l4lb aborted it: its backend left the
 * VIP) is closed and connected again, as a resolver would; ECONNREFUSED (an ICMP error from a
 * backend whose port closed) is noted and the socket kept, so only an abort moves a socket. Prints, per socket, `{ first, last, aborted, seq }` (the first and
 * last id that answered, how many aborts, the replies run-length encoded).
 */
const UDP_CONNECTED_JS = [
  "const dgram = require('dgram'); const [host, port, n, ms] = process.argv.slice(1);",
  "const out = []; const socks = [];",
  "const open = (i) => { const u = dgram.createSocket('udp4'); socks[i] = u; let dead = false;",
  "  const fail = (e) => { if (e.code === 'ECONNREFUSED') { note(i, 'refused'); return; } if (dead) return; dead = true; out[i].aborted++; note(i, 'abort:' + e.code); try { u.close(); } catch {} open(i); };",
  "  u.on('error', fail); u.on('message', (m) => { const id = m.toString(); if (out[i].first === undefined) out[i].first = id; out[i].last = id; note(i, id.slice(0, 17)); });",
  "  u.connect(+port, host, () => { u.ready = true; }); u.fail = fail; };",
  "const note = (i, id) => { const seq = out[i].seq; const last = seq[seq.length - 1]; if (last && last[0] === id) last[1]++; else seq.push([id, 1]); };",
  "for (let i = 0; i < +n; i++) { out.push({ aborted: 0, seq: [] }); open(i); }",
  "const t = setInterval(() => socks.forEach((u) => { if (u.ready) u.send('hi', (e) => { if (e) u.fail(e); }); }), 100);",
  "setTimeout(() => { clearInterval(t); socks.forEach((u) => { try { u.close(); } catch {} });",
  "  console.log(JSON.stringify(out.map((o) => ({ ...o, seq: o.seq.map(([id, k]) => id + '×' + k).join(' ') })))); }, +ms);",
].join("\n");

const CLIENT = "/vip-client";
const NAMED = "/minitwit";
const IPVIP = "/minitwit-ip";
const HEALTH = "/hc";
const BRIDGE = "/bridge-web";
const UDP = "/udp-echo";
const UDP_VIP = "172.16.0.2:53";

const IP_VIP = "172.16.0.1:80";
const l4lbName = (appId: string): string => `${appId.slice(1)}.marathon.l4lb.thisdcos.directory`;
const NAMED_VIP = `${l4lbName(NAMED)}:80`;

/** Task ids of an app start with its name (`/minitwit` → `minitwit.<uuid>`). */
const ofApp = (appId: string) => (t: { id: string }) => t.id.startsWith(`${appId.slice(1)}.`);

/** A node's own dcos-dns. */
const LOCAL_DNS = `${DCOS_DNS_IPS[0]}:53`;

/** Issue 6: a dead agent's backends leave every node within this long. */
const AGENT_DEATH_MS = 5_000;

interface CompatVip {
  vip: string;
  protocol: string;
  backend: { ip: string; port: number }[];
}
interface DetailBackend {
  ip: string;
  port: number;
  weight: number;
  taskId: string;
  agentIp: string;
  reachable: boolean;
  inUse: boolean;
}
interface DetailVip {
  id: string;
  vip: string;
  addresses: string[];
  backends: DetailBackend[];
  failedOpen: boolean;
}
interface Detail {
  vips: DetailVip[];
  unreachableAgents: string[];
  dataplane: { mode: string; entries: number; lastError?: string; warnings: string[]; socketLb: { cgroup: string; vips: number } | null };
}
interface ProbeResult {
  from?: string;
  resolved: string;
  ids: Record<string, number>;
  errors: string[];
}

function agentIpOf(state: MasterStateDoc, task: MesosTaskDoc): string {
  const agent = state.slaves.find((s) => s.id === task.slave_id);
  if (!agent) throw new Error(`task ${task.id}: agent ${task.slave_id} not in the master state`);
  return pidIp(agent.pid);
}

/** A host-mode task's endpoint: agent IP and its first host port. */
function hostEndpoint(state: MasterStateDoc, task: MesosTaskDoc): string {
  const [port] = parsePortRanges(task.resources.ports);
  if (port === undefined) throw new Error(`task ${task.id}: no host port`);
  return `${agentIpOf(state, task)}:${port}`;
}

const sortedIds = (ids: Record<string, number>): string[] => Object.keys(ids).sort();
const short = (id: string): string => id.replace(/^([^.]+)\.(.{8}).*$/, "$1.$2");
const showIds = (ids: Record<string, number>): string =>
  Object.entries(ids)
    .map(([id, n]) => `${short(id)}×${n}`)
    .join(" ");

describe("l4lb on every node (testcontainers, mesos-sim, nftables)", function () {
  const cluster = new MesosCluster({
    clusterId: "dcnet",
    masters: 3,
    agents: 3,
    dcosDns: true,
    l4lb: true,
    ...(process.env["DCNET_E2E_NODE_LOG_LEVEL"] ? { nodeEnv: { DCNET_LOG__LEVEL: process.env["DCNET_E2E_NODE_LOG_LEVEL"] } } : {}),
  });
  const running = (): DcnetNode[] => [...cluster.masters(), ...cluster.agents()];

  async function deploy(app: { id: string; [key: string]: unknown }): Promise<void> {
    await cluster.marathon("/v2/apps", { method: "POST", body: app });
  }

  async function waitRunning(appId: string, count: number, timeoutMs = 60_000): Promise<{ state: MasterStateDoc; tasks: MesosTaskDoc[] }> {
    return eventually(
      async () => {
        const state = await cluster.masterState();
        const live = stateTasks(state).filter(ofApp(appId));
        const tasks = live.filter((t) => t.state === "TASK_RUNNING");
        assert.equal(tasks.length, count, `${appId}: ${live.map((t) => `${short(t.id)}=${t.state}`).join(", ") || "no tasks"}`);
        assert.equal(live.length, count, `${appId}: only running tasks`);
        return { state, tasks };
      },
      timeoutMs,
      250,
    );
  }

  /** Runs `node -e script args...` in a node container; its stdout as JSON. */
  async function nodeJson<T>(node: DcnetNode, script: string, args: string[], timeoutMs = 30_000): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const res = await Promise.race([
      node.container.exec(["node", "-e", script, ...args]),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${node.id}: node -e did not finish within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
    if (res.exitCode !== 0) throw new Error(`${node.id}: node -e exited ${res.exitCode}: ${(res.stderr || res.output).trim()}`);
    return JSON.parse(res.stdout) as T;
  }

  /** GET http://127.0.0.1:62081<path> (or another loopback port) inside a node container (l4lb listens on loopback only). */
  function l4lbGet<T>(node: DcnetNode, path: string, port = L4LB_HTTP_PORT): Promise<T> {
    return nodeJson<T>(
      node,
      "fetch(process.argv[1]).then(async (r) => { if (!r.ok) throw new Error('HTTP ' + r.status); console.log(await r.text()); })" +
        ".catch((e) => { console.error(String(e.cause ?? e)); process.exit(2); });",
      [`http://127.0.0.1:${port}${path}`],
    );
  }

  /** `/v1/vips` of a node as `vip → sorted ip:port backends` (for comparing). */
  async function compatTable(node: DcnetNode): Promise<Record<string, string[]>> {
    const vips = await l4lbGet<CompatVip[]>(node, "/v1/vips");
    return Object.fromEntries(vips.map((v) => [`${v.protocol} ${v.vip}`, v.backend.map((b) => `${b.ip}:${b.port}`).sort()]));
  }

  /** Waits until every running node's `/v1/vips` is exactly `want` (`"tcp <vip>"` → sorted backends); returns how long it took. */
  async function waitCompatEverywhere(want: Record<string, string[]>, timeoutMs = 20_000): Promise<number> {
    const t0 = Date.now();
    let last = "";
    await eventually(
      async () => {
        const nodes = running();
        const tables = await Promise.all(nodes.map((n) => compatTable(n)));
        const bad = tables
          .map((t, i) => ({ node: nodes[i]!, t }))
          .filter(({ t }) => JSON.stringify(sortKeys(t)) !== JSON.stringify(sortKeys(want)));
        last = bad.map(({ node, t }) => `${node.id}: ${JSON.stringify(t)}`).join("; ");
        assert.equal(bad.length, 0, last);
      },
      timeoutMs,
      300,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n(want ${JSON.stringify(want)}; last: ${last})`);
    });
    return Date.now() - t0;
  }

  /** Waits until `check` holds for the detail API of every running node; returns how long it took. */
  async function waitDetailEverywhere(what: string, check: (d: Detail, node: DcnetNode) => void, timeoutMs = 20_000): Promise<number> {
    const t0 = Date.now();
    await eventually(
      async () => {
        const nodes = running();
        const details = await Promise.all(nodes.map((n) => l4lbGet<Detail>(n, "/v1/vips/detail")));
        details.forEach((d, i) => {
          try {
            check(d, nodes[i]!);
          } catch (err) {
            throw new Error(`${what}: ${nodes[i]!.id}: ${(err as Error).message}`);
          }
        });
      },
      timeoutMs,
      300,
    );
    return Date.now() - t0;
  }

  const vipIn = (d: Detail, vip: string): DetailVip => {
    const v = d.vips.find((x) => x.vip === vip);
    if (!v) throw new Error(`no VIP ${vip} (have ${d.vips.map((x) => x.vip).join(", ") || "none"})`);
    return v;
  };

  /**
   * The client task on agent-3 probes `url` `n` times. Its endpoint is looked up in the master state each time: on this
   * shared 2-CPU machine a stall of the whole cluster can make a new Mesos leader take agent-3 for lost and relaunch it.
   */
  async function probeFromClient(url: string, n = 30): Promise<ProbeResult> {
    const state = await cluster.masterState();
    const client = stateTasks(state).find((t) => ofApp(CLIENT)(t) && t.state === "TASK_RUNNING");
    if (!client) throw new Error(`${CLIENT}: no running task`);
    const qs = new URLSearchParams({ url, n: String(n) });
    return cluster.httpJson<ProbeResult>(`http://${hostEndpoint(state, client)}/probe?${qs.toString()}`, { timeoutMs: n * 2_500 + 5_000 });
  }

  /** Every id of `want` answered, nothing else, no error. */
  function assertAll(what: string, got: ProbeResult, want: string[]): void {
    assert.deepEqual(got.errors, [], `${what}: errors (${showIds(got.ids)})`);
    assert.deepEqual(sortedIds(got.ids), [...want].sort(), `${what}: ${showIds(got.ids)}`);
  }

  const tasksOf: Record<string, MesosTaskDoc[]> = {};
  let namedAddress = "";

  before(async function () {
    this.timeout(900_000); // the image build is part of it
    await cluster.start();
    await eventually(
      async () => {
        const { state } = await cluster.leader();
        assert.deepEqual(state.slaves.map((s) => s.id).sort(), ["agent-1", "agent-2", "agent-3"]);
      },
      30_000,
      250,
    );
    const planes = await Promise.all(running().map(async (n) => ({ n, d: (await l4lbGet<Detail>(n, "/v1/vips/detail")).dataplane })));
    log(
      `l4lb data plane per node: ${planes.map(({ n, d }) => `${n.id}=${d.mode}${d.socketLb ? `+socket LB (${d.socketLb.cgroup})` : ""}`).join(" ")}`,
    );
    for (const { n, d } of planes) {
      assert.equal(d.mode, "nft", n.id);
      // Agents (SYS_ADMIN) run the socket LB on their container's cgroup (DCNET_NFT__SOCKET_LB_CGROUP=auto); masters keep the
      // table alone here (compose turns it on for them too), so the suite also covers a node without it.
      if (n.spec.role === "agent") assert.ok(d.socketLb, `${n.id}: no socket LB: ${d.warnings.join("; ")}`);
      else assert.equal(d.socketLb, null, n.id);
    }
  });

  after(async function () {
    this.timeout(120_000);
    await cluster.stop();
  });

  afterEach(function () {
    if (this.currentTest?.state === "failed") log(`container output (last lines):\n${cluster.recentLogs(40, NOISE)}`);
  });

  it("a named VIP and an IP VIP over 3 instances on agent-1/agent-2: every instance answers through both, from a task on agent-3 (the name through dcos-dns) and from node containers; /v1/vips on every node; dcnet vips", async function () {
    await deploy({ ...hostApp(CLIENT, 1, undefined), constraints: [["hostname", "CLUSTER", "agent-3"]] });
    // The seeds' label as written there: a bare name is a named VIP too (`/minitwit:80` is the same VIP).
    await deploy(hostApp(NAMED, 3, "minitwit:80"));
    await deploy(hostApp(IPVIP, 3, IP_VIP));
    const client = await waitRunning(CLIENT, 1);
    await waitRunning(NAMED, 3);
    const { state } = await waitRunning(IPVIP, 3);
    for (const app of [CLIENT, NAMED, IPVIP]) tasksOf[app] = stateTasks(state).filter(ofApp(app));
    assert.equal(client.tasks[0]!.slave_id, "agent-3", "the client is on agent-3 (CLUSTER constraint)");
    const clientUrl = `http://${hostEndpoint(state, client.tasks[0]!)}`;
    for (const app of [NAMED, IPVIP]) {
      const agents = tasksOf[app]!.map((t) => t.slave_id);
      assert.deepEqual([...new Set(agents)].sort(), ["agent-1", "agent-2"], `${app} over agent-1 and agent-2: ${agents.join(" ")}`);
    }
    const backendsOf = (app: string): string[] => tasksOf[app]!.map((t) => hostEndpoint(state, t)).sort();
    log(
      `client ${short(client.tasks[0]!.id)} on agent-3 (${clientUrl}); ${NAMED} on ${tasksOf[NAMED]!.map((t) => t.slave_id).join(" ")}; ` +
        `${IPVIP} on ${tasksOf[IPVIP]!.map((t) => t.slave_id).join(" ")}`,
    );

    // /v1/vips on every node, in dcos-net's shape: both VIPs, every instance as agentIp:hostPort.
    const ms = await waitCompatEverywhere({ [`tcp ${NAMED_VIP}`]: backendsOf(NAMED), [`tcp ${IP_VIP}`]: backendsOf(IPVIP) });
    const raw = await l4lbGet<CompatVip[]>(cluster.masters()[0]!, "/v1/vips");
    for (const v of raw) {
      assert.deepEqual(Object.keys(v).sort(), ["backend", "protocol", "vip"], "dcos-net's keys");
      for (const b of v.backend) assert.deepEqual(Object.keys(b).sort(), ["ip", "port"]);
    }
    log(`both VIPs with their 3 backends in /v1/vips on all ${running().length} nodes ${ms} ms after the last TASK_RUNNING seen`);

    // The named VIP has one address (11/8), the same on every node, served in the data plane with weight 1 everywhere.
    const addresses = new Set<string>();
    const applied = await waitDetailEverywhere("weights 1 in the data plane", (d) => {
      assert.equal(d.dataplane.mode, "nft");
      for (const vip of [NAMED_VIP, IP_VIP]) {
        const v = vipIn(d, vip);
        assert.equal(v.backends.length, 3, `${vip}: ${JSON.stringify(v.backends)}`);
        assert.ok(
          v.backends.every((b) => b.weight === 1 && b.inUse && b.reachable),
          `${vip}: ${JSON.stringify(v.backends)}`,
        );
      }
      const named = vipIn(d, NAMED_VIP);
      assert.equal(named.addresses.length, 1, `${NAMED_VIP} addresses ${named.addresses.join(" ")}`);
      assert.match(named.addresses[0]!, /^11\./);
      addresses.add(named.addresses[0]!);
      assert.deepEqual(vipIn(d, IP_VIP).addresses, ["172.16.0.1"]);
    });
    assert.equal(addresses.size, 1, `one address for ${NAMED_VIP} on every node: ${[...addresses].join(" ")}`);
    namedAddress = [...addresses][0]!;
    log(`${NAMED_VIP} → ${namedAddress} on every node (data plane weights checked ${applied} ms later)`);

    // dcos-dns on every node answers the name with that address.
    await eventually(
      async () => {
        for (const n of running()) {
          const [a] = await cluster.dns(n, [LOCAL_DNS], [{ name: l4lbName(NAMED), type: "A" }]);
          assert.deepEqual(a?.records, [namedAddress], `${n.id}: ${a?.error ?? a?.records?.join(" ")}`);
        }
      },
      15_000,
      250,
    );

    // From the client task on agent-3: the name (resolved through its resolv.conf → dcos-dns) and the IP VIP, 30 new connections each.
    const byName = await probeFromClient(`http://${NAMED_VIP}/`);
    assert.equal(byName.resolved, namedAddress, "the client resolved the name through dcos-dns");
    assertAll(
      `client → ${NAMED_VIP}`,
      byName,
      tasksOf[NAMED]!.map((t) => t.id),
    );
    const byIp = await probeFromClient(`http://${IP_VIP}/`);
    assertAll(
      `client → ${IP_VIP}`,
      byIp,
      tasksOf[IPVIP]!.map((t) => t.id),
    );
    log(`from the client task on agent-3: ${NAMED_VIP} → ${showIds(byName.ids)}; ${IP_VIP} → ${showIds(byIp.ids)}`);

    // From node containers, by name through their resolv.conf (dcos-dns): master-1 (no backends) and agent-1 (hosts backends).
    const master = cluster.masters()[0]!;
    const agent1 = cluster.node("agent-1");
    for (const [node, url, app] of [
      [master, `http://${NAMED_VIP}/`, NAMED],
      [master, `http://${IP_VIP}/`, IPVIP],
      [agent1, `http://${NAMED_VIP}/`, NAMED],
      [agent1, `http://${IP_VIP}/`, IPVIP],
    ] as const) {
      const got = await nodeJson<ProbeResult>(node, PROBE_JS, [url, "30"]);
      if (app === NAMED) assert.equal(got.resolved, namedAddress, `${node.id} resolved ${NAMED_VIP} through its resolv.conf`);
      assertAll(
        `${node.id} → ${url}`,
        got,
        tasksOf[app]!.map((t) => t.id),
      );
      log(`from the ${node.id} container: ${url} → ${showIds(got.ids)}`);
    }

    // dcos-net's address for the table, 62080 (dcos-dns's REST port, `/net` behind Admin Router), answers l4lb's table.
    assert.deepEqual(
      await l4lbGet<CompatVip[]>(master, "/v1/vips", DCOS_DNS_HTTP_PORT),
      await l4lbGet<CompatVip[]>(master, "/v1/vips"),
      "/v1/vips on 62080 and 62081",
    );

    // The CLI, in a container.
    const cli = await cluster.node("agent-3").container.exec(["dcnet", "vips"]);
    assert.equal(cli.exitCode, 0, cli.output);
    for (const vip of [NAMED_VIP, IP_VIP]) assert.match(cli.stdout, new RegExp(`^${vip.replace(/\./g, "\\.")}\\s+tcp\\s`, "m"), cli.stdout);
    for (const b of [...backendsOf(NAMED), ...backendsOf(IPVIP)]) assert.ok(cli.stdout.includes(`${b} w1`), `${b} w1 in:\n${cli.stdout}`);
    assert.ok(cli.stdout.includes(namedAddress), cli.stdout);
    // agent-3's data plane: the table and the socket LB with both VIPs.
    assert.match(cli.stdout, /^data plane: nft \+ socket LB \(2 VIPs in its maps; cgroup \/.+\), 2 entries$/m, cli.stdout);
    const cliJson = await cluster.node("agent-3").container.exec(["dcnet", "vips", "--json"]);
    assert.equal(cliJson.exitCode, 0, cliJson.output);
    assert.deepEqual((JSON.parse(cliJson.stdout) as { vips: { vip: string }[] }).vips.map((v) => v.vip).sort(), [NAMED_VIP, IP_VIP].sort());
    log(`dcnet vips on agent-3:\n        ${cli.stdout.trim().split("\n").join("\n        ")}`);
  }).timeout(300_000);

  it("socket LB on agents: a connect to a VIP from agent-1's container is made to a backend (ss), the application still sees the VIP; on a master the nft table DNATs it", async function () {
    assert.ok(tasksOf[IPVIP], "needs the first test's apps");
    const state = await cluster.masterState();
    const backends = stateTasks(state)
      .filter(ofApp(IPVIP))
      .map((t) => hostEndpoint(state, t));
    // One connection: getpeername (what the application sees) and the kernel's socket (ss: where packets go).
    const script = [
      "const { execFileSync } = require('child_process'); const [host, port] = process.argv[1].split(':');",
      "const c = require('net').connect(+port, host, () => {",
      "  const ss = execFileSync('ss', ['-Htn', 'state', 'established', `( sport = :${c.localPort} )`], { encoding: 'utf8' }).trim().split(/\\s+/);",
      "  console.log(JSON.stringify({ peer: `${c.remoteAddress}:${c.remotePort}`, kernelPeer: ss[ss.length - 1] })); c.destroy();",
      "});",
      "c.on('error', (e) => { console.error(String(e)); process.exit(2); });",
    ].join("\n");
    await waitDetailEverywhere("the socket LB holds both VIPs on agents", (d, n) => {
      if (n.spec.role === "agent") assert.equal(d.dataplane.socketLb?.vips, 2, JSON.stringify(d.dataplane.socketLb));
    });
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const got = await nodeJson<{ peer: string; kernelPeer: string }>(cluster.node("agent-1"), script, [IP_VIP]);
      assert.equal(got.peer, IP_VIP, "getpeername shows the VIP");
      assert.ok(
        backends.includes(got.kernelPeer),
        `agent-1: the socket is connected to ${got.kernelPeer}, not one of ${backends.join(" ")}`,
      );
      seen.add(got.kernelPeer);
    }
    const onMaster = await nodeJson<{ peer: string; kernelPeer: string }>(cluster.masters()[0]!, script, [IP_VIP]);
    assert.deepEqual(onMaster, { peer: IP_VIP, kernelPeer: IP_VIP }, "a master's socket stays on the VIP (nft DNATs its packets)");
    log(`agent-1's connects to ${IP_VIP} were made to ${[...seen].join(" ")}; master-1's stayed on the VIP`);
  });

  it("scale the named VIP's app to 1: within seconds only that instance answers through the VIP (the others drain: no failed request)", async function () {
    const before = tasksOf[NAMED]!.map((t) => t.id);
    const url = `http://${NAMED_VIP}/`;
    const scaledAt = Date.now();
    await cluster.marathon(`/v2/apps${NAMED}`, { method: "PUT", body: { instances: 1 } });
    // Probe (10 new connections) until Marathon has only the survivor left: the killed instances are TASK_KILLING
    // and keep serving for LINGER_MS meanwhile, so any request l4lb still sent them would be answered (and show).
    const rounds: { at: number; got: ProbeResult; killing: string[] }[] = [];
    let survivor: string | undefined;
    await eventually(
      async () => {
        const got = await probeFromClient(url, 10);
        const at = Date.now() - scaledAt;
        const live = stateTasks(await cluster.masterState()).filter(ofApp(NAMED));
        const alive = live.filter((t) => t.state === "TASK_RUNNING");
        rounds.push({ at, got, killing: live.filter((t) => t.state === "TASK_KILLING").map((t) => t.id) });
        if (alive.length === 1) survivor = alive[0]!.id;
        assert.equal(live.length, 1, `${NAMED}: ${live.map((t) => `${short(t.id)}=${t.state}`).join(" ")}`);
      },
      30_000,
      100,
    );
    assert.ok(survivor && before.includes(survivor), `the survivor ${survivor} is one of ${before.join(" ")}`);
    const only = (r: (typeof rounds)[number]): boolean => sortedIds(r.got.ids).join() === survivor;
    const first = rounds.findIndex((r, i) => rounds.slice(i).every(only));
    assert.ok(first >= 0, "the last probe saw the survivor only");
    const settled = rounds[first]!.at;
    const drainRounds = rounds.slice(first).filter((r) => r.killing.length > 0).length;
    const errors = rounds.flatMap((r) => r.got.errors);
    log(
      `${NAMED} scaled to 1: only ${short(survivor!)} answers through the VIP from ${settled} ms after the PUT on; the killed instances ` +
        `were TASK_KILLING (still serving) in ${drainRounds} of the probes after that, and Marathon had only the survivor at ` +
        `${rounds[rounds.length - 1]!.at} ms; ${rounds.length} probes of 10, ${errors.length} errors: ` +
        rounds.map((r) => `@${r.at} ${showIds(r.got.ids)}${r.got.errors.length ? ` errors ${r.got.errors.join(",")}` : ""}`).join("; "),
    );
    assert.deepEqual(errors, [], "no request failed while the other instances were killed (drained, then removed)");
    assert.ok(settled <= 10_000, `only the survivor answers ${settled} ms after the scale-down`);
    assert.ok(drainRounds > 0, "probes ran while the killed instances were still serving (drain, not just gone)");
    // Stays that way, and every node's table has the one backend.
    const { state } = await waitRunning(NAMED, 1);
    tasksOf[NAMED] = stateTasks(state).filter(ofApp(NAMED));
    const more = await probeFromClient(url, 20);
    assertAll("after the scale-down", more, [survivor!]);
    // The client above goes through agent-3's socket LB; a master has the nft table only.
    const fromMaster = await nodeJson<ProbeResult>(cluster.masters()[0]!, PROBE_JS, [`http://${NAMED_VIP}/`, "20"]);
    assertAll("after the scale-down, from master-1 (nft)", fromMaster, [survivor!]);
    await waitCompatEverywhere({
      [`tcp ${NAMED_VIP}`]: tasksOf[NAMED]!.map((t) => hostEndpoint(state, t)),
      [`tcp ${IP_VIP}`]: tasksOf[IPVIP]!.map((t) => hostEndpoint(state, t)).sort(),
    });
  }).timeout(120_000);

  it("an instance failing its HTTP health check gets weight 0 on every node and no new connections; the others still do", async function () {
    const vip = `${l4lbName(HEALTH)}:80`;
    await deploy(
      hostApp(HEALTH, 3, "/hc:80", {
        healthChecks: [
          {
            protocol: "MESOS_HTTP",
            path: "/health",
            portIndex: 0,
            gracePeriodSeconds: 10,
            intervalSeconds: 2,
            timeoutSeconds: 1,
            delaySeconds: 0,
            // Never killed for failing: it stays, unhealthy, at weight 0.
            maxConsecutiveFailures: 0,
          },
        ],
      }),
    );
    const { state } = await waitRunning(HEALTH, 3);
    const tasks = stateTasks(state).filter(ofApp(HEALTH));
    tasksOf[HEALTH] = tasks;
    const healthyIn = await waitDetailEverywhere(
      "healthy: weight 1",
      (d) => {
        const v = vipIn(d, vip);
        assert.deepEqual(v.backends.map((b) => `${b.taskId}:${b.weight}`).sort(), tasks.map((t) => `${t.id}:1`).sort());
      },
      30_000,
    );
    log(`${HEALTH}: 3 healthy backends at weight 1 on every node ${healthyIn} ms after TASK_RUNNING`);
    const all = await probeFromClient(`http://${vip}/`);
    assertAll(
      `client → ${vip} (all healthy)`,
      all,
      tasks.map((t) => t.id),
    );

    const victim = tasks[0]!;
    const others = tasks.slice(1).map((t) => t.id);
    const failedAt = Date.now();
    let address: string | undefined;
    const res = await cluster.http(`http://${hostEndpoint(state, victim)}/fail`);
    assert.equal(res.status, 200);
    const drained = await waitDetailEverywhere(
      "the failing instance at weight 0",
      (d) => {
        const v = vipIn(d, vip);
        address = v.addresses[0];
        const weights = Object.fromEntries(v.backends.map((b) => [b.taskId, b.weight]));
        assert.equal(weights[victim.id], 0, JSON.stringify(weights));
        for (const id of others) assert.equal(weights[id], 1, JSON.stringify(weights));
      },
      20_000,
    );
    log(`${short(victim.id)} failing /health: weight 0 on every node ${drained} ms after /fail (check every 2 s, agent poll 2 s)`);
    const after = await probeFromClient(`http://${vip}/`);
    assertAll(`client → ${vip} (one failing)`, after, others);
    const fromNode = await nodeJson<ProbeResult>(cluster.node("agent-1"), PROBE_JS, [`http://${vip}/`, "30"]);
    assertAll(`agent-1 → ${vip} (one failing)`, fromNode, others);
    // The client and agent-1 connect through the socket LB (agents); a master's connections are DNATed by the nft table.
    // (By address here; master-1 resolving the name through its resolv.conf is checked in the first test.)
    const fromMaster = await nodeJson<ProbeResult>(cluster.masters()[0]!, PROBE_JS, [`http://${address}:80/`, "30"]);
    assertAll(`master-1 → ${address}:80 (one failing, nft)`, fromMaster, others);
    log(
      `after the health check failed: client → ${showIds(after.ids)}; agent-1 → ${showIds(fromNode.ids)}; master-1 → ${showIds(fromMaster.ids)} (${Date.now() - failedAt} ms after /fail)`,
    );
  }).timeout(180_000);

  it("bridge mode: a task in its own namespace reaches a VIP it is itself a backend of (hairpin) and the host-mode VIP", async function () {
    const vip = `${l4lbName(BRIDGE)}:80`;
    // One instance on agent-1 and one on agent-2 (both bridge namespaces).
    await deploy(
      bridgeApp(BRIDGE, 2, "/bridge-web:80", [
        ["hostname", "UNLIKE", "agent-3"],
        ["hostname", "UNIQUE"],
      ]),
    );
    const { state, tasks } = await waitRunning(BRIDGE, 2);
    tasksOf[BRIDGE] = stateTasks(state).filter(ofApp(BRIDGE));
    const ids = tasks.map((t) => t.id);
    const hostPort = (t: MesosTaskDoc): number => {
      const p = t.statuses[t.statuses.length - 1]?.container_status?.network_infos?.[0]?.port_mappings?.[0]?.host_port;
      if (p === undefined) throw new Error(`${t.id}: no port mapping in its status`);
      return p;
    };
    await waitDetailEverywhere("bridge backends", (d) => {
      const v = vipIn(d, vip);
      assert.deepEqual(v.backends.map((b) => `${b.taskId}:${b.weight}`).sort(), ids.map((id) => `${id}:1`).sort());
    });
    // From the bridge task itself (its namespace; the name through its resolv.conf): both instances, itself included.
    const inside = tasks[0]!;
    const insideUrl = `http://${agentIpOf(state, inside)}:${hostPort(inside)}`;
    const probe = (url: string): Promise<ProbeResult> =>
      cluster.httpJson<ProbeResult>(`${insideUrl}/probe?${new URLSearchParams({ url, n: "30" }).toString()}`, { timeoutMs: 90_000 });
    const hairpin = await probe(`http://${vip}/`);
    assert.equal(hairpin.from, inside.id);
    assertAll(`bridge task on ${inside.slave_id} → ${vip}`, hairpin, ids);
    const toHost = await probe(`http://${IP_VIP}/`);
    assertAll(
      `bridge task on ${inside.slave_id} → ${IP_VIP}`,
      toHost,
      tasksOf[IPVIP]!.map((t) => t.id),
    );
    const fromClient = await probeFromClient(`http://${vip}/`);
    assertAll(`client → ${vip}`, fromClient, ids);
    log(
      `bridge task ${short(inside.id)} on ${inside.slave_id}: ${vip} → ${showIds(hairpin.ids)} (hairpin incl. itself); ${IP_VIP} → ${showIds(toHost.ids)}; ` +
        `host-mode client → ${vip}: ${showIds(fromClient.ids)}`,
    );
  }).timeout(180_000);

  it("a UDP VIP: datagrams reach every instance and the replies come from the VIP, from agent-1's container (socket LB) and a master's (nft)", async function () {
    await deploy(udpApp(UDP, 2, UDP_VIP));
    const { tasks } = await waitRunning(UDP, 2);
    const ids = tasks.map((t) => t.id).sort();
    await waitDetailEverywhere("the UDP VIP with both backends at weight 1", (d) => {
      const v = vipIn(d, UDP_VIP);
      assert.equal(v.backends.length, 2, JSON.stringify(v.backends));
      assert.ok(
        v.backends.every((b) => b.weight === 1 && b.inUse),
        JSON.stringify(v.backends),
      );
    });
    const [host, port] = UDP_VIP.split(":") as [string, string];
    for (const node of [cluster.node("agent-1"), cluster.masters()[0]!]) {
      // 20 sockets: both instances answer (a miss would take 2^-19), each reply from the VIP (resolvers check the source).
      const got = await nodeJson<{ id?: string; from?: string; error?: string }[]>(node, UDP_PROBE_JS, [host, port, "20"]);
      assert.deepEqual(
        got.filter((r) => r.error !== undefined || r.from !== UDP_VIP),
        [],
        `${node.id}: replies not from ${UDP_VIP}`,
      );
      assert.deepEqual([...new Set(got.map((r) => r.id!))].sort(), ids, `${node.id}: ${JSON.stringify(got)}`);
      let how = "nft";
      if (node.spec.role === "agent") {
        // The socket LB chose each socket's backend: one affinity entry per socket (an LRU map of 65,536).
        const dump = await node.container.exec(["bpftool", "-j", "map", "dump", "pinned", `/sys/fs/bpf/${L4LB_NFT_TABLE}/maps/udpaff`]);
        assert.equal(dump.exitCode, 0, dump.output);
        const entries = (JSON.parse(dump.stdout) as unknown[]).length;
        assert.ok(entries >= 20, `${node.id}: ${entries} socket LB UDP entries`);
        how = `socket LB, ${entries} affinity entries`;
      }
      log(
        `from ${node.id} (${how}): ${UDP_VIP}/udp → ${[...new Set(got.map((r) => short(r.id!)))].join(" ")}, every reply from ${UDP_VIP}`,
      );
    }
    // A socket that keeps sending stays on its backend (its conntrack flow) until that backend leaves the VIP;
    // then l4lb deletes the flow and the next datagram goes to the other one (else it would stay on the dead one).
    const master = cluster.masters()[0]!;
    const pinFile = `/tmp/udp-pinned-${Date.now()}`;
    const sticky = nodeJson<{ first?: string; moved?: string; afterMs?: number; lost: number; seq: string }>(
      master,
      UDP_STICKY_JS,
      [host, port, pinFile, "40000"],
      60_000,
    );
    // And connected sockets on agent-1, where the socket LB chose each one's backend at connect():
    // no conntrack flow to delete, so l4lb aborts those on the killed backend and they reconnect.
    const connected = nodeJson<{ first?: string; last?: string; aborted: number; seq: string }[]>(
      cluster.node("agent-1"),
      UDP_CONNECTED_JS,
      [host, port, "12", "15000"],
      60_000,
    );
    let pinned = "";
    await eventually(
      async () => {
        const r = await master.container.exec(["cat", pinFile]);
        assert.equal(r.exitCode, 0, "no reply yet");
        pinned = r.stdout.trim();
      },
      10_000,
      100,
    );
    assert.ok(ids.includes(pinned), `pinned to ${pinned}`);
    await new Promise((r) => setTimeout(r, 1000)); // agent-1's sockets have had their first replies
    const killedAt = Date.now();
    await cluster.marathon(`/v2/apps${UDP}/tasks/${pinned}?scale=true`, { method: "DELETE" });
    const moved = await sticky;
    log(
      `one socket on ${master.id} (nft) pinned to ${short(pinned)}, that task killed (scale=true): the socket reached ` +
        `${moved.moved ? short(moved.moved) : "nothing else"} ${moved.afterMs ?? "-"} ms after it was pinned ` +
        `(${Date.now() - killedAt} ms after the kill to 5 replies in a row), ${moved.lost} datagrams unanswered: ${moved.seq}`,
    );
    assert.equal(moved.first, pinned);
    assert.ok(moved.moved !== undefined && ids.includes(moved.moved) && moved.moved !== pinned, JSON.stringify(moved));
    const socks = await connected;
    log(`12 connected sockets on agent-1 (socket LB): ${socks.map((x) => x.seq).join(" | ")}`);
    // 12 sockets, each on either instance: all 12 on the survivor would take 2^-12.
    assert.ok(
      socks.some((x) => x.first === pinned),
      `no agent-1 socket was on ${short(pinned)}: ${JSON.stringify(socks)}`,
    );
    for (const [i, x] of socks.entries()) {
      const what = `agent-1 socket ${i}: ${JSON.stringify(x)}`;
      if (x.first === pinned) {
        assert.ok(x.aborted >= 1, `aborted when ${short(pinned)} left: ${what}`);
        assert.ok(x.last !== undefined && x.last !== pinned && ids.includes(x.last), `reconnected to the other instance: ${what}`);
      } else {
        assert.ok(x.first !== undefined && ids.includes(x.first), what);
        assert.equal(x.aborted, 0, `a socket on the surviving instance is left alone: ${what}`);
        assert.equal(x.last, x.first, what);
      }
    }
    await cluster.marathon(`/v2/apps${UDP}`, { method: "DELETE" });
    await waitDetailEverywhere(`${UDP_VIP} gone`, (d) => assert.ok(!d.vips.some((v) => v.vip === UDP_VIP), "still there"), 30_000);
  }).timeout(120_000);

  it("kill -9 of agent-2: its backends leave the data plane of every surviving node within 5 s; traffic reaches only surviving instances", async function () {
    const victim = cluster.node("agent-2");
    // Only the IP VIP stays (3 instances, on both agents): a VIP whose backends would all be on agent-2 stays (fail-open).
    for (const app of [NAMED, HEALTH, BRIDGE]) await cluster.marathon(`/v2/apps${app}`, { method: "DELETE" });
    const state = await cluster.masterState();
    const ipTasks = stateTasks(state).filter(ofApp(IPVIP));
    const onVictim = ipTasks.filter((t) => t.slave_id === victim.id);
    const survivors = ipTasks.filter((t) => t.slave_id !== victim.id);
    assert.ok(onVictim.length > 0 && survivors.length > 0, `${IPVIP} on ${ipTasks.map((t) => t.slave_id).join(" ")}`);
    await waitCompatEverywhere({ [`tcp ${IP_VIP}`]: ipTasks.map((t) => hostEndpoint(state, t)).sort() }, 30_000);

    // Inside every surviving node, every 100 ms: agent-2's backends in use in the detail API, and agent-2's address in our nft table.
    const POLL_JS = [
      "const { execFileSync } = require('child_process');",
      "const [ip, table, port, durationMs] = process.argv.slice(1); const t0 = Date.now(); const out = [];",
      "(async () => {",
      "  while (Date.now() - t0 < +durationMs) {",
      "    const at = Date.now(); let api = -1, nft = -1;",
      "    try { const d = await (await fetch('http://127.0.0.1:' + port + '/v1/vips/detail')).json();",
      "      api = d.vips.flatMap((v) => v.backends).filter((b) => b.agentIp === ip && b.inUse).length; } catch {}",
      "    try { nft = execFileSync('nft', ['-j', 'list', 'table', 'ip', table], { encoding: 'utf8' }).split('\"' + ip + '\"').length - 1; } catch {}",
      "    out.push([at, api, nft]);",
      "    await new Promise((ok) => setTimeout(ok, Math.max(0, at + 100 - Date.now())));",
      "  }",
      "  console.log(JSON.stringify(out));",
      "})();",
    ].join("\n");
    const nodes = running().filter((n) => n.id !== victim.id);
    const DURATION = 16_000;
    const polls = Promise.all(
      nodes.map((n) =>
        nodeJson<[number, number, number][]>(
          n,
          POLL_JS,
          [victim.ip, L4LB_NFT_TABLE, String(L4LB_HTTP_PORT), String(DURATION)],
          DURATION + 30_000,
        ),
      ),
    );
    await sleep(3_000);
    const killedAt = Date.now();
    await cluster.killNode(victim.id);
    log(
      `killed ${victim.id} (${victim.ip}) hosting ${onVictim.length} of ${IPVIP}'s backends (docker kill took ${Date.now() - killedAt} ms)`,
    );

    // Traffic through the VIP from agent-3's client meanwhile: never an instance of agent-2 once it is gone from the table.
    const results = await polls;
    const summary: string[] = [];
    const times: number[] = [];
    for (const [i, node] of nodes.entries()) {
      const samples = results[i]!;
      const before = samples.filter(([at]) => at < killedAt);
      assert.ok(before.length > 0, `${node.id}: samples before the kill`);
      const last = before[before.length - 1]!;
      assert.ok(last[1] > 0 && last[2] > 0, `${node.id}: agent-2's backends in use before the kill: ${JSON.stringify(last)}`);
      const gone = (col: 1 | 2): number => {
        const idx = samples.findIndex(([at], j) => at >= killedAt && samples.slice(j).every((s) => s[col] === 0));
        assert.ok(
          idx >= 0,
          `${node.id}: agent-2's backends never left (${col === 1 ? "API" : "nft"}): ${JSON.stringify(samples.slice(-3))}`,
        );
        return samples[idx]![0] - killedAt;
      };
      const api = gone(1);
      const nft = gone(2);
      times.push(nft);
      summary.push(`${node.id}: API ${api} ms, nft ${nft} ms`);
    }
    log(`agent-2's backends left every surviving node's data plane after the kill: ${summary.join("; ")} (max ${Math.max(...times)} ms)`);
    for (const [i, t] of times.entries()) assert.ok(t <= AGENT_DEATH_MS, `${nodes[i]!.id}: ${t} ms > ${AGENT_DEATH_MS} ms`);

    // Through the VIP: only the surviving instances (a relaunched one may join later), never agent-2's.
    const dead = new Set(onVictim.map((t) => t.id));
    let lastProbe: ProbeResult | undefined;
    await eventually(
      async () => {
        const got = await probeFromClient(`http://${IP_VIP}/`);
        lastProbe = got;
        const fromDead = Object.keys(got.ids).filter((id) => dead.has(id));
        assert.deepEqual(fromDead, [], `agent-2's instances answered: ${showIds(got.ids)}`);
        assert.deepEqual(got.errors, [], `errors: ${got.errors.join(",")}`);
        for (const t of survivors) assert.ok(got.ids[t.id], `${short(t.id)} answered (${showIds(got.ids)})`);
      },
      15_000,
      250,
    );
    const fromMaster = await nodeJson<ProbeResult>(cluster.masters()[0]!, PROBE_JS, [`http://${IP_VIP}/`, "30"]);
    assert.deepEqual(
      Object.keys(fromMaster.ids).filter((id) => dead.has(id)),
      [],
      `master-1: ${showIds(fromMaster.ids)}`,
    );
    assert.deepEqual(fromMaster.errors, []);
    log(`through ${IP_VIP} after the kill: client → ${showIds(lastProbe!.ids)}; master-1 → ${showIds(fromMaster.ids)}`);
  }).timeout(180_000);
});

function sortKeys(o: Record<string, string[]>): [string, string[]][] {
  return Object.entries(o)
    .map(([k, v]): [string, string[]] => [k, [...v].sort()])
    .sort(([a], [b]) => a.localeCompare(b));
}
