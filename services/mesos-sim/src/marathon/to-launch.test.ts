import { strict as assert } from "node:assert";
import type { DiscoveryPort } from "../model/mesos";
import { parseApp } from "./app-json";
import { hostPortsNeeded, taskIdFor, toTaskLaunch, type LaunchContext } from "./to-launch";

const ctx = (hostPorts: number[]): LaunchContext => ({
  taskId: "t1",
  agentId: "agent-1",
  agentIp: "10.0.0.5",
  frameworkId: "marathon-fw",
  hostPorts,
});
const vip = (value: string): { labels: { key: string; value: string }[] } => ({ labels: [{ key: "VIP_0", value }] });
const scope = (s: string, extra: { key: string; value: string }[] = []): { labels: { key: string; value: string }[] } => ({
  labels: [...extra, { key: "network-scope", value: s }],
});

describe("toTaskLaunch: discovery ports", () => {
  const cases: { name: string; app: unknown; hostPorts: number[]; ports: DiscoveryPort[] }[] = [
    {
      name: "host mode: host ports, port labels, no network-scope",
      app: {
        id: "/svc",
        cmd: "x",
        portDefinitions: [
          { port: 0, name: "web", labels: { VIP_0: "/svc:80" } },
          { port: 0, name: "admin" },
        ],
      },
      hostPorts: [31001, 31002],
      ports: [
        { number: 31001, protocol: "tcp", name: "web", labels: vip("/svc:80") },
        { number: 31002, protocol: "tcp", name: "admin" },
      ],
    },
    {
      name: "host mode: tcp,udp gives one entry per protocol",
      app: { id: "/dns", cmd: "x", portDefinitions: [{ port: 0, protocol: "udp,tcp", name: "dns", labels: { VIP_0: "1.2.3.4:53" } }] },
      hostPorts: [31053],
      ports: [
        { number: 31053, protocol: "tcp", name: "dns", labels: vip("1.2.3.4:53") },
        { number: 31053, protocol: "udp", name: "dns", labels: vip("1.2.3.4:53") },
      ],
    },
    {
      name: "bridge (seed): host port + network-scope host",
      app: {
        id: "/minitwit",
        cmd: "x",
        container: {
          type: "DOCKER",
          docker: {
            image: "karlkfi/minitwit",
            network: "BRIDGE",
            portMappings: [{ name: "http-api", containerPort: 80, labels: { VIP_0: "172.16.0.1:80" } }],
          },
        },
      },
      hostPorts: [31080],
      ports: [{ number: 31080, protocol: "tcp", name: "http-api", labels: scope("host", [{ key: "VIP_0", value: "172.16.0.1:80" }]) }],
    },
    {
      name: "container mode: container port + network-scope container, mapped port: host port + host scope",
      app: {
        id: "/c",
        cmd: "x",
        networks: [{ mode: "container", name: "dcos" }],
        container: {
          portMappings: [
            { containerPort: 8080, name: "web", labels: { VIP_0: "c:80", "network-scope": "user" } },
            { containerPort: 9090, hostPort: 0, name: "metrics" },
          ],
        },
      },
      hostPorts: [31999],
      ports: [
        { number: 8080, protocol: "tcp", name: "web", labels: scope("container", [{ key: "VIP_0", value: "c:80" }]) },
        { number: 31999, protocol: "tcp", name: "metrics", labels: scope("host") },
      ],
    },
    {
      name: "1.4 overlay discovery ports (seed)",
      app: {
        id: "/o",
        cmd: "x",
        ipAddress: { networkName: "dcos", discovery: { ports: [{ name: "http-api", number: 80, protocol: "tcp" }] } },
      },
      hostPorts: [],
      ports: [{ number: 80, protocol: "tcp", name: "http-api", labels: scope("container") }],
    },
    { name: "no ports", app: { id: "/n", cmd: "x", portDefinitions: [] }, hostPorts: [], ports: [] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const launch = toTaskLaunch(parseApp(c.app), ctx(c.hostPorts));
      assert.equal(launch.discovery?.visibility, "FRAMEWORK");
      assert.deepEqual(launch.discovery?.ports?.ports, c.ports);
    });
  }
});

