/**
 * Child processes of the benchmarks: the last few KiB of their output kept for error messages,
 * `exited` rejecting when one ends before `stop()` (race it against what waits on the child), and
 * `stop()` sending SIGTERM, then SIGKILL after `killAfterMs`.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";

export interface Supervised {
  readonly pid: number;
  readonly name: string;
  /** Last few KiB of stdout + stderr. */
  output(): string;
  /** Rejects if the process exits before stop(). */
  readonly exited: Promise<never>;
  stop(): Promise<void>;
}

/** Watches a started child; `output` gives what to quote when it exits early. */
export function supervise(name: string, child: ChildProcess, output: () => string, killAfterMs = 10_000): Supervised {
  let stopping = false;
  const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const exited = new Promise<never>((_, reject) => {
    child.once("error", (err) => reject(new Error(`${name}: ${err.message}`)));
    void gone.then(() => {
      if (!stopping) reject(new Error(`${name} exited (code ${child.exitCode}, signal ${child.signalCode}):\n${output().trim()}`));
    });
  });
  exited.catch(() => {}); // observed by whoever races it; never an unhandled rejection
  if (child.pid === undefined) throw new Error(`${name}: could not start ${child.spawnfile}`);
  return {
    pid: child.pid,
    name,
    output,
    exited,
    async stop() {
      stopping = true;
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), killAfterMs);
      await gone;
      clearTimeout(timer);
    },
  };
}

/** Spawns `cmd` with stdout and stderr kept (the last 8,000 characters), and also written to `outputFile` if given. */
export function spawnSupervised(
  name: string,
  cmd: string,
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; killAfterMs?: number; outputFile?: (pid: number | undefined) => string | undefined } = {},
): Supervised {
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], env: opts.env });
  let out = "";
  const path = opts.outputFile?.(child.pid);
  const file = path !== undefined ? fs.createWriteStream(path) : undefined;
  const keep = (chunk: Buffer): void => {
    out = (out + chunk.toString()).slice(-8000);
    file?.write(chunk);
  };
  child.once("close", () => file?.end());
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  return supervise(name, child, () => out, opts.killAfterMs);
}
