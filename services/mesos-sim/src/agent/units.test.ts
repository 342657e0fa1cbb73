import { strict as assert } from "node:assert";
import { validate } from "@dcnet/core";
import { agentSection } from "./config";
import { buildTaskEnv, portVariable } from "./env";
import { parseLaunch } from "./launch";
import { addForwardsScript, deleteForwardsScript, tableScript } from "./nft";
import { PortBook, resolveMappings } from "./ports";
import { AddressPool, contains, parseCidr } from "./subnet";
import { launchOf } from "./test-harness";

describe("agent config", () => {
  it("defaults: port 5051, range 31000–32000, id agent-<ip>, bridge dcnet-br0 on 172.31.0.0/24", () => {
    const c = validate(agentSection, { ip: "10.0.0.5" });
    assert.equal(c.id, "agent-10.0.0.5");
    assert.equal(c.port, 5051);
    assert.deepEqual(c.portRange, [31000, 32000]);
    assert.deepEqual(c.bridge, { name: "dcnet-br0", subnet: "172.31.0.0/24", enabled: "auto" });
    assert.equal(c.heartbeatMs, 1000);
    assert.match(validate(agentSection, undefined).ip, /^\d+\.\d+\.\d+\.\d+$/);
  });
  it("names the offending field", () => {
    assert.throws(() => validate(agentSection, { bridge: { name: "much-too-long-bridge" } }), /bridge\.name/);
    assert.throws(() => validate(agentSection, { bridge: { subnet: "10.0.0.0/31" } }), /bridge\.subnet/);
    assert.throws(() => validate(agentSection, { portRange: [32000, 31000] }), /portRange/);
  });
});

describe("task environment", () => {
  const agent = { id: "a1", ip: "10.0.0.5" };
  it("host mode: PORT0…, PORTS, PORT, named ports from discovery, app env; the agent's variables win", () => {
    const l = launchOf("t.1", "x", {
      hostPorts: [31001, 31002],
      appId: "/g/app",
      env: { FOO: "1", HOST: "spoofed" },
      discovery: { visibility: "FRAMEWORK", ports: { ports: [{ number: 31001, name: "http-api" }, { number: 31002 }] } },
    });
    const env = buildTaskEnv(l, agent, "/sb", { PATH: "/bin", SECRET: "no" });
    assert.equal(env.PATH, "/bin");
    assert.equal(env.SECRET, undefined, "the agent's own environment is not leaked");
    assert.deepEqual(
      [
        env.MESOS_TASK_ID,
        env.MESOS_AGENT_ID,
        env.HOST,
        env.PORT0,
        env.PORT1,
        env.PORTS,
        env.PORT,
        env.PORT_HTTP_API,
        env.MARATHON_APP_ID,
        env.FOO,
      ],
      ["t.1", "a1", "10.0.0.5", "31001", "31002", "31001,31002", "31001", "31001", "/g/app", "1"],
    );
    assert.equal(env.MESOS_SANDBOX, "/sb");
  });
  it("bridge mode: names from port mappings; no ports → no PORT variables", () => {
    const l = launchOf("t.2", "x", {
      hostPorts: [31005],
      network: { mode: "bridge", portMappings: [{ containerPort: 80, hostPort: 0, protocol: "tcp", name: "web" }] },
    });
    assert.equal(buildTaskEnv(l, agent, "/sb", {}).PORT_WEB, "31005");
    const none = buildTaskEnv(launchOf("t.3", "x"), agent, "/sb", {});
    assert.equal(none.PORT0, undefined);
    assert.equal(none.PORTS, undefined);
    assert.equal(none.MARATHON_APP_ID, undefined);
    assert.equal(portVariable("my.port-1"), "PORT_MY_PORT_1");
  });
});

