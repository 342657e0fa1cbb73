import { strict as assert } from "node:assert";
import type * as http from "node:http";
import { createLogger, createRegistry, eventually, type Registry } from "@dcnet/core";
import { fakeMaster, frame, startStream, type FakeMaster } from "@dcnet/mesos/dist/testing/fake-master";
import { TYPE_A } from "@dcnet/dns";
import { parseMesosDnsConfig } from "../config";
import { createDnsServer } from "../dns/server";
import { buildQuery, decode, makeConfig, quietLogger } from "../dns/test-helpers";
import { agentIdSuffix } from "../records/generator";
import { hashString } from "../records/hash";
import { PLAIN_HTTP } from "./master-http";
import { Reloader, type Generation } from "./reloader";
import { StateSubscription } from "./subscribe";

const logger = createLogger({ service: "test", level: "silent" });

const task = (state: string) => ({
  id: "web.1",
  name: "web",
  framework_id: "F1",
  slave_id: "S1",
  state,
  statuses: [{ state, timestamp: 1, container_status: { network_infos: [{ ip_addresses: [{ ip_address: "10.0.0.9" }] }] } }],
});
/** An update of task `id`; with `ip`, its status carries that container address. */
const update = (state: string, id = "web.1", ip: string | null = "10.0.0.9") => ({
  type: "TASK_UPDATED",
  task_updated: {
    framework_id: { value: "F1" },
    status: {
      task_id: { value: id },
      state,
      timestamp: 2,
      ...(ip !== null ? { container_status: { network_infos: [{ ip_addresses: [{ ip_address: ip }] }] } } : {}),
    },
    state,
  },
});
const v1Task = (id: string, name: string, state: string) => ({
  name,
  task_id: { value: id },
  framework_id: { value: "F1" },
  agent_id: { value: "S1" },
  state,
  statuses: [],
});

/** A host-mode instance of app `app` (no address of its own: the agent's) with one port, as /master/state shows it running. */
const hostTask = (id: string, app: string, port: number, agent = "S1") => ({
  id,
  name: app,
  framework_id: "F1",
  slave_id: agent,
  state: "TASK_RUNNING",
  statuses: [{ state: "TASK_RUNNING", timestamp: 2 }],
  resources: { ports: `[${port}-${port}]` },
});
/** The same instance as the stream adds it (v1). */
const hostAdded = (id: string, app: string, port: number, agent = "S1") => ({
  type: "TASK_ADDED",
  task_added: {
    task: {
      name: app,
      task_id: { value: id },
      framework_id: { value: "F1" },
      agent_id: { value: agent },
      state: "TASK_STAGING",
      statuses: [],
      resources: [{ name: "ports", type: "RANGES", ranges: { range: [{ begin: port, end: port }] } }],
    },
  },
});
/** The canonical label of a task (`<name>-<hash of id>-<agent id suffix>`). */
const canonical = (id: string, app: string, agent = "S1") => `${app}-${hashString(id)}-${agentIdSuffix(agent)}`;
const S1 = { id: "S1", hostname: "agent1", pid: "slave(1)@10.0.0.5:5051" };

