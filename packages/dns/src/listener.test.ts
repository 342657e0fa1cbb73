import { strict as assert } from "node:assert";
import { createLogger } from "@dcnet/core";
import { createDnsListener, type DnsHandler } from "./listener";
import { buildQuery, decode, tcpExchange, udpExchange } from "./testing";
import { TYPE_A, headerOnly } from "./wire";

const logger = createLogger({ service: "dns-listener-test", level: "silent" });

/** Answers every query with a header-only NOERROR reply carrying the query's ID (async when `later`). */
const echo =
  (later: boolean): DnsHandler =>
  (msg) => {
    const reply = headerOnly(msg.readUInt16BE(0), 0);
    return later ? new Promise((r) => setTimeout(() => r(reply), 5)) : reply;
  };

describe("dns/listener", () => {
  for (const later of [false, true]) {
    it(`UDP and TCP replies go back to the sender (${later ? "promise" : "synchronous"} handler)`, async () => {
      const l = createDnsListener({ host: "127.0.0.1", port: 0, handle: echo(later), logger });
      const { udp, tcp } = await l.start();
      try {
        const u = await udpExchange(udp, buildQuery({ id: 0x4242, name: "a.mesos.", qtype: TYPE_A }));
        assert.equal(decode(u!).id, 0x4242);
        const t = await tcpExchange(tcp, [buildQuery({ id: 7, name: "a.mesos.", qtype: TYPE_A })]);
        assert.equal(decode(t[0]!).id, 7);
      } finally {
        await l.stop();
      }
    });
  }

  it("binds to a host name (resolved once at start; replies go to IP literals only)", async () => {
    const l = createDnsListener({ host: "localhost", port: 0, handle: echo(false), logger, tcp: false });
    const { udp } = await l.start();
    try {
      assert.equal(decode((await udpExchange(udp, buildQuery({ id: 9, name: "a.mesos.", qtype: TYPE_A })))!).id, 9);
    } finally {
      await l.stop();
    }
  });
});
