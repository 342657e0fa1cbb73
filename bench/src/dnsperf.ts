/**
 * Helpers for DNS benchmarks: running Debian's `dnsperf` pinned to a CPU and
 * parsing its report (and, with `-v`, the per-response latency lines), reading
 * a server's CPU time and RSS from /proc, checking that the Debian tools are
 * installed, and pinning processes with `taskset`.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import * as dgram from "node:dgram";
import * as readline from "node:readline";

export interface DnsperfOptions {
  server: string;
  port: number;
  /** Query file: one `name TYPE` per line. */
  file: string;
  seconds: number;
  /** `-Q`: cap on queries per second; undefined = as fast as the server answers. */
  rate?: number | undefined;
  /** `-q`: queries outstanding (default 200). */
  outstanding?: number;
  /** `-v` and collect each response's latency. */
  latencies?: boolean;
  /** CPU the client is pinned to (`taskset -c`). */
  cpu: number;
}

export interface DnsperfResult {
  sent: number;
  completed: number;
  lost: number;
  qps: number;
  runSeconds: number;
  /** Average request / response size in bytes. */
  requestBytes: number;
  responseBytes: number;
  /** `NOERROR 12345 (100.00%)`-style counts. */
  rcodes: Record<string, number>;
  /** Latency of each response in ms (only with `latencies`; empty otherwise). */
  latenciesMs: Float64Array;
  args: string[];
}

function field(text: string, label: string): number {
  const m = new RegExp(`${label}:\\s+([0-9.]+)`).exec(text);
  if (!m?.[1]) throw new Error(`dnsperf report has no "${label}" line:\n${text.slice(-2000)}`);
  return Number(m[1]);
}

/** A growable Float64Array. */
class Samples {
  private buf = new Float64Array(1 << 16);
  length = 0;
  push(v: number): void {
    if (this.length === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.length++] = v;
  }
  values(): Float64Array {
    return this.buf.slice(0, this.length);
  }
}

/** Runs dnsperf once; rejects when it fails or outlives `seconds` + 30 s. */
export async function runDnsperf(o: DnsperfOptions): Promise<DnsperfResult> {
  const args = ["-s", o.server, "-p", String(o.port), "-d", o.file, "-l", String(o.seconds), "-c", "1", "-T", "1"];
  args.push("-q", String(o.outstanding ?? 200));
  if (o.rate !== undefined) args.push("-Q", String(Math.round(o.rate)));
  if (o.latencies) args.push("-v");
  // stdout goes to a file, parsed after the run: reading ~20k `-v` lines/s live would take CPU from dnsperf.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dcnet-dnsperf-"));
  const outFile = path.join(dir, "out.txt");
  const fd = fs.openSync(outFile, "w");
  let child: ChildProcess;
  try {
    child = spawn("taskset", ["-c", String(o.cpu), "dnsperf", ...args], { stdio: ["ignore", fd, "pipe"] });
  } finally {
    fs.closeSync(fd);
  }
  let stderr = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (s: string) => {
    stderr = (stderr + s).slice(-4000);
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), (o.seconds + 30) * 1000);
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once("error", reject);
      child.once("close", (c) => resolve(c));
    });
    const samples = new Samples();
    const tail: string[] = [];
    const lines = readline.createInterface({ input: fs.createReadStream(outFile), crlfDelay: Infinity });
    for await (const line of lines) {
      // `> NOERROR name A 0.000123` per response with -v (a lost query has no latency).
      if (line.charCodeAt(0) === 62 /* > */) {
        const v = Number(line.slice(line.lastIndexOf(" ") + 1));
        if (Number.isFinite(v)) samples.push(v * 1000);
      } else tail.push(line);
    }
    const report = tail.join("\n");
    if (code !== 0) throw new Error(`dnsperf ${args.join(" ")} exited with ${code}: ${stderr.trim() || report.slice(-2000)}`);
    const rcodes: Record<string, number> = {};
    const rc = /Response codes:\s+(.*)/.exec(report)?.[1] ?? "";
    for (const m of rc.matchAll(/([A-Z]+) (\d+)/g)) rcodes[m[1]!] = Number(m[2]);
    const sizes = /Average packet size:\s+request (\d+), response (\d+)/.exec(report);
    return {
      requestBytes: Number(sizes?.[1] ?? Number.NaN),
      responseBytes: Number(sizes?.[2] ?? Number.NaN),
      sent: field(report, "Queries sent"),
      completed: field(report, "Queries completed"),
      lost: field(report, "Queries lost"),
      qps: field(report, "Queries per second"),
      runSeconds: field(report, "Run time \\(s\\)"),
      rcodes,
      latenciesMs: samples.values(),
      args,
    };
  } finally {
    clearTimeout(timer);
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

let clkTck: number | undefined;

/** utime + stime of a process (all its threads) in seconds, from /proc/PID/stat. */
export function cpuSeconds(pid: number): number {
  clkTck ??= Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after "(comm)": state is field 3, utime 14, stime 15 (1-based).
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(rest[11]) + Number(rest[12])) / clkTck;
}

