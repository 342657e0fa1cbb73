import { isIPv4, isIPv6 } from "node:net";
import { invalidArgument } from "@dcnet/core";
import type { MesosDnsConfig } from "./model";

/**
 * Validation and normalisation of a decoded Mesos-DNS config (spec §7, upstream
 * records/validation.go and Config.SetConfig). Every error is an INVALID_ARGUMENT
 * naming the key as the user wrote it (file key or MESOS_DNS_* variable).
 */

/** Decoded config before validation: JSON types checked, enumerations not yet. */
export type RawConfig = Omit<MesosDnsConfig, "ipSources" | "mesosAuthentication"> & { ipSources: string[]; mesosAuthentication: string };

export interface ValidateContext {
  /** The name the user gave a field (file key or environment variable), else its documented key. */
  name: (field: keyof MesosDnsConfig) => string;
  warn: (msg: string) => void;
  /** Text of /etc/resolv.conf. */
  resolvConf: () => string;
  /** The host's own addresses (resolv.conf entries equal to one of them are dropped). */
  localAddresses: () => string[];
}

export const DOMAIN_RE = /^[a-zA-Z0-9-]+(\.[a-zA-Z0-9-]+)*$/;
const IP_SOURCES = ["host", "docker", "mesos", "netinfo"] as const;
type IpSource = (typeof IP_SOURCES)[number];
const AUTH_MECHANISMS = ["", "basic", "iam"] as const;
type AuthMechanism = (typeof AUTH_MECHANISMS)[number];

/** Canonical text of an IP literal (Go `net.ParseIP(s).String()`), undefined when `s` is not one. */
export function canonicalIp(s: string): string | undefined {
  if (isIPv4(s)) return s;
  if (s.includes("%") || !isIPv6(s)) return undefined;
  const v6 = new URL(`http://[${s}]/`).hostname.slice(1, -1);
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(v6);
  if (!mapped) return v6;
  const hi = parseInt(mapped[1]!, 16);
  const lo = parseInt(mapped[2]!, 16);
  return [hi >> 8, hi & 255, lo >> 8, lo & 255].join(".");
}

/** Go `net.SplitHostPort`: `host:port` or `[host]:port`; undefined when malformed. */
export function splitHostPort(s: string): { host: string; port: string } | undefined {
  if (s.startsWith("[")) {
    const m = /^\[([^\]]*)\]:([^:]*)$/.exec(s);
    return m ? { host: m[1]!, port: m[2]! } : undefined;
  }
  const i = s.lastIndexOf(":");
  if (i < 0 || s.slice(0, i).includes(":") || s.includes("]")) return undefined;
  return { host: s.slice(0, i), port: s.slice(i + 1) };
}

export function joinHostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

const parsePort = (p: string): number | undefined => (/^\d{1,5}$/.test(p) && +p >= 1 && +p <= 65535 ? +p : undefined);

/** `ip` or `ip:port` (IPv6 bare or `[v6]:port`) → canonical `ip:port`, `:53` added; else an error message. */
export function normaliseResolver(r: string): { ok: string } | { error: string } {
  const bare = canonicalIp(r);
  if (bare !== undefined) return { ok: joinHostPort(bare, 53) };
  const hp = splitHostPort(r);
  if (!hp) return { error: `"${r}" is not an IP address or IP:port` };
  const ip = canonicalIp(hp.host);
  if (ip === undefined) return { error: `"${r}": "${hp.host}" is not an IP address (resolvers must be IP literals)` };
  const port = parsePort(hp.port);
  if (port === undefined) return { error: `"${r}": port must be 1-65535` };
  return { ok: joinHostPort(ip, port) };
}

function resolverList(list: readonly string[], key: string): string[] {
  const out: string[] = [];
  for (const r of list) {
    const n = normaliseResolver(r);
    if ("error" in n) throw invalidArgument(key, n.error);
    if (out.includes(n.ok)) throw invalidArgument(key, `duplicate resolver "${r}"`);
    out.push(n.ok);
  }
  return out;
}

/** `nameserver` entries of resolv.conf text (miekg/dns ClientConfigFromFile). */
export function resolvConfServers(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f[0] === "nameserver" && f[1] !== undefined) out.push(f[1]);
  }
  return out;
}

function fromResolvConf(ctx: ValidateContext, key: string): string[] {
  let text: string;
  try {
    text = ctx.resolvConf();
  } catch (err) {
    throw invalidArgument(key, `empty with externalOn, and /etc/resolv.conf cannot be read: ${(err as Error).message}`);
  }
  const own = new Set(ctx.localAddresses().map((a) => canonicalIp(a) ?? a));
  const out: string[] = [];
  for (const s of resolvConfServers(text)) {
    const ip = canonicalIp(s);
    if (ip === undefined) ctx.warn(`${key}: resolv.conf nameserver "${s}" is not an IP address; skipped`);
    else if (!own.has(ip) && !out.includes(joinHostPort(ip, 53))) out.push(joinHostPort(ip, 53));
  }
  if (out.length === 0) ctx.warn(`${key}: empty and resolv.conf lists no usable nameserver: names outside the domain are REFUSED`);
  return out;
}

