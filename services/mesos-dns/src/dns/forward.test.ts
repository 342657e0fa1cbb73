import { strict as assert } from "node:assert";
import { ZoneRouter, parseResolver } from "./forward";
import {
  type FakeUpstream,
  type Running,
  buildQuery,
  decode,
  makeConfig,
  makeSet,
  startServer,
  startUpstream,
  tcpExchange,
  udpExchange,
  upstreamReply,
} from "./test-helpers";
import { TYPE_A, TYPE_DS } from "@dcnet/dns";

const set = makeSet({ a: { "leader.mesos.": ["1.2.3.4"] } });

describe("dns/forward: routing", () => {
  it("parses resolver entries", () => {
    assert.deepEqual(parseResolver("8.8.8.8"), { host: "8.8.8.8", port: 53, family: 4, label: "8.8.8.8:53" });
    assert.deepEqual(parseResolver("10.0.0.1:5353"), { host: "10.0.0.1", port: 5353, family: 4, label: "10.0.0.1:5353" });
    assert.deepEqual(parseResolver("[2001:db8::1]:54"), { host: "2001:db8::1", port: 54, family: 6, label: "[2001:db8::1]:54" });
    assert.deepEqual(parseResolver("2001:db8::1"), { host: "2001:db8::1", port: 53, family: 6, label: "[2001:db8::1]:53" });
    assert.equal(parseResolver("dns.google:53"), null);
    assert.equal(parseResolver("1.2.3.4:0"), null);
    assert.equal(parseResolver("1.2.3.4:99999"), null);
  });

  it("routes by longest zone suffix; DS always to the root forwarder", () => {
    const r = new ZoneRouter({
      domain: "mesos",
      resolvers: ["1.1.1.1"],
      zoneResolvers: { "example.com": ["2.2.2.2"], "deep.example.com.": ["3.3.3.3"], "Other.ORG": ["4.4.4.4"] },
      externalOn: true,
    });
    const up = (name: string, qtype = TYPE_A) => {
      const x = r.route(name, qtype);
      return x.kind === "forward" ? x.upstreams[0]!.host : x.kind;
    };
    assert.equal(up("a.mesos."), "mesos");
    assert.equal(up("mesos."), "mesos");
    assert.equal(up("xmesos."), "1.1.1.1");
    assert.equal(up("a.example.com."), "2.2.2.2");
    assert.equal(up("example.com."), "2.2.2.2");
    assert.equal(up("x.deep.example.com."), "3.3.3.3");
    assert.equal(up("notexample.com."), "1.1.1.1");
    assert.equal(up("www.other.org."), "4.4.4.4");
    assert.equal(up("google.com."), "1.1.1.1");
    assert.equal(up("."), "1.1.1.1");
    assert.equal(up("a.mesos.", TYPE_DS), "1.1.1.1");
    const off = new ZoneRouter({
      domain: "mesos",
      resolvers: ["1.1.1.1"],
      zoneResolvers: { "example.com": ["2.2.2.2"] },
      externalOn: false,
    });
    assert.equal(off.route("a.example.com.", TYPE_A).kind, "refused");
    assert.equal(off.route("google.com.", TYPE_A).kind, "refused");
    assert.equal(off.route("a.mesos.", TYPE_A).kind, "mesos");
    const none = new ZoneRouter({ domain: "mesos", resolvers: [], zoneResolvers: {}, externalOn: true });
    assert.equal(none.route("google.com.", TYPE_A).kind, "refused");
  });
});

