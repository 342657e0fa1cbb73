import { strict as assert } from "node:assert";
import { connectBus, createMemoryHub, eventually, type Bus } from "@dcnet/core";
import { buildQuery, decode, TYPE_A, udpExchange } from "@dcnet/dns";
import { L4LB_BUCKET } from "./l4lb-zone";
import type { DcosDns } from "./service";
import { quiet, startDcosDns, testConfig } from "./test-util";

describe("l4lb.thisdcos.directory from the l4lb VIP table on the bus", function () {
  this.timeout(10_000);
  const cluster = { id: "l4lbzone", key: "l4lb-zone-test-key-000" };
  const hub = createMemoryHub();
  let bus: Bus;
  let svc: DcosDns;
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o));
  const doc = (agentIp: string, names: [string, number][]) => ({
    v: 1,
    agentIp,
    vips: names.map(([name, n]) => ({
      key: { protocol: "tcp", vip: { kind: "name", name, framework: "marathon" }, port: 80 },
      id: `tcp/name:${name}.marathon/80`,
      backends: Array.from({ length: n }, (_, i) => ({ ip: agentIp, port: 31000 + i, weight: 1, taskId: `t${i}`, agentIp })),
    })),
    problems: [],
    updatedMs: Date.now(),
  });
  const ask = async (name: string) => decode((await udpExchange(svc.ports().dns[0]!.udp, buildQuery({ id: 1, name, qtype: TYPE_A })))!);

  before(async () => {
    bus = await connectBus({
      cluster,
      bus: { kind: "memory", servers: [], replicas: 1, heartbeatMs: 1000, missedBeats: 3, forgetAfterMs: 86_400_000, connectTimeoutMs: 0 },
      nodeId: "test",
      logger: quiet(),
      hub,
    });
    svc = await startDcosDns(testConfig({ cluster, bus: { kind: "memory" } }), { hub });
  });
  after(async () => {
    await svc?.lifecycle.stop();
    await bus?.close();
  });

  it("serves each named VIP with backends at its claimed address; drops it when no agent has backends for it", async () => {
    const kv = await bus.kv(L4LB_BUCKET);
    await kv.put("l4lb.vipip.11.5.6.7", Buffer.from("minitwit.marathon"));
    await kv.put("l4lb.vipname.ipv4.minitwit.marathon", Buffer.from("11.5.6.7"));
    await kv.put("l4lb.vipip.11.9.9.9", Buffer.from("idle.marathon"));
    await kv.put("l4lb.vipname.ipv4.idle.marathon", Buffer.from("11.9.9.9"));
    await kv.put(
      "backends.10_0_0_5",
      enc(
        doc("10.0.0.5", [
          ["minitwit", 2],
          ["idle", 0],
        ]),
      ),
    );
    await eventually(async () => assert.equal((await ask("minitwit.marathon.l4lb.thisdcos.directory")).answers[0]?.data, "11.5.6.7"));
    assert.equal((await ask("idle.marathon.l4lb.thisdcos.directory")).rcode, 3, "a claim without backends is not served");
    assert.equal((await ask("minitwit.marathon.dclb.thisdcos.directory")).answers[0]?.data, "11.5.6.7", "dclb alias");
    await kv.put("backends.10_0_0_6", enc(doc("10.0.0.6", [["minitwit", 1]])));
    await kv.delete("backends.10_0_0_5");
    await new Promise((r) => setTimeout(r, 50));
    assert.equal((await ask("minitwit.marathon.l4lb.thisdcos.directory")).answers[0]?.data, "11.5.6.7", "still backed by 10.0.0.6");
    await kv.delete("backends.10_0_0_6");
    await eventually(async () => assert.equal((await ask("minitwit.marathon.l4lb.thisdcos.directory")).rcode, 3));
  });

  it("serves a name's address only while the address's lock key names it (a release racing a claim)", async () => {
    const kv = await bus.kv(L4LB_BUCKET);
    const name = "raced.marathon.l4lb.thisdcos.directory";
    await kv.put("l4lb.vipip.11.7.7.7", Buffer.from("raced.marathon"));
    await kv.put("l4lb.vipname.ipv4.raced.marathon", Buffer.from("11.7.7.7"));
    await kv.put("backends.10_0_0_7", enc(doc("10.0.0.7", [["raced", 1]])));
    await eventually(async () => assert.equal((await ask(name)).answers[0]?.data, "11.7.7.7"));
    // Another name took the address (its lock key now names it): l4lb does not serve raced there, DNS must not either.
    await kv.put("l4lb.vipip.11.7.7.7", Buffer.from("other.marathon"));
    await eventually(async () => assert.equal((await ask(name)).rcode, 3));
    // The claim moved raced to a new address (both keys agree again).
    await kv.put("l4lb.vipip.11.7.7.8", Buffer.from("raced.marathon"));
    await kv.put("l4lb.vipname.ipv4.raced.marathon", Buffer.from("11.7.7.8"));
    await eventually(async () => assert.equal((await ask(name)).answers[0]?.data, "11.7.7.8"));
    await kv.delete("l4lb.vipip.11.7.7.8");
    await eventually(async () => assert.equal((await ask(name)).rcode, 3), 2_000);
    await kv.delete("backends.10_0_0_7");
  });
});
