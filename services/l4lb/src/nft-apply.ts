/**
 * Drives `nft`: applies a rendered script as one transaction and reads our table back
 * (`nft -j list table …`) into the data plane model, for the periodic reconcile:
 * `renderDelta(read.state, desired)` when the read is consistent, `renderFull(desired)` when it is not.
 *
 * A script is applied by `nft -f -` (script on stdin), or, with `session: true`, by a long-lived
 * `nft -i` process: the script is written to a private file and the session is sent
 * `include "<file>"` — one input line, so one transaction, as with `-f` — followed by a marker line
 * that nft rejects as a syntax error; nft's stderr up to that error is the transaction's outcome.
 * Why: a process per change costs more than the change. Starting nft (and forking a Node process
 * with a large heap) takes a few ms, and closing nft's netlink socket after a transaction that
 * deleted elements waits for an RCU grace period in the kernel (the deleted elements are freed
 * then): ~10–20 ms here, paid by every `nft -f` that deletes an element, and not at all by a
 * session that keeps its socket. The include file keeps long scripts off nft's line editor
 * (libedit), which is slow with long lines. If the session does not answer its first marker, or
 * dies, or times out, it is dropped and `nft -f -` is used (a broken session is restarted at most
 * once a minute).
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { setIdle, spawnSession } from "./child-session";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Code, DcnetError } from "@dcnet/core";
import { dispatchChain, vipEntryKey, type DataplaneState, type Endpoint, type FamilyState, type VipEntry } from "./dataplane";
import { canonicalIp, type Family } from "./ip";
import { DEFAULT_TABLE } from "./nft-render";
import type { Protocol } from "./vip-key";

export class NftError extends DcnetError {
  constructor(
    readonly command: string,
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(Code.INTERNAL, `${command} failed${exitCode === null ? "" : ` (exit ${exitCode})`}: ${stderr.trim() || "no output"}`);
    this.name = "NftError";
  }
}

export interface NftRunnerOptions {
  /** Run inside this network namespace (`ip netns exec <netns> nft …`). */
  netns?: string;
  /** The nft binary (default `nft` on the PATH). */
  nft?: string;
  /** Per call (default 10 s). */
  timeoutMs?: number;
  /** Table name (default `dcnet_l4lb`). */
  table?: string;
  /** Apply through a long-lived `nft -i` session (default false: one `nft -f -` per script). */
  session?: boolean;
}

/** One chain as `nft -j list table` shows it: its hook (base chains) and each rule's `expr` as JSON text. */
export interface ChainRead {
  base?: { type: unknown; hook: unknown; prio: unknown; policy: unknown };
  rules: string[];
}

export interface TableRead {
  state: DataplaneState;
  /** What does not fit the model (missing maps, orphan or missing slots); non-empty → rebuild with renderFull. */
  problems: string[];
  /** Each family's chains by name (families whose table exists), for the rule check (nft-drift.ts). */
  chains: Partial<Record<"ipv4" | "ipv6", Map<string, ChainRead>>>;
}

export interface Nft {
  /** Applies a script atomically; rejects with an NftError carrying nft's message (it names the line). */
  apply(script: string): Promise<void>;
  /**
   * Applies each script as its own transaction, all at once (one `nft -f -` each: nft parses them on
   * several CPUs; the kernel commits them one after the other). A function is rendered just before
   * its nft starts, so rendering the next overlaps with nft reading the previous. Rejects when any
   * failed, after all ended.
   */
  applyConcurrently(scripts: readonly (string | (() => string))[]): Promise<void>;
  /**
   * Applies each script as its own transaction, in order, through up to `lanes` sessions at once
   * (the session and `lanes - 1` more started for the call): each lane takes the next script when
   * its previous one is in, so nft parses on `lanes` CPUs while every nft process stays small (a
   * transaction of a few thousand elements: nft's memory is reused from one to the next instead
   * of growing to hundreds of MB, which the kernel pays for in page faults). A function is
   * rendered when a lane takes it. The first failure stops the lanes taking more and rejects
   * naming the part (the parts already applied stay applied).
   */
  applyParts(scripts: readonly (string | (() => string))[], lanes: number): Promise<void>;
  /** `nft -j list table <family> <table>`, parsed; undefined when the table does not exist. */
  listTable(family: Family): Promise<FamilyState | undefined>;
  /** Both families, with problems found. */
  read(): Promise<TableRead>;
  /**
   * Applies `script` (a table named `probeTable` of regular chains: nft-render `renderRuleProbe`),
   * reads that table's chains back and deletes it: the rules as this kernel and nft show them.
   */
  probeChains(family: Family, probeTable: string, script: string): Promise<Map<string, ChainRead>>;
  /** Ends the session, if any (apply still works afterwards, with `nft -f -`). */
  close(): void;
}

