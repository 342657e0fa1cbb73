import { strict as assert } from "node:assert";
import { createRegistry } from "@dcnet/core";
import { createDnsServer, type DnsServer, type DnsServerOptions } from "./server";
import { buildQuery, decode, makeConfig, makeSet, quietLogger, upstreamReply } from "./test-helpers";
import { fitSections, truncateRelayed } from "@dcnet/dns";
import { TYPE_A, TYPE_ANY, TYPE_SRV, walkMessage } from "@dcnet/dns";

const ips = (n: number, prefix = "10.2") => Array.from({ length: n }, (_, i) => `${prefix}.${i >> 8}.${i & 255}`);

const set = makeSet({
  a: {
    "big.mesos.": ips(100),
    ...Object.fromEntries(ips(40).map((ip, i) => [`task-${i}.web.slave.mesos.`, [ip]])),
  },
  aaaa: Object.fromEntries(ips(40).map((_, i) => [`task-${i}.web.slave.mesos.`, [`2001:db8::${i + 1}`]])),
  srv: { "_web._tcp.mesos.": ips(40).map((_, i) => `task-${i}.web.slave.mesos.:${31000 + i}`) },
});

function server(over: Parameters<typeof makeConfig>[0] = {}, extra: Partial<DnsServerOptions> = {}): DnsServer {
  const s = createDnsServer({
    config: makeConfig(over),
    logger: quietLogger(),
    registry: createRegistry({ defaultMetrics: false }),
    ...extra,
  });
  s.update(set, 1);
  return s;
}

