/**
 * Marathon `healthChecks[]` → HealthCheck (model/launch.ts), with Marathon's
 * defaults filled in. Decisions: app-json.ts.
 */

import type { HealthCheck, HealthCheckTiming } from "../model/launch";
import {
  at,
  get,
  has,
  idx,
  isObject,
  type Json,
  PORT_RULE,
  type Problems,
  checkNumber,
  readArray,
  readObject,
  readString,
} from "./app-problems";

export const HEALTH_CHECK_DEFAULTS: Readonly<HealthCheckTiming> = {
  gracePeriodSeconds: 300,
  intervalSeconds: 60,
  timeoutSeconds: 20,
  maxConsecutiveFailures: 3,
  delaySeconds: 15,
};

const PROTOCOLS = ["HTTP", "MESOS_HTTP", "TCP", "MESOS_TCP", "COMMAND"] as const;
type Protocol = (typeof PROTOCOLS)[number];

/** What the health checks may refer to: the app's ports (portDefinitions or portMappings). */
export interface PortsView {
  count: number;
  /** The index of the port whose fixed number is `port` (for `healthChecks[].port`). */
  indexOf(port: number): number | undefined;
}

export interface ParsedHealthChecks {
  checks: HealthCheck[];
  /** healthChecks as Marathon returns them (input plus defaults). */
  json: Json[];
}

export function parseHealthChecks(app: Json, ports: PortsView, problems: Problems): ParsedHealthChecks {
  const out: ParsedHealthChecks = { checks: [], json: [] };
  const list = readArray(app, "healthChecks", "/", problems) ?? [];
  list.forEach((hc, i) => {
    const p = idx("/healthChecks", i);
    if (!isObject(hc)) {
      problems.add(p, "must be an object {protocol, ...}");
      return;
    }
    const before = problems.size;
    const json: Json = { ...hc };
    const rawProtocol = readString(hc, "protocol", p, problems);
    const protocol = has(hc, "protocol") ? rawProtocol : "HTTP";
    let known: Protocol | undefined;
    if (protocol === "HTTPS" || protocol === "MESOS_HTTPS") {
      problems.add(
        at(p, "protocol"),
        `${protocol} health checks are not supported by the simulator (it has no TLS prober): use HTTP or MESOS_HTTP`,
      );
    } else if (protocol !== undefined && (PROTOCOLS as readonly string[]).includes(protocol)) {
      known = protocol as Protocol;
    } else if (protocol !== undefined) {
      problems.add(at(p, "protocol"), `must be one of ${PROTOCOLS.join(", ")}, got ${JSON.stringify(protocol)}`);
    }
    if (protocol !== undefined) json.protocol = protocol;

    const common = { ...HEALTH_CHECK_DEFAULTS };
    for (const key of Object.keys(HEALTH_CHECK_DEFAULTS) as (keyof HealthCheckTiming)[]) {
      const raw = get(hc, key);
      if (raw === undefined) continue;
      const min = key === "intervalSeconds" || key === "timeoutSeconds" ? 1 : 0;
      const v = checkNumber(raw, at(p, key), problems, { integer: true, min });
      if (v !== undefined) common[key] = v;
    }
    if (common.timeoutSeconds >= common.intervalSeconds && !problems.has(at(p, "timeoutSeconds"))) {
      problems.add(at(p, "timeoutSeconds"), `must be less than intervalSeconds (${common.intervalSeconds}), got ${common.timeoutSeconds}`);
    }
    Object.assign(json, common);

    let portIndex = 0;
    if (known !== undefined && known !== "COMMAND") portIndex = resolvePort(hc, p, ports, problems, json);
    let command = "";
    if (known === "COMMAND") {
      const cmd = readObject(hc, "command", p, problems);
      const value = cmd ? readString(cmd, "value", at(p, "command"), problems) : undefined;
      if (cmd === undefined && !has(hc, "command"))
        problems.add(at(p, "command"), 'is required for a COMMAND health check: {"value": "<shell command>"}');
      else if (cmd && (value === undefined || value.trim() === "")) {
        if (!problems.has(at(at(p, "command"), "value"))) problems.add(at(at(p, "command"), "value"), "is required (a shell command)");
      } else if (value !== undefined) command = value;
    }
    let path = "/";
    if (known === "HTTP" || known === "MESOS_HTTP") {
      path = readString(hc, "path", p, problems) ?? "/";
      json.path = path;
    }
    out.json.push(json);
    if (known === undefined || problems.size !== before) return;
    if (known === "COMMAND") out.checks.push({ protocol: known, command, common });
    else if (known === "HTTP" || known === "MESOS_HTTP") out.checks.push({ protocol: known, path, portIndex, common });
    else out.checks.push({ protocol: known, portIndex, common });
  });
  return out;
}

function resolvePort(hc: Json, p: string, ports: PortsView, problems: Problems, json: Json): number {
  if (has(hc, "port")) {
    if (has(hc, "portIndex")) {
      problems.add(at(p, "port"), "port and portIndex are mutually exclusive");
      return 0;
    }
    const port = checkNumber(get(hc, "port"), at(p, "port"), problems, { ...PORT_RULE, min: 1 });
    if (port === undefined) return 0;
    const i = ports.indexOf(port);
    if (i === undefined) {
      problems.add(
        at(p, "port"),
        `the simulator only checks the app's own ports: no fixed port definition / port mapping uses port ${port} (use portIndex)`,
      );
      return 0;
    }
    return i;
  }
  const raw = get(hc, "portIndex");
  const portIndex = raw === undefined ? 0 : checkNumber(raw, at(p, "portIndex"), problems, { integer: true, min: 0 });
  if (portIndex === undefined) return 0;
  json.portIndex = portIndex;
  if (portIndex >= ports.count) {
    problems.add(
      at(p, "portIndex"),
      ports.count === 0
        ? "the app has no ports to check (portDefinitions / portMappings is empty)"
        : `must index an existing port: 0..${ports.count - 1}, got ${portIndex}`,
    );
  }
  return portIndex;
}
