import { strict as assert } from "node:assert";
import { createRegistry } from "@dcnet/core";
import { AnswerSet, ipv6Bytes, zoneSettings } from "./answers";
import { createDnsServer, type DnsServer } from "./server";
import { type Decoded, buildQuery, decode, makeConfig, makeSet, quietLogger, type QueryOpts } from "./test-helpers";
import { TYPE_A, TYPE_AAAA, TYPE_ANY, TYPE_NS, TYPE_SOA, TYPE_SRV } from "@dcnet/dns";

const SERIAL = 1700000000;
const TXT = 16;
const MX = 15;

export const fixture = makeSet({
  a: {
    "web.marathon.mesos.": ["10.0.0.1", "10.0.0.2", "10.0.0.3"],
    "web-abcde-0.marathon.slave.mesos.": ["10.1.0.1"],
    "web-fghij-1.marathon.slave.mesos.": ["10.1.0.2"],
    "leader.mesos.": ["1.2.3.4"],
    "slave.mesos.": ["10.1.0.1", "10.1.0.2"],
    "bad.mesos.": ["agent-host.example"],
    "ns1.outside.": ["10.9.9.9"],
  },
  aaaa: {
    "web.marathon.mesos.": ["2001:db8::1"],
    "v6only.mesos.": ["2001:db8::2"],
    "web-abcde-0.marathon.slave.mesos.": ["2001:db8::10"],
  },
  srv: {
    "_web._tcp.marathon.mesos.": [
      "web-abcde-0.marathon.slave.mesos.:31000",
      "web-abcde-0.marathon.slave.mesos.:31001",
      "web-fghij-1.marathon.slave.mesos.:31002",
    ],
    "_leader._tcp.mesos.": ["leader.mesos.:5050"],
    "_nowhere._tcp.mesos.": ["nowhere.mesos.:80"],
  },
});

function newServer(over: Parameters<typeof makeConfig>[0] = {}, extra: { honourEdns?: boolean } = {}): DnsServer {
  const s = createDnsServer({
    config: makeConfig(over),
    logger: quietLogger(),
    registry: createRegistry({ defaultMetrics: false }),
    ...extra,
  });
  s.update(fixture, SERIAL);
  return s;
}

async function ask(s: DnsServer, o: QueryOpts, transport: "udp" | "tcp" = "udp"): Promise<Decoded> {
  const r = await s.query(buildQuery(o), transport);
  assert.ok(r, "expected a reply");
  return decode(r);
}

const data = (rrs: { data: unknown }[]) => rrs.map((r) => (typeof r.data === "string" ? r.data : JSON.stringify(r.data))).sort();
const types = (rrs: { type: number }[]) => rrs.map((r) => r.type);

