import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import { openSandbox, type Sandbox } from "./sandbox";

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * A task process: `sh -c <cmd>` (inside `ip netns exec <ns>` for a task
 * namespace) started detached, so it leads its own process group; signals go
 * to the whole group. stdout/stderr go to the sandbox files.
 */
export class TaskProcess {
  readonly pid: number;
  /** Resolves once the shell has exited and the rest of its group was killed. */
  readonly exited: Promise<Exit>;
  private exit: Exit | undefined;
  private killTimer: NodeJS.Timeout | undefined;

  private constructor(private readonly child: ChildProcess) {
    if (child.pid === undefined) throw new Error("spawn gave no pid");
    this.pid = child.pid;
    this.exited = new Promise<Exit>((resolve) => {
      child.once("exit", (code, signal) => {
        this.exit = { code, signal };
        clearTimeout(this.killTimer);
        // Leftovers of the group (background children of the shell) go with it.
        this.signalGroup("SIGKILL");
        resolve(this.exit);
      });
    });
  }

  /** Spawns; throws when the process cannot be started (the reason names the error). */
  static async start(opts: { cmd: string; env: Record<string, string>; sandbox: Sandbox; netns?: string }): Promise<TaskProcess> {
    const fds = openSandbox(opts.sandbox);
    const [file, args] = opts.netns ? ["ip", ["netns", "exec", opts.netns, "sh", "-c", opts.cmd]] : ["sh", ["-c", opts.cmd]];
    let child: ChildProcess;
    try {
      child = spawn(file, args as string[], {
        cwd: opts.sandbox.dir,
        env: opts.env,
        detached: true,
        stdio: ["ignore", fds.stdout, fds.stderr],
      });
    } finally {
      fs.closeSync(fds.stdout);
      fs.closeSync(fds.stderr);
    }
    await new Promise<void>((resolve, reject) => {
      child.once("spawn", () => resolve());
      child.once("error", reject);
    });
    child.on("error", () => undefined);
    return new TaskProcess(child);
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  signalGroup(signal: NodeJS.Signals): void {
    try {
      process.kill(-this.pid, signal);
    } catch {
      /* group gone */
    }
  }

  /**
   * SIGTERM to the group, SIGKILL after the grace period; resolves with the
   * exit and whether SIGKILL was needed.
   */
  async kill(graceMs: number): Promise<Exit & { escalated: boolean }> {
    let escalated = false;
    if (this.running) {
      this.signalGroup("SIGTERM");
      clearTimeout(this.killTimer);
      this.killTimer = setTimeout(
        () => {
          escalated = true;
          this.signalGroup("SIGKILL");
        },
        Math.max(0, graceMs),
      );
    }
    const exit = await this.exited;
    return { ...exit, escalated };
  }
}

/** Mesos-like wording of an exit: `exited with status 3`, `terminated by signal SIGKILL`. */
export function describeExit(exit: Exit): string {
  if (exit.signal) return `Command terminated by signal ${exit.signal}`;
  return `Command exited with status ${exit.code ?? "unknown"}`;
}
