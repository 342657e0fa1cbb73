import type { Logger } from "@dcnet/core";
import type { TaskLaunch } from "../model/launch";
import type { TaskState, TaskStatus } from "../model/mesos";
import { buildTaskEnv } from "./env";
import { aggregateHealth, HealthChecker, type Clock } from "./health";
import { attachNetwork, NetworkSetupError, type NetworkingDeps, type TaskNetwork } from "./network";
import type { PortBook } from "./ports";
import { probeFor } from "./probes";
import { describeExit, TaskProcess, type Exit } from "./process";
import { sandboxFor } from "./sandbox";
import { makeStatus, type StatusFields, type TaskView } from "./status";

export interface RunnerDeps {
  agent: { id: string; ip: string };
  workDir: string;
  ports: PortBook;
  networking: NetworkingDeps;
  /** Writes the status (replacing the previous one) — in order, per task. */
  report(status: TaskStatus): void;
  /** Called once, after the terminal status was reported and resources released. */
  onTerminal(runner: TaskRunner): void;
  onHealthFailure(): void;
  log: Logger;
  clock?: Clock;
}

const MAX_STATUSES = 100;

interface KillRequest {
  state: "TASK_KILLED" | "TASK_FAILED";
  message?: string;
  reason?: string;
}

/**
 * One task, from launch to terminal state:
 * STAGING → STARTING (ports checked, network attached) → RUNNING (spawned)
 * → FINISHED | FAILED | KILLED, with KILLING while a kill's grace period runs.
 */
export class TaskRunner implements TaskView {
  state: TaskState = "TASK_STAGING";
  readonly statuses: TaskStatus[] = [];
  /** Resolves once terminal (status reported, process gone, network and ports released). */
  readonly done: Promise<void>;
  private resolveDone!: () => void;
  private proc: TaskProcess | undefined;
  private network: TaskNetwork | undefined;
  private checkers: HealthChecker[] = [];
  private healthy: boolean | undefined;
  private killRequest: KillRequest | undefined;
  private silent = false;
  private readonly log: Logger;

