import { strict as assert } from "node:assert";
import type * as http from "node:http";
import { createLogger, createRegistry, eventually, type Registry } from "@dcnet/core";
import { fakeMaster, frame, startStream, type FakeMaster } from "@dcnet/mesos/dist/testing/fake-master";
import { parseMesosDnsConfig } from "../config";
import { Reloader } from "./reloader";

const logger = createLogger({ service: "test", level: "silent" });

const task = (state: string) => ({
  id: "web.1",
  name: "web",
  framework_id: "F1",
  slave_id: "S1",
  state,
  statuses: [{ state, timestamp: 1, container_status: { network_infos: [{ ip_addresses: [{ ip_address: "10.0.0.9" }] }] } }],
});
const update = (state: string) => ({
  type: "TASK_UPDATED",
  task_updated: { framework_id: { value: "F1" }, status: { task_id: { value: "web.1" }, state }, state },
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
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          leader: `master@${master.address}`,
          slaves: [{ id: "S1", hostname: "agent1", pid: "slave(1)@10.0.0.5:5051" }],
          frameworks: [{ id: "F1", name: "marathon", hostname: "m1", pid: "marathon@10.0.0.1:8080", tasks }],
        }),
      );
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

  it("HEARTBEAT is neither counted nor a reload; an agent event reloads", async () => {
    stream!.write(frame({ type: "HEARTBEAT" }));
    stream!.write(frame({ type: "AGENT_ADDED", agent_added: {} }));
    await eventually(async () => assert.equal(await eventReloads(), 4));
    assert.equal(await events("HEARTBEAT", "no"), 0);
    assert.equal(await events("AGENT_ADDED", "yes"), 1);
  });
});
