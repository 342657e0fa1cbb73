/**
 * The networking part of a Marathon app: the 1.5 shape (`networks` +
 * `container.portMappings`) and the 1.4 shape (`container.docker.network`,
 * `container.docker.portMappings`, `ipAddress`) both end up as one
 * TaskNetwork plus host-mode port definitions (the ports themselves:
 * app-ports.ts). Decisions: app-json.ts.
 */

import type { PortDefinition } from "../model/app";
import type { TaskNetwork } from "../model/launch";
import { type Mode, type ModeChoice, parsePortDefinitions, parsePortMappings } from "./app-ports";
import {
  at,
  has,
  idx,
  isObject,
  type Json,
  type Problems,
  readArray,
  readBool,
  readObject,
  readString,
  readStringMap,
} from "./app-problems";

/** Default virtual network when `networks[].name` / `ipAddress.networkName` is absent. */
export const DEFAULT_NETWORK_NAME = "dcos";

export interface ParsedNetwork {
  network: TaskNetwork;
  portDefinitions: PortDefinition[];
  requirePorts: boolean;
  containerType: "DOCKER" | "MESOS" | undefined;
  dockerImage: string | undefined;
}

export function parseNetwork(app: Json, problems: Problems): ParsedNetwork {
  const container = readObject(app, "container", "/", problems);
  const docker = container ? readObject(container, "docker", "/container", problems) : undefined;

  let containerType: "DOCKER" | "MESOS" | undefined;
  let dockerImage: string | undefined;
  if (container) {
    const type = readString(container, "type", "/container", problems) ?? (docker ? "DOCKER" : "MESOS");
    if (type !== "DOCKER" && type !== "MESOS") problems.add("/container/type", `must be DOCKER or MESOS, got ${JSON.stringify(type)}`);
    else containerType = type;
    if (docker) {
      dockerImage = readString(docker, "image", "/container/docker", problems);
      if (dockerImage !== undefined && dockerImage.trim() === "") {
        problems.add("/container/docker/image", "must not be empty");
        dockerImage = undefined;
      }
    }
    if (type === "DOCKER" && !docker) problems.add("/container/docker", "is required for a DOCKER container");
    else if (type === "DOCKER" && docker && !has(docker, "image"))
      problems.add("/container/docker/image", "is required for a DOCKER container");
    if (type === "MESOS" && docker) {
      for (const k of ["network", "portMappings"]) {
        if (has(docker, k)) problems.add(at("/container/docker", k), "is only allowed with a DOCKER container (container.type)");
      }
    }
  }

  const choice = chooseMode(app, container, containerType === "DOCKER" ? docker : undefined, problems);
  const mappings = parsePortMappings(choice, problems);
  const requirePorts = readBool(app, "requirePorts", "/", problems) ?? false;
  const portDefinitions = parsePortDefinitions(app, choice.mode, problems);

  let network: TaskNetwork;
  if (choice.mode === "host") network = { mode: "host" };
  else if (choice.mode === "bridge") network = { mode: "bridge", portMappings: mappings };
  else
    network = { mode: "container", networkName: choice.networkName, groups: choice.groups, labels: choice.labels, portMappings: mappings };
  return { network, portDefinitions, requirePorts, containerType, dockerImage };
}

