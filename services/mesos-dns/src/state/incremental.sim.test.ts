/**
 * The incremental path against the real mesos-sim (in-process: master, Marathon, an agent running
 * real processes): the records a TASK_RUNNING event adds before any state fetch are exactly the
 * ones the full reload that follows derives for that task, for a host-mode app with named ports
 * (A, canonical names, SRV of ports and of discovery ports); and the set a kill leaves (the values
 * only the killed task gave removed from its event) is the one the full reload that follows
 * derives, when another instance on the same agent shares the app's names and when the last one
 * goes.
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

/** Every record of `set` as sorted `type name value` lines. */
const lines = (set: RecordSet): string[] => addedBy(set, { a: new Map(), aaaa: new Map(), srv: new Map(), enumeration: set.enumeration });

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

describe("mesos-dns incremental records from task events (real mesos-sim)", function () {
  this.timeout(30_000);
  const cluster = new SimCluster();
  let reloader: Reloader;
  let registry: Registry;
  const generations: Generation[] = [];
  const eventReloads = () => sample(registry, 'mesos_dns_refresh_total{trigger="event"}');
  const removedCount = () => sample(registry, 'mesos_dns_incremental_updates_total{result="removed"}');

  /**
   * Runs `act` (which kills one task), then returns the set published from the kill's event (a
   * generation that keeps its predecessor's enumeration: only a reload makes a new one) and the
   * set of the full reload after it, once the records have settled.
   */
  async function afterKill(act: () => Promise<void>): Promise<{ before: RecordSet; fromEvent: RecordSet; full: RecordSet }> {
    const before = reloader.current!;
    const mark = generations.length;
    const removed = await removedCount();
    await act();
    await eventually(async () => assert.equal(await removedCount(), removed + 1), 15_000);
    const i = generations.findIndex((g, k) => k >= mark && g.set.enumeration === generations[k - 1]!.set.enumeration);
    assert.ok(i >= mark, "a generation from the event");
    const fromEvent = generations[i]!;
    await eventually(() => assert.notEqual(reloader.current!.set.enumeration, fromEvent.set.enumeration, "a reload after it"));
    // The kill's terminal update and anything else the stream still sends.
    await new Promise((r) => setTimeout(r, 500));
    const next = generations.slice(i + 1).find((g) => g.set.enumeration !== fromEvent.set.enumeration)!;
    assert.deepEqual(lines(next.set), lines(reloader.current!.set), "settled");
    assert.ok(fromEvent.serial > before.serial && next.serial > fromEvent.serial, "serials increase");
    return { before: before.set, fromEvent: fromEvent.set, full: next.set };
  }

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

  it("after killing one of two instances on one agent, the set from the kill's event is the one the following full reload derives", async () => {
    await cluster.scale("/web", 2);
    await eventually(() => assert.equal(reloader.current!.set.srv.get("_web._tcp.marathon.mesos.")?.length, 4), 15_000); // 2 tasks × 2 ports
    await eventually(async () => assert.ok((await eventReloads()) > 0));
    const { before, fromEvent, full } = await afterKill(() => cluster.scale("/web", 1));
    assert.deepEqual(lines(fromEvent), lines(full));
    assert.deepEqual(fromEvent.a.get("web.marathon.mesos."), ["127.0.0.1"], "the other instance still gives it");
    assert.equal(fromEvent.srv.get("_web._tcp.marathon.mesos.")?.length, 2);
    assert.ok(lines(before).length > lines(fromEvent).length, "something was removed");
  });

  it("after killing the last instance, the app's names are gone from the kill's event, as from the following full reload", async () => {
    const { fromEvent, full } = await afterKill(() => cluster.scale("/web", 0));
    assert.deepEqual(lines(fromEvent), lines(full));
    assert.equal(fromEvent.a.get("web.marathon.mesos."), undefined);
    assert.equal(fromEvent.srv.get("_web._tcp.marathon.mesos."), undefined);
  });
});
