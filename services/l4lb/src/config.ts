/**
 * l4lb config: a JSON file with snake_case keys (as DC/OS writes its dcos-net files) and `DCNET_*`
 * environment variables (`DCNET_MODE=nft`, `DCNET_AGENT__ENABLED=true`,
 * `DCNET_NAMED_IPV4_RANGE__MIN=11.0.0.0`, `DCNET_HTTP_LISTEN__PORT=62081`). Errors name the key.
 *
 * l4lb needs the bus (the VIP table, named-VIP claims and reachability all live there): without a
 * `bus` section (file or `DCNET_BUS__*`) it refuses to start. `DCNET_GRPC__*` / `DCNET_HTTP__*`
 * belong to the node agent; l4lb listens where `http_listen` / `grpc_listen` say.
 */
import {
  invalidArgument,
  busSection,
  clusterSection,
  envOverrides,
  type KeyOrigin,
  listenSection,
  logSection,
  mergeOrigins,
  readConfigFile,
  snakeFileKeys,
  validate,
  z,
} from "@dcnet/core";
import { isIP } from "node:net";
import { DEFAULT_V4_RANGE, DEFAULT_V6_RANGE, vipRange, type VipRange } from "./allocate";
import { DEFAULT_RELEASE_GRACE_MS } from "./vip-claims";
import { parseCidr } from "./vip-guard";

const range = (family: 4 | 6, dflt: { min: string; max: string }) =>
  z
    .object({ min: z.string().default(dflt.min), max: z.string().default(dflt.max) })
    .default({})
    .superRefine((r, ctx) => {
      try {
        vipRange(family, r, "range");
      } catch (err) {
        const e = err as { field?: string; message: string };
        const path = e.field === "range.min" ? ["min"] : e.field === "range.max" ? ["max"] : [];
        ctx.addIssue({ code: "custom", path, message: e.message.replace(/^range(\.min|\.max)?: /, "") });
      }
    });

/** dead_agent_gc_ms: 15 min (a node reboot or a long network cut stays well under it). */
export const DEFAULT_DEAD_AGENT_GC_MS = 15 * 60_000;

export const l4lbConfigSchema = z.object({
  cluster: clusterSection,
  /** Required (see loadL4lbConfig): the VIP table, claims and reachability are on the bus. */
  bus: busSection.removeDefault(),
  node: z
    .object({
      /** This node's id (the bus connection is `l4lb@<id>`); default: the first non-loopback IPv4. */
      id: z.string().min(1).optional(),
      /**
       * This node's address (as the node agent's `node.address`): the agent IP of this node's backends
       * when the local Mesos agent reports none (a hostname that is not an IP). Default: the address
       * of this node id's record on the bus (written by the node agent).
       */
      address: z.string().min(1).optional(),
    })
    .default({}),
  log: logSection,
  /** Data plane: "nft" (nftables, needs NET_ADMIN), "userspace" (a TCP/UDP proxy), "auto" (nft when `nft list tables` works). */
  mode: z.enum(["nft", "userspace", "auto"]).default("auto"),
  agent: z
    .object({
      /** On Mesos agents: poll the local agent and publish its backends. */
      enabled: z.boolean().default(false),
      /** The local Mesos agent (`http://ip:port` or `ip:port`). */
      url: z.string().min(1).default("http://127.0.0.1:5051"),
      pollIntervalMs: z.number().int().min(100).max(600_000).default(2000),
    })
    .default({}),
  /** Named-VIP address ranges (inclusive; spec §4.4 `dcos_l4lb_min/max_named_ip[6]`). */
  namedIpv4Range: range(4, DEFAULT_V4_RANGE),
  namedIpv6Range: range(6, DEFAULT_V6_RANGE),
  /**
   * CIDRs where IP VIP labels are accepted although special (loopback, link-local…, dcos-dns's
   * listeners) or in a named range (vip-guard.ts); never a node's own address. Default none.
   */
  ipVipAllow: z
    .preprocess(
      (v) =>
        typeof v === "string"
          ? v
              .split(",")
              .map((x) => x.trim())
              .filter((x) => x !== "")
          : v,
      z.array(z.string().refine((c) => parseCidr(c) !== undefined, "a CIDR, e.g. 127.0.0.0/8")),
    )
    .default([]),
  /** IPv6 VIPs and backends (default on, as DC/OS ≥ 1.13). */
  ipv6: z.boolean().default(true),
  /** Full data plane reconcile, claim repair and re-publishing (spec §4.3: 30 s). */
  reconcileIntervalMs: z.number().int().min(100).max(3_600_000).default(30_000),
  /**
   * The backends document of an agent the bus has marked unreachable for this long, without a
   * break, is removed (dead-agent-gc.ts), releasing its VIPs; default 15 min, 0 = never.
   */
  deadAgentGcMs: z.number().int().min(0).default(DEFAULT_DEAD_AGENT_GC_MS),
  /** A named VIP keeps its address this long after its last backend went (default 10 min). */
  releaseGraceMs: z.number().int().min(0).default(DEFAULT_RELEASE_GRACE_MS),
  nft: z
    .object({
      table: z
        .string()
        .regex(/^[A-Za-z_][A-Za-z0-9_]{0,30}$/, "letters, digits and _, at most 31")
        .default("dcnet_l4lb"),
      /** How a backend slot is picked: random (default) or inc (round robin per dispatch chain). */
      balance: z.enum(["random", "inc"]).default("random"),
      /** Conntrack mark bit for VIP connections (masqueraded on the way out). */
      ctMark: z.number().int().min(1).max(0xffffffff).default(0x04000000),
      /** Routing protocol number that marks our `local` VIP routes (`ip route … proto N`). */
      routeProtocol: z.number().int().min(5).max(254).default(211),
      /**
       * Source address of the node's own connections to a VIP (the `src` of the VIP routes):
       * "auto" (the default route's preferred source, per family), "none" (the VIP itself, which
       * the masquerade rule then rewrites on every packet), or addresses (at most one per family).
       */
      routeSource: z
        .preprocess(
          (v) => (typeof v === "string" && v !== "auto" && v !== "none" ? v.split(",").map((x) => x.trim()) : v),
          z.union(
            [
              z.enum(["auto", "none"]),
              z
                .array(z.string().refine((a) => isIP(a) !== 0, '"auto", "none" or an IP address'))
                .min(1)
                .refine((a) => new Set(a.map((x) => isIP(x))).size === a.length, "at most one address per family"),
            ],
            { errorMap: () => ({ message: '"auto", "none" or IP addresses, at most one per family' }) },
          ),
        )
        .default("auto"),
      /**
       * A cgroup (v2) whose sockets' connects to VIPs are balanced at connect time by a BPF program
       * (sock-lb.ts; needs bpftool, and clang where the image's compiled program is not there): no
       * per-packet NAT for the node's own connections. `auto`: the cgroup l4lb runs in (a node
       * container: the whole node). Unset (default): off.
       */
      socketLbCgroup: z
        .string()
        .refine((c) => c === "auto" || c.startsWith("/"), '"auto" or an absolute cgroup v2 directory')
        .optional(),
    })
    .default({}),
  userspace: z
    .object({
      /** Put VIP addresses the host does not hold on lo (`ip addr add`, needs NET_ADMIN). */
      addLocalAddress: z.boolean().default(false),
      /** A UDP session ends after this long without a packet. */
      udpIdleMs: z.number().int().min(100).default(30_000),
      connectTimeoutMs: z.number().int().min(10).default(3000),
    })
    .default({}),
  httpListen: listenSection(62081, "127.0.0.1"),
  grpcListen: listenSection(50090, "127.0.0.1"),
});

