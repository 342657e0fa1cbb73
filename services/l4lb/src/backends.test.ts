import { strict as assert } from "node:assert";
import { agentBackends } from "./backends";
import { port, task } from "./testutil";

const AGENT = "10.0.0.1";

describe("l4lb agent backends (spec §4.2)", () => {
  it("a container port VIP → one backend per task IP with the container port", () => {
    const r = agentBackends([task({ id: "t1", taskIps: ["172.17.0.2", "172.17.0.3"], ports: [port(8080, ["/minitwit:80"])] })], AGENT);
    assert.deepEqual(r.problems, []);
    assert.equal(r.vips.length, 1);
    assert.equal(r.vips[0]!.id, "tcp/name:minitwit.marathon/80");
    assert.deepEqual(r.vips[0]!.key, { protocol: "tcp", vip: { kind: "name", name: "minitwit", framework: "marathon" }, port: 80 });
    assert.deepEqual(r.vips[0]!.backends, [
      { ip: "172.17.0.2", port: 8080, weight: 1, taskId: "t1", agentIp: AGENT },
      { ip: "172.17.0.3", port: 8080, weight: 1, taskId: "t1", agentIp: AGENT },
    ]);
  });

  it("a host port → agentIp:hostPort (the agent IP passed in, not the task's)", () => {
    const r = agentBackends([task({ id: "t1", agentIp: "", ports: [port(80, ["172.16.0.1:80"], { hostPort: 31001 })] })], AGENT);
    assert.deepEqual(r.vips[0]!.backends, [{ ip: AGENT, port: 31001, weight: 1, taskId: "t1", agentIp: AGENT }]);
    assert.equal(r.vips[0]!.id, "tcp/ip:172.16.0.1/80");
  });

  it("a task without task IPs is reached at the agent IP", () => {
    const r = agentBackends([task({ id: "t1", taskIps: [], ports: [port(31002, ["web:80"])] })], AGENT);
    assert.deepEqual(
      r.vips[0]!.backends.map((b) => `${b.ip}:${b.port}`),
      ["10.0.0.1:31002"],
    );
  });

  const weights: [string, Partial<Parameters<typeof task>[0]>, number | undefined][] = [
    ["running and healthy", { state: "running", healthy: true }, 1],
    ["running, health pending or failing", { state: "running", healthy: false }, 0],
    ["killing (drain)", { state: "killing", healthy: true }, 0],
    ["preparing", { state: "preparing" }, undefined],
    ["terminal", { state: "terminal" }, undefined],
  ];
  for (const [what, over, weight] of weights) {
    it(`weight: ${what} → ${weight ?? "no backend"}`, () => {
      const r = agentBackends([task({ id: "t1", ports: [port(80, ["web:80"])], ...over })], AGENT);
      if (weight === undefined) assert.deepEqual(r.vips, []);
      else assert.equal(r.vips[0]!.backends[0]!.weight, weight);
    });
  }

  it("address families: IPv4 VIP takes IPv4, IPv6 VIP IPv6, a named VIP both", () => {
    const t = task({ id: "t1", taskIps: ["172.17.0.2", "fd00::2"], ports: [port(80, ["10.1.1.1:80", "fd01::1:80", "web:80"])] });
    const r = agentBackends([t], AGENT);
    const byId = Object.fromEntries(r.vips.map((v) => [v.id, v.backends.map((b) => b.ip)]));
    assert.deepEqual(byId, {
      "tcp/ip:10.1.1.1/80": ["172.17.0.2"],
      "tcp/ip:fd01::1/80": ["fd00::2"],
      "tcp/name:web.marathon/80": ["172.17.0.2", "fd00::2"],
    });
    const v4only = agentBackends([t], AGENT, { ipv6: false });
    assert.deepEqual(
      v4only.vips.map((v) => v.id),
      ["tcp/ip:10.1.1.1/80", "tcp/name:web.marathon/80"],
    );
    assert.equal(v4only.problems.length, 1);
    assert.match(v4only.problems[0]!.reason, /VIP_1: no backend address fits the VIP \(IPv6; addresses: 172\.17\.0\.2, fd00::2\)/);
  });

  it("a bad label is a problem naming task, app, label and value, and the other VIPs still work", () => {
    const t = task({ id: "t1", name: "mygroup/web", ports: [port(80, ["foo", "web:80"]), port(81, ["web:0"], { protocol: "udp" })] });
    const r = agentBackends([t, task({ id: "t2", taskIps: ["172.17.0.7"], ports: [port(80, ["web:80"])] })], AGENT);
    assert.deepEqual(
      r.vips.map((v) => [v.id, v.backends.length]),
      [["tcp/name:web.marathon/80", 2]],
    );
    assert.deepEqual(r.problems, [
      { taskId: "t1", app: "mygroup/web", framework: "marathon", label: "VIP_0", value: "foo", reason: 'VIP_0 value "foo" has no port' },
      {
        taskId: "t1",
        app: "mygroup/web",
        framework: "marathon",
        label: "VIP_0",
        value: "web:0",
        reason: 'VIP_0 value "web:0" has port 0 out of range 1–65535',
      },
    ]);
  });

  it("tcp and udp, and the same name in two frameworks, are distinct VIPs; /name and name are one", () => {
    const r = agentBackends(
      [
        task({ id: "t1", ports: [port(53, ["/dns:53"]), port(53, ["dns:53"], { protocol: "udp" })] }),
        task({ id: "t2", framework: "other", taskIps: ["172.17.0.9"], ports: [port(53, ["dns:53"])] }),
        task({ id: "t3", taskIps: ["172.17.0.5"], ports: [port(53, ["dns:53"])] }),
      ],
      AGENT,
    );
    assert.deepEqual(
      r.vips.map((v) => [v.id, v.backends.map((b) => b.taskId)]),
      [
        ["tcp/name:dns.marathon/53", ["t1", "t3"]],
        ["tcp/name:dns.other/53", ["t2"]],
        ["udp/name:dns.marathon/53", ["t1"]],
      ],
    );
  });

  it("one backend per address even if two labels of a task point at it; the higher weight wins", () => {
    const r = agentBackends([task({ id: "t1", ports: [port(80, ["web:80", "/web:80"])] })], AGENT);
    assert.equal(r.vips[0]!.backends.length, 1);
  });

  it("labels @dcnet/mesos dropped with their port (task.vipProblems) are problems too; the task's other VIPs work", () => {
    const t = task({
      id: "t1",
      ports: [port(80, ["web:80"])],
      vipProblems: [{ key: "VIP_PORT3", value: "tcp://10.9.9.9:80", reason: "VIP_PORT3 value ... names port index 3" }],
    });
    const r = agentBackends([t], AGENT);
    assert.deepEqual(
      r.vips.map((v) => v.id),
      ["tcp/name:web.marathon/80"],
    );
    assert.deepEqual(r.problems, [
      {
        taskId: "t1",
        app: "minitwit",
        framework: "marathon",
        label: "VIP_PORT3",
        value: "tcp://10.9.9.9:80",
        reason: "VIP_PORT3 value ... names port index 3",
      },
    ]);
    // A task that no longer runs reports nothing.
    assert.deepEqual(agentBackends([{ ...t, state: "terminal" }], AGENT).problems, []);
  });

  it("an IP VIP refuseIp refuses is a problem naming the label and why; the task's other VIPs work", () => {
    const refuseIp = (ip: string): string | undefined => (ip.startsWith("127.") ? `${ip} is a loopback address` : undefined);
    const r = agentBackends([task({ id: "t1", ports: [port(80, ["127.0.0.1:80", "172.16.0.1:80", "web:80"])] })], AGENT, { refuseIp });
    assert.deepEqual(
      r.vips.map((v) => v.id),
      ["tcp/ip:172.16.0.1/80", "tcp/name:web.marathon/80"],
    );
    assert.equal(r.problems.length, 1);
    assert.deepEqual([r.problems[0]!.label, r.problems[0]!.value], ["VIP_0", "127.0.0.1:80"]);
    assert.equal(r.problems[0]!.reason, 'VIP_0 value "127.0.0.1:80" refused: 127.0.0.1 is a loopback address');
  });

  it("a port without a number is a problem", () => {
    const r = agentBackends([task({ id: "t1", ports: [port(0, ["web:80"])] })], AGENT);
    assert.deepEqual(r.vips, []);
    assert.match(r.problems[0]!.reason, /port without a number/);
  });
});
