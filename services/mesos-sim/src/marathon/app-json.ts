/**
 * Marathon 1.x app JSON → NormalizedApp (model/app.ts): validation,
 * normalisation, and the PUT merge rules. Helpers live in app-problems.ts
 * (errors, readers), app-network.ts (network shapes), app-ports.ts
 * (port definitions / mappings) and app-health.ts (health checks);
 * to-launch.ts turns the result into a TaskLaunch.
 *
 * Decisions (read these before changing behaviour):
 *
 * Errors
 * - Every problem is collected; one AppValidationError (HTTP 422) carries
 *   `{message: "Object is not valid", details: [{path, errors}]}` with one
 *   entry per path, in the order found. Unparsable JSON text →
 *   `{message: "Invalid JSON", details: [{path: "/", ...}]}`.
 * - Paths use Marathon's notation everywhere: `/field/sub` for object keys,
 *   `(i)` for array elements, `/` for the document itself. Examples:
 *   `/id`, `/container/docker/portMappings(0)/containerPort`,
 *   `/healthChecks(0)/protocol`, `/env/SECRET_KEY`, `/labels/HAPROXY_0_PORT`.
 * - `null` counts as absent (the default applies), as in Marathon.
 *
 * Fields
 * - `id`: required (or `opts.idFromPath`); relative ids are made absolute
 *   (against `/`, or against the parent of idFromPath when one is given, as
 *   Marathon does for PUT); a trailing `/` is dropped; every segment must
 *   match Marathon's grammar; `.`, `..` and empty segments are rejected.
 *   A body id that differs from idFromPath is an error on `/id`.
 * - `cmd`: required. The simulator runs `sh -c <cmd>`; `args` (exec form) is
 *   rejected, and a docker image does not replace cmd (the image's
 *   entrypoint is not run).
 * - `instances` integer ≥ 0 (1), `cpus` > 0 (1), `mem` ≥ 0 (128),
 *   `disk` ≥ 0 (0), `requirePorts` (false).
 * - `env`: string values only; Marathon secret references
 *   (`{"secret": "…"}`) are rejected with their own message.
 * - `labels`: string → string, passed to the Mesos task's labels (HAPROXY_* etc.).
 * - `taskKillGracePeriodSeconds`: integer ≥ 0; absent = 3 (the Mesos
 *   default the simulator applies; not written into `json`).
 * - Unknown keys are kept in `json` untouched (Marathon ignores many); a
 *   `version` in the input is replaced.
 *
 * Networking (app-network.ts)
 * - 1.5: `networks: [{mode: host | container/bridge | container, name?, labels?}]`
 *   with `container.portMappings`. 1.4: `container.docker.network`
 *   HOST | BRIDGE | USER with `container.docker.portMappings`, and `ipAddress`
 *   {networkName, groups, labels, discovery.ports} for USER / MESOS
 *   containers. Both give the same TaskNetwork. Mixing the shapes
 *   (`networks` with `container.docker.network`, `ipAddress` or
 *   `container.docker.portMappings`; `container.portMappings` with the 1.4
 *   fields) is an error on the offending field.
 * - No networking fields = host mode. A container network without a name
 *   uses "dcos". One container network per app (Marathon allows several).
 *   docker network NONE is rejected.
 * - `container.type` defaults to DOCKER when `container.docker` is given,
 *   else MESOS. DOCKER needs `docker.image`. A MESOS container may carry
 *   `docker.image` (UCR) but no docker network / port mappings.
 * - Host mode: `portDefinitions` (default `[{port: 0, protocol: "tcp",
 *   name: "default"}]`), or the legacy `ports: [..]` (converted; `json` then
 *   holds `portDefinitions` instead of `ports`). Port mappings are an error.
 * - Bridge / container mode: portDefinitions must be empty; Marathon's own
 *   default (one port 0, tcp, name "default"/absent, no labels) is tolerated
 *   and dropped so that GET output can be PUT back.
 * - Port mappings: containerPort 0..65535 (default 0; 0 in bridge = the host
 *   port; in container mode 0 needs a hostPort); hostPort 0..65535 (bridge:
 *   absent = 0 = allocated; container mode: absent = not mapped, stored as
 *   NOT_MAPPED = -1 because PortMappingSpec.hostPort is not optional);
 *   servicePort validated and ignored. `ipAddress.discovery.ports` become
 *   container-mode port mappings (containerPort = number, not mapped), as
 *   Marathon 1.5's migration does; combining them with port mappings is an error.
 * - Protocols tcp | udp | tcp,udp (`udp,tcp` → `tcp,udp`). Port names match
 *   `^[a-z0-9-]+$` and are unique; fixed host ports (non-zero
 *   portDefinitions ports, explicit hostPorts) are unique.
 *
 * Health checks (app-health.ts)
 * - protocol HTTP (default) | MESOS_HTTP | TCP | MESOS_TCP | COMMAND; HTTPS and
 *   MESOS_HTTPS are rejected (no TLS prober). `path` default "/". portIndex
 *   default 0 and must index an existing port (portDefinitions in host mode,
 *   port mappings otherwise). A `port` is accepted only if it is one of the
 *   app's fixed ports (a port definition's port, a mapping's hostPort or
 *   containerPort) and is stored as that port's index; port + portIndex is
 *   an error. COMMAND needs `command.value`. Timing defaults as Marathon:
 *   gracePeriodSeconds 300, intervalSeconds 60, timeoutSeconds 20,
 *   maxConsecutiveFailures 3, delaySeconds 15; timeoutSeconds < intervalSeconds.
 *
 * Constraints (app-constraints.ts)
 * - `constraints: [[field, operator, value?]]` with field `hostname` (or an
 *   agent attribute) and UNIQUE, CLUSTER, GROUP_BY, LIKE, UNLIKE, MAX_PER, IS;
 *   errors at `/constraints(i)(j)`; honoured by the scheduler (placement.ts).
 *
 * PUT (mergeAppUpdate)
 * - Top-level fields in the body replace the stored ones (no deep merge).
 * - The body id must be absent or name the same app.
 * - `ports` and `portDefinitions` replace each other. A body with `networks`
 *   drops the stored 1.4 fields (`ipAddress`, `docker.network`; stored
 *   `docker.portMappings` move to `container.portMappings`); a body with the
 *   1.4 fields drops stored `networks`. When the result is not in host mode
 *   and the body gives no ports, the stored portDefinitions are dropped.
 * - `version` is new on every parse. scaleOnly() recognises `{instances: n}`
 *   bodies only (any other key → a full merge).
 *
 * Launch (to-launch.ts)
 * - hostPortsNeeded(app).slots: one per port definition (host mode), per
 *   port mapping (bridge), per mapped port mapping (container mode); 0 = any.
 *   toTaskLaunch accepts the allocated ports in slot order or with the fixed
 *   ones anywhere (placement.allocatePorts puts them first) and stores them
 *   in slot order. Task ids: `<task name>.<random uuid v4>`.
 */

