import { strict as assert } from "node:assert";
import { createRegistry, type Registry } from "@dcnet/core";
import { TYPE_A, TYPE_AAAA, TYPE_DS, TYPE_SRV } from "@dcnet/dns";
import { createDnsServer, type DnsServer } from "./server";
import { buildQuery, decode, makeConfig, makeSet, quietLogger, startServer, startUpstream, udpExchange } from "./test-helpers";

const set = makeSet({
  a: {
    "leader.mesos.": ["1.2.3.4"],
    "web.marathon.mesos.": ["10.0.0.1", "10.0.0.2"],
    "big.mesos.": Array.from({ length: 100 }, (_, i) => `10.5.0.${i}`),
    "task.sub.mesos.": ["10.7.0.1"],
  },
  aaaa: { "web.marathon.mesos.": ["2001:db8::1"] },
  srv: { "_web._tcp.marathon.mesos.": ["web.marathon.mesos.:31000"] },
});

/** `name{labels} value` lines of one metric, as a map from the label text to the value. */
async function values(registry: Registry, metric: string): Promise<Map<string, number>> {
  const text = await registry.getSingleMetricAsString(metric);
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = /^(\w+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m) out.set(m[2] ?? "", Number(m[3]));
  }
  return out;
}

function server(registry: Registry, over: Parameters<typeof makeConfig>[0] = {}): DnsServer {
  const s = createDnsServer({ config: makeConfig({ externalOn: false, ...over }), logger: quietLogger(), registry });
  s.update(set, 1700000000);
  return s;
}

describe("dns/server: metrics counted in arrays, copied into prom-client at scrape", () => {
  it("exact counts by zone, rcode and transport; dropped and truncated too; no double counting across scrapes", async () => {
    const registry = createRegistry({ defaultMetrics: false });
    const s = server(registry);
    for (let i = 0; i < 5; i++) await s.query(buildQuery({ name: "leader.mesos.", qtype: TYPE_A }), "udp");
    for (let i = 0; i < 2; i++) await s.query(buildQuery({ name: "nothing.mesos.", qtype: TYPE_A }), "udp");
    for (let i = 0; i < 3; i++) await s.query(buildQuery({ name: "Web.Marathon.Mesos.", qtype: TYPE_AAAA }), "tcp");
    await s.query(buildQuery({ name: "leader.mesos.", qtype: TYPE_A, edns: { udpSize: 1232, version: 1 } }), "udp");
    await s.query(buildQuery({ name: "google.com.", qtype: TYPE_A }), "udp");
    await s.query(buildQuery({ name: "big.mesos.", qtype: TYPE_A }), "udp");
    await s.query(Buffer.from([1, 2, 3]), "udp");
    await s.query(Buffer.from([0xab, 0xcd, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x3f, 0x61]), "udp");
    const resp = buildQuery({ name: "leader.mesos.", qtype: TYPE_A });
    resp[2] = resp[2]! | 0x80;
    await s.query(resp, "tcp");

    const expected = new Map([
      ['{zone="mesos",rcode="NOERROR",transport="udp"}', 6],
      ['{zone="mesos",rcode="NXDOMAIN",transport="udp"}', 2],
      ['{zone="mesos",rcode="NOERROR",transport="tcp"}', 3],
      ['{zone="mesos",rcode="BADVERS",transport="udp"}', 1],
      ['{zone="forwarded",rcode="REFUSED",transport="udp"}', 1],
    ]);
    assert.deepEqual(await values(registry, "mesos_dns_dns_queries_total"), expected);
    assert.deepEqual(await values(registry, "mesos_dns_dns_queries_total"), expected, "a second scrape adds nothing");
    assert.deepEqual(
      await values(registry, "mesos_dns_dns_dropped_total"),
      new Map([
        ['{reason="short"}', 1],
        ['{reason="malformed"}', 1],
        ['{reason="response"}', 1],
      ]),
    );
    assert.deepEqual(await values(registry, "mesos_dns_dns_truncated_total"), new Map([['{zone="mesos"}', 1]]));

    await s.query(buildQuery({ name: "leader.mesos.", qtype: TYPE_A }), "udp");
    assert.equal((await values(registry, "mesos_dns_dns_queries_total")).get('{zone="mesos",rcode="NOERROR",transport="udp"}'), 7);
    // The whole registry's text (what /metrics serves) has the same figures.
    assert.match(await registry.metrics(), /mesos_dns_dns_queries_total\{zone="mesos",rcode="NOERROR",transport="udp"\} 7\n/);
  });

  it("two servers on one registry add up", async () => {
    const registry = createRegistry({ defaultMetrics: false });
    const [a, b] = [server(registry), server(registry)];
    await a.query(buildQuery({ name: "leader.mesos.", qtype: TYPE_A }), "udp");
    await b.query(buildQuery({ name: "leader.mesos.", qtype: TYPE_A }), "udp");
    await b.query(buildQuery({ name: "leader.mesos.", qtype: TYPE_A }), "udp");
    assert.equal((await values(registry, "mesos_dns_dns_queries_total")).get('{zone="mesos",rcode="NOERROR",transport="udp"}'), 3);
    await a.query(buildQuery({ name: "leader.mesos.", qtype: TYPE_A }), "udp");
    assert.equal((await values(registry, "mesos_dns_dns_queries_total")).get('{zone="mesos",rcode="NOERROR",transport="udp"}'), 4);
  });
});