  constructor(
    public launch: TaskLaunch,
    private readonly deps: RunnerDeps,
  ) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    this.log = deps.log.child({ task: launch.taskId });
  }

  get terminal(): boolean {
    return ["TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR"].includes(this.state);
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** Runs the task to its end; never rejects. */
  async run(): Promise<void> {
    try {
      await this.runInner();
    } catch (err) {
      this.log.error({ err }, "task runner failed");
      if (!this.terminal) await this.finish({ state: "TASK_FAILED", message: `agent error: ${(err as Error).message}` });
    }
  }

  private async runInner(): Promise<void> {
    const l = this.launch;
    const d = this.deps;
    this.report({ state: "TASK_STAGING" });
    const problem = d.ports.check(l.taskId, l.hostPorts);
    if (problem) return this.finish({ state: "TASK_FAILED", message: problem, reason: "REASON_TASK_INVALID" });
    d.ports.reserve(l.taskId, l.hostPorts);
    const early = this.requested();
    if (early) return this.finish({ ...early, message: "killed before the task started" });
    this.report({ state: "TASK_STARTING" });
    try {
      this.network = await attachNetwork(l, d.networking);
    } catch (err) {
      const message = err instanceof NetworkSetupError ? err.message : `network setup failed: ${(err as Error).message}`;
      return this.finish({ state: "TASK_FAILED", message, reason: "REASON_CONTAINER_LAUNCH_FAILED" });
    }
    const beforeSpawn = this.requested();
    if (beforeSpawn) return this.finish({ ...beforeSpawn, message: "killed before the task started" });
    const sandbox = sandboxFor(d.workDir, d.agent.id, l.taskId);
    const env = buildTaskEnv(l, d.agent, sandbox.dir);
    try {
      this.proc = await TaskProcess.start({ cmd: l.cmd, env, sandbox, ...(this.network.netns ? { netns: this.network.netns } : {}) });
    } catch (err) {
      return this.finish({
        state: "TASK_FAILED",
        message: `cannot start the command: ${(err as Error).message}`,
        reason: "REASON_CONTAINER_LAUNCH_FAILED",
      });
    }
    this.log.info({ pid: this.proc.pid, mode: this.network.mode, ips: this.network.ips }, "task started");
    let killed: Promise<Exit & { escalated: boolean }> | undefined;
    if (this.requested()) killed = this.startKill();
    else {
      this.report({ state: "TASK_RUNNING" });
      this.startHealthChecks(env, sandbox.dir);
    }
    const exit = await this.proc.exited;
    for (const c of this.checkers) c.stop();
    const kill = this.requested();
    if (kill) {
      const k = await (killed ?? this.killing ?? Promise.resolve({ ...exit, escalated: false }));
      const how = k.escalated ? `SIGTERM, then SIGKILL after the ${l.killGracePeriodSeconds}s grace period` : describeExit(exit);
      return this.finish({ ...kill, message: kill.message ?? `killed (${how})` });
    }
    if (exit.code === 0) return this.finish({ state: "TASK_FINISHED", message: describeExit(exit) });
    return this.finish({ state: "TASK_FAILED", message: describeExit(exit), reason: "REASON_COMMAND_EXECUTOR_FAILED" });
  }

  /** A method, so that TypeScript does not narrow the field across awaits. */
  private requested(): KillRequest | undefined {
    return this.killRequest;
  }

  private killing: Promise<Exit & { escalated: boolean }> | undefined;

  private startKill(): Promise<Exit & { escalated: boolean }> {
    this.killing ??= (() => {
      if (!this.silent) this.report({ state: "TASK_KILLING" });
      return this.proc!.kill(this.launch.killGracePeriodSeconds * 1000);
    })();
    return this.killing;
  }

  /**
   * Kills the task (SIGTERM to its group, SIGKILL after the launch's grace
   * period); resolves when terminal. Default outcome TASK_KILLED.
   */
  kill(request: KillRequest = { state: "TASK_KILLED" }): Promise<void> {
    if (this.terminal) return this.done;
    if (!this.killRequest) {
      this.killRequest = request;
      if (this.proc?.running) void this.startKill();
    }
    return this.done;
  }

  /** Agent shutdown: no more statuses (the master will mark the task lost); the process is killed all the same. */
  shutdown(): Promise<void> {
    this.silent = true;
    return this.kill();
  }

  private startHealthChecks(env: Record<string, string>, cwd: string): void {
    const net = this.network!;
    for (const check of this.launch.healthChecks) {
      const probe = probeFor(check, { endpoint: net.endpoint, env, cwd, ...(net.netns ? { netns: net.netns } : {}) });
      if (typeof probe === "string") {
        this.log.warn({ check }, probe);
        continue;
      }
      const checker = new HealthChecker(
        check.common,
        probe,
        {
          onChange: () => this.healthChanged(),
          onFailure: () => this.deps.onHealthFailure(),
          onFailed: (n) => {
            this.log.warn({ failures: n }, "health check failed: killing the task");
            void this.kill({ state: "TASK_FAILED", reason: "REASON_HEALTH_CHECK_FAILED", message: "health check failed" });
          },
        },
        this.deps.clock,
      );
      this.checkers.push(checker);
      checker.start();
    }
  }

  private healthChanged(): void {
    const healthy = aggregateHealth(this.checkers.map((c) => c.healthy));
    if (healthy === this.healthy || healthy === undefined) return;
    this.healthy = healthy;
    if (!this.terminal && !this.killRequest) this.report({ state: this.state });
  }

  private async finish(f: StatusFields): Promise<void> {
    for (const c of this.checkers) c.stop();
    if (this.network) await this.network.release().catch((err: unknown) => this.log.warn({ err }, "network release failed"));
    this.deps.ports.release(this.launch.taskId);
    this.report(f);
    this.log.info({ state: f.state, message: f.message }, "task ended");
    this.deps.onTerminal(this);
    this.resolveDone();
  }

  private report(f: StatusFields): void {
    this.state = f.state;
    const status = makeStatus(this.launch.taskId, this.deps.agent.id, {
      ...f,
      ...(this.healthy !== undefined ? { healthy: this.healthy } : {}),
      ...(this.network ? { networkInfos: this.network.networkInfos } : {}),
      ...(this.proc ? { pid: this.proc.pid } : {}),
    });
    this.statuses.push(status);
    // Health flapping must not grow memory without bound: keep the first status and the latest ones.
    if (this.statuses.length > MAX_STATUSES) this.statuses.splice(1, this.statuses.length - MAX_STATUSES);
    if (!this.silent) this.deps.report(status);
  }
}
