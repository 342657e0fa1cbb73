import { strict as assert } from "node:assert";
import { normaliseTask, taskState, type NormalTask, type TaskPort } from "./task";
import { AGENT_ID, AGENT_IP, FRAMEWORK_ID, bridgeTaskV0, ctx, hostTaskV1, legacyTaskV0, ucrBridgeTaskV1 } from "./testing/fixtures";

const norm = (t: unknown): NormalTask => {
  const n = normaliseTask(t, ctx());
  assert.ok(n, "normalised");
  return n;
};

/** Sets `path` (dot-separated, numeric parts index arrays) in a task JSON. */
function set(t: Record<string, unknown>, path: string, value: unknown): Record<string, unknown> {
  const parts = path.split(".");
  let o = t as Record<string, unknown>;
  for (const p of parts.slice(0, -1)) o = o[p] as Record<string, unknown>;
  o[parts[parts.length - 1]!] = value;
  return t;
}

describe("normaliseTask", () => {
  it("host mode (Operator API shape): discovery name, agent/task IPs, host port folded, VIP label", () => {
    const t = norm(hostTaskV1());
    assert.deepEqual(t, {
      id: "demo_echo.8e6c6f42-6c1d-11e9-a9f7-0242ac110002",
      name: "echo.demo",
      frameworkId: FRAMEWORK_ID,
      framework: "marathon",
      agentId: AGENT_ID,
      agentIp: AGENT_IP,
      taskIps: [AGENT_IP],
      state: "running",
      healthy: true,
      runtime: "MESOS",
      ports: [{ protocol: "tcp", port: 31044, hostPort: 31044, name: "http", vips: [{ key: "VIP_0", value: "/echo:80" }] }],
      problems: [],
      vipProblems: [],
    } satisfies NormalTask);
  });

  it("Docker bridge mode (/master/state shape): port mappings merged with network-scope=host discovery ports; tcp and udp apart", () => {
    const t = norm(bridgeTaskV0());
    assert.equal(t.id, "web_nginx.2b7d3c8e-6c1e-11e9-a9f7-0242ac110002");
    assert.equal(t.agentIp, AGENT_IP);
    assert.deepEqual(t.taskIps, ["172.17.0.2"]);
    assert.equal(t.runtime, "DOCKER");
    assert.deepEqual(t.ports, [
      { protocol: "tcp", port: 80, hostPort: 31001, name: "http", vips: [{ key: "VIP_0", value: "/nginx:80" }] },
      { protocol: "udp", port: 53, hostPort: 31002, name: "dns", vips: [{ key: "vip1", value: "10.10.0.53:53" }] },
    ] satisfies TaskPort[]);
    assert.deepEqual(t.problems, []);
  });

  it("UCR bridge: container.network_infos port mappings; network-scope host → host port, container → container port", () => {
    const t = norm(ucrBridgeTaskV1());
    assert.deepEqual(t.ports, [
      { protocol: "tcp", port: 8080, hostPort: 31005, name: "api", vips: [{ key: "VIP_0", value: "/shop/api:8080" }] },
      { protocol: "tcp", port: 9090, name: "metrics", vips: [] },
    ] satisfies TaskPort[]);
  });

  it("MESOS without container.network_infos: port mappings come from the latest status' network_infos", () => {
    const raw = ucrBridgeTaskV1();
    delete raw["container"];
    set(raw, "statuses.0.container_status.network_infos.0.port_mappings", [{ host_port: 31005, container_port: 8080, protocol: "tcp" }]);
    assert.deepEqual(norm(raw).ports[0], {
      protocol: "tcp",
      port: 8080,
      hostPort: 31005,
      name: "api",
      vips: [{ key: "VIP_0", value: "/shop/api:8080" }],
    });
  });

  it("legacy VIP_PORT<n> labels: n-th port of the ports resource, protocol from the scheme, value without it", () => {
    const t = norm(legacyTaskV0());
    assert.deepEqual(t.ports, [
      { protocol: "tcp", port: 31100, hostPort: 31100, vips: [{ key: "VIP_PORT0", value: "1.2.3.4:5000" }] },
      { protocol: "udp", port: 31200, hostPort: 31200, vips: [{ key: "vip_port2", value: "named-dns:53" }] },
    ] satisfies TaskPort[]);
    assert.deepEqual(t.problems, []);
  });

  it("legacy VIP_PORT labels merge with the discovery port of the same host port (Operator API resources)", () => {
    const raw = hostTaskV1();
    raw["labels"] = { labels: [{ key: "Vip_Port0", value: "tcp://10.1.1.1:80" }] };
    assert.deepEqual(norm(raw).ports, [
      {
        protocol: "tcp",
        port: 31044,
        hostPort: 31044,
        name: "http",
        vips: [
          { key: "VIP_0", value: "/echo:80" },
          { key: "Vip_Port0", value: "10.1.1.1:80" },
        ],
      },
    ]);
  });

  it("malformed legacy labels are problems, not exceptions", () => {
    const raw = legacyTaskV0();
    raw["labels"] = [
      { key: "VIP_PORT0", value: "http://x:80" },
      { key: "VIP_PORTx", value: "tcp://x:80" },
      { key: "VIP_PORT7", value: "tcp://x:80" },
      { key: "VIP_PORT1", value: "udp://ok:53" },
    ];
    const t = norm(raw);
    assert.deepEqual(t.ports, [{ protocol: "udp", port: 31101, hostPort: 31101, vips: [{ key: "VIP_PORT1", value: "ok:53" }] }]);
    assert.equal(t.problems.length, 3, t.problems.join("\n"));
    // Each dropped label is also a VIP problem naming it (l4lb reports those).
    assert.deepEqual(
      t.vipProblems.map((p) => [p.key, p.value]),
      [
        ["VIP_PORT0", "http://x:80"],
        ["VIP_PORTx", "tcp://x:80"],
        ["VIP_PORT7", "tcp://x:80"],
      ],
    );
    assert.match(t.vipProblems[0]!.reason, /VIP_PORT0 value "http:\/\/x:80" has no tcp:\/\/ or udp:\/\/ scheme/);
    assert.match(t.vipProblems[1]!.reason, /expected VIP_PORT<n> with n the port's index/);
    assert.match(t.vipProblems[2]!.reason, /names port index 7, but the task has 3 port\(s\)/);
  });

  it("the legacy scheme is case-insensitive: TCP:// and Udp:// are tcp and udp", () => {
    const raw = legacyTaskV0();
    raw["labels"] = [
      { key: "VIP_PORT0", value: "TCP://1.2.3.4:5000" },
      { key: "VIP_PORT1", value: "Udp://named-dns:53" },
    ];
    const t = norm(raw);
    assert.deepEqual(t.ports, [
      { protocol: "tcp", port: 31100, hostPort: 31100, vips: [{ key: "VIP_PORT0", value: "1.2.3.4:5000" }] },
      { protocol: "udp", port: 31101, hostPort: 31101, vips: [{ key: "VIP_PORT1", value: "named-dns:53" }] },
    ] satisfies TaskPort[]);
    assert.deepEqual(t.vipProblems, []);
  });

  it("tcp and udp on the same number are never merged", () => {
    const raw = hostTaskV1();
    set(raw, "discovery.ports.ports", [
      { number: 31044, name: "p", protocol: "tcp", labels: { labels: [{ key: "VIP_0", value: "/a:53" }] } },
      { number: 31044, name: "p", protocol: "udp", labels: { labels: [{ key: "VIP_0", value: "/a:53" }] } },
    ]);
    const t = norm(raw);
    assert.deepEqual(
      t.ports.map((p) => [p.protocol, p.port, p.vips.length]),
      [
        ["tcp", 31044, 1],
        ["udp", 31044, 1],
      ],
    );
  });

  it("discovery ports: number 0 dropped, unknown protocol dropped (a problem), default name, upper-case protocol", () => {
    const raw = hostTaskV1();
    set(raw, "discovery.ports.ports", [
      { number: 0, name: "zero", protocol: "tcp", labels: { labels: [{ key: "VIP_0", value: "/zero:1" }] } },
      {
        number: 31044,
        name: "sctp",
        protocol: "sctp",
        labels: {
          labels: [
            { key: "VIP_0", value: "/sctp:1" },
            { key: "x", value: "y" },
          ],
        },
      },
      { number: "31047", protocol: "tcp", labels: { labels: [{ key: "VIP_0", value: "/str:1" }] } },
      {
        number: 31045,
        protocol: "TCP",
        labels: {
          labels: [
            { key: "vip_x", value: "/b:1" },
            { key: "Vip_no", value: "/c:1" },
          ],
        },
      },
      { number: "31046", protocol: "tcp" },
    ]);
    const t = norm(raw);
    assert.deepEqual(t.ports, [
      { protocol: "tcp", port: 31045, hostPort: 31045, name: "default", vips: [{ key: "vip_x", value: "/b:1" }] },
    ]);
    assert.equal(t.problems.length, 3, t.problems.join("\n"));
    // The VIP labels of the dropped ports are VIP problems naming the label (a non-VIP label is not).
    assert.deepEqual(
      t.vipProblems.map((p) => [p.key, p.value, p.reason]),
      [
        ["VIP_0", "/zero:1", 'VIP_0 value "/zero:1" is on discovery.ports.ports[0], whose number is 0'],
        ["VIP_0", "/sctp:1", 'VIP_0 value "/sctp:1" is on discovery.ports.ports[1], whose protocol "sctp" is not tcp or udp'],
        ["VIP_0", "/str:1", 'VIP_0 value "/str:1" is on discovery.ports.ports[2], whose number "31047" is not a port'],
      ],
    );
  });

  it("host networking folds ports of equal host port together (VIPs united)", () => {
    const raw = hostTaskV1();
    set(raw, "discovery.ports.ports", [
      { number: 31044, name: "a", protocol: "tcp", labels: { labels: [{ key: "VIP_0", value: "/a:80" }] } },
      {
        number: 31044,
        name: "b",
        protocol: "tcp",
        labels: {
          labels: [
            { key: "VIP_1", value: "/b:80" },
            { key: "network-scope", value: "host" },
          ],
        },
      },
    ]);
    assert.deepEqual(norm(raw).ports, [
      {
        protocol: "tcp",
        port: 31044,
        hostPort: 31044,
        name: "a",
        vips: [
          { key: "VIP_0", value: "/a:80" },
          { key: "VIP_1", value: "/b:80" },
        ],
      },
    ]);
  });

  it("a task without IPs yet counts as host-networked (port = host port)", () => {
    const raw = bridgeTaskV0();
    raw["statuses"] = [];
    raw["state"] = "TASK_STAGING";
    const t = norm(raw);
    assert.deepEqual(t.taskIps, []);
    assert.deepEqual(
      t.ports.map((p) => [p.protocol, p.port, p.hostPort]),
      [
        ["tcp", 31001, 31001],
        ["udp", 31002, 31002],
      ],
    );
  });

  it("task IPs come from the latest-timestamp status, whatever the order", () => {
    const raw = hostTaskV1();
    const statuses = raw["statuses"] as Record<string, unknown>[];
    set(raw, "statuses.0.container_status.network_infos", [
      { ip_addresses: [{ ip_address: "172.31.0.9" }, { ip_address: "fd01:b::9" }, { ip_address: "not-an-ip" }] },
    ]);
    statuses[0]!["timestamp"] = 1557000099;
    assert.deepEqual(norm(raw).taskIps, ["172.31.0.9", "fd01:b::9"]);
  });

  it("a later status reporting no IPs (e.g. TASK_KILLING) keeps those of the latest one that did", () => {
    const raw = bridgeTaskV0();
    (raw["statuses"] as unknown[]).push({ state: "TASK_KILLING", timestamp: 1557000999 });
    raw["state"] = "TASK_KILLING";
    const t = norm(raw);
    assert.deepEqual(t.taskIps, ["172.17.0.2"]);
    assert.equal(t.ports[0]!.port, 80, "still bridged: not folded");
  });

  describe("healthy", () => {
    const withHealth = (check: boolean, ...healthy: (boolean | undefined)[]) => {
      const raw = hostTaskV1();
      if (check) raw["health_check"] = { type: "HTTP", http: { port: 31044, path: "/" } };
      raw["statuses"] = healthy.map((h, i) => ({
        state: "TASK_RUNNING",
        timestamp: 1557000000 + i,
        ...(h === undefined ? {} : { healthy: h }),
      }));
      return norm(raw).healthy;
    };
    it("no health check, no verdict → true", () => assert.equal(withHealth(false, undefined), true));
    it("health check defined, no verdict yet → false", () => assert.equal(withHealth(true, undefined), false));
    it("health check defined, no status at all → false", () => assert.equal(withHealth(true), false));
    it("latest verdict healthy → true", () => assert.equal(withHealth(true, false, true), true));
    it("latest verdict unhealthy → false", () => assert.equal(withHealth(true, true, false), false));
    it("a later status without a verdict keeps the last verdict", () => assert.equal(withHealth(true, true, undefined), true));
  });

  describe("state", () => {
    const cases: [string | undefined, string][] = [
      ["TASK_STAGING", "preparing"],
      ["TASK_STARTING", "preparing"],
      ["TASK_RUNNING", "running"],
      ["TASK_KILLING", "killing"],
      ["TASK_UNREACHABLE", "preparing"],
      ["TASK_FINISHED", "terminal"],
      ["TASK_FAILED", "terminal"],
      ["TASK_KILLED", "terminal"],
      ["TASK_LOST", "terminal"],
      ["TASK_ERROR", "terminal"],
      ["TASK_DROPPED", "terminal"],
      ["TASK_GONE", "terminal"],
      ["TASK_GONE_BY_OPERATOR", "terminal"],
      [undefined, "preparing"],
    ];
    for (const [mesos, want] of cases) {
      it(`${mesos ?? "(absent)"} → ${want}`, () => {
        assert.equal(taskState(mesos), want);
        const raw = hostTaskV1();
        if (mesos === undefined) delete raw["state"];
        else raw["state"] = mesos;
        assert.equal(norm(raw).state, want);
      });
    }
  });

  it("name: discovery.name wins, else the task name", () => {
    const raw = hostTaskV1();
    set(raw, "discovery.name", "custom-name");
    assert.equal(norm(raw).name, "custom-name");
    delete (raw["discovery"] as Record<string, unknown>)["name"];
    assert.equal(norm(raw).name, "echo.demo");
    delete raw["discovery"];
    assert.equal(norm(raw).name, "echo.demo");
  });

  it("unknown framework or agent → empty name / IP (the caller decides)", () => {
    const t = normaliseTask(hostTaskV1(), { frameworks: new Map(), agents: new Map() })!;
    assert.equal(t.framework, "");
    assert.equal(t.agentIp, "");
    // Its only IP is not the (unknown) agent IP: the host port is not folded.
    assert.deepEqual(t.ports[0], { protocol: "tcp", port: 31044, name: "http", vips: [{ key: "VIP_0", value: "/echo:80" }] });
  });

  it("unknown container type is read as MESOS, with a problem", () => {
    const raw = hostTaskV1();
    raw["container"] = { type: "APPC" };
    const t = norm(raw);
    assert.equal(t.runtime, "MESOS");
    assert.equal(t.problems.length, 1);
  });

  describe("garbage", () => {
    for (const v of [
      null,
      undefined,
      1,
      "task",
      [],
      [hostTaskV1()],
      {},
      { name: "no id" },
      { id: 5 },
      { task_id: {} },
      { task_id: { value: "" } },
    ]) {
      it(`${(JSON.stringify(v) ?? "undefined").slice(0, 40)} → null`, () => assert.equal(normaliseTask(v, ctx()), null));
    }
    it("an id with everything else mistyped → a task, never an exception", () => {
      const t = normaliseTask(
        {
          task_id: { value: "t" },
          name: 7,
          state: {},
          statuses: "x",
          resources: 9,
          labels: "VIP_PORT0",
          discovery: [],
          container: { type: "DOCKER", docker: { port_mappings: [null, 1, { host_port: "a", container_port: 80 }] } },
          health_check: null,
        },
        ctx(),
      )!;
      assert.equal(t.id, "t");
      assert.equal(t.name, "");
      assert.equal(t.state, "preparing");
      assert.deepEqual(t.ports, []);
      assert.ok(t.problems.length >= 2, t.problems.join("\n"));
    });
  });
});
