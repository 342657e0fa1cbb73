import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  codeSpans,
  documentedMetrics,
  markdownTable,
  readmeSection,
  registeredMetrics,
  documentedMetricLabels,
  metricLabelProblems,
  registeredMetricLabels,
} from "@dcnet/core";
import { CONFIG_KEYS, parseMesosDnsConfig } from "./config";

// The docs must say what the code does: CONFIG.md's key table ↔ CONFIG_KEYS (config.test.ts also
// checks the whole generated text), README metrics ↔ the names registered in src/.
const root = path.join(__dirname, "..");
const read = (f: string): string => fs.readFileSync(path.join(root, f), "utf8");

describe("mesos-dns docs", () => {
  it("CONFIG.md's table names every key and its MESOS_DNS_ variable, and no other", () => {
    const rows = markdownTable(readmeSection(read("CONFIG.md"), "## Keys"));
    const documented = rows.map((r) => [codeSpans(r[0] ?? "")[0], codeSpans(r[1] ?? "")[0]]);
    assert.deepEqual(
      documented,
      CONFIG_KEYS.map((k) => [k.docKey, k.env]),
    );
  });

  it("README's metrics section lists every metric registered in src/, and no other", () => {
    const registered = registeredMetrics(path.join(root, "src"), "mesos_dns");
    assert.ok(registered.has("mesos_dns_refresh_total"));
    const documented = documentedMetrics(readmeSection(read("README.md"), "## Metrics"), "mesos_dns");
    assert.deepEqual([...documented].sort(), [...registered].sort());
  });

  it("metrics section shows each labelled metric's labels as the code registers them", () => {
    const registered = registeredMetricLabels(path.join(root, "src"), "mesos_dns");
    assert.ok(registered.size >= 10);
    const documented = documentedMetricLabels(readmeSection(read("README.md"), "## Metrics"), "mesos_dns");
    assert.deepEqual(metricLabelProblems(documented, registered), []);
  });

  it("CONFIG.md's example config.json loads with no warning", () => {
    const example = /```json\n([^`]*)```/.exec(read("CONFIG.md"))?.[1];
    assert.ok(example?.includes("masters"));
    const warnings: string[] = [];
    const c = parseMesosDnsConfig(JSON.parse(example!), { env: {}, warn: (m) => warnings.push(m) });
    assert.deepEqual(warnings, []);
    assert.equal(c.refreshSeconds, 30);
  });
});
