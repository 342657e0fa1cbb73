/**
 * The Mesos master state as Mesos-DNS reads it (§2): only the fields the generator uses, parsed
 * tolerantly from `unknown` JSON. Upstream (Go `encoding/json`) fails the whole reload on any type
 * mismatch; here a mistyped field is treated as absent and reported as a warning. Absent and
 * `null` fields take Go's zero values (`""`, `0`, `[]`) silently.
 */
import { parseIp, type ParsedIp } from "./ip";

/** Thrown when the state document cannot be used at all (not an object, no `leader`). */
export class UnusableStateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UnusableStateError";
  }
}

/** A libprocess PID `id@host:port` (brackets of an IPv6 host removed). */
export interface Pid {
  id: string;
  host: string;
  port: string;
}

export interface MesosState {
  /** `"<id>@<ip>:<port>"` (non-empty). */
  leader: string;
  frameworks: Framework[];
  slaves: Agent[];
}

export interface Agent {
  id: string;
  /** Undefined when absent or unparsable (then `pidError` says why, if it was present). */
  pid: Pid | undefined;
  pidError: string | undefined;
}

export interface Framework {
  name: string;
  pid: Pid | undefined;
  pidError: string | undefined;
  hostname: string;
  tasks: Task[];
}

export interface Task {
  id: string;
  name: string;
  slaveId: string;
  state: string;
  statuses: Status[];
  /** `resources.ports`, e.g. `"[31000-31002, 31005-31005]"`; `""` when absent. */
  ports: string;
  /** Undefined when absent; discovery info "counts" only when `name` is non-empty. */
  discovery: Discovery | undefined;
}

export interface Status {
  state: string;
  timestamp: number;
  labels: Label[];
  networkInfos: NetworkInfo[];
}

export interface Label {
  key: string;
  value: string;
}

export interface NetworkInfo {
  /** `ip_addresses[].ip_address`, in order. */
  ipAddresses: string[];
  /** Legacy (Mesos 0.25) single `ip_address`. */
  ipAddress: string;
}

export interface Discovery {
  name: string;
  ports: DiscoveryPort[];
}

export interface DiscoveryPort {
  /** Undefined when the value was not an integer (reported when parsing). Absent → 0. */
  number: number | undefined;
  protocol: string;
  name: string;
}

// ---------------------------------------------------------------------------------------------
// Tolerant reading

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

const typeName = (v: unknown): string => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v);

class Reader {
  constructor(readonly warnings: string[]) {}

  private mistyped(path: string, want: string, v: unknown): void {
    this.warnings.push(`state: ${path}: expected ${want}, got ${typeName(v)}; ignored`);
  }

  str(o: Obj, key: string, path: () => string): string {
    const v = o[key];
    if (v === undefined || v === null) return "";
    if (typeof v === "string") return v;
    this.mistyped(`${path()}.${key}`, "string", v);
    return "";
  }

  num(o: Obj, key: string, path: () => string): number {
    const v = o[key];
    if (v === undefined || v === null) return 0;
    if (typeof v === "number" && Number.isFinite(v)) return v;
    this.mistyped(`${path()}.${key}`, "number", v);
    return 0;
  }

  arr(o: Obj, key: string, path: () => string): unknown[] {
    const v = o[key];
    if (v === undefined || v === null) return [];
    if (Array.isArray(v)) return v;
    this.mistyped(`${path()}.${key}`, "array", v);
    return [];
  }

  obj(o: Obj, key: string, path: () => string): Obj | undefined {
    const v = o[key];
    if (v === undefined || v === null) return undefined;
    if (isObj(v)) return v;
    this.mistyped(`${path()}.${key}`, "object", v);
    return undefined;
  }

  /** Elements of an array that are objects; others reported and skipped. */
  objects(items: unknown[], path: (i: number) => string): { o: Obj; i: number }[] {
    const out: { o: Obj; i: number }[] = [];
    items.forEach((v, i) => {
      if (isObj(v)) out.push({ o: v, i });
      else if (v !== null) this.warnings.push(`state: ${path(i)}: expected object, got ${typeName(v)}; skipped`);
    });
    return out;
  }

