/**
 * The socket LB (option of the nft driver): cgroup `connect4|6`, `sendmsg4|6`, `recvmsg4|6` and
 * `getpeername4|6` BPF programs (../bpf/sock-lb.c) that rewrite a connect() to a VIP (or a UDP
 * datagram sent to one) into a connect() to one of its backends, and show the VIP as the peer and
 * as the source of UDP replies, for the sockets of one cgroup (the node's processes). The
 * connection then exists only between client and backend: no DNAT, no per-packet re-route, no
 * masquerade (bench/README.md `l4lb-nft` measured what those cost). TCP and UDP, IPv4 and IPv6;
 * any VIP the maps do not hold goes on to the VIP's address and the nftables table balances it as
 * before — the socket LB only ever
 * shortcuts what the table would do, so the maps being empty, stale by one change or reloaded is
 * never an outage.
 *
 * Loading (`start`): the object the image ships (../bpf/sock-lb.o, compiled by the Dockerfile) is
 * used if it is not older than the source, else the program is compiled with clang (no libbpf
 * headers needed); it is loaded and
 * pinned with bpftool under `/sys/fs/bpf/<pin>` (bpffs mounted if it is not), and attached to the
 * cgroup (`multi`: other programs there keep running), then shown the node's network namespace
 * by a probe connect (`learnNetns`): sockets of other namespaces in the cgroup, bridge-mode tasks,
 * are left to the table. A program of ours left pinned by an earlier run is detached and replaced. Changes (`apply`): the same slots as the nft table (`slotsOf`:
 * weight 0 = no slot, drained), written as one `bpftool batch` per change: a changed VIP's slots
 * under a new id, then its `vips` entry, then the old slots deleted. bpftool stops a batch at the
 * first failed command, so after a failure the state is unknown: the maps are reloaded empty and
 * the whole table written again at the next apply.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Logger } from "@dcnet/core";
import { runCommand } from "./command";
import { slotsOf, type DataplaneVip, type Endpoint } from "./dataplane";
import { canonicalIp, familyOf, parseIp, type Family } from "./ip";

export interface SockLbOptions {
  /**
   * The cgroup (v2) whose sockets are balanced, e.g. `/sys/fs/cgroup` or `/sys/fs/cgroup/unified`,
   * or `auto`: the cgroup this process is in (`resolveCgroup`).
   */
  cgroup: string;
  /** Pin directory name under /sys/fs/bpf (default `dcnet_l4lb`). */
  pin?: string;
  /** The node's network namespace when it is not this process's (`ip netns exec`: tests, bench). */
  netns?: string;
  logger: Logger;
  clang?: string;
  bpftool?: string;
  /**
   * A compiled program to load instead of building ../bpf/sock-lb.c with clang. Default: the
   * image's `../bpf/sock-lb.o` (built by the Dockerfile) when it is not older than the source.
   */
  object?: string;
  timeoutMs?: number;
}

export interface SockLb {
  /** The cgroup directory the programs are attached to (`auto` resolved). */
  readonly cgroup: string;
  /** The pinned maps of each connected socket's VIP and backend, by socket cookie (sock-lb-udp.ts reads them). */
  readonly revnat: { readonly 4: string; readonly 6: string };
  /** The bpftool binary in use. */
  readonly bpftool: string;
  /** Makes the maps hold exactly the VIPs of `vips` that have a slot (IPv4 in `vips`, IPv6 in `vips6`). */
  apply(vips: readonly DataplaneVip[]): Promise<void>;
  /** VIPs in the maps (`ip:port/proto`), for tests. */
  installed(): ReadonlySet<string>;
  /** How many VIPs the maps hold (the status, the metric). */
  readonly size: number;
  /**
   * Checks that every program of ours is still pinned and attached to the cgroup; if one is not (someone detached
   * or unpinned it), loads it again with empty maps and resolves true: the next `apply` then
   * writes the whole table.
   */
  reconcile(): Promise<boolean>;
  /** Detaches the program and removes the pins. */
  close(): Promise<void>;
}

