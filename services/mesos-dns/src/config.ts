import * as fs from "node:fs";
import * as os from "node:os";
import { invalidArgument } from "@dcnet/core";
import { validateConfig, type RawConfig } from "./config-validate";
import type { MesosDnsConfig } from "./model";

/**
 * Mesos-DNS configuration: an upstream `config.json` taken unchanged (spec §7), then
 * `MESOS_DNS_<KEY>` environment overrides, then validation (config-validate.ts).
 *
 * Key matching follows Go encoding/json (exact name first, else ASCII case-insensitive) with one
 * deliberate difference: when one object holds several spellings of a key, Go keeps the last one
 * in document order; here the exact Go name wins, then the documented spelling, then the last
 * other spelling, and each loser is reported through `warn`. Unknown keys are ignored with a
 * warning (upstream ignores them silently). `null` leaves a scalar at its default and empties a
 * list or map, as in Go.
 */

export type ConfigValueType = "int" | "int32" | "uint16" | "uint32" | "bool" | "string" | "string[]" | "zoneResolvers" | "credentials";

export interface ConfigKey {
  /** Go encoding/json name: matched exactly first; the `/v1/config` key. */
  readonly key: string;
  /** Spelling in the upstream docs and sample (any spelling matches case-insensitively). */
  readonly docKey: string;
  /** Environment override: `MESOS_DNS_` + key upper-cased. */
  readonly env: string;
  /** The MesosDnsConfig field; absent for keys accepted and ignored (`File`, `SOASerial`). */
  readonly field?: keyof MesosDnsConfig;
  readonly type: ConfigValueType;
  /** Default before normalisation (undefined: none). */
  readonly default: unknown;
  readonly description: string;
}

export interface ParseOptions {
  /** Environment for `MESOS_DNS_*` overrides; the caller passes `process.env` (default: none). */
  env?: Record<string, string | undefined>;
  /** Receives warnings (unknown keys, ignored values…); default `console.warn`. */
  warn?: (msg: string) => void;
  /** Text of /etc/resolv.conf, read only when `externalOn` and `resolvers` is empty. */
  resolvConf?: () => string;
  /** The host's own IPs, removed from the resolv.conf servers; default: every interface address. */
  localAddresses?: () => string[];
}

/** Upstream NewConfig() defaults (before normalisation: `:53`, trailing dots are added by parsing). */
export const DEFAULTS: Readonly<MesosDnsConfig> = deepFreeze<MesosDnsConfig>({
  zk: "",
  masters: [],
  zkDetectionTimeout: 30,
  refreshSeconds: 60,
  stateTimeoutSeconds: 300,
  ttl: 60,
  domain: "mesos",
  port: 53,
  listener: "0.0.0.0",
  resolvers: ["8.8.8.8"],
  zoneResolvers: {},
  timeout: 5,
  externalOn: true,
  recurseOn: true,
  soaMname: "ns1.mesos",
  soaRname: "root.ns1.mesos",
  soaRefresh: 60,
  soaRetry: 600,
  soaExpire: 86400,
  soaMinttl: 60,
  srvRecordDefaultWeight: 1,
  ipSources: ["netinfo", "mesos", "host"],
  enforceRFC952: false,
  setTruncateBit: true,
  enumerationOn: true,
  httpOn: true,
  dnsOn: true,
  httpPort: 8123,
  httpListener: "0.0.0.0",
  mesosHTTPSOn: false,
  caCertFile: "",
  certFile: "",
  keyFile: "",
  mesosAuthentication: "",
  mesosCredentials: { principal: "", secret: "" },
  iamConfigFile: "",
});

function deepFreeze<T>(o: T): T {
  if (typeof o === "object" && o !== null) Object.values(o).forEach(deepFreeze);
  return Object.freeze(o);
}

type Row = [key: string, docKey: string, field: keyof MesosDnsConfig | undefined, type: ConfigValueType, description: string];

