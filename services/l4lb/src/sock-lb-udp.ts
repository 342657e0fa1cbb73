/**
 * Connected UDP sockets the socket LB pointed at a backend that has left its VIP. A `connect()` to
 * a UDP VIP is rewritten once, at connect time, into a connect to one backend: the kernel then
 * sends every datagram of that socket there, with no conntrack entry that udp-flows.ts could
 * delete. When the backend goes (scaled down, killed, its agent dead) such a socket would keep
 * sending into the void for as long as the application keeps it.
 *
 * So, for a removed (VIP, backend) pair, the node's connected UDP sockets whose peer is that
 * backend are listed (`ss -e`, which gives each socket's cookie), and those the program rewrote
 * from that VIP — its `revnat` map holds the cookie with exactly that VIP and backend — are
 * aborted with `ss -K` (SOCK_DESTROY): the kernel disconnects the socket with ECONNABORTED pending,
 * so the application's next send fails (EDESTADDRREQ) or its receive reports ECONNABORTED, and it
 * connects again, to a live backend. A socket connected to the backend's
 * address directly (not through the VIP) is left alone. This is what Cilium's socket LB does for
 * the same reason (its "socket termination").
 */
import { failureText, runCommand } from "./command";
import { backendHex } from "./sock-lb";
import { canonicalIp, familyOf } from "./ip";
import type { StaleFlow } from "./udp-flows";

export interface SockUdpAbortOptions {
  /** The pinned `revnat` (IPv4) and `revnat6` maps. */
  revnat: { 4: string; 6: string };
  /** The node's network namespace when it is not this process's (tests). */
  netns?: string;
  bpftool: string;
  ss?: string;
  timeoutMs: number;
  /** Up to this many listed sockets (default 16), their cookies are looked up one `bpftool` each; beyond it the map is dumped once. */
  lookupLimit?: number;
}

/** One connected UDP socket as `ss -e` lists it. */
export interface SsSocket {
  local: string;
  peer: string;
  cookie: bigint;
}

/** Parses `ss -H -n -e -u state established` lines: local and peer address, and the socket cookie (`sk:<hex>`). */
export function parseSsSockets(out: string): SsSocket[] {
  const socks: SsSocket[] = [];
  for (const line of out.split("\n")) {
    const cookie = /\bsk:([0-9a-f]+)\b/.exec(line);
    const fields = line.trim().split(/\s+/);
    // Recv-Q Send-Q Local Peer [details]; a State column first when ss prints one.
    const at = fields[0] !== undefined && /^[0-9]+$/.test(fields[0]) ? 0 : 1;
    const local = fields[at + 2];
    const peer = fields[at + 3];
    if (!cookie || local === undefined || peer === undefined || !local.includes(":")) continue;
    socks.push({ local, peer, cookie: BigInt(`0x${cookie[1]!}`) });
  }
  return socks;
}

/** A socket cookie as the `revnat` key: a little-endian u64, in bpftool's hex bytes. */
export function cookieKeyHex(cookie: bigint): string[] {
  const out: string[] = [];
  for (let i = 0; i < 8; i++)
    out.push(
      Number((cookie >> BigInt(i * 8)) & 255n)
        .toString(16)
        .padStart(2, "0"),
    );
  return out;
}

/** `ss` address form: `a.b.c.d:port`, `[v6]:port`. */
const ssAddress = (ip: string, port: number): string => (familyOf(ip) === 6 ? `[${ip}]:${port}` : `${ip}:${port}`);

/** bpftool's JSON bytes ("0x0a" strings or numbers), or undefined for anything else. */
function byteList(v: unknown): number[] | undefined {
  return Array.isArray(v) ? v.map((b) => (typeof b === "number" ? b : Number.parseInt(String(b), 16))) : undefined;
}

/** Bytes of a `bpftool -j map lookup` value, or undefined when the key is absent. */
function lookedUpValue(out: string): number[] | undefined {
  try {
    return byteList((JSON.parse(out) as { value?: unknown }).value);
  } catch {
    return undefined;
  }
}

/** Sockets named in one `ss -K` filter. */
const KILL_CHUNK = 64;

