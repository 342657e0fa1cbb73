/**
 * Local routes for VIP addresses (spec §4.3): the node's own connections to a VIP must be accepted
 * before the nat output hook rewrites them, so every VIP address gets
 *
 *     ip route add local <vip>/32 dev lo table local proto <N>        (IPv6: ip -6 … <vip>/128 …)
 *
 * (upstream uses the same routes on a `minuteman` dummy device; this kernel has no dummy module and
 * `lo` does the same). Our routes carry routing protocol N (default 211) so they can be told from
 * anyone else's: a reconcile lists `ip route show table local proto N` and repairs only those, and
 * a local route somebody else owns for the same address (a VIP that is also a node address) is left
 * alone. Changes go through one `ip -batch` process.
 */
import { spawn } from "node:child_process";
import type { Logger } from "@dcnet/core";
import { canonicalIp, familyOf } from "./ip";

export interface RoutesOptions {
  /** Run inside this network namespace (`ip -n <netns> …`). */
  netns?: string;
  /** Routing protocol number marking our routes (default 211). */
  protocol?: number;
  logger: Logger;
  /** The `ip` binary (default `ip`). */
  ip?: string;
  timeoutMs?: number;
}

export interface LocalRoutes {
  /** Reads our routes from the kernel (done by the first sync too). */
  load(): Promise<void>;
  /** Makes our routes exactly `ips`: returns how many were added and removed. */
  sync(ips: Iterable<string>): Promise<{ added: number; removed: number }>;
  /** Reads the kernel and repairs what differs from the last sync; returns the repairs made. */
  reconcile(): Promise<number>;
  /** Ours as last known. */
  installed(): ReadonlySet<string>;
  /** Addresses skipped because another local route holds them. */
  conflicts(): ReadonlySet<string>;
}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(file: string, args: readonly string[], input: string, timeoutMs: number): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ["pipe", "pipe", "pipe"], timeout: timeoutMs, killSignal: "SIGKILL" });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.on("error", () => undefined);
    child.stdin.end(input);
  });
}

const prefix = (ip: string): string => `${ip}/${familyOf(ip) === 6 ? 128 : 32}`;

export function createLocalRoutes(opts: RoutesOptions): LocalRoutes {
  const ipBin = opts.ip ?? "ip";
  const proto = opts.protocol ?? 211;
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const ns = opts.netns === undefined ? [] : ["-n", opts.netns];
  let ours = new Set<string>();
  let wanted = new Set<string>();
  const conflicting = new Set<string>();
  let loaded = false;

  const ip = async (args: string[], input = ""): Promise<RunResult> => run(ipBin, [...ns, ...args], input, timeoutMs);

  const list = async (): Promise<Set<string>> => {
    const out = new Set<string>();
    for (const fam of ["-4", "-6"]) {
      const r = await ip([fam, "-j", "route", "show", "table", "local", "proto", String(proto)]);
      if (r.code !== 0 && /table does not exist/i.test(r.stderr)) continue; // nothing local yet (a fresh namespace)
      if (r.code !== 0) throw new Error(`ip ${fam} route show table local proto ${proto}: ${r.stderr.trim()}`);
      const rows = r.stdout.trim() === "" ? [] : (JSON.parse(r.stdout) as { type?: string; dst?: string }[]);
      for (const row of rows) {
        const dst = canonicalIp((row.dst ?? "").replace(/\/(32|128)$/, ""));
        if (row.type === "local" && dst !== undefined) out.add(dst);
      }
    }
    return out;
  };

  /** One batch; returns the statements that failed with their messages. */
  const batch = async (lines: string[]): Promise<Map<number, string>> => {
    const failed = new Map<number, string>();
    if (lines.length === 0) return failed;
    const r = await ip(["-force", "-batch", "-"], lines.join("\n") + "\n");
    if (r.code === 0) return failed;
    // iproute2 prints the kernel's answer, then "Command failed -:<line>".
    const errLines = r.stderr.split("\n");
    let last = "";
    for (const l of errLines) {
      const m = /^Command failed -:(\d+)/.exec(l);
      if (m) failed.set(Number(m[1]) - 1, last || l);
      else if (l.trim() !== "") last = l.trim();
    }
    if (failed.size === 0) throw new Error(`ip -batch failed: ${r.stderr.trim()}`);
    return failed;
  };

  const apply = async (add: string[], del: string[]): Promise<{ added: number; removed: number }> => {
    const lines = [
      ...del.map((a) => `route del local ${prefix(a)} dev lo table local proto ${proto}`),
      ...add.map((a) => `route add local ${prefix(a)} dev lo table local proto ${proto}`),
    ];
    const failed = await batch(lines);
    let added = 0;
    let removed = 0;
    del.forEach((a, i) => {
      const err = failed.get(i);
      // "No such process": already gone.
      if (err === undefined || /No such process|not found/i.test(err)) {
        ours.delete(a);
        if (err === undefined) removed++;
      } else opts.logger.warn({ ip: a, err }, "could not remove a VIP route");
    });
    add.forEach((a, i) => {
      const err = failed.get(del.length + i);
      if (err === undefined) {
        ours.add(a);
        conflicting.delete(a);
        added++;
      } else if (/File exists/i.test(err)) {
        if (!conflicting.has(a)) opts.logger.warn({ ip: a }, "a local route for this VIP address exists and is not ours: left alone");
        conflicting.add(a);
      } else opts.logger.warn({ ip: a, err }, "could not add a VIP route");
    });
    return { added, removed };
  };

  const load = async (): Promise<void> => {
    ours = await list();
    loaded = true;
  };

  return {
    load,
    async sync(ips) {
      if (!loaded) await load();
      wanted = new Set([...ips].map((a) => canonicalIp(a) ?? a));
      for (const a of conflicting) if (!wanted.has(a)) conflicting.delete(a);
      const add = [...wanted].filter((a) => !ours.has(a));
      const del = [...ours].filter((a) => !wanted.has(a));
      return apply(add, del);
    },
    async reconcile() {
      ours = await list();
      loaded = true;
      const add = [...wanted].filter((a) => !ours.has(a));
      const del = [...ours].filter((a) => !wanted.has(a));
      const r = await apply(add, del);
      return r.added + r.removed;
    },
    installed: () => ours,
    conflicts: () => conflicting,
  };
}
