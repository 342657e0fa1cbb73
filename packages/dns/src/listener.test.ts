import { strict as assert } from "node:assert";
import { createLogger } from "@dcnet/core";
import * as dgram from "node:dgram";
import * as net from "node:net";
import { batchUdpUnavailable } from "./batch-udp";
import { UDP_PATHS, createDnsListener, type DnsHandler, type DnsListener } from "./listener";
import { rawUdpAvailable } from "./raw-udp";
import { buildQuery, decode, skipWithoutBatchUdp, tcpExchange, udpExchange } from "./testing";
import { TYPE_A, headerOnly } from "./wire";

const logger = createLogger({ service: "dns-listener-test", level: "silent" });

/** Answers every query with a header-only NOERROR reply carrying the query's ID (async when `later`). */
const echo =
  (later: boolean): DnsHandler =>
  (msg) => {
    const reply = headerOnly(msg.readUInt16BE(0), 0);
    return later ? new Promise((r) => setTimeout(() => r(reply), 5)) : reply;
  };

// Every case runs on each UDP path: batched (native recvmmsg/sendmmsg), raw udp_wrap, and dgram.
for (const udpPath of UDP_PATHS) {
  describe(`dns/listener (UDP ${udpPath})`, () => {
    if (udpPath === "raw")
      it("the raw UDP path is available on this Node (else the raw runs below would test dgram)", () => assert.ok(rawUdpAvailable()));
    if (udpPath === "batch")
      it("the batched UDP path is built and loads (else the batch runs below would test udp_wrap)", function () {
        skipWithoutBatchUdp(this);
      });
    /** Starts `l` and checks it runs on the path under test (no silent fallback). */
    const started = async (l: DnsListener): Promise<{ udp: number; tcp: number }> => {
      const ports = await l.start();
      if (udpPath !== "batch" || batchUdpUnavailable() === undefined) assert.equal(l.udpPath(), udpPath);
      return ports;
    };

    for (const later of [false, true]) {
      it(`UDP and TCP replies go back to the sender (${later ? "promise" : "synchronous"} handler)`, async () => {
        const l = createDnsListener({ host: "127.0.0.1", port: 0, handle: echo(later), logger, udpPath });
        const { udp, tcp } = await started(l);
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
      const l = createDnsListener({ host: "localhost", port: 0, handle: echo(false), logger, tcp: false, udpPath });
      const { udp } = await started(l);
      try {
        assert.equal(decode((await udpExchange(udp, buildQuery({ id: 9, name: "a.mesos.", qtype: TYPE_A })))!).id, 9);
      } finally {
        await l.stop();
      }
    });

    it("IPv6: replies come back over ::1", async () => {
      const l = createDnsListener({ host: "::1", port: 0, handle: echo(false), logger, tcp: false, udpPath });
      const { udp } = await started(l);
      try {
        const got = await new Promise<Buffer>((resolve, reject) => {
          const c = dgram.createSocket("udp6");
          const timer = setTimeout(() => reject(new Error("no reply over ::1")), 2000);
          c.on("message", (m) => {
            clearTimeout(timer);
            c.close();
            resolve(m);
          });
          c.send(buildQuery({ id: 0x66, name: "a.mesos.", qtype: TYPE_A }), udp, "::1");
        });
        assert.equal(decode(got).id, 0x66);
      } finally {
        await l.stop();
      }
    });

    for (const later of [false, true])
      it(`1,000 queries sent at once are all answered, each with its own ID (${later ? "promise" : "synchronous"} handler)`, async () => {
        const l = createDnsListener({ host: "127.0.0.1", port: 0, handle: echo(later), logger, tcp: false, udpPath });
        const { udp } = await started(l);
        // Replies come in bursts (a batch, or 1,000 timers at once): a buffer that holds them all.
        const c = dgram.createSocket({ type: "udp4", recvBufferSize: 4 << 20 });
        try {
          const seen = new Set<number>();
          const all = new Promise<void>((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`only ${seen.size} of 1000 answered`)), 5000);
            c.on("message", (m) => {
              seen.add(decode(m).id);
              if (seen.size === 1000) {
                clearTimeout(timer);
                resolve();
              }
            });
          });
          for (let i = 0; i < 1000; i++) c.send(buildQuery({ id: i, name: "a.mesos.", qtype: TYPE_A }), udp, "127.0.0.1");
          await all;
        } finally {
          c.close();
          await l.stop();
        }
      });

    it("a port in use: start rejects naming it, and stop frees what was bound", async () => {
      const a = createDnsListener({ host: "127.0.0.1", port: 0, handle: echo(false), logger, tcp: false, udpPath });
      const { udp } = await started(a);
      const b = createDnsListener({ host: "127.0.0.1", port: udp, handle: echo(false), logger, tcp: false, udpPath });
      await assert.rejects(b.start(), (err: NodeJS.ErrnoException) => err.code === "EADDRINUSE" && err.message.includes(String(udp)));
      await a.stop();
      const again = createDnsListener({ host: "127.0.0.1", port: udp, handle: echo(false), logger, tcp: false, udpPath });
      await started(again);
      await again.stop();
    });
  });
}

describe("dns/listener (TCP backpressure)", () => {
  it("a client that sends queries but reads no replies: reading stops once its replies fill the socket (memory stays bounded)", async () => {
    let handled = 0;
    const big = Buffer.alloc(16_000);
    const l = createDnsListener({
      host: "127.0.0.1",
      port: 0,
      logger,
      udp: false,
      tcpIdleTimeoutMs: 60_000,
      handle: (msg) => {
        handled++;
        const r = Buffer.from(big);
        msg.copy(r, 0, 0, 2);
        return r;
      },
    });
    const { tcp } = await l.start();
    const client = net.connect(tcp, "127.0.0.1");
    try {
      await new Promise<void>((r) => client.once("connect", () => r()));
      // 3,000 queries (~100 kB: the kernel takes them all); the replies would be 48 MB. No "data" listener: never read.
      const q = buildQuery({ id: 1, name: "x.example.", qtype: TYPE_A });
      const frame = Buffer.alloc(q.length + 2);
      frame.writeUInt16BE(q.length, 0);
      q.copy(frame, 2);
      client.write(Buffer.concat(Array.from({ length: 3000 }, () => frame)));
      await new Promise((r) => setTimeout(r, 1500));
      assert.ok(handled > 0, "some queries answered");
      assert.ok(handled < 1500, `${handled} of 3000 queries handled for a client that reads nothing`);
    } finally {
      client.destroy();
      await l.stop();
    }
  });
});
