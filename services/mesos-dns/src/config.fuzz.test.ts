import { strict as assert } from "node:assert";
import { Code, DcnetError, seededRandom, type Json } from "@dcnet/core";
import { CONFIG_KEYS, configForDisplay, parseMesosDnsConfig } from "./config";
import type { MesosDnsConfig } from "./model";

/**
 * Fuzz of config.json (and MESOS_DNS_* environment) parsing: a complete config whose values are
 * replaced by other JSON types, extreme numbers, odd strings, other keys' values; keys re-cased or
 * dropped; environment values set to random text. Contract: a refusal is a DcnetError
 * INVALID_ARGUMENT whose field names the offending key as written (a config key, its environment
 * variable, or "config" for the document itself); nothing else escapes; an accepted config is
 * stable: its /v1/config form, read back as a config, gives the same config. A failure names the
 * seed and round.
 */

const BASE: { [k: string]: Json } = {
  zk: "zk://127.0.0.1:2181/mesos",
  masters: ["127.0.0.1:5050"],
  stateTimeoutSeconds: 300,
  refreshSeconds: 60,
  ttl: 60,
  domain: "mesos",
  port: 8053,
  resolvers: ["8.8.8.8"],
  zoneResolvers: { consul: ["10.0.0.7:53"] },
  timeout: 5,
  listener: "0.0.0.0",
  SOAMname: "ns1.mesos",
  SOARname: "root.ns1.mesos",
  SOARefresh: 60,
  dnson: true,
  httpon: true,
  httpport: 8123,
  externalon: true,
  srvRecordDefaultWeight: 1,
  IPSources: ["mesos", "host"],
  EnforceRFC952: false,
  mesosCredentials: { principal: "p", secret: "s" },
};

const VALUES: Json[] = [
  null,
  true,
  false,
  0,
  -1,
  1.5,
  65535,
  65536,
  2 ** 31,
  2 ** 32,
  1e308,
  "",
  " ",
  "mesos",
  "10.0.0.1",
  "::1",
  "[::1]:53",
  "a..b",
  "ü😀",
  "x".repeat(300),
  [],
  [""],
  ["10.0.0.1:99999"],
  ["a", 1],
  {},
  { "": [] },
  { "x.": ["1.1.1.1"] },
];

function mutate(rnd: () => number): { input: { [k: string]: Json }; env: Record<string, string> } {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const input: { [k: string]: Json } = JSON.parse(JSON.stringify(BASE)) as { [k: string]: Json };
  const env: Record<string, string> = {};
  for (let e = 1 + Math.floor(rnd() * 3); e > 0; e--) {
    const keys = Object.keys(input);
    const r = rnd();
    if (r < 0.55 && keys.length > 0) input[pick(keys)] = JSON.parse(JSON.stringify(pick(VALUES))) as Json;
    else if (r < 0.65 && keys.length > 0) delete input[pick(keys)];
    else if (r < 0.75 && keys.length > 0) {
      const k = pick(keys);
      const v = input[k]!;
      delete input[k];
      input[k.toUpperCase()] = v;
    } else if (r < 0.85) input[pick(CONFIG_KEYS).key] = JSON.parse(JSON.stringify(pick(VALUES))) as Json;
    else env[pick(CONFIG_KEYS).env] = rnd() < 0.5 ? JSON.stringify(pick(VALUES)) : String(pick(VALUES));
  }
  return { input, env };
}

function parse(input: unknown, env: Record<string, string>): MesosDnsConfig {
  return parseMesosDnsConfig(input, {
    env,
    resolvConf: () => "nameserver 9.9.9.9\n",
    localAddresses: () => ["127.0.0.1", "10.0.0.9"],
    warn: () => undefined,
  });
}

describe("mesos-dns config fuzz", () => {
  for (const seed of [61, 62]) {
    it(`seed ${seed}: mutated configs are refused naming the key, or accepted and stable (1500 rounds)`, () => {
      const rnd = seededRandom(seed);
      let accepted = 0;
      const refusals = new Map<string, number>();
      for (let round = 0; round < 1500; round++) {
        const { input, env } = mutate(rnd);
        const where = `seed ${seed} round ${round} config ${JSON.stringify(input)} env ${JSON.stringify(env)}`;
        let cfg: MesosDnsConfig;
        try {
          cfg = parse(input, env);
        } catch (err) {
          assert.ok(err instanceof DcnetError, `${where}: threw ${String(err)}`);
          assert.equal(err.code, Code.INVALID_ARGUMENT, where);
          const field = err.field ?? "";
          // The key as written, or (for a pair given half) the missing key by its documented name.
          const named =
            field === "config" ||
            field in input ||
            field in env ||
            Object.keys(input).some((k) => field.startsWith(`${k}.`)) ||
            CONFIG_KEYS.some((k) => k.docKey === field);
          assert.ok(named, `${where}: field ${JSON.stringify(field)} (${err.message}) is not a key of the input`);
          refusals.set(field, (refusals.get(field) ?? 0) + 1);
          continue;
        }
        accepted++;
        const shown = configForDisplay(cfg, 1, "/f") as unknown as Record<string, unknown>;
        delete shown["File"];
        delete shown["SOASerial"];
        shown["MesosCredentials"] = { Principal: cfg.mesosCredentials.principal, Secret: cfg.mesosCredentials.secret };
        let again: MesosDnsConfig;
        try {
          again = parse(shown, {});
        } catch (err) {
          assert.fail(`${where}: its /v1/config form ${JSON.stringify(shown)} is refused: ${(err as Error).message}`);
        }
        assert.deepEqual(again, cfg, `${where}: not stable`);
      }
      assert.ok(accepted > 150, `only ${accepted} accepted; refusals ${JSON.stringify([...refusals])}`);
    });
  }
});
