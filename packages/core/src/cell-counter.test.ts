import { strict as assert } from "node:assert";
import { CellCounter } from "./cell-counter";
import { counter, createRegistry } from "./metrics";

const LABELS = ["route", "rcode"] as const;
const labelsOf = (cell: number) => ({ route: cell < 2 ? "internal" : "forward", rcode: cell % 2 === 0 ? "NOERROR" : "NXDOMAIN" });

async function valueOf(
  registry: ReturnType<typeof createRegistry>,
  name: string,
  labels: Record<string, string>,
): Promise<number | undefined> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  const v = m?.values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return v?.value;
}

describe("core/cell-counter", () => {
  it("cells reach prom-client at scrape, by their labels, without double counting across scrapes", async () => {
    const registry = createRegistry();
    const c = new CellCounter(counter(registry, "t_queries_total", "test", LABELS), 4, labelsOf);
    c.inc(0);
    c.inc(0);
    c.inc(3);
    assert.equal(await valueOf(registry, "t_queries_total", { route: "internal", rcode: "NOERROR" }), 2);
    assert.equal(await valueOf(registry, "t_queries_total", { route: "forward", rcode: "NXDOMAIN" }), 1);
    assert.equal(await valueOf(registry, "t_queries_total", { route: "internal", rcode: "NXDOMAIN" }), undefined);
    c.inc(0);
    assert.equal(await valueOf(registry, "t_queries_total", { route: "internal", rcode: "NOERROR" }), 3);
    assert.equal(await valueOf(registry, "t_queries_total", { route: "forward", rcode: "NXDOMAIN" }), 1);
  });

  it("two counters feeding one metric add up", async () => {
    const registry = createRegistry();
    const metric = counter(registry, "t_shared_total", "test", LABELS);
    const a = new CellCounter(metric, 4, labelsOf);
    const b = new CellCounter(metric, 4, labelsOf);
    a.inc(1);
    b.inc(1);
    b.inc(1);
    assert.equal(await valueOf(registry, "t_shared_total", { route: "internal", rcode: "NXDOMAIN" }), 3);
  });
});
