import { strict as assert } from "node:assert";
import { createLogger, createMemoryHub, createRegistry, eventually, validate, type MemoryHub } from "@dcnet/core";
import { buildQuery, decode, TYPE_A, udpExchange } from "@dcnet/dns";
import { createMesosDns, parseMesosDnsConfig, type MesosDns } from "@dcnet/mesos-dns";
import { createMesosSim, mesosSimConfigSchema, type MesosSim } from "@dcnet/mesos-sim";
import type { DcosDns } from "./service";
import { startDcosDns, testConfig } from "./test-util";

/**
 * The whole path in one process: mesos-sim (master + Marathon + agent running real processes),
 * Mesos-DNS, a producing dcos-dns on the "master" and a consuming one on another "node", on the
 * in-process bus. Deploying through Marathon makes the task resolvable at the other node.
 */
const logger = createLogger({ service: "test", level: "silent" });
const SLEEP = `node -e "setInterval(()=>{},1000)"`;
const CLUSTER = { id: "dnstest", key: "dcos-dns-test-key-00000" };

describe("dcos-dns producer → bus → every node (mesos-sim, Mesos-DNS, in-process bus)", function () {
  this.timeout(60_000);
  let hub: MemoryHub;
  const sims: MesosSim[] = [];
  let mesosDns: MesosDns;
  let producer: DcosDns;
  let consumer: DcosDns;
  let marathonPort = 0;

  const sim = async (raw: Record<string, unknown>) => {
    const config = validate(mesosSimConfigSchema, { cluster: CLUSTER, bus: { kind: "memory" }, ...raw });
    const s = createMesosSim(config, { logger, registry: createRegistry({ defaultMetrics: false }), hub });
    await s.lifecycle.start();
    sims.push(s);
    return s;
  };
  const ask = async (svc: DcosDns, name: string) => {
    const r = await udpExchange(svc.ports().dns[0]!.udp, buildQuery({ id: 3, name, qtype: TYPE_A }));
    assert.ok(r);
    return decode(r);
  };
  const marathon = (path: string, init?: RequestInit) => fetch(`http://127.0.0.1:${marathonPort}${path}`, init);

  before(async () => {
    hub = createMemoryHub();
    const m = await sim({
      roles: ["master"],
      master: {
        id: "m1",
        ip: "127.0.0.1",
        host: "127.0.0.1",
        port: 0,
        marathonPort: 0,
        grpcPort: 0,
        leaseMs: 600,
        renewMs: 100,
        backoffMs: 100,
      },
    });
    await sim({
      roles: ["agent"],
      agent: {
        id: "a1",
        ip: "127.0.0.1",
        host: "127.0.0.1",
        port: 0,
        portRange: [22500, 22599],
        heartbeatMs: 100,
        bridge: { enabled: "off" },
      },
    });
    await eventually(() => assert.ok(m.master!.isLeader()));
    const masterAddr = `127.0.0.1:${m.master!.ports().master}`;
    marathonPort = m.master!.ports().marathon;
    mesosDns = createMesosDns(
      parseMesosDnsConfig(
        {
          masters: [masterAddr],
          port: 0,
          httpport: 0,
          listener: "127.0.0.1",
          HTTPListener: "127.0.0.1",
          refreshSeconds: 60,
          externalOn: false,
        },
        { env: {}, warn: () => undefined },
      ),
      { env: {}, grpcPort: 0 },
      { logger, registry: createRegistry({ defaultMetrics: false }) },
    );
    await mesosDns.lifecycle.start();
    const common = { cluster: CLUSTER, bus: { kind: "memory" }, masters: ["127.0.0.1"] };
    producer = await startDcosDns(
      testConfig({
        ...common,
        node: { id: "dns-master" },
        producer: {
          enabled: true,
          mesosMasters: [masterAddr],
          mesosDnsGrpc: `127.0.0.1:${mesosDns.ports().grpc}`,
          recoveryTimeoutMs: 1000,
          settleMs: 0,
          pushIntervalMs: 200,
        },
      }),
      { hub },
    );
    consumer = await startDcosDns(testConfig({ ...common, node: { id: "dns-agent" } }), { hub });
  });
  after(async () => {
    await consumer?.lifecycle.stop();
    await producer?.lifecycle.stop();
    await mesosDns?.lifecycle.stop();
    for (const s of sims.reverse()) await s.lifecycle.stop();
  });

  it("publishes leader. and master. records while the local master leads", async () => {
    await eventually(
      async () => assert.equal((await ask(consumer, "leader.dcos.thisdcos.directory")).answers[0]?.data, "127.0.0.1"),
      10_000,
    );
    assert.equal((await ask(consumer, "master.dcos.thisdcos.directory")).answers[0]!.data, "127.0.0.1");
    assert.ok(producer.producer()!.isLeading());
  });

  it("a task deployed through Marathon resolves at every node under autoip and agentip, and in the .mesos mirror", async () => {
    const res = await marathon("/v2/apps", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ id: "/web/app", cmd: SLEEP, instances: 2, cpus: 0.1, mem: 16, portDefinitions: [{ port: 0, name: "http" }] }),
    });
    assert.equal(res.status, 201, await res.clone().text());
    const name = "app-web.marathon.autoip.dcos.thisdcos.directory";
    for (const svc of [consumer, producer]) {
      await eventually(async () => {
        const d = await ask(svc, name);
        assert.equal(d.rcode, 0);
        assert.deepEqual(
          d.answers.map((a) => a.data),
          ["127.0.0.1"],
          "two tasks on one agent: one address, kept once",
        );
      }, 15_000);
    }
    assert.equal((await ask(consumer, "app-web.marathon.agentip.dcos.thisdcos.directory")).answers[0]!.data, "127.0.0.1");
    await eventually(async () => {
      const d = await ask(consumer, "app-web.marathon.mesos.thisdcos.directory");
      assert.equal(d.rcode, 0);
      assert.equal(d.answers[0]!.data, "127.0.0.1");
    }, 15_000);
  });

  it("deleting the app removes its names everywhere (NXDOMAIN)", async () => {
    const res = await marathon("/v2/apps/web/app", { method: "DELETE" });
    assert.ok(res.ok, await res.clone().text());
    await eventually(async () => assert.equal((await ask(consumer, "app-web.marathon.autoip.dcos.thisdcos.directory")).rcode, 3), 15_000);
    await eventually(async () => assert.equal((await ask(consumer, "app-web.marathon.mesos.thisdcos.directory")).rcode, 3), 15_000);
  });
});
