/**
 * The types the parts of mesos-dns share (spec: ../shared/spec/mesos-dns.md).
 * Names are absolute, lower-case and end with "." (`web.marathon.mesos.`).
 */

/** Effective configuration, upstream field semantics (§7); parsed by config.ts. */
export interface MesosDnsConfig {
  zk: string;
  masters: string[];
  zkDetectionTimeout: number;
  refreshSeconds: number;
  stateTimeoutSeconds: number;
  ttl: number;
  /** Lower-cased, no leading/trailing dot. */
  domain: string;
  port: number;
  listener: string;
  /** `ip:port` each (`:53` added when absent; IPv6 as `[v6]:port`). */
  resolvers: string[];
  zoneResolvers: Record<string, string[]>;
  /**
   * `resolvers` and `zoneResolvers` as configured, for /v1/config (upstream shows them unnormalised;
   * resolvers taken from resolv.conf as its IPs). Absent: the normalised ones are shown.
   */
  configured?: { resolvers: string[]; zoneResolvers: Record<string, string[]> };
  /** Upstream DNS timeout, seconds. */
  timeout: number;
  externalOn: boolean;
  recurseOn: boolean;
  /** Ends with ".". */
  soaMname: string;
  /** Ends with "."; `@` turned into ".". */
  soaRname: string;
  soaRefresh: number;
  soaRetry: number;
  soaExpire: number;
  soaMinttl: number;
  srvRecordDefaultWeight: number;
  ipSources: ("host" | "docker" | "mesos" | "netinfo")[];
  enforceRFC952: boolean;
  setTruncateBit: boolean;
  enumerationOn: boolean;
  httpOn: boolean;
  dnsOn: boolean;
  httpPort: number;
  httpListener: string;
  mesosHTTPSOn: boolean;
  caCertFile: string;
  certFile: string;
  keyFile: string;
  mesosAuthentication: "" | "basic" | "iam";
  mesosCredentials: { principal: string; secret: string };
  iamConfigFile: string;
}

/** One generated record set (§3): complete, immutable once built, swapped in atomically. */
export interface RecordSet {
  /** name → IPv4 values, insertion order, no duplicates. */
  readonly a: ReadonlyMap<string, readonly string[]>;
  /** name → IPv6 values. */
  readonly aaaa: ReadonlyMap<string, readonly string[]>;
  /** name → `target.:port` values. */
  readonly srv: ReadonlyMap<string, readonly string[]>;
  /** For /v1/enumerate (§3.6). */
  readonly enumeration: Enumeration;
}

export interface Enumeration {
  frameworks: EnumFramework[];
}

export interface EnumFramework {
  name: string;
  tasks: EnumTask[];
}

export interface EnumTask {
  name: string;
  id: string;
  records: EnumRecord[];
}

export interface EnumRecord {
  name: string;
  host: string;
  rtype: "A" | "AAAA" | "SRV";
}
