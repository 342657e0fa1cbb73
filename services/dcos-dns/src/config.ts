/**
 * dcos-dns config: the `dcos-dns.json` keys of §3.9 (snake_case, as DC/OS writes them) plus dcnet's
 * sections, from a file and `DCNET_*` environment variables (`DCNET_UDP_PORT=5353`,
 * `DCNET_UPSTREAM_RESOLVERS=10.0.0.2,10.0.0.3`, `DCNET_BUS__SERVERS=…`). Errors name the key as written
 * (`upstream_resolvers.0`, `DCNET_UDP_PORT`).
 *
 * Without a `bus` section (file or DCNET_BUS__*), dcos-dns runs standalone: static zones,
 * `.mesos` forwarding and upstreams only (no zones from the bus, no producer).
 */
import { isIP } from "node:net";
import {
  type KeyOrigin,
  busSection,
  clusterSection,
  envOverrides,
  listenSection,
  logSection,
  mergeOrigins,
  readConfigFile,
  snakeFileKeys,
  validate,
  z,
} from "@dcnet/core";
import { type Upstream, parseResolver } from "@dcnet/dns";
import { SPARTAN_IPS, loopingUpstreams } from "./loop-guard";
import { parseHostPort } from "./vips-proxy";

const resolver = z.string().refine((s) => parseResolver(s) !== null, "must be ip or ip:port (IPv6: [ip]:port)");
const listOf = <T extends z.ZodTypeAny>(t: T) =>
  z.preprocess(
    (v) =>
      typeof v === "string"
        ? v
            .split(",")
            .map((s) => s.trim())
            .filter(Boolean)
        : v,
    z.array(t),
  );