describe("dns/forward: relaying through the server", () => {
  const ups: FakeUpstream[] = [];
  const servers: Running[] = [];
  afterEach(async () => {
    await Promise.all([...ups.splice(0).map((u) => u.close()), ...servers.splice(0).map((s) => s.stop())]);
  });
  const upstream = async (h: Parameters<typeof startUpstream>[0]) => {
    const u = await startUpstream(h);
    ups.push(u);
    return u;
  };
  const server = async (over: Parameters<typeof makeConfig>[0]) => {
    const s = await startServer(makeConfig(over), set);
    servers.push(s);
    return s;
  };

  it("UDP: sends the client's message unchanged and relays the reply as is", async () => {
    const u = await upstream((m) => upstreamReply(m, { a: ["5.6.7.8"] }));
    const s = await server({ resolvers: [u.address] });
    const q = buildQuery({ id: 4242, name: "WWW.Example.COM.", qtype: TYPE_A, flags: 0x0110, edns: { udpSize: 1400 } });
    const r = await udpExchange(s.udp, q);
    assert.ok(r);
    assert.deepEqual(
      u.received.map((x) => x.transport),
      ["udp"],
    );
    assert.ok(u.received[0]!.msg.equals(q), "message forwarded byte for byte");
    assert.ok(r.equals(upstreamReply(q, { a: ["5.6.7.8"] })), "reply relayed byte for byte");
    const d = decode(r);
    assert.equal(d.id, 4242);
    assert.deepEqual(
      d.answers.map((a) => a.data),
      ["5.6.7.8"],
    );
  });

  it("TCP: forwards over TCP when the client used TCP", async () => {
    const u = await upstream((m, t) => upstreamReply(m, { a: [t === "tcp" ? "9.9.9.9" : "0.0.0.0"] }));
    const s = await server({ resolvers: [u.address] });
    const [r] = await tcpExchange(s.tcp, [buildQuery({ name: "x.example.", qtype: TYPE_A })]);
    assert.deepEqual(
      decode(r!).answers.map((a) => a.data),
      ["9.9.9.9"],
    );
    assert.deepEqual(
      u.received.map((x) => x.transport),
      ["tcp"],
    );
  });

  it("first resolver failing (unparsable reply / closed port) → the next one answers", async () => {
    const garbage = await upstream((m) => Buffer.concat([m.subarray(0, 2), Buffer.from([0x81, 0x80, 0, 5])]));
    const closed = await upstream(() => null);
    const closedAddr = closed.address;
    await closed.close();
    ups.splice(ups.indexOf(closed), 1);
    const good = await upstream((m) => upstreamReply(m, { rcode: 3 }));
    const s = await server({ resolvers: [garbage.address, closedAddr, good.address], timeout: 2 });
    const d = decode((await udpExchange(s.udp, buildQuery({ name: "nx.example.", qtype: TYPE_A })))!);
    assert.equal(d.rcode, 3, "the first valid reply wins whatever its rcode");
    assert.equal(garbage.received.length, 1);
    assert.equal(good.received.length, 1);
    const [t] = await tcpExchange(s.tcp, [buildQuery({ name: "nx.example.", qtype: TYPE_A })]);
    assert.equal(decode(t!).rcode, 3);
  });

  it("a silent resolver times out, then the next answers", async () => {
    const silent = await upstream(() => null);
    const good = await upstream((m) => upstreamReply(m, { a: ["7.7.7.7"] }));
    const s = await server({ resolvers: [silent.address, good.address], timeout: 0.2 });
    const t0 = Date.now();
    const d = decode((await udpExchange(s.udp, buildQuery({ name: "slow.example.", qtype: TYPE_A })))!);
    assert.deepEqual(
      d.answers.map((a) => a.data),
      ["7.7.7.7"],
    );
    assert.ok(Date.now() - t0 >= 150);
    const metrics = await s.registry.getSingleMetricAsString("mesos_dns_dns_forward_failures_total");
    assert.match(metrics, /reason="timeout"/);
  });

  it("all resolvers failing → SERVFAIL with the question echoed", async () => {
    const silent = await upstream(() => null);
    const s = await server({ resolvers: [silent.address], timeout: 0.1 });
    const d = decode((await udpExchange(s.udp, buildQuery({ id: 77, name: "dead.example.", qtype: TYPE_A })))!);
    assert.equal(d.rcode, 2);
    assert.equal(d.id, 77);
    assert.deepEqual(d.questions, [{ name: "dead.example.", type: 1, class: 1 }]);
  });

  it("externalOn=false or no resolvers → REFUSED", async () => {
    const u = await upstream((m) => upstreamReply(m, { a: ["5.6.7.8"] }));
    const off = await server({ resolvers: [u.address], externalOn: false });
    assert.equal(decode((await udpExchange(off.udp, buildQuery({ name: "x.example.", qtype: TYPE_A })))!).rcode, 5);
    const none = await server({ resolvers: [] });
    assert.equal(decode((await udpExchange(none.udp, buildQuery({ name: "x.example.", qtype: TYPE_A })))!).rcode, 5);
    assert.equal(u.received.length, 0);
  });

  it("zoneResolvers: the longest matching zone's resolvers are used; DS goes to the default", async () => {
    const def = await upstream((m) => upstreamReply(m, { a: ["1.0.0.1"] }));
    const zone = await upstream((m) => upstreamReply(m, { a: ["2.0.0.2"] }));
    const deep = await upstream((m) => upstreamReply(m, { a: ["3.0.0.3"] }));
    const s = await server({
      resolvers: [def.address],
      zoneResolvers: { "corp.example": [zone.address], "a.corp.example": [deep.address] },
    });
    const ask = async (name: string, qtype = TYPE_A) =>
      decode((await udpExchange(s.udp, buildQuery({ name, qtype })))!).answers.map((a) => a.data);
    assert.deepEqual(await ask("h.corp.example."), ["2.0.0.2"]);
    assert.deepEqual(await ask("h.a.corp.example."), ["3.0.0.3"]);
    assert.deepEqual(await ask("h.b.example."), ["1.0.0.1"]);
    assert.deepEqual(await ask("leader.mesos.", TYPE_DS), ["1.0.0.1"]);
    assert.deepEqual(await ask("leader.mesos."), ["1.2.3.4"]);
  });

  it("a large relayed UDP reply is cut to the client's limit with TC", async () => {
    const many = Array.from({ length: 60 }, (_, i) => `10.4.0.${i}`);
    const u = await upstream((m) => upstreamReply(m, { a: many }));
    const s = await server({ resolvers: [u.address] });
    const r = (await udpExchange(s.udp, buildQuery({ name: "big.example.", qtype: TYPE_A })))!;
    const d = decode(r);
    assert.ok(d.tc && r.length < 512);
    const [t] = await tcpExchange(s.tcp, [buildQuery({ name: "big.example.", qtype: TYPE_A })]);
    assert.equal(decode(t!).answers.length, 60);
  });
});
