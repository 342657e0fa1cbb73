import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { DCOS_DNS_NESTED, dcosDnsConfigSchema, loadDcosDnsConfig } from "@dcnet/dcos-dns";
import { L4LB_NESTED, l4lbConfigSchema, loadL4lbConfig } from "@dcnet/l4lb";
import { CONFIG_KEYS, loadMesosDnsConfig } from "@dcnet/mesos-dns";
import { mesosSimConfigSchema } from "@dcnet/mesos-sim";
import { nodeConfigSchema } from "@dcnet/node";
import { helpText } from "./help";
import { loadConfig, schemaHasPath, snakeToCamel, type z } from "@dcnet/core";

// docker-compose.yml's environment blocks and the docs' examples must name real keys: a misspelt
// DCNET_* variable is silently ignored by every service (they share the environment), a MESOS_DNS_*
// one only warned about.

type Env = Record<string, string>;

/**
 * The `environment:` mappings of a compose file (and `&anchor` mappings they merge with `<<: *anchor`),
 * read line by line: enough for our file's plain `KEY: value` entries, not a YAML parser.
 */
function composeEnvironments(text: string): Map<string, Env> {
  const anchors = new Map<string, Env>();
  const blocks = new Map<string, Env>();
  const lines = text.split("\n");
  let owner = "";
  lines.forEach((line, i) => {
    const top = /^ {2}([a-z0-9-]+):\s*$/.exec(line);
    if (top) owner = top[1]!;
    const head = /^( *)(environment|x-node-env):\s*(?:&([\w-]+))?\s*$/.exec(line);
    if (!head) return;
    const indent = head[1]!.length;
    const env: Env = {};
    for (const l of lines.slice(i + 1)) {
      if (l.trim() === "" || l.trim().startsWith("#")) continue;
      const m = /^( *)([^:\s]+):\s*(.*?)\s*$/.exec(l);
      if (!m || m[1]!.length <= indent) break;
      const [key, raw] = [m[2]!, m[3]!];
      if (key === "<<") Object.assign(env, anchors.get(raw.replace(/^\*/, "")) ?? assert.fail(`unknown anchor ${raw}`));
      else env[key] = raw.replace(/^"(.*)"$/, "$1").replace(/\$\{\w+:-([^}]*)\}/g, "$1");
    }
    if (head[3]) anchors.set(head[3], env);
    blocks.set(head[3] ?? (blocks.has(owner) ? `${owner} (line ${i + 1})` : owner), env);
  });
  return blocks;
}

/** The CLI's own variables (services.ts, main.ts), in no service's schema. */
const CLI_VARS = new Set(["DCNET_MESOS_DNS_GRPC_PORT", "DCNET_DCOS_DNS_CONFIG", "DCNET_L4LB_CONFIG", "DCNET_MARATHON", "DCNET_DNS"]);

/**
 * Switches read outside every config schema: the DNS listener's UDP path (packages/dns listener.ts)
 * and the build's "the native module must build" (packages/dns/native/build.mjs).
 */
const SWITCH_VARS = new Map([
  ["DCNET_DNS_UDP", "packages/dns/src/listener.ts"],
  ["DCNET_REQUIRE_NATIVE", "packages/dns/native/build.mjs"],
]);

/** A `DCNET_*` variable names a key of one of the services a node container runs. */
function dcnetKnown(name: string): boolean {
  if (CLI_VARS.has(name) || SWITCH_VARS.has(name)) return true;
  const parts = name.slice("DCNET_".length).split("__");
  const camel = parts.map((p) => snakeToCamel(p.toLowerCase()));
  const schemas: [z.ZodTypeAny, ReadonlySet<string> | undefined][] = [
    [nodeConfigSchema, undefined],
    [mesosSimConfigSchema, undefined],
    [dcosDnsConfigSchema, DCOS_DNS_NESTED],
    [l4lbConfigSchema, L4LB_NESTED],
  ];
  // dcos-dns and l4lb convert section keys one level down only: deeper paths reach no key there.
  return schemas.some(([s, nested]) => (!nested || camel.length === 1 || nested.has(camel[0]!)) && schemaHasPath(s, camel));
}

