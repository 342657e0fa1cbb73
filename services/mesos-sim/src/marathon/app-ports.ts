/**
 * Port definitions (host mode) and port mappings (bridge / container mode)
 * of a Marathon app. Decisions: app-json.ts.
 */

import type { PortDefinition } from "../model/app";
import type { PortMappingSpec } from "../model/launch";
import {
  at,
  checkNumber,
  get,
  has,
  idx,
  isObject,
  type Json,
  PORT_RULE,
  type Problems,
  readArray,
  readPortName,
  readProtocol,
  readStringMap,
} from "./app-problems";

/**
 * `hostPort` of a container-mode port mapping that is not mapped to the host
 * (Marathon: `hostPort` absent). PortMappingSpec.hostPort is a plain number
 * today; see the note in app-json.ts.
 */
export const NOT_MAPPED = -1;

/** Whether a port mapping takes a host port (allocated when its hostPort is 0). */
export function isHostMapped(pm: PortMappingSpec): boolean {
  return pm.hostPort !== NOT_MAPPED;
}

export const DEFAULT_PORT_DEFINITIONS: readonly PortDefinition[] = [{ port: 0, protocol: "tcp", name: "default" }];

export type Mode = "host" | "bridge" | "container";

export interface ModeChoice {
  mode: Mode;
  networkName: string;
  groups: string[];
  labels: Record<string, string>;
  /** The port mappings array and where it came from. */
  mappings: unknown[] | undefined;
  mappingsPath: string;
  discoveryPorts: unknown[] | undefined;
}

export function parsePortMappings(choice: ModeChoice, problems: Problems): PortMappingSpec[] {
  const out: PortMappingSpec[] = [];
  const list = choice.mappings ?? [];
  if (choice.mode === "host") {
    if (list.length > 0) {
      problems.add(
        choice.mappingsPath,
        "port mappings are not allowed in host network mode: use portDefinitions, or a container/bridge or container network",
      );
    }
    return out;
  }
  const names = new Map<string, number>();
  const hostPorts = new Map<number, number>();
  list.forEach((m, i) => {
    const p = idx(choice.mappingsPath, i);
    if (!isObject(m)) {
      problems.add(p, "must be an object {containerPort, hostPort?, protocol?, name?, labels?}");
      return;
    }
    const containerPort =
      get(m, "containerPort") === undefined ? 0 : checkNumber(get(m, "containerPort"), at(p, "containerPort"), problems, PORT_RULE);
    const rawHost = get(m, "hostPort");
    let hostPort: number | undefined = choice.mode === "bridge" ? 0 : NOT_MAPPED;
    if (rawHost !== undefined) hostPort = checkNumber(rawHost, at(p, "hostPort"), problems, PORT_RULE);
    if (has(m, "servicePort")) checkNumber(get(m, "servicePort"), at(p, "servicePort"), problems, PORT_RULE);
    const protocol = readProtocol(m, p, problems);
    const name = readPortName(m, p, problems);
    const labels = readStringMap(m, "labels", p, problems);
    if (choice.mode === "container" && containerPort === 0 && rawHost === undefined) {
      problems.add(at(p, "containerPort"), "must be greater than 0 in container network mode unless a hostPort is given");
    }
    if (name !== undefined) {
      const prev = names.get(name);
      if (prev !== undefined) problems.add(at(p, "name"), `duplicate port name "${name}" (also ${idx(choice.mappingsPath, prev)})`);
      else names.set(name, i);
    }
    if (hostPort !== undefined && hostPort > 0) {
      const prev = hostPorts.get(hostPort);
      if (prev !== undefined) problems.add(at(p, "hostPort"), `duplicate host port ${hostPort} (also ${idx(choice.mappingsPath, prev)})`);
      else hostPorts.set(hostPort, i);
    }
    if (containerPort === undefined || hostPort === undefined) return;
    const spec: PortMappingSpec = { containerPort, hostPort, protocol };
    if (name !== undefined) spec.name = name;
    if (Object.keys(labels).length > 0) spec.labels = labels;
    out.push(spec);
  });

  if (choice.discoveryPorts && choice.discoveryPorts.length > 0) {
    if (list.length > 0) {
      problems.add("/ipAddress/discovery/ports", "cannot be combined with port mappings: declare the ports in one place");
      return out;
    }
    choice.discoveryPorts.forEach((d, i) => {
      const p = idx("/ipAddress/discovery/ports", i);
      if (!isObject(d)) {
        problems.add(p, "must be an object {number, name, protocol?, labels?}");
        return;
      }
      const raw = get(d, "number");
      if (raw === undefined) problems.add(at(p, "number"), "is required");
      const num = raw === undefined ? undefined : checkNumber(raw, at(p, "number"), problems, { integer: true, min: 1, max: 65535 });
      const protocol = readProtocol(d, p, problems);
      const name = readPortName(d, p, problems);
      const labels = readStringMap(d, "labels", p, problems);
      if (name !== undefined) {
        if (names.has(name)) problems.add(at(p, "name"), `duplicate port name "${name}"`);
        names.set(name, i);
      }
      if (num === undefined) return;
      const spec: PortMappingSpec = { containerPort: num, hostPort: NOT_MAPPED, protocol };
      if (name !== undefined) spec.name = name;
      if (Object.keys(labels).length > 0) spec.labels = labels;
      out.push(spec);
    });
  }
  return out;
}