function run(file: string, args: readonly string[], input: string, timeoutMs: number): Promise<string> {
  const command = [file, ...args].join(" ");
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ["pipe", "pipe", "pipe"], timeout: timeoutMs, killSignal: "SIGKILL" });
    const out: Buffer[] = [];
    let err = "";
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
    child.on("error", (e) => reject(new NftError(command, null, e.message)));
    child.on("close", (code, signal) => {
      if (code === 0) resolve(Buffer.concat(out).toString("utf8"));
      else reject(new NftError(command, code, signal ? `killed by ${signal} (timeout?) ${err}` : err));
    });
    child.stdin.on("error", () => undefined);
    child.stdin.end(input);
  });
}

/** A long-lived `nft -i`: see the file comment. Calls must not overlap (createNft serialises them). */
interface Session {
  /**
   * Resolves to nft's error text when the transaction failed (nothing applied), undefined when it
   * was applied; rejects when the session is broken.
   */
  run(script: string): Promise<string | undefined>;
  close(): void;
}

const MARKER = "dcnet-nft-sync-";

/** Session directories still there, removed when the process exits (one hook for all sessions). */
const sessionDirs = new Set<string>();
let exitHooked = false;
function removeOnExit(dir: string): void {
  sessionDirs.add(dir);
  if (exitHooked) return;
  exitHooked = true;
  process.once("exit", () => {
    for (const d of sessionDirs) fs.rmSync(d, { recursive: true, force: true });
  });
}

