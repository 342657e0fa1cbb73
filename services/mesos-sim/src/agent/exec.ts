import { spawn } from "node:child_process";

export class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly code: number | null,
    readonly stderr: string,
  ) {
    super(`${command} failed${code === null ? "" : ` (exit ${code})`}: ${stderr.trim() || "no output"}`);
  }
}

/**
 * Runs a helper program (ip, nft) without a shell, bounded by a timeout;
 * resolves with its stdout, rejects with a CommandError naming stderr.
 */
export function run(file: string, args: readonly string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<string> {
  const command = [file, ...args].join(" ");
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ["pipe", "pipe", "pipe"], timeout: opts.timeoutMs ?? 10_000, killSignal: "SIGKILL" });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
    child.on("error", (e) => reject(new CommandError(command, null, e.message)));
    child.on("close", (code, signal) => {
      if (code === 0) resolve(out);
      else reject(new CommandError(command, code, signal ? `killed by ${signal} (timeout?) ${err}` : err));
    });
    child.stdin.on("error", () => undefined);
    child.stdin.end(opts.input ?? "");
  });
}

/** True when `file` runs (e.g. `ip -V`). */
export async function available(file: string, args: readonly string[]): Promise<boolean> {
  try {
    await run(file, args, { timeoutMs: 5000 });
    return true;
  } catch {
    return false;
  }
}
