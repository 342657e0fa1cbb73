import { strict as assert } from "node:assert";
import { seededRandom } from "@dcnet/core";
import { AppValidationError, taskNameOf, type NormalizedApp, type ValidationFailure } from "../model/app";
import { canonicalAppId, mergeAppUpdate, NOT_MAPPED, parseApp, scaleOnly } from "./app-json";
import { hostPortsNeeded, toTaskLaunch } from "./to-launch";

const NOW = new Date("2024-01-02T03:04:05.678Z");

function failure(fn: () => unknown): ValidationFailure {
  try {
    fn();
  } catch (err) {
    if (err instanceof AppValidationError) return err.failure;
    throw err;
  }
  assert.fail("expected an AppValidationError");
}

const paths = (f: ValidationFailure): string[] => f.details.map((d) => d.path);

// The seeds (004: DC/OS 105 networking lab) as complete apps.
const SEED_VIP_IP = {
  id: "/minitwit",
  cmd: "python app.py",
  cpus: 0.5,
  mem: 256,
  container: {
    type: "DOCKER",
    docker: {
      image: "karlkfi/minitwit",
      network: "BRIDGE",
      portMappings: [{ name: "http-api", containerPort: 80, hostPort: 0, protocol: "tcp", labels: { VIP_0: "172.16.0.1:80" } }],
    },
  },
};
const SEED_VIP_NAMED = {
  ...SEED_VIP_IP,
  container: {
    type: "DOCKER",
    docker: {
      image: "karlkfi/minitwit",
      network: "BRIDGE",
      portMappings: [{ name: "http-api", containerPort: 80, labels: { VIP_0: "minitwit:80" } }],
    },
  },
};
const SEED_OVERLAY = { id: "/overlay/web", cmd: "python3 -m http.server 80", ipAddress: { networkName: "dcos" } };
const SEED_OVERLAY_GROUPS = { ...SEED_OVERLAY, ipAddress: { networkName: "dcos", groups: ["secret-club"] } };
const SEED_OVERLAY_DISCOVERY = {
  ...SEED_OVERLAY,
  ipAddress: { networkName: "dcos", discovery: { ports: [{ name: "http-api", number: 80, protocol: "tcp" }] } },
};
const HOST_VIP_15 = {
  id: "service",
  cmd: "server $PORT0",
  container: { type: "MESOS" },
  networks: [{ mode: "host" }],
  portDefinitions: [{ name: "web", port: 8080, protocol: "tcp", labels: { VIP_0: "service:8080" } }],
};
const CONTAINER_15 = {
  id: "service",
  cmd: "server 8080",
  container: {
    type: "MESOS",
    portMappings: [{ containerPort: 8080, servicePort: 8080, protocol: "tcp", labels: { VIP_0: "service:8080" } }],
  },
  networks: [{ name: "dcos", mode: "container" }],
};