const zoneName = z
  .string()
  .regex(/^([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.?$/i, "must be a DNS name");

export { SPARTAN_IPS };

export const dcosDnsConfigSchema = z
  .object({
    upstreamResolvers: listOf(resolver).optional(),
    forwardZones: z.record(zoneName, listOf(resolver)).default({}),
    bindIps: listOf(z.string().refine((s) => isIP(s) !== 0, "must be an IP address")).default(SPARTAN_IPS),
    /** Masters: every non-link-local address of the node plus the bind IPs (§3.1 master_dns_bindall). */
    bindAll: z.boolean().default(false),
    bindIpBlacklist: listOf(z.string()).default(["198.51.100.4"]),
    udpPort: z.number().int().min(0).max(65535).default(53),
    tcpPort: z.number().int().min(0).max(65535).default(53),
    udpServerEnabled: z.boolean().default(true),
    tcpServerEnabled: z.boolean().default(true),
    handlerLimit: z.number().int().min(1).max(100_000).default(1024),
    /**
     * Largest authoritative UDP answer (§3.4: the client's EDNS0 size, else 512): the client's
     * advertised size is honoured up to this cap, which is also the size our OPT advertises.
     */
    ednsUdpSize: z.number().int().min(512).max(65_535).default(4096),
    loadbalance: z.enum(["round_robin", "random"]).default("round_robin"),
    /** Master IPs (DC/OS master_list): `.mesos` upstreams at :61053, the zk zone, master.dcos records. */
    masters: listOf(z.string().refine((s) => isIP(s) !== 0, "must be an IP address")).default([]),
    /** Mesos-DNS servers for `.mesos` (default: every master at 61053). */
    mesosDns: listOf(resolver).optional(),
    /** This node's IP (thisnode zone); default: the first non-loopback IPv4. */
    nodeIp: z
      .string()
      .refine((s) => isIP(s) !== 0, "must be an IP address")
      .optional(),
    publicIps: listOf(z.string().refine((s) => isIP(s) !== 0, "must be an IP address")).default([]),
    /** Per-upstream and overall forwarding timeouts (§3.3: 5 s and 10 s). */
    upstreamTimeoutMs: z.number().int().min(10).max(60_000).default(5000),
    forwardTimeoutMs: z.number().int().min(10).max(120_000).default(10_000),
    /** Static custom zones (only CNAMEs, only under thisdcos.directory except l4lb/mesos/dcos). */
    zones: z.record(zoneName, z.array(z.object({ type: z.literal("cname"), name: zoneName, value: zoneName }))).default({}),
    /** Put the bind IPs that no interface holds on `lo` as /32 (needs NET_ADMIN; the kernel here has no dummy module). */
    manageAddresses: z.boolean().default(false),
    producer: z
      .object({
        /** Build and publish dcos/mesos.thisdcos.directory while the local master leads. */
        enabled: z.boolean().default(false),
        /** Mesos masters' API (`ip:port`); the first is this node's own master. */
        mesosMasters: listOf(z.string().min(1)).default(["127.0.0.1:5050"]),
        /** Local Mesos-DNS gRPC (`host:port`) for the mesos.thisdcos.directory mirror; "" = no mirror. */
        mesosDnsGrpc: z.string().default("127.0.0.1:50070"),
        mesosDnsDomain: z.string().default("mesos"),
        recoveryTimeoutMs: z.number().int().min(0).default(600_000),
        settleMs: z.number().int().min(0).default(10_000),
        pushIntervalMs: z.number().int().min(0).default(1000),
        /** Time a master gets to answer SUBSCRIBE: short, so a dead leader's address (no RST) is skipped quickly after a failover. */
        connectTimeoutMs: z.number().int().min(100).default(2000),
      })
      .default({}),
    resolvconf: z
      .object({
        /** Rewrite `path` every `intervalMs` like dcos-gen-resolvconf. */
        enabled: z.boolean().default(false),
        path: z.string().default("/etc/resolv.conf"),
        intervalMs: z.number().int().min(100).default(60_000),
        search: z.string().optional(),
      })
      .default({}),
    cluster: clusterSection,
    bus: busSection.optional(),
    node: z.object({ id: z.string().min(1).optional() }).default({}),
    httpListen: listenSection(62080, "127.0.0.1"),
    /** l4lb's REST API (`host:port`) that `/v1/vips` on `http_listen` is passed to (vips-proxy.ts); "" = no such route. */
    l4lbRest: z
      .string()
      .refine((s) => s === "" || parseHostPort(s) !== undefined, 'must be host:port (IPv6: [addr]:port) or "" (off)')
      .default("127.0.0.1:62081"),
    grpcListen: listenSection(50080, "127.0.0.1"),
    log: logSection,
  })
  .superRefine((c, ctx) => {
    // Forwarding to ourselves would loop (loop-guard.ts). Ports 0 (ephemeral) are unknown here.
    const blacklist = new Set(c.bindIpBlacklist);
    const own = { ips: c.bindIps.filter((ip) => !blacklist.has(ip)), ports: [c.udpPort, c.tcpPort].filter((p) => p > 0) };
    for (const { path, message } of loopingUpstreams(c, own)) ctx.addIssue({ code: "custom", path, message });
    for (const zone of Object.keys(c.zones)) {
      const z0 = zone.toLowerCase().replace(/\.?$/, ".");
      if (!z0.endsWith(".thisdcos.directory.") || ["l4lb", "mesos", "dcos"].some((x) => z0 === `${x}.thisdcos.directory.`))
        ctx.addIssue({
          code: "custom",
          path: ["zones", zone],
          message: "custom zones must be under thisdcos.directory and not l4lb, mesos or dcos",
        });
    }
  });

export type DcosDnsConfig = z.output<typeof dcosDnsConfigSchema>;

/** Sections whose keys are converted from snake_case too (zone names inside forward_zones/zones are kept). */
export const DCOS_DNS_NESTED = new Set(["producer", "resolvconf", "bus", "cluster", "httpListen", "grpcListen", "log", "node"]);

/**
 * Defaults ← file ← environment ← overrides. Errors name the key as written: `upstream_resolvers.0`,
 * `udp_port`, or the environment variable (`DCNET_UDP_PORT`).
 */
export function loadDcosDnsConfig(
  opts: { file?: string | undefined; env: Record<string, string | undefined>; overrides?: Record<string, unknown> },
  warn: (msg: string) => void,
): DcosDnsConfig {
  const known = new Set(Object.keys(dcosDnsConfigSchema._def.schema.shape));
  const fileOrigins: KeyOrigin = { snake: true };
  const fromFile = opts.file
    ? snakeFileKeys(readConfigFile(opts.file), { known, nested: DCOS_DNS_NESTED, service: "dcos-dns", warn }, fileOrigins)
    : {};
  const envOrigins: KeyOrigin = {};
  const env = envOverrides(opts.env, "DCNET", envOrigins);
  const fromEnv = Object.fromEntries(Object.entries(env).filter(([k]) => known.has(k)));
  return validate(dcosDnsConfigSchema, merge(merge(fromFile, fromEnv), opts.overrides ?? {}), mergeOrigins(fileOrigins, envOrigins));
}

function merge(base: unknown, over: unknown): unknown {
  if (typeof base !== "object" || base === null || Array.isArray(base)) return over;
  if (typeof over !== "object" || over === null || Array.isArray(over)) return over;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over)) out[k] = k in out ? merge(out[k], v) : v;
  return out;
}

export function upstreamsOf(list: readonly string[]): Upstream[] {
  return list.map((s) => parseResolver(s)).filter((u): u is Upstream => u !== null);
}