describe("toTaskLaunch: task fields", () => {
  it("group id → task name and discovery name; app labels → task labels; env, resources, kill grace", () => {
    const app = parseApp({
      id: "/mygroup/myapp",
      cmd: "./run",
      cpus: 0.25,
      mem: 64,
      disk: 10,
      env: { MODE: "prod" },
      labels: { HAPROXY_GROUP: "external", HAPROXY_0_VHOST: "myapp.example.com" },
      taskKillGracePeriodSeconds: 7,
      healthChecks: [{ protocol: "TCP" }],
    });
    const launch = toTaskLaunch(app, ctx([31000]));
    assert.equal(launch.name, "myapp.mygroup");
    assert.equal(launch.discovery?.name, "myapp.mygroup");
    assert.equal(launch.appId, "/mygroup/myapp");
    assert.deepEqual(launch.labels, [
      { key: "HAPROXY_GROUP", value: "external" },
      { key: "HAPROXY_0_VHOST", value: "myapp.example.com" },
    ]);
    assert.deepEqual(launch.env, { MODE: "prod" });
    assert.deepEqual([launch.cpus, launch.mem, launch.disk, launch.killGracePeriodSeconds], [0.25, 64, 10, 7]);
    assert.deepEqual([launch.taskId, launch.agentId, launch.frameworkId, launch.cmd], ["t1", "agent-1", "marathon-fw", "./run"]);
    assert.deepEqual(launch.hostPorts, [31000]);
    assert.equal(launch.healthChecks.length, 1);
    assert.equal(launch.container, undefined);
    assert.deepEqual(launch.network, { mode: "host" });
  });

  it("taskIdFor: <task name>.<uuid>", () => {
    const id = taskIdFor({ id: "/mygroup/myapp" });
    assert.match(id, /^myapp\.mygroup\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.notEqual(taskIdFor({ id: "/a" }), taskIdFor({ id: "/a" }));
  });

  it("rejects a host port list that does not fit the app", () => {
    const app = parseApp({ id: "/a", cmd: "x", requirePorts: true, portDefinitions: [{ port: 8080 }] });
    assert.throws(() => toTaskLaunch(app, ctx([])), /needs 1 host port/);
    assert.throws(() => toTaskLaunch(app, ctx([31000])), /host port 8080 is required/);
    assert.throws(() => toTaskLaunch(parseApp({ id: "/a", cmd: "x", ports: [0, 0] }), ctx([31000, 31000])), /distinct/);
    assert.doesNotThrow(() => toTaskLaunch(app, ctx([8080])));
  });

  it("puts fixed ports into their slots whatever order the allocator used", () => {
    const app = parseApp({
      id: "/a",
      cmd: "x",
      requirePorts: true,
      portDefinitions: [
        { port: 0, name: "a" },
        { port: 10000, name: "b" },
        { port: 0, name: "c" },
      ],
    });
    for (const given of [
      [10000, 31000, 31001],
      [31000, 10000, 31001],
    ]) {
      const launch = toTaskLaunch(app, ctx(given));
      assert.deepEqual(launch.hostPorts, [31000, 10000, 31001]);
      assert.deepEqual(
        launch.discovery?.ports?.ports.map((p) => [p.name, p.number]),
        [
          ["a", 31000],
          ["b", 10000],
          ["c", 31001],
        ],
      );
    }
  });
});

describe("toTaskLaunch: container info", () => {
  const cases: { name: string; app: unknown; hostPorts: number[]; container: unknown }[] = [
    {
      name: "docker bridge: port_mappings, containerPort 0 = host port, tcp,udp split",
      app: {
        id: "/b",
        cmd: "x",
        container: {
          docker: {
            image: "nginx",
            network: "BRIDGE",
            privileged: true,
            portMappings: [
              { containerPort: 80, hostPort: 8080 },
              { containerPort: 0, protocol: "tcp,udp" },
            ],
          },
        },
      },
      hostPorts: [8080, 31005],
      container: {
        type: "DOCKER",
        docker: {
          image: "nginx",
          network: "BRIDGE",
          privileged: true,
          port_mappings: [
            { host_port: 8080, container_port: 80, protocol: "tcp" },
            { host_port: 31005, container_port: 31005, protocol: "tcp" },
            { host_port: 31005, container_port: 31005, protocol: "udp" },
          ],
        },
      },
    },
    {
      name: "docker host",
      app: { id: "/h", cmd: "x", container: { docker: { image: "nginx" } } },
      hostPorts: [31000],
      container: { type: "DOCKER", docker: { image: "nginx", network: "HOST" } },
    },
    {
      name: "docker USER (1.4 ipAddress with groups and labels)",
      app: {
        id: "/u",
        cmd: "x",
        container: {
          type: "DOCKER",
          docker: { image: "nginx", network: "USER", portMappings: [{ containerPort: 80, hostPort: 0 }, { containerPort: 81 }] },
        },
        ipAddress: { networkName: "dcos", groups: ["secret-club"], labels: { a: "b" } },
      },
      hostPorts: [31010],
      container: {
        type: "DOCKER",
        docker: { image: "nginx", network: "USER", port_mappings: [{ host_port: 31010, container_port: 80, protocol: "tcp" }] },
        network_infos: [{ name: "dcos", groups: ["secret-club"], labels: { labels: [{ key: "a", value: "b" }] } }],
      },
    },
    {
      name: "mesos bridge: mesos-bridge network with port_mappings",
      app: {
        id: "/mb",
        cmd: "x",
        networks: [{ mode: "container/bridge" }],
        container: { type: "MESOS", portMappings: [{ containerPort: 80 }] },
      },
      hostPorts: [31020],
      container: {
        type: "MESOS",
        network_infos: [{ name: "mesos-bridge", port_mappings: [{ host_port: 31020, container_port: 80, protocol: "tcp" }] }],
      },
    },
    {
      name: "mesos container network without mapped ports",
      app: { id: "/mc", cmd: "x", networks: [{ mode: "container", name: "dcos" }], container: { portMappings: [{ containerPort: 80 }] } },
      hostPorts: [],
      container: { type: "MESOS", network_infos: [{ name: "dcos" }] },
    },
    {
      name: "mesos host",
      app: { id: "/m", cmd: "x", container: { type: "MESOS" } },
      hostPorts: [31000],
      container: { type: "MESOS" },
    },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(toTaskLaunch(parseApp(c.app), ctx(c.hostPorts)).container, c.container));
  }

  it("keeps the normalised network spec (containerPort 0 stays 0)", () => {
    const launch = toTaskLaunch(
      parseApp({ id: "/b", cmd: "x", container: { docker: { image: "i", network: "BRIDGE", portMappings: [{ containerPort: 0 }] } } }),
      ctx([31000]),
    );
    assert.deepEqual(launch.network, { mode: "bridge", portMappings: [{ containerPort: 0, hostPort: 0, protocol: "tcp" }] });
  });
});

