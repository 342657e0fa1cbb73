import { strict as assert } from "node:assert";
import { ExchangeError, exchangeUdp, parseResolver } from "./exchange";
import { buildQuery } from "./testing";
import { TYPE_A } from "./wire";

describe("one-shot upstream exchanges", () => {
  it("UDP: a failed connect() rejects the exchange (no send on the unconnected socket, no uncaught exception)", async () => {
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown) => uncaught.push(e);
    process.on("uncaughtException", onUncaught);
    try {
      // Linux refuses connect() to the broadcast address without SO_BROADCAST (EACCES).
      await assert.rejects(
        exchangeUdp(buildQuery({ id: 1, name: "x.", qtype: TYPE_A }), parseResolver("255.255.255.255:53")!, 1000),
        (e: ExchangeError) => {
          assert.ok(e instanceof ExchangeError);
          assert.equal(e.reason, "network");
          assert.match(e.message, /connect: .*EACCES/);
          return true;
        },
      );
      await new Promise((res) => setTimeout(res, 20));
      assert.deepEqual(uncaught, []);
    } finally {
      process.off("uncaughtException", onUncaught);
    }
  });
});