/** Resident set size in MiB, from /proc/PID/status. */
export function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
  return m?.[1] ? Number(m[1]) / 1024 : Number.NaN;
}

function onPath(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}

/**
 * Makes sure each command exists; when some are missing and we are root, runs
 * `apt-get install -y <packages>` once (Debian), else fails with what to install.
 */
export function requireTools(tools: Readonly<Record<string, string>>, log: (msg: string) => void): void {
  const missing = Object.entries(tools).filter(([cmd]) => !onPath(cmd));
  if (missing.length === 0) return;
  const pkgs = [...new Set(missing.map(([, pkg]) => pkg))];
  const hint = `install them with: apt-get install -y ${pkgs.join(" ")}`;
  if (process.getuid?.() !== 0 || !onPath("apt-get")) throw new Error(`missing ${missing.map(([c]) => c).join(", ")}; ${hint}`);
  log(`missing ${missing.map(([c]) => c).join(", ")}: apt-get install -y ${pkgs.join(" ")}`);
  const r = spawnSync("apt-get", ["install", "-y", ...pkgs], { stdio: ["ignore", 2, 2], timeout: 300_000 });
  const still = missing.filter(([cmd]) => !onPath(cmd));
  if (r.status !== 0 || still.length > 0) throw new Error(`apt-get install failed (status ${r.status}); run apt-get update, then ${hint}`);
}

/** First line of `cmd args` (stdout or stderr), for version strings. */
export function versionLine(cmd: string, args: readonly string[], pattern: RegExp): string {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  const m = pattern.exec(`${r.stdout ?? ""}\n${r.stderr ?? ""}`);
  return m?.[1] ?? "unknown";
}

/** Current CPU affinity list of `pid` (e.g. "0,1" or "0-1"). */
export function affinity(pid: number): string {
  const out = execFileSync("taskset", ["-cp", String(pid)], { encoding: "utf8" });
  return out.slice(out.lastIndexOf(":") + 1).trim();
}

/** Pins every thread of `pid` to `cpus` (a taskset list). */
export function pin(pid: number, cpus: string): void {
  execFileSync("taskset", ["-a", "-cp", cpus, String(pid)], { stdio: "ignore" });
}

/** A port free for both UDP and TCP on 127.0.0.1 (checked, then released). */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const srv = net.createServer();
    const port = await new Promise<number>((resolve, reject) => {
      srv.once("error", reject);
      srv.listen(0, "127.0.0.1", () => resolve((srv.address() as net.AddressInfo).port));
    });
    const sock = dgram.createSocket("udp4");
    const udpOk = await new Promise<boolean>((resolve) => {
      sock.once("error", () => resolve(false));
      sock.bind(port, "127.0.0.1", () => resolve(true));
    });
    await new Promise<void>((resolve) => srv.close(() => resolve()));
    if (udpOk) {
      await new Promise<void>((resolve) => sock.close(() => resolve()));
      return port;
    }
    try {
      sock.close();
    } catch {
      // never bound
    }
  }
  throw new Error("no free port for UDP and TCP");
}