function zoneResolverMap(zrs: Record<string, string[]>, domain: string, key: string): Record<string, string[]> {
  const zones: [string, string[]][] = [];
  for (const [zone, list] of Object.entries(zrs)) {
    if (!DOMAIN_RE.test(zone)) throw invalidArgument(key, `zone "${zone}" is not a valid domain name`);
    const z = zone.toLowerCase();
    if (list.length === 0) throw invalidArgument(key, `zone "${zone}" has an empty resolver list`);
    if (z === domain) throw invalidArgument(key, `zone "${zone}" is the Mesos domain`);
    if (z.endsWith(`.${domain}`)) throw invalidArgument(key, `zone "${zone}" is inside the Mesos domain "${domain}"`);
    if (domain.endsWith(`.${z}`)) throw invalidArgument(key, `zone "${zone}" contains the Mesos domain "${domain}"`);
    for (const [other] of zones) {
      if (other === z) throw invalidArgument(key, `zone "${zone}" is given twice`);
      if (z.endsWith(`.${other}`) || other.endsWith(`.${z}`)) throw invalidArgument(key, `zones "${other}" and "${zone}" mask each other`);
    }
    zones.push([z, resolverList(list, key)]);
  }
  return Object.fromEntries(zones);
}

function validZk(zk: string): string | undefined {
  const m = /^zk:\/\/([^/]+)(\/.*)$/.exec(zk);
  if (!m) return "must look like zk://host:port[,host:port]/path";
  const hosts = m[1]!.replace(/^[^@]*@/, "");
  for (const h of hosts.split(",")) {
    const hp = splitHostPort(h);
    if (!hp || hp.host === "" || parsePort(hp.port) === undefined) return `"${h}" is not host:port with port 1-65535`;
  }
  if (m[2] === "/") return "needs a znode path, e.g. zk://host:2181/mesos";
  return undefined;
}

function validMasters(masters: readonly string[], key: string): void {
  const seen = new Set<string>();
  for (const m of masters) {
    const hp = splitHostPort(m);
    if (!hp) throw invalidArgument(key, `"${m}" is not host:port`);
    const port = parsePort(hp.port);
    if (port === undefined) throw invalidArgument(key, `"${m}": port must be 1-65535`);
    const ip = canonicalIp(hp.host);
    // Upstream accepts host names here and then panics generating records (§3.9): reject them now.
    if (ip === undefined) throw invalidArgument(key, `"${m}": "${hp.host}" is not an IP address (master host names are not supported)`);
    const id = joinHostPort(ip, port);
    if (seen.has(id)) throw invalidArgument(key, `duplicate master "${m}"`);
    seen.add(id);
  }
}

/** SOA names: trailing dots trimmed then one added; labels 1–63 characters, no blanks. */
function soaName(value: string, key: string): string {
  const name = `${value.replace(/\.+$/, "")}.`;
  const labels = name.slice(0, -1).split(".");
  if (name.length > 254 || labels.some((l) => l.length === 0 || l.length > 63 || /\s/.test(l))) {
    throw invalidArgument(key, `"${value}" is not a valid domain name`);
  }
  return name;
}

function nonNegative(c: RawConfig, ctx: ValidateContext, field: keyof MesosDnsConfig, min: number, max = Number.MAX_SAFE_INTEGER): void {
  const v = c[field] as number;
  if (v < min || v > max)
    throw invalidArgument(ctx.name(field), `must be ${max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `${min}-${max}`}, got ${v}`);
}