/** `name{labels} value` from the registry's text, 0 when absent. */
async function sample(registry: Registry, series: string): Promise<number> {
  const line = (await registry.metrics()).split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

describe("mesos-dns reloads on the master's SUBSCRIBE events that can change records", function () {
  this.timeout(15_000);
  let master: FakeMaster;
  let stream: http.ServerResponse | undefined;
  let tasks: unknown[] = [];
  let slaves: unknown[] = [S1];
  /** Milliseconds /master/state waits before answering with the state as it was when asked. */
  let stateDelayMs = 0;
  let reloader: Reloader;
  let registry: Registry;
  const eventReloads = () => sample(registry, 'mesos_dns_refresh_total{trigger="event"}');
  const events = (type: string, reload: "yes" | "no") =>
    sample(registry, `mesos_dns_master_events_total{type="${type}",reload="${reload}"}`);
  const webA = () => reloader.current?.set.a.get("web.marathon.mesos.");
  const incremental = (result: string) => sample(registry, `mesos_dns_incremental_updates_total{result="${result}"}`);
  /** Collects the generations published while `body` runs. */
  async function generationsDuring(body: (seen: Generation[]) => Promise<void>): Promise<void> {
    const seen: Generation[] = [];
    const onGen = (g: Generation) => seen.push(g);
    reloader.on("generation", onGen);
    try {
      await body(seen);
    } finally {
      reloader.off("generation", onGen);
    }
  }
  /** Starts a reload whose state is taken now and answered after `ms` (a reload under way with older state). */
  async function slowReload(ms: number): Promise<void> {
    stateDelayMs = ms;
    stream!.write(frame({ type: "FRAMEWORK_UPDATED" }));
    await new Promise((r) => setTimeout(r, 50));
    stateDelayMs = 0;
  }

  before(async () => {
    master = await fakeMaster((req, res) => {
      if (req.url === "/api/v1" && req.method === "POST") {
        stream = res;
        startStream(res, { type: "SUBSCRIBED", subscribed: { get_state: { get_tasks: { tasks: [] } } } });
        return;
      }
      if (req.url !== "/master/state") return void res.writeHead(404).end();
      const body = JSON.stringify({
        leader: `master@${master.address}`,
        slaves,
        frameworks: [{ id: "F1", name: "marathon", hostname: "m1", pid: "marathon@10.0.0.1:8080", tasks }],
      });
      setTimeout(() => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(body);
      }, stateDelayMs);
    });
    const config = parseMesosDnsConfig({ masters: [master.address], refreshSeconds: 3600 }, { env: {}, warn: () => undefined });
    registry = createRegistry({ defaultMetrics: false });
    reloader = new Reloader(config, { log: logger, registry, subscribe: true });
    await reloader.start();
    await eventually(() => assert.ok(stream, "subscribed"));
    // The SUBSCRIBED snapshot itself is a change (a resync): let its reload pass.
    await eventually(async () => assert.equal(await events("SUBSCRIBED", "yes"), 1));
    await eventually(async () => assert.equal(await eventReloads(), 1));
  });
  after(async () => {
    reloader?.stop();
    await master?.close();
  });

  it("a launch reloads once, at TASK_RUNNING, and the task resolves", async () => {
    stream!.write(
      frame({
        type: "TASK_ADDED",
        task_added: { task: { framework_id: { value: "F1" }, task_id: { value: "web.1" }, state: "TASK_STAGING" } },
      }),
    );
    stream!.write(frame(update("TASK_STARTING")));
    await eventually(async () => assert.equal(await events("TASK_UPDATED", "no"), 1));
    assert.equal(await events("TASK_ADDED", "no"), 1);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(await eventReloads(), 1, "no reload for ADDED/STARTING");
    tasks = [task("TASK_RUNNING")];
    stream!.write(frame(update("TASK_RUNNING")));
    await eventually(() => assert.deepEqual(webA(), ["10.0.0.9"]));
    assert.equal(await eventReloads(), 2);
  });

  it("killing removes the records; the terminal update after it reloads nothing", async () => {
    tasks = [task("TASK_KILLING")];
    stream!.write(frame(update("TASK_KILLING")));
    await eventually(() => assert.equal(webA(), undefined));
    assert.equal(await eventReloads(), 3);
    tasks = [];
    stream!.write(frame(update("TASK_KILLED")));
    await eventually(async () => assert.equal(await events("TASK_UPDATED", "no"), 2));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(await eventReloads(), 3);
  });

  it("a task's records come with its TASK_RUNNING event, and a reload already under way (older state) keeps them", async () => {
    const seen: Generation[] = [];
    const onGen = (g: Generation) => seen.push(g);
    reloader.on("generation", onGen);
    try {
      const reloads = await eventReloads();
      // A reload that fetches the state before the task runs, and takes 300 ms to get it.
      stateDelayMs = 300;
      stream!.write(frame({ type: "FRAMEWORK_UPDATED" }));
      await new Promise((r) => setTimeout(r, 50));
      stateDelayMs = 0;
      stream!.write(frame({ type: "TASK_ADDED", task_added: { task: v1Task("api.1", "api", "TASK_STAGING") } }));
      tasks = [task("TASK_RUNNING"), { ...task("TASK_RUNNING"), id: "api.1", name: "api" }];
      stream!.write(frame(update("TASK_RUNNING", "api.1")));
      // Served from the event, while the slow reload still runs.
      await eventually(() => assert.deepEqual(reloader.current?.set.a.get("api.marathon.mesos."), ["10.0.0.9"]));
      assert.equal(await eventReloads(), reloads, "before any reload finished");
      // The slow reload (state without api) and the one after it (with api) finish.
      await eventually(async () => assert.equal(await eventReloads(), reloads + 2), 5000);
      const first = seen.findIndex((g) => g.set.a.has("api.marathon.mesos."));
      assert.ok(first >= 0);
      for (const g of seen.slice(first)) assert.deepEqual(g.set.a.get("api.marathon.mesos."), ["10.0.0.9"], "never taken away");
    } finally {
      reloader.off("generation", onGen);
    }
  });

  it("a task killed while a reload with older state runs is not put back by that reload", async () => {
    const seen: Generation[] = [];
    const onGen = (g: Generation) => seen.push(g);
    reloader.on("generation", onGen);
    const jobA = () => reloader.current?.set.a.get("job.marathon.mesos.");
    try {
      const reloads = await eventReloads();
      const before = tasks;
      stateDelayMs = 300;
      stream!.write(frame({ type: "FRAMEWORK_UPDATED" }));
      await new Promise((r) => setTimeout(r, 50));
      stateDelayMs = 0;
      stream!.write(frame({ type: "TASK_ADDED", task_added: { task: v1Task("job.1", "job", "TASK_STAGING") } }));
      stream!.write(frame(update("TASK_RUNNING", "job.1")));
      await eventually(() => assert.deepEqual(jobA(), ["10.0.0.9"]));
      const killedAt = seen.length;
      tasks = before;
      stream!.write(frame(update("TASK_KILLED", "job.1")));
      await eventually(async () => assert.equal(await eventReloads(), reloads + 2), 5000);
      assert.ok(seen.length > killedAt, "the slow reload finished after the kill");
      for (const g of seen.slice(killedAt)) assert.equal(g.set.a.get("job.marathon.mesos."), undefined, "not served after its kill");
    } finally {
      reloader.off("generation", onGen);
    }
  });

  it("killing one of two host-mode instances on one agent removes only its own records, at once; the app's name stays", async () => {
    const a = reloader.current!.set.a;
    const before = await eventReloads();
    tasks = [...tasks, hostTask("app.1", "app", 31000), hostTask("app.2", "app", 31001)];
    for (const [id, port] of [
      ["app.1", 31000],
      ["app.2", 31001],
    ] as const) {
      stream!.write(frame(hostAdded(id, "app", port)));
      stream!.write(frame(update("TASK_RUNNING", id, null)));
    }
    await eventually(async () => assert.equal(await eventReloads(), before + 1));
    assert.notEqual(reloader.current!.set.a, a);
    const c1 = canonical("app.1", "app");
    const c2 = canonical("app.2", "app");
    const running = reloader.current!;
    assert.deepEqual(running.set.a.get("app.marathon.mesos."), ["10.0.0.5"], "both instances give the agent's address");
    assert.deepEqual([...running.set.srv.get("_app._tcp.marathon.mesos.")!].sort(), [
      `${c1}.marathon.slave.mesos.:31000`,
      `${c2}.marathon.slave.mesos.:31001`,
    ]);
    const removed = await incremental("removed");
    const reloads = await eventReloads();
    // The reload the kill triggers takes 300 ms: what is served before it comes from the event.
    stateDelayMs = 300;
    tasks = tasks.filter((t) => (t as { id: string }).id !== "app.1");
    stream!.write(frame(update("TASK_KILLING", "app.1", null)));
    await eventually(() => assert.equal(reloader.current!.set.a.get(`${c1}.marathon.mesos.`), undefined));
    assert.equal(await eventReloads(), reloads, "before the reload");
    assert.equal(await incremental("removed"), removed + 1);
    const fromEvent = reloader.current!.set;
    assert.deepEqual(fromEvent.a.get("app.marathon.mesos."), ["10.0.0.5"], "app.2 still gives it");
    assert.deepEqual(fromEvent.a.get("app.marathon.slave.mesos."), ["10.0.0.5"]);
    assert.deepEqual(fromEvent.a.get(`${c2}.marathon.mesos.`), ["10.0.0.5"]);
    assert.equal(fromEvent.a.get(`${c1}.marathon.slave.mesos.`), undefined);
    for (const proto of ["tcp", "udp"]) {
      assert.deepEqual(fromEvent.srv.get(`_app._${proto}.marathon.mesos.`), [`${c2}.marathon.slave.mesos.:31001`]);
      assert.deepEqual(fromEvent.srv.get(`_app._${proto}.marathon.slave.mesos.`), [`${c2}.marathon.slave.mesos.:31001`]);
    }
    // Only app.1's own records went: every other name and value is as before.
    const lines = (set: Generation["set"]) =>
      [...set.a, ...set.srv].flatMap(([n, vs]) => vs.map((v) => `${n} ${v}`)).filter((l) => !l.includes(c1));
    assert.deepEqual(lines(fromEvent), lines(running.set));
    await eventually(async () => assert.equal(await eventReloads(), reloads + 1), 5000);
    stateDelayMs = 0;
    assert.deepEqual(reloader.current!.set.a.get("app.marathon.mesos."), ["10.0.0.5"], "the reload agrees");
  });

  it("killing the last instance removes the app's name at once: NXDOMAIN from the answers before the reload", async () => {
    const dns = createDnsServer({ config: makeConfig(), logger: quietLogger(), registry: createRegistry({ defaultMetrics: false }) });
    dns.update(reloader.current!.set, reloader.current!.serial);
    const onGen = (g: Generation) => dns.update(g.set, g.serial);
    reloader.on("generation", onGen);
    const ask = async (name: string) => decode((await dns.query(buildQuery({ name, qtype: TYPE_A }), "udp"))!);
    try {
      const served = await ask("app.marathon.mesos.");
      assert.equal(served.rcode, 0);
      assert.deepEqual(
        served.answers.map((r) => r.data),
        ["10.0.0.5"],
      );
      const reloads = await eventReloads();
      stateDelayMs = 300;
      tasks = tasks.filter((t) => (t as { id: string }).id !== "app.2");
      stream!.write(frame(update("TASK_KILLED", "app.2", null)));
      await eventually(async () => assert.equal((await ask("app.marathon.mesos.")).rcode, 3, "NXDOMAIN"));
      assert.equal(await eventReloads(), reloads, "before the reload");
      assert.equal((await ask(`${canonical("app.2", "app")}.marathon.mesos.`)).rcode, 3);
      assert.equal(reloader.current!.set.srv.get("_app._tcp.marathon.mesos."), undefined);
      await eventually(async () => assert.equal(await eventReloads(), reloads + 1), 5000);
      stateDelayMs = 0;
      assert.equal((await ask("app.marathon.mesos.")).rcode, 3, "the reload agrees");
    } finally {
      reloader.off("generation", onGen);
    }
  });

  it("a task killed while a reload with state from before the kill runs: that reload does not bring it back", async () => {
    const db = canonical("db.1", "db");
    tasks = [...tasks, hostTask("db.1", "db", 31002)];
    stream!.write(frame(hostAdded("db.1", "db", 31002)));
    stream!.write(frame(update("TASK_RUNNING", "db.1", null)));
    await eventually(() => assert.ok(reloader.current!.set.a.has(`${db}.marathon.mesos.`)));
    const reloads = await eventReloads();
    await generationsDuring(async (seen) => {
      await slowReload(300); // its state has db.1 running
      const killedAt = seen.length;
      tasks = tasks.filter((t) => (t as { id: string }).id !== "db.1");
      stream!.write(frame(update("TASK_FAILED", "db.1", null)));
      await eventually(async () => assert.equal(await eventReloads(), reloads + 2), 5000);
      assert.ok(seen.length > killedAt + 1, "the removal, then the slow reload and the one after it");
      for (const g of seen.slice(killedAt)) {
        assert.equal(g.set.a.get(`${db}.marathon.mesos.`), undefined, "not served after its end");
        assert.equal(g.set.a.get("db.marathon.mesos."), undefined);
      }
    });
  });

  it("a kill the last reload's state cannot place is kept for a reload under way (older state) that can", async () => {
    // The task runs on an agent the last reload did not know: neither its start nor its kill can
    // be applied from the event; the reload under way knows the agent and has the task running.
    const S3 = { id: "S3", hostname: "agent3", pid: "slave(1)@10.0.0.7:5051" };
    const reloads = await eventReloads();
    const notRemoved = await incremental("not_removed");
    await generationsDuring(async (seen) => {
      slaves = [...slaves, S3];
      tasks = [...tasks, hostTask("gone.1", "gone", 31004, "S3")];
      stateDelayMs = 300;
      stream!.write(frame({ type: "AGENT_ADDED", agent_added: {} }));
      await new Promise((res) => setTimeout(res, 50));
      stateDelayMs = 0;
      tasks = tasks.filter((t) => (t as { id: string }).id !== "gone.1");
      stream!.write(frame(hostAdded("gone.1", "gone", 31004, "S3")));
      stream!.write(frame(update("TASK_RUNNING", "gone.1", null)));
      stream!.write(frame(update("TASK_KILLED", "gone.1", null)));
      await eventually(async () => assert.equal(await eventReloads(), reloads + 2), 5000);
      assert.equal(await incremental("not_removed"), notRemoved + 1);
      assert.ok(seen.length >= 2);
      for (const g of seen) assert.equal(g.set.a.get("gone.marathon.mesos."), undefined, "not served after its kill");
      assert.deepEqual(reloader.current!.set.a.get("slave.mesos.")?.includes("10.0.0.7"), true, "the agent is known now");
    });
  });

  it("a task running again under the same id after its kill is served again, also by a reload with state from before the kill", async () => {
    // As above (an agent the last reload did not know, a reload under way that has the task
    // running); here the task starts again after its kill, so that kill must not apply.
    const S2 = { id: "S2", hostname: "agent2", pid: "slave(1)@10.0.0.6:5051" };
    const r = hostTask("re.1", "re", 31003, "S2");
    const reA = (g: Generation | undefined) => g?.set.a.get("re.marathon.mesos.");
    const reloads = await eventReloads();
    const notRemoved = await incremental("not_removed");
    await generationsDuring(async (seen) => {
      slaves = [...slaves, S2];
      tasks = [...tasks, r];
      stateDelayMs = 300;
      stream!.write(frame({ type: "AGENT_ADDED", agent_added: {} }));
      await new Promise((res) => setTimeout(res, 50));
      stateDelayMs = 0;
      stream!.write(frame(hostAdded("re.1", "re", 31003, "S2")));
      stream!.write(frame(update("TASK_RUNNING", "re.1", null)));
      stream!.write(frame(update("TASK_KILLED", "re.1", null)));
      stream!.write(frame(hostAdded("re.1", "re", 31003, "S2")));
      stream!.write(frame(update("TASK_RUNNING", "re.1", null)));
      await eventually(async () => assert.equal(await eventReloads(), reloads + 2), 5000);
      assert.equal(await incremental("not_removed"), notRemoved + 1, "the kill was kept for the reload under way");
      assert.ok(seen.length >= 2);
      for (const g of seen) assert.deepEqual(reA(g), ["10.0.0.6"], "served by every reload after its restart");
    });
  });

  it("HEARTBEAT is neither counted nor a reload; an agent event reloads", async () => {
    const reloads = await eventReloads();
    const agentEvents = await events("AGENT_ADDED", "yes");
    stream!.write(frame({ type: "HEARTBEAT" }));
    stream!.write(frame({ type: "AGENT_ADDED", agent_added: {} }));
    await eventually(async () => assert.equal(await eventReloads(), reloads + 1));
    assert.equal(await events("HEARTBEAT", "no"), 0);
    assert.equal(await events("AGENT_ADDED", "yes"), agentEvents + 1);
  });

  it("mesos_dns_records counts values (not names) by type, also for a generation made from an event", async () => {
    const gauge = (type: string) => sample(registry, `mesos_dns_records{type="${type}"}`);
    const values = (m: ReadonlyMap<string, readonly string[]>) => [...m.values()].reduce((n, v) => n + v.length, 0);
    const reloads = await eventReloads();
    // A reload under way with the state from before the two instances run: the records below come from their events.
    stateDelayMs = 500;
    stream!.write(frame({ type: "FRAMEWORK_UPDATED" }));
    await new Promise((r) => setTimeout(r, 50));
    stateDelayMs = 0;
    for (const [id, ip] of [
      ["db.1", "10.0.0.21"],
      ["db.2", "10.0.0.22"],
    ] as const) {
      stream!.write(frame({ type: "TASK_ADDED", task_added: { task: v1Task(id, "db", "TASK_STAGING") } }));
      tasks = [...tasks, { ...task("TASK_RUNNING"), id, name: "db", statuses: [update("TASK_RUNNING", id, ip).task_updated.status] }];
      stream!.write(frame(update("TASK_RUNNING", id, ip)));
    }
    await eventually(() => assert.equal(reloader.current?.set.a.get("db.marathon.mesos.")?.length, 2));
    assert.equal(await eventReloads(), reloads, "no reload finished yet: the generation is the events'");
    const set = reloader.current!.set;
    assert.ok(values(set.a) > set.a.size, "a name with two values");
    assert.equal(await gauge("A"), values(set.a));
    assert.equal(await gauge("AAAA"), values(set.aaaa));
    assert.equal(await gauge("SRV"), values(set.srv));
    await eventually(async () => assert.ok((await eventReloads()) >= reloads + 2), 5000);
  });
});

