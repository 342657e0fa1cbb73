/**
 * Network namespaces and bounded child processes for the l4lb nftables benchmark: every namespace
 * made here is recorded and deleted at the end, on a failure, and on SIGINT/SIGTERM/exit (what
 * still runs inside is killed first), as are registered temporary directories; every command and
 * child has a time limit.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import { cgroup2Mount } from "@dcnet/l4lb";

/** Runs a command (15 s limit by default); rejects with its stderr. */
export function sh(file: string, args: readonly string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { timeout: opts.timeoutMs ?? 15_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} ${args.join(" ")}: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
    child.stdin?.on("error", () => undefined);
    child.stdin?.end(opts.input ?? "");
  });
}

export const inNs = (
  ns: string,
  file: string,
  args: readonly string[],
  opts: { input?: string; timeoutMs?: number } = {},
): Promise<string> => sh("ip", ["netns", "exec", ns, file, ...args], opts);

const created = new Set<string>();
const tempDirs = new Set<string>();

/** A directory to remove at exit, on a signal too (the caller still removes it when done). */
export function removeAtExit(dir: string): void {
  hookExit();
  tempDirs.add(dir);
}

function cleanUp(): void {
  for (const n of [...created]) deleteNow(n);
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
  tempDirs.clear();
}

/** Kills what still runs inside, then deletes the namespace (synchronous: usable from an exit handler). Never throws. */
function deleteNow(name: string): void {
  const pids = spawnSync("ip", ["netns", "pids", name], { encoding: "utf8", timeout: 5000 }).stdout ?? "";
  for (const pid of pids.split(/\s+/).filter(Boolean)) {
    try {
      process.kill(Number(pid), "SIGKILL");
    } catch {
      /* gone */
    }
  }
  spawnSync("ip", ["netns", "del", name], { timeout: 5000 });
  created.delete(name);
}

let hooked = false;
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.once("exit", cleanUp);
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.once(sig, () => {
      cleanUp();
      process.exit(130);
    });
  }
}

/** Creates a namespace with `lo` up (an old one of that name is deleted first). */
export async function addNetns(name: string): Promise<void> {
  hookExit();
  deleteNow(name);
  created.add(name);
  await sh("ip", ["netns", "add", name]);
  await sh("ip", ["-n", name, "link", "set", "lo", "up"]);
}

export function delNetns(name: string): void {
  deleteNow(name);
}

export function delAllNetns(): void {
  for (const n of [...created]) deleteNow(n);
}

/** Why this benchmark cannot run here, or undefined. */
export function unavailable(): string | undefined {
  if (typeof process.getuid === "function" && process.getuid() !== 0) return "needs root (ip netns, nft)";
  for (const [tool, pkg] of [
    ["nft", "nftables"],
    ["ip", "iproute2"],
    ["wrk", "wrk"],
    ["haproxy", "haproxy"],
    ["taskset", "util-linux"],
  ] as const) {
    if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0) return `${tool} not found (apt-get install -y ${pkg})`;
  }
  return undefined;
}

/** A child process with a hard time limit; resolves with its output once it ends. */
export function runBounded(
  file: string,
  args: readonly string[],
  limitMs: number,
): Promise<{ code: number | null; out: string; err: string; child: ChildProcess }> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const killer = setTimeout(() => child.kill("SIGKILL"), limitMs);
    child.on("error", (e) => (err += e.message));
    child.on("close", (code) => {
      clearTimeout(killer);
      resolve({ code, out, err, child });
    });
  });
}

/** wrk's summary as JSON (its Lua `done` hook). */
export const WRK_SCRIPT = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%d,"duration_us":%d,"errors":%d,"non2xx":%d,"p50_us":%d,"p99_us":%d}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99)))
end
`;

export interface WrkResult {
  requests: number;
  seconds: number;
  errors: number;
  p50Ms: number;
  p99Ms: number;
}

/** `wrk -t1 -c<conns> -d<seconds>s` inside `ns` (pinned to `cpus` when given), with extra args (headers). */
export async function wrkInNs(
  ns: string,
  o: {
    script: string;
    url: string;
    conns: number;
    seconds: number;
    cpus?: string | undefined;
    extra?: readonly string[];
    /** Run wrk in this cgroup (v2 directory). */
    cgroup?: string | undefined;
  },
): Promise<WrkResult> {
  const wrk = ["wrk", "-t1", `-c${o.conns}`, `-d${o.seconds}s`, "--timeout", "5s", "-s", o.script, ...(o.extra ?? []), o.url];
  const cmd = ["ip", "netns", "exec", ns, ...(o.cpus === undefined ? wrk : ["taskset", "-c", o.cpus, ...wrk])];
  const limit = (o.seconds + 30) * 1000;
  const r =
    o.cgroup === undefined
      ? await runBounded(cmd[0]!, cmd.slice(1), limit)
      : await runBounded("sh", ["-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', o.cgroup, ...cmd], limit);
  const m = /WRKJSON (\{.*\})/.exec(r.out);
  if (!m) throw new Error(`wrk in ${ns} printed no result (exit ${r.code}):\n${r.out}${r.err}`);
  const j = JSON.parse(m[1]!) as { requests: number; duration_us: number; errors: number; non2xx: number; p50_us: number; p99_us: number };
  return {
    requests: j.requests,
    seconds: j.duration_us / 1e6,
    errors: j.errors + j.non2xx,
    p50Ms: j.p50_us / 1000,
    p99Ms: j.p99_us / 1000,
  };
}

/** Why the socket LB cannot be measured here (no clang, bpftool or cgroup v2), or undefined. */
export async function sockLbUnavailable(): Promise<string | undefined> {
  for (const [tool, arg] of [
    ["clang", "--version"],
    ["bpftool", "version"],
  ] as const) {
    const r = await runBounded(tool, [arg], 10_000);
    if (r.code !== 0) return `${tool} is not available (${r.err.trim() || `exit ${String(r.code)}`})`;
  }
  return cgroup2Mount() === undefined ? "no cgroup v2 hierarchy is mounted" : undefined;
}
