/**
 * One agent's backends on the bus (spec §4.2, lashup `[minuteman, vips2]` partitioned by writer).
 * Bucket `l4lb`, one key per agent, written only by that agent:
 *
 *     backends.<agent-ip token>  →  {"v":1,"agentIp":"10.0.0.5","vips":[AgentVip…],"problems":[VipProblem…],"updatedMs":…}
 *
 * The token is the agent IP with `.` → `_` and `:` → `-` (`10_0_0_5`, `fd00--5`), one key token.
 * `vips` and `problems` are exactly `agentBackends()`'s (backends.ts); `updatedMs` is when their
 * content last changed. The key is written only when the content changed (compared with what the
 * bucket holds, so a restart does not rewrite it), and **deleted when the agent has neither VIPs
 * nor problems** — readers treat a missing key as an agent without backends.
 */
import type { KvStore, Logger } from "@dcnet/core";
import type { AgentBackends, AgentVip, Backend, VipProblem } from "./backends";
import { canonicalIp } from "./ip";
import { parseVipKeyId, vipKeyId } from "./vip-key";

export const L4LB_BUCKET = "l4lb";
export const BACKENDS_PREFIX = "backends.";
/** Watch filter for every agent's document. */
export const BACKENDS_FILTER = "backends.>";

export interface BackendsDoc {
  v: 1;
  agentIp: string;
  vips: AgentVip[];
  problems: VipProblem[];
  updatedMs: number;
}

/** `10.0.0.5` → `10_0_0_5`, `fd00::5` → `fd00--5` (canonical address first). */
export function agentToken(agentIp: string): string {
  return (canonicalIp(agentIp) ?? agentIp).replace(/\./g, "_").replace(/:/g, "-");
}

export const backendsKey = (agentIp: string): string => `${BACKENDS_PREFIX}${agentToken(agentIp)}`;

const enc = new TextEncoder();
const dec = new TextDecoder();

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x);
const str = (x: unknown): x is string => typeof x === "string";
const port = (x: unknown): x is number => typeof x === "number" && Number.isInteger(x) && x >= 1 && x <= 65535;

export type ParsedDoc = { ok: true; doc: BackendsDoc } | { ok: false; reason: string };

/**
 * Reads a document as a consumer must: the key must be the document's own agent's; VIPs whose id
 * does not match their key and backends that are not addresses are dropped (counted in the
 * reason-less result), a document of another version or shape is refused. Backends always carry
 * the document's agent IP (reachability is per publishing agent).
 */
export function parseBackendsDoc(key: string, value: Uint8Array): ParsedDoc {
  let raw: unknown;
  try {
    raw = JSON.parse(dec.decode(value));
  } catch (err) {
    return { ok: false, reason: `not JSON: ${(err as Error).message}` };
  }
  if (!isObj(raw)) return { ok: false, reason: "not a JSON object" };
  if (raw["v"] !== 1) return { ok: false, reason: `version ${JSON.stringify(raw["v"])} is not 1` };
  const agentIp = str(raw["agentIp"]) ? canonicalIp(raw["agentIp"]) : undefined;
  if (agentIp === undefined) return { ok: false, reason: "agentIp is not an IP address" };
  if (backendsKey(agentIp) !== key) return { ok: false, reason: `agentIp ${agentIp} does not belong under ${key}` };
  if (!Array.isArray(raw["vips"])) return { ok: false, reason: "vips is not a list" };
  const vips: AgentVip[] = [];
  for (const v of raw["vips"] as unknown[]) {
    if (!isObj(v) || !str(v["id"]) || !Array.isArray(v["backends"])) continue;
    const k = parseVipKeyId(v["id"]);
    if (!k) continue;
    const backends: Backend[] = [];
    for (const b of v["backends"] as unknown[]) {
      if (!isObj(b) || !str(b["ip"]) || !port(b["port"])) continue;
      const ip = canonicalIp(b["ip"]);
      if (ip === undefined) continue;
      // Legacy entries (no weight): weight 1. JSON reads `1e999` as Infinity: not a weight (slots
      // could not be computed from it), so such a backend is dropped like one without a port.
      const w = b["weight"];
      if (typeof w === "number" && !Number.isFinite(w)) continue;
      const weight = typeof w === "number" && w >= 0 ? Math.floor(w) : 1;
      backends.push({ ip, port: b["port"], weight, taskId: str(b["taskId"]) ? b["taskId"] : "", agentIp });
    }
    if (backends.length > 0) vips.push({ key: k, id: vipKeyId(k), backends });
  }
  const problems: VipProblem[] = [];
  if (Array.isArray(raw["problems"])) {
    for (const p of raw["problems"] as unknown[]) {
      if (!isObj(p)) continue;
      const s = (k: string): string => (str(p[k]) ? p[k] : "");
      problems.push({
        taskId: s("taskId"),
        app: s("app"),
        framework: s("framework"),
        label: s("label"),
        value: s("value"),
        reason: s("reason"),
      });
    }
  }
  const updatedMs = typeof raw["updatedMs"] === "number" && Number.isFinite(raw["updatedMs"]) ? raw["updatedMs"] : 0;
  return { ok: true, doc: { v: 1, agentIp, vips, problems, updatedMs } };
}

