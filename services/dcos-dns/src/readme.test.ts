import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  configTableProblems,
  documentedMetrics,
  markdownTable,
  readmeSection,
  registeredMetrics,
  snakeConfigKeys,
  documentedMetricLabels,
  metricLabelProblems,
  registeredMetricLabels,
} from "@dcnet/core";
import { DCOS_DNS_NESTED, dcosDnsConfigSchema, loadDcosDnsConfig } from "./config";

// The README must say what the code does: config table ↔ schema, metrics section ↔ registered names.
const root = path.join(__dirname, "..");
const readme = fs.readFileSync(path.join(root, "README.md"), "utf8");

describe("dcos-dns README", () => {
  it("config table lists every key of the schema with its default, and no other", () => {
    const keys = snakeConfigKeys(dcosDnsConfigSchema, DCOS_DNS_NESTED, dcosDnsConfigSchema.parse({}) as Record<string, unknown>);
    assert.ok(keys.has("producer.settle_ms") && keys.has("l4lb_rest"));
    const rows = markdownTable(readmeSection(readme, "## Config (`dcos-dns.json` keys, or `DCNET_<KEY>` in the environment)"));
    assert.deepEqual(configTableProblems(rows, keys), []);
  });

  it("metrics section lists every metric registered in src/, and no other", () => {
    const registered = registeredMetrics(path.join(root, "src"), "dns");
    assert.ok(registered.has("dns_queries_total"));
    const documented = documentedMetrics(readmeSection(readme, "## Metrics"), "dns");
    assert.deepEqual([...documented].sort(), [...registered].sort());
  });

  it("metrics section shows each labelled metric's labels as the code registers them", () => {
    const registered = registeredMetricLabels(path.join(root, "src"), "dns");
    assert.ok(registered.size >= 10);
    const documented = documentedMetricLabels(readmeSection(readme, "## Metrics"), "dns");
    assert.deepEqual(metricLabelProblems(documented, registered), []);
  });

  it("the example dcos-dns.json loads with no warning", () => {
    const example = /```json\n([^`]*)```/.exec(readme)?.[1];
    assert.ok(example?.includes("upstream_resolvers"));
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "dcos-dns-readme-")), "dcos-dns.json");
    fs.writeFileSync(file, example!);
    const warnings: string[] = [];
    const c = loadDcosDnsConfig({ file, env: {} }, (m) => warnings.push(m));
    assert.deepEqual(warnings, []);
    assert.equal(c.udpPort, 8053);
  });
});