/**
 * The `revnat` values (bpftool's hex bytes joined by spaces) of `cookies`, where the map holds them.
 * A few are looked up one by one; more cost one dump of the map (an LRU of up to 65,536 entries, TCP
 * sockets included: a few megabytes of JSON) instead of a process each.
 */
async function revnatValues(cookies: bigint[], map: string, o: SockUdpAbortOptions): Promise<Map<bigint, string>> {
  const hex = (bytes: number[]): string => bytes.map((b) => b.toString(16).padStart(2, "0")).join(" ");
  const found = new Map<bigint, string>();
  if (cookies.length <= (o.lookupLimit ?? 16)) {
    for (const cookie of cookies) {
      const r = await runCommand(o.bpftool, ["-j", "map", "lookup", "pinned", map, "key", "hex", ...cookieKeyHex(cookie)], {
        timeoutMs: o.timeoutMs,
      });
      const value = r.code === 0 ? lookedUpValue(r.stdout) : undefined;
      if (value !== undefined) found.set(cookie, hex(value));
    }
    return found;
  }
  const r = await runCommand(o.bpftool, ["-j", "map", "dump", "pinned", map], { timeoutMs: o.timeoutMs });
  if (r.code !== 0) throw new Error(`${o.bpftool} map dump ${map}: ${failureText(r)}`);
  const wanted = new Map(cookies.map((c) => [cookieKeyHex(c).join(" "), c]));
  for (const e of JSON.parse(r.stdout) as { key?: unknown; value?: unknown }[]) {
    const key = byteList(e.key);
    const value = byteList(e.value);
    const cookie = key && wanted.get(hex(key));
    if (cookie !== undefined && value) found.set(cookie, hex(value));
  }
  return found;
}

/**
 * Aborts the node's connected UDP sockets that the socket LB sent from `f.vip:f.port` to
 * `f.backend:f.backendPort`; resolves how many. Rejects when `ss` cannot list or abort them.
 * One `ss` lists the sockets connected to the backend, their cookies are checked in `revnat`
 * (see revnatValues), and those to go are aborted by one `ss -K` per 64.
 */
export async function abortConnectedUdp(f: StaleFlow, o: SockUdpAbortOptions): Promise<number> {
  const vip = canonicalIp(f.vip);
  const backend = canonicalIp(f.backend);
  const family = backend === undefined ? undefined : familyOf(backend);
  if (vip === undefined || backend === undefined || family === undefined || familyOf(vip) !== family) return 0;
  const ss = o.ss ?? "ss";
  const dst = ssAddress(backend, f.backendPort);
  // ss in the node's namespace; bpftool in ours: `ip netns exec` mounts a /sys without the bpffs pins.
  const run = (file: string, args: string[]) => runCommand(file, args, { netns: o.netns, timeoutMs: o.timeoutMs });
  const listed = await run(ss, ["-H", "-n", "-e", "-u", `-${family}`, "state", "established", "dst", dst]);
  if (listed.code !== 0) throw new Error(`${ss} listing UDP sockets to ${dst}: ${failureText(listed)}`);
  const socks = parseSsSockets(listed.stdout);
  if (socks.length === 0) return 0;
  const want = `${backendHex({ ip: vip, port: f.port })} ${backendHex({ ip: backend, port: f.backendPort })}`;
  const values = await revnatValues(
    socks.map((s) => s.cookie),
    o.revnat[family],
    o,
  );
  const doomed = socks.filter((s) => values.get(s.cookie) === want);
  let aborted = 0;
  for (let i = 0; i < doomed.length; i += KILL_CHUNK) {
    const sources = doomed.slice(i, i + KILL_CHUNK).flatMap((s, j) => (j === 0 ? ["src", s.local] : ["or", "src", s.local]));
    const k = await run(ss, ["-K", "-H", "-n", "-e", "-u", `-${family}`, "state", "established", "dst", dst, "and", "(", ...sources, ")"]);
    if (k.code !== 0) throw new Error(`${ss} -K of ${doomed.length} UDP socket(s) → ${dst}: ${failureText(k)}`);
    // ss -K lists the sockets it closed.
    aborted += parseSsSockets(k.stdout).length;
  }
  return aborted;
}