// Upstream Config struct order (records/config.go), which is also the /v1/config order.
const ROWS: Row[] = [
  ["RefreshSeconds", "refreshSeconds", "refreshSeconds", "int", "Seconds between reloads of the master state; > 0."],
  ["Port", "port", "port", "int", "DNS port (UDP and TCP); 0-65535, 0 = ephemeral (tests)."],
  ["Timeout", "timeout", "timeout", "int", "Upstream DNS timeout in seconds; 0 means 5."],
  [
    "StateTimeoutSeconds",
    "stateTimeoutSeconds",
    "stateTimeoutSeconds",
    "int",
    "Bound on a whole master state request (IAM login, connect, headers, body; redirects included) in seconds; > 0.",
  ],
  [
    "ZkDetectionTimeout",
    "zkDetectionTimeout",
    "zkDetectionTimeout",
    "int",
    "Seconds to wait for a ZooKeeper leader; 0 = forever. Unused: ZooKeeper is not supported yet.",
  ],
  ["HttpPort", "httpport", "httpPort", "int", "HTTP API port; 0-65535."],
  ["TTL", "ttl", "ttl", "int32", "TTL of every record and SOA minimum; >= 0."],
  ["SRVRecordDefaultWeight", "SRVRecordDefaultWeight", "srvRecordDefaultWeight", "uint16", "Weight of every SRV record."],
  ["SOASerial", "SOASerial", undefined, "uint32", "Ignored: the serial is the Unix time of the last successful reload."],
  ["SOARefresh", "SOARefresh", "soaRefresh", "uint32", "SOA refresh."],
  ["SOARetry", "SOARetry", "soaRetry", "uint32", "SOA retry."],
  ["SOAExpire", "SOAExpire", "soaExpire", "uint32", "SOA expire."],
  ["SOAMinttl", "SOAMinttl", "soaMinttl", "uint32", "Shown in /v1/config only; the wire uses ttl."],
  ["SOAMname", "SOAMname", "soaMname", "string", "Primary name server; a trailing dot is added. Resolves to the listener address(es)."],
  ["SOARname", "SOARname", "soaRname", "string", 'Admin mailbox; "@" becomes ".", a trailing dot is added.'],
  ["Masters", "masters", "masters", "string[]", "Mesos masters as IP:port (port 1-65535), no duplicates after IP normalisation. Required."],
  [
    "ZoneResolvers",
    "zoneResolvers",
    "zoneResolvers",
    "zoneResolvers",
    "{zone: [resolvers]} forwarders per zone; zones must not touch the domain or mask each other.",
  ],
  [
    "Resolvers",
    "resolvers",
    "resolvers",
    "string[]",
    "Upstream resolvers, IP or IP:port ([v6]:port); :53 added. Empty with externalOn: from /etc/resolv.conf.",
  ],
  [
    "IPSources",
    "IPSources",
    "ipSources",
    "string[]",
    "Task IP sources in priority order: host, docker, mesos, netinfo; non-empty, no duplicates.",
  ],
  ["Zk", "zk", "zk", "string", "zk://host:port[,host:port]/path. Accepted but not supported yet: masters must also be given."],
  ["Domain", "domain", "domain", "string", "Served domain; letters, digits, dashes, dots between labels; lower-cased."],
  ["File", "File", undefined, "string", "Ignored: /v1/config shows the --config path."],
  ["Listener", "listener", "listener", "string", "DNS bind IP (an IP literal); also the name server's address."],
  ["HTTPListener", "HTTPListener", "httpListener", "string", "HTTP bind address."],
  ["RecurseOn", "recurseOn", "recurseOn", "bool", "RA bit in authoritative replies."],
  ["DnsOn", "dnson", "dnsOn", "bool", "Serve DNS. At least one of dnson and httpon must be true."],
  ["HttpOn", "httpon", "httpOn", "bool", "Serve the HTTP API."],
  ["ExternalOn", "externalOn", "externalOn", "bool", "Forward names outside the domain; false: REFUSED, resolvers not checked."],
  ["EnforceRFC952", "EnforceRFC952", "enforceRFC952", "bool", "RFC 952 labels (24 characters, no leading digit) instead of RFC 1123."],
  ["SetTruncateBit", "SetTruncateBit", "setTruncateBit", "bool", "Set TC on truncated UDP replies."],
  ["EnumerationOn", "EnumerationOn", "enumerationOn", "bool", "Serve /v1/enumerate and /v1/axfr."],
  ["MesosHTTPSOn", "mesosHTTPSOn", "mesosHTTPSOn", "bool", "Talk HTTPS to the masters."],
  [
    "CACertFile",
    "caCertFile",
    "caCertFile",
    "string",
    "PEM CA to verify the master (and an https IAM login endpoint) with; without it, verification is skipped (as upstream). Read at start.",
  ],
  ["CertFile", "certFile", "certFile", "string", "PEM client certificate presented to the master; needs keyFile. Read at start."],
  ["KeyFile", "keyFile", "keyFile", "string", "Client key; needs certFile."],
  ["MesosCredentials", "mesosCredentials", "mesosCredentials", "credentials", '{"principal","secret"} for basic authentication.'],
  [
    "IAMConfigFile",
    "IAMConfigFile",
    "iamConfigFile",
    "string",
    'Path to {"uid","private_key" (PEM RSA),"login_endpoint"}; required with iam. Read at start.',
  ],
  [
    "MesosAuthentication",
    "mesosAuthentication",
    "mesosAuthentication",
    "string",
    '"", "basic" (needs mesosCredentials) or "iam" (needs IAMConfigFile).',
  ],
];