export function validateConfig(c: RawConfig, ctx: ValidateContext): MesosDnsConfig {
  const n = ctx.name;
  if (!c.dnsOn && !c.httpOn) throw invalidArgument(n("dnsOn"), `at least one of ${n("dnsOn")} and ${n("httpOn")} must be true`);

  nonNegative(c, ctx, "port", 0, 65535);
  nonNegative(c, ctx, "httpPort", 0, 65535);
  nonNegative(c, ctx, "refreshSeconds", 1);
  nonNegative(c, ctx, "stateTimeoutSeconds", 1);
  nonNegative(c, ctx, "zkDetectionTimeout", 0);
  nonNegative(c, ctx, "timeout", 0);
  nonNegative(c, ctx, "ttl", 0);

  if (!DOMAIN_RE.test(c.domain))
    throw invalidArgument(n("domain"), `"${c.domain}" is not a valid domain name (letters, digits, dashes; no leading or trailing dot)`);
  const domain = c.domain.toLowerCase();

  if (c.zk !== "") {
    const err = validZk(c.zk);
    if (err) throw invalidArgument(n("zk"), err);
  }
  if (c.masters.length > 0) validMasters(c.masters, n("masters"));
  if (c.zk !== "" && c.masters.length === 0) {
    throw invalidArgument(
      n("zk"),
      `ZooKeeper master detection is not supported by this implementation yet; list the masters in "${n("masters")}"`,
    );
  }
  if (c.zk !== "") ctx.warn(`${n("zk")}: ZooKeeper master detection is not supported yet; using the static ${n("masters")} list`);
  if (c.masters.length === 0) throw invalidArgument(n("masters"), "either masters or zk is required");

  if (canonicalIp(c.listener) === undefined) throw invalidArgument(n("listener"), `"${c.listener}" is not an IP address`);
  if (c.httpListener.trim() === "") throw invalidArgument(n("httpListener"), "must not be empty");

  let resolvers: string[];
  let zoneResolvers: Record<string, string[]>;
  if (c.externalOn) {
    resolvers = c.resolvers.length > 0 ? resolverList(c.resolvers, n("resolvers")) : fromResolvConf(ctx, n("resolvers"));
    zoneResolvers = zoneResolverMap(c.zoneResolvers, domain, n("zoneResolvers"));
  } else {
    // Upstream does not look at them when externalOn is false; keep them if valid, else drop with a warning.
    resolvers = lenient(() => resolverList(c.resolvers, n("resolvers")), [], ctx);
    zoneResolvers = lenient(() => zoneResolverMap(c.zoneResolvers, domain, n("zoneResolvers")), {}, ctx);
  }

  const ipKey = n("ipSources");
  if (c.ipSources.length === 0) throw invalidArgument(ipKey, "must not be empty");
  for (const [i, s] of c.ipSources.entries()) {
    if (!(IP_SOURCES as readonly string[]).includes(s))
      throw invalidArgument(ipKey, `invalid IP source "${s}" (one of ${IP_SOURCES.join(", ")})`);
    if (c.ipSources.indexOf(s) !== i) throw invalidArgument(ipKey, `duplicate IP source "${s}"`);
  }

  if ((c.certFile === "") !== (c.keyFile === "")) {
    const missing = c.certFile === "" ? "certFile" : "keyFile";
    throw invalidArgument(n(missing), `${n("certFile")} and ${n("keyFile")} must be given together`);
  }
  if (c.mesosHTTPSOn && c.caCertFile === "")
    ctx.warn(`${n("mesosHTTPSOn")}: no ${n("caCertFile")}, the master's certificate is not verified`);

  const auth = c.mesosAuthentication;
  if (!(AUTH_MECHANISMS as readonly string[]).includes(auth)) {
    throw invalidArgument(n("mesosAuthentication"), `"${auth}" is not one of "", "basic", "iam"`);
  }
  if (auth === "basic" && (c.mesosCredentials.principal === "" || c.mesosCredentials.secret === "")) {
    throw invalidArgument(n("mesosCredentials"), `principal and secret are required with ${n("mesosAuthentication")} "basic"`);
  }
  if (auth === "iam" && c.iamConfigFile === "") {
    throw invalidArgument(n("iamConfigFile"), `required with ${n("mesosAuthentication")} "iam"`);
  }
  if (auth === "" && (c.mesosCredentials.principal !== "" || c.mesosCredentials.secret !== "")) {
    ctx.warn(`${n("mesosCredentials")}: set but ${n("mesosAuthentication")} is empty; the credentials are not used`);
  }

  return {
    ...c,
    domain,
    timeout: c.timeout === 0 ? 5 : c.timeout,
    masters: [...c.masters],
    resolvers,
    zoneResolvers,
    configured: {
      // Upstream keeps what the file says (":53" is added when a resolver is used); resolv.conf's servers are shown as their IPs.
      resolvers:
        c.resolvers.length > 0 || !c.externalOn
          ? [...c.resolvers]
          : resolvers.map((r) => r.replace(/:53$/, "").replace(/^\[(.*)\]$/, "$1")),
      zoneResolvers: Object.fromEntries(Object.entries(c.zoneResolvers).map(([z, rs]) => [z, [...rs]])),
    },
    soaMname: soaName(c.soaMname, n("soaMname")),
    soaRname: soaName(c.soaRname.replace(/@/g, "."), n("soaRname")),
    ipSources: c.ipSources as IpSource[],
    mesosAuthentication: auth as AuthMechanism,
    mesosCredentials: { ...c.mesosCredentials },
  };
}

function lenient<T>(f: () => T, fallback: T, ctx: ValidateContext): T {
  try {
    return f();
  } catch (err) {
    ctx.warn(`${(err as Error).message}; ignored because externalOn is false`);
    return fallback;
  }
}