function isDefaultPortDefinitions(list: unknown[]): boolean {
  if (list.length !== 1) return false;
  const d = list[0];
  if (!isObject(d)) return false;
  const labels = get(d, "labels");
  return (
    (get(d, "port") ?? 0) === 0 &&
    ["tcp", undefined].includes(get(d, "protocol") as string | undefined) &&
    ["default", undefined].includes(get(d, "name") as string | undefined) &&
    (labels === undefined || (isObject(labels) && Object.keys(labels).length === 0))
  );
}

export function parsePortDefinitions(app: Json, mode: Mode, problems: Problems): PortDefinition[] {
  const defs = readArray(app, "portDefinitions", "/", problems);
  const ports = readArray(app, "ports", "/", problems);
  if (defs && defs.length > 0 && ports && ports.length > 0) {
    problems.add("/ports", "cannot be combined with portDefinitions (ports is the legacy form of portDefinitions)");
  }
  if (mode !== "host") {
    const what = mode === "bridge" ? "container/bridge (BRIDGE)" : "container (USER)";
    // Marathon's own default (as returned by GET) is tolerated, so clients may echo an app back.
    if (defs && defs.length > 0 && !isDefaultPortDefinitions(defs)) {
      problems.add("/portDefinitions", `must be empty in ${what} network mode: declare ports with portMappings`);
    }
    if (ports && ports.length > 0 && !(ports.length === 1 && ports[0] === 0)) {
      problems.add("/ports", `must be empty in ${what} network mode: declare ports with portMappings`);
    }
    return [];
  }
  const out: PortDefinition[] = [];
  if (defs && (defs.length > 0 || !ports || ports.length === 0)) {
    const names = new Map<string, number>();
    const seen = new Map<number, number>();
    defs.forEach((d, i) => {
      const p = idx("/portDefinitions", i);
      if (!isObject(d)) {
        problems.add(p, "must be an object {port, protocol?, name?, labels?}");
        return;
      }
      const raw = get(d, "port");
      const port = raw === undefined ? 0 : checkNumber(raw, at(p, "port"), problems, PORT_RULE);
      const protocol = readProtocol(d, p, problems);
      const name = readPortName(d, p, problems);
      const labels = readStringMap(d, "labels", p, problems);
      if (name !== undefined) {
        const prev = names.get(name);
        if (prev !== undefined) problems.add(at(p, "name"), `duplicate port name "${name}" (also ${idx("/portDefinitions", prev)})`);
        else names.set(name, i);
      }
      if (port !== undefined && port > 0) {
        const prev = seen.get(port);
        if (prev !== undefined) problems.add(at(p, "port"), `duplicate port ${port} (also ${idx("/portDefinitions", prev)})`);
        else seen.set(port, i);
      }
      if (port === undefined) return;
      const def: PortDefinition = { port, protocol };
      if (name !== undefined) def.name = name;
      if (Object.keys(labels).length > 0) def.labels = labels;
      out.push(def);
    });
    return out;
  }
  if (ports) {
    const seen = new Map<number, number>();
    ports.forEach((raw, i) => {
      const p = idx("/ports", i);
      const port = checkNumber(raw, p, problems, PORT_RULE);
      if (port === undefined) return;
      const prev = seen.get(port);
      if (port > 0 && prev !== undefined) problems.add(p, `duplicate port ${port} (also ${idx("/ports", prev)})`);
      seen.set(port, i);
      out.push({ port, protocol: "tcp" });
    });
    return out;
  }
  return DEFAULT_PORT_DEFINITIONS.map((d) => ({ ...d }));
}