describe("marathon app JSON: valid apps", () => {
  const cases: { name: string; input: unknown; check: (app: NormalizedApp) => void }[] = [
    {
      name: "minimal app gets Marathon's defaults",
      input: { id: "myapp", cmd: "sleep 100" },
      check: (app) => {
        assert.equal(app.id, "/myapp");
        assert.deepEqual([app.instances, app.cpus, app.mem, app.disk, app.killGracePeriodSeconds], [1, 1, 128, 0, 3]);
        assert.deepEqual(app.network, { mode: "host" });
        assert.deepEqual(app.portDefinitions, [{ port: 0, protocol: "tcp", name: "default" }]);
        assert.equal(app.requirePorts, false);
        assert.equal(app.containerType, undefined);
        assert.deepEqual(app.json, {
          id: "/myapp",
          cmd: "sleep 100",
          instances: 1,
          cpus: 1,
          mem: 128,
          disk: 0,
          requirePorts: false,
          labels: {},
          env: {},
          portDefinitions: [{ port: 0, protocol: "tcp", name: "default" }],
          healthChecks: [],
          constraints: [],
          version: NOW.toISOString(),
        });
      },
    },
    {
      name: "seed: docker BRIDGE port mapping with an IP VIP",
      input: SEED_VIP_IP,
      check: (app) => {
        assert.equal(app.containerType, "DOCKER");
        assert.equal(app.dockerImage, "karlkfi/minitwit");
        assert.deepEqual(app.network, {
          mode: "bridge",
          portMappings: [{ containerPort: 80, hostPort: 0, protocol: "tcp", name: "http-api", labels: { VIP_0: "172.16.0.1:80" } }],
        });
        assert.deepEqual(app.portDefinitions, []);
        assert.equal(app.json.portDefinitions, undefined);
      },
    },
    {
      name: "seed: named VIP, hostPort absent in bridge = allocated",
      input: SEED_VIP_NAMED,
      check: (app) => {
        assert.equal(app.network.mode, "bridge");
        assert.deepEqual(app.network.mode === "bridge" && app.network.portMappings[0], {
          containerPort: 80,
          hostPort: 0,
          protocol: "tcp",
          name: "http-api",
          labels: { VIP_0: "minitwit:80" },
        });
      },
    },
    {
      name: "seed: overlay ipAddress",
      input: SEED_OVERLAY,
      check: (app) => assert.deepEqual(app.network, { mode: "container", networkName: "dcos", groups: [], labels: {}, portMappings: [] }),
    },
    {
      name: "seed: overlay ipAddress with groups",
      input: SEED_OVERLAY_GROUPS,
      check: (app) =>
        assert.deepEqual(app.network, { mode: "container", networkName: "dcos", groups: ["secret-club"], labels: {}, portMappings: [] }),
    },
    {
      name: "seed: overlay ipAddress with discovery ports",
      input: SEED_OVERLAY_DISCOVERY,
      check: (app) =>
        assert.deepEqual(app.network, {
          mode: "container",
          networkName: "dcos",
          groups: [],
          labels: {},
          portMappings: [{ containerPort: 80, hostPort: NOT_MAPPED, protocol: "tcp", name: "http-api" }],
        }),
    },
    {
      name: "1.5 host network with port definition VIP",
      input: HOST_VIP_15,
      check: (app) => {
        assert.equal(app.containerType, "MESOS");
        assert.deepEqual(app.portDefinitions, [{ port: 8080, protocol: "tcp", name: "web", labels: { VIP_0: "service:8080" } }]);
      },
    },
    {
      name: "1.5 container network with container.portMappings",
      input: CONTAINER_15,
      check: (app) =>
        assert.deepEqual(app.network, {
          mode: "container",
          networkName: "dcos",
          groups: [],
          labels: {},
          portMappings: [{ containerPort: 8080, hostPort: NOT_MAPPED, protocol: "tcp", labels: { VIP_0: "service:8080" } }],
        }),
    },
    {
      name: "group id, HAPROXY labels, env, legacy ports, udp,tcp",
      input: {
        id: "/mygroup/myapp/",
        cmd: "x",
        instances: 0,
        labels: { HAPROXY_GROUP: "external", HAPROXY_0_VHOST: "a.example.com" },
        env: { A: "1" },
        ports: [8080, 0],
        requirePorts: true,
        portDefinitions: [],
      },
      check: (app) => {
        assert.equal(app.id, "/mygroup/myapp");
        assert.equal(taskNameOf(app.id), "myapp.mygroup");
        assert.equal(app.instances, 0);
        assert.deepEqual(app.labels, { HAPROXY_GROUP: "external", HAPROXY_0_VHOST: "a.example.com" });
        assert.deepEqual(app.portDefinitions, [
          { port: 8080, protocol: "tcp" },
          { port: 0, protocol: "tcp" },
        ]);
        assert.equal(app.json.ports, undefined);
        assert.deepEqual(app.json.portDefinitions, app.portDefinitions);
      },
    },
    {
      name: "protocol udp,tcp normalised; explicit empty portDefinitions",
      input: { id: "a", cmd: "x", portDefinitions: [{ port: 0, protocol: "udp,tcp", name: "dns" }] },
      check: (app) => assert.deepEqual(app.portDefinitions, [{ port: 0, protocol: "tcp,udp", name: "dns" }]),
    },
    {
      name: "health checks of each kind with defaults",
      input: {
        id: "hc",
        cmd: "x",
        portDefinitions: [{ port: 0 }, { port: 0 }],
        healthChecks: [
          {},
          { protocol: "MESOS_HTTP", path: "/health", portIndex: 1, intervalSeconds: 5, timeoutSeconds: 2 },
          { protocol: "TCP" },
          { protocol: "COMMAND", command: { value: "true" }, gracePeriodSeconds: 0 },
        ],
      },
      check: (app) => {
        const d = { gracePeriodSeconds: 300, intervalSeconds: 60, timeoutSeconds: 20, maxConsecutiveFailures: 3, delaySeconds: 15 };
        assert.deepEqual(app.healthChecks, [
          { protocol: "HTTP", path: "/", portIndex: 0, common: d },
          { protocol: "MESOS_HTTP", path: "/health", portIndex: 1, common: { ...d, intervalSeconds: 5, timeoutSeconds: 2 } },
          { protocol: "TCP", portIndex: 0, common: d },
          { protocol: "COMMAND", command: "true", common: { ...d, gracePeriodSeconds: 0 } },
        ]);
        assert.deepEqual((app.json.healthChecks as unknown[])[0], { protocol: "HTTP", path: "/", portIndex: 0, ...d });
      },
    },
    {
      name: "health check port resolves to the fixed port's index",
      input: {
        id: "hc",
        cmd: "x",
        requirePorts: true,
        portDefinitions: [{ port: 9000 }, { port: 9001 }],
        healthChecks: [{ protocol: "TCP", port: 9001 }],
      },
      check: (app) => assert.equal(app.healthChecks[0]?.protocol === "TCP" && app.healthChecks[0].portIndex, 1),
    },
    {
      name: "unknown keys kept, version replaced, taskKillGracePeriodSeconds read",
      input: { id: "a", cmd: "x", constraints: [["hostname", "UNIQUE"]], version: "old", taskKillGracePeriodSeconds: 10, fetch: [] },
      check: (app) => {
        assert.deepEqual(app.json.constraints, [["hostname", "UNIQUE"]]);
        assert.deepEqual(app.json.fetch, []);
        assert.equal(app.json.version, NOW.toISOString());
        assert.equal(app.version, NOW.toISOString());
        assert.equal(app.killGracePeriodSeconds, 10);
      },
    },
    {
      name: "JSON text is accepted",
      input: JSON.stringify({ id: "/text", cmd: "x" }),
      check: (app) => assert.equal(app.id, "/text"),
    },
    {
      name: "GET output with the default portDefinitions can be used for a bridge app",
      input: { ...SEED_VIP_IP, portDefinitions: [{ port: 0, protocol: "tcp", name: "default" }] },
      check: (app) => assert.deepEqual(app.portDefinitions, []),
    },
    {
      name: "docker USER without ipAddress uses the default network; MESOS container with a docker image (UCR)",
      input: { id: "u", cmd: "x", container: { type: "DOCKER", docker: { image: "nginx", network: "USER" } } },
      check: (app) => assert.deepEqual(app.network, { mode: "container", networkName: "dcos", groups: [], labels: {}, portMappings: [] }),
    },
  ];
  for (const c of cases) {
    it(c.name, () => c.check(parseApp(c.input, { now: NOW })));
  }

  it("does not alias the input", () => {
    const input = structuredClone(SEED_VIP_IP);
    const app = parseApp(input, { now: NOW });
    input.container.docker.image = "changed";
    assert.equal((app.json.container as { docker: { image: string } }).docker.image, "karlkfi/minitwit");
  });
});