describe("hostPortsNeeded", () => {
  const cases: { name: string; app: unknown; want: { count: number; fixed: number[]; slots: number[] } }[] = [
    { name: "default port definition", app: { id: "/a", cmd: "x" }, want: { count: 1, fixed: [], slots: [0] } },
    {
      name: "service ports without requirePorts are not fixed",
      app: { id: "/a", cmd: "x", portDefinitions: [{ port: 10000 }, { port: 0 }] },
      want: { count: 2, fixed: [], slots: [0, 0] },
    },
    {
      name: "requirePorts",
      app: { id: "/a", cmd: "x", requirePorts: true, portDefinitions: [{ port: 10000 }, { port: 0 }] },
      want: { count: 2, fixed: [10000], slots: [10000, 0] },
    },
    {
      name: "bridge: every mapping, explicit hostPort fixed",
      app: {
        id: "/a",
        cmd: "x",
        container: {
          docker: { image: "i", network: "BRIDGE", portMappings: [{ containerPort: 80 }, { containerPort: 81, hostPort: 8081 }] },
        },
      },
      want: { count: 2, fixed: [8081], slots: [0, 8081] },
    },
    {
      name: "container mode: only mapped ports",
      app: {
        id: "/a",
        cmd: "x",
        networks: [{ mode: "container" }],
        container: { portMappings: [{ containerPort: 80 }, { containerPort: 81, hostPort: 0 }, { containerPort: 82, hostPort: 9000 }] },
      },
      want: { count: 2, fixed: [9000], slots: [0, 9000] },
    },
    { name: "overlay without ports", app: { id: "/a", cmd: "x", ipAddress: {} }, want: { count: 0, fixed: [], slots: [] } },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(hostPortsNeeded(parseApp(c.app)), c.want));
  }
});
