/**
 * Drives `nft`: applies a rendered script as one transaction (`nft -f -`, script on stdin) and
 * reads our table back (`nft -j list table …`) into the data plane model, for the periodic
 * reconcile: `renderDelta(read.state, desired)` when the read is consistent, `renderFull(desired)`
 * when it is not.
 */
import { spawn } from "node:child_process";
import { Code, DcnetError } from "@dcnet/core";
import { dispatchChain, familyKey, vipEntryKey, type DataplaneState, type Endpoint, type FamilyState, type VipEntry } from "./dataplane";
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
}

export interface TableRead {
  state: DataplaneState;
  /** What does not fit the model (missing maps, orphan or missing slots); non-empty → rebuild with renderFull. */
  problems: string[];
}

export interface Nft {
  /** Applies a script atomically; rejects with an NftError carrying nft's message (it names the line). */
  apply(script: string): Promise<void>;
  /** `nft -j list table <family> <table>`, parsed; undefined when the table does not exist. */
  listTable(family: Family): Promise<FamilyState | undefined>;
  /** Both families, with problems found. */
  read(): Promise<TableRead>;
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

export function createNft(options: NftRunnerOptions = {}): Nft {
  const nft = options.nft ?? "nft";
  const table = options.table ?? DEFAULT_TABLE;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const exec = (args: string[], input = ""): Promise<string> =>
    options.netns === undefined
      ? run(nft, args, input, timeoutMs)
      : run("ip", ["netns", "exec", options.netns, nft, ...args], input, timeoutMs);

  const list = async (family: Family, problems: string[]): Promise<FamilyState | undefined> => {
    let out: string;
    try {
      out = await exec(["-j", "list", "table", family === 4 ? "ip" : "ip6", table]);
    } catch (err) {
      if (err instanceof NftError && /No such file or directory/i.test(err.stderr)) return undefined;
      throw err;
    }
    return parseTable(family, JSON.parse(out) as unknown, problems);
  };

  return {
    apply: async (script) => {
      if (script.trim() !== "") await exec(["-f", "-"], script);
    },
    listTable: (family) => list(family, []),
    read: async () => {
      const problems: string[] = [];
      const state: DataplaneState = {};
      for (const f of [4, 6] as const) {
        const fs = await list(f, problems);
        if (fs) state[familyKey(f)] = fs;
      }
      return { state, problems };
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
