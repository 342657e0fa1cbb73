/**
 * Polls the local Mesos agent for its tasks (spec dcos-net.md §2.2, `dcos_l4lb_mesos_poller`), for
 * l4lb on agents: every `intervalMs` `POST http://<agent>/api/v1` `GET_STATE` and `GET_AGENT`,
 * normalises `get_state.get_tasks.launched_tasks` (framework names from `get_frameworks`, the agent
 * IP from `GET_AGENT`) and reports the list when it changed. Failures back off (doubling, jittered,
 * up to 60 s); nothing is reported on failure, so consumers keep what they have.
 */
import type { Logger } from "@dcnet/core";
import { Backoff, sleep } from "./backoff";
import { parseAgent, parseFramework } from "./entities";
import { hostOf, idOf, isObj, obj, objects } from "./json";
import { normaliseTask, type NormalTask } from "./task";

export interface AgentPollerOptions {
  /** `ip:port` of the agent (its IP is the fallback agent IP when the agent's hostname is not an IP). */
  agent: string;
  /** Poll period (default 2000 ms). */
  intervalMs?: number;
  logger: Logger;
  headers?: Record<string, string>;
  /** Longest wait after repeated failures (default 60000 ms). */
  maxBackoffMs?: number;
  /** Per-call timeout (default 10000 ms). */
  timeoutMs?: number;
}

export interface AgentPoller {
  start(): void;
  stop(): Promise<void>;
  /** The agent's non-terminal tasks (sorted by id), on the first successful poll and whenever they change. */
  onChange(cb: (tasks: NormalTask[], agentIp: string) => void): void;
}

/** One agent's tasks from its GET_STATE and GET_AGENT answers; terminal tasks and tasks of unknown frameworks are left out. */
export function agentTasks(getState: unknown, getAgent: unknown, fallbackIp: string): { tasks: NormalTask[]; agentIp: string } {
  const agentRef = parseAgent(obj(obj(getAgent)?.["get_agent"])?.["agent_info"]);
  const agentIp = agentRef?.ip || fallbackIp;
  const state = obj(obj(getState)?.["get_state"]) ?? {};
  const frameworks = new Map<string, string>();
  for (const f of objects(obj(state["get_frameworks"])?.["frameworks"])) {
    const ref = parseFramework(f);
    if (ref) frameworks.set(ref.id, ref.name);
  }
  const taskList = obj(state["get_tasks"]) ?? {};
  const raw = objects(taskList["launched_tasks"] ?? taskList["tasks"]);
  // Every task here runs on this agent, whatever id it names.
  const agents = new Map<string, string>();
  for (const t of raw) agents.set(idOf(t["agent_id"]) ?? idOf(t["slave_id"]) ?? "", agentIp);
  const tasks: NormalTask[] = [];
  for (const t of raw) {
    const n = normaliseTask(t, { frameworks, agents });
    if (n && n.state !== "terminal" && frameworks.has(n.frameworkId)) tasks.push(n);
  }
  tasks.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { tasks, agentIp };
}

export function createAgentPoller(opts: AgentPollerOptions): AgentPoller {
  const intervalMs = opts.intervalMs ?? 2000;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const log = opts.logger.child({ component: "mesos-agent-poller", agent: opts.agent });
  const url = /^https?:\/\//.test(opts.agent) ? `${opts.agent.replace(/\/+$/, "")}/api/v1` : `http://${opts.agent}/api/v1`;
  const fallbackIp = hostOf(new URL(url).host);
  const cbs: ((tasks: NormalTask[], agentIp: string) => void)[] = [];
  let stopper: AbortController | undefined;
  let loop: Promise<void> | undefined;
  let last: string | undefined;

  async function call(type: string, stop: AbortSignal): Promise<unknown> {
    const abort = new AbortController();
    const onStop = (): void => abort.abort();
    stop.addEventListener("abort", onStop, { once: true });
    const timer = setTimeout(() => abort.abort(new Error(`${type}: no answer within ${timeoutMs} ms`)), timeoutMs);
    try {
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json", ...opts.headers },
        body: JSON.stringify({ type }),
        signal: abort.signal,
      });
      const text = await res.text();
      if (res.status !== 200) throw new Error(`${type}: HTTP ${res.status} ${text.slice(0, 200)}`);
      const body: unknown = JSON.parse(text);
      if (!isObj(body)) throw new Error(`${type}: answer is not a JSON object`);
      return body;
    } catch (err) {
      throw abort.signal.aborted && abort.signal.reason instanceof Error ? abort.signal.reason : err;
    } finally {
      clearTimeout(timer);
      stop.removeEventListener("abort", onStop);
    }
  }

  async function run(stop: AbortSignal): Promise<void> {
    const backoff = new Backoff(intervalMs, opts.maxBackoffMs ?? 60_000);
    let failing = false;
    while (!stop.aborted) {
      let wait = intervalMs;
      try {
        const [state, agent] = await Promise.all([call("GET_STATE", stop), call("GET_AGENT", stop)]);
        const { tasks, agentIp } = agentTasks(state, agent, fallbackIp);
        if (failing) log.info("mesos: agent answers again");
        failing = false;
        backoff.reset();
        const key = JSON.stringify([agentIp, tasks]);
        if (key !== last) {
          last = key;
          for (const cb of cbs) {
            try {
              cb(tasks, agentIp);
            } catch (err) {
              log.error({ err }, "mesos: onChange callback failed");
            }
          }
        }
      } catch (err) {
        if (stop.aborted) return;
        wait = backoff.delay();
        if (!failing) log.warn({ err: (err as Error).message, retryMs: wait }, "mesos: agent poll failed");
        else log.debug({ err: (err as Error).message, retryMs: wait }, "mesos: agent poll failed");
        failing = true;
      }
      await sleep(wait, stop);
    }
  }

  return {
    start() {
      if (loop) return;
      stopper = new AbortController();
      last = undefined;
      loop = run(stopper.signal).catch((err: unknown) => log.error({ err }, "mesos: agent poller failed"));
    },
    async stop() {
      stopper?.abort();
      await loop;
      loop = undefined;
    },
    onChange(cb) {
      cbs.push(cb);
    },
  };
}