export const CONFIG_KEYS: readonly ConfigKey[] = Object.freeze(
  ROWS.map(([key, docKey, field, type, description]) => ({
    key,
    docKey,
    env: `MESOS_DNS_${key.toUpperCase()}`,
    ...(field !== undefined ? { field } : {}),
    type,
    default: field !== undefined ? DEFAULTS[field] : undefined,
    description,
  })),
);

const asciiLower = (s: string): string => s.replace(/[A-Z]/g, (c) => c.toLowerCase());
const show = (v: unknown): string => {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
};

const INT_RANGES: Record<string, [number, number]> = {
  int: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  int32: [-(2 ** 31), 2 ** 31 - 1],
  uint16: [0, 65535],
  uint32: [0, 2 ** 32 - 1],
};

function stringList(v: unknown, name: string, what: string): string[] {
  if (!Array.isArray(v)) throw invalidArgument(name, `${what} must be a list of strings, got ${show(v)}`);
  return v.map((e: unknown, i) => {
    if (typeof e !== "string") throw invalidArgument(name, `${what} element ${i} must be a string, got ${show(e)}`);
    return e;
  });
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Checks one JSON value against its Go type; undefined = leave the default (JSON null on a scalar). */
function decode(type: ConfigValueType, v: unknown, name: string, warn: (msg: string) => void): unknown {
  if (v === null) return type === "string[]" ? [] : type === "zoneResolvers" ? {} : undefined;
  const range = INT_RANGES[type];
  if (range) {
    if (typeof v !== "number" || !Number.isInteger(v)) throw invalidArgument(name, `must be an integer, got ${show(v)}`);
    if (v < range[0] || v > range[1]) throw invalidArgument(name, `${v} does not fit ${type}`);
    return v;
  }
  switch (type) {
    case "bool":
      if (typeof v !== "boolean") throw invalidArgument(name, `must be true or false, got ${show(v)}`);
      return v;
    case "string":
      if (typeof v !== "string") throw invalidArgument(name, `must be a string, got ${show(v)}`);
      return v;
    case "string[]":
      return stringList(v, name, "value");
    case "zoneResolvers":
      if (!isObject(v)) throw invalidArgument(name, `must be an object {zone: [resolvers]}, got ${show(v)}`);
      return Object.fromEntries(
        Object.entries(v).map(([zone, list]) => [zone, list === null ? [] : stringList(list, name, `zone "${zone}"`)]),
      );
    default: {
      // The value may hold the secret: never echo it.
      if (!isObject(v))
        throw invalidArgument(name, `must be an object {"principal","secret"}, got ${Array.isArray(v) ? "a list" : typeof v}`);
      const creds = { principal: "", secret: "" };
      for (const [k, inner] of Object.entries(v)) {
        const f = asciiLower(k);
        if (f !== "principal" && f !== "secret") {
          warn(`unknown config key "${name}.${k}" ignored`);
          continue;
        }
        if (inner === null) continue;
        if (typeof inner !== "string")
          throw invalidArgument(name, `${k} must be a string, got ${f === "secret" ? "a non-string" : show(inner)}`);
        creds[f] = inner;
      }
      return creds;
    }
  }
}

/** An environment value: JSON when it parses, else a plain string; lists also take `a,b,c`. */
function fromEnv(type: ConfigValueType, raw: string): unknown {
  let json: unknown;
  let isJson = true;
  try {
    json = JSON.parse(raw);
  } catch {
    isJson = false;
  }
  if (type === "string") return isJson && typeof json === "string" ? json : raw;
  if (type === "string[]" && !(isJson && Array.isArray(json))) {
    return raw
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
  }
  return isJson ? json : raw;
}

const byKey = new Map(CONFIG_KEYS.map((k) => [k.key, k]));
const byDocKey = new Map(CONFIG_KEYS.map((k) => [k.docKey, k]));
const byFolded = new Map(CONFIG_KEYS.map((k) => [asciiLower(k.key), k]));
const byEnv = new Map(CONFIG_KEYS.map((k) => [k.env, k]));

export function parseMesosDnsConfig(input: unknown, opts: ParseOptions = {}): MesosDnsConfig {
  const warn = opts.warn ?? ((msg: string) => console.warn(msg));
  if (!isObject(input)) throw invalidArgument("config", `must be a JSON object, got ${show(input)}`);

  const values: Partial<Record<keyof MesosDnsConfig, unknown>> = {};
  const names: Partial<Record<keyof MesosDnsConfig, string>> = {};
  const apply = (k: ConfigKey, v: unknown, name: string): void => {
    const decoded = decode(k.type, v, name, warn);
    if (k.field === undefined) warn(`config key "${name}" ignored: ${k.description.replace(/^Ignored: /, "")}`);
    else if (decoded !== undefined) {
      values[k.field] = decoded;
      names[k.field] = name;
    }
  };

  const chosen = new Map<ConfigKey, { name: string; rank: number }>();
  for (const name of Object.keys(input)) {
    const exact = byKey.get(name);
    const k = exact ?? byDocKey.get(name) ?? byFolded.get(asciiLower(name));
    if (!k) {
      warn(`unknown config key "${name}" ignored`);
      continue;
    }
    const rank = exact ? 0 : k.docKey === name ? 1 : 2;
    const prev = chosen.get(k);
    const [win, lose] = prev && prev.rank < rank ? [prev, { name, rank }] : [{ name, rank }, prev];
    if (lose) warn(`config key "${lose.name}" ignored: "${win.name}" is also set`);
    chosen.set(k, win);
  }
  for (const [k, { name }] of chosen) apply(k, input[name], name);

  for (const [name, raw] of Object.entries(opts.env ?? {})) {
    if (!name.startsWith("MESOS_DNS_") || raw === undefined) continue;
    const k = byEnv.get(name);
    if (!k) warn(`unknown environment variable "${name}" ignored`);
    else apply(k, fromEnv(k.type, raw), name);
  }

  const raw = { ...structuredClone(DEFAULTS), ...values } as RawConfig;
  return validateConfig(raw, {
    name: (field) => names[field] ?? CONFIG_KEYS.find((k) => k.field === field)?.docKey ?? field,
    warn,
    resolvConf: opts.resolvConf ?? (() => fs.readFileSync("/etc/resolv.conf", "utf8")),
    localAddresses: opts.localAddresses ?? localAddresses,
  });
}

function localAddresses(): string[] {
  return Object.values(os.networkInterfaces()).flatMap((list) => (list ?? []).map((a) => a.address.replace(/%.*$/, "")));
}

/** The `/v1/config` body: upstream Go field names, in upstream order. */
export interface MesosDnsConfigDisplay {
  RefreshSeconds: number;
  Port: number;
  Timeout: number;
  StateTimeoutSeconds: number;
  ZkDetectionTimeout: number;
  HttpPort: number;
  TTL: number;
  SRVRecordDefaultWeight: number;
  SOASerial: number;
  SOARefresh: number;
  SOARetry: number;
  SOAExpire: number;
  SOAMinttl: number;
  SOAMname: string;
  SOARname: string;
  Masters: string[];
  ZoneResolvers: Record<string, string[]>;
  Resolvers: string[];
  IPSources: string[];
  Zk: string;
  Domain: string;
  File: string;
  Listener: string;
  HTTPListener: string;
  RecurseOn: boolean;
  DnsOn: boolean;
  HttpOn: boolean;
  ExternalOn: boolean;
  EnforceRFC952: boolean;
  SetTruncateBit: boolean;
  EnumerationOn: boolean;
  MesosHTTPSOn: boolean;
  CACertFile: string;
  CertFile: string;
  KeyFile: string;
  MesosCredentials: { Principal: string; Secret: string };
  IAMConfigFile: string;
  MesosAuthentication: string;
}

/** Mask shown instead of a non-empty secret (an empty secret stays ""). Upstream shows it in clear. */
export const SECRET_MASK = "******";

/** `/v1/config` for `cfg`, with the live SOA `serial` and the config `file` path; the secret is masked. */
export function configForDisplay(cfg: MesosDnsConfig, serial: number, file: string): MesosDnsConfigDisplay {
  return {
    RefreshSeconds: cfg.refreshSeconds,
    Port: cfg.port,
    Timeout: cfg.timeout,
    StateTimeoutSeconds: cfg.stateTimeoutSeconds,
    ZkDetectionTimeout: cfg.zkDetectionTimeout,
    HttpPort: cfg.httpPort,
    TTL: cfg.ttl,
    SRVRecordDefaultWeight: cfg.srvRecordDefaultWeight,
    SOASerial: serial,
    SOARefresh: cfg.soaRefresh,
    SOARetry: cfg.soaRetry,
    SOAExpire: cfg.soaExpire,
    SOAMinttl: cfg.soaMinttl,
    SOAMname: cfg.soaMname,
    SOARname: cfg.soaRname,
    Masters: [...cfg.masters],
    ZoneResolvers: Object.fromEntries(Object.entries(cfg.configured?.zoneResolvers ?? cfg.zoneResolvers).map(([z, rs]) => [z, [...rs]])),
    Resolvers: [...(cfg.configured?.resolvers ?? cfg.resolvers)],
    IPSources: [...cfg.ipSources],
    Zk: cfg.zk,
    Domain: cfg.domain,
    File: file,
    Listener: cfg.listener,
    HTTPListener: cfg.httpListener,
    RecurseOn: cfg.recurseOn,
    DnsOn: cfg.dnsOn,
    HttpOn: cfg.httpOn,
    ExternalOn: cfg.externalOn,
    EnforceRFC952: cfg.enforceRFC952,
    SetTruncateBit: cfg.setTruncateBit,
    EnumerationOn: cfg.enumerationOn,
    MesosHTTPSOn: cfg.mesosHTTPSOn,
    CACertFile: cfg.caCertFile,
    CertFile: cfg.certFile,
    KeyFile: cfg.keyFile,
    MesosCredentials: { Principal: cfg.mesosCredentials.principal, Secret: cfg.mesosCredentials.secret === "" ? "" : SECRET_MASK },
    IAMConfigFile: cfg.iamConfigFile,
    MesosAuthentication: cfg.mesosAuthentication,
  };
}

/** The README configuration table (Markdown), generated from CONFIG_KEYS. */
export function renderConfigTable(): string {
  const cell = (s: string): string => s.replace(/\|/g, "\\|");
  const lines = ["| key | environment | type | default | description |", "| --- | --- | --- | --- | --- |"];
  for (const k of CONFIG_KEYS) {
    const def = k.field === "masters" ? "none" : k.default === undefined ? "—" : `\`${JSON.stringify(k.default)}\``;
    lines.push(`| \`${k.docKey}\` | \`${k.env}\` | ${k.type} | ${cell(def)} | ${cell(k.description)} |`);
  }
  return `${lines.join("\n")}\n`;
}
