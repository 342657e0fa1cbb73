/**
 * A long-lived helper process that takes commands on stdin and reports on stderr, as l4lb keeps
 * `nft -i` (nft-apply.ts) and `ip -force -batch -` (routes.ts): starting one per change costs more
 * than the change. stdout is drained and ignored, stderr is handed over as it arrives (utf8), a
 * write to a process that died is not an error of its own (`onGone` says why it ended), and an
 * idle session does not keep Node alive (`setIdle`).
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";

export function spawnSession(
  argv: readonly string[],
  onStderr: (text: string) => void,
  /** The process could not start or ended: `why` is the spawn error or `exit N` / the signal. */
  onGone: (why: string) => void,
): ChildProcessWithoutNullStreams {
  const c = spawn(argv[0]!, argv.slice(1), { stdio: ["pipe", "pipe", "pipe"] });
  c.stdout.on("data", () => undefined);
  c.stderr.setEncoding("utf8").on("data", onStderr);
  c.stdin.on("error", () => undefined);
  c.on("error", (e) => onGone(e.message));
  c.on("close", (code, signal) => onGone(signal ?? `exit ${code}`));
  setIdle(c, true);
  return c;
}

/** Idle (true): the session no longer keeps the event loop alive; busy (false): it does again. */
export function setIdle(c: ChildProcessWithoutNullStreams, idle: boolean): void {
  for (const h of [c, c.stdin, c.stdout, c.stderr] as { ref?: () => void; unref?: () => void }[]) (idle ? h.unref : h.ref)?.call(h);
}
