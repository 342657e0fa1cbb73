import { strict as assert } from "node:assert";
import * as dgram from "node:dgram";
import {
  buildQuery,
  decode,
  type FakeUpstream,
  nameToWire,
  startUpstream,
  tcpExchange,
  TYPE_A,
  TYPE_SRV,
  udpExchange,
  upstreamReply,
} from "@dcnet/dns";
import { createRegistry } from "@dcnet/core";
import type { DcosDns } from "./service";
import { startDcosDns, testConfig } from "./test-util";

describe("dcos-dns standalone: listeners, static zones, .mesos to every Mesos-DNS, upstreams", function () {
  this.timeout(20_000);
  let upstream: FakeUpstream;
  let mesosUp: FakeUpstream;
  let silent: FakeUpstream[];
  let corp: FakeUpstream;
  let svc: DcosDns;
  let port = 0;

  before(async () => {
    upstream = await startUpstream((m) => upstreamReply(m, { a: ["93.184.216.34"] }));
    mesosUp = await startUpstream((m) => upstreamReply(m, { a: ["10.0.5.5"] }));
    silent = [await startUpstream(() => null), await startUpstream(() => null)];
    corp = await startUpstream((m) => upstreamReply(m, { rcode: 3 }));
    svc = await startDcosDns(
      testConfig({
        upstreamResolvers: [upstream.address],
        mesosDns: [silent[0]!.address, mesosUp.address, silent[1]!.address],
        forwardZones: { "corp.example": [corp.address] },
        upstreamTimeoutMs: 300,
        forwardTimeoutMs: 600,
        masters: ["10.0.0.11", "10.0.0.12", "10.0.0.13"],
      }),
    );
    port = svc.ports().dns[0]!.udp;
  });
  after(async () => {
    await svc?.lifecycle.stop();
    for (const u of [upstream, mesosUp, corp, ...silent]) await u?.close();
  });

  const udp = async (name: string, qtype = TYPE_A, id = 1) => {
    const r = await udpExchange(port, buildQuery({ id, name, qtype }));
    assert.ok(r, `no reply for ${name}`);
    return decode(r);
  };

  it("answers ready.spartan and the zk zone (masters repeated to fill zk-1…zk-5)", async () => {
    assert.equal((await udp("ready.spartan")).answers[0]!.data, "127.0.0.1");
    const zk = await Promise.all([1, 2, 3, 4, 5].map((i) => udp(`zk-${i}.zk`)));
    assert.deepEqual(
      zk.map((d) => d.answers[0]!.data),
      ["10.0.0.11", "10.0.0.12", "10.0.0.13", "10.0.0.11", "10.0.0.12"],
    );
    assert.equal((await udp("thisnode.thisdcos.directory")).answers[0]!.data, "10.9.0.1");
  });

  it("forwards .mesos to every Mesos-DNS in parallel: one answering is enough", async () => {
    const before = mesosUp.received.length;
    const t0 = Date.now();
    const d = await udp("web.marathon.mesos", TYPE_A, 42);
    assert.equal(d.id, 42);
    assert.equal(d.answers[0]!.data, "10.0.5.5");
    assert.ok(Date.now() - t0 < 250, "did not wait for the silent servers");
    assert.equal(mesosUp.received.length, before + 1);
    assert.ok(
      silent.every((s) => s.received.length > 0),
      "every Mesos-DNS was asked",
    );
  });

  it("relays the upstream's answer verbatim for other names, and the forward zone's for its names", async () => {
    assert.equal((await udp("example.com")).answers[0]!.data, "93.184.216.34");
    const nx = await udp("host.corp.example");
    assert.equal(nx.rcode, 3, "NXDOMAIN from the zone's upstream relayed");
    assert.equal(corp.received.length, 1);
  });

  it("answers over TCP, many queries on one connection", async () => {
    const l = svc.ports().dns[0]!;
    const replies = await tcpExchange(l.tcp, [
      buildQuery({ id: 1, name: "ready.spartan", qtype: TYPE_A }),
      buildQuery({ id: 2, name: "example.com", qtype: TYPE_A }),
      buildQuery({ id: 3, name: "zk-1.zk", qtype: TYPE_A }),
    ]);
    const byId = new Map(replies.map((r) => [decode(r).id, decode(r)]));
    assert.equal(byId.get(1)!.answers[0]!.data, "127.0.0.1");
    assert.equal(byId.get(2)!.answers[0]!.data, "93.184.216.34");
    assert.equal(byId.get(3)!.answers[0]!.data, "10.0.0.11");
    assert.equal(upstream.received.at(-1)!.transport, "tcp", "TCP queries are forwarded over TCP");
  });

  it("SERVFAIL when every upstream fails", async () => {
    const s2 = await startDcosDns(testConfig({ upstreamResolvers: [silent[0]!.address], upstreamTimeoutMs: 100, forwardTimeoutMs: 200 }));
    try {
      const r = await udpExchange(s2.ports().dns[0]!.udp, buildQuery({ id: 9, name: "example.com", qtype: TYPE_A }));
      assert.equal(decode(r!).rcode, 2);
      const none = await udpExchange(s2.ports().dns[0]!.udp, buildQuery({ id: 9, name: "x.marathon.mesos", qtype: TYPE_A }));
      assert.equal(decode(none!).rcode, 2, ".mesos with no Mesos-DNS known → SERVFAIL at once");
    } finally {
      await s2.lifecycle.stop();
    }
  });

  it("queries in flight together each get their own question back (SERVFAIL after the upstream timeout, answers in between)", async () => {
    const s2 = await startDcosDns(testConfig({ upstreamResolvers: [silent[0]!.address], upstreamTimeoutMs: 100, forwardTimeoutMs: 200 }));
    try {
      const p = s2.ports().dns[0]!.udp;
      const names = Array.from({ length: 20 }, (_, i) => `n${i}.example.com`);
      // Forwarded queries wait for the upstream while authoritative ones are answered on the same server.
      const pending = names.map((name, i) => udpExchange(p, buildQuery({ id: 100 + i, name, qtype: TYPE_A })));
      const ready = await udpExchange(p, buildQuery({ id: 7, name: "ready.spartan", qtype: TYPE_A }));
      assert.equal(decode(ready!).rcode, 0);
      const replies = await Promise.all(pending);
      replies.forEach((r, i) => {
        const d = decode(r!);
        assert.equal(d.id, 100 + i);
        assert.equal(d.rcode, 2);
        assert.equal(d.questions[0]?.name.replace(/\.$/, ""), names[i]);
      });
    } finally {
      await s2.lifecycle.stop();
    }
  });

  it("survives garbage: FORMERR or silence, and keeps answering", async () => {
    const sock = dgram.createSocket("udp4");
    let seed = 12345;
    const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    const base = buildQuery({ id: 5, name: "ready.spartan", qtype: TYPE_A });
    for (let i = 0; i < 500; i++) {
      const b = Buffer.from(base);
      const n = 1 + Math.floor(rnd() * 6);
      for (let k = 0; k < n; k++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
      const cut = rnd() < 0.3 ? b.subarray(0, Math.floor(rnd() * b.length)) : b;
      sock.send(cut, port, "127.0.0.1");
    }
    await new Promise((r) => setTimeout(r, 300));
    sock.close();
    assert.equal((await udp("ready.spartan")).answers[0]!.data, "127.0.0.1");
  });

  it("SRV for a name without SRV records: NOERROR/NODATA from the static zone", async () => {
    const d = await udp("ready.spartan", TYPE_SRV);
    assert.equal(d.rcode, 0);
    assert.equal(d.answers.length, 0);
  });
});

describe("dcos-dns forwarding metrics", function () {
  this.timeout(20_000);
  it("every forwarded query is one dns_forwarder_requests_duration_seconds and one dns_worker_requests_duration_seconds observation", async () => {
    const up = await startUpstream((m) => upstreamReply(m, { a: ["10.0.5.5"] }));
    const registry = createRegistry({ defaultMetrics: false });
    const svc = await startDcosDns(testConfig({ upstreamResolvers: [up.address], mesosDns: [up.address] }), { registry });
    try {
      const port = svc.ports().dns[0]!.udp;
      for (const [i, name] of ["a.marathon.mesos", "b.marathon.mesos", "example.com", "c.marathon.mesos"].entries()) {
        const r = await udpExchange(port, buildQuery({ id: i + 1, name, qtype: TYPE_A }));
        assert.equal(decode(r!).answers[0]!.data, "10.0.5.5");
      }
      const text = await registry.metrics();
      const count = (metric: string, labels: string): number =>
        Number(new RegExp(`^${metric}_count\\{${labels}\\} (\\d+)$`, "m").exec(text)?.[1] ?? -1);
      assert.equal(count("dns_forwarder_requests_duration_seconds", 'zone="mesos"'), 3);
      assert.equal(count("dns_forwarder_requests_duration_seconds", 'zone="."'), 1);
      assert.equal(count("dns_worker_requests_duration_seconds", `protocol="udp",upstream_address="${up.address}"`), 4);
    } finally {
      await svc.lifecycle.stop();
      await up.close();
    }
  });
});

describe("dcos-dns: a message with several questions (§3.2)", function () {
  this.timeout(20_000);
  /** A query with these questions, each A/IN, names uncompressed. */
  const several = (id: number, ...names: string[]): Buffer => {
    const q = buildQuery({ id, name: names[0]!, qtype: TYPE_A });
    const rest = names.slice(1).map((n) => Buffer.concat([nameToWire(n)!, Buffer.from([0, 1, 0, 1])]));
    const msg = Buffer.concat([q, ...rest]);
    msg.writeUInt16BE(names.length, 4);
    return msg;
  };

  it("all to Mesos-DNS: forwarded as they are; mixed routes: answered here (no zone: NOERROR, AA, empty), nothing forwarded, a forwarder failure per route", async () => {
    const mesos = await startUpstream((m) => upstreamReply(m, { a: ["10.0.5.5"] }));
    const up = await startUpstream((m) => upstreamReply(m, { a: ["93.184.216.34"] }));
    const registry = createRegistry({ defaultMetrics: false });
    const svc = await startDcosDns(testConfig({ upstreamResolvers: [up.address], mesosDns: [mesos.address] }), { registry });
    try {
      const port = svc.ports().dns[0]!.udp;
      const same = decode((await udpExchange(port, several(7, "a.marathon.mesos", "b.marathon.mesos")))!);
      assert.equal(same.answers[0]!.data, "10.0.5.5", "both .mesos: forwarded");
      assert.equal(mesos.received.length, 1);
      assert.equal(mesos.received[0]!.msg.readUInt16BE(4), 2, "the upstream got both questions");

      const mixed = await udpExchange(port, several(8, "a.marathon.mesos", "example.com"));
      const d = decode(mixed!);
      assert.equal(d.id, 8);
      assert.equal(d.rcode, 0);
      assert.ok(d.aa, "answered here, authoritatively");
      assert.deepEqual(d.answers, []);
      assert.equal(mesos.received.length, 1, "nothing more forwarded to Mesos-DNS");
      assert.equal(up.received.length, 0, "nothing forwarded upstream");
      // And an internal first question with a forwarded second one: the internal answer.
      const spartan = decode((await udpExchange(port, several(9, "ready.spartan", "example.com")))!);
      assert.equal(spartan.answers[0]!.data, "127.0.0.1");
      assert.equal(up.received.length, 0);
      const text = await registry.metrics();
      const failures = (zone: string) =>
        Number(new RegExp(`^dns_forwarder_failures_total\\{zone="${zone}"\\} (\\d+)$`, "m").exec(text)?.[1] ?? 0);
      assert.equal(failures("mesos"), 1);
      assert.equal(failures("."), 2);
      // A single question for the same name afterwards is still forwarded (nothing learned from the mixed one).
      const single = decode((await udpExchange(port, buildQuery({ id: 10, name: "example.com", qtype: TYPE_A })))!);
      assert.equal(single.answers[0]!.data, "93.184.216.34");
    } finally {
      await svc.lifecycle.stop();
      await mesos.close();
      await up.close();
    }
  });
});

describe("dcos-dns EDNS0 UDP size (§3.4: the client's advertised size)", function () {
  this.timeout(20_000);
  let svc: DcosDns;
  const ips = (n: number) => Array.from({ length: n }, (_, i) => `10.${(i >> 8) & 255}.${i & 255}.1`);
  before(async () => {
    svc = await startDcosDns(testConfig());
    svc.authority.setZone({
      zone: "edns.thisdcos.directory.",
      records: new Map([
        ["mid.edns.thisdcos.directory.", { a: ips(150) }], // ~2.5 KB answer
        ["big.edns.thisdcos.directory.", { a: ips(300) }], // ~4.9 KB answer
      ]),
    });
  });
  after(async () => svc?.lifecycle.stop());

  const ask = async (name: string, udpSize?: number) => {
    const q = buildQuery({ id: 3, name, qtype: TYPE_A, ...(udpSize ? { edns: { udpSize } } : {}) });
    const r = await udpExchange(svc.ports().dns[0]!.udp, q);
    assert.ok(r, `no reply for ${name}`);
    return { size: r.length, d: decode(r) };
  };

  it("a 4096 advertisement gets a 1232-4096 byte answer whole (no TC), twice (general path, then the fast path)", async () => {
    for (let i = 0; i < 2; i++) {
      const { size, d } = await ask("mid.edns.thisdcos.directory", 4096);
      assert.ok(size > 1232 && size <= 4096, `answer of ${size} bytes`);
      assert.equal(d.tc, false);
      assert.equal(d.answers.length, 150);
    }
  });

  it("an answer above the advertised size is truncated to it with TC; without EDNS0 the limit is 512", async () => {
    const big = await ask("big.edns.thisdcos.directory", 4096);
    assert.equal(big.d.tc, true);
    assert.ok(big.size <= 4096 && big.size > 3500, `${big.size} bytes`);
    assert.ok(big.d.answers.length < 300);
    const small = await ask("mid.edns.thisdcos.directory", 1232);
    assert.equal(small.d.tc, true);
    assert.ok(small.size <= 1232);
    const plain = await ask("mid.edns.thisdcos.directory");
    assert.equal(plain.d.tc, true);
    assert.ok(plain.size <= 512);
  });

  it("edns_udp_size caps the honoured size", async () => {
    const capped = await startDcosDns(testConfig({ ednsUdpSize: 1232 }));
    try {
      capped.authority.setZone({ zone: "edns.thisdcos.directory.", records: new Map([["mid.edns.thisdcos.directory.", { a: ips(150) }]]) });
      const r = await udpExchange(
        capped.ports().dns[0]!.udp,
        buildQuery({ id: 3, name: "mid.edns.thisdcos.directory", qtype: TYPE_A, edns: { udpSize: 4096 } }),
      );
      assert.ok(r!.length <= 1232);
      assert.equal(decode(r!).tc, true);
    } finally {
      await capped.lifecycle.stop();
    }
  });
});

describe("dcos-dns bounded in-flight forwarding (handler_limit) and relayed truncation", function () {
  this.timeout(20_000);

  it("beyond handler_limit forwarded queries are dropped (no reply, counted); internal ones still answered; recovers once drained", async () => {
    // An upstream that answers after 300 ms, so queries stay in flight.
    const slow = dgram.createSocket("udp4");
    await new Promise<void>((r) => slow.bind(0, "127.0.0.1", r));
    slow.on("message", (m, rinfo) => setTimeout(() => slow.send(upstreamReply(m, { a: ["10.0.0.8"] }), rinfo.port, rinfo.address), 300));
    const registry = createRegistry({ defaultMetrics: false });
    const svc = await startDcosDns(testConfig({ upstreamResolvers: [`127.0.0.1:${slow.address().port}`], handlerLimit: 2 }), { registry });
    try {
      const server = svc.server();
      const q = (id: number, name: string) => server.query(buildQuery({ id, name, qtype: TYPE_A }), "udp");
      const inFlight = [q(1, "a.example.com"), q(2, "b.example.com")];
      await new Promise((r) => setImmediate(r));
      assert.equal(server.inFlight(), 2);
      const over = await Promise.all([q(3, "c.example.com"), q(4, "d.example.com"), q(5, "e.example.com")]);
      assert.deepEqual(over, [null, null, null], "dropped, as dcos-net does at its cap");
      const ready = await q(6, "ready.spartan");
      assert.equal(decode(ready!).answers[0]!.data, "127.0.0.1", "internal answers are not limited");
      for (const r of await Promise.all(inFlight)) assert.equal(decode(r!).answers[0]!.data, "10.0.0.8");
      assert.equal(server.inFlight(), 0);
      const again = await q(7, "f.example.com");
      assert.equal(decode(again!).answers[0]!.data, "10.0.0.8", "answers again once below the limit");
      assert.match(await registry.metrics(), /^dns_dropped_total\{reason="handler_limit"\} 3$/m);
    } finally {
      await svc.lifecycle.stop();
      slow.close();
    }
  });

  it("a forwarded answer too big for the client's UDP size is cut with TC; the TCP retry gets it whole; an upstream's TC is relayed", async () => {
    const many = Array.from({ length: 100 }, (_, i) => `10.1.${i}.1`);
    const up = await startUpstream((m) => {
      const name = decode(m).questions[0]!.name.replace(/\.$/, "");
      return name === "tc.example.com" ? upstreamReply(m, { a: ["10.0.0.9"], tc: true }) : upstreamReply(m, { a: many });
    });
    const svc = await startDcosDns(testConfig({ upstreamResolvers: [up.address] }));
    try {
      const l = svc.ports().dns[0]!;
      const udpReply = await udpExchange(l.udp, buildQuery({ id: 21, name: "big.example.com", qtype: TYPE_A }));
      assert.ok(udpReply!.length <= 512, `${udpReply!.length} bytes`);
      const d = decode(udpReply!);
      assert.equal(d.tc, true);
      assert.ok(d.answers.length > 0 && d.answers.length < 100);
      const withEdns = decode(
        (await udpExchange(l.udp, buildQuery({ id: 22, name: "big.example.com", qtype: TYPE_A, edns: { udpSize: 4096 } })))!,
      );
      assert.equal(withEdns.tc, false, "fits the client's EDNS0 size");
      assert.equal(withEdns.answers.length, 100);
      const [tcpReply] = await tcpExchange(l.tcp, [buildQuery({ id: 23, name: "big.example.com", qtype: TYPE_A })]);
      const t = decode(tcpReply!);
      assert.equal(t.tc, false);
      assert.equal(t.answers.length, 100);
      const relayed = decode((await udpExchange(l.udp, buildQuery({ id: 24, name: "tc.example.com", qtype: TYPE_A })))!);
      assert.equal(relayed.tc, true, "the upstream's TC bit reaches the client");
    } finally {
      await svc.lifecycle.stop();
      await up.close();
    }
  });
});
