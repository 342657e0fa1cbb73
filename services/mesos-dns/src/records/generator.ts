/**
 * Mesos-DNS record generation (spec §3, upstream records/generator.go @ e888ef4): the master
 * state → A / AAAA / SRV maps and the enumeration data. Order: frameworks, agents, name server,
 * leader/masters, tasks. Deliberate differences from upstream are listed in ./README.md.
 */
import * as os from "node:os";
import type { EnumFramework, EnumTask, Enumeration, MesosDnsConfig, RecordSet } from "../model";
import { RecordBuilder, type RType } from "./builder";
import { hashString } from "./hash";
import { isLoopback, parseIp, type ParsedIp } from "./ip";
import { domainFrag, labelSpec, type LabelSpec } from "./labels";
import { parsePorts, parseState, splitHostPort, taskIps, type DiscoveryPort, type MesosState, type Task } from "./state";

export interface GenerateOptions {
  /**
   * Addresses of a host name (PID hosts, framework hostnames) that is not an IP literal. Upstream
   * uses the system resolver; the caller passes a pre-resolved cache. Default: no addresses.
   * Returned strings that are not IP literals are ignored.
   */
  resolveHost?: (host: string) => readonly string[];
  /** The host's non-loopback addresses, for the name-server record with listener 0.0.0.0. Default: os.networkInterfaces(). */
  listenerIps?: () => readonly string[];
  /** The masters list of this reload (ZK-detected or static), for master/masterN. Default: `cfg.masters`. */
  masters?: readonly string[];
}

export interface GenerateResult {
  records: RecordSet;
  /** Problems met (skipped inputs, with the reason); generation itself succeeded. */
  warnings: string[];
}

/** Cap on reported warnings per generation (the rest are counted in a final line). */
export const MAX_WARNINGS = 1000;

class Warnings {
  readonly list: string[] = [];
  private dropped = 0;
  add(msg: string): void {
    if (this.list.length < MAX_WARNINGS) this.list.push(msg);
    else this.dropped++;
  }
  done(): string[] {
    if (this.dropped > 0) this.list.push(`… and ${this.dropped} more warning(s)`);
    return this.list;
  }
}

const q = (s: string): string => JSON.stringify(s);

/** Last `-`-separated field of an agent ID, lower-cased (`…-S3` → `s3`); characters outside [a-z0-9] dropped. */
export function agentIdSuffix(slaveId: string): string {
  const tail = slaveId.slice(slaveId.lastIndexOf("-") + 1).toLowerCase();
  return tail.replace(/[^a-z0-9]/g, "");
}

/** The IPs of a host: a literal IP is itself, anything else goes through `resolve`. */
function hostIps(host: string, resolve: (h: string) => readonly string[], warn: (m: string) => void): ParsedIp[] {
  const lit = parseIp(host);
  if (lit) return [lit];
  if (host === "") return [];
  let raw: readonly string[];
  try {
    raw = resolve(host);
  } catch (err) {
    warn(`resolving ${q(host)} failed: ${(err as Error).message}`);
    return [];
  }
  const seen = new Set<string>();
  const out: ParsedIp[] = [];
  for (const r of raw) {
    const ip = parseIp(r);
    if (ip && !seen.has(ip.text)) {
      seen.add(ip.text);
      out.push(ip);
    }
  }
  return out;
}

function defaultListenerIps(): string[] {
  return Object.values(os.networkInterfaces())
    .flatMap((list) => list ?? [])
    .filter((a) => !a.internal)
    .map((a) => a.address);
}

/**
 * Leader, `master.<d>.` and `master<i>.<d>.` records (§3.4). `leader` is the state's
 * `"<id>@<ip>:<port>"`; nothing is generated if it has no `@`, no port, or a host that is not an IP
 * (upstream crashes on the last). Masters entries are `ip:port`; `""` entries are skipped, entries
 * whose host is not an IP (upstream crashes) are skipped with a warning.
 */
