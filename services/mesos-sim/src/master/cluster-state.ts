import { EventEmitter } from "node:events";
import type { Bus, KvStore, KvWatch, Subscription } from "@dcnet/core";
import { BUCKET, decodeKeyPart, parseTaskKey } from "../model/kv-layout";
import type { AgentRecord, FrameworkRecord, TaskLaunch } from "../model/launch";
import { TERMINAL_STATES, type TaskState, type TaskStatus } from "../model/mesos";

/** One task as the master knows it: what was asked (launch) and what the agent said (statuses). */
export interface TaskView {
  launch: TaskLaunch;
  /** Statuses seen, oldest first (after a master failover: from the latest one on). */
  statuses: TaskStatus[];
  state: TaskState;
}

export interface AgentView {
  record: AgentRecord;
  /** Local receive time of the last heartbeat (ms); 0 if none. */
  lastHeartbeatMs: number;
  active: boolean;
}

export interface ClusterEvents {
  taskAdded: (task: TaskView) => void;
  taskUpdated: (task: TaskView, status: TaskStatus) => void;
  taskRemoved: (task: TaskView) => void;
  agentAdded: (agent: AgentView) => void;
  agentRemoved: (agent: AgentView) => void;
}

export const AGENT_HEARTBEAT_SUBJECT = "mesos.agent.heartbeat";

/**
 * Every master's view of the cluster, built from the `mesos` bucket (launches,
 * statuses, agents) and agent heartbeats. Leader or not, each master keeps it
 * current, so a new leader serves the same state at once.
 */
export class ClusterState extends EventEmitter {
  readonly agents = new Map<string, AgentView>();
  readonly tasks = new Map<string, TaskView>();
  /** Registered frameworks by name, so a newly elected master lists their tasks before it re-registers them. */
  readonly frameworks = new Map<string, FrameworkRecord>();
  /** Terminal tasks whose launch was removed, newest last (bounded). */
  readonly completed: TaskView[] = [];
  /** Statuses that arrived before their launch (watch order across keys is not guaranteed). */
  private readonly early = new Map<string, TaskStatus>();
  private watch: KvWatch | undefined;
  private sub: Subscription | undefined;
  private timer: NodeJS.Timeout | undefined;
  kv!: KvStore;