import { AppValidationError, type NormalizedApp } from "../model/app";
import { parseConstraints } from "./app-constraints";
import { parseHealthChecks, type PortsView } from "./app-health";
import { parseNetwork, type ParsedNetwork } from "./app-network";
import { isHostMapped } from "./app-ports";
import { at, cloneJson, get, has, isObject, type Json, Problems, readNumber, readString, readStringMap, setKey } from "./app-problems";

export { DEFAULT_NETWORK_NAME } from "./app-network";
export { NOT_MAPPED, isHostMapped, DEFAULT_PORT_DEFINITIONS } from "./app-ports";
export { HEALTH_CHECK_DEFAULTS } from "./app-health";

export const DEFAULT_KILL_GRACE_PERIOD_SECONDS = 3;

/** One Marathon path segment (the simulator does not accept `.` / `..`). */
export const ID_SEGMENT = /^(([a-z0-9]|[a-z0-9][a-z0-9-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9-]*[a-z0-9])$/;

export interface ParseOptions {
  /** The app id from the URL (PUT /v2/apps/{id}); the body id must match it or be absent. */
  idFromPath?: string;
  /** The clock for `version` (tests). */
  now?: Date;
}

function fail(message: string, path: string, error: string): never {
  throw new AppValidationError({ message, details: [{ path, errors: [error] }] });
}

function toObject(input: unknown): Json {
  let v = input;
  if (typeof v === "string") {
    try {
      v = JSON.parse(v) as unknown;
    } catch (err) {
      fail("Invalid JSON", "/", `Invalid JSON: ${(err as Error).message}`);
    }
  }
  if (!isObject(v)) fail("Object is not valid", "/", "must be a JSON object (a Marathon app definition)");
  try {
    return cloneJson(v) as Json;
  } catch {
    return fail("Object is not valid", "/", "is nested too deeply");
  }
}

/**
 * Makes `id` absolute (relative to `base`, a group id) and checks it against
 * Marathon's grammar. Returns undefined after recording a problem.
 */
export function normalizeAppId(id: string, path: string, problems: Problems, base = "/"): string | undefined {
  const raw = id.startsWith("/") ? id : `${base.endsWith("/") ? base : `${base}/`}${id}`;
  const trimmed = raw.length > 1 ? raw.replace(/\/+$/, "") : raw;
  const segments = trimmed.split("/").slice(1);
  if (trimmed === "/" || trimmed === "" || segments.length === 0) {
    problems.add(path, "must name an app, not the root group");
    return undefined;
  }
  let ok = true;
  for (const s of segments) {
    if (s === "" || s === "." || s === "..") {
      problems.add(path, `must not contain empty, '.' or '..' path segments, got ${JSON.stringify(id)}`);
      ok = false;
      break;
    }
    if (!ID_SEGMENT.test(s)) {
      problems.add(path, `path segment ${JSON.stringify(s)} must match ${ID_SEGMENT.source} (lower-case letters, digits, '-' and '.')`);
      ok = false;
    }
  }
  return ok ? `/${segments.join("/")}` : undefined;
}

/** The canonical form of an app id (e.g. from a URL: `mygroup/myapp/` → `/mygroup/myapp`); undefined when invalid. */
export function canonicalAppId(id: string): string | undefined {
  return normalizeAppId(id, "/id", new Problems());
}

function parentOf(id: string): string {
  const i = id.lastIndexOf("/");
  return i <= 0 ? "/" : id.slice(0, i);
}

function parseId(app: Json, opts: ParseOptions, problems: Problems): string | undefined {
  let fromPath: string | undefined;
  if (opts.idFromPath !== undefined) fromPath = normalizeAppId(opts.idFromPath, "/id", problems);
  const rawId = get(app, "id");
  if (rawId === undefined) {
    if (opts.idFromPath === undefined) problems.add("/id", "is required");
    return fromPath;
  }
  if (typeof rawId !== "string") {
    problems.add("/id", "must be a string");
    return undefined;
  }
  const id = normalizeAppId(rawId, "/id", problems, fromPath !== undefined ? parentOf(fromPath) : "/");
  if (id !== undefined && fromPath !== undefined && id !== fromPath) {
    problems.add("/id", `the id in the body (${id}) does not match the app id in the URL (${fromPath})`);
    return undefined;
  }
  return id;
}

function parseCmd(app: Json, dockerImage: string | undefined, problems: Problems): string {
  if (has(app, "args")) {
    problems.add("/args", "is not supported by the simulator: give cmd instead (it is run with sh -c)");
  }
  const cmd = readString(app, "cmd", "/", problems);
  if (cmd !== undefined && cmd.trim() !== "") return cmd;
  if (cmd === undefined && has(app, "cmd")) return "";
  if (dockerImage !== undefined) {
    problems.add("/cmd", "is required: the simulator runs cmd (sh -c) even with a docker image, whose entrypoint is not run");
  } else if (has(app, "args")) {
    problems.add("/cmd", "is required: args-only apps are not supported by the simulator (it runs cmd with sh -c)");
  } else {
    problems.add("/cmd", cmd === undefined ? "is required" : "must not be empty");
  }
  return "";
}

function parseEnv(app: Json, problems: Problems): Record<string, string> {
  const out: Record<string, string> = {};
  const env = get(app, "env");
  if (env === undefined) return out;
  if (!isObject(env)) {
    problems.add("/env", "must be an object of string values");
    return out;
  }
  for (const [k, v] of Object.entries(env)) {
    if (typeof v === "string") setKey(out, k, v);
    else if (isObject(v) && has(v, "secret"))
      problems.add(at("/env", k), "secret references are not supported by the simulator: give a string value");
    else problems.add(at("/env", k), "must be a string");
  }
  return out;
}

function portsView(net: ParsedNetwork): PortsView {
  if (net.network.mode === "host") {
    const defs = net.portDefinitions;
    return { count: defs.length, indexOf: (port) => idxOf(defs.map((d) => d.port === port)) };
  }
  const maps = net.network.portMappings;
  return {
    count: maps.length,
    indexOf: (port) => idxOf(maps.map((m) => (isHostMapped(m) && m.hostPort === port) || m.containerPort === port)),
  };
}

function idxOf(matches: boolean[]): number | undefined {
  const i = matches.indexOf(true);
  return i < 0 ? undefined : i;
}

/** Validates and normalises a Marathon app (object or JSON text); throws AppValidationError with every problem. */
export function parseApp(input: unknown, opts: ParseOptions = {}): NormalizedApp {
  const app = toObject(input);
  const problems = new Problems();
  const id = parseId(app, opts, problems);
  const net = parseNetwork(app, problems);
  const cmd = parseCmd(app, net.dockerImage, problems);
  const instances = readNumber(app, "instances", "/", problems, { integer: true, min: 0 }) ?? 1;
  const cpus = readNumber(app, "cpus", "/", problems, { min: 0, minExclusive: true }) ?? 1;
  const mem = readNumber(app, "mem", "/", problems, { min: 0 }) ?? 128;
  const disk = readNumber(app, "disk", "/", problems, { min: 0 }) ?? 0;
  const env = parseEnv(app, problems);
  const labels = readStringMap(app, "labels", "/", problems);
  const health = parseHealthChecks(app, portsView(net), problems);
  const constraints = parseConstraints(app, problems);
  const killGracePeriodSeconds =
    readNumber(app, "taskKillGracePeriodSeconds", "/", problems, { integer: true, min: 0 }) ?? DEFAULT_KILL_GRACE_PERIOD_SECONDS;
  problems.throwIfAny();
  if (id === undefined) return fail("Object is not valid", "/id", "is required");

  const version = (opts.now ?? new Date()).toISOString();
  const json: Json = { ...app, id, cmd, instances, cpus, mem, disk, requirePorts: net.requirePorts, labels, env };
  delete json.ports;
  if (net.network.mode === "host") json.portDefinitions = net.portDefinitions.map((d) => ({ ...d }));
  json.healthChecks = health.json;
  json.constraints = constraints.json;
  json.version = version;
  return {
    id,
    cmd,
    instances,
    cpus,
    mem,
    disk,
    env,
    labels,
    network: net.network,
    portDefinitions: net.portDefinitions,
    requirePorts: net.requirePorts,
    healthChecks: health.checks,
    constraints: constraints.constraints,
    killGracePeriodSeconds,
    containerType: net.containerType,
    dockerImage: net.dockerImage,
    json,
    version,
  };
}

/**
 * PUT /v2/apps/{id}: the body's top-level fields replace the stored ones
 * (rules at the top of this file); the result is validated as a whole.
 */
export function mergeAppUpdate(current: NormalizedApp, patch: unknown, opts: Omit<ParseOptions, "idFromPath"> = {}): NormalizedApp {
  const body = toObject(patch);
  const base = cloneJson(current.json) as Json;
  delete base.version;
  if (has(body, "ports") || has(body, "portDefinitions")) {
    delete base.ports;
    delete base.portDefinitions;
  }
  const container = get(base, "container");
  const docker = isObject(container) ? get(container, "docker") : undefined;
  if (has(body, "networks")) {
    if (!has(body, "ipAddress")) delete base.ipAddress;
    if (!has(body, "container") && isObject(container) && isObject(docker)) {
      delete docker.network;
      if (has(docker, "portMappings") && !has(container, "portMappings")) container.portMappings = docker.portMappings;
      delete docker.portMappings;
    }
  }
  const bodyContainer = get(body, "container");
  const bodyDocker = isObject(bodyContainer) ? get(bodyContainer, "docker") : undefined;
  if (!has(body, "networks") && (has(body, "ipAddress") || (isObject(bodyDocker) && has(bodyDocker, "network")))) delete base.networks;

  const merged: Json = { ...base };
  for (const [k, v] of Object.entries(body)) setKey(merged, k, v);
  if (!has(body, "ports") && !has(body, "portDefinitions") && (has(body, "networks") || has(body, "container") || has(body, "ipAddress"))) {
    const scratch = new Problems();
    if (parseNetwork(merged, scratch).network.mode !== "host") {
      delete merged.ports;
      delete merged.portDefinitions;
    }
  }
  return parseApp(merged, { ...opts, idFromPath: current.id });
}

/** The new instance count when a PUT body only changes `instances` (a scale), else undefined. */
export function scaleOnly(patch: unknown): number | undefined {
  if (!isObject(patch)) return undefined;
  const keys = Object.keys(patch).filter((k) => patch[k] !== undefined);
  if (keys.length !== 1 || keys[0] !== "instances") return undefined;
  const n = patch.instances;
  return typeof n === "number" && Number.isInteger(n) && n >= 0 ? n : undefined;
}
