/**
 * NormalizedApp → TaskLaunch, with the Mesos-side pass-through exactly as
 * Marathon's TaskBuilder / PortDiscovery builds it:
 *
 * - task `labels` = the app's labels (HAPROXY_*, DCOS_*, …), in order.
 * - `discovery` = `{visibility: FRAMEWORK, name: <task name>, ports: {ports}}`,
 *   `ports` always present (possibly empty). One Mesos port per protocol
 *   (`tcp,udp` gives two entries with the same number, name and labels):
 *   - host mode: one per port definition, number = the task's host port,
 *     labels = the port's labels (no `network-scope`: host is implied);
 *   - bridge / container mode: one per port mapping; a mapping with a host
 *     port has number = that host port and label `network-scope: host`; a
 *     container-mode mapping without one has number = containerPort and label
 *     `network-scope: container` (dcos-net §2.1 reads it that way: host
 *     scope → host port on the agent IP, container scope → port on the task IP).
 *     A user label `network-scope` is overridden, as Marathon does.
 * - `container`: DOCKER (when the app has a docker image and type DOCKER):
 *   docker.network HOST | BRIDGE | USER, docker.port_mappings for the mapped
 *   ports (container_port 0 → the host port, one entry per protocol), and for
 *   USER `network_infos: [{name, groups?, labels?}]`. Otherwise MESOS when the
 *   app has a container or a non-host network: `network_infos` =
 *   `[{name: "mesos-bridge", port_mappings}]` in bridge mode,
 *   `[{name, groups?, labels?, port_mappings?}]` in container mode. Host-mode
 *   apps without a container get no ContainerInfo.
 * - `network` keeps the normalised spec (containerPort 0 stays 0: the agent
 *   applies the "same as host port" rule); `env` is the app env only.
 */

import { randomUUID } from "node:crypto";
import { taskNameOf, type NormalizedApp } from "../model/app";
import type { PortMappingSpec, TaskLaunch } from "../model/launch";
import type { ContainerInfo, DiscoveryPort, Label, NetworkInfo, PortMapping } from "../model/mesos";
import { isHostMapped } from "./app-ports";

export interface LaunchContext {
  taskId: string;
  agentId: string;
  agentIp: string;
  frameworkId: string;
  /** Allocated host ports, one per slot of hostPortsNeeded(app): in slot order, or fixed ones anywhere (see orderHostPorts). */
  hostPorts: number[];
}

/** `<task name>.<uuid>`, as Marathon (`myapp.mygroup.3a4c2a1e-…`); a random (v4) uuid. */
export function taskIdFor(app: Pick<NormalizedApp, "id">): string {
  return `${taskNameOf(app.id)}.${randomUUID()}`;
}

/**
 * The host ports one task needs: `slots` lists them in port-definition /
 * mapped-port-mapping order (0 = any port from the agent's range, else that
 * exact port); `fixed` are the exact ones. Fixed: requirePorts port
 * definitions (non-zero), explicit non-zero hostPorts in bridge/container mode.
 */
export function hostPortsNeeded(app: NormalizedApp): { count: number; fixed: number[]; slots: number[] } {
  let slots: number[];
  if (app.network.mode === "host") slots = app.portDefinitions.map((d) => (app.requirePorts ? d.port : 0));
  else slots = app.network.portMappings.filter(isHostMapped).map((m) => m.hostPort);
  return { count: slots.length, fixed: slots.filter((p) => p > 0), slots };
}

function labelList(labels: Record<string, string> | undefined): Label[] {
  return Object.entries(labels ?? {}).map(([key, value]) => ({ key, value }));
}

function protocols(p: string): string[] {
  return p.split(",").map((s) => s.trim());
}

function discoveryPorts(number: number, protocol: string, name: string | undefined, labels: Record<string, string>): DiscoveryPort[] {
  const list = labelList(labels);
  return protocols(protocol).map((proto) => {
    const port: DiscoveryPort = { number, protocol: proto };
    if (name !== undefined) port.name = name;
    if (list.length > 0) port.labels = { labels: list.map((l) => ({ ...l })) };
    return port;
  });
}

/** Each port mapping paired with its allocated host port (undefined = not mapped). */
function pairMappings(mappings: PortMappingSpec[], hostPorts: number[]): { pm: PortMappingSpec; host: number | undefined }[] {
  let k = 0;
  return mappings.map((pm) => ({ pm, host: isHostMapped(pm) ? hostPorts[k++] : undefined }));
}

