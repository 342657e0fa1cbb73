import { strict as assert } from "node:assert";
import { counter, createRegistry, histogram, labelledChild } from "./metrics";

describe("labelledChild", () => {
  it("hands out one child per distinct label list, and what it counts is what the registry reports", async () => {
    const registry = createRegistry({ defaultMetrics: false });
    const queries = counter(registry, "t_queries_total", "test", ["zone", "rcode"]);
    const child = labelledChild(queries);
    const a = child("mesos", "NOERROR");
    assert.equal(child("mesos", "NOERROR"), a, "the same list gives the same child");
    assert.notEqual(child("mesos", "NXDOMAIN"), a);
    // Values are not confused by where one ends and the next begins.
    assert.notEqual(child("a b", "c"), child("a", "b c"));
    a.inc();
    a.inc(2);
    child("mesos", "NXDOMAIN").inc();
    const text = await registry.metrics();
    assert.match(text, /^t_queries_total\{zone="mesos",rcode="NOERROR"\} 3$/m);
    assert.match(text, /^t_queries_total\{zone="mesos",rcode="NXDOMAIN"\} 1$/m);
  });

  it("works for histograms with one label", async () => {
    const registry = createRegistry({ defaultMetrics: false });
    const h = histogram(registry, "t_seconds", "test", ["zone"], [0.1, 1]);
    const child = labelledChild(h);
    child("x").observe(0.5);
    child("x").observe(2);
    const text = await registry.metrics();
    assert.match(text, /^t_seconds_count\{zone="x"\} 2$/m);
    assert.match(text, /^t_seconds_bucket\{le="1",zone="x"\} 1$/m);
  });
});