describe("docker-compose.yml environment", () => {
  const file = path.resolve(__dirname, "../../../docker-compose.yml");
  const text = fs.readFileSync(file, "utf8");
  const envs = composeEnvironments(text);

  it("is read: the masters' and agents' blocks with the merged node environment", () => {
    const m1 = envs.get("master-1");
    assert.ok(m1, [...envs.keys()].join());
    assert.equal(m1["DCNET_BUS__SERVERS"], "nats://nats-1:4222,nats://nats-2:4222,nats://nats-3:4222");
    assert.equal(m1["MESOS_DNS_PORT"], "61053");
    assert.equal(m1["DCNET_NODE__ID"], "master-1");
    assert.ok([...envs.values()].some((e) => e["DCNET_AGENT__ENABLED"] === "true"));
  });

  it("names only real DCNET_* keys and variables the healthchecks read", () => {
    const unknown: string[] = [];
    for (const [where, env] of envs)
      for (const name of Object.keys(env)) {
        if (name.startsWith("DCNET_")) {
          if (!dcnetKnown(name)) unknown.push(`${where}: ${name}`);
        } else if (!name.startsWith("MESOS_DNS_") && !text.includes(`process.env.${name}`))
          unknown.push(`${where}: ${name} (read by nothing)`);
      }
    assert.deepEqual(unknown, []);
    assert.equal(dcnetKnown("DCNET_PRODUCER__SETTLE_MS"), true);
    assert.equal(dcnetKnown("DCNET_PRODUCER__SETTLE"), false, "the check can fail");
    assert.equal(dcnetKnown("DCNET_UPSTREAM_RESOLVER"), false, "the check can fail");
  });

  it("loads every service's config from each block with no warning and no error", () => {
    for (const [where, env] of envs) {
      const warnings: string[] = [];
      const warn = (msg: string): void => void warnings.push(msg);
      assert.doesNotThrow(() => loadConfig(nodeConfigSchema, { env, prefix: "DCNET" }), `node: ${where}`);
      assert.doesNotThrow(() => loadConfig(mesosSimConfigSchema, { env, prefix: "DCNET" }), `mesos-sim: ${where}`);
      assert.doesNotThrow(() => loadDcosDnsConfig({ env }, warn), `dcos-dns: ${where}`);
      assert.doesNotThrow(() => loadL4lbConfig({ env }, warn), `l4lb: ${where}`);
      if (Object.keys(env).some((k) => k.startsWith("MESOS_DNS_")))
        assert.doesNotThrow(() => loadMesosDnsConfig({ env }, warn), `mesos-dns: ${where}`);
      assert.deepEqual(warnings, [], where);
    }
  });
});

describe("environment variables the docs name", () => {
  const repo = path.resolve(__dirname, "../../..");
  const docs = [
    "README.md",
    "docker-compose.yml",
    ...["services", "packages"].flatMap((d) =>
      fs.readdirSync(path.join(repo, d)).flatMap((p) => ["README.md", "CONFIG.md"].map((f) => path.join(d, p, f))),
    ),
  ].filter((f) => fs.existsSync(path.join(repo, f)));

  it("the switches outside the config schemas are read where the list says", () => {
    for (const [name, file] of SWITCH_VARS)
      assert.ok(fs.readFileSync(path.join(repo, file), "utf8").includes(`"${name}"`), `${name} in ${file}`);
  });

  it("are real keys (DCNET_* of a service or the CLI, MESOS_DNS_* of mesos-dns)", () => {
    const mesosDns = new Set(CONFIG_KEYS.map((k) => k.env));
    const problems: string[] = [];
    let seen = 0;
    const texts: [string, string][] = [
      ...docs.map((f): [string, string] => [f, fs.readFileSync(path.join(repo, f), "utf8")]),
      ["dcnet --help", helpText()],
    ];
    for (const [f, text] of texts) {
      // `DCNET_BUS__*`-style prefixes name a section, not a key; DCNET_CLUSTER_KEY is compose's own variable.
      for (const [name] of text.matchAll(/\bDCNET_[A-Z0-9_]*[A-Z0-9]\b(?!__)/g)) {
        seen++;
        if (name !== "DCNET_CLUSTER_KEY" && !dcnetKnown(name)) problems.push(`${f}: ${name}`);
      }
      for (const [name] of text.matchAll(/(?<!DCNET_)\bMESOS_DNS_[A-Z0-9]+\b/g)) {
        seen++;
        if (!mesosDns.has(name)) problems.push(`${f}: ${name}`);
      }
    }
    assert.ok(seen >= 50, `only ${seen} found`);
    assert.deepEqual(problems, []);
  });
});