describe("StateSubscription: a master that never answers SUBSCRIBE", () => {
  it("gives up after setupTimeoutMs and reports the stream lost (the reload then finds the leader)", async () => {
    const silent = await fakeMaster(() => undefined);
    let lost = 0;
    const sub = new StateSubscription({
      transport: PLAIN_HTTP,
      setupTimeoutMs: 200,
      log: logger,
      onEvent: () => undefined,
      onLost: () => lost++,
    });
    try {
      const t0 = Date.now();
      sub.follow(silent.address);
      await eventually(() => assert.ok(lost >= 1), 3000);
      assert.ok(Date.now() - t0 < 2000, "not held by the silent master");
    } finally {
      sub.stop();
      await silent.close();
    }
  });
});

describe("StateSubscription: liveness of the stream (3 × heartbeat_interval_seconds)", () => {
  const subscribed = (heartbeatSeconds: number) => ({
    type: "SUBSCRIBED",
    subscribed: { get_state: {}, heartbeat_interval_seconds: heartbeatSeconds },
  });

  it("a stream gone silent after SUBSCRIBED (connection left open) is dropped, reported lost and subscribed again", async () => {
    const master = await fakeMaster((_req, res) => startStream(res, subscribed(0.1)));
    let lost = 0;
    const sub = new StateSubscription({ transport: PLAIN_HTTP, log: logger, onEvent: () => undefined, onLost: () => lost++ });
    try {
      const t0 = Date.now();
      sub.follow(master.address);
      await eventually(() => assert.ok(lost >= 1), 3000);
      assert.ok(Date.now() - t0 >= 250, "not before 3 heartbeat intervals");
      await eventually(() => assert.ok(master.connections() >= 2, "subscribed again"), 3000);
    } finally {
      sub.stop();
      await master.close();
    }
  });

  it("HEARTBEATs keep the stream: no loss while they come", async () => {
    const timers: NodeJS.Timeout[] = [];
    const master = await fakeMaster((_req, res) => {
      startStream(res, subscribed(0.1));
      timers.push(setInterval(() => res.write(frame({ type: "HEARTBEAT" })), 50));
    });
    let lost = 0;
    const sub = new StateSubscription({ transport: PLAIN_HTTP, log: logger, onEvent: () => undefined, onLost: () => lost++ });
    try {
      sub.follow(master.address);
      await new Promise((r) => setTimeout(r, 800));
      assert.equal(lost, 0);
      assert.equal(master.connections(), 1);
    } finally {
      for (const t of timers) clearInterval(t);
      sub.stop();
      await master.close();
    }
  });
});