function chooseMode(app: Json, container: Json | undefined, docker: Json | undefined, problems: Problems): ModeChoice {
  const choice: ModeChoice = {
    mode: "host",
    networkName: DEFAULT_NETWORK_NAME,
    groups: [],
    labels: {},
    mappings: undefined,
    mappingsPath: "/container/portMappings",
    discoveryPorts: undefined,
  };
  const networks = readArray(app, "networks", "/", problems);
  const ipAddress = has(app, "ipAddress") ? readObject(app, "ipAddress", "/", problems) : undefined;
  const dockerNetwork = docker ? readString(docker, "network", "/container/docker", problems) : undefined;
  const containerPM = container ? readArray(container, "portMappings", "/container", problems) : undefined;
  const dockerPM = docker ? readArray(docker, "portMappings", "/container/docker", problems) : undefined;

  if (has(app, "networks")) {
    // Marathon 1.5 shape.
    const mixed = "cannot be combined with networks (Marathon 1.5 networking API); use one API shape";
    if (docker && has(docker, "network")) problems.add("/container/docker/network", mixed);
    if (has(app, "ipAddress")) problems.add("/ipAddress", mixed);
    if (docker && has(docker, "portMappings")) problems.add("/container/docker/portMappings", `${mixed}: use container.portMappings`);
    choice.mappings = containerPM;
    parseNetworks(networks ?? [], choice, problems);
    return choice;
  }

  // Marathon 1.4 shape (or no networking at all = host).
  if (container && has(container, "portMappings") && (dockerNetwork !== undefined || ipAddress !== undefined)) {
    problems.add(
      "/container/portMappings",
      "belongs to the Marathon 1.5 networking API (with networks); with container.docker.network / ipAddress use container.docker.portMappings",
    );
  }
  choice.mappings = dockerPM ?? containerPM;
  choice.mappingsPath = dockerPM ? "/container/docker/portMappings" : "/container/portMappings";
  if (dockerNetwork !== undefined) {
    if (dockerNetwork === "BRIDGE") choice.mode = "bridge";
    else if (dockerNetwork === "USER") choice.mode = "container";
    else if (dockerNetwork === "NONE")
      problems.add("/container/docker/network", "NONE is not supported by the simulator (use HOST, BRIDGE or USER)");
    else if (dockerNetwork !== "HOST")
      problems.add("/container/docker/network", `must be one of HOST, BRIDGE, USER, got ${JSON.stringify(dockerNetwork)}`);
  }
  if (ipAddress) {
    if (dockerNetwork === "HOST" || dockerNetwork === "BRIDGE") {
      problems.add("/ipAddress", `is only allowed with container.docker.network USER or a MESOS container, not ${dockerNetwork}`);
    } else {
      choice.mode = "container";
      const name = readString(ipAddress, "networkName", "/ipAddress", problems);
      if (name !== undefined) choice.networkName = checkNetworkName(name, "/ipAddress/networkName", problems);
      choice.labels = readStringMap(ipAddress, "labels", "/ipAddress", problems);
      const groups = readArray(ipAddress, "groups", "/ipAddress", problems) ?? [];
      groups.forEach((g, i) => {
        if (typeof g === "string" && g !== "") choice.groups.push(g);
        else problems.add(idx("/ipAddress/groups", i), "must be a non-empty string");
      });
      const discovery = readObject(ipAddress, "discovery", "/ipAddress", problems);
      if (discovery) choice.discoveryPorts = readArray(discovery, "ports", "/ipAddress/discovery", problems);
    }
  }
  return choice;
}

function checkNetworkName(name: string, path: string, problems: Problems): string {
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) {
    problems.add(path, `must be a network name (letters, digits, '-', '_', '.'), got ${JSON.stringify(name)}`);
    return DEFAULT_NETWORK_NAME;
  }
  return name;
}

function parseNetworks(networks: unknown[], choice: ModeChoice, problems: Problems): void {
  const modes: Mode[] = [];
  networks.forEach((n, i) => {
    const p = idx("/networks", i);
    if (!isObject(n)) {
      problems.add(p, "must be an object {mode, name?, labels?}");
      return;
    }
    const mode = readString(n, "mode", p, problems) ?? "container";
    if (mode === "host" || mode === "container/bridge") {
      if (has(n, "name")) problems.add(at(p, "name"), `is only allowed with mode container, not ${mode}`);
      modes.push(mode === "host" ? "host" : "bridge");
    } else if (mode === "container") {
      modes.push("container");
      if (modes.filter((m) => m === "container").length === 1) {
        const name = readString(n, "name", p, problems);
        if (name !== undefined) choice.networkName = checkNetworkName(name, at(p, "name"), problems);
        choice.labels = readStringMap(n, "labels", p, problems);
      }
    } else {
      problems.add(at(p, "mode"), `must be one of host, container/bridge, container, got ${JSON.stringify(mode)}`);
    }
  });
  if (modes.length > 1) {
    if (modes.some((m) => m !== "container"))
      problems.add("/networks", "host and container/bridge networks cannot be combined with other networks");
    else problems.add("/networks", "the simulator supports one container network per app");
  }
  choice.mode = modes[0] ?? "host";
}
