import { strict as assert } from "node:assert";
import {
  buildQuery,
  decode,
  parseQuery,
  type Query,
  TYPE_A,
  TYPE_AAAA,
  TYPE_ANY,
  TYPE_NS,
  TYPE_SOA,
  TYPE_SRV,
  optRecord,
} from "@dcnet/dns";
import { Authority, TYPE_CNAME, TYPE_RRSIG } from "./authority";
import { Router } from "./router";
import { type RecordValues, spartanZone } from "./zone";

const zone = (apex: string, recs: Record<string, RecordValues>) => ({ zone: apex, records: new Map(Object.entries(recs)) });

function ask(auth: Authority, name: string, qtype: number, o: { id?: number; limit?: number; edns?: number; internal?: string } = {}) {
  const msg = buildQuery({ id: o.id ?? 7, name, qtype, ...(o.edns ? { edns: { udpSize: o.edns } } : {}) });
  const parsed = parseQuery(msg);
  assert.ok(parsed.ok);
  const q: Query = parsed.query;
  const r = new Router({ forwardZones: new Map(), upstreams: [], cryptoId: null }).route(q.name);
  const internal = o.internal ?? (r.kind === "internal" ? r.name : q.name);
  const map = r.kind === "internal" ? r.map : null;
  const reply = auth.respond(msg, q, internal, o.limit ?? 512, o.edns ? optRecord(1232) : null, map);
  return { ...reply, d: decode(reply.buf) };
}