const SOURCE = path.resolve(__dirname, "..", "bpf", "sock-lb.c");
/** The attach types of the programs, each `dcnet_<type>` in ../bpf/sock-lb.c. */
const ATTACH_TYPES = ["connect4", "getpeername4", "sendmsg4", "recvmsg4", "connect6", "getpeername6", "sendmsg6", "recvmsg6"] as const;
/** The object the image's build stage compiles (Dockerfile), so the image needs no clang. */
const PREBUILT = path.resolve(__dirname, "..", "bpf", "sock-lb.o");
/** A UDP connect to 127.0.0.127:1 (sends nothing): the program learns the node's netns from it. */
const PROBE = `const s = require("node:dgram").createSocket("udp4"); s.connect(1, "127.0.0.127", () => s.close());`;
const BPFFS = "/sys/fs/bpf";

interface Run {
  code: number | null;
  out: string;
}

async function run(file: string, args: readonly string[], timeoutMs: number): Promise<Run> {
  const r = await runCommand(file, args, { timeoutMs });
  return { code: r.code, out: r.stdout + r.stderr };
}

const hex = (bytes: readonly number[]): string => bytes.map((b) => b.toString(16).padStart(2, "0")).join(" ");
const u32le = (n: number): number[] => [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, (n >>> 24) & 255];
/** An address's bytes in network order (4 or 16). */
function ipBytes(ip: string): number[] {
  const p = parseIp(ip);
  if (p === undefined) throw new Error(`socket LB: not an IP address: ${ip}`);
  const out: number[] = [];
  for (let i = (p.family === 4 ? 4 : 16) - 1; i >= 0; i--) out.push(Number((p.value >> BigInt(i * 8)) & 255n));
  return out;
}
const port16 = (p: number): number[] => [(p >> 8) & 255, p & 255];
const PROTO = { tcp: 6, udp: 17 } as const;

/** The `vips` (`vips6`) key of a VIP: address and port in network order, the IP protocol number. */
export function vipKeyHex(ip: string, port: number, protocol: "tcp" | "udp"): string {
  return hex([...ipBytes(ip), ...port16(port), PROTO[protocol], 0]);
}
/** A `vips` value: the id of its slots and how many. */
export function vipValueHex(id: number, slots: number): string {
  return hex([...u32le(id), ...u32le(slots)]);
}
export function slotKeyHex(id: number, slot: number): string {
  return hex([...u32le(id), ...u32le(slot)]);
}
/** A `slots` (`slots6`) value: the backend's address and port in network order. */
export function backendHex(e: Endpoint): string {
  return hex([...ipBytes(e.ip), ...port16(e.port), 0, 0]);
}

/** Where the cgroup v2 hierarchy is mounted (`/sys/fs/cgroup`, or `/sys/fs/cgroup/unified` on a hybrid host). */
export function cgroup2Mount(): string | undefined {
  for (const line of fs.readFileSync("/proc/mounts", "utf8").split("\n")) {
    const [, where, type] = line.split(" ");
    if (type === "cgroup2" && where) return where;
  }
  return undefined;
}

/** Where `auto` mounts a cgroup v2 hierarchy when none is mounted (a container on a cgroup v1 or hybrid host). */
const CGROUP2_MOUNT = "/run/dcnet/cgroup2";

/**
 * `auto`: the cgroup (v2) this process is in, under the mounted hierarchy (mounted at
 * /run/dcnet/cgroup2 first if none is). In a node container that is the container's cgroup, which
 * holds every process of the node (the agent's host-mode tasks too), and which the programs leave
 * with the container. On a host where the service runs in a cgroup of its own (systemd), name the
 * hierarchy's root (e.g. `/sys/fs/cgroup`) instead. Any other value is returned as it is.
 */
