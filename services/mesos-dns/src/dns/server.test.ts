import { strict as assert } from "node:assert";
import * as dgram from "node:dgram";
import { promises as dnsp } from "node:dns";
import * as net from "node:net";
import { createRegistry } from "@dcnet/core";
import { createDnsServer } from "./server";
import {
  type Running,
  buildQuery,
  decode,
  makeConfig,
  makeSet,
  prng,
  quietLogger,
  startServer,
  tcpExchange,
  udpExchange,
} from "./test-helpers";
import { TYPE_A, TYPE_AAAA, TYPE_SRV } from "@dcnet/dns";

const names = Array.from({ length: 1000 }, (_, i) => `app-${i}.marathon.mesos.`);
const set = makeSet({
  a: {
    "leader.mesos.": ["1.2.3.4"],
    "web.marathon.mesos.": ["10.0.0.1", "10.0.0.2"],
    "web-x-0.marathon.slave.mesos.": ["10.1.0.1"],
    "big.mesos.": Array.from({ length: 100 }, (_, i) => `10.5.0.${i}`),
    ...Object.fromEntries(names.map((n, i) => [n, [`10.6.${i >> 8}.${i & 255}`]])),
  },
  aaaa: { "web.marathon.mesos.": ["2001:db8::1"] },
  srv: { "_web._tcp.marathon.mesos.": ["web-x-0.marathon.slave.mesos.:31000", "web-x-0.marathon.slave.mesos.:31001"] },
});

function resolver(port: number): dnsp.Resolver {
  const r = new dnsp.Resolver({ timeout: 2000, tries: 1 });
  r.setServers([`127.0.0.1:${port}`]);
  return r;
}

async function startSamePort(): Promise<Running> {
  for (let i = 0; i < 20; i++) {
    const probe = dgram.createSocket("udp4");
    await new Promise<void>((r) => probe.bind(0, "127.0.0.1", () => r()));
    const port = probe.address().port;
    await new Promise<void>((r) => probe.close(() => r()));
    try {
      return await startServer(makeConfig({ externalOn: false, port }), set);
    } catch {
      // port taken meanwhile: try another
    }
  }
  throw new Error("no port free on both UDP and TCP");
}

