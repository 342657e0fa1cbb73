import { coalesce, type KvStore, type Logger } from "@dcnet/core";
import type { AgentView, ClusterState, TaskView } from "../master/cluster-state";
import type { AgentRecord } from "../model/launch";
import type { NormalizedApp } from "../model/app";
import { keys } from "../model/kv-layout";
import { TERMINAL_STATES, type TaskStatus } from "../model/mesos";
import { constraintsAllow } from "./app-constraints";
import { chooseAgent } from "./placement";
import { hostPortsNeeded, taskIdFor, toTaskLaunch } from "./to-launch";

export interface SchedulerOptions {
  frameworkId: () => string;
  log: Logger;
  /** First relaunch delay after a failure; doubles per consecutive failure up to maxBackoffMs. */
  backoffMs?: number;
  maxBackoffMs?: number;
  now?: () => number;
  /** After each pass over an app: whether it has converged (removed apps: no live task left). */
  onAppState?: (appId: string, converged: boolean) => void;
}

/**
 * Marathon's scheduling loop, run by the leading master only: keeps each app
 * at `instances` live tasks of its current version (launching on the least
 * loaded agent that fits, killing extras), replaces tasks of older versions
 * once enough new ones run, relaunches failed and lost tasks with a backoff,
 * marks the tasks of agents that stopped heartbeating TASK_LOST, and clears
 * terminal tasks from the bus.
 */
export class MarathonScheduler {
  private readonly failures = new Map<string, { count: number; until: number }>();
  private cursor = 0;

  constructor(
    private readonly kv: KvStore,
    private readonly state: ClusterState,
    private readonly apps: () => Map<string, NormalizedApp>,
    private readonly opts: SchedulerOptions,
  ) {}

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  /** Coalesces: at most one pass runs; a request during a pass causes one more. */
  readonly reconcile = coalesce(async () => {
    try {
      await this.pass();
    } catch (err) {
      this.opts.log.warn({ err }, "marathon: reconcile pass failed");
    }
  });

  /** Notes a failure for the app's backoff (called on every terminal status). */
  noteStatus(task: TaskView, status: TaskStatus): void {
    const appId = task.launch.appId;
    if (!appId) return;
    if (status.state === "TASK_RUNNING" && status.healthy !== false) this.failures.delete(appId);
    if (status.state === "TASK_FAILED" || status.state === "TASK_LOST" || status.state === "TASK_ERROR") {
      const f = this.failures.get(appId) ?? { count: 0, until: 0 };
      f.count++;
      const base = this.opts.backoffMs ?? 1000;
      f.until = this.now() + Math.min(base * 2 ** (f.count - 1), this.opts.maxBackoffMs ?? 60_000);
      this.failures.set(appId, f);
    }
  }

  private async pass(): Promise<void> {
    // A new leader re-registers the framework first: until then it cannot tell
    // Marathon's tasks from others and would launch every instance again.
    if (!this.opts.frameworkId()) return;
    await this.markLostTasks();
    const apps = this.apps();
    const byApp = new Map<string, TaskView[]>();
    for (const t of this.state.tasks.values()) {
      if (t.launch.frameworkId !== this.opts.frameworkId() || !t.launch.appId) continue;
      const list = byApp.get(t.launch.appId) ?? [];
      list.push(t);
      byApp.set(t.launch.appId, list);
    }
    for (const [appId, tasks] of byApp) {
      const app = apps.get(appId);
      for (const t of tasks) {
        if (TERMINAL_STATES.has(t.state)) await this.forget(t);
        else if (!app) await this.kill(t);
      }
      if (!app)
        this.opts.onAppState?.(
          appId,
          tasks.every((t) => TERMINAL_STATES.has(t.state)),
        );
    }
    for (const app of apps.values())
      await this.converge(
        app,
        (byApp.get(app.id) ?? []).filter((t) => !TERMINAL_STATES.has(t.state)),
      );
  }

