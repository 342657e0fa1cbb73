/** Test helpers for the records tests (not used by production code). */
import * as fs from "node:fs";
import * as path from "node:path";
import { seededRandom, jsonSlots, type Json } from "@dcnet/core";
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

const STRINGS = [
  "",
  " ",
  "TASK_RUNNING",
  "TASK_KILLED",
  "UPPER.Case_Name",
  "a..b",
  ".lead",
  "trail.",
  "ünïcödé 😀",
  "$$$",
  "-",
  "0",
  "x".repeat(80),
  "[31000-31001, 31005]",
  "[5]",
  "[1-2",
  "31000-31001",
  "[0-70000]",
  "[a-b]",
  "slave(1)@1.2.3.4:5051",
  "slave(1)@[2001:db8::9]:5051",
  "slave(1)@host.example:5051",
  "x@y@z",
  "master@1.2.3.4",
  "master@name:5050",
  "1.2.3.4",
  "::1",
  "::ffff:10.0.0.1",
  "999.1.1.1",
  "Docker.NetworkSettings.IPAddress",
  "MesosContainerizer.NetworkSettings.IPAddress",
  "20140803-125133-3041283216-5050-2410-0",
  "ID-WITH.DOT-S9.X",
];
const NUMBERS = [0, -1, 1, 1.5, 80, 65535, 65536, -70000, 1e300, 2 ** 53 + 2];

export function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

/**
 * 1–6 random edits of a JSON tree (delete, null, odd strings and numbers, wrong types, copies of
 * other parts, character edits), driven by `r`: the fuzzers' mutator.
 */
export function mutateJson(state: Json, r: () => number): Json {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const n = 1 + Math.floor(r() * 6);
  let root = state;
  for (let i = 0; i < n; i++) {
    if (r() < 0.01) {
      root = pick<Json>([null, 1, "state", [], true]);
      continue;
    }
    const all = jsonSlots(root);
    if (all.length === 0) break;
    const { parent, key } = pick(all);
    const get = (): Json => (parent as Record<string | number, Json>)[key]!;
    const set = (v: Json): void => {
      (parent as Record<string | number, Json>)[key] = v;
    };
    const op = Math.floor(r() * 9);
    switch (op) {
      case 0:
        if (Array.isArray(parent)) parent.splice(key as number, 1);
        else delete parent[key as string];
        break;
      case 1:
        set(null);
        break;
      case 2:
        set(pick(STRINGS));
        break;
      case 3:
        set(pick(NUMBERS));
        break;
      case 4:
        set(pick<Json>([{}, [], true, false]));
        break;
      case 5: {
        const other = pick(all);
        set(clone((other.parent as Record<string | number, Json>)[other.key]!));
        break;
      }
      case 6:
        if (Array.isArray(parent)) parent.push(clone(get()));
        else set(pick(STRINGS));
        break;
      case 7: {
        const v = get();
        if (typeof v === "string") set(v.toUpperCase() + pick(STRINGS));
        else set(pick(STRINGS));
        break;
      }
      default: {
        const v = get();
        if (typeof v === "string" && v.length > 0) {
          const at = Math.floor(r() * v.length);
          set(v.slice(0, at) + pick(["", ".", "-", "@", ":", "[", "]", " ", "Z", "é"]) + v.slice(at + 1));
        } else set(pick(NUMBERS));
      }
    }
  }
  return root;
}

export type { Json } from "@dcnet/core";
