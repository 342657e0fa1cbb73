import { strict as assert } from "node:assert";
import { eventually } from "@dcnet/core";
import { keys } from "../model/kv-layout";
import type { HealthCheckTiming } from "../model/launch";
import { bridgeNames, probeBridgeSupport } from "./bridge";
import { defaultAgentIp } from "./config";
import { run } from "./exec";
import { listNetns } from "./netns";
import { contains, parseCidr } from "./subnet";
import { alive, freePort, get, Harness, launchOf } from "./test-harness";

const SERVER = `node -e "require('http').createServer((q,s)=>s.end(process.env.MESOS_TASK_ID)).listen(8080)"`;
const fast: HealthCheckTiming = {
  gracePeriodSeconds: 0,
  intervalSeconds: 0.2,
  timeoutSeconds: 1,
  maxConsecutiveFailures: 0,
  delaySeconds: 0,
};
const links = async (): Promise<string> => run("ip", ["-o", "link", "show"]);
const tables = async (): Promise<string> => run("nft", ["list", "tables"]);

describe("mesos agent: bridge mode (root, iproute2, nftables, real namespaces)", function () {
  this.timeout(30_000);
  // Unique per run, so parallel runs on one host do not collide.
  const nonce = Math.random().toString(36).slice(2, 7);
  const randomSubnet = (): string => `10.${200 + Math.floor(Math.random() * 50)}.${Math.floor(Math.random() * 250)}.0/24`;
  let subnet = randomSubnet();
  const bridgeName = `dcbt${nonce}`;
  const agentIp = defaultAgentIp();
  let h: Harness | undefined;
  let names: ReturnType<typeof bridgeNames>;

  before(async function () {
    const missing = await probeBridgeSupport();
    if (missing) {
      // The only acceptable skip: bridge mode needs root + iproute2 + nftables + netns.
      console.log(`      (skipping bridge-mode tests: ${missing})`);
      this.skip();
    }
    for (let attempt = 0; ; attempt++) {
      h = await new Harness().start({ id: `agent-br-${nonce}`, ip: agentIp, bridge: { name: bridgeName, subnet, enabled: "auto" } });
      // A concurrent run may hold the random subnet: pick another.
      if (!/already routed/.test(h.agent.record().bridgeUnavailable ?? "") || attempt >= 4) break;
      await h.stop();
      subnet = randomSubnet();
    }
    names = bridgeNames(h.agentId, bridgeName);
  });

  after(async () => {
    if (!h) return;
    await h.stop();
    // Nothing of ours may remain: namespaces, links, nft table.
    await eventually(async () => {
      assert.deepEqual(
        (await listNetns()).filter((n) => n.startsWith(names.taskNsPrefix)),
        [],
      );
      assert.doesNotMatch(await links(), new RegExp(`\\b${bridgeName}\\b`));
      assert.doesNotMatch(await tables(), new RegExp(names.table));
    }, 5000);
  });

  it("registers the bridge subnet and sets up bridge, uplink and nft table", async () => {
    assert.equal(h!.agent.record().bridgeSubnet, parseCidr(subnet).text);
    assert.equal(h!.agent.record().bridgeUnavailable, undefined);
    assert.match(await links(), new RegExp(`\\b${bridgeName}\\b`));
    assert.match(await tables(), new RegExp(names.table));
  });

  it("a bridge task gets an IP in the subnet, answers on IP:containerPort and on agentIP:hostPort through DNAT", async () => {
    const hostPort = await freePort();
    await h!.launch(
      launchOf("web.1", SERVER, {
        network: { mode: "bridge", portMappings: [{ containerPort: 8080, hostPort: 0, protocol: "tcp", name: "http" }] },
        hostPorts: [hostPort],
        healthChecks: [{ protocol: "HTTP", path: "/", portIndex: 0, common: fast }],
      }),
    );
    const running = await h!.waitFor("web.1", "TASK_RUNNING");
    const info = running.container_status?.network_infos?.[0];
    const ip = info?.ip_addresses?.[0]?.ip_address ?? "";
    assert.ok(contains(parseCidr(subnet), ip), `${ip} in ${subnet}`);
    assert.deepEqual(info?.port_mappings, [{ host_port: hostPort, container_port: 8080, protocol: "tcp" }]);
    assert.equal((await eventually(() => get(`http://${ip}:8080/`))).body, "web.1");
    assert.equal((await eventually(() => get(`http://${agentIp}:${hostPort}/`))).body, "web.1");
    assert.equal((await eventually(() => get(`http://127.0.0.1:${hostPort}/`))).body, "web.1");
    await eventually(async () => assert.equal((await h!.status("web.1"))?.healthy, true));
    assert.match(
      await run("nft", ["list", "map", "ip", names.table, "tcp_ports"]),
      new RegExp(`${hostPort} : ${ip.replace(/\./g, "\\.")} \\. 8080`),
    );
  });

  it("containerPort 0 means containerPort = hostPort ($PORT0 works inside the namespace)", async () => {
    const hostPort = await freePort();
    const echo = `node -e "require('http').createServer((q,s)=>s.end(process.env.MESOS_TASK_ID)).listen(+process.env.PORT0)"`;
    await h!.launch(
      launchOf("zero.1", echo, {
        network: { mode: "bridge", portMappings: [{ containerPort: 0, hostPort: 0, protocol: "tcp" }] },
        hostPorts: [hostPort],
      }),
    );
    const running = await h!.waitFor("zero.1", "TASK_RUNNING");
    const ip = running.container_status?.network_infos?.[0]?.ip_addresses?.[0]?.ip_address ?? "";
    assert.equal((await eventually(() => get(`http://${ip}:${hostPort}/`))).body, "zero.1");
    assert.equal((await eventually(() => get(`http://${agentIp}:${hostPort}/`))).body, "zero.1");
  });

  it("two bridge tasks reach each other through the bridge", async () => {
    const web = await h!.waitFor("web.1", "TASK_RUNNING");
    const ip = web.container_status?.network_infos?.[0]?.ip_addresses?.[0]?.ip_address ?? "";
    const client = `node -e "require('http').get('http://${ip}:8080/',r=>{let b='';r.on('data',d=>b+=d);r.on('end',()=>{console.log('got '+b);process.exit(0)})}).on('error',e=>{console.error(e.message);process.exit(1)})"`;
    await h!.launch(launchOf("client.1", client, { network: { mode: "bridge", portMappings: [] } }));
    await h!.waitFor("client.1", "TASK_FINISHED");
    assert.equal(h!.sandbox("client.1", "stdout"), "got web.1\n");
  });

  it("cleans up the task's namespace, veth and nft elements when it ends", async () => {
    const web = await h!.waitFor("web.1", "TASK_RUNNING");
    const hostPort = web.container_status?.network_infos?.[0]?.port_mappings?.[0]?.host_port ?? 0;
    const ns = names.taskNs("web.1");
    assert.ok((await listNetns()).includes(ns));
    await h!.kv.delete(keys.launch(h!.agentId, "web.1"));
    await eventually(async () => assert.equal(await h!.status("web.1"), undefined));
    assert.equal(alive(web.container_status!.executor_pid!), false);
    assert.ok(!(await listNetns()).includes(ns), "netns deleted");
    assert.doesNotMatch(await run("nft", ["list", "map", "ip", names.table, "tcp_ports"]), new RegExp(`\\b${hostPort} :`));
    assert.doesNotMatch(await run("ip", ["netns", "exec", names.switchNs, "ip", "-o", "link"]), new RegExp(names.taskVeth("web.1")));
  });
});