describe("dns/truncate", () => {
  it("100 A records over UDP without EDNS: TC=1, answers cut below 512 bytes", async () => {
    const r = (await server().query(buildQuery({ name: "big.mesos.", qtype: TYPE_A }), "udp"))!;
    const d = decode(r);
    assert.ok(d.tc);
    assert.ok(r.length < 512, `size ${r.length}`);
    assert.equal(d.answers.length, 30); // 27-byte head + 30 × 16 = 507; 31 would be 523
    assert.equal(new Set(d.answers.map((a) => a.data)).size, 30, "no duplicates");
  });

  it("100 A records over TCP: all answers, no TC", async () => {
    const d = decode((await server().query(buildQuery({ name: "big.mesos.", qtype: TYPE_A }), "tcp"))!);
    assert.ok(!d.tc);
    assert.equal(d.answers.length, 100);
    assert.deepEqual(d.answers.map((a) => a.data).sort(), ips(100).sort());
  });

  it("EDNS0 honoured (default): limit = min(client size, 1232), OPT added", async () => {
    const r = (await server().query(buildQuery({ name: "big.mesos.", qtype: TYPE_A, edns: { udpSize: 4096 } }), "udp"))!;
    const d = decode(r);
    assert.ok(d.tc);
    assert.ok(r.length <= 1232 && r.length > 1100, `size ${r.length}`);
    assert.equal(d.answers.length, 74);
    assert.equal(d.additional.length, 1);
    assert.equal(d.additional[0]!.type, 41);
    assert.equal(d.additional[0]!.class, 1232);
    const small = decode((await server().query(buildQuery({ name: "big.mesos.", qtype: TYPE_A, edns: { udpSize: 700 } }), "udp"))!);
    assert.ok(small.size <= 700 && small.tc);
    const tiny = decode((await server().query(buildQuery({ name: "big.mesos.", qtype: TYPE_A, edns: { udpSize: 100 } }), "udp"))!);
    assert.ok(tiny.size <= 512 && tiny.size > 400, "sizes below 512 count as 512");
  });

  it("EDNS0 upstream mode (honourEdns=false): 512-byte cap even with EDNS 4096, no OPT", async () => {
    const r = (await server({}, { honourEdns: false }).query(
      buildQuery({ name: "big.mesos.", qtype: TYPE_A, edns: { udpSize: 4096 } }),
      "udp",
    ))!;
    const d = decode(r);
    assert.ok(d.tc && r.length < 512);
    assert.equal(d.answers.length, 30);
    assert.equal(d.additional.length, 0);
  });

  it("EDNS version > 0 → BADVERS (extended rcode 1 in the OPT)", async () => {
    const d = decode(
      (await server().query(buildQuery({ name: "big.mesos.", qtype: TYPE_A, edns: { udpSize: 4096, version: 1 } }), "udp"))!,
    );
    assert.equal(d.rcode, 0);
    assert.equal(d.answers.length, 0);
    assert.equal(d.additional[0]!.type, 41);
    assert.equal(d.additional[0]!.ttl >>> 24, 1);
  });

  it("small answers to EDNS queries carry our OPT and are not truncated", async () => {
    const d = decode(
      (await server().query(buildQuery({ name: "task-1.web.slave.mesos.", qtype: TYPE_A, edns: { udpSize: 1232 } }), "udp"))!,
    );
    assert.ok(!d.tc);
    assert.equal(d.answers.length, 1);
    assert.deepEqual(
      d.additional.map((r) => r.type),
      [41],
    );
  });

  it("SetTruncateBit=false: answers still cut, TC cleared", async () => {
    const d = decode((await server({ setTruncateBit: false }).query(buildQuery({ name: "big.mesos.", qtype: TYPE_A }), "udp"))!);
    assert.ok(!d.tc);
    assert.equal(d.answers.length, 30);
  });

  it("SRV: the additional section is dropped first, then answers", async () => {
    const d = decode((await server().query(buildQuery({ name: "_web._tcp.mesos.", qtype: TYPE_SRV }), "udp"))!);
    assert.ok(d.tc && d.size < 512);
    assert.equal(d.additional.length, 0);
    assert.ok(d.answers.length > 5 && d.answers.length < 40);
    const tcp = decode((await server().query(buildQuery({ name: "_web._tcp.mesos.", qtype: TYPE_SRV }), "tcp"))!);
    assert.equal(tcp.answers.length, 40);
    assert.equal(tcp.additional.length, 80);
    const edns = decode((await server().query(buildQuery({ name: "_web._tcp.mesos.", qtype: TYPE_SRV, edns: { udpSize: 4096 } }), "udp"))!);
    assert.ok(edns.tc && edns.size <= 1232);
    // SRV targets are never compressed (RFC 2782), so ~43 bytes per answer: 27 fit in 1232.
    assert.ok(edns.answers.length > 20 && edns.answers.length < 40, `answers ${edns.answers.length}`);
    assert.deepEqual(
      edns.additional.map((r) => r.type),
      [41],
    );
  });

  it("ANY: a cut answer prefix keeps the NS + SOA authority intact", async () => {
    const d = decode((await server().query(buildQuery({ name: "big.mesos.", qtype: TYPE_ANY }), "udp"))!);
    assert.ok(d.tc && d.size < 512);
    assert.deepEqual(
      d.authority.map((r) => r.type),
      [2, 6],
    );
    assert.ok(d.answers.length > 10);
  });

  it("fitSections follows upstream's order", () => {
    const ends = [16, 32, 48, 64];
    assert.deepEqual(fitSections(20, ends, 10, 10, 0, 200), { answers: 4, authority: true, additional: true, truncated: false });
    assert.deepEqual(fitSections(20, ends, 10, 100, 0, 100), { answers: 4, authority: true, additional: false, truncated: true });
    // 20 + 10 + 48 = 78 < 80; 20 + 10 + 64 = 94 ≥ 80
    assert.deepEqual(fitSections(20, ends, 10, 100, 0, 80), { answers: 3, authority: true, additional: false, truncated: true });
    // exactly the limit after dropping additional → still cut (upstream: "< limit")
    assert.deepEqual(fitSections(20, ends, 10, 1, 0, 94), { answers: 3, authority: true, additional: false, truncated: true });
    assert.deepEqual(fitSections(20, [], 100, 0, 0, 50), { answers: 0, authority: false, additional: false, truncated: true });
  });

  it("truncateRelayed: drops additional, then answers; TC policy", () => {
    const q = buildQuery({ name: "ext.example.", qtype: TYPE_A });
    const reply = upstreamReply(q, { a: ips(60, "10.3"), optSize: 1232 });
    const layout = walkMessage(reply)!;
    const cut = truncateRelayed(reply, layout, 512, true, false);
    const d = decode(cut.buf);
    assert.ok(cut.truncated && d.tc && cut.buf.length < 512);
    assert.equal(d.additional.length, 0);
    assert.ok(d.answers.length >= 28);
    const keep = decode(truncateRelayed(reply, layout, 512, true, true).buf);
    assert.deepEqual(
      keep.additional.map((r) => r.type),
      [41],
    );
    const noTc = decode(truncateRelayed(reply, layout, 512, false, false).buf);
    assert.ok(!noTc.tc);
    const small = upstreamReply(q, { a: ["1.1.1.1"], tc: true });
    const sl = walkMessage(small)!;
    assert.equal(truncateRelayed(small, sl, 512, true, false).buf, small, "fits: relayed as is");
    assert.ok(!decode(truncateRelayed(small, sl, 512, false, false).buf).tc, "upstream TC cleared when SetTruncateBit=false");
  });
});