describe("dcos-dns authoritative answers (§3.4)", () => {
  const auth = new Authority();
  auth.setZone(spartanZone());
  auth.setZone(
    zone("dcos.thisdcos.directory.", {
      "web.marathon.autoip.dcos.thisdcos.directory.": { a: ["10.0.0.1", "10.0.0.2", "10.0.0.3"] },
      "v6.marathon.containerip.dcos.thisdcos.directory.": { aaaa: ["fd01:b::1"] },
      "_web._tcp.marathon.dcos.thisdcos.directory.": {
        srv: [
          { target: "web.marathon.autoip.dcos.thisdcos.directory", port: 31000 },
          { target: "web.marathon.autoip.dcos.thisdcos.directory", port: 31001 },
        ],
      },
    }),
  );
  auth.setZone(zone("l4lb.thisdcos.directory.", { "minitwit.marathon.l4lb.thisdcos.directory.": { a: ["11.1.2.3"] } }));
  auth.setZone(
    zone("custom.thisdcos.directory.", {
      "alias.custom.thisdcos.directory.": { cname: "web.marathon.autoip.dcos.thisdcos.directory." },
    }),
  );

  it("answers ready.spartan with 127.0.0.1, AA set, RA clear, TTL 5", () => {
    const { d } = ask(auth, "ready.spartan", TYPE_A);
    assert.equal(d.rcode, 0);
    assert.ok(d.aa && !d.ra);
    assert.deepEqual(
      d.answers.map((a) => [a.name, a.data, a.ttl]),
      [["ready.spartan.", "127.0.0.1", 5]],
    );
  });

  it("rotates A records by message id mod n (round_robin)", () => {
    const order = (id: number) => ask(auth, "web.marathon.autoip.dcos.thisdcos.directory", TYPE_A, { id }).d.answers.map((a) => a.data);
    assert.deepEqual(order(0), ["10.0.0.1", "10.0.0.2", "10.0.0.3"]);
    assert.deepEqual(order(1), ["10.0.0.2", "10.0.0.3", "10.0.0.1"]);
    assert.deepEqual(order(5), ["10.0.0.3", "10.0.0.1", "10.0.0.2"]);
  });

  it("answers case-insensitively, echoing the question as asked", () => {
    const { d } = ask(auth, "WEB.Marathon.AUTOIP.dcos.thisdcos.directory", TYPE_A);
    assert.equal(d.answers.length, 3);
    assert.equal(d.questions[0]!.name, "WEB.Marathon.AUTOIP.dcos.thisdcos.directory.");
  });

  it("serves AAAA, and SRV with the targets' addresses as additional records", () => {
    assert.equal(ask(auth, "v6.marathon.containerip.dcos.thisdcos.directory", TYPE_AAAA).d.answers[0]!.data, "fd01:b:0:0:0:0:0:1");
    const { d } = ask(auth, "_web._tcp.marathon.dcos.thisdcos.directory", TYPE_SRV, { id: 1 });
    assert.deepEqual(
      d.answers.map((a) => (a.data as { port: number }).port),
      [31001, 31000],
    );
    assert.equal(d.additional.length, 3);
    assert.equal(d.additional[0]!.name, "web.marathon.autoip.dcos.thisdcos.directory.");
  });

  it("NXDOMAIN with the zone's SOA for an unknown name; NODATA for a known name without the type", () => {
    const nx = ask(auth, "nope.marathon.autoip.dcos.thisdcos.directory", TYPE_A).d;
    assert.equal(nx.rcode, 3);
    assert.equal(nx.authority[0]!.type, TYPE_SOA);
    assert.equal(nx.authority[0]!.name, "dcos.thisdcos.directory.");
    const soa = nx.authority[0]!.data as Record<string, unknown>;
    assert.equal(soa["mname"], "ns.spartan.");
    assert.equal(soa["rname"], "support.mesosphere.com.");
    const nodata = ask(auth, "web.marathon.autoip.dcos.thisdcos.directory", TYPE_AAAA).d;
    assert.equal(nodata.rcode, 0);
    assert.equal(nodata.answers.length, 0);
    assert.equal(nodata.authority.length, 1);
  });

  it("answers NOERROR for empty non-terminals (RFC 8020), NXDOMAIN beside them", () => {
    assert.equal(ask(auth, "marathon.autoip.dcos.thisdcos.directory", TYPE_A).d.rcode, 0);
    assert.equal(ask(auth, "autoip.dcos.thisdcos.directory", TYPE_A).d.rcode, 0);
    assert.equal(ask(auth, "other.autoip.dcos.thisdcos.directory", TYPE_A).d.rcode, 3);
  });

  it("answers SOA and NS at the apex (NS → ns.spartan, TTL 3600)", () => {
    const soa = ask(auth, "dcos.thisdcos.directory", TYPE_SOA).d;
    assert.equal(soa.answers[0]!.type, TYPE_SOA);
    const ns = ask(auth, "dcos.thisdcos.directory", TYPE_NS).d;
    assert.deepEqual([ns.answers[0]!.data, ns.answers[0]!.ttl], ["ns.spartan.", 3600]);
  });

  it("a name in no zone we hold: NOERROR, AA, empty", () => {
    const { d } = ask(auth, "x.marathon.containerip.other.thisdcos.directory", TYPE_A);
    assert.equal(d.rcode, 0);
    assert.ok(d.aa);
    assert.equal(d.answers.length + d.authority.length, 0);
  });

  it("refuses RRSIG queries", () => {
    assert.equal(ask(auth, "ready.spartan", TYPE_RRSIG).d.rcode, 5);
  });

  it("follows CNAMEs inside our zones, CNAME first", () => {
    const { d } = ask(auth, "alias.custom.thisdcos.directory", TYPE_A);
    assert.equal(d.answers[0]!.type, TYPE_CNAME);
    assert.equal(d.answers[0]!.data, "web.marathon.autoip.dcos.thisdcos.directory.");
    assert.equal(d.answers.length, 4);
  });

  it("ANY returns every record of the name", () => {
    assert.equal(ask(auth, "web.marathon.autoip.dcos.thisdcos.directory", TYPE_ANY).d.answers.length, 3);
  });

  it("cuts UDP replies to 512 bytes (TC) and honours the EDNS0 size", () => {
    const many: string[] = [];
    for (let i = 0; i < 60; i++) many.push(`10.1.0.${i}`);
    const a = new Authority();
    a.setZone(zone("dcos.thisdcos.directory.", { "big.marathon.autoip.dcos.thisdcos.directory.": { a: many } }));
    const small = ask(a, "big.marathon.autoip.dcos.thisdcos.directory", TYPE_A);
    assert.ok(small.buf.length <= 512);
    assert.ok(small.d.tc);
    assert.ok(small.d.answers.length > 0 && small.d.answers.length < 60);
    const big = ask(a, "big.marathon.autoip.dcos.thisdcos.directory", TYPE_A, { edns: 4096, limit: 1232 });
    assert.ok(!big.d.tc);
    assert.equal(big.d.answers.length, 60);
  });

  it("renamed queries: the answer keeps the client's name and the SOA carries the client's suffix", () => {
    const ok = ask(auth, "minitwit.marathon.dclb.thisdcos.directory", TYPE_A).d;
    assert.deepEqual(
      ok.answers.map((a) => [a.name, a.data]),
      [["minitwit.marathon.dclb.thisdcos.directory.", "11.1.2.3"]],
    );
    const nx = ask(auth, "nope.marathon.dclb.thisdcos.directory", TYPE_A).d;
    assert.equal(nx.rcode, 3);
    assert.equal(nx.authority[0]!.name, "dclb.thisdcos.directory.");
  });

  it("renamed zone apexes are answered from the zone, under the client's name (SOA at dclb.thisdcos.directory, dcos.thisdcos.global)", () => {
    for (const [name, qtype] of [
      ["dclb.thisdcos.directory", TYPE_SOA],
      ["dcos.thisdcos.global", TYPE_SOA],
      ["dcos.thisdcos.global", TYPE_NS],
    ] as const) {
      const d = ask(auth, name, qtype).d;
      assert.equal(d.rcode, 0, name);
      assert.equal(d.aa, true);
      assert.equal(d.answers.length, 1, `${name} ${qtype}`);
      assert.equal(d.answers[0]!.name, `${name}.`);
    }
  });

  it("replacing a zone replaces its answers wholesale", () => {
    const a = new Authority();
    a.setZone(zone("dcos.thisdcos.directory.", { "x.m.autoip.dcos.thisdcos.directory.": { a: ["10.0.0.1"] } }));
    assert.equal(ask(a, "x.m.autoip.dcos.thisdcos.directory", TYPE_A).d.answers.length, 1);
    a.setZone(zone("dcos.thisdcos.directory.", { "y.m.autoip.dcos.thisdcos.directory.": { a: ["10.0.0.2"] } }));
    assert.equal(ask(a, "x.m.autoip.dcos.thisdcos.directory", TYPE_A).d.rcode, 3);
    assert.equal(ask(a, "y.m.autoip.dcos.thisdcos.directory", TYPE_A).d.answers[0]!.data, "10.0.0.2");
  });
});