export function masterRecords(
  b: RecordBuilder,
  domain: string,
  masters: readonly string[],
  leader: string,
  warn: (m: string) => void = () => undefined,
): void {
  const h = leader.split("@");
  if (h.length < 2) {
    warn(`leader ${q(leader)}: no '@'; no leader/master records`);
    return;
  }
  const leaderAddress = h[1]!;
  let hp: { host: string; port: string };
  try {
    hp = splitHostPort(leaderAddress);
  } catch (err) {
    warn(`leader ${q(leader)}: ${(err as Error).message}; no leader/master records`);
    return;
  }
  const ip = parseIp(hp.host);
  if (!ip) {
    warn(`leader ${q(leader)}: host is not an IP address (upstream crashes); no leader/master records`);
    return;
  }
  const all = `master.${domain}.`;
  b.addIp(`leader.${domain}.`, ip);
  b.addIp(all, ip);
  const target = `leader.${domain}.:${hp.port}`;
  b.add("SRV", `_leader._tcp.${domain}.`, target);
  b.add("SRV", `_leader._udp.${domain}.`, target);

  let addedLeader = false;
  let idx = 0;
  for (const master of masters) {
    if (master === "") continue;
    let mhost: string;
    try {
      mhost = splitHostPort(master).host;
    } catch (err) {
      warn(`masters entry ${q(master)}: ${(err as Error).message}; skipped`);
      continue;
    }
    const mip = parseIp(mhost);
    if (!mip) {
      warn(`masters entry ${q(master)}: host is not an IP address (upstream crashes); skipped`);
      continue;
    }
    const isLeader = master === leaderAddress;
    if (!isLeader && b.addIp(all, mip) !== true) continue; // duplicate master
    if (isLeader && addedLeader) continue; // duplicate leader entry
    b.addIp(`master${idx}.${domain}.`, mip);
    idx++;
    if (isLeader) addedLeader = true;
  }
  if (!addedLeader) b.addIp(`master${idx}.${domain}.`, ip);
}

/**
 * The name-server record (§3.4): `soaMname` → the listener address; for a wildcard listener
 * (`0.0.0.0`, and here also `::` and `""`) every non-loopback address of the host.
 */
export function nameServerRecords(
  b: RecordBuilder,
  soaMname: string,
  listener: string,
  listenerIps: () => readonly string[],
  warn: (m: string) => void = () => undefined,
): void {
  let ns = soaMname.trim().toLowerCase();
  if (ns === "" || ns === ".") return;
  if (!ns.endsWith(".")) ns += ".";
  if (listener === "0.0.0.0" || listener === "::" || listener === "") {
    for (const s of listenerIps()) {
      const ip = parseIp(s);
      if (ip && !isLoopback(ip)) b.addIp(ns, ip);
    }
    return;
  }
  const ip = parseIp(listener);
  if (!ip) {
    warn(`listener ${q(listener)} is not an IP address (upstream crashes); no record for ${ns}`);
    return;
  }
  if (b.addIp(ns, ip) === "invalid") warn(`SOAMname ${q(soaMname)} is not a valid name; no name-server record`);
}

/**
 * Generate the complete record set from a master state document (§3). Throws an Error (an
 * `UnusableStateError`) when the state cannot be used: not an object, no `leader`; and when the
 * configured domain is empty. Anything else odd is skipped and reported in `warnings`.
 */
export function generateRecords(state: unknown, cfg: MesosDnsConfig, opts: GenerateOptions = {}): GenerateResult {
  const domain = cfg.domain.toLowerCase().replace(/^\.+|\.+$/g, "");
  if (domain === "") throw new Error("config: domain is empty");
  const parseWarnings: string[] = [];
  const st = parseState(state, parseWarnings);
  const w = new Warnings();
  for (const m of parseWarnings) w.add(m);
  const warn = (m: string): void => w.add(m);
  const gen = new Generation(st, cfg, domain, opts.resolveHost ?? (() => []), warn);
  gen.frameworks();
  gen.agents();
  nameServerRecords(gen.b, cfg.soaMname, cfg.listener, opts.listenerIps ?? defaultListenerIps, warn);
  masterRecords(gen.b, domain, opts.masters ?? cfg.masters, st.leader, warn);
  const enumeration = gen.tasks();
  return { records: gen.b.build(enumeration), warnings: w.done() };
}