function mesosPortMappings(pairs: { pm: PortMappingSpec; host: number | undefined }[]): PortMapping[] {
  const out: PortMapping[] = [];
  for (const { pm, host } of pairs) {
    if (host === undefined) continue;
    for (const protocol of protocols(pm.protocol)) {
      out.push({ host_port: host, container_port: pm.containerPort === 0 ? host : pm.containerPort, protocol });
    }
  }
  return out;
}

/**
 * Puts allocated host ports into slot order: each fixed slot gets its port,
 * the others take the remaining ports in the order given. So both
 * `[...fixed, ...dynamic]` (placement.allocatePorts) and slot order work.
 */
export function orderHostPorts(app: NormalizedApp, given: readonly number[]): number[] {
  const { slots } = hostPortsNeeded(app);
  if (given.length !== slots.length) throw new Error(`app ${app.id} needs ${slots.length} host port(s), got ${given.length}`);
  if (new Set(given).size !== given.length || given.some((p) => !Number.isInteger(p) || p <= 0 || p > 65535)) {
    throw new Error(`app ${app.id}: host ports must be distinct allocated ports, got [${given.join(", ")}]`);
  }
  const pool = [...given];
  const out = slots.map((want) => {
    if (want === 0) return 0;
    const k = pool.indexOf(want);
    if (k < 0) throw new Error(`app ${app.id}: host port ${want} is required, got [${given.join(", ")}]`);
    pool.splice(k, 1);
    return want;
  });
  return out.map((p) => (p === 0 ? pool.shift()! : p));
}

export function toTaskLaunch(app: NormalizedApp, ctx: LaunchContext): TaskLaunch {
  const hostPorts = orderHostPorts(app, ctx.hostPorts);
  const name = taskNameOf(app.id);

  const ports: DiscoveryPort[] = [];
  const net = app.network;
  const pairs = net.mode === "host" ? [] : pairMappings(net.portMappings, hostPorts);
  if (net.mode === "host") {
    app.portDefinitions.forEach((d, i) => ports.push(...discoveryPorts(hostPorts[i] ?? 0, d.protocol, d.name, d.labels ?? {})));
  } else {
    for (const { pm, host } of pairs) {
      const scope = host === undefined ? "container" : "host";
      const labels = { ...(pm.labels ?? {}) };
      delete labels["network-scope"];
      labels["network-scope"] = scope;
      ports.push(...discoveryPorts(host ?? pm.containerPort, pm.protocol, pm.name, labels));
    }
  }

  const launch: TaskLaunch = {
    taskId: ctx.taskId,
    name,
    frameworkId: ctx.frameworkId,
    frameworkName: "marathon",
    agentId: ctx.agentId,
    appId: app.id,
    cmd: app.cmd,
    env: { ...app.env },
    cpus: app.cpus,
    mem: app.mem,
    disk: app.disk,
    network: structuredClone(app.network),
    hostPorts,
    healthChecks: structuredClone(app.healthChecks),
    killGracePeriodSeconds: app.killGracePeriodSeconds,
    labels: labelList(app.labels),
    discovery: { visibility: "FRAMEWORK", name, ports: { ports } },
  };
  const container = containerInfo(app, pairs);
  if (container) launch.container = container;
  return launch;
}

function containerInfo(app: NormalizedApp, pairs: { pm: PortMappingSpec; host: number | undefined }[]): ContainerInfo | undefined {
  const net = app.network;
  const virtual: NetworkInfo | undefined =
    net.mode === "container"
      ? {
          name: net.networkName,
          ...(net.groups.length > 0 ? { groups: [...net.groups] } : {}),
          ...(Object.keys(net.labels).length > 0 ? { labels: { labels: labelList(net.labels) } } : {}),
        }
      : undefined;
  const mappings = mesosPortMappings(pairs);

  if (app.containerType === "DOCKER" && app.dockerImage !== undefined) {
    const docker: NonNullable<ContainerInfo["docker"]> = {
      image: app.dockerImage,
      network: net.mode === "host" ? "HOST" : net.mode === "bridge" ? "BRIDGE" : "USER",
    };
    if (net.mode !== "host" && mappings.length > 0) docker.port_mappings = mappings;
    const c = app.json.container;
    const d = typeof c === "object" && c !== null ? (c as Record<string, unknown>).docker : undefined;
    if (typeof d === "object" && d !== null && (d as Record<string, unknown>).privileged === true) docker.privileged = true;
    return virtual ? { type: "DOCKER", docker, network_infos: [virtual] } : { type: "DOCKER", docker };
  }
  if (net.mode === "host") return app.containerType === undefined ? undefined : { type: "MESOS" };
  const info: NetworkInfo = virtual ?? { name: "mesos-bridge" };
  if (mappings.length > 0) info.port_mappings = mappings;
  return { type: "MESOS", network_infos: [info] };
}
