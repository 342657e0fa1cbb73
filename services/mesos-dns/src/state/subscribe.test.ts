import { strict as assert } from "node:assert";
import type * as http from "node:http";
import { createLogger, createRegistry, eventually, type Registry } from "@dcnet/core";
import { fakeMaster, frame, startStream, type FakeMaster } from "@dcnet/mesos/dist/testing/fake-master";
import { parseMesosDnsConfig } from "../config";
import { Reloader, type Generation } from "./reloader";

const logger = createLogger({ service: "test", level: "silent" });

const task = (state: string) => ({
  id: "web.1",
  name: "web",
  framework_id: "F1",
  slave_id: "S1",
  state,
  statuses: [{ state, timestamp: 1, container_status: { network_infos: [{ ip_addresses: [{ ip_address: "10.0.0.9" }] }] } }],
});
const update = (state: string, id = "web.1") => ({
  type: "TASK_UPDATED",
  task_updated: {
    framework_id: { value: "F1" },
    status: {
      task_id: { value: id },
      state,
      timestamp: 2,
      container_status: { network_infos: [{ ip_addresses: [{ ip_address: "10.0.0.9" }] }] },
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
  /** Milliseconds /master/state waits before answering with the state as it was when asked. */
  let stateDelayMs = 0;
  let reloader: Reloader;
  let registry: Registry;
  const eventReloads = () => sample(registry, 'mesos_dns_refresh_total{trigger="event"}');
  const events = (type: string, reload: "yes" | "no") =>
    sample(registry, `mesos_dns_master_events_total{type="${type}",reload="${reload}"}`);
  const webA = () => reloader.current?.set.a.get("web.marathon.mesos.");

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
        slaves: [{ id: "S1", hostname: "agent1", pid: "slave(1)@10.0.0.5:5051" }],
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

  it("HEARTBEAT is neither counted nor a reload; an agent event reloads", async () => {
    const reloads = await eventReloads();
    stream!.write(frame({ type: "HEARTBEAT" }));
    stream!.write(frame({ type: "AGENT_ADDED", agent_added: {} }));
    await eventually(async () => assert.equal(await eventReloads(), reloads + 1));
    assert.equal(await events("HEARTBEAT", "no"), 0);
    assert.equal(await events("AGENT_ADDED", "yes"), 1);
  });
});
