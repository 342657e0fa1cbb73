/**
 * Local routes for VIP addresses (spec §4.3): the node's own connections to a VIP must be accepted
 * before the nat output hook rewrites them, so every VIP address gets
 *
 *     ip route add local <vip>/32 dev lo table local proto <N> [src <node address>]   (IPv6: ip -6 … <vip>/128 …)
 *
 * (upstream uses the same routes on a `minuteman` dummy device; this kernel has no dummy module and
 * `lo` does the same). Our routes carry routing protocol N (default 211) so they can be told from
 * anyone else's: a reconcile lists `ip route show table local proto N` and repairs only those, and
 * a local route somebody else owns for the same address (a VIP that is also a node address) is left
 * alone.
 *
 * Changes go through a long-lived `ip -force -batch -` process (one a namespace; started with the
 * first change, kept, not keeping the process alive): a change is its route lines followed by a
 * marker line that `ip` rejects ("Object … is unknown"); `ip` answers every failed line with
 * "Command failed -:<line number>" on stderr (unbuffered), so the marker's number ends the change
 * and numbers in between name the routes that failed, with the kernel's message printed before.
 * Starting `ip` for every change cost more than the change (a fork of a large Node process). A
 * route that fails (other than a local route somebody else holds) makes `sync` reject naming it,
 * after the rest of the batch went in; if `ip` dies, hangs or cannot start, the routes are read
 * back from the kernel (what went in before is known, not lost), the session is dropped (a new one
 * next time) and `sync` rejects naming the process and what it said.
 */
import type { ChildProcessWithoutNullStreams } from "node:child_process";
import { setIdle, spawnSession } from "./child-session";
import { Code, DcnetError, type Logger } from "@dcnet/core";
import { runCommand } from "./command";
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
  /**
   * The `src` of our routes: the source address the node's own connections to a VIP get.
   * - `"auto"` (default): per family, the address the kernel prefers for the default route
   *   (`ip route get` of a documentation address), read again by `load` and `reconcile`; none
   *   when there is no default route.
   * - addresses (at most one per family), or `"none"`: no `src`, so the kernel takes the VIP
   *   itself and the nft table's masquerade rewrites every packet of the connection.
   * With a `src` the node's address already is what masquerade would pick, so it changes nothing
   * and replies are not un-NAT-ed twice (bench/README.md `l4lb-nft`). A `src` the kernel refuses
   * (the address went away) is dropped for its family, with a warning, and the routes go in without.
   */
  source?: RouteSource;
}

export type RouteSource = "auto" | "none" | readonly string[];

export interface LocalRoutes {
  /** Reads our routes from the kernel (done by the first sync too; a change waits for a read still running). */
  load(): Promise<void>;
  /**
   * Makes our routes exactly `ips`: returns how many were added and removed. Rejects with a
   * {@link RoutesError} when a route could not be added or removed (the others are in).
   */
  sync(ips: Iterable<string>): Promise<{ added: number; removed: number }>;
  /**
   * Adds `add` to the routes wanted and takes `remove` from them, changing only those (what
   * `sync` does for a whole list, without walking it): for changes of a few addresses among many.
   */
  update(add: Iterable<string>, remove: Iterable<string>): Promise<{ added: number; removed: number }>;
  /** Reads the kernel and repairs what differs from the last sync; returns the repairs made. */
  reconcile(): Promise<number>;
  /** Ours as last known. */
  installed(): ReadonlySet<string>;
  /** Addresses skipped because another local route holds them. */
  conflicts(): ReadonlySet<string>;
  /** Ends the `ip -batch` session, if any (the next change starts a new one). */
  close(): void;
}

/** Routes that could not be changed, or the `ip` process that failed; `installed()` is what the kernel holds. */
export class RoutesError extends DcnetError {
  constructor(
    message: string,
    /** `route add|del local <prefix> …: <the kernel's answer>`, one per route that failed. */
    readonly failures: readonly string[],
  ) {
    super(Code.INTERNAL, message);
    this.name = "RoutesError";
  }
}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

async function run(file: string, args: readonly string[], input: string, timeoutMs: number): Promise<RunResult> {
  const r = await runCommand(file, args, { input, timeoutMs });
  if (r.error) throw r.error;
  return { code: r.code, stdout: r.stdout, stderr: r.stderr };
}