describe("marathon app JSON: 1.4 and 1.5 shapes normalise alike", () => {
  const pairs: { name: string; v14: unknown; v15: unknown }[] = [
    {
      name: "docker bridge",
      v14: {
        id: "b",
        cmd: "x",
        container: {
          type: "DOCKER",
          docker: { image: "nginx", network: "BRIDGE", portMappings: [{ containerPort: 80, hostPort: 0, labels: { VIP_0: "/b:80" } }] },
        },
      },
      v15: {
        id: "b",
        cmd: "x",
        networks: [{ mode: "container/bridge" }],
        container: { type: "DOCKER", docker: { image: "nginx" }, portMappings: [{ containerPort: 80, labels: { VIP_0: "/b:80" } }] },
      },
    },
    {
      name: "docker user network",
      v14: {
        id: "u",
        cmd: "x",
        container: { type: "DOCKER", docker: { image: "nginx", network: "USER", portMappings: [{ containerPort: 80, name: "http" }] } },
        ipAddress: { networkName: "dcos", labels: { k: "v" } },
      },
      v15: {
        id: "u",
        cmd: "x",
        networks: [{ mode: "container", name: "dcos", labels: { k: "v" } }],
        container: { type: "DOCKER", docker: { image: "nginx" }, portMappings: [{ containerPort: 80, name: "http" }] },
      },
    },
    {
      name: "mesos container: ipAddress.discovery.ports vs container.portMappings",
      v14: SEED_OVERLAY_DISCOVERY,
      v15: {
        ...SEED_OVERLAY,
        ipAddress: undefined,
        networks: [{ mode: "container" }],
        container: { portMappings: [{ containerPort: 80, name: "http-api" }] },
      },
    },
    {
      name: "host",
      v14: {
        id: "h",
        cmd: "x",
        container: { type: "DOCKER", docker: { image: "nginx", network: "HOST" } },
        portDefinitions: [{ port: 0, name: "web" }],
      },
      v15: {
        id: "h",
        cmd: "x",
        container: { type: "DOCKER", docker: { image: "nginx" } },
        networks: [{ mode: "host" }],
        portDefinitions: [{ port: 0, name: "web" }],
      },
    },
  ];
  for (const p of pairs) {
    it(p.name, () => {
      const a = parseApp(p.v14, { now: NOW });
      const b = parseApp(p.v15, { now: NOW });
      assert.deepEqual(a.network, b.network);
      assert.deepEqual(a.portDefinitions, b.portDefinitions);
      const ports = hostPortsNeeded(a).slots.map((s, i) => s || 31000 + i);
      const ctx = { taskId: "t", agentId: "a", agentIp: "10.0.0.1", frameworkId: "f", hostPorts: ports };
      assert.deepEqual(toTaskLaunch(a, ctx), toTaskLaunch(b, ctx));
    });
  }
});