describe("StateSubscription: RecordIO framing", () => {
  const follow = async (write: (res: http.ServerResponse) => void, until: (types: string[]) => boolean) => {
    const master = await fakeMaster((_req, res) => {
      res.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked" });
      write(res);
    });
    const types: string[] = [];
    const sub = new StateSubscription({ transport: PLAIN_HTTP, log: logger, onEvent: (type) => types.push(type) });
    const t0 = Date.now();
    try {
      sub.follow(master.address);
      await eventually(() => assert.ok(until(types), types.join()), 8000);
      return { types, ms: Date.now() - t0 };
    } finally {
      sub.stop();
      await master.close();
    }
  };

  it("records split anywhere (prefix, body, several in one write) come out whole and in order", async () => {
    const all = Buffer.from(
      frame({ type: "SUBSCRIBED", subscribed: { get_state: {}, heartbeat_interval_seconds: 15 } }) +
        frame({ type: "AGENT_ADDED" }) +
        frame({ type: "HEARTBEAT" }) +
        frame({ type: "FRAMEWORK_ADDED" }) +
        frame({ type: "AGENT_REMOVED" }),
    );
    const { types } = await follow(
      (res) => {
        for (let i = 0, n = 1; i < all.length; i += n, n = (n % 3) + 1) res.write(all.subarray(i, i + n));
      },
      (t) => t.length >= 4,
    );
    assert.deepEqual(types, ["SUBSCRIBED", "AGENT_ADDED", "FRAMEWORK_ADDED", "AGENT_REMOVED"]);
  });

  it("a 20 MB SUBSCRIBED (the state of a big cluster) in 16 kB pieces is read in linear time", async () => {
    const tasks = Array.from({ length: 35_000 }, (_, i) => ({
      name: `t${i}`,
      task_id: { value: `task-${i}-${"x".repeat(500)}` },
      state: "TASK_RUNNING",
    }));
    const big = Buffer.from(
      frame({ type: "SUBSCRIBED", subscribed: { get_state: { get_tasks: { launched_tasks: tasks } }, heartbeat_interval_seconds: 15 } }),
    );
    assert.ok(big.length > 20e6);
    const { ms } = await follow(
      (res) => {
        for (let i = 0; i < big.length; i += 16_384) res.write(big.subarray(i, i + 16_384));
      },
      (t) => t.includes("SUBSCRIBED"),
    );
    // Joining the record at every chunk (quadratic) took ~6 s here; once, ~0.4 s.
    assert.ok(ms < 2500, `${ms} ms`);
  });
});
