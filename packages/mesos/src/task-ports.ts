/**
 * A task's ports, merged from three sources as dcos-net does (spec dcos-net.md §2.1; NET
 * `dcos_net_mesos_listener.erl` `handle_task_ports`):
 *
 * 1. port mappings → `{protocol, port: container_port, hostPort: host_port}`: DOCKER
 *    `container.docker.port_mappings`; MESOS `container.network_infos[].port_mappings`, or those
 *    of the task's latest status' `container_status.network_infos` when the container has none;
 * 2. legacy task labels `VIP_PORT<n>` (key case-insensitive) = `tcp://<vip>` / `udp://<vip>` →
 *    the n-th (0-based) port of the task's `ports` resource, as a host port;
 * 3. `discovery.ports.ports[]`: name (default `"default"`), protocol tcp|udp, labels whose key
 *    starts with `VIP` or `vip`; label `network-scope=host` → the number is a host port,
 *    `container` or absent → a container port; number 0 is dropped.
 *
 * (1) is merged into (2), the result into (3): two ports match when they have the same protocol
 * and the same container port or the same host port; the earlier source's fields win, VIP labels
 * are united. tcp and udp never merge (DCOS_OSS-4395). For a host-networked task every port is a
 * host port: `port` becomes the host port, and ports then equal are merged.
 *
 * A VIP label that is dropped here (a legacy label with a bad key, scheme or index; a discovery
 * port whose protocol or number is unusable) is also reported in `vipProblems`, naming the label,
 * so the VIP's consumer (l4lb) reports it like a label that does not parse.
 */
import { isObj, labelsOf, obj, objects, portNumber, str, type Label, type Obj } from "./json";

/** A VIP label as found, e.g. `{key: "VIP_0", value: "/minitwit:80"}`; legacy `VIP_PORT<n>` values without their `tcp://`/`udp://`. */
export interface VipLabel {
  key: string;
  value: string;
}

/** A VIP label dropped while reading the task's ports (its value as written, scheme included). */
export interface VipLabelProblem {
  key: string;
  value: string;
  reason: string;
}

export interface TaskPort {
  protocol: "tcp" | "udp";
  /** Container port; for host-networked tasks the host port. */
  port: number;
  /** Present when the port is mapped to, or is, a host port. */
  hostPort?: number;
  /** Discovery port name (`"default"` when the discovery port has none); absent for ports only known from mappings/labels. */
  name?: string;
  vips: VipLabel[];
}

export interface PortSources {
  task: Obj;
  /** The status the task's IPs were read from (its network_infos' port mappings are the MESOS fallback). */
  networkStatus: Obj | undefined;
  runtime: "MESOS" | "DOCKER";
  /** The task's own labels (for legacy `VIP_PORT<n>`). */
  legacyLabels: Label[];
  /** Task IPs are `[agentIp]` or none: host ports fold into `port`. */
  hostNetworked: boolean;
}

interface Draft {
  protocol: "tcp" | "udp";
  port?: number;
  hostPort?: number;
  name?: string;
  vips: VipLabel[];
}

function protocolOf(v: unknown, where: string, problems: string[], dflt?: "tcp"): "tcp" | "udp" | undefined {
  if ((v === undefined || v === null) && dflt) return dflt;
  const p = typeof v === "string" ? v.toLowerCase() : undefined;
  if (p === "tcp" || p === "udp") return p;
  problems.push(`${where}: protocol ${JSON.stringify(v) ?? "undefined"} is not tcp or udp; port dropped`);
  return undefined;
}

function portMappings(s: PortSources, problems: string[]): Draft[] {
  const container = obj(s.task["container"]);
  let mappings: Obj[];
  let where: string;
  if (s.runtime === "DOCKER") {
    mappings = objects(obj(container?.["docker"])?.["port_mappings"]);
    where = "container.docker.port_mappings";
  } else {
    const own = container?.["network_infos"];
    const infos = Array.isArray(own) ? own : obj(s.networkStatus?.["container_status"])?.["network_infos"];
    mappings = objects(infos).flatMap((ni) => objects(ni["port_mappings"]));
    where = Array.isArray(own) ? "container.network_infos[].port_mappings" : "status network_infos[].port_mappings";
  }
  const out: Draft[] = [];
  for (const m of mappings) {
    const port = portNumber(m["container_port"]);
    const hostPort = portNumber(m["host_port"]);
    if (port === undefined || hostPort === undefined) {
      problems.push(`${where}: ${JSON.stringify(m)} has no valid container_port/host_port; skipped`);
      continue;
    }
    // Mesos defaults a port mapping's protocol to tcp.
    const protocol = protocolOf(m["protocol"], where, problems, "tcp");
    if (protocol) out.push({ protocol, port, hostPort, vips: [] });
  }
  return out;
}