describe("dns/answers: authoritative rules (§4)", () => {
  const s = newServer();

  interface Row {
    what: string;
    q: QueryOpts;
    rcode: number;
    an?: string[];
    anTypes?: number[];
    ns?: number[];
    ar?: string[];
  }
  const rows: Row[] = [
    { what: "A", q: { name: "web.marathon.mesos.", qtype: TYPE_A }, rcode: 0, an: ["10.0.0.1", "10.0.0.2", "10.0.0.3"], ns: [] },
    { what: "AAAA", q: { name: "web.marathon.mesos.", qtype: TYPE_AAAA }, rcode: 0, an: ["2001:db8:0:0:0:0:0:1"], ns: [] },
    {
      what: "SRV with one A and one AAAA per distinct target in additional",
      q: { name: "_web._tcp.marathon.mesos.", qtype: TYPE_SRV },
      rcode: 0,
      an: [31000, 31001, 31002]
        .map((p, i) =>
          JSON.stringify({
            priority: 0,
            weight: 1,
            port: p,
            target: i < 2 ? "web-abcde-0.marathon.slave.mesos." : "web-fghij-1.marathon.slave.mesos.",
          }),
        )
        .sort(),
      ns: [],
      ar: ["10.1.0.1", "10.1.0.2", "2001:db8:0:0:0:0:0:10"],
    },
    { what: "SRV whose target has no records: no additional", q: { name: "_nowhere._tcp.mesos.", qtype: TYPE_SRV }, rcode: 0, ar: [] },
    { what: "SOA in authority, answer empty", q: { name: "mesos.", qtype: TYPE_SOA }, rcode: 0, an: [], ns: [TYPE_SOA] },
    { what: "SOA for a missing name is still NOERROR", q: { name: "nothing.mesos.", qtype: TYPE_SOA }, rcode: 0, an: [], ns: [TYPE_SOA] },
    { what: "NS in authority", q: { name: "mesos.", qtype: TYPE_NS }, rcode: 0, an: [], ns: [TYPE_NS] },
    {
      what: "ANY: A + AAAA answers, NS + SOA authority",
      q: { name: "web.marathon.mesos.", qtype: TYPE_ANY },
      rcode: 0,
      anTypes: [TYPE_A, TYPE_A, TYPE_A, TYPE_AAAA],
      ns: [TYPE_NS, TYPE_SOA],
    },
    {
      what: "ANY on an SRV name",
      q: { name: "_leader._tcp.mesos.", qtype: TYPE_ANY },
      rcode: 0,
      anTypes: [TYPE_SRV],
      ns: [TYPE_NS, TYPE_SOA],
      ar: ["1.2.3.4"],
    },
    {
      what: "ANY miss: NXDOMAIN with NS + SOA + SOA",
      q: { name: "nothing.mesos.", qtype: TYPE_ANY },
      rcode: 3,
      an: [],
      ns: [TYPE_NS, TYPE_SOA, TYPE_SOA],
    },
    { what: "NXDOMAIN with SOA", q: { name: "nothing.mesos.", qtype: TYPE_A }, rcode: 3, an: [], ns: [TYPE_SOA] },
    { what: "zone apex A is NXDOMAIN", q: { name: "mesos.", qtype: TYPE_A }, rcode: 3, an: [], ns: [TYPE_SOA] },
    { what: "NODATA: AAAA on an A-only name", q: { name: "leader.mesos.", qtype: TYPE_AAAA }, rcode: 0, an: [], ns: [TYPE_SOA] },
    { what: "NODATA: A on an AAAA-only name", q: { name: "v6only.mesos.", qtype: TYPE_A }, rcode: 0, an: [], ns: [TYPE_SOA] },
    { what: "NODATA: A on an SRV-only name", q: { name: "_leader._tcp.mesos.", qtype: TYPE_A }, rcode: 0, an: [], ns: [TYPE_SOA] },
    { what: "NODATA: TXT on an existing name", q: { name: "leader.mesos.", qtype: TXT }, rcode: 0, an: [], ns: [TYPE_SOA] },
    { what: "NXDOMAIN: MX on a missing name", q: { name: "nope.mesos.", qtype: MX }, rcode: 3, an: [], ns: [TYPE_SOA] },
    { what: "SRV miss: NOERROR, no SOA, empty", q: { name: "_none._tcp.mesos.", qtype: TYPE_SRV }, rcode: 0, an: [], ns: [], ar: [] },
    { what: "SRV on an A-only name: NOERROR, empty", q: { name: "leader.mesos.", qtype: TYPE_SRV }, rcode: 0, an: [], ns: [] },
    { what: "unservable A value (not an IP): NODATA", q: { name: "bad.mesos.", qtype: TYPE_A }, rcode: 0, an: [], ns: [TYPE_SOA] },
    {
      what: "case-insensitive name",
      q: { name: "WeB.MaRaThOn.MESOS.", qtype: TYPE_A },
      rcode: 0,
      an: ["10.0.0.1", "10.0.0.2", "10.0.0.3"],
    },
    {
      what: "`.*` removed from the key",
      q: { name: "web.*.marathon.mesos.", qtype: TYPE_A },
      rcode: 0,
      an: ["10.0.0.1", "10.0.0.2", "10.0.0.3"],
    },
    {
      what: "`.*` removal on SRV",
      q: { name: "_leader.*._tcp.mesos.", qtype: TYPE_SRV },
      rcode: 0,
      an: [JSON.stringify({ priority: 0, weight: 1, port: 5050, target: "leader.mesos." })],
      ar: ["1.2.3.4"],
    },
    { what: "class is ignored (CH treated as IN)", q: { name: "leader.mesos.", qtype: TYPE_A, qclass: 3 }, rcode: 0, an: ["1.2.3.4"] },
  ];

  for (const row of rows) {
    it(row.what, async () => {
      for (const transport of ["udp", "tcp"] as const) {
        const d = await ask(s, row.q, transport);
        assert.equal(d.rcode, row.rcode, `rcode over ${transport}`);
        assert.ok(d.qr && d.aa, "QR and AA");
        assert.equal(d.tc, false);
        if (row.an) assert.deepEqual(data(d.answers), [...row.an].sort());
        if (row.anTypes) assert.deepEqual(types(d.answers).sort(), [...row.anTypes].sort());
        if (row.ns) assert.deepEqual(types(d.authority), row.ns);
        if (row.ar) assert.deepEqual(data(d.additional), [...row.ar].sort());
        for (const rr of [...d.answers, ...d.authority, ...d.additional]) {
          assert.equal(rr.ttl, 60);
          assert.equal(rr.class, 1);
        }
      }
    });
  }

  it("echoes the question exactly as received (case, type, class)", async () => {
    const d = await ask(s, { name: "WeB.MaRaThOn.MESOS.", qtype: TYPE_A, qclass: 3 });
    assert.deepEqual(d.questions, [{ name: "WeB.MaRaThOn.MESOS.", type: TYPE_A, class: 3 }]);
    const d2 = await ask(s, { name: "web.*.marathon.MESOS.", qtype: TYPE_A });
    assert.deepEqual(d2.questions, [{ name: "web.*.marathon.MESOS.", type: TYPE_A, class: 1 }]);
  });

  it("owner names: A lower-cased key after `.*` removal, SRV/SOA as asked", async () => {
    const d = await ask(s, { name: "web.*.marathon.mesos.", qtype: TYPE_A });
    assert.ok(d.answers.every((r) => r.name === "web.marathon.mesos."));
    const srv = await ask(s, { name: "_LEADER._tcp.mesos.", qtype: TYPE_SRV });
    assert.equal(srv.answers[0]!.name, "_LEADER._tcp.mesos.");
    const soa = await ask(s, { name: "NoThInG.mesos.", qtype: TYPE_A });
    assert.equal(soa.authority[0]!.name, "NoThInG.mesos.");
  });

  it("SOA content: mname, rname, serial, refresh/retry/expire, minimum = ttl", async () => {
    const s2 = newServer({ ttl: 7, soaRefresh: 11, soaRetry: 12, soaExpire: 13, soaMinttl: 999 });
    const d = await ask(s2, { name: "x.mesos.", qtype: TYPE_A });
    assert.deepEqual(d.authority[0]!.data, {
      mname: "ns1.mesos.",
      rname: "root.ns1.mesos.",
      serial: SERIAL,
      refresh: 11,
      retry: 12,
      expire: 13,
      minimum: 7,
    });
    assert.equal(d.authority[0]!.ttl, 7);
    const ns = await ask(s2, { name: "mesos.", qtype: TYPE_NS });
    assert.equal(ns.authority[0]!.data, "ns1.mesos.");
  });

  it("header: ID, opcode, RD and CD copied; RA = recurseOn; AA set", async () => {
    const d = await ask(s, { id: 0xbeef, name: "leader.mesos.", qtype: TYPE_A, flags: 0x0110 });
    assert.equal(d.id, 0xbeef);
    assert.ok(d.rd && d.cd && d.ra && d.aa);
    const d2 = await ask(newServer({ recurseOn: false }), { name: "leader.mesos.", qtype: TYPE_A, flags: 0 });
    assert.ok(!d2.rd && !d2.ra && d2.aa);
  });

  it("serves only names inside the domain (an out-of-zone record is never answered here)", async () => {
    const d = await ask(newServer({ externalOn: false }), { name: "ns1.outside.", qtype: TYPE_A });
    assert.equal(d.rcode, 5);
  });

  it("shuffles answers: several orders of A and SRV answers appear", async () => {
    const aOrders = new Set<string>();
    const srvOrders = new Set<string>();
    for (let i = 0; i < 60; i++) {
      aOrders.add((await ask(s, { name: "web.marathon.mesos.", qtype: TYPE_A })).answers.map((r) => r.data).join(","));
      srvOrders.add(
        (await ask(s, { name: "_web._tcp.marathon.mesos.", qtype: TYPE_SRV })).answers.map((r) => JSON.stringify(r.data)).join(","),
      );
    }
    assert.ok(aOrders.size >= 4, `A orders seen: ${aOrders.size}`);
    assert.ok(srvOrders.size >= 3, `SRV orders seen: ${srvOrders.size}`);
  });

  it("swapping the record set changes answers and the SOA serial", async () => {
    const s2 = newServer();
    s2.update(makeSet({ a: { "new.mesos.": ["9.9.9.9"] } }), SERIAL + 5);
    assert.deepEqual(data((await ask(s2, { name: "new.mesos.", qtype: TYPE_A })).answers), ["9.9.9.9"]);
    const miss = await ask(s2, { name: "leader.mesos.", qtype: TYPE_A });
    assert.equal(miss.rcode, 3);
    assert.equal((miss.authority[0]!.data as { serial: number }).serial, SERIAL + 5);
    assert.equal(s2.serial(), SERIAL + 5);
  });

  it("before the first record set: SERVFAIL for the domain", async () => {
    const s2 = createDnsServer({
      config: makeConfig({ externalOn: false }),
      logger: quietLogger(),
      registry: createRegistry({ defaultMetrics: false }),
    });
    const d = await ask(s2, { name: "leader.mesos.", qtype: TYPE_A });
    assert.equal(d.rcode, 2);
    assert.deepEqual(d.questions[0]!.name, "leader.mesos.");
  });

  it("a query with no question gets SERVFAIL", async () => {
    const q = buildQuery({ name: "leader.mesos.", qtype: TYPE_A }).subarray(0, 12);
    const r = decode((await s.query(q, "udp"))!);
    assert.equal(r.rcode, 2);
    assert.equal(r.questions.length, 0);
  });

  it("AnswerSet.prewarm builds every name in slices; names outside the domain are never served", () => {
    const as = AnswerSet.build(fixture, 1, zoneSettings(makeConfig()));
    let turns = 0;
    while (!as.prewarm(2)) turns++;
    assert.ok(turns >= 5, `turns ${turns}`);
    assert.ok(as.has("web.marathon.mesos.") && as.has("bad.mesos.") && !as.has("ns1.outside.") && !as.has("nothing.mesos."));
    assert.equal(as.skipped, 1, "the non-IP A value");
  });

  describe("a new record set takes over the answers of unchanged names", () => {
    const z = zoneSettings(makeConfig());
    // The same records in fresh arrays (as every reload makes them), with two changes: an SRV
    // target's A record (web-abcde-0) and an AAAA record (v6only).
    const copy = (m: ReadonlyMap<string, readonly string[]>) => Object.fromEntries([...m].map(([k, v]) => [k, [...v]]));
    const changed = () => {
      const a = copy(fixture.a);
      const aaaa = copy(fixture.aaaa);
      a["web-abcde-0.marathon.slave.mesos."] = ["10.1.0.9"];
      aaaa["v6only.mesos."] = ["2001:db8::3"];
      return makeSet({ a, aaaa, srv: copy(fixture.srv) });
    };

    it("every built name whose records and SRV targets are unchanged, no other", () => {
      const first = AnswerSet.build(fixture, 1, z);
      while (!first.prewarm(100));
      const next = AnswerSet.build(changed(), 2, z, undefined, first);
      while (!next.prewarm(100));
      // 10 names in the domain; rebuilt: web-abcde-0 (A), v6only (AAAA), _web._tcp (its target's A).
      assert.equal(next.reused, 7);
      assert.equal(next.skipped, 1, "the non-IP value of a reused name is still counted");
      const fresh = AnswerSet.build(changed(), 2, z);
      while (!fresh.prewarm(100));
      assert.equal(fresh.reused, 0);
      // Other zone settings (another TTL): nothing is taken over.
      const other = AnswerSet.build(changed(), 3, { ...z, ttl: z.ttl + 1 }, undefined, first);
      while (!other.prewarm(100));
      assert.equal(other.reused, 0);
    });

    it("answers after the swap show the changes, the new serial, and the unchanged records", async () => {
      const s2 = newServer();
      // Build the first set's entries (as queries and prewarm do).
      await ask(s2, { name: "_web._tcp.marathon.mesos.", qtype: TYPE_SRV });
      await ask(s2, { name: "web.marathon.mesos.", qtype: TYPE_A });
      await ask(s2, { name: "web-abcde-0.marathon.slave.mesos.", qtype: TYPE_A });
      s2.update(changed(), SERIAL + 7);
      const srv = await ask(s2, { name: "_web._tcp.marathon.mesos.", qtype: TYPE_SRV });
      assert.ok(data(srv.additional).includes("10.1.0.9"), "the SRV target's new address in the additional section");
      assert.ok(!data(srv.additional).includes("10.1.0.1"));
      assert.deepEqual(data((await ask(s2, { name: "web-abcde-0.marathon.slave.mesos.", qtype: TYPE_A })).answers), ["10.1.0.9"]);
      assert.deepEqual(data((await ask(s2, { name: "web.marathon.mesos.", qtype: TYPE_A })).answers), ["10.0.0.1", "10.0.0.2", "10.0.0.3"]);
      assert.deepEqual(data((await ask(s2, { name: "v6only.mesos.", qtype: TYPE_AAAA })).answers), ["2001:db8:0:0:0:0:0:3"]);
      // A reused name's NODATA and ANY carry the new set's SOA.
      const nodata = await ask(s2, { name: "web.marathon.mesos.", qtype: MX });
      assert.equal((nodata.authority[0]!.data as { serial: number }).serial, SERIAL + 7);
      const any = await ask(s2, { name: "web.marathon.mesos.", qtype: TYPE_ANY });
      const soa = any.authority.find((r) => r.type === TYPE_SOA);
      assert.equal((soa!.data as { serial: number }).serial, SERIAL + 7);
    });
  });

  it("ipv6Bytes parses the usual forms", () => {
    assert.equal(ipv6Bytes("2001:db8::1")!.toString("hex"), "20010db8000000000000000000000001");
    assert.equal(ipv6Bytes("::")!.toString("hex"), "0".repeat(32));
    assert.equal(ipv6Bytes("::ffff:1.2.3.4")!.toString("hex"), "00000000000000000000ffff01020304");
    assert.equal(ipv6Bytes("1:2:3:4:5:6:7:8")!.toString("hex"), "00010002000300040005000600070008");
    assert.equal(ipv6Bytes("1::2::3"), null);
    assert.equal(ipv6Bytes("xyz::1"), null);
  });
});