export async function resolveCgroup(spec: string, timeoutMs = 10_000): Promise<string> {
  if (spec !== "auto") return spec;
  const line = fs
    .readFileSync("/proc/self/cgroup", "utf8")
    .split("\n")
    .find((l) => l.startsWith("0::"));
  if (line === undefined) throw new Error("socket LB: cgroup auto: this process is in no cgroup v2 (no 0:: line in /proc/self/cgroup)");
  let mount = cgroup2Mount();
  if (mount === undefined) {
    fs.mkdirSync(CGROUP2_MOUNT, { recursive: true });
    const m = await run("mount", ["-t", "cgroup2", "none", CGROUP2_MOUNT], timeoutMs);
    if (m.code !== 0) throw new Error(`socket LB: cgroup auto: mounting cgroup2 on ${CGROUP2_MOUNT}: ${m.out.trim()}`);
    mount = CGROUP2_MOUNT;
  }
  return path.join(mount, line.slice(3).trim());
}

/** The prebuilt object when it is there and not older than the source; undefined: build it. */
function prebuilt(): string | undefined {
  const o = fs.statSync(PREBUILT, { throwIfNoEntry: false });
  const c = fs.statSync(SOURCE, { throwIfNoEntry: false });
  return o && (!c || o.mtimeMs >= c.mtimeMs) ? PREBUILT : undefined;
}

/** The include directory of the kernel's asm headers for this architecture (Debian multiarch). */
function asmIncludes(): string[] {
  const triplet = { x64: "x86_64-linux-gnu", arm64: "aarch64-linux-gnu" }[process.arch as string];
  return triplet ? [`-I/usr/include/${triplet}`] : [];
}

interface Installed {
  family: Family;
  /** Its `vips` key. */
  key: string;
  id: number;
  /** The slots, `ip:port` joined, to compare. */
  sig: string;
  count: number;
}

/** What a VIP is in the maps: its name (`ip:port/proto`), `vips` key and slots; null when none (no slot). */
interface Wanted {
  family: Family;
  name: string;
  key: string;
  sig: string;
  slots: Endpoint[];
}

function wantedOf(v: DataplaneVip): Wanted | null {
  const ip = canonicalIp(v.ip);
  const family = ip === undefined ? undefined : familyOf(ip);
  if (ip === undefined || family === undefined) return null;
  const slots = slotsOf(v.backends, family);
  if (slots.length === 0) return null;
  return {
    family,
    name: family === 4 ? `${ip}:${v.port}/${v.protocol}` : `[${ip}]:${v.port}/${v.protocol}`,
    key: vipKeyHex(ip, v.port, v.protocol),
    sig: slots.map((e) => `${e.ip}:${e.port}`).join(","),
    slots,
  };
}

