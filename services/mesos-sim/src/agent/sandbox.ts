import * as fs from "node:fs";
import * as path from "node:path";
import { encodeKeyPart } from "../model/kv-layout";

/** A task's sandbox: `<workDir>/<agentId>/<taskId>/` with `stdout` and `stderr` (ids encoded to be path-safe). */
export interface Sandbox {
  dir: string;
  stdout: string;
  stderr: string;
}

export function sandboxFor(workDir: string, agentId: string, taskId: string): Sandbox {
  const dir = path.join(workDir, encodeKeyPart(agentId), encodeKeyPart(taskId));
  return { dir, stdout: path.join(dir, "stdout"), stderr: path.join(dir, "stderr") };
}

/** Creates the directory and opens both files for appending; the caller closes the fds after spawning. */
export function openSandbox(sb: Sandbox): { stdout: number; stderr: number } {
  fs.mkdirSync(sb.dir, { recursive: true });
  const stdout = fs.openSync(sb.stdout, "a");
  try {
    return { stdout, stderr: fs.openSync(sb.stderr, "a") };
  } catch (err) {
    fs.closeSync(stdout);
    throw err;
  }
}
