import { strict as assert } from "node:assert";
import * as dgram from "node:dgram";
import { createLogger, createRegistry } from "@dcnet/core";
import { createDnsListener } from "./listener";
import { skipWithoutBatchUdp } from "./testing";
import { registerUdpDropsMetric } from "./udp-drops-metric";
import { headerOnly } from "./wire";

const logger = createLogger({ service: "udp-drops-test", level: "silent" });

describe("dns/udp-drops-metric", () => {
  it("counts a query over 4096 bytes as too_large at scrape time, once; send_failed is exported at 0", async function () {
    skipWithoutBatchUdp(this);
    const registry = createRegistry();
    const l = createDnsListener({
      host: "127.0.0.1",
      port: 0,
      logger,
      tcp: false,
      udpPath: "batch",
      handle: (m) => headerOnly(m.readUInt16BE(0), 0),
    });
    registerUdpDropsMetric(registry, "t_udp_dropped_total", () => [l]);
    const { udp } = await l.start();
    const c = dgram.createSocket("udp4");
    try {
      const value = async (reason: string) =>
        (await registry.getSingleMetric("t_udp_dropped_total")!.get()).values.find((v) => v.labels["reason"] === reason)?.value;
      assert.equal(await value("too_large"), 0);
      c.send(Buffer.alloc(5000), udp, "127.0.0.1");
      // A normal query after it: once it is answered, the big one has been read (and dropped).
      const answered = new Promise<void>((r) => c.once("message", () => r()));
      c.send(Buffer.from([0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), udp, "127.0.0.1");
      await answered;
      assert.equal(await value("too_large"), 1);
      assert.equal(await value("too_large"), 1, "a second scrape adds nothing");
      assert.equal(await value("send_failed"), 0);
    } finally {
      c.close();
      await l.stop();
    }
  });
});
