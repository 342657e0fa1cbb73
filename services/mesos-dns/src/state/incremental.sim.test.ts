/**
 * The incremental path against the real mesos-sim (in-process: master, Marathon, an agent running
 * real processes): the records a TASK_RUNNING event adds before any state fetch are exactly the
 * ones the full reload that follows derives for that task, for a host-mode app with named ports
 * (A, canonical names, SRV of ports and of discovery ports).
 */
import { strict as assert } from "node:assert";
import { createLogger, createRegistry, eventually, type Registry } from "@dcnet/core";
import { SimCluster } from "@dcnet/mesos/dist/testing/sim-cluster";
import { parseMesosDnsConfig } from "../config";
import type { RecordSet } from "../model";
import { Reloader, type Generation } from "./reloader";

const logger = createLogger({ service: "test", level: "silent" });

async function sample(registry: Registry, series: string): Promise<number> {
  const line = (await registry.metrics()).split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

/** `type name value` of every record of `set` that `base` does not have. */
function addedBy(set: RecordSet, base: RecordSet): string[] {
  const out: string[] = [];
  for (const [type, m, b] of [
    ["A", set.a, base.a],
    ["AAAA", set.aaaa, base.aaaa],
    ["SRV", set.srv, base.srv],
  ] as const)
    for (const [name, values] of m) for (const v of values) if (!(b.get(name)?.includes(v) ?? false)) out.push(`${type} ${name} ${v}`);
  return out.sort();
}

describe("mesos-dns incremental records from TASK_RUNNING (real mesos-sim)", function () {
  this.timeout(30_000);
  const cluster = new SimCluster();
  let reloader: Reloader;
  let registry: Registry;
  const generations: Generation[] = [];

  before(async () => {
    await cluster.master(1);
    await cluster.agent(1, 23500);
    const leader = await cluster.ready();
    const config = parseMesosDnsConfig({ masters: [cluster.address(leader)], refreshSeconds: 3600 }, { env: {}, warn: () => undefined });
    registry = createRegistry({ defaultMetrics: false });
    reloader = new Reloader(config, { log: logger, registry, subscribe: true });
    reloader.on("generation", (g: Generation) => generations.push(g));
    await reloader.start();
    await eventually(async () => assert.equal(await sample(registry, 'mesos_dns_master_events_total{type="SUBSCRIBED",reload="yes"}'), 1));
  });
  after(async () => {
    reloader?.stop();
    await cluster.stop();
  });

  it("the records added at TASK_RUNNING are those the following full reload has for the task", async () => {
    await eventually(async () => assert.ok((await sample(registry, 'mesos_dns_refresh_total{trigger="event"}')) >= 1));
    const before = reloader.current!;
    const fullBefore = await sample(registry, 'mesos_dns_refresh_total{trigger="event"}');
    await cluster.deploy({
      id: "/web",
      cmd: `node -e "setInterval(()=>{},1000)"`,
      instances: 1,
      cpus: 0.1,
      mem: 32,
      portDefinitions: [
        { port: 0, name: "http", protocol: "tcp" },
        { port: 0, name: "metrics", protocol: "udp,tcp" },
      ],
    });
    await eventually(async () => assert.equal(await sample(registry, 'mesos_dns_incremental_updates_total{result="added"}'), 1), 15_000);
    const incremental = generations.find((g) => g.set.a.has("web.marathon.mesos."));
    assert.ok(incremental, "a generation with the task");
    // The full reload triggered by the same event, with a state fetched after it.
    await eventually(async () => {
      assert.ok((await sample(registry, 'mesos_dns_refresh_total{trigger="event"}')) > fullBefore);
      assert.notEqual(reloader.current, incremental);
    });
    const full = reloader.current!;
    const fromEvent = addedBy(incremental.set, before.set);
    const fromReload = addedBy(full.set, before.set);
    assert.ok(
      fromEvent.some((r) => r.startsWith("A web.marathon.mesos. ")),
      fromEvent.join("\n"),
    );
    assert.ok(
      fromEvent.some((r) => r.startsWith("SRV _web._tcp.marathon.mesos. ")),
      fromEvent.join("\n"),
    );
    assert.ok(
      fromEvent.some((r) => r.startsWith("SRV _metrics._web._udp.marathon.mesos. ")),
      fromEvent.join("\n"),
    );
    assert.deepEqual(fromEvent, fromReload);
    assert.ok(incremental.serial > before.serial && full.serial > incremental.serial, "serials increase");
  });
});
