/**
 * Realistic Mesos task JSON for the tests, in both shapes: the v1 Operator API (`task_id: {value}`,
 * resources as a list, labels as `{labels}`) and `/master/state` (`id`, `slave_id`, `resources.ports`
 * as a range string, labels as an array).
 */

export const AGENT_ID = "f1c8a6c1-2a37-4d1e-9b48-0bde2b2c1e6a-S1";
export const AGENT_IP = "10.0.4.12";
export const FRAMEWORK_ID = "f1c8a6c1-2a37-4d1e-9b48-0bde2b2c1e6a-0001";

export const ctx = () => ({ frameworks: new Map([[FRAMEWORK_ID, "marathon"]]), agents: new Map([[AGENT_ID, AGENT_IP]]) });

const status = (state: string, timestamp: number, ips: string[], extra: Record<string, unknown> = {}) => ({
  task_id: { value: "x" },
  agent_id: { value: AGENT_ID },
  state,
  timestamp,
  source: "SOURCE_EXECUTOR",
  container_status: { network_infos: [{ ip_addresses: ips.map((ip) => ({ protocol: "IPv4", ip_address: ip })) }] },
  ...extra,
});

/** Marathon app `/demo/echo`, host networking, one port definition `http` with `VIP_0`; Operator API shape. */
export function hostTaskV1(): Record<string, unknown> {
  return {
    name: "echo.demo",
    task_id: { value: "demo_echo.8e6c6f42-6c1d-11e9-a9f7-0242ac110002" },
    framework_id: { value: FRAMEWORK_ID },
    executor_id: { value: "demo_echo.8e6c6f42-6c1d-11e9-a9f7-0242ac110002" },
    agent_id: { value: AGENT_ID },
    state: "TASK_RUNNING",
    resources: [
      { name: "cpus", type: "SCALAR", scalar: { value: 0.1 } },
      { name: "mem", type: "SCALAR", scalar: { value: 32 } },
      { name: "ports", type: "RANGES", ranges: { range: [{ begin: 31044, end: 31044 }] } },
    ],
    statuses: [status("TASK_STARTING", 1557000000.1, [AGENT_IP]), status("TASK_RUNNING", 1557000001.2, [AGENT_IP])],
    status_update_state: "TASK_RUNNING",
    labels: { labels: [{ key: "HAPROXY_GROUP", value: "external" }] },
    discovery: {
      visibility: "FRAMEWORK",
      name: "echo.demo",
      ports: { ports: [{ number: 31044, name: "http", protocol: "tcp", labels: { labels: [{ key: "VIP_0", value: "/echo:80" }] } }] },
    },
  };
}

/** A Docker bridge-mode task (`/web/nginx`) with a tcp and a udp port mapping, VIP labels on the discovery ports; `/master/state` shape. */
export function bridgeTaskV0(): Record<string, unknown> {
  return {
    id: "web_nginx.2b7d3c8e-6c1e-11e9-a9f7-0242ac110002",
    name: "nginx.web",
    framework_id: FRAMEWORK_ID,
    executor_id: "",
    slave_id: AGENT_ID,
    state: "TASK_RUNNING",
    resources: { cpus: 0.5, mem: 128, disk: 0, ports: "[31001-31002]" },
    statuses: [
      status("TASK_RUNNING", 1557000010.5, ["172.17.0.2"], { labels: [{ key: "Docker.NetworkSettings.IPAddress", value: "172.17.0.2" }] }),
    ],
    labels: [{ key: "DCOS_PACKAGE_NAME", value: "nginx" }],
    discovery: {
      visibility: "FRAMEWORK",
      name: "nginx.web",
      ports: {
        ports: [
          {
            number: 31001,
            name: "http",
            protocol: "tcp",
            labels: {
              labels: [
                { key: "VIP_0", value: "/nginx:80" },
                { key: "network-scope", value: "host" },
              ],
            },
          },
          {
            number: 31002,
            name: "dns",
            protocol: "udp",
            labels: {
              labels: [
                { key: "vip1", value: "10.10.0.53:53" },
                { key: "network-scope", value: "host" },
              ],
            },
          },
        ],
      },
    },
    container: {
      type: "DOCKER",
      docker: {
        image: "nginx:1.15",
        network: "BRIDGE",
        port_mappings: [
          { host_port: 31001, container_port: 80, protocol: "tcp" },
          { host_port: 31002, container_port: 53, protocol: "udp" },
        ],
      },
    },
  };
}

/** Legacy task labels `VIP_PORT<n>` on a host-networked task (pre-1.8 style), `/master/state` shape. */
export function legacyTaskV0(): Record<string, unknown> {
  return {
    id: "legacy.0f3e",
    name: "legacy",
    framework_id: FRAMEWORK_ID,
    slave_id: AGENT_ID,
    state: "TASK_RUNNING",
    resources: { cpus: 0.1, mem: 16, ports: "[31100-31101, 31200-31200]" },
    statuses: [status("TASK_RUNNING", 1557000020, [AGENT_IP])],
    labels: [
      { key: "VIP_PORT0", value: "tcp://1.2.3.4:5000" },
      { key: "vip_port2", value: "udp://named-dns:53" },
    ],
  };
}

/** A UCR (MESOS) bridge-mode task: port mappings on `container.network_infos`, discovery ports with network-scope host/container. */
export function ucrBridgeTaskV1(): Record<string, unknown> {
  return {
    name: "api.shop",
    task_id: { value: "shop_api.5d1b" },
    framework_id: { value: FRAMEWORK_ID },
    agent_id: { value: AGENT_ID },
    state: "TASK_RUNNING",
    resources: [{ name: "ports", type: "RANGES", ranges: { range: [{ begin: 31005, end: 31005 }] } }],
    statuses: [status("TASK_RUNNING", 1557000030, ["172.31.254.3"])],
    discovery: {
      visibility: "FRAMEWORK",
      name: "api.shop",
      ports: {
        ports: [
          {
            number: 31005,
            name: "api",
            protocol: "tcp",
            labels: {
              labels: [
                { key: "VIP_0", value: "/shop/api:8080" },
                { key: "network-scope", value: "host" },
              ],
            },
          },
          { number: 9090, name: "metrics", protocol: "tcp", labels: { labels: [{ key: "network-scope", value: "container" }] } },
        ],
      },
    },
    container: {
      type: "MESOS",
      network_infos: [{ name: "mesos-bridge", port_mappings: [{ host_port: 31005, container_port: 8080, protocol: "tcp" }] }],
    },
  };
}