  private async converge(app: NormalizedApp, live: TaskView[]): Promise<void> {
    const current = live.filter((t) => t.launch.appVersion === app.version && !t.launch.kill);
    const old = live.filter((t) => t.launch.appVersion !== app.version && !t.launch.kill);
    const runningCurrent = current.filter((t) => t.state === "TASK_RUNNING").length;
    this.opts.onAppState?.(app.id, runningCurrent === app.instances && current.length === app.instances && old.length === 0);
    // Replace old versions once the new ones carry the load (or when scaled to 0).
    if (runningCurrent >= app.instances) for (const t of old) await this.kill(t);
    // Extras: kill the newest first.
    const extra = current.length - app.instances;
    if (extra > 0) {
      const newest = [...current].sort((a, b) => (b.statuses[0]?.timestamp ?? 0) - (a.statuses[0]?.timestamp ?? 0));
      for (const t of newest.slice(0, extra)) await this.kill(t);
      return;
    }
    const missing = app.instances - current.length;
    if (missing <= 0) return;
    const backoff = this.failures.get(app.id);
    if (backoff && backoff.until > this.now()) return;
    for (let i = 0; i < missing; i++) if (!(await this.launch(app))) break;
  }

  private async launch(app: NormalizedApp): Promise<boolean> {
    const need = hostPortsNeeded(app);
    const constraints = app.constraints ?? [];
    let allow: ((agent: AgentView) => boolean) | undefined;
    if (constraints.length > 0) {
      // Constraints count the app's live tasks of its current version that are not being killed (app-constraints.ts).
      const placed = [...this.state.tasks.values()]
        .filter((t) => t.launch.appId === app.id && t.launch.appVersion === app.version && !t.launch.kill && !TERMINAL_STATES.has(t.state))
        .map((t) => this.state.agents.get(t.launch.agentId)?.record)
        .filter((r): r is AgentRecord => r !== undefined);
      const active = [...this.state.agents.values()].filter((a) => a.active).map((a) => a.record);
      allow = (agent) => constraintsAllow(constraints, agent.record, placed, active);
    }
    const choice = chooseAgent(this.state.agents.values(), this.state.tasks.values(), need, {
      bridge: app.network.mode === "bridge",
      cursor: this.cursor++,
      ...(allow ? { allow } : {}),
    });
    if (!choice) {
      this.opts.log.debug({ app: app.id, constraints }, "marathon: no agent fits the task yet");
      return false;
    }
    const launch = {
      ...toTaskLaunch(app, {
        taskId: taskIdFor(app),
        agentId: choice.agent.record.id,
        agentIp: choice.agent.record.ip,
        frameworkId: this.opts.frameworkId(),
        hostPorts: choice.ports,
      }),
      appId: app.id,
      appVersion: app.version,
    };
    await this.kv.create(keys.launch(launch.agentId, launch.taskId), Buffer.from(JSON.stringify(launch)));
    this.opts.log.info({ app: app.id, task: launch.taskId, agent: launch.agentId, ports: launch.hostPorts }, "marathon: launching task");
    this.state.launching(launch);
    return true;
  }

  /** Asks the task's agent to kill it (kill flag on its launch); idempotent. */
  async kill(t: TaskView): Promise<void> {
    if (t.launch.kill) return;
    const killed = { ...t.launch, kill: true };
    t.launch = killed;
    await this.kv.put(keys.launch(killed.agentId, killed.taskId), Buffer.from(JSON.stringify(killed)));
  }

  /** A terminal task leaves the bus: its launch (the agent then drops its status), and the status if its agent is gone. */
  private async forget(t: TaskView): Promise<void> {
    await this.kv.delete(keys.launch(t.launch.agentId, t.launch.taskId));
    const agent = this.state.agents.get(t.launch.agentId);
    if (!agent || !agent.active) await this.kv.delete(keys.status(t.launch.agentId, t.launch.taskId));
  }

  /** Tasks on agents that stopped heartbeating are TASK_LOST (written by the master, as Mesos does). */
  private async markLostTasks(): Promise<void> {
    for (const t of this.state.tasks.values()) {
      if (TERMINAL_STATES.has(t.state)) continue;
      const agent = this.state.agents.get(t.launch.agentId);
      if (agent?.active) continue;
      const status: TaskStatus = {
        task_id: { value: t.launch.taskId },
        agent_id: { value: t.launch.agentId },
        slave_id: { value: t.launch.agentId },
        state: "TASK_LOST",
        timestamp: this.now() / 1000,
        source: "SOURCE_MASTER",
        reason: agent ? "REASON_AGENT_REMOVED" : "REASON_AGENT_UNKNOWN",
        message: agent ? "agent stopped heartbeating" : "agent is not registered",
      };
      t.state = "TASK_LOST"; // locally at once; the watch brings the same status back
      await this.kv.put(keys.status(t.launch.agentId, t.launch.taskId), Buffer.from(JSON.stringify(status)));
    }
  }
}