describe("dcos-dns authority: incremental changes (per-record deltas)", () => {
  const Z = "dcos.thisdcos.directory.";
  const n = (s: string) => `${s}.${Z}`;
  const base = () =>
    zone(Z, {
      [n("web.marathon.autoip")]: { a: ["10.0.0.1"] },
      [n("db.marathon.autoip")]: { a: ["10.0.0.9"] },
      [n("_web._tcp.marathon")]: { srv: [{ target: n("web.marathon.autoip"), port: 31000 }] },
    });

  it("sets, adds and removes names without touching the (shared) records map", () => {
    const data = base();
    const before = JSON.stringify([...data.records]);
    const one = new Authority();
    const two = new Authority();
    one.setZone(data);
    two.setZone(data);
    assert.equal(ask(one, n("web.marathon.autoip"), TYPE_A).d.answers[0]!.data, "10.0.0.1", "compiled before the change");
    const change = one.applyChanges(
      Z,
      new Map([
        [n("web.marathon.autoip"), { a: ["10.0.0.2", "10.0.0.3"] }],
        [n("new.marathon.autoip"), { a: ["10.0.1.1"] }],
      ]),
      [n("db.marathon.autoip")],
    );
    assert.equal(change, 1 + 1 - 1, "record count change: +1 web, +1 new, -1 db");
    assert.deepEqual(
      ask(one, n("web.marathon.autoip"), TYPE_A, { id: 0 }).d.answers.map((a) => a.data),
      ["10.0.0.2", "10.0.0.3"],
      "the compiled entry of a changed name is dropped",
    );
    assert.equal(ask(one, n("new.marathon.autoip"), TYPE_A).d.answers[0]!.data, "10.0.1.1");
    assert.equal(ask(one, n("db.marathon.autoip"), TYPE_A).rcode, 3, "removed → NXDOMAIN");
    assert.deepEqual(one.lookup(n("web.marathon.autoip"))!.values, { a: ["10.0.0.2", "10.0.0.3"] });
    assert.equal(one.zone(Z)!.records.size, 3);
    assert.ok(!one.zone(Z)!.records.has(n("db.marathon.autoip")));
    // The other instance sharing the records, and the records themselves, are unchanged.
    assert.equal(JSON.stringify([...data.records]), before);
    assert.equal(ask(two, n("web.marathon.autoip"), TYPE_A).d.answers[0]!.data, "10.0.0.1");
    assert.equal(ask(two, n("db.marathon.autoip"), TYPE_A).rcode, 0);
    assert.equal(ask(two, n("new.marathon.autoip"), TYPE_A).rcode, 3);
  });

  it("keeps empty non-terminals right for names added and removed (RFC 8020)", () => {
    const a = new Authority();
    a.setZone(base());
    assert.equal(ask(a, n("x.other"), TYPE_A).rcode, 3);
    assert.equal(ask(a, n("other"), TYPE_A).rcode, 3);
    a.applyChanges(Z, new Map([[n("t.x.other"), { a: ["10.1.0.1"] }]]), []);
    assert.equal(ask(a, n("x.other"), TYPE_A).rcode, 0, "new non-terminal");
    assert.equal(ask(a, n("other"), TYPE_A).rcode, 0, "and its parent");
    assert.equal(ask(a, n("y.other"), TYPE_A).rcode, 3);
    // marathon.autoip has two names below it: removing one keeps it, removing both ends it.
    a.applyChanges(Z, new Map(), [n("web.marathon.autoip")]);
    assert.equal(ask(a, n("marathon.autoip"), TYPE_A).rcode, 0);
    a.applyChanges(Z, new Map(), [n("db.marathon.autoip")]);
    assert.equal(ask(a, n("marathon.autoip"), TYPE_A).rcode, 3, "nothing below any more");
    assert.equal(ask(a, n("marathon"), TYPE_A).rcode, 0, "_web._tcp.marathon still below marathon");
    // Removing a name twice, or re-adding it, keeps the counts right.
    a.applyChanges(Z, new Map(), [n("db.marathon.autoip")]);
    a.applyChanges(Z, new Map([[n("db.marathon.autoip"), { a: ["10.0.0.9"] }]]), []);
    assert.equal(ask(a, n("marathon.autoip"), TYPE_A).rcode, 0);
    a.applyChanges(Z, new Map([[n("db.marathon.autoip"), { a: ["10.0.0.8"] }]]), []);
    a.applyChanges(Z, new Map(), [n("db.marathon.autoip")]);
    assert.equal(ask(a, n("marathon.autoip"), TYPE_A).rcode, 3);
  });

  it("refreshes SRV additional records when a target's addresses change", () => {
    const a = new Authority();
    a.setZone(base());
    const extra = () => ask(a, n("_web._tcp.marathon"), TYPE_SRV).d.additional.map((r) => r.data);
    assert.deepEqual(extra(), ["10.0.0.1"]);
    a.applyChanges(Z, new Map([[n("web.marathon.autoip"), { a: ["10.0.0.7"] }]]), []);
    assert.deepEqual(extra(), ["10.0.0.7"]);
  });

  it("a snapshot replaces the zone and its changes; a zone not held takes no changes", () => {
    const a = new Authority();
    a.setZone(base());
    a.applyChanges(Z, new Map([[n("new.marathon.autoip"), { a: ["10.0.1.1"] }]]), [n("web.marathon.autoip")]);
    a.setZone(base());
    assert.equal(ask(a, n("new.marathon.autoip"), TYPE_A).rcode, 3);
    assert.equal(ask(a, n("web.marathon.autoip"), TYPE_A).d.answers[0]!.data, "10.0.0.1");
    assert.equal(a.applyChanges("l4lb.thisdcos.directory.", new Map(), []), null);
    assert.equal(a.applyChanges(Z, new Map([["evil.spartan.", { a: ["1.2.3.4"] }]]), []), 0, "names outside the zone are ignored");
    assert.equal(ask(a, "evil.spartan.", TYPE_A).rcode, 0);
    assert.equal(ask(a, "evil.spartan.", TYPE_A).d.answers.length, 0);
  });
});