/** The task's `ports` resource, expanded: v1 `[{name: "ports", type: RANGES|SCALAR}]` or v0 `{ports: "[a-b, c-d]"}`. */
export function resourcePorts(resources: unknown): number[] {
  const out: number[] = [];
  const range = (lo: unknown, hi: unknown): void => {
    const a = portNumber(lo);
    const b = portNumber(hi);
    if (a !== undefined && b !== undefined) for (let p = a; p <= b; p++) out.push(p);
  };
  if (Array.isArray(resources)) {
    for (const r of objects(resources)) {
      if (r["name"] !== "ports") continue;
      if (r["type"] === "RANGES") for (const x of objects(obj(r["ranges"])?.["range"])) range(x["begin"], x["end"]);
      else if (r["type"] === "SCALAR") range(obj(r["scalar"])?.["value"], obj(r["scalar"])?.["value"]);
    }
  } else if (isObj(resources) && typeof resources["ports"] === "string") {
    const inner = /\[([^\]]*)\]/.exec(resources["ports"])?.[1] ?? "";
    for (const item of inner.split(",")) {
      const m = /^\s*(\d+)\s*-\s*(\d+)\s*$/.exec(item);
      if (m) range(Number(m[1]), Number(m[2]));
    }
  }
  return out;
}

function legacyVipPorts(s: PortSources, problems: string[], vipProblems: VipLabelProblem[]): Draft[] {
  const legacy = s.legacyLabels.filter((l) => l.key.toLowerCase().startsWith("vip_port"));
  if (legacy.length === 0) return [];
  const ports = resourcePorts(s.task["resources"]);
  const out: Draft[] = [];
  const drop = (l: Label, why: string): void => {
    const reason = `${l.key} value ${JSON.stringify(l.value)} ${why}`;
    problems.push(`label ${reason}; ignored`);
    vipProblems.push({ key: l.key, value: l.value, reason });
  };
  for (const l of legacy) {
    const index = l.key.slice("vip_port".length);
    // The scheme is case-insensitive (`TCP://` is tcp), as dcos-net's string:lowercase of it.
    const scheme = /^(tcp|udp):\/\//i.exec(l.value);
    if (!/^\d+$/.test(index)) {
      drop(l, `is on key ${JSON.stringify(l.key)}: expected VIP_PORT<n> with n the port's index (0, 1, …)`);
      continue;
    }
    if (!scheme) {
      drop(l, "has no tcp:// or udp:// scheme (expected VIP_PORT<n> = tcp://<vip> or udp://<vip>)");
      continue;
    }
    const hostPort = ports[Number(index)];
    if (hostPort === undefined) {
      drop(l, `names port index ${Number(index)}, but the task has ${ports.length} port(s) in its resources`);
      continue;
    }
    const protocol = scheme[1]!.toLowerCase() as "tcp" | "udp";
    out.push({ protocol, hostPort, vips: [{ key: l.key, value: l.value.slice(scheme[0].length) }] });
  }
  return out;
}