/** What a document says, without its timestamp: equal content = no write. */
const contentOf = (b: { vips: readonly AgentVip[]; problems: readonly VipProblem[] }): string =>
  JSON.stringify({ vips: b.vips, problems: b.problems });

export type PublishResult = "put" | "deleted" | "unchanged";

/**
 * Writes this agent's document when its content changed. Serialised: a publish waits for the
 * previous one. `reassert()` rewrites the key if the bucket lost or altered it (every reconcile).
 */
export class BackendsPublisher {
  private last: { agentIp: string; content: string; doc: BackendsDoc | undefined } | undefined;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly kv: KvStore,
    private readonly opts: { logger: Logger; now?: () => number },
  ) {}

  publish(agentIp: string, backends: AgentBackends): Promise<PublishResult> {
    const run = this.chain.then(() => this.doPublish(agentIp, backends));
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Makes the bucket hold what was last published (after a lost write or a bus that forgot). */
  reassert(): Promise<PublishResult> {
    const run = this.chain.then(async (): Promise<PublishResult> => {
      const last = this.last;
      if (!last) return "unchanged";
      const key = backendsKey(last.agentIp);
      const have = await this.kv.get(key);
      if (!last.doc) {
        if (!have) return "unchanged";
        await this.kv.delete(key);
        return "deleted";
      }
      const parsed = have && parseBackendsDoc(key, have.value);
      if (parsed && parsed.ok && contentOf(parsed.doc) === contentOf(last.doc)) return "unchanged";
      await this.kv.put(key, enc.encode(JSON.stringify(last.doc)));
      return "put";
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async doPublish(agentIp: string, backends: AgentBackends): Promise<PublishResult> {
    const ip = canonicalIp(agentIp) ?? agentIp;
    const key = backendsKey(ip);
    const content = contentOf(backends);
    const empty = backends.vips.length === 0 && backends.problems.length === 0;
    if (this.last && this.last.agentIp !== ip) {
      // The agent's IP changed: its old key is no longer anyone's.
      await this.kv.delete(backendsKey(this.last.agentIp));
      this.last = undefined;
    }
    if (this.last && this.last.content === content) return "unchanged";
    if (!this.last) {
      // First publish since start: the bucket may already hold exactly this.
      const have = await this.kv.get(key);
      const parsed = have && parseBackendsDoc(key, have.value);
      if (empty && !have) {
        this.last = { agentIp: ip, content, doc: undefined };
        return "unchanged";
      }
      if (!empty && parsed && parsed.ok && contentOf(parsed.doc) === content) {
        this.last = { agentIp: ip, content, doc: { ...parsed.doc, vips: backends.vips, problems: backends.problems } };
        return "unchanged";
      }
    }
    if (empty) {
      await this.kv.delete(key);
      this.last = { agentIp: ip, content, doc: undefined };
      this.opts.logger.info({ key }, "no VIPs on this agent: backends key deleted");
      return "deleted";
    }
    const doc: BackendsDoc = {
      v: 1,
      agentIp: ip,
      vips: backends.vips,
      problems: backends.problems,
      updatedMs: (this.opts.now ?? Date.now)(),
    };
    await this.kv.put(key, enc.encode(JSON.stringify(doc)));
    this.last = { agentIp: ip, content, doc };
    this.opts.logger.debug({ key, vips: doc.vips.length, problems: doc.problems.length }, "backends published");
    return "put";
  }
}
