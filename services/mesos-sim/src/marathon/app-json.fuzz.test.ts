import { strict as assert } from "node:assert";
import { seededRandom, jsonSlots, type Json } from "@dcnet/core";
import { AppValidationError } from "../model/app";
import { parseApp } from "./app-json";

/**
 * Fuzz of Marathon app JSON beyond "only AppValidationError escapes" (app-json.test.ts): mutated
 * valid apps (values replaced by other JSON types, extreme numbers, deleted fields, copied
 * subtrees). Contract: a refusal lists at least one problem, each with a JSON path starting `/`
 * and a message; the input is never modified; the same app given as JSON text parses the same;
 * and an accepted app's stored JSON (what GET /v2/apps returns, and a client PUTs back) parses to
 * the same app. A failure names the seed and round.
 */

const NOW = new Date("2024-01-02T03:04:05.678Z");
const VALID: Json[] = [
  {
    id: "/web",
    cmd: "python -m http.server $PORT0",
    instances: 2,
    portDefinitions: [{ port: 0, protocol: "tcp", name: "http", labels: { VIP_0: "/web:80" } }],
  },
  {
    id: "/minitwit",
    cpus: 0.5,
    mem: 256,
    container: {
      type: "DOCKER",
      docker: {
        image: "karlkfi/minitwit",
        network: "BRIDGE",
        portMappings: [{ name: "http-api", containerPort: 80, hostPort: 0, protocol: "tcp", labels: { VIP_0: "172.16.0.1:80" } }],
      },
    },
  },
  {
    id: "service",
    cmd: "server 8080",
    container: {
      type: "MESOS",
      portMappings: [{ containerPort: 8080, servicePort: 8080, protocol: "udp,tcp", labels: { VIP_0: "service:8080" } }],
    },
    networks: [{ name: "dcos", mode: "container" }],
    healthChecks: [{ protocol: "MESOS_HTTP", portIndex: 0, path: "/" }],
    labels: { a: "b" },
    env: { X: "1" },
  },
];
const VALUES: Json[] = [
  null,
  true,
  0,
  -1,
  1.5,
  65535,
  65536,
  1e308,
  "",
  "tcp",
  "udp",
  "HOST",
  "BRIDGE",
  "USER",
  "container",
  "container/bridge",
  "host",
  "/a/b",
  "..",
  "DOCKER",
  "MESOS",
  [],
  {},
  [{}],
  { VIP_0: "x:1" },
];

/** The app as compared: everything but the parse time. */
const shape = (app: ReturnType<typeof parseApp>): unknown => ({ ...app, json: { ...app.json, version: undefined }, version: undefined });

describe("marathon app JSON fuzz: refusals name a path, accepted apps are stable", () => {
  for (const seed of [111, 112]) {
    it(`seed ${seed}: mutated apps (2000 rounds)`, () => {
      const rnd = seededRandom(seed);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
      let accepted = 0;
      for (let round = 0; round < 2000; round++) {
        const app = JSON.parse(JSON.stringify(pick(VALID))) as Json;
        for (let e = Math.floor(rnd() * 4); e > 0; e--) {
          const all = jsonSlots(app);
          const { parent, key } = pick(all);
          const r = rnd();
          if (r < 0.15 && !Array.isArray(parent)) delete parent[key as string];
          else
            (parent as Record<string | number, Json>)[key] = JSON.parse(JSON.stringify(r < 0.8 ? pick(VALUES) : pick(all).parent)) as Json;
        }
        const text = JSON.stringify(app);
        const where = `seed ${seed} round ${round} app ${text}`;
        let parsed: ReturnType<typeof parseApp> | undefined;
        let refused: AppValidationError | undefined;
        try {
          parsed = parseApp(app, { now: NOW });
        } catch (err) {
          if (!(err instanceof AppValidationError)) assert.fail(`${where}: threw ${String(err)}`);
          refused = err;
        }
        assert.equal(JSON.stringify(app), text, `${where}: input modified`);
        let fromText: ReturnType<typeof parseApp> | AppValidationError;
        try {
          fromText = parseApp(text, { now: NOW });
        } catch (err) {
          fromText = err as AppValidationError;
        }
        if (refused) {
          assert.ok(refused.failure.details.length > 0, where);
          for (const d of refused.failure.details) {
            assert.ok(d.path.startsWith("/"), `${where}: path ${JSON.stringify(d.path)}`);
            assert.ok(d.errors.length > 0 && d.errors.every((m) => m.length > 0), `${where}: ${JSON.stringify(d)}`);
          }
          assert.ok(fromText instanceof AppValidationError, `${where}: accepted as text, refused as an object`);
          assert.deepEqual(fromText.failure, refused.failure, `${where}: text and object refused differently`);
          continue;
        }
        accepted++;
        assert.deepEqual(shape(fromText as ReturnType<typeof parseApp>), shape(parsed!), `${where}: text parses differently`);
        let again;
        try {
          again = parseApp(JSON.parse(JSON.stringify(parsed!.json)) as unknown, { now: NOW });
        } catch (err) {
          assert.fail(`${where}: its stored JSON ${JSON.stringify(parsed!.json)} is refused: ${(err as Error).message}`);
        }
        assert.deepEqual(shape(again), shape(parsed!), `${where}: its stored JSON parses to another app`);
      }
      assert.ok(accepted > 300, `only ${accepted} accepted`);
    });
  }
});
