/**
 * Child processes for DNS benchmarks: a server pinned to one CPU (`taskset -c`,
 * which execs, so the child's pid is the server's), stopped with SIGTERM then
 * SIGKILL; and dnsmasq as the reference authoritative server.
 *
 * `BENCH_SERVER_OUTPUT=<dir>` also writes each server's whole stdout and stderr to `<dir>/<name>-<pid>.log`
 * (e.g. with `--trace-gc-nvp` in BENCH_MESOS_DNS_NODE_FLAGS, V8's per-GC phase times).
 */
import * as dgram from "node:dgram";
import * as path from "node:path";
import { spawnSupervised, type Supervised } from "./child";

export type Pinned = Supervised;

/** `cmd` pinned to one CPU (`taskset -c`); with BENCH_SERVER_OUTPUT=<dir> its whole output also goes to `<dir>/<name>-<pid>.log`. */
export function spawnPinned(name: string, cpu: number, cmd: string, args: readonly string[], env?: NodeJS.ProcessEnv): Pinned {
  const dir = process.env["BENCH_SERVER_OUTPUT"];
  return spawnSupervised(name, "taskset", ["-c", String(cpu), cmd, ...args], {
    ...(env ? { env } : {}),
    killAfterMs: 5000,
    outputFile: (pid) => (dir ? path.join(dir, `${name}-${pid ?? "x"}.log`) : undefined),
  });
}

/** Sends one A query for `name` over UDP until a reply comes (or `ms` passes). */
export async function waitForDns(port: number, name: string, ms: number, exited?: Promise<never>): Promise<void> {
  const deadline = Date.now() + ms;
  const labels = name.replace(/\.$/, "").split(".");
  const q = Buffer.concat([
    Buffer.from([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]),
    ...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, "ascii")])),
    Buffer.from([0, 0, 1, 0, 1]),
  ]);
  const sock = dgram.createSocket("udp4");
  try {
    const got = new Promise<void>((resolve) => sock.once("message", () => resolve()));
    for (;;) {
      sock.send(q, port, "127.0.0.1");
      const tick = new Promise<"tick">((resolve) => setTimeout(() => resolve("tick"), 100));
      if ((await Promise.race([got.then(() => "ok" as const), tick, ...(exited ? [exited] : [])])) === "ok") return;
      if (Date.now() > deadline) throw new Error(`no DNS answer on 127.0.0.1:${port} within ${ms} ms`);
    }
  } finally {
    sock.close();
  }
}

/**
 * dnsmasq serving exactly the names of a hosts file (several lines for one
 * name give several A records): no upstream, no /etc/hosts, no DHCP, default
 * cache size, foreground, pinned to `cpu`.
 */
export async function startDnsmasq(opts: { hostsFile: string; port: number; cpu: number; ttl: number }): Promise<Pinned> {
  const args = [
    "-k",
    "--conf-file=/dev/null",
    "--no-resolv",
    "--no-hosts",
    `--addn-hosts=${opts.hostsFile}`,
    "--domain-needed",
    `--local-ttl=${opts.ttl}`,
    `--port=${opts.port}`,
    "--listen-address=127.0.0.1",
    "--bind-interfaces",
    "--user=root",
    "--pid-file=",
    "--log-facility=-",
  ];
  const p = spawnPinned("dnsmasq", opts.cpu, "dnsmasq", args);
  try {
    await waitForDns(opts.port, "dnsmasq-ready.invalid", 10_000, p.exited);
  } catch (err) {
    await p.stop();
    throw err;
  }
  return p;
}

export const dnsmasqArgsSummary =
  "dnsmasq -k --no-resolv --no-hosts --addn-hosts=FILE --domain-needed --local-ttl=TTL --listen-address=127.0.0.1 --bind-interfaces";