/** A route key: an address (its own /32 or /128) or a prefix `a.b.c.d/n` (route-cover.ts). */
const prefix = (key: string): string => (key.includes("/") ? key : `${key}/${familyOf(key) === 6 ? 128 : 32}`);

/** The route key of a kernel route's `dst`: the canonical address for a host route, else the canonical prefix. */
function keyOfDst(dst: string): string | undefined {
  const slash = dst.indexOf("/");
  if (slash < 0) return canonicalIp(dst);
  const ip = canonicalIp(dst.slice(0, slash));
  const len = dst.slice(slash + 1);
  if (ip === undefined) return undefined;
  return len === (familyOf(ip) === 6 ? "128" : "32") ? ip : `${ip}/${len}`;
}

/** A long-lived `ip -force -batch -` (see the file comment). Calls must not overlap. */
export interface BatchSession {
  /**
   * Runs the lines; resolves to the failed ones (index into `lines` → what `ip` said about it).
   * Rejects when the process failed (could not start, died, or did not answer in time); it is
   * then gone and the next call starts another.
   */
  run(lines: readonly string[]): Promise<Map<number, string>>;
  close(): void;
}

const MARKER = "dcnet-routes-sync";

export function startBatchSession(argv: readonly string[], timeoutMs: number): BatchSession {
  const command = argv.join(" ");
  let child: ChildProcessWithoutNullStreams | undefined;
  /** Lines written to the current process (ip numbers them from 1). */
  let sent = 0;
  let buf = "";
  let waiting: { first: number; marker: number; failed: Map<number, string>; said: string[]; done: (err?: Error) => void } | undefined;

  const scan = (): void => {
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      const w = waiting;
      if (!w || line === "") continue;
      const m = /^Command failed -:(\d+)$/.exec(line);
      if (!m) {
        w.said.push(line);
        continue;
      }
      const n = Number(m[1]);
      const said = w.said.join(" ");
      w.said = [];
      if (n === w.marker) w.done();
      else if (n >= w.first && n < w.marker) w.failed.set(n - w.first, said || line);
    }
  };
  const start = (): ChildProcessWithoutNullStreams => {
    sent = 0;
    buf = "";
    const c = spawnSession(
      argv,
      (d) => {
        buf += d;
        scan();
      },
      (why) => {
        if (child !== c) return;
        child = undefined;
        const said = [...(waiting?.said ?? []), buf.trim()].filter((x) => x !== "").join(" ");
        waiting?.done(new Error(`${command}: the ip process ended (${why})${said ? `: ${said}` : ""}`));
      },
    );
    return c;
  };

  return {
    run: (lines) =>
      new Promise((resolve, reject) => {
        const c = child ?? (child = start());
        const first = sent + 1;
        sent += lines.length + 1;
        const failed = new Map<number, string>();
        const timer = setTimeout(() => {
          w.done(new Error(`${command}: no answer within ${timeoutMs} ms`));
          if (child === c) child = undefined;
          c.kill("SIGKILL");
        }, timeoutMs);
        const w = {
          first,
          marker: sent,
          failed,
          said: [] as string[],
          done: (err?: Error): void => {
            clearTimeout(timer);
            if (waiting !== w) return;
            waiting = undefined;
            if (child === c) setIdle(c, true);
            if (err) reject(err);
            else resolve(failed);
          },
        };
        waiting = w;
        setIdle(c, false);
        c.stdin.write(lines.length === 0 ? `${MARKER}\n` : `${lines.join("\n")}\n${MARKER}\n`);
      }),
    close() {
      const c = child;
      child = undefined;
      c?.stdin.end();
    },
  };
}