function startSession(argv: readonly string[], timeoutMs: number): Session | undefined {
  let dir: string;
  try {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "dcnet-nft-"));
  } catch {
    return undefined;
  }
  const file = path.join(dir, "tx.nft");
  // nft's include takes a quoted path (and treats glob characters specially).
  if (!/^[A-Za-z0-9_./-]+$/.test(file)) {
    fs.rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
  removeOnExit(dir);
  const command = `${argv.join(" ")} -i`;
  let child: ChildProcessWithoutNullStreams | undefined;
  let buf = "";
  let seq = 0;
  let waiting: { marker: string; done: (out: string | undefined, broken?: Error) => void } | undefined;

  const scan = (): void => {
    if (!waiting) return;
    const at = buf.indexOf(`\n${waiting.marker}\n`);
    if (at < 0) return;
    const end = buf.indexOf("\n", at + waiting.marker.length + 2); // the caret line under the marker
    if (end < 0) return;
    const before = buf.slice(0, at + 1);
    buf = buf.slice(end + 1);
    // Drop nft's "Error: syntax error…" line about the marker; what is left is the transaction's
    // (nft reports a failed transaction with "Error:"; anything else there is a warning).
    const out = before.slice(0, before.lastIndexOf("\n", before.length - 2) + 1);
    waiting.done(/\bError:/.test(out) ? out : undefined);
  };
  const start = (): ChildProcessWithoutNullStreams => {
    buf = "";
    const c = spawnSession(
      [...argv, "-i"],
      (d) => {
        buf += d;
        scan();
      },
      (why) => {
        if (child === c) child = undefined;
        waiting?.done(undefined, new NftError(command, c.exitCode, `the nft session ended (${why}) ${buf}`.trim()));
      },
    );
    return c;
  };
  const send = (c: ChildProcessWithoutNullStreams, line: string, limitMs = timeoutMs): Promise<string | undefined> =>
    new Promise((resolve, reject) => {
      const marker = `${MARKER}${++seq}`;
      const timer = setTimeout(() => {
        c.kill("SIGKILL");
        w.done(undefined, new NftError(command, null, `no answer within ${limitMs} ms`));
      }, limitMs);
      const w = {
        marker,
        done: (out: string | undefined, broken?: Error): void => {
          clearTimeout(timer);
          if (waiting === w) waiting = undefined;
          if (child === c) setIdle(c, true);
          if (broken) reject(broken);
          else resolve(out);
        },
      };
      waiting = w;
      setIdle(c, false);
      c.stdin.write(`${line}\n${marker}\n`);
    });

  /** Starts nft and sends a marker alone: proves that this nft answers the way the session expects. */
  const open = (): { c: ChildProcessWithoutNullStreams; ready: Promise<void> } => {
    const c = (child = start());
    const ready = send(c, "", Math.min(timeoutMs, 3000)).then(
      (out) => {
        if (out === undefined) return;
        c.kill("SIGKILL");
        throw new NftError(command, null, `unexpected answer: ${out}`);
      },
      (err: unknown) => {
        c.kill("SIGKILL");
        throw err;
      },
    );
    ready.catch(() => undefined);
    return { c, ready };
  };
  // Started at once, so that nft's start overlaps with whatever the caller does before its first script.
  let opened = open();

  return {
    async run(script) {
      if (!child || opened.c !== child) opened = open();
      await opened.ready;
      fs.writeFileSync(file, script);
      return send(opened.c, `include "${file}"`);
    },
    close() {
      child?.stdin.end();
      child = undefined;
      sessionDirs.delete(dir);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function createNft(options: NftRunnerOptions = {}): Nft {
  const nft = options.nft ?? "nft";
  const table = options.table ?? DEFAULT_TABLE;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const exec = (args: string[], input = ""): Promise<string> =>
    options.netns === undefined
      ? run(nft, args, input, timeoutMs)
      : run("ip", ["netns", "exec", options.netns, nft, ...args], input, timeoutMs);

  const list = async (
    family: Family,
    problems: string[],
    chains?: Map<string, ChainRead>,
    name = table,
  ): Promise<FamilyState | undefined> => {
    let out: string;
    try {
      out = await exec(["-j", "list", "table", family === 4 ? "ip" : "ip6", name]);
    } catch (err) {
      if (err instanceof NftError && /No such file or directory/i.test(err.stderr)) return undefined;
      throw err;
    }
    const json = JSON.parse(out) as unknown;
    if (chains) for (const [k, v] of readChains(json)) chains.set(k, v);
    return parseTable(family, json, problems);
  };

  const argv = options.netns === undefined ? [nft] : ["ip", "netns", "exec", options.netns, nft];
  // Started now: nft starting overlaps with what the caller does before its first script.
  let session: Session | undefined = options.session ? startSession(argv, timeoutMs) : undefined;
  let sessionBrokenAt = Number.NEGATIVE_INFINITY;
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const p = queue.then(fn);
    queue = p.catch(() => undefined);
    return p;
  };
  const viaSession = async (script: string): Promise<void> => {
    if (!session && options.session && Date.now() - sessionBrokenAt > 60_000) session = startSession(argv, timeoutMs);
    if (!session) return void (await exec(["-f", "-"], script));
    let failed: string | undefined;
    try {
      failed = await session.run(script);
    } catch {
      // The session is broken (not nft refusing the script): drop it, and this script goes through nft -f.
      session.close();
      session = undefined;
      sessionBrokenAt = Date.now();
      return void (await exec(["-f", "-"], script));
    }
    if (failed !== undefined) throw new NftError(`${argv.join(" ")} -i (include)`, 1, failed);
  };

  return {
    apply: (script) =>
      serial(async () => {
        if (script.trim() !== "") await viaSession(script);
      }),
    applyParts: (scripts, lanes) =>
      serial(async () => {
        let next = 0;
        let failure: unknown;
        const total = scripts.length;
        const take = (): { i: number; text: string } | undefined => {
          while (failure === undefined && next < total) {
            const i = next++;
            const s = scripts[i]!;
            const text = typeof s === "function" ? s() : s;
            if (text.trim() !== "") return { i, text };
          }
          return undefined;
        };
        const named = (i: number, err: unknown): unknown =>
          err instanceof NftError ? new NftError(`${err.command} (part ${i + 1} of ${total})`, err.exitCode, err.stderr) : err;
        const lane = async (apply: (text: string) => Promise<void>): Promise<void> => {
          for (let part = take(); part; part = take()) {
            try {
              await apply(part.text);
            } catch (err) {
              failure ??= named(part.i, err);
            }
          }
        };
        const extra: Session[] = [];
        const n = Math.max(1, Math.min(Math.floor(lanes), total));
        let plainLanes = 0;
        for (let k = 1; k < n; k++) {
          const x = options.session ? startSession(argv, timeoutMs) : undefined;
          if (x) extra.push(x);
          else plainLanes++;
        }
        const viaExtra =
          (x: Session) =>
          async (text: string): Promise<void> => {
            let failed: string | undefined;
            try {
              failed = await x.run(text);
            } catch {
              return void (await exec(["-f", "-"], text)); // that session broke: this part alone through nft -f
            }
            if (failed !== undefined) throw new NftError(`${argv.join(" ")} -i (include)`, 1, failed);
          };
        // A lane without a session is a run of `nft -f -` processes.
        const plain = async (text: string): Promise<void> => void (await exec(["-f", "-"], text));
        const lanesRun = [lane(viaSession), ...extra.map((x) => lane(viaExtra(x)))];
        for (let k = 0; k < plainLanes; k++) lanesRun.push(lane(plain));
        try {
          await Promise.all(lanesRun);
        } finally {
          for (const x of extra) x.close();
        }
        if (failure !== undefined) throw failure;
      }),
    applyConcurrently: async (scripts) => {
      const running: Promise<string>[] = [];
      for (const s of scripts) {
        const text = typeof s === "function" ? s() : s;
        if (text.trim() !== "") running.push(exec(["-f", "-"], text));
        await new Promise((r) => setImmediate(r)); // let that nft start before rendering the next
      }
      const results = await Promise.allSettled(running);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed) throw failed.reason;
    },
    close: () => {
      session?.close();
      session = undefined;
    },
    listTable: (family) => list(family, []),
    read: async () => {
      // Both families at once; problems in family order.
      const p4: string[] = [];
      const p6: string[] = [];
      const c4 = new Map<string, ChainRead>();
      const c6 = new Map<string, ChainRead>();
      const [fs4, fs6] = await Promise.all([list(4, p4, c4), list(6, p6, c6)]);
      const state: DataplaneState = {};
      const chains: TableRead["chains"] = {};
      if (fs4) {
        state.ipv4 = fs4;
        chains.ipv4 = c4;
      }
      if (fs6) {
        state.ipv6 = fs6;
        chains.ipv6 = c6;
      }
      return { state, problems: [...p4, ...p6], chains };
    },
    probeChains: async (family, probeTable, script) => {
      const fam = family === 4 ? "ip" : "ip6";
      try {
        await exec(["-f", "-"], script);
        const chains = new Map<string, ChainRead>();
        await list(family, [], chains, probeTable);
        return chains;
      } finally {
        await exec(["delete", "table", fam, probeTable]).catch(() => undefined);
      }
    },
  };
}

type J = Record<string, unknown>;
const isObj = (x: unknown): x is J => typeof x === "object" && x !== null && !Array.isArray(x);
const PROTO: Record<string, Protocol> = { tcp: "tcp", udp: "udp", "6": "tcp", "17": "udp" };

/** An element of a set/map listing: `[key, value]`, possibly with the key wrapped in `{elem: {val}}`. */
function unwrap(x: unknown): unknown {
  return isObj(x) && isObj(x["elem"]) ? x["elem"]["val"] : x;
}

function concat(x: unknown): unknown[] | undefined {
  const v = unwrap(x);
  return isObj(v) && Array.isArray(v["concat"]) ? (v["concat"] as unknown[]) : undefined;
}

/** Every chain of a `nft -j list table` output by name, with its hook and its rules' expressions (JSON text, in order). */
export function readChains(json: unknown): Map<string, ChainRead> {
  const items = isObj(json) && Array.isArray(json["nftables"]) ? (json["nftables"] as unknown[]) : [];
  const out = new Map<string, ChainRead>();
  const get = (name: string): ChainRead => {
    let c = out.get(name);
    if (!c) out.set(name, (c = { rules: [] }));
    return c;
  };
  for (const it of items) {
    if (!isObj(it)) continue;
    const ch = it["chain"];
    if (isObj(ch) && typeof ch["name"] === "string") {
      const c = get(ch["name"]);
      if (ch["hook"] !== undefined) c.base = { type: ch["type"], hook: ch["hook"], prio: ch["prio"], policy: ch["policy"] };
    }
    const r = it["rule"];
    if (isObj(r) && typeof r["chain"] === "string") get(r["chain"]).rules.push(JSON.stringify(r["expr"] ?? null));
  }
  return out;
}

/** The model of one family's table from `nft -j list table` output; what does not fit goes to `problems`. */
export function parseTable(family: Family, json: unknown, problems: string[]): FamilyState {
  const items = isObj(json) && Array.isArray(json["nftables"]) ? (json["nftables"] as unknown[]) : [];
  const maps = new Map<string, unknown[]>();
  const chains = new Set<string>();
  for (const it of items) {
    if (!isObj(it)) continue;
    const m = it["map"];
    if (isObj(m) && typeof m["name"] === "string") maps.set(m["name"], Array.isArray(m["elem"]) ? (m["elem"] as unknown[]) : []);
    const ch = it["chain"];
    if (isObj(ch) && typeof ch["name"] === "string") chains.add(ch["name"]);
  }
  const fam = family === 4 ? "ip" : "ip6";
  for (const need of ["vips", "backends_tcp", "backends_udp"]) if (!maps.has(need)) problems.push(`${fam}: map ${need} is missing`);
  for (const need of ["prerouting", "output", "postrouting", "reject_tcp", "reject_udp"])
    if (!chains.has(need)) problems.push(`${fam}: chain ${need} is missing`);

  const fs: FamilyState = { vips: new Map(), slotChains: new Set() };
  for (const name of chains) if (/^(tcp|udp)_slots_[0-9]+$/.test(name)) fs.slotChains.add(name);
  const targets = new Map<string, string>();
  for (const pair of maps.get("vips") ?? []) {
    const [k, v] = Array.isArray(pair) ? pair : [];
    const key = concat(k);
    const target = isObj(v) && isObj(v["goto"]) ? v["goto"]["target"] : undefined;
    const ip = typeof key?.[0] === "string" ? canonicalIp(key[0]) : undefined;
    const protocol = PROTO[String(key?.[1])];
    const port = key?.[2];
    if (ip === undefined || !protocol || typeof port !== "number" || typeof target !== "string") {
      problems.push(`${fam}: unreadable vips element ${JSON.stringify(pair)}`);
      continue;
    }
    const entry: VipEntry = { protocol, ip, port, slots: [] };
    fs.vips.set(vipEntryKey(entry), entry);
    targets.set(vipEntryKey(entry), target);
  }
  const slots = new Map<string, Map<number, Endpoint>>();
  for (const protocol of ["tcp", "udp"] as const) {
    for (const pair of maps.get(`backends_${protocol}`) ?? []) {
      const [k, v] = Array.isArray(pair) ? pair : [];
      const key = concat(k);
      const val = concat(v);
      const ip = typeof key?.[0] === "string" ? canonicalIp(key[0]) : undefined;
      const bip = typeof val?.[0] === "string" ? canonicalIp(val[0]) : undefined;
      if (
        ip === undefined ||
        typeof key?.[1] !== "number" ||
        typeof key[2] !== "number" ||
        bip === undefined ||
        typeof val?.[1] !== "number"
      ) {
        problems.push(`${fam}: unreadable backends_${protocol} element ${JSON.stringify(pair)}`);
        continue;
      }
      const vk = vipEntryKey({ protocol, ip, port: key[1] });
      let m = slots.get(vk);
      if (!m) slots.set(vk, (m = new Map()));
      m.set(key[2], { ip: bip, port: val[1] });
    }
  }
  for (const [vk, m] of slots) {
    const entry = fs.vips.get(vk);
    if (!entry) {
      problems.push(`${fam}: backends for ${vk}, which is not in vips`);
      continue;
    }
    for (let i = 0; i < m.size; i++) {
      const e = m.get(i);
      if (!e) {
        problems.push(`${fam}: ${vk} has slots that are not 0…${m.size - 1}`);
        break;
      }
      entry.slots.push(e);
    }
  }
  for (const [vk, entry] of fs.vips) {
    const want = dispatchChain(entry);
    const target = targets.get(vk);
    if (target !== want) problems.push(`${fam}: ${vk} goes to ${target} but has ${entry.slots.length} slots`);
    else if (entry.slots.length > 0 && !fs.slotChains.has(want)) problems.push(`${fam}: chain ${want} is missing`);
  }
  return fs;
}