  pid(o: Obj, key: string, path: () => string): { pid: Pid | undefined; pidError: string | undefined } {
    const v = o[key];
    if (v === undefined || v === null) return { pid: undefined, pidError: undefined };
    if (typeof v !== "string") return { pid: undefined, pidError: `${path()}.${key}: expected string, got ${typeName(v)}` };
    try {
      return { pid: parsePid(v), pidError: undefined };
    } catch (err) {
      return { pid: undefined, pidError: `${path()}.${key}: ${(err as Error).message}` };
    }
  }
}

/**
 * Parse the master state document. Throws {@link UnusableStateError} when it is not an object or
 * has no non-empty string `leader` (upstream: "empty master"); everything else is tolerated, with
 * the problems appended to `warnings`.
 */
export function parseState(raw: unknown, warnings: string[] = []): MesosState {
  if (!isObj(raw)) throw new UnusableStateError(`master state: expected a JSON object, got ${typeName(raw)}`);
  const leader = raw["leader"];
  if (leader === undefined || leader === null || leader === "") throw new UnusableStateError("master state: no leader");
  if (typeof leader !== "string") throw new UnusableStateError(`master state: leader: expected string, got ${typeName(leader)}`);
  const r = new Reader(warnings);
  const root = (): string => "";

  const slaves: Agent[] = r
    .objects(r.arr(raw, "slaves", root), (i) => `slaves[${i}]`)
    .map(({ o, i }) => {
      const path = (): string => `slaves[${i}]`;
      return { id: r.str(o, "id", path), ...r.pid(o, "pid", path) };
    });

  const frameworks: Framework[] = r
    .objects(r.arr(raw, "frameworks", root), (i) => `frameworks[${i}]`)
    .map(({ o, i }) => {
      const fpath = (): string => `frameworks[${i}]`;
      const tasks = r
        .objects(r.arr(o, "tasks", fpath), (j) => `${fpath()}.tasks[${j}]`)
        .map(({ o: t, i: j }) => parseTask(r, t, () => `${fpath()}.tasks[${j}]`));
      return { name: r.str(o, "name", fpath), ...r.pid(o, "pid", fpath), hostname: r.str(o, "hostname", fpath), tasks };
    });

  return { leader, frameworks, slaves };
}

function parseTask(r: Reader, t: Obj, path: () => string): Task {
  const statuses = r
    .objects(r.arr(t, "statuses", path), (k) => `${path()}.statuses[${k}]`)
    .map(({ o: s, i: k }): Status => {
      const spath = (): string => `${path()}.statuses[${k}]`;
      const labels = r
        .objects(r.arr(s, "labels", spath), (l) => `${spath()}.labels[${l}]`)
        .map(({ o: l, i: li }) => ({
          key: r.str(l, "key", () => `${spath()}.labels[${li}]`),
          value: r.str(l, "value", () => `${spath()}.labels[${li}]`),
        }));
      const cs = r.obj(s, "container_status", spath);
      const cpath = (): string => `${spath()}.container_status`;
      const networkInfos = cs
        ? r
            .objects(r.arr(cs, "network_infos", cpath), (n) => `${cpath()}.network_infos[${n}]`)
            .map(({ o: ni, i: n }): NetworkInfo => {
              const npath = (): string => `${cpath()}.network_infos[${n}]`;
              const ipAddresses = r
                .objects(r.arr(ni, "ip_addresses", npath), (a) => `${npath()}.ip_addresses[${a}]`)
                .map(({ o: a, i: ai }) => r.str(a, "ip_address", () => `${npath()}.ip_addresses[${ai}]`));
              return { ipAddresses, ipAddress: r.str(ni, "ip_address", npath) };
            })
        : [];
      return { state: r.str(s, "state", spath), timestamp: r.num(s, "timestamp", spath), labels, networkInfos };
    });

  const resources = r.obj(t, "resources", path);
  const ports = resources ? r.str(resources, "ports", () => `${path()}.resources`) : "";

  let discovery: Discovery | undefined;
  const d = r.obj(t, "discovery", path);
  if (d) {
    const dpath = (): string => `${path()}.discovery`;
    const dports = r.obj(d, "ports", dpath);
    const ppath = (): string => `${dpath()}.ports`;
    const list = dports ? r.objects(r.arr(dports, "ports", ppath), (k) => `${ppath()}.ports[${k}]`) : [];
    discovery = {
      name: r.str(d, "name", dpath),
      ports: list.map(({ o: p, i: k }): DiscoveryPort => {
        const pp = (): string => `${ppath()}.ports[${k}]`;
        const n = p["number"];
        let number: number | undefined = 0;
        if (n !== undefined && n !== null) {
          number = typeof n === "number" && Number.isInteger(n) ? n : undefined;
          if (number === undefined)
            r.warnings.push(`state: ${pp()}.number: expected integer, got ${JSON.stringify(n) ?? typeName(n)}; port skipped`);
        }
        return { number, protocol: r.str(p, "protocol", pp), name: r.str(p, "name", pp) };
      }),
    };
  }

  return {
    id: r.str(t, "id", path),
    name: r.str(t, "name", path),
    slaveId: r.str(t, "slave_id", path),
    state: r.str(t, "state", path),
    statuses,
    ports,
    discovery,
  };
}

