/**
 * One short-lived helper process (nft, ip, bpftool, clang, conntrack, mount…): its exit, stdout and
 * stderr. Never rejects: a process that cannot start gives `code: null` and the reason in `stderr`
 * (`error` holds the spawn error). `netns` runs it inside that network namespace (`ip netns exec`);
 * `timeoutMs` kills it (SIGKILL, `signal` says so).
 */
import { spawn } from "node:child_process";

export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The spawn error (ENOENT: no such binary), when it did not start. */
  error?: NodeJS.ErrnoException;
}

export function runCommand(
  file: string,
  args: readonly string[],
  opts: { input?: string; timeoutMs?: number; netns?: string | undefined } = {},
): Promise<CommandResult> {
  const [f, a] = opts.netns === undefined ? [file, args] : ["ip", ["netns", "exec", opts.netns, file, ...args]];
  return new Promise((resolve) => {
    const child = spawn(f, a, { stdio: ["pipe", "pipe", "pipe"], timeout: opts.timeoutMs ?? 10_000, killSignal: "SIGKILL" });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", (error: NodeJS.ErrnoException) => resolve({ code: null, signal: null, stdout, stderr: error.message, error }));
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
    child.stdin.on("error", () => undefined);
    child.stdin.end(opts.input ?? "");
  });
}

/** Why a command failed, for an error message: its stderr, else how it ended (exit code or signal). */
export function failureText(r: CommandResult): string {
  return r.stderr.trim() || (r.signal !== null ? `killed by ${r.signal}` : `exit ${r.code}`);
}