class Generation {
  readonly b = new RecordBuilder();
  private readonly spec: LabelSpec;
  /** Framework label per frameworks[] index. */
  private readonly fwLabels: string[];
  /** Agent ID → IPs (last entry wins for duplicate IDs, as upstream). */
  private readonly agentIps = new Map<string, ParsedIp[]>();
  private readonly tail: string;

  constructor(
    private readonly st: MesosState,
    private readonly cfg: MesosDnsConfig,
    private readonly domain: string,
    private readonly resolve: (h: string) => readonly string[],
    private readonly warn: (m: string) => void,
  ) {
    this.spec = labelSpec(cfg.enforceRFC952);
    this.fwLabels = st.frameworks.map((f) => domainFrag(f.name, this.spec));
    this.tail = `.${domain}.`;
  }

  /** §3.2: `F.<d>.` → scheduler IPs, `_framework._tcp.F.<d>.` → `F.<d>.:<port>`. */
  frameworks(): void {
    this.st.frameworks.forEach((f, i) => {
      const F = this.fwLabels[i]!;
      const what = `framework ${q(f.name)}`;
      if (F === "") {
        this.warn(`${what}: name sanitises to an empty label; no framework or task records`);
        return;
      }
      if (f.pidError !== undefined) {
        this.warn(`${what}: invalid pid (${f.pidError}) (upstream fails the reload); no framework records`);
        return;
      }
      const [host, port] = f.pid ? [f.pid.host, f.pid.port] : [f.hostname, ""];
      const ips = hostIps(host, this.resolve, (m) => this.warn(`${what}: ${m}`));
      if (ips.length === 0) {
        if (host !== "") this.warn(`${what}: host ${q(host)} has no address; no framework records`);
        return;
      }
      const name = `${F}${this.tail}`;
      for (const ip of ips) this.b.addIp(name, ip);
      if (port !== "") this.b.add("SRV", `_framework._tcp.${name}`, `${name}:${port}`);
    });
  }

  /** §3.3: `slave.<d>.` → agent IPs, `_slave._tcp.<d>.` → `slave.<d>.:<port>`; remembers agent IPs. */
  agents(): void {
    const slave = `slave${this.tail}`;
    for (const a of this.st.slaves) {
      const what = `agent ${q(a.id)}`;
      if (!a.pid) {
        this.warn(
          `${what}: ${a.pidError !== undefined ? `invalid pid (${a.pidError}) (upstream fails the reload)` : "no pid"}; no agent IPs`,
        );
        this.agentIps.set(a.id, []);
        continue;
      }
      const ips = hostIps(a.pid.host, this.resolve, (m) => this.warn(`${what}: ${m}`));
      if (ips.length === 0) {
        this.warn(`${what}: host ${q(a.pid.host)} has no address (upstream fails the reload); no agent IPs`);
      }
      for (const ip of ips) {
        this.b.addIp(slave, ip);
        this.b.add("SRV", `_slave._tcp${this.tail}`, `${slave}:${a.pid.port}`);
      }
      this.agentIps.set(a.id, ips);
    }
  }

  /** §3.5 / §3.6: task records and the enumeration data. */
  tasks(): Enumeration {
    const frameworks: EnumFramework[] = [];
    this.st.frameworks.forEach((f, i) => {
      const enumFw: EnumFramework = { name: f.name, tasks: [] };
      frameworks.push(enumFw);
      const F = this.fwLabels[i]!;
      for (const task of f.tasks) {
        if (task.state !== "TASK_RUNNING") continue;
        const agentIps = this.agentIps.get(task.slaveId);
        if (agentIps === undefined) continue;
        const enumTask: EnumTask = { name: task.name, id: task.id, records: [] };
        enumFw.tasks.push(enumTask);
        if (F !== "") this.task(task, F, agentIps, enumTask);
      }
    });
    return { frameworks };
  }