export function createLocalRoutes(opts: RoutesOptions): LocalRoutes {
  const ipBin = opts.ip ?? "ip";
  const proto = opts.protocol ?? 211;
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const ns = opts.netns === undefined ? [] : ["-n", opts.netns];
  let ours = new Set<string>();
  /** The `src` of each of ours as the kernel holds it (absent: none). */
  const srcOf = new Map<string, string>();
  /** The `src` new routes get, per family (absent: none). */
  const source = new Map<4 | 6, string>();
  const fixedSource = opts.source ?? "auto";
  if (Array.isArray(fixedSource))
    for (const a of fixedSource as readonly string[]) {
      const c = canonicalIp(a);
      const fam = c === undefined ? undefined : familyOf(c);
      if (c === undefined || fam === undefined) throw new Error(`l4lb route source: not an IP address: ${JSON.stringify(a)}`);
      if (source.has(fam)) throw new Error(`l4lb route source: two IPv${fam} addresses (${source.get(fam)}, ${c})`);
      source.set(fam, c);
    }
  let wanted = new Set<string>();
  const conflicting = new Set<string>();
  let loaded = false;
  let session: BatchSession | undefined;

  const ip = async (args: string[], input = ""): Promise<RunResult> => run(ipBin, [...ns, ...args], input, timeoutMs);

  /** "auto": the preferred source of each family's default route (none without one). */
  const readSource = async (): Promise<void> => {
    if (fixedSource !== "auto") return;
    const probes = [
      [4, "192.0.2.1"],
      [6, "2001:db8::1"],
    ] as const;
    for (const [fam, probe] of probes) {
      const r = await ip([`-${fam}`, "-j", "route", "get", probe]);
      const src = r.code === 0 ? canonicalIp((JSON.parse(r.stdout) as { prefsrc?: string }[])[0]?.prefsrc ?? "") : undefined;
      if (src !== undefined && familyOf(src) === fam) source.set(fam, src);
      else source.delete(fam);
    }
  };

  /** Ours in the kernel, each with its `src` ("" for none). */
  const list = async (): Promise<Map<string, string>> => {
    const out = new Map<string, string>();
    const both = await Promise.all(
      ["-4", "-6"].map(async (fam) => ({ fam, r: await ip([fam, "-j", "route", "show", "table", "local", "proto", String(proto)]) })),
    );
    for (const { fam, r } of both) {
      if (r.code !== 0 && /table does not exist/i.test(r.stderr)) continue; // nothing local yet (a fresh namespace)
      if (r.code !== 0) throw new Error(`ip ${fam} route show table local proto ${proto}: ${r.stderr.trim()}`);
      const rows = r.stdout.trim() === "" ? [] : (JSON.parse(r.stdout) as { type?: string; dst?: string; prefsrc?: string }[]);
      for (const row of rows) {
        const dst = keyOfDst(row.dst ?? "");
        if (row.type === "local" && dst !== undefined) out.set(dst, canonicalIp(row.prefsrc ?? "") ?? "");
      }
    }
    return out;
  };
  /** Takes a kernel read as what is ours. */
  const adopt = (read: Map<string, string>): void => {
    ours = new Set(read.keys());
    srcOf.clear();
    for (const [a, src] of read) if (src !== "") srcOf.set(a, src);
  };
  const familyOfKey = (key: string): 4 | 6 => (key.includes(":") ? 6 : 4);
  /** One of ours whose `src` is not the one wanted now: replaced (deleted, added) by the next change. */
  const stale = (a: string): boolean => ours.has(a) && srcOf.get(a) !== source.get(familyOfKey(a));

  const addLine = (a: string): { line: string; src: string | undefined } => {
    const src = source.get(familyOfKey(a));
    return { line: `route add local ${prefix(a)} dev lo table local proto ${proto}${src ? ` src ${src}` : ""}`, src };
  };

  const apply = async (add: string[], del: string[]): Promise<{ added: number; removed: number }> => {
    const adds = add.map(addLine);
    const lines = [...del.map((a) => `route del local ${prefix(a)} dev lo table local proto ${proto}`), ...adds.map((x) => x.line)];
    if (lines.length === 0) return { added: 0, removed: 0 };
    session ??= startBatchSession([ipBin, ...ns, "-force", "-batch", "-"], timeoutMs);
    let failed: Map<number, string>;
    try {
      failed = await session.run(lines);
      // A src the kernel refuses ("Invalid prefsrc address": it is no longer the node's): that
      // family's routes go in without one, at once.
      const refused = add.filter((a, i) => /prefsrc/i.test(failed.get(del.length + i) ?? "") && adds[i]!.src !== undefined);
      if (refused.length > 0) {
        for (const fam of new Set(refused.map(familyOfKey))) {
          opts.logger.warn(
            { family: fam, src: source.get(fam) },
            "the kernel refuses this source address for VIP routes: added without one",
          );
          source.delete(fam);
        }
        const retried = await session.run(refused.map((a) => addLine(a).line));
        refused.forEach((a, j) => {
          const i = add.indexOf(a);
          const err = retried.get(j);
          adds[i] = addLine(a);
          if (err === undefined) failed.delete(del.length + i);
          else failed.set(del.length + i, err);
        });
      }
    } catch (err) {
      // The process failed part-way: which lines went in is not known, so ask the kernel.
      session = undefined;
      let reread = "";
      try {
        adopt(await list());
        for (const a of add) if (ours.has(a)) conflicting.delete(a);
      } catch (e) {
        reread = `; reading the routes back failed too (${(e as Error).message})`;
      }
      throw new RoutesError(`VIP routes: ${del.length} to remove and ${add.length} to add, and ${(err as Error).message}${reread}`, [
        (err as Error).message,
      ]);
    }
    let added = 0;
    let removed = 0;
    const failures: string[] = [];
    del.forEach((a, i) => {
      const err = failed.get(i);
      // "No such process": already gone.
      if (err === undefined || /No such process|not found/i.test(err)) {
        ours.delete(a);
        srcOf.delete(a);
        if (err === undefined) removed++;
      } else failures.push(`route del local ${prefix(a)}: ${err}`);
    });
    add.forEach((a, i) => {
      const err = failed.get(del.length + i);
      if (err === undefined) {
        ours.add(a);
        const src = adds[i]!.src;
        if (src === undefined) srcOf.delete(a);
        else srcOf.set(a, src);
        conflicting.delete(a);
        added++;
      } else if (/File exists/i.test(err)) {
        if (!conflicting.has(a)) opts.logger.warn({ ip: a }, "a local route for this VIP address exists and is not ours: left alone");
        conflicting.add(a);
      } else failures.push(`route add local ${prefix(a)}: ${err}`);
    });
    if (failures.length > 0) {
      const more = failures.length > 3 ? ` (and ${failures.length - 3} more)` : "";
      throw new RoutesError(`${failures.length} VIP route(s) failed: ${failures.slice(0, 3).join("; ")}${more}`, failures);
    }
    return { added, removed };
  };

  let loading: Promise<void> | undefined;
  /** One read at a time: a call while one runs gets that one. */
  const load = (): Promise<void> =>
    (loading ??= Promise.all([list(), readSource()]).then(
      ([read]) => {
        adopt(read);
        loaded = true;
        loading = undefined;
      },
      (err: unknown) => {
        loading = undefined;
        throw err;
      },
    ));
  /** Before a change: the first read, or one still running, must be in. */
  const ready = async (): Promise<void> => {
    if (loading || !loaded) await load();
  };

  return {
    load,
    async sync(ips) {
      await ready();
      wanted = new Set([...ips].map((a) => canonicalIp(a) ?? a));
      for (const a of conflicting) if (!wanted.has(a)) conflicting.delete(a);
      const add = [...wanted].filter((a) => !ours.has(a) || stale(a));
      const del = [...ours].filter((a) => !wanted.has(a) || stale(a));
      return apply(add, del);
    },
    async update(add, remove) {
      await ready();
      const adds: string[] = [];
      const dels: string[] = [];
      for (const x of remove) {
        const a = canonicalIp(x) ?? x;
        wanted.delete(a);
        conflicting.delete(a);
        if (ours.has(a)) dels.push(a);
      }
      for (const x of add) {
        const a = canonicalIp(x) ?? x;
        wanted.add(a);
        if (stale(a)) dels.push(a);
        if (!ours.has(a) || stale(a)) adds.push(a);
      }
      return apply(adds, dels);
    },
    async reconcile() {
      const [read] = await Promise.all([list(), readSource()]);
      adopt(read);
      loaded = true;
      const add = [...wanted].filter((a) => !ours.has(a) || stale(a));
      const del = [...ours].filter((a) => !wanted.has(a) || stale(a));
      const r = await apply(add, del);
      return r.added + r.removed;
    },
    installed: () => ours,
    conflicts: () => conflicting,
    close() {
      session?.close();
      session = undefined;
    },
  };
}