  constructor(
    private readonly bus: Bus,
    private readonly opts: { agentTimeoutMs: number; completedLimit?: number; now?: () => number },
  ) {
    super();
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  async start(): Promise<void> {
    this.kv = await this.bus.kv(BUCKET);
    this.sub = this.bus.subscribe(AGENT_HEARTBEAT_SUBJECT, (ev) => {
      let agentId: string;
      try {
        agentId = (JSON.parse(Buffer.from(ev.payload).toString()) as { agentId: string }).agentId;
      } catch {
        return;
      }
      const a = this.agents.get(agentId);
      if (!a || ev.sender !== a.record.id) return; // an agent speaks only for itself
      a.lastHeartbeatMs = this.now();
      if (!a.active) {
        a.active = true;
        this.emit("agentAdded", a);
      }
    });
    this.watch = this.kv.watch((c) => {
      const key = c.op === "put" ? c.entry.key : c.key;
      try {
        if (key.startsWith("agents.")) this.onAgent(decodeKeyPart(key.slice(7)), c.op === "put" ? c.entry.value : undefined);
        else if (key.startsWith("launch.")) this.onLaunch(key, c.op === "put" ? c.entry.value : undefined);
        else if (key.startsWith("status.")) this.onStatus(key, c.op === "put" ? c.entry.value : undefined);
        else if (key.startsWith("frameworks.")) this.onFramework(decodeKeyPart(key.slice(11)), c.op === "put" ? c.entry.value : undefined);
      } catch {
        /* an undecodable value is ignored */
      }
    });
    await this.watch.ready;
    this.timer = setInterval(() => this.sweep(), Math.max(100, Math.floor(this.opts.agentTimeoutMs / 4)));
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.watch?.stop();
    this.sub?.unsubscribe();
  }

  tasksOnAgent(agentId: string): TaskView[] {
    return [...this.tasks.values()].filter((t) => t.launch.agentId === agentId);
  }

  private onAgent(agentId: string, value: Uint8Array | undefined): void {
    const existing = this.agents.get(agentId);
    if (!value) {
      if (existing) {
        this.agents.delete(agentId);
        if (existing.active) this.emit("agentRemoved", { ...existing, active: false });
      }
      return;
    }
    const record = JSON.parse(Buffer.from(value).toString()) as AgentRecord;
    if (existing) {
      existing.record = record;
      return;
    }
    // A registration counts as a heartbeat: the agent just wrote it.
    const view: AgentView = { record, lastHeartbeatMs: this.now(), active: true };
    this.agents.set(agentId, view);
    this.emit("agentAdded", view);
  }

  private onFramework(name: string, value: Uint8Array | undefined): void {
    if (value) this.registered(JSON.parse(Buffer.from(value).toString()) as FrameworkRecord);
    else this.frameworks.delete(name);
  }

  /** The leader's own registration, counted at once (before the watch brings it back). */
  registered(framework: FrameworkRecord): void {
    this.frameworks.set(framework.name, framework);
  }

  private onLaunch(key: string, value: Uint8Array | undefined): void {
    const k = parseTaskKey(key);
    if (!k) return;
    const existing = this.tasks.get(k.taskId);
    if (!value) {
      if (!existing) return;
      this.tasks.delete(k.taskId);
      this.completed.push(existing);
      while (this.completed.length > (this.opts.completedLimit ?? 1000)) this.completed.shift();
      this.emit("taskRemoved", existing);
      return;
    }
    const launch = JSON.parse(Buffer.from(value).toString()) as TaskLaunch;
    if (existing) {
      existing.launch = launch;
      return;
    }
    this.addTask(launch);
  }

  /**
   * The scheduler's own launch, counted at once (before the watch brings it
   * back) so one pass does not place the same instance twice. A no-op when the
   * watch was faster: its view may already hold statuses.
   */
  launching(launch: TaskLaunch): void {
    if (!this.tasks.has(launch.taskId)) this.addTask(launch);
  }

  private addTask(launch: TaskLaunch): void {
    const view: TaskView = { launch, statuses: [], state: "TASK_STAGING" };
    this.tasks.set(launch.taskId, view);
    this.emit("taskAdded", view);
    const early = this.early.get(launch.taskId);
    if (early) {
      this.early.delete(launch.taskId);
      this.applyStatus(view, early);
    }
  }

  private onStatus(key: string, value: Uint8Array | undefined): void {
    const k = parseTaskKey(key);
    if (!k || !value) return;
    const status = JSON.parse(Buffer.from(value).toString()) as TaskStatus;
    const view = this.tasks.get(k.taskId);
    if (!view) {
      this.early.set(k.taskId, status);
      return;
    }
    this.applyStatus(view, status);
  }

  private applyStatus(view: TaskView, status: TaskStatus): void {
    const last = view.statuses[view.statuses.length - 1];
    if (last && last.state === status.state && last.healthy === status.healthy && last.timestamp === status.timestamp) return;
    if (last && TERMINAL_STATES.has(last.state) && !TERMINAL_STATES.has(status.state)) return; // terminal is final
    view.statuses.push(status);
    view.state = status.state;
    this.emit("taskUpdated", view, status);
  }

  /** Agents whose heartbeats stopped become inactive (agentRemoved); they come back with the next heartbeat. */
  private sweep(): void {
    const now = this.now();
    for (const a of this.agents.values()) {
      if (a.active && now - a.lastHeartbeatMs > this.opts.agentTimeoutMs) {
        a.active = false;
        this.emit("agentRemoved", a);
      }
    }
  }
}
