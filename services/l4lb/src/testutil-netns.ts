/**
 * Test helpers for real network namespaces: run a command (optionally inside a namespace), check
 * that this machine can run the nft tests (root, nft, ip netns), and the small Node programs
 * the traffic test starts inside namespaces.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";

export function sh(file: string, args: readonly string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { timeout: 15_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} ${args.join(" ")}: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
    child.stdin?.on("error", () => undefined);
    child.stdin?.end(input ?? "");
  });
}

export const inNs = (ns: string, file: string, args: readonly string[], input?: string): Promise<string> =>
  sh("ip", ["netns", "exec", ns, file, ...args], input);

/** Why the nft tests cannot run here, or undefined when they can. */
export async function nftUnavailable(): Promise<string | undefined> {
  if (typeof process.getuid === "function" && process.getuid() !== 0) return "needs root (nft and ip netns)";
  try {
    await sh("nft", ["--version"]);
  } catch (err) {
    return `nft is not available: ${(err as Error).message}`;
  }
  const probe = `dcnet-l4lb-probe-${process.pid}`;
  try {
    await sh("ip", ["netns", "add", probe]);
    await inNs(probe, "nft", ["list", "ruleset"]);
  } catch (err) {
    return `cannot use a network namespace with nft: ${(err as Error).message}`;
  } finally {
    await sh("ip", ["netns", "del", probe]).catch(() => undefined);
  }
  return undefined;
}

export async function addNetns(name: string): Promise<void> {
  await sh("ip", ["netns", "add", name]);
  await sh("ip", ["-n", name, "link", "set", "lo", "up"]);
}

/** Kills what still runs inside, then deletes the namespace. Never throws. */
export async function delNetns(name: string): Promise<void> {
  try {
    for (const pid of (await sh("ip", ["netns", "pids", name])).split(/\s+/).filter(Boolean)) {
      try {
        process.kill(Number(pid), "SIGKILL");
      } catch {
        /* gone */
      }
    }
    await sh("ip", ["netns", "del", name]);
  } catch {
    /* not there */
  }
}

/**
 * TCP servers greet each connection with `<name> <peer address>\n` and then echo; UDP servers
 * answer each datagram with `<name> <peer address>`. Prints `ready` once all listen.
 */
const SERVER = `
const net = require("node:net"), dgram = require("node:dgram");
const specs = JSON.parse(process.argv[1]);
let left = specs.length;
const ready = () => { if (--left === 0) console.log("ready"); };
for (const s of specs) {
  if (s.proto === "tcp") {
    net.createServer((c) => { c.on("error", () => {}); c.write(s.name + " " + c.remoteAddress + "\\n"); c.pipe(c); }).listen(s.port, s.host, ready);
  } else {
    const u = dgram.createSocket(s.host.includes(":") ? "udp6" : "udp4");
    u.on("message", (m, r) => u.send(s.name + " " + r.address, r.port, r.address));
    u.bind(s.port, s.host, ready);
  }
}`;

export interface ServerSpec {
  proto: "tcp" | "udp";
  host: string;
  port: number;
  name: string;
}

/** Starts the servers inside `ns`; resolves once they listen. */
export function startServers(ns: string, specs: ServerSpec[]): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn("ip", ["netns", "exec", ns, process.execPath, "-e", SERVER, JSON.stringify(specs)], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let err = "";
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.stdout.on("data", (d: Buffer) => {
      if (d.toString().includes("ready")) resolve(child);
    });
    child.on("exit", (code) => reject(new Error(`servers in ${ns} exited (${code}): ${err}`)));
  });
}

/** `n` connections (or datagrams) one after another; each answer's first line, or `error <code>`. */
const CLIENT = `
const net = require("node:net"), dgram = require("node:dgram");
const { proto, host, port, n } = JSON.parse(process.argv[1]);
const once = () => new Promise((resolve) => {
  const timer = setTimeout(() => resolve("error TIMEOUT"), 2000);
  const done = (v) => { clearTimeout(timer); resolve(v); };
  if (proto === "tcp") {
    const c = net.connect(port, host);
    let buf = "";
    c.on("data", (d) => { buf += d; if (buf.includes("\\n")) { c.destroy(); done(buf.split("\\n")[0]); } });
    c.on("error", (e) => done("error " + e.code));
  } else {
    const u = dgram.createSocket(host.includes(":") ? "udp6" : "udp4");
    u.on("message", (m) => { u.close(); done(m.toString()); });
    u.on("error", (e) => { u.close(); done("error " + e.code); });
    u.connect(port, host, () => u.send("hi"));
  }
});
(async () => { const out = []; for (let i = 0; i < n; i++) out.push(await once()); console.log(JSON.stringify(out)); })();`;

export async function connectMany(
  ns: string,
  proto: "tcp" | "udp",
  host: string,
  port: number,
  n: number,
  /** Run the client in this cgroup (v2 directory) too. */
  cgroup?: string,
): Promise<string[]> {
  const args = ["netns", "exec", ns, process.execPath, "-e", CLIENT, JSON.stringify({ proto, host, port, n })];
  const out =
    cgroup === undefined ? await sh("ip", args) : await sh("sh", ["-c", 'echo $$ > "$0/cgroup.procs" && exec ip "$@"', cgroup, ...args]);
  return JSON.parse(out) as string[];
}

/** A connection held open: its greeting, and `echo(text)` to prove it still carries data. */
export interface HeldConnection {
  greeting: string;
  echo(text: string): Promise<string>;
  close(): void;
}

const HOLDER = `
const net = require("node:net");
const { host, port } = JSON.parse(process.argv[1]);
const c = net.connect(port, host);
c.setEncoding("utf8");
c.on("data", (d) => process.stdout.write(d));
c.on("error", (e) => { console.log("error " + e.code); process.exit(1); });
process.stdin.setEncoding("utf8").on("data", (d) => c.write(d));`;

export function holdConnection(ns: string, host: string, port: number): Promise<HeldConnection> {
  return new Promise((resolve, reject) => {
    const child = spawn("ip", ["netns", "exec", ns, process.execPath, "-e", HOLDER, JSON.stringify({ host, port })], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    let buf = "";
    const waiters: ((line: string) => void)[] = [];
    child.stdout.on("data", (d: Buffer) => {
      buf += d.toString();
      let i: number;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        waiters.shift()?.(line);
      }
    });
    const next = (): Promise<string> =>
      new Promise((res, rej) => {
        const t = setTimeout(() => rej(new Error("no answer on the held connection")), 3000);
        waiters.push((l) => {
          clearTimeout(t);
          res(l);
        });
      });
    next().then(
      (greeting) =>
        resolve({
          greeting,
          echo: (text) => {
            const p = next();
            child.stdin.write(text + "\n");
            return p;
          },
          close: () => child.kill("SIGKILL"),
        }),
      reject,
    );
  });
}

/** Our local routes in `ns` (routing protocol `proto`), both families, sorted. */
export async function routesIn(ns: string, proto = 211): Promise<string[]> {
  const out: string[] = [];
  for (const fam of ["-4", "-6"]) {
    const rows = JSON.parse(await sh("ip", ["-n", ns, fam, "-j", "route", "show", "table", "local", "proto", String(proto)])) as {
      dst: string;
    }[];
    out.push(...rows.map((r) => r.dst));
  }
  return out.sort();
}
