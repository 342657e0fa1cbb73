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
import { runCommand } from "./command";
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

/** Bytes of a `bpftool -j map lookup` value ("0x0a" strings or numbers), or undefined when the key is absent. */
function lookedUpValue(out: string): number[] | undefined {
  try {
    const v = (JSON.parse(out) as { value?: unknown }).value;
    if (!Array.isArray(v)) return undefined;
    return v.map((b) => (typeof b === "number" ? b : Number.parseInt(String(b), 16)));
  } catch {
    return undefined;
  }
}

/**
 * Aborts the node's connected UDP sockets that the socket LB sent from `f.vip:f.port` to
 * `f.backend:f.backendPort`; resolves how many. Rejects when `ss` cannot list or abort them.
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
  if (listed.code !== 0) throw new Error(`${ss} listing UDP sockets to ${dst}: ${(listed.stderr || listed.error?.message || "").trim()}`);
  const want = `${backendHex({ ip: vip, port: f.port })} ${backendHex({ ip: backend, port: f.backendPort })}`;
  let aborted = 0;
  for (const s of parseSsSockets(listed.stdout)) {
    const r = await runCommand(o.bpftool, ["-j", "map", "lookup", "pinned", o.revnat[family], "key", "hex", ...cookieKeyHex(s.cookie)], {
      timeoutMs: o.timeoutMs,
    });
    const value = r.code === 0 ? lookedUpValue(r.stdout) : undefined;
    if (value === undefined || value.map((b) => b.toString(16).padStart(2, "0")).join(" ") !== want) continue;
    const k = await run(ss, ["-K", "-H", "-n", "-u", `-${family}`, "state", "established", "dst", dst, "src", s.local]);
    if (k.code !== 0) throw new Error(`${ss} -K of the UDP socket ${s.local} → ${dst}: ${(k.stderr || k.error?.message || "").trim()}`);
    aborted++;
  }
  return aborted;
}