describe("marathon app JSON: invalid apps name the field", () => {
  const base = { id: "/a", cmd: "x" };
  const bridge = (portMappings: unknown[]): unknown => ({
    ...base,
    container: { type: "DOCKER", docker: { image: "i", network: "BRIDGE", portMappings } },
  });
  const cases: { name: string; input: unknown; paths: string[]; match?: RegExp }[] = [
    { name: "not an object", input: [1], paths: ["/"] },
    { name: "id missing", input: { cmd: "x" }, paths: ["/id"] },
    { name: "id upper case", input: { ...base, id: "/My/app" }, paths: ["/id"], match: /"My"/ },
    { name: "id with ..", input: { ...base, id: "/a/../b" }, paths: ["/id"], match: /'\.\.'/ },
    { name: "id root", input: { ...base, id: "/" }, paths: ["/id"] },
    { name: "id not a string", input: { ...base, id: 5 }, paths: ["/id"] },
    { name: "cmd missing", input: { id: "a" }, paths: ["/cmd"] },
    { name: "args only", input: { id: "a", args: ["x"] }, paths: ["/args", "/cmd"], match: /args-only/ },
    {
      name: "docker image without cmd",
      input: { id: "a", container: { docker: { image: "nginx" } } },
      paths: ["/cmd"],
      match: /entrypoint/,
    },
    { name: "instances negative", input: { ...base, instances: -1 }, paths: ["/instances"] },
    { name: "instances fractional", input: { ...base, instances: 1.5 }, paths: ["/instances"] },
    { name: "instances string", input: { ...base, instances: "3" }, paths: ["/instances"] },
    { name: "cpus zero", input: { ...base, cpus: 0 }, paths: ["/cpus"] },
    { name: "mem negative", input: { ...base, mem: -1 }, paths: ["/mem"] },
    { name: "disk not a number", input: { ...base, disk: {} }, paths: ["/disk"] },
    { name: "env secret", input: { ...base, env: { PW: { secret: "pw" } } }, paths: ["/env/PW"], match: /secret/ },
    { name: "env number", input: { ...base, env: { N: 1 } }, paths: ["/env/N"] },
    { name: "labels non-string", input: { ...base, labels: { HAPROXY_0_PORT: 80 } }, paths: ["/labels/HAPROXY_0_PORT"] },
    { name: "port out of range", input: { ...base, portDefinitions: [{ port: 70000 }] }, paths: ["/portDefinitions(0)/port"] },
    {
      name: "port protocol",
      input: { ...base, portDefinitions: [{ port: 0, protocol: "sctp" }] },
      paths: ["/portDefinitions(0)/protocol"],
    },
    { name: "port name invalid", input: { ...base, portDefinitions: [{ port: 0, name: "Web_1" }] }, paths: ["/portDefinitions(0)/name"] },
    {
      name: "port names duplicate",
      input: { ...base, portDefinitions: [{ name: "a" }, { name: "a" }] },
      paths: ["/portDefinitions(1)/name"],
    },
    {
      name: "port numbers duplicate",
      input: { ...base, portDefinitions: [{ port: 80 }, { port: 80 }] },
      paths: ["/portDefinitions(1)/port"],
    },
    { name: "ports and portDefinitions", input: { ...base, ports: [1], portDefinitions: [{ port: 2 }] }, paths: ["/ports"] },
    { name: "legacy ports not numbers", input: { ...base, ports: ["a"] }, paths: ["/ports(0)"] },
    {
      name: "containerPort out of range",
      input: bridge([{ containerPort: -1 }]),
      paths: ["/container/docker/portMappings(0)/containerPort"],
    },
    {
      name: "hostPort out of range",
      input: bridge([{ containerPort: 80, hostPort: 65536 }]),
      paths: ["/container/docker/portMappings(0)/hostPort"],
    },
    {
      name: "duplicate host ports",
      input: bridge([
        { containerPort: 80, hostPort: 8080 },
        { containerPort: 81, hostPort: 8080 },
      ]),
      paths: ["/container/docker/portMappings(1)/hostPort"],
      match: /duplicate host port 8080/,
    },
    {
      name: "mapping protocol",
      input: bridge([{ containerPort: 80, protocol: "http" }]),
      paths: ["/container/docker/portMappings(0)/protocol"],
    },
    {
      name: "docker network NONE",
      input: { ...base, container: { docker: { image: "i", network: "NONE" } } },
      paths: ["/container/docker/network"],
    },
    {
      name: "docker network bogus",
      input: { ...base, container: { docker: { image: "i", network: "br" } } },
      paths: ["/container/docker/network"],
    },
    { name: "DOCKER without image", input: { ...base, container: { type: "DOCKER", docker: {} } }, paths: ["/container/docker/image"] },
    { name: "DOCKER without docker", input: { ...base, container: { type: "DOCKER" } }, paths: ["/container/docker"] },
    { name: "container type", input: { ...base, container: { type: "RKT" } }, paths: ["/container/type"] },
    {
      name: "networks with docker.network",
      input: { ...base, networks: [{ mode: "host" }], container: { docker: { image: "i", network: "HOST" } } },
      paths: ["/container/docker/network"],
    },
    {
      name: "networks with ipAddress",
      input: { ...base, networks: [{ mode: "container" }], ipAddress: { networkName: "dcos" } },
      paths: ["/ipAddress"],
    },
    {
      name: "networks with docker.portMappings",
      input: {
        ...base,
        networks: [{ mode: "container/bridge" }],
        container: { docker: { image: "i", portMappings: [{ containerPort: 1 }] } },
      },
      paths: ["/container/docker/portMappings"],
    },
    {
      name: "container.portMappings with docker.network",
      input: { ...base, container: { portMappings: [], docker: { image: "i", network: "BRIDGE" } } },
      paths: ["/container/portMappings"],
    },
    {
      name: "ipAddress with BRIDGE",
      input: { ...base, container: { docker: { image: "i", network: "BRIDGE" } }, ipAddress: {} },
      paths: ["/ipAddress"],
    },
    { name: "networks mode bogus", input: { ...base, networks: [{ mode: "overlay" }] }, paths: ["/networks(0)/mode"] },
    { name: "networks host + container", input: { ...base, networks: [{ mode: "host" }, { mode: "container" }] }, paths: ["/networks"] },
    { name: "networks host with name", input: { ...base, networks: [{ mode: "host", name: "x" }] }, paths: ["/networks(0)/name"] },
    {
      name: "port mappings in host mode",
      input: { ...base, container: { portMappings: [{ containerPort: 80 }] } },
      paths: ["/container/portMappings"],
      match: /host network mode/,
    },
    {
      name: "portDefinitions in bridge mode",
      input: { ...base, networks: [{ mode: "container/bridge" }], portDefinitions: [{ port: 80 }] },
      paths: ["/portDefinitions"],
    },
    {
      name: "container mode containerPort 0 without hostPort",
      input: { ...base, networks: [{ mode: "container" }], container: { portMappings: [{ containerPort: 0 }] } },
      paths: ["/container/portMappings(0)/containerPort"],
    },
    {
      name: "discovery ports and port mappings",
      input: {
        ...base,
        container: { docker: { image: "i", network: "USER", portMappings: [{ containerPort: 80 }] } },
        ipAddress: { discovery: { ports: [{ number: 80, name: "a" }] } },
      },
      paths: ["/ipAddress/discovery/ports"],
    },
    {
      name: "discovery port number",
      input: { ...base, ipAddress: { discovery: { ports: [{ name: "a" }] } } },
      paths: ["/ipAddress/discovery/ports(0)/number"],
    },
    {
      name: "health check HTTPS",
      input: { ...base, healthChecks: [{ protocol: "HTTPS" }] },
      paths: ["/healthChecks(0)/protocol"],
      match: /TLS/,
    },
    { name: "health check protocol", input: { ...base, healthChecks: [{ protocol: "UDP" }] }, paths: ["/healthChecks(0)/protocol"] },
    {
      name: "health check portIndex",
      input: { ...base, healthChecks: [{ protocol: "TCP", portIndex: 1 }] },
      paths: ["/healthChecks(0)/portIndex"],
    },
    {
      name: "health check with no ports",
      input: { ...base, portDefinitions: [], healthChecks: [{ protocol: "HTTP" }] },
      paths: ["/healthChecks(0)/portIndex"],
      match: /no ports/,
    },
    {
      name: "health check unknown port",
      input: { ...base, healthChecks: [{ protocol: "TCP", port: 1234 }] },
      paths: ["/healthChecks(0)/port"],
    },
    {
      name: "health check port + portIndex",
      input: { ...base, healthChecks: [{ port: 1, portIndex: 0 }] },
      paths: ["/healthChecks(0)/port"],
    },
    { name: "COMMAND without command", input: { ...base, healthChecks: [{ protocol: "COMMAND" }] }, paths: ["/healthChecks(0)/command"] },
    {
      name: "COMMAND empty value",
      input: { ...base, healthChecks: [{ protocol: "COMMAND", command: {} }] },
      paths: ["/healthChecks(0)/command/value"],
    },
    {
      name: "health check timing",
      input: { ...base, healthChecks: [{ intervalSeconds: 0, maxConsecutiveFailures: -1 }] },
      paths: ["/healthChecks(0)/intervalSeconds", "/healthChecks(0)/maxConsecutiveFailures"],
    },
    {
      name: "health check timeout ≥ interval",
      input: { ...base, healthChecks: [{ intervalSeconds: 10, timeoutSeconds: 10 }] },
      paths: ["/healthChecks(0)/timeoutSeconds"],
    },
    { name: "taskKillGracePeriodSeconds", input: { ...base, taskKillGracePeriodSeconds: -2 }, paths: ["/taskKillGracePeriodSeconds"] },
    { name: "requirePorts not a boolean", input: { ...base, requirePorts: "yes" }, paths: ["/requirePorts"] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const f = failure(() => parseApp(c.input));
      assert.equal(f.message, "Object is not valid");
      assert.deepEqual(paths(f), c.paths, JSON.stringify(f));
      for (const d of f.details) assert.ok(d.errors.length > 0);
      if (c.match) assert.match(f.details.map((d) => d.errors.join(" ")).join(" "), c.match);
    });
  }

  it("invalid JSON text → Invalid JSON at /", () => {
    const f = failure(() => parseApp('{"id": "a",'));
    assert.equal(f.message, "Invalid JSON");
    assert.deepEqual(paths(f), ["/"]);
  });

  it("collects every problem, not just the first", () => {
    const f = failure(() =>
      parseApp({
        id: "/Bad",
        instances: -1,
        cpus: "lots",
        env: { S: { secret: "s" } },
        container: {
          docker: { image: "i", network: "BRIDGE", portMappings: [{ containerPort: 99999 }, { containerPort: 1, protocol: "x" }] },
        },
        healthChecks: [{ protocol: "HTTPS" }, { protocol: "TCP", portIndex: 5 }],
      }),
    );
    assert.deepEqual(paths(f).sort(), [
      "/cmd",
      "/container/docker/portMappings(0)/containerPort",
      "/container/docker/portMappings(1)/protocol",
      "/cpus",
      "/env/S",
      "/healthChecks(0)/protocol",
      "/healthChecks(1)/portIndex",
      "/id",
      "/instances",
    ]);
  });
});