describe("host port book", () => {
  it("refuses ports outside the range, twice in one launch, or held by another task; frees on release", () => {
    const book = new PortBook([31000, 32000]);
    assert.equal(book.check("a", [30999]), "host port 30999 is outside this agent's port range [31000-32000]");
    assert.equal(book.check("a", [31000, 31000]), "host port 31000 is requested twice");
    book.reserve("a", [31000, 31001]);
    assert.equal(book.check("b", [31001]), "host port 31001 is already used by task a");
    assert.throws(() => book.reserve("b", [31001]), /already used by task a/);
    assert.equal(book.check("a", [31001]), undefined, "a task may re-check its own ports");
    book.release("a");
    assert.deepEqual(book.used(), []);
    book.reserve("b", [31001]);
  });
  it("bridge mappings: containerPort 0 = hostPort, paired by index", () => {
    const m = resolveMappings(
      [
        { containerPort: 0, hostPort: 0, protocol: "tcp" },
        { containerPort: 53, hostPort: 0, protocol: "tcp,udp", name: "dns" },
        { containerPort: 9000, hostPort: 0, protocol: "tcp" },
      ],
      [31010, 31011],
    );
    assert.deepEqual(m, [
      { hostPort: 31010, containerPort: 31010, protocol: "tcp" },
      { hostPort: 31011, containerPort: 53, protocol: "tcp,udp", name: "dns" },
      { hostPort: 0, containerPort: 9000, protocol: "tcp" },
    ]);
  });
});

describe("launch parsing", () => {
  const enc = (v: unknown) => Buffer.from(JSON.stringify(v));
  it("fills defaults and takes the task id from the key", () => {
    const l = parseLaunch(enc({ cmd: "true" }), "k.1");
    assert.ok(typeof l !== "string");
    assert.equal(l.taskId, "k.1");
    assert.deepEqual([l.network, l.hostPorts, l.killGracePeriodSeconds], [{ mode: "host" }, [], 3]);
  });
  it("names what is wrong", () => {
    assert.match(parseLaunch(Buffer.from("{"), "x") as string, /^not JSON/);
    assert.equal(parseLaunch(enc({}), "x"), "cmd must be a non-empty string");
    assert.equal(parseLaunch(enc({ cmd: "x", network: { mode: "weird" } }), "x"), "network.mode must be one of host, bridge, container");
    assert.equal(parseLaunch(enc({ cmd: "x", hostPorts: ["1"] }), "x"), "hostPorts must be a list of integers");
  });
});

describe("subnets and nft scripts", () => {
  it("parses, masks and allocates (gateway first, no network/broadcast)", () => {
    const s = parseCidr("172.31.0.77/29");
    assert.equal(s.text, "172.31.0.72/29");
    const pool = new AddressPool(s);
    assert.equal(pool.gateway, "172.31.0.73");
    const got = [1, 2, 3, 4, 5].map(() => pool.allocate());
    assert.deepEqual(got, ["172.31.0.74", "172.31.0.75", "172.31.0.76", "172.31.0.77", "172.31.0.78"]);
    assert.throws(() => pool.allocate(), /no free address left in 172.31.0.72\/29/);
    pool.release("172.31.0.75");
    assert.equal(pool.allocate(), "172.31.0.75");
    assert.ok(contains(s, "172.31.0.79") && !contains(s, "172.31.0.80"));
    assert.throws(() => parseCidr("300.1.1.1/24"), /not an IPv4 address/);
    assert.throws(() => new AddressPool(parseCidr("10.0.0.0/30")), /too small/);
  });
  it("one table of our own: DNAT maps in prerouting and output, masquerade out of the subnet", () => {
    const t = tableScript({ table: "dcnet_mesos_ab", uplink: "br-x", subnet: "172.31.0.0/24" });
    assert.match(t, /^table ip dcnet_mesos_ab \{\}\ndelete table ip dcnet_mesos_ab\n/);
    assert.match(t, /chain prerouting \{\n\s+type nat hook prerouting priority dstnat;[^}]+dnat ip to tcp dport map @tcp_ports/);
    assert.match(t, /chain output \{\n\s+type nat hook output priority -100;[^}]+dnat ip to udp dport map @udp_ports/);
    assert.match(t, /ip saddr 172.31.0.0\/24 ip daddr != 172.31.0.0\/24 masquerade/);
    assert.doesNotMatch(t, /table ip (nat|filter)\b/);
    const f = [{ hostPort: 31000, ip: "172.31.0.2", containerPort: 80, protocol: "tcp" as const }];
    assert.equal(addForwardsScript("t", f), "add element ip t tcp_ports { 31000 : 172.31.0.2 . 80 }\n");
    assert.equal(deleteForwardsScript("t", f), "delete element ip t tcp_ports { 31000 }\n");
  });
});