export async function startSockLb(opts: SockLbOptions): Promise<SockLb> {
  const clang = opts.clang ?? "clang";
  const bpftool = opts.bpftool ?? "bpftool";
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const pinDir = path.join(BPFFS, opts.pin ?? "dcnet_l4lb");
  const progsPin = path.join(pinDir, "progs");
  /** Our programs by attach type, pinned under their function names (`dcnet_<type>` in ../bpf/sock-lb.c). */
  const progs = Object.fromEntries(ATTACH_TYPES.map((t) => [t, path.join(progsPin, `dcnet_${t}`)]));
  const mapsPin = path.join(pinDir, "maps");
  const maps = {
    4: { vips: path.join(mapsPin, "vips"), slots: path.join(mapsPin, "slots") },
    6: { vips: path.join(mapsPin, "vips6"), slots: path.join(mapsPin, "slots6") },
  };
  /** The ids of the programs the last load attached, for reconcile. */
  let loadedIds: number[] = [];
  const tool = async (args: string[]): Promise<string> => {
    const r = await run(bpftool, args, timeoutMs);
    if (r.code !== 0) throw new Error(`bpftool ${args.slice(0, 4).join(" ")}: ${r.out.trim() || `exit ${String(r.code)}`}`);
    return r.out;
  };
  const cgroup = await resolveCgroup(opts.cgroup, timeoutMs);
  if (!fs.statSync(cgroup, { throwIfNoEntry: false })?.isDirectory()) throw new Error(`socket LB: cgroup ${cgroup} is not a directory`);

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dcnet-sock-lb-"));
  let object = opts.object ?? prebuilt();
  if (object === undefined) {
    object = path.join(tmp, "sock-lb.o");
    const built = await run(clang, ["-O2", "-g", "-target", "bpf", ...asmIncludes(), "-c", SOURCE, "-o", object], timeoutMs);
    if (built.code !== 0) {
      fs.rmSync(tmp, { recursive: true, force: true });
      throw new Error(`socket LB: ${clang} could not build ${SOURCE}: ${built.out.trim()}`);
    }
  }
  if ((await run("mountpoint", ["-q", BPFFS], timeoutMs)).code !== 0) {
    const m = await run("mount", ["-t", "bpf", "bpf", BPFFS], timeoutMs);
    if (m.code !== 0) throw new Error(`socket LB: mounting bpffs on ${BPFFS}: ${m.out.trim()}`);
  }

  const unload = async (): Promise<void> => {
    for (const [type, pin] of Object.entries(progs))
      if (fs.existsSync(pin)) await run(bpftool, ["cgroup", "detach", cgroup, type, "pinned", pin], timeoutMs);
    fs.rmSync(pinDir, { recursive: true, force: true });
  };
  /** The program's `learn` flag (`config[0]`, a little-endian u32). */
  const setLearn = (on: boolean): Promise<string> => {
    const [key, value] = ["00 00 00 00", on ? "01 00 00 00" : "00 00 00 00"].map((h) => h.split(" "));
    return tool(["map", "update", "pinned", path.join(mapsPin, "config"), "key", "hex", ...key!, "value", "hex", ...value!]);
  };
  /**
   * The node's network namespace is the one balanced: a UDP connect to the probe address from a
   * process in the cgroup (moved there unless the cgroup is `auto`, ours), in that namespace, while
   * `learn` is on. Sockets of other
   * namespaces in the cgroup (bridge-mode tasks) are then left to the nft table, whose masquerade
   * they need.
   */
  const learnNetns = async (): Promise<void> => {
    await setLearn(true);
    try {
      const probe = [process.execPath, "-e", PROBE];
      const inNs = opts.netns === undefined ? probe : ["ip", "netns", "exec", opts.netns, ...probe];
      // With `auto` the probe, our child, is in the cgroup already: not moving it works where the
      // hierarchy is mounted read-only (a container with its own cgroup namespace).
      const r =
        opts.cgroup === "auto"
          ? await run(inNs[0]!, inNs.slice(1), timeoutMs)
          : await run("sh", ["-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', cgroup, ...inNs], timeoutMs);
      if (r.code !== 0) throw new Error(`socket LB: the netns probe failed: ${r.out.trim()}`);
    } finally {
      await setLearn(false);
    }
    const seen = JSON.parse((await tool(["-j", "map", "dump", "pinned", path.join(mapsPin, "netns")])).trim() || "[]") as unknown[];
    if (seen.length === 0) throw new Error(`socket LB: the program did not see the netns probe (is it attached to ${cgroup}?)`);
  };
  /** A fresh program with empty maps, attached (what an earlier run left is replaced). */
  const load = async (): Promise<void> => {
    await unload();
    fs.mkdirSync(pinDir, { recursive: true });
    await tool(["prog", "loadall", object, progsPin, "pinmaps", mapsPin]);
    loadedIds = [];
    for (const [type, pin] of Object.entries(progs)) {
      await tool(["cgroup", "attach", cgroup, type, "pinned", pin, "multi"]);
      loadedIds.push((JSON.parse(await tool(["-j", "prog", "show", "pinned", pin])) as { id: number }).id);
    }
    await learnNetns();
  };
  try {
    await load();
  } catch (err) {
    await unload();
    fs.rmSync(tmp, { recursive: true, force: true });
    throw err;
  }

  let installed = new Map<string, Installed>();
  // The service passes the same object for a VIP that did not change: its slots are not worked
  // out again (10,000 VIPs: ~2 ms a change instead of ~100 ms).
  const known = new WeakMap<DataplaneVip, Wanted | null>();
  let nextId = 1;
  let fresh = false; // the maps were just reloaded: everything must be written again
  const batchFile = path.join(tmp, "batch");

  const apply = async (vips: readonly DataplaneVip[]): Promise<void> => {
    const want = new Map<string, Wanted>();
    for (const v of vips) {
      let w = known.get(v);
      if (w === undefined) known.set(v, (w = wantedOf(v)));
      if (w !== null) want.set(w.name, w);
    }
    const adds: string[] = [];
    const points: string[] = [];
    const drops: string[] = [];
    const next = new Map<string, Installed>();
    for (const [name, w] of want) {
      const sig = w.sig;
      const had = fresh ? undefined : installed.get(name);
      if (had && had.sig === sig) {
        next.set(name, had);
        continue;
      }
      const id = nextId;
      nextId = nextId >= 0xfffffff0 ? 1 : nextId + 1;
      const m = maps[w.family];
      w.slots.forEach((e, i) => adds.push(`map update pinned ${m.slots} key hex ${slotKeyHex(id, i)} value hex ${backendHex(e)}`));
      points.push(`map update pinned ${m.vips} key hex ${w.key} value hex ${vipValueHex(id, w.slots.length)}`);
      next.set(name, { family: w.family, key: w.key, id, sig, count: w.slots.length });
      if (had) for (let i = 0; i < had.count; i++) drops.push(`map delete pinned ${m.slots} key hex ${slotKeyHex(had.id, i)}`);
    }
    if (!fresh)
      for (const [name, had] of installed) {
        if (want.has(name)) continue;
        const m = maps[had.family];
        drops.push(`map delete pinned ${m.vips} key hex ${had.key}`);
        for (let i = 0; i < had.count; i++) drops.push(`map delete pinned ${m.slots} key hex ${slotKeyHex(had.id, i)}`);
      }
    const lines = [...adds, ...points, ...drops];
    if (lines.length > 0) {
      fs.writeFileSync(batchFile, `${lines.join("\n")}\n`);
      const r = await run(bpftool, ["batch", "file", batchFile], timeoutMs);
      if (r.code !== 0) {
        // Which commands ran is not known: start over with empty maps (connects fall through to nft meanwhile).
        installed = new Map();
        fresh = true;
        await load().catch((err: unknown) => opts.logger.warn({ err: (err as Error).message }, "socket LB: reloading failed"));
        throw new Error(`socket LB: bpftool batch of ${lines.length} commands failed: ${r.out.trim().split("\n").slice(-2).join(" ")}`);
      }
    }
    installed = next;
    fresh = false;
  };

  return {
    cgroup,
    revnat: { 4: path.join(mapsPin, "revnat"), 6: path.join(mapsPin, "revnat6") },
    bpftool,
    apply,
    installed: () => new Set(installed.keys()),
    get size() {
      return installed.size;
    },
    async reconcile() {
      // Every program still pinned (close detaches through the pins) and attached.
      const shown = await run(bpftool, ["-j", "cgroup", "show", cgroup], timeoutMs);
      const attached = new Set(shown.code === 0 ? (JSON.parse(shown.out.trim() || "[]") as { id?: number }[]).map((p) => p.id) : []);
      if (Object.values(progs).every((pin) => fs.existsSync(pin)) && loadedIds.every((id) => attached.has(id))) return false;
      opts.logger.warn({ cgroup }, "socket LB: a program of ours is no longer attached or pinned: loading them again");
      installed = new Map();
      fresh = true;
      await load();
      return true;
    },
    async close() {
      await unload();
      fs.rmSync(tmp, { recursive: true, force: true });
    },
  };
}