describe("marathon app ids", () => {
  const cases: [string, string | undefined][] = [
    ["/mygroup/myapp", "/mygroup/myapp"],
    ["mygroup/myapp/", "/mygroup/myapp"],
    ["/a.b/c-d/e0", "/a.b/c-d/e0"],
    ["/a//b", undefined],
    ["/a/./b", undefined],
    ["/-a", undefined],
    ["/a-", undefined],
    ["/A", undefined],
    ["/a_b", undefined],
    ["/", undefined],
    ["", undefined],
  ];
  for (const [id, want] of cases) it(`${JSON.stringify(id)} → ${want}`, () => assert.equal(canonicalAppId(id), want));
  it("task name of a group app", () => assert.equal(taskNameOf(parseApp({ id: "/mygroup/myapp", cmd: "x" }).id), "myapp.mygroup"));
});

describe("marathon app JSON: PUT merge", () => {
  const current = parseApp(
    {
      id: "/g/app",
      cmd: "x",
      instances: 2,
      labels: { HAPROXY_GROUP: "external" },
      portDefinitions: [{ port: 0, name: "web", labels: { VIP_0: "/app:80" } }],
    },
    { now: NOW },
  );
  const later = new Date("2024-02-01T00:00:00.000Z");

  it("replaces only the given top-level fields", () => {
    const app = mergeAppUpdate(current, { cmd: "y", labels: { A: "b" } }, { now: later });
    assert.equal(app.cmd, "y");
    assert.equal(app.instances, 2);
    assert.deepEqual(app.labels, { A: "b" });
    assert.deepEqual(app.portDefinitions, current.portDefinitions);
    assert.equal(app.version, later.toISOString());
  });

  it("accepts the same id, absolute or relative to the parent group", () => {
    assert.equal(mergeAppUpdate(current, { id: "/g/app", cmd: "z" }).cmd, "z");
    assert.equal(mergeAppUpdate(current, { id: "app", cmd: "z" }).id, "/g/app");
  });

  it("rejects a different id on /id", () => {
    const f = failure(() => mergeAppUpdate(current, { id: "/other", cmd: "z" }));
    assert.deepEqual(paths(f), ["/id"]);
    assert.match(f.details[0]!.errors[0]!, /does not match/);
  });

  it("validates the merged app as a whole", () => {
    assert.deepEqual(paths(failure(() => mergeAppUpdate(current, { instances: -1, healthChecks: [{ protocol: "TCP", portIndex: 3 }] }))), [
      "/instances",
      "/healthChecks(0)/portIndex",
    ]);
  });

  it("legacy ports replace portDefinitions", () => {
    assert.deepEqual(mergeAppUpdate(current, { ports: [0, 0] }).portDefinitions, [
      { port: 0, protocol: "tcp" },
      { port: 0, protocol: "tcp" },
    ]);
  });

  it("switching to bridge drops the stored host port definitions", () => {
    const app = mergeAppUpdate(current, { networks: [{ mode: "container/bridge" }], container: { portMappings: [{ containerPort: 80 }] } });
    assert.equal(app.network.mode, "bridge");
    assert.deepEqual(app.portDefinitions, []);
  });

  it("a 1.5 body on a 1.4 app migrates the stored fields", () => {
    const v14 = parseApp({
      id: "/u",
      cmd: "x",
      container: { type: "DOCKER", docker: { image: "i", network: "USER", portMappings: [{ containerPort: 80 }] } },
      ipAddress: { networkName: "dcos" },
    });
    const app = mergeAppUpdate(v14, { networks: [{ mode: "container", name: "other" }] });
    assert.deepEqual(app.network, {
      mode: "container",
      networkName: "other",
      groups: [],
      labels: {},
      portMappings: [{ containerPort: 80, hostPort: NOT_MAPPED, protocol: "tcp" }],
    });
    const back = mergeAppUpdate(app, {
      container: { type: "DOCKER", docker: { image: "i", network: "BRIDGE", portMappings: [{ containerPort: 80 }] } },
    });
    assert.equal(back.network.mode, "bridge");
  });

  it("a GET result PUT back is unchanged (apart from version)", () => {
    for (const input of [SEED_VIP_IP, SEED_OVERLAY_DISCOVERY, HOST_VIP_15, CONTAINER_15]) {
      const app = parseApp(input, { now: NOW });
      const again = mergeAppUpdate(app, app.json, { now: NOW });
      assert.deepEqual(again, app);
    }
  });

  const scales: [unknown, number | undefined][] = [
    [{ instances: 3 }, 3],
    [{ instances: 0 }, 0],
    [{ instances: 3, cmd: "x" }, undefined],
    [{ instances: -1 }, undefined],
    [{ instances: "3" }, undefined],
    [{}, undefined],
    [null, undefined],
  ];
  for (const [patch, want] of scales) {
    it(`scaleOnly(${JSON.stringify(patch)}) = ${want}`, () => assert.equal(scaleOnly(patch), want));
  }
});