  private task(task: Task, F: string, aip: ParsedIp[], enumTask: EnumTask): void {
    const what = `task ${q(task.id)}`;
    const ctx: TaskCtx = {
      F,
      H: hashString(task.id),
      S: agentIdSuffix(task.slaveId),
      tip: taskIps(
        task,
        this.cfg.ipSources,
        aip.map((ip) => ip.text),
      ),
      aip,
      ports: parsePorts(task.ports, (m) => this.warn(`${what}: ${m}`)),
      discoveryPorts: [],
      hasDiscovery: task.discovery !== undefined && task.discovery.name !== "",
      enumTask,
      invalid: [],
    };
    if (ctx.hasDiscovery) {
      for (const p of task.discovery!.ports) {
        if (p.number === undefined) continue; // reported by parseState
        if (p.number < 0 || p.number > 65535) {
          this.warn(`${what}: discovery port ${p.number} is outside 0-65535; skipped`);
          continue;
        }
        ctx.discoveryPorts.push(p);
      }
      const raw = task.discovery!.name;
      this.block(ctx, raw); // LEGACY (issue #400): the unsanitised discovery name
      if (ctx.invalid.length > 0) {
        this.warn(`${what}: legacy discovery name ${q(raw)} makes ${ctx.invalid.length} invalid DNS name(s) (empty label); skipped`);
        ctx.invalid = [];
      }
      this.block(ctx, this.spec(raw), raw);
    } else {
      this.block(ctx, this.spec(task.name), task.name);
    }
    if (ctx.invalid.length > 0) this.warn(`${what}: ${ctx.invalid.length} invalid DNS name(s) skipped, e.g. ${q(ctx.invalid[0]!)}`);
  }

  /** One pass of the task block with task label `N` (§3.5 steps 1–4). `source` is set for a sanitised N. */
  private block(ctx: TaskCtx, N: string, source?: string): void {
    const F = ctx.F;
    const tail = this.tail;
    const what = `task ${q(ctx.enumTask.id)}`;
    const C = `${N}-${ctx.H}-${ctx.S}`;
    if (C.split(".").some((l) => l.length > 63)) {
      this.warn(`${what}: label ${q(C)} is longer than 63 octets and cannot be queried (kept, as upstream)`);
    }
    const put = (rtype: RType, name: string, value: string): void => {
      const r = this.b.add(rtype, name, value);
      if (r === true) ctx.enumTask.records.push({ name, host: value, rtype });
      else if (r === "invalid") ctx.invalid.push(name);
    };
    const putIp = (name: string, ip: ParsedIp): void => put(ip.family === 4 ? "A" : "AAAA", name, ip.text);
    const hasN = N !== "";
    if (!hasN) this.warn(`${what}: name ${q(source ?? "")} sanitises to an empty label; only canonical names generated`);

    // 1. task IPs
    const canonical = `${C}.${F}${tail}`;
    const plain = `${N}.${F}${tail}`;
    for (const ip of ctx.tip) {
      if (hasN) putIp(plain, ip);
      putIp(canonical, ip);
    }
    // 2. agent IPs
    const canonicalSlave = `${C}.${F}.slave${tail}`;
    const plainSlave = `${N}.${F}.slave${tail}`;
    for (const ip of ctx.aip) {
      if (hasN) putIp(plainSlave, ip);
      putIp(canonicalSlave, ip);
    }
    if (!hasN) return;
    // 3. resource ports → C.F.slave
    if (ctx.ports.length > 0) {
      const names = [`_${N}._tcp.${F}.slave${tail}`, `_${N}._udp.${F}.slave${tail}`];
      if (!ctx.hasDiscovery) names.push(`_${N}._tcp.${F}${tail}`, `_${N}._udp.${F}${tail}`);
      for (const p of ctx.ports) {
        const target = `${canonicalSlave}:${p}`;
        for (const name of names) put("SRV", name, target);
      }
    }
    // 4. discovery ports → C.F
    for (const dp of ctx.discoveryPorts) {
      const target = `${canonical}:${dp.number}`;
      const proto = this.spec(dp.protocol);
      const protos = proto !== "" ? [proto] : ["tcp", "udp"];
      const portName = this.spec(dp.name);
      for (const pr of protos) put("SRV", `_${N}._${pr}.${F}${tail}`, target);
      if (portName !== "") for (const pr of protos) put("SRV", `_${portName}._${N}._${pr}.${F}${tail}`, target);
    }
  }
}

interface TaskCtx {
  F: string;
  H: string;
  S: string;
  tip: ParsedIp[];
  aip: ParsedIp[];
  ports: number[];
  discoveryPorts: DiscoveryPort[];
  hasDiscovery: boolean;
  enumTask: EnumTask;
  invalid: string[];
}