export type L4lbConfig = z.output<typeof l4lbConfigSchema>;

export const L4LB_NESTED = new Set([
  "cluster",
  "bus",
  "node",
  "log",
  "agent",
  "namedIpv4Range",
  "namedIpv6Range",
  "nft",
  "userspace",
  "httpListen",
  "grpcListen",
]);
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function merge(base: unknown, over: unknown): unknown {
  if (!isObj(base) || !isObj(over)) return over;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = k in out ? merge(out[k], v) : v;
  return out;
}

/**
 * Defaults ← file ← environment ← overrides. Throws INVALID_ARGUMENT naming the key as written
 * (`named_ipv4_range.min` in the file, `DCNET_NAMED_IPV4_RANGE__MIN` in the environment).
 */
export function loadL4lbConfig(
  opts: { file?: string | undefined; env: Record<string, string | undefined>; overrides?: Record<string, unknown> },
  warn: (msg: string) => void = () => undefined,
): L4lbConfig {
  const known = new Set(Object.keys(l4lbConfigSchema.shape));
  const fileOrigins: KeyOrigin = { snake: true };
  const fromFile = opts.file
    ? snakeFileKeys(readConfigFile(opts.file), { known, nested: L4LB_NESTED, service: "l4lb", warn }, fileOrigins)
    : {};
  const envOrigins: KeyOrigin = {};
  const fromEnv = Object.fromEntries(Object.entries(envOverrides(opts.env, "DCNET", envOrigins)).filter(([k]) => known.has(k)));
  const merged = merge(merge(fromFile, fromEnv), opts.overrides ?? {});
  if (!isObj(merged) || merged["bus"] === undefined)
    throw invalidArgument("bus", "required: l4lb needs the bus (set bus.servers in the file or DCNET_BUS__SERVERS)");
  return validate(l4lbConfigSchema, merged, mergeOrigins(fileOrigins, envOrigins));
}

/** The configured named-VIP ranges. */
export function rangesOf(config: L4lbConfig): { 4: VipRange; 6: VipRange } {
  return { 4: vipRange(4, config.namedIpv4Range, "named_ipv4_range"), 6: vipRange(6, config.namedIpv6Range, "named_ipv6_range") };
}