describe("marathon app JSON: fuzz", () => {
  const rng = seededRandom;
  const KEYS = ["id", "cmd", "instances", "cpus", "mem", "container", "docker", "network", "portMappings", "networks", "mode", "name"];
  const MORE = ["hostPort", "containerPort", "protocol", "labels", "ipAddress", "discovery", "ports", "healthChecks", "portIndex", "port"];
  const ALL_KEYS = [...KEYS, ...MORE, "portDefinitions", "env", "__proto__", "command", "value", "requirePorts", "type", "image"];
  const STRINGS = [
    "",
    "tcp",
    "udp,tcp",
    "HOST",
    "BRIDGE",
    "USER",
    "container",
    "container/bridge",
    "host",
    "/a/b",
    "..",
    "HTTP",
    "COMMAND",
    "DOCKER",
  ];

  function value(r: () => number, depth: number): unknown {
    const pick = Math.floor(r() * (depth > 3 ? 6 : 8));
    const num = [0, -1, 1, 1.5, 65535, 65536, 80, 1e308][Math.floor(r() * 8)];
    switch (pick) {
      case 0:
        return null;
      case 1:
        return r() < 0.5;
      case 2:
        return num;
      case 3:
        return STRINGS[Math.floor(r() * STRINGS.length)];
      case 4:
        return undefined;
      case 5:
        return "x".repeat(Math.floor(r() * 3));
      case 6:
        return Array.from({ length: Math.floor(r() * 3) }, () => value(r, depth + 1));
      default: {
        const o: Record<string, unknown> = {};
        for (let i = Math.floor(r() * 4); i > 0; i--) {
          Object.defineProperty(o, ALL_KEYS[Math.floor(r() * ALL_KEYS.length)]!, {
            value: value(r, depth + 1),
            enumerable: true,
            writable: true,
          });
        }
        return o;
      }
    }
  }

  function mutate(v: unknown, r: () => number, depth = 0): unknown {
    if (r() < 0.15 || depth > 5) return value(r, depth);
    if (Array.isArray(v)) {
      const out = v.map((e) => (r() < 0.4 ? mutate(e, r, depth + 1) : e));
      if (r() < 0.2) out.push(value(r, depth + 1));
      return out;
    }
    if (typeof v === "object" && v !== null) {
      const out: Record<string, unknown> = { ...(v as Record<string, unknown>) };
      for (const k of Object.keys(out)) {
        const roll = r();
        if (roll < 0.1) delete out[k];
        else if (roll < 0.5) out[k] = mutate(out[k], r, depth + 1);
      }
      if (r() < 0.3) out[ALL_KEYS[Math.floor(r() * ALL_KEYS.length)]!] = value(r, depth + 1);
      return out;
    }
    return value(r, depth);
  }

  const valid = [SEED_VIP_IP, SEED_VIP_NAMED, SEED_OVERLAY_GROUPS, SEED_OVERLAY_DISCOVERY, HOST_VIP_15, CONTAINER_15];

  it("random values and mutations of valid apps only ever throw AppValidationError (3000 rounds)", () => {
    const r = rng(0xdc0e7);
    let ok = 0;
    for (let i = 0; i < 3000; i++) {
      const input = i % 10 === 0 ? value(r, 0) : mutate(valid[i % valid.length], r);
      try {
        const app = parseApp(input);
        ok++;
        const slots = hostPortsNeeded(app).slots.map((s, j) => s || 31000 + j);
        toTaskLaunch(app, { taskId: "t", agentId: "a", agentIp: "10.0.0.1", frameworkId: "f", hostPorts: slots });
        mergeAppUpdate(app, mutate({ cmd: "y", instances: 2 }, r));
      } catch (err) {
        if (!(err instanceof AppValidationError)) assert.fail(`round ${i}: ${String(err)}\ninput: ${JSON.stringify(input)}`);
        assert.ok(err.failure.details.length > 0);
      }
    }
    assert.ok(ok > 50, `only ${ok} mutated apps were valid`);
  });
});
