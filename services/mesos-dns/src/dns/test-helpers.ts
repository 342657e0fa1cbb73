/** Test helpers for the Mesos-DNS server; the generic ones (query builder, decoder, sockets, fake upstream) live in @dcnet/dns. */
import { createLogger, createRegistry, seededRandom, type Logger, type Registry } from "@dcnet/core";
import type { MesosDnsConfig, RecordSet } from "../model";
import { createDnsServer, type DnsServer, type DnsServerOptions } from "./server";

export {
  type Decoded,
  type FakeUpstream,
  type QueryOpts,
  type RR,
  type UpstreamHandler,
  buildQuery,
  decode,
  startUpstream,
  tcpExchange,
  udpExchange,
  upstreamReply,
} from "@dcnet/dns";

export function makeSet(r: { a?: Record<string, string[]>; aaaa?: Record<string, string[]>; srv?: Record<string, string[]> }): RecordSet {
  return {
    a: new Map(Object.entries(r.a ?? {})),
    aaaa: new Map(Object.entries(r.aaaa ?? {})),
    srv: new Map(Object.entries(r.srv ?? {})),
    enumeration: { frameworks: [] },
  };
}

export function makeConfig(over: Partial<MesosDnsConfig> = {}): MesosDnsConfig {
  return {
    zk: "",
    masters: ["127.0.0.1:5050"],
    zkDetectionTimeout: 30,
    refreshSeconds: 60,
    stateTimeoutSeconds: 300,
    ttl: 60,
    domain: "mesos",
    port: 0,
    listener: "127.0.0.1",
    resolvers: [],
    zoneResolvers: {},
    timeout: 5,
    externalOn: true,
    recurseOn: true,
    soaMname: "ns1.mesos.",
    soaRname: "root.ns1.mesos.",
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
    httpListener: "127.0.0.1",
    mesosHTTPSOn: false,
    caCertFile: "",
    certFile: "",
    keyFile: "",
    mesosAuthentication: "",
    mesosCredentials: { principal: "", secret: "" },
    iamConfigFile: "",
    ...over,
  };
}

export function quietLogger(): Logger {
  return createLogger({ service: "dns-test", level: "silent" });
}

export interface Running {
  server: DnsServer;
  udp: number;
  tcp: number;
  registry: Registry;
  stop(): Promise<void>;
}

export async function startServer(config: MesosDnsConfig, set?: RecordSet, extra: Partial<DnsServerOptions> = {}): Promise<Running> {
  const registry = createRegistry({ defaultMetrics: false });
  const server = createDnsServer({ config, logger: quietLogger(), registry, ...extra });
  if (set) server.update(set, 1700000000);
  const ports = await server.start();
  return { server, ...ports, registry, stop: () => server.stop() };
}

export const prng = seededRandom;