describe("dns/server over real sockets", () => {
  let s: Running;
  before(async () => {
    s = await startServer(makeConfig({ externalOn: false }), set);
  });
  after(async () => s.stop());

  it("answers node's own resolver (c-ares) over UDP", async () => {
    const r = resolver(s.udp);
    assert.deepEqual((await r.resolve4("web.marathon.mesos")).sort(), ["10.0.0.1", "10.0.0.2"]);
    assert.deepEqual(await r.resolve6("web.marathon.mesos"), ["2001:db8::1"]);
    const srv = await r.resolveSrv("_web._tcp.marathon.mesos");
    assert.deepEqual(srv.map((x) => x.port).sort(), [31000, 31001]);
    assert.ok(srv.every((x) => x.name === "web-x-0.marathon.slave.mesos" && x.priority === 0 && x.weight === 1));
    // Quirk kept (§11.2): the SOA is in the authority section, so c-ares reports no data, as it
    // does against upstream Mesos-DNS.
    await assert.rejects(r.resolveSoa("mesos"), { code: "ENODATA" });
    await assert.rejects(r.resolve4("nothing.mesos"), { code: "ENOTFOUND" });
    await assert.rejects(r.resolve6("leader.mesos"), { code: "ENODATA" });
    await assert.rejects(r.resolve4("google.com"), { code: "EREFUSED" });
  });

  it("c-ares retries a truncated answer over TCP and gets all 100 records", async () => {
    // c-ares uses one port number for UDP and TCP: run a server with both on the same port.
    const same = await startSamePort();
    try {
      assert.equal(same.udp, same.tcp);
      assert.equal((await resolver(same.udp).resolve4("big.mesos")).length, 100);
    } finally {
      await same.stop();
    }
    const [t] = await tcpExchange(s.tcp, [buildQuery({ name: "big.mesos.", qtype: TYPE_A })]);
    assert.equal(decode(t!).answers.length, 100);
    const u = decode((await udpExchange(s.udp, buildQuery({ name: "big.mesos.", qtype: TYPE_A })))!);
    assert.ok(u.tc && u.answers.length < 100);
  });

  it("TCP: several pipelined queries on one connection, one reply each", async () => {
    const qs = [
      buildQuery({ id: 1, name: "leader.mesos.", qtype: TYPE_A }),
      buildQuery({ id: 2, name: "web.marathon.mesos.", qtype: TYPE_AAAA }),
      buildQuery({ id: 3, name: "_web._tcp.marathon.mesos.", qtype: TYPE_SRV }),
      buildQuery({ id: 4, name: "nothing.mesos.", qtype: TYPE_A }),
    ];
    const replies = (await tcpExchange(s.tcp, qs)).map(decode);
    const byId = new Map(replies.map((d) => [d.id, d]));
    assert.deepEqual([...byId.keys()].sort(), [1, 2, 3, 4]);
    assert.deepEqual(
      byId.get(1)!.answers.map((a) => a.data),
      ["1.2.3.4"],
    );
    assert.equal(byId.get(3)!.answers.length, 2);
    assert.equal(byId.get(4)!.rcode, 3);
  });

  it("TCP: a query split across segments is reassembled", async () => {
    const q = buildQuery({ id: 9, name: "leader.mesos.", qtype: TYPE_A });
    const framed = Buffer.concat([Buffer.from([0, q.length]), q]);
    const reply = await new Promise<Buffer>((resolve, reject) => {
      const c = net.connect(s.tcp, "127.0.0.1");
      let buf = Buffer.alloc(0);
      c.on("connect", () => {
        c.write(framed.subarray(0, 1));
        setTimeout(() => c.write(framed.subarray(1, 7)), 20);
        setTimeout(() => c.write(framed.subarray(7)), 40);
      });
      c.on("data", (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        if (buf.length >= 2 && buf.length >= buf.readUInt16BE(0) + 2) {
          c.end();
          resolve(buf.subarray(2));
        }
      });
      c.on("error", reject);
    });
    assert.equal(decode(reply).id, 9);
  });

  it("malformed UDP packets: short → dropped, garbage → FORMERR with the same ID, QR=1 → dropped", async () => {
    assert.equal(await udpExchange(s.udp, Buffer.from([1, 2, 3, 4, 5]), 300), null);
    const garbage = Buffer.from([0xab, 0xcd, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x3f, 0x61]);
    const f = decode((await udpExchange(s.udp, garbage))!);
    assert.equal(f.id, 0xabcd);
    assert.equal(f.rcode, 1);
    assert.ok(f.qr);
    assert.equal(f.size, 12);
    const resp = buildQuery({ name: "leader.mesos.", qtype: TYPE_A, flags: 0x8100 });
    assert.equal(await udpExchange(s.udp, resp, 300), null);
    // …and the server still answers.
    assert.equal(decode((await udpExchange(s.udp, buildQuery({ name: "leader.mesos.", qtype: TYPE_A })))!).rcode, 0);
  });

  it("fuzz: random bytes and mutated queries never crash the server; it keeps answering", async () => {
    const rnd = prng(0xd5);
    // Replies leave in batches of up to 64 per sendmmsg: a receive buffer that holds a burst of them.
    const sock = dgram.createSocket({ type: "udp4", recvBufferSize: 4 << 20 });
    await new Promise<void>((r) => sock.bind(0, "127.0.0.1", () => r()));
    let replies = 0;
    sock.on("message", (m) => {
      replies++;
      assert.ok(m.length >= 12);
    });
    const seeds = [
      buildQuery({ name: "leader.mesos.", qtype: TYPE_A, edns: { udpSize: 1232 } }),
      buildQuery({ name: "_web._tcp.marathon.mesos.", qtype: TYPE_SRV }),
      buildQuery({ name: "big.*.mesos.", qtype: 255 }),
    ];
    const inProcess: Promise<Buffer | null>[] = [];
    for (let i = 0; i < 3000; i++) {
      let pkt: Buffer;
      if (i % 3 === 0) {
        pkt = Buffer.alloc(Math.floor(rnd() * 80));
        for (let j = 0; j < pkt.length; j++) pkt[j] = Math.floor(rnd() * 256);
      } else {
        pkt = Buffer.from(seeds[i % seeds.length]!);
        const flips = 1 + Math.floor(rnd() * 4);
        for (let k = 0; k < flips; k++) pkt[Math.floor(rnd() * pkt.length)] = Math.floor(rnd() * 256);
        if (rnd() < 0.2) pkt = pkt.subarray(0, Math.floor(rnd() * pkt.length));
      }
      pkt[2] = pkt.length > 2 ? pkt[2]! & 0x7f : 0; // keep QR=0 so most packets get a reply
      sock.send(pkt, s.udp, "127.0.0.1");
      // The same packet in-process over both transports (exercises TCP-size paths without sockets).
      inProcess.push(s.server.query(pkt, i % 2 ? "tcp" : "udp"));
      if (i % 200 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    const results = await Promise.all(inProcess);
    for (const r of results) if (r) assert.ok(r.length >= 12);
    await new Promise((r) => setTimeout(r, 200));
    sock.close();
    assert.ok(replies > 1000, `replies ${replies}`);
    const d = decode((await udpExchange(s.udp, buildQuery({ name: "leader.mesos.", qtype: TYPE_A })))!);
    assert.deepEqual(
      d.answers.map((a) => a.data),
      ["1.2.3.4"],
    );
    const [t] = await tcpExchange(s.tcp, [buildQuery({ name: "leader.mesos.", qtype: TYPE_A })]);
    assert.equal(decode(t!).answers.length, 1);
  });

  it("answers 10,000 UDP queries over 1,000 names without error (windowed, not timed)", async () => {
    const sock = dgram.createSocket("udp4");
    await new Promise<void>((r) => sock.bind(0, "127.0.0.1", () => r()));
    const total = 10000;
    const window = 64;
    const queries = names.map((n, i) => buildQuery({ id: i, name: n, qtype: TYPE_A }));
    let sent = 0;
    let received = 0;
    let bad = 0;
    const t0 = process.hrtime.bigint();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timeout: ${received}/${total}`)), 20000);
      const pump = () => {
        while (sent < total && sent - received < window) {
          sock.send(queries[sent % queries.length]!, s.udp, "127.0.0.1");
          sent++;
        }
      };
      sock.on("message", (m) => {
        received++;
        const id = m.readUInt16BE(0);
        const d = decode(m);
        if (d.rcode !== 0 || d.answers.length !== 1 || d.answers[0]!.data !== `10.6.${id >> 8}.${id & 255}`) bad++;
        if (received === total) {
          clearTimeout(timer);
          resolve();
        } else pump();
      });
      // Loss is possible on a busy machine: top the window up periodically.
      const refill = setInterval(() => {
        if (received >= total) clearInterval(refill);
        else if (sent >= total) {
          clearInterval(refill);
          clearTimeout(timer);
          resolve();
        } else {
          received = Math.max(received, sent - window);
          pump();
        }
      }, 500);
      pump();
    });
    sock.close();
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    assert.equal(bad, 0);
    assert.ok(received >= total * 0.99, `received ${received}`);
    // Informational only.
    console.log(`      10k queries in ${ms.toFixed(0)} ms (${Math.round((received / ms) * 1000)} q/s, loopback, window ${window})`);
  });

  it("exports query metrics by zone kind and rcode", async () => {
    const text = await s.registry.getSingleMetricAsString("mesos_dns_dns_queries_total");
    assert.match(text, /zone="mesos",rcode="NOERROR",transport="udp"/);
    assert.match(text, /rcode="NXDOMAIN"/);
    assert.match(await s.registry.getSingleMetricAsString("mesos_dns_dns_dropped_total"), /reason="short"/);
  });
});

describe("dns/server lifecycle", () => {
  it("SERVFAIL before the first record set, answers after update(), clean stop", async () => {
    const s = await startServer(makeConfig({ externalOn: false }));
    try {
      assert.equal(decode((await udpExchange(s.udp, buildQuery({ name: "leader.mesos.", qtype: TYPE_A })))!).rcode, 2);
      s.server.update(set, 42);
      assert.equal(decode((await udpExchange(s.udp, buildQuery({ name: "leader.mesos.", qtype: TYPE_A })))!).rcode, 0);
    } finally {
      await s.stop();
    }
    assert.equal(await udpExchange(s.udp, buildQuery({ name: "leader.mesos.", qtype: TYPE_A }), 200), null);
  });

  it("reads the initial set from `records` at start()", async () => {
    const server = createDnsServer({
      config: makeConfig({ externalOn: false }),
      records: () => ({ set, serial: 5 }),
      logger: quietLogger(),
      registry: createRegistry({ defaultMetrics: false }),
    });
    const ports = await server.start();
    try {
      assert.equal(server.serial(), 5);
      assert.equal(decode((await udpExchange(ports.udp, buildQuery({ name: "leader.mesos.", qtype: TYPE_A })))!).rcode, 0);
      await assert.rejects(server.start());
    } finally {
      await server.stop();
    }
  });

  it("closes idle TCP connections", async () => {
    const s = await startServer(makeConfig({ externalOn: false }), set, { tcpIdleTimeoutMs: 100 });
    try {
      const closedAfter = await new Promise<number>((resolve) => {
        const t0 = Date.now();
        const c = net.connect(s.tcp, "127.0.0.1");
        c.on("close", () => resolve(Date.now() - t0));
        c.on("error", () => undefined);
      });
      assert.ok(closedAfter >= 80 && closedAfter < 2000, `closed after ${closedAfter} ms`);
    } finally {
      await s.stop();
    }
  });

  it("bounds the number of TCP connections", async () => {
    const s = await startServer(makeConfig({ externalOn: false }), set, { maxTcpConnections: 2 });
    const conns: net.Socket[] = [];
    try {
      let closed = 0;
      for (let i = 0; i < 3; i++) {
        const c = net.connect(s.tcp, "127.0.0.1");
        c.on("close", () => closed++);
        c.on("error", () => undefined);
        conns.push(c);
        await new Promise((r) => c.once("connect", r));
        await new Promise((r) => setTimeout(r, 20));
      }
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(closed, 1, "the third connection is dropped");
      const [reply] = await Promise.all([
        new Promise<Buffer>((resolve) => {
          conns[0]!.once("data", (d: Buffer) => resolve(d));
        }),
        (() => {
          const q = buildQuery({ name: "leader.mesos.", qtype: TYPE_A });
          conns[0]!.write(Buffer.concat([Buffer.from([0, q.length]), q]));
        })(),
      ]);
      assert.equal(decode(reply.subarray(2)).rcode, 0);
    } finally {
      for (const c of conns) c.destroy();
      await s.stop();
    }
  });
});