// ---------------------------------------------------------------------------------------------
// PIDs and host:port

/**
 * Go `net.SplitHostPort`: `host:port` or `[v6host]:port` (brackets removed). The port must be a
 * decimal number 0–65535 (upstream also resolves service names; Mesos never writes them).
 */
export function splitHostPort(hostPort: string): { host: string; port: string } {
  let host: string;
  let port: string;
  if (hostPort.startsWith("[")) {
    const end = hostPort.indexOf("]");
    if (end < 0) throw new Error(`missing ']' in address ${JSON.stringify(hostPort)}`);
    if (end + 1 === hostPort.length) throw new Error(`missing port in address ${JSON.stringify(hostPort)}`);
    if (hostPort[end + 1] !== ":") throw new Error(`unexpected text after ']' in address ${JSON.stringify(hostPort)}`);
    host = hostPort.slice(1, end);
    port = hostPort.slice(end + 2);
    if (host.includes("[")) throw new Error(`unexpected '[' in address ${JSON.stringify(hostPort)}`);
  } else {
    const colon = hostPort.lastIndexOf(":");
    if (colon < 0) throw new Error(`missing port in address ${JSON.stringify(hostPort)}`);
    host = hostPort.slice(0, colon);
    port = hostPort.slice(colon + 1);
    if (host.includes(":")) throw new Error(`too many colons in address ${JSON.stringify(hostPort)}`);
    if (host.includes("[") || host.includes("]")) throw new Error(`unexpected bracket in address ${JSON.stringify(hostPort)}`);
  }
  if (port.includes("]")) throw new Error(`unexpected ']' in address ${JSON.stringify(hostPort)}`);
  if (!/^[0-9]{1,5}$/.test(port) || Number(port) > 65535)
    throw new Error(`invalid port ${JSON.stringify(port)} in address ${JSON.stringify(hostPort)}`);
  return { host, port: String(Number(port)) };
}

/**
 * Parse a libprocess PID (`slave(1)@10.0.0.1:5051`, `scheduler(1)@[2001:db8::1]:25501`):
 * surrounding spaces and `"` are trimmed, exactly one `@` is required. Throws an Error saying why.
 * (Upstream additionally resolves the host here; the generator does that, see `resolveHost`.)
 */
export function parsePid(input: string): Pid {
  const s = input.replace(/^[" ]+|[" ]+$/g, "");
  const parts = s.split("@");
  if (parts.length !== 2) throw new Error(`invalid PID ${JSON.stringify(input)}: expected exactly one '@'`);
  const { host, port } = splitHostPort(parts[1]!);
  return { id: parts[0]!, host, port };
}

// ---------------------------------------------------------------------------------------------
// Ports

/**
 * Expand a Mesos ports resource string: `""`/`"[]"` → none; otherwise the text between the first
 * `[` and the next `[` or `]` is split on `,`, each trimmed item split on `-` into lo/hi, expanded
 * inclusively. Upstream crashes on an item with a number but no `-` (and on a missing `[`); here such
 * items, and items that are not numbers or are outside 0–65535, are skipped and reported.
 */