function discoveryPorts(s: PortSources, problems: string[], vipProblems: VipLabelProblem[]): Draft[] {
  const out: Draft[] = [];
  objects(obj(obj(s.task["discovery"])?.["ports"])?.["ports"]).forEach((p, i) => {
    const where = `discovery.ports.ports[${i}]`;
    const labels = labelsOf(p["labels"]);
    const vips = labels.filter((l) => l.key.startsWith("VIP") || l.key.startsWith("vip"));
    /** The port is dropped: so are its VIP labels, each reported. */
    const dropVips = (why: string): void => {
      for (const l of vips)
        vipProblems.push({ key: l.key, value: l.value, reason: `${l.key} value ${JSON.stringify(l.value)} is on ${where}, ${why}` });
    };
    const number = portNumber(p["number"]);
    if (number === undefined) {
      problems.push(`${where}: number ${JSON.stringify(p["number"]) ?? "undefined"} is not a port; dropped`);
      dropVips(`whose number ${JSON.stringify(p["number"]) ?? "undefined"} is not a port`);
      return;
    }
    const protocol = protocolOf(p["protocol"], where, problems);
    if (!protocol) {
      dropVips(`whose protocol ${JSON.stringify(p["protocol"]) ?? "undefined"} is not tcp or udp`);
      return;
    }
    if (number === 0) {
      dropVips("whose number is 0");
      return;
    }
    const scopes = labels.filter((l) => l.key === "network-scope").map((l) => l.value);
    let hostScope = false;
    if (scopes.length === 1 && scopes[0] === "host") hostScope = true;
    else if (scopes.length > 1 || (scopes.length === 1 && scopes[0] !== "container"))
      problems.push(`${where}: network-scope ${JSON.stringify(scopes)} is not host or container; read as container`);
    const name = str(p["name"]) || "default";
    out.push(hostScope ? { protocol, hostPort: number, name, vips } : { protocol, port: number, name, vips });
  });
  return out;
}

function unite(a: VipLabel[], b: VipLabel[]): VipLabel[] {
  const out = [...a];
  for (const v of b) if (!out.some((x) => x.key === v.key && x.value === v.value)) out.push(v);
  return out;
}

/** `winner`'s defined fields over `other`'s, VIPs united. */
function merge(winner: Draft, other: Draft): Draft {
  const d: Draft = { ...other, vips: unite(other.vips, winner.vips) };
  if (winner.port !== undefined) d.port = winner.port;
  if (winner.hostPort !== undefined) d.hostPort = winner.hostPort;
  if (winner.name !== undefined) d.name = winner.name;
  return d;
}

const matches = (a: Draft, b: Draft): boolean =>
  a.protocol === b.protocol && ((a.port !== undefined && a.port === b.port) || (a.hostPort !== undefined && a.hostPort === b.hostPort));

/** Each of `earlier` merged into the first match in `later` (its fields winning), or added. */
function mergeInto(later: Draft[], earlier: Draft[]): Draft[] {
  const acc = [...later];
  for (const a of earlier) {
    const i = acc.findIndex((b) => matches(a, b));
    if (i < 0) acc.push(a);
    else acc[i] = merge(a, acc[i]!);
  }
  return acc;
}

/** Host networking: the host port is the port; ports that become equal merge (the first one's fields win). */
function foldHostPorts(drafts: Draft[]): Draft[] {
  const acc: Draft[] = [];
  for (const d of drafts) {
    const port = d.hostPort ?? d.port!;
    const folded: Draft = { ...d, port, hostPort: port };
    const i = acc.findIndex((b) => b.protocol === folded.protocol && b.port === port);
    if (i < 0) acc.push(folded);
    else acc[i] = merge(acc[i]!, folded);
  }
  return acc;
}

const byVip = (a: VipLabel, b: VipLabel): number =>
  a.value < b.value ? -1 : a.value > b.value ? 1 : a.key < b.key ? -1 : a.key > b.key ? 1 : 0;

/** A port only known as a host port (no mapping matched) keeps it as `port` too. */
function finish(d: Draft): TaskPort {
  return {
    protocol: d.protocol,
    port: d.port ?? d.hostPort!,
    ...(d.hostPort !== undefined ? { hostPort: d.hostPort } : {}),
    ...(d.name !== undefined ? { name: d.name } : {}),
    vips: [...d.vips].sort(byVip),
  };
}

/** The merged ports, sorted by protocol, port, host port, name (a stable order for comparisons). */
export function taskPorts(s: PortSources, problems: string[], vipProblems: VipLabelProblem[] = []): TaskPort[] {
  const merged = mergeInto(
    discoveryPorts(s, problems, vipProblems),
    mergeInto(legacyVipPorts(s, problems, vipProblems), portMappings(s, problems)),
  );
  const ports = (s.hostNetworked ? foldHostPorts(merged) : merged).map(finish);
  return ports.sort(
    (a, b) =>
      a.protocol.localeCompare(b.protocol) ||
      a.port - b.port ||
      (a.hostPort ?? -1) - (b.hostPort ?? -1) ||
      (a.name ?? "").localeCompare(b.name ?? ""),
  );
}
