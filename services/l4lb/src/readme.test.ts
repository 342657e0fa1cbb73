import { strict as assert } from "node:assert";
import * as fs from "node:fs";
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
import { L4LB_NESTED, l4lbConfigSchema } from "./config";

// The README must say what the code does: config table ↔ schema, metrics section ↔ registered names.
const root = path.join(__dirname, "..");
const readme = fs.readFileSync(path.join(root, "README.md"), "utf8");

describe("l4lb README", () => {
  it("configuration table lists every key of the schema with its default, and no other", () => {
    const keys = snakeConfigKeys(l4lbConfigSchema, L4LB_NESTED, l4lbConfigSchema.parse({ bus: {} }) as Record<string, unknown>);
    assert.ok(keys.has("nft.socket_lb_cgroup") && keys.has("dead_agent_gc_ms"));
    const rows = markdownTable(readmeSection(readme, "### Configuration"));
    assert.deepEqual(configTableProblems(rows, keys), []);
  });

  it("metrics section lists every metric registered in src/, and no other", () => {
    const registered = registeredMetrics(path.join(root, "src"), "l4lb");
    assert.ok(registered.has("l4lb_vips") && registered.has("l4lb_userspace_tcp_active"));
    const documented = documentedMetrics(readmeSection(readme, "### Metrics"), "l4lb");
    assert.deepEqual([...documented].sort(), [...registered].sort());
  });

  it("metrics section shows each labelled metric's labels as the code registers them", () => {
    const registered = registeredMetricLabels(path.join(root, "src"), "l4lb");
    assert.ok(registered.size >= 10);
    const documented = documentedMetricLabels(readmeSection(readme, "### Metrics"), "l4lb");
    assert.deepEqual(metricLabelProblems(documented, registered), []);
  });
});