export function parsePorts(s: string, problem: (msg: string) => void = () => undefined): number[] {
  if (s === "" || s === "[]") return [];
  const open = s.indexOf("[");
  if (open < 0) {
    problem(`ports ${JSON.stringify(s)}: no '['; ignored`);
    return [];
  }
  const inner = s
    .slice(open + 1)
    .split("[")[0]!
    .split("]")[0]!;
  const out: number[] = [];
  for (const item of inner.split(",")) {
    const pz = item.trim().split("-");
    const lo = atoi(pz[0]!);
    if (lo === undefined) {
      problem(`ports ${JSON.stringify(s)}: item ${JSON.stringify(item.trim())} is not a range; skipped`);
      continue;
    }
    if (pz.length < 2) {
      problem(`ports ${JSON.stringify(s)}: item ${JSON.stringify(item.trim())} has no '-' (upstream crashes); skipped`);
      continue;
    }
    const hi = atoi(pz[1]!);
    if (hi === undefined) {
      problem(`ports ${JSON.stringify(s)}: item ${JSON.stringify(item.trim())} is not a range; skipped`);
      continue;
    }
    if (lo < 0 || hi > 65535) {
      problem(`ports ${JSON.stringify(s)}: item ${JSON.stringify(item.trim())} is outside 0-65535; skipped`);
      continue;
    }
    for (let p = lo; p <= hi; p++) out.push(p);
  }
  return out;
}

/** Go `strconv.Atoi` for the values that matter here (optional sign, decimal digits). */
function atoi(s: string): number | undefined {
  if (!/^[+-]?[0-9]+$/.test(s)) return undefined;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : undefined;
}

// ---------------------------------------------------------------------------------------------
// IP sources

export type IpSource = "host" | "docker" | "mesos" | "netinfo";

export const DOCKER_IP_LABEL = "Docker.NetworkSettings.IPAddress";
export const MESOS_IP_LABEL = "MesosContainerizer.NetworkSettings.IPAddress";

/**
 * The one status the `netinfo`/`docker`/`mesos` sources consult: the `TASK_RUNNING` status with
 * the greatest `timestamp`, the first one on ties (upstream starts from -1, so a status with
 * timestamp ≤ -1 is never chosen).
 */
export function latestRunningStatus(statuses: readonly Status[]): Status | undefined {
  let ts = -1;
  let best: Status | undefined;
  for (const s of statuses) {
    if (s.state === "TASK_RUNNING" && s.timestamp > ts) {
      ts = s.timestamp;
      best = s;
    }
  }
  return best;
}

/** The raw strings one source yields for a task (may include non-IPs). Unknown sources yield nothing. */
export function sourceIps(task: Task, source: string, agentIps: readonly string[], latest = latestRunningStatus(task.statuses)): string[] {
  switch (source) {
    case "host":
      return [...agentIps];
    case "netinfo": {
      if (!latest) return [];
      const out: string[] = [];
      for (const ni of latest.networkInfos) {
        if (ni.ipAddresses.length > 0) out.push(...ni.ipAddresses);
        else if (ni.ipAddress !== "") out.push(ni.ipAddress);
      }
      return out;
    }
    case "docker":
    case "mesos": {
      if (!latest) return [];
      const key = source === "docker" ? DOCKER_IP_LABEL : MESOS_IP_LABEL;
      return latest.labels.filter((l) => l.key === key).map((l) => l.value);
    }
    default:
      return [];
  }
}

/**
 * The task's IPs (§2, master e888ef4): all parsable IPs of the first source, in the configured
 * order, that yields at least one; later sources are ignored. De-duplicated, order kept.
 */
export function taskIps(task: Task, sources: readonly string[], agentIps: readonly string[]): ParsedIp[] {
  const latest = latestRunningStatus(task.statuses);
  for (const src of sources) {
    const seen = new Set<string>();
    const out: ParsedIp[] = [];
    for (const raw of sourceIps(task, src, agentIps, latest)) {
      const ip = parseIp(raw);
      if (ip && !seen.has(ip.text)) {
        seen.add(ip.text);
        out.push(ip);
      }
    }
    if (out.length > 0) return out;
  }
  return [];
}