describe("dns/server: the fast path (names found by their wire bytes) answers as the routed path", () => {
  const ask = async (s: DnsServer, msg: Buffer) => decode((await s.query(msg, "udp"))!);

  it("any case, compressed question names, and names not built yet", async () => {
    const s = server(createRegistry({ defaultMetrics: false }));
    for (const name of ["leader.mesos.", "LEADER.Mesos.", "lEaDeR.mEsOs."]) {
      const d = await ask(s, buildQuery({ id: 3, name, qtype: TYPE_A }));
      assert.equal(d.rcode, 0);
      assert.deepEqual(
        d.answers.map((a) => a.data),
        ["1.2.3.4"],
      );
      assert.equal(d.questions[0]!.name, name, "question echoed as asked");
    }
    // "leader" + pointer to "MESOS." placed after the question.
    const compressed = Buffer.concat([
      Buffer.from([0, 9, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]),
      Buffer.from([6, ...Buffer.from("leader"), 0xc0, 12 + 9 + 4]),
      Buffer.from([0, 1, 0, 1, 5, ...Buffer.from("MESOS"), 0]),
    ]);
    const c = await ask(s, compressed);
    assert.deepEqual(
      c.answers.map((a) => a.data),
      ["1.2.3.4"],
    );
    assert.equal(c.questions[0]!.name, "leader.MESOS.");
    const srv = await ask(s, buildQuery({ name: "_WEB._tcp.marathon.mesos.", qtype: TYPE_SRV }));
    assert.equal(srv.answers.length, 1);
    assert.equal(srv.additional.length, 2);
  });

  it("names the router sends elsewhere are never answered from the set: a zoneResolvers zone inside the domain, DS", async () => {
    const s = server(createRegistry({ defaultMetrics: false }), { zoneResolvers: { "sub.mesos": ["127.0.0.1:53"] } });
    for (let i = 0; i < 2; i++) {
      // Twice: the second time the name has been built (by prewarm or the first query).
      assert.equal((await ask(s, buildQuery({ name: "task.sub.mesos.", qtype: TYPE_A }))).rcode, 5);
      await new Promise((r) => setImmediate(r));
    }
    assert.equal((await ask(s, buildQuery({ name: "leader.mesos.", qtype: TYPE_A }))).rcode, 0);
    assert.equal((await ask(s, buildQuery({ name: "leader.mesos.", qtype: TYPE_DS }))).rcode, 5);
  });

  it("`.*` and escaped names keep the string path", async () => {
    const s = server(createRegistry({ defaultMetrics: false }));
    const star = await ask(s, buildQuery({ name: "web.*.marathon.mesos.", qtype: TYPE_A }));
    assert.deepEqual(star.answers.map((a) => a.data).sort(), ["10.0.0.1", "10.0.0.2"]);
    assert.equal(star.answers[0]!.name, "web.marathon.mesos.", "owner = the key after .* removal");
    const escaped = Buffer.concat([
      Buffer.from([0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]),
      Buffer.from([6, ...Buffer.from("lead.r"), 5, ...Buffer.from("mesos"), 0]),
      Buffer.from([0, 1, 0, 1]),
    ]);
    assert.equal((await ask(s, escaped)).rcode, 3);
  });

  it("a forwarded query keeps its own question while later queries reuse the parser", async () => {
    const silent = await startUpstream(() => null);
    const s = await startServer(makeConfig({ resolvers: [silent.address], timeout: 0.3 }), set);
    try {
      const pending = udpExchange(s.udp, buildQuery({ id: 77, name: "a-long-name.example.com.", qtype: TYPE_A, edns: { udpSize: 1232 } }));
      await new Promise((r) => setTimeout(r, 50));
      for (let i = 0; i < 20; i++) await udpExchange(s.udp, buildQuery({ id: i, name: "leader.mesos.", qtype: TYPE_SRV }));
      const d = decode((await pending)!);
      assert.equal(d.rcode, 2);
      assert.equal(d.id, 77);
      assert.deepEqual(d.questions, [{ name: "a-long-name.example.com.", type: TYPE_A, class: 1 }]);
      assert.ok(
        d.additional.some((r) => r.type === 41),
        "our OPT, as the query had EDNS0",
      );
    } finally {
      await s.stop();
      await silent.close();
    }
  });
});
