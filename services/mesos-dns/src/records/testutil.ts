/** Test helpers for the records tests (not used by production code). */
import * as fs from "node:fs";
import * as path from "node:path";
import { seededRandom } from "@dcnet/core";
import type { MesosDnsConfig, RecordSet } from "../model";

/** The upstream fixture (compiled tests live in services/mesos-dns/dist/records/). */
export const FAKE_JSON = path.resolve(__dirname, "../../../../../shared/mesos-dns-fixtures/fake.json");

export function loadFake(): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(FAKE_JSON, "utf8")) as Record<string, unknown>;
}

/** Upstream defaults (§7), normalised as config.ts would. */
export function testConfig(over: Partial<MesosDnsConfig> = {}): MesosDnsConfig {
  return {
    zk: "",
    masters: [],
    zkDetectionTimeout: 30,
    refreshSeconds: 60,
    stateTimeoutSeconds: 300,
    ttl: 60,
    domain: "mesos",
    port: 53,
    listener: "0.0.0.0",
    resolvers: ["8.8.8.8:53"],
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
    httpListener: "0.0.0.0",
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

/** Values of a name as a sorted list (value order is not part of the contract); [] when absent. */
export function values(map: ReadonlyMap<string, readonly string[]>, name: string): string[] {
  return [...(map.get(name) ?? [])].sort();
}

/** Every record of a set as sorted `TYPE name value` lines. */
export function lines(set: RecordSet): string[] {
  const out: string[] = [];
  for (const [t, m] of [
    ["A", set.a],
    ["AAAA", set.aaaa],
    ["SRV", set.srv],
  ] as const) {
    for (const [n, vs] of m) for (const v of vs) out.push(`${t} ${n} ${v}`);
  }
  return out.sort();
}

/** The seeded PRNG of @dcnet/core (mulberry32). */
export const rng = seededRandom;
