import { strict as assert } from "node:assert";
import { createRegistry, type Registry } from "@dcnet/core";
import { type Transport, PARSE_OK, QueryScratch, TYPE_A, TYPE_AAAA, TYPE_SRV, buildQuery, decode, parseQueryInto } from "@dcnet/dns";
import { Authority, type LoadBalance } from "./authority";
import { Router } from "./router";
import { type DcosDnsServer, createDcosDnsServer } from "./server";
import { quiet } from "./test-util";
import { type RecordValues, type ZoneData, spartanZone } from "./zone";

const zone = (apex: string, recs: Record<string, RecordValues>): ZoneData => ({ zone: apex, records: new Map(Object.entries(recs)) });
const ips = (n: number, base = 10) => Array.from({ length: n }, (_, i) => `${base}.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);

const WEB = "web.marathon.autoip.dcos.thisdcos.directory.";
const ONE = "one.marathon.autoip.dcos.thisdcos.directory.";
const V6 = "v6.marathon.containerip.dcos.thisdcos.directory.";
const MID = "mid.marathon.autoip.dcos.thisdcos.directory.";
const BIG = "big.marathon.autoip.dcos.thisdcos.directory.";
const HUGE = "huge.marathon.autoip.dcos.thisdcos.directory.";

function dcosZone(): ZoneData {
  return zone("dcos.thisdcos.directory.", {
    [WEB]: { a: ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"] },
    [ONE]: { a: ["10.0.1.1"] },
    [V6]: { aaaa: ["fd01:b::1", "fd01:b::2", "fd01:b::3"], a: ["10.0.2.1"] },
    [MID]: { a: ips(40) },
    [BIG]: { a: ips(100) },
    // Over 65,535 bytes of A records: cut even over TCP.
    [HUGE]: { a: ips(4200, 11) },
    "_web._tcp.marathon.dcos.thisdcos.directory.": { srv: [{ target: WEB, port: 31000 }] },
  });
}

/**
 * Two servers over twin authorities fed the same zones: `fast` as in production, `general` with
 * respondFast() disabled (every query takes the general path). Each query goes to both; replies
 * must be byte-identical, and so must the query counters.
 */
class Pair {
  readonly fastAuth: Authority;
  readonly generalAuth: Authority;
  private readonly servers: DcosDnsServer[];
  private readonly registries: Registry[] = [createRegistry({ defaultMetrics: false }), createRegistry({ defaultMetrics: false })];
  fastHits = 0;
  router = new Router({ forwardZones: new Map(), upstreams: [], cryptoId: null });

  constructor(lb: LoadBalance = "round_robin") {
    this.fastAuth = new Authority(lb);
    this.generalAuth = new Authority(lb);
    const real = this.fastAuth.respondFast.bind(this.fastAuth);
    this.fastAuth.respondFast = (...args) => {
      const r = real(...args);
      if (r !== null) this.fastHits++;
      return r;
    };
    this.generalAuth.respondFast = () => null;
    this.servers = [this.fastAuth, this.generalAuth].map((authority, i) =>
      createDcosDnsServer({
        authority,
        router: () => this.router,
        mesosDns: () => [],
        bindIps: [],
        udpPort: 0,
        tcpPort: 0,
        logger: quiet(),
        registry: this.registries[i]!,
      }),
    );
    this.each((a) => {
      a.setZone(spartanZone());
      a.setZone(dcosZone());
      a.setZone(zone("l4lb.thisdcos.directory.", { "minitwit.marathon.l4lb.thisdcos.directory.": { a: ["11.1.2.3", "11.1.2.4"] } }));
    });
  }

  each(f: (a: Authority) => void): void {
    f(this.fastAuth);
    f(this.generalAuth);
  }

  /** Sends `msg` to both servers (Math.random replayed from the same seed for each); returns the fast server's reply. */
  async ask(msg: Buffer, transport: Transport = "udp"): Promise<Buffer> {
    const seed = Math.random();
    const replies: Buffer[] = [];
    for (const s of this.servers) {
      replies.push((await withRandom(seed, () => s.query(msg, transport)))!);
    }
    assert.ok(replies[0] && replies[1]);
    assert.equal(replies[0].toString("hex"), replies[1].toString("hex"), "fast and general replies differ");
    return replies[0];
  }

  async q(name: string, o: { qtype?: number; id?: number; edns?: number; transport?: Transport } = {}): Promise<Buffer> {
    const msg = buildQuery({ id: o.id ?? 7, name, qtype: o.qtype ?? TYPE_A, ...(o.edns ? { edns: { udpSize: o.edns } } : {}) });
    return this.ask(msg, o.transport);
  }

  async counters(): Promise<[string, string]> {
    const [f, g] = await Promise.all(this.registries.map((r) => r.metrics()));
    return [f!, g!];
  }
}

/** Runs `f` with Math.random a seeded generator (the same sequence for the same seed). */
async function withRandom<T>(seed: number, f: () => Promise<T>): Promise<T> {
  const saved = Math.random;
  let s = Math.floor(seed * 0x7fffffff) || 1;
  Math.random = () => (s = (s * 48271) % 0x7fffffff) / 0x7fffffff;
  try {
    return await f();
  } finally {
    Math.random = saved;
  }
}

const answers = (b: Buffer) => decode(b).answers.map((a) => String(a.data));

describe("dcos-dns fast path (Authority.respondFast): byte-identical to the general path", () => {
  for (const lb of ["round_robin", "random"] as const) {
    it(`A with one and with many addresses: same rotation over consecutive queries (${lb})`, async () => {
      const p = new Pair(lb);
      for (let id = 1; id <= 12; id++) {
        await p.q(ONE, { id });
        const r = await p.q(WEB, { id });
        assert.equal(answers(r).length, 5);
      }
      assert.equal(p.fastHits, 22, "all but the first query of each name answered fast");
      const seen = new Set<string>();
      for (let id = 100; id < 110; id++) seen.add(answers(await p.q(WEB, { id }))[0]!);
      assert.ok(seen.size > 1, "the first address rotates");
    });
  }

  it("AAAA (and A) of a name with both; SRV and other types stay on the general path", async () => {
    const p = new Pair();
    for (let id = 1; id <= 5; id++) {
      assert.equal(answers(await p.q(V6, { id, qtype: TYPE_AAAA })).length, 3);
      assert.deepEqual(answers(await p.q(V6, { id, qtype: TYPE_A })), ["10.0.2.1"]);
    }
    assert.equal(p.fastHits, 9);
    const hits = p.fastHits;
    await p.q(V6, { qtype: TYPE_SRV });
    await p.q(ONE, { qtype: TYPE_AAAA }); // NODATA
    await p.q(ONE, { qtype: TYPE_AAAA });
    await p.q("_web._tcp.marathon.dcos.thisdcos.directory.", { qtype: TYPE_SRV });
    assert.equal(p.fastHits, hits);
  });

  it("mixed-case (0x20) names: found fast, question echoed as asked", async () => {
    const p = new Pair();
    await p.q(WEB);
    const r = await p.q("WeB.MaRaThOn.AutoIP.dcos.THISDCOS.directory.", { id: 3 });
    assert.equal(p.fastHits, 1);
    assert.equal(decode(r).questions[0]!.name, "WeB.MaRaThOn.AutoIP.dcos.THISDCOS.directory.");
  });

  it("with and without EDNS; BADVERS stays on its own path", async () => {
    const p = new Pair();
    await p.q(WEB);
    const withOpt = await p.q(WEB, { edns: 1232, id: 4 });
    assert.equal(decode(withOpt).additional.length, 1);
    await p.q(WEB, { id: 5 });
    assert.equal(p.fastHits, 2);
    const v1 = buildQuery({ id: 9, name: WEB, qtype: TYPE_A, edns: { udpSize: 1232, version: 1 } });
    await p.ask(v1);
    assert.equal(p.fastHits, 2);
  });

  it("truncation: UDP 512, EDNS 1232 and TCP (65,535) limits cut the records as the general path does", async () => {
    const p = new Pair();
    for (const [name, o, tc] of [
      [BIG, {}, true],
      [BIG, { edns: 1232 }, true],
      [MID, {}, true],
      [MID, { edns: 1232 }, false],
      [BIG, { transport: "tcp" as const }, false],
      [HUGE, { transport: "tcp" as const }, true],
    ] as const) {
      for (let id = 1; id <= 3; id++) {
        const r = await p.q(name, { ...o, id });
        assert.equal(decode(r).tc, tc, `${name} ${JSON.stringify(o)}`);
        // Independently of the emitter: as many records as fit (or all of them).
        const limit = "transport" in o ? 65535 : "edns" in o ? o.edns : 512;
        const head = 12 + name.length + 1 + 4 + ("edns" in o ? 11 : 0);
        const all = name === MID ? 40 : name === BIG ? 100 : 4200;
        assert.equal(decode(r).answers.length, tc ? Math.floor((limit - head) / 16) : all);
      }
    }
    assert.equal(p.fastHits, 6 * 3 - 3, "the first query of each of the three names, then all fast");
  });

  it("names under a renamed route (dclb, .thisdcos.global) never go fast, also after the target name did", async () => {
    const p = new Pair();
    p.each((a) => a.setZone(zone("dclb.thisdcos.directory.", { "minitwit.marathon.dclb.thisdcos.directory.": { a: ["9.9.9.9"] } })));
    for (let id = 1; id <= 3; id++) {
      await p.q("minitwit.marathon.l4lb.thisdcos.directory.", { id });
      const r = await p.q("minitwit.marathon.dclb.thisdcos.directory.", { id });
      assert.deepEqual(answers(r).sort(), ["11.1.2.3", "11.1.2.4"], "the l4lb record, not the dclb zone's");
      assert.equal(decode(r).answers[0]!.name, "minitwit.marathon.dclb.thisdcos.directory.");
      await p.q("minitwit.marathon.l4lb.thisdcos.global.", { id });
    }
    assert.equal(p.fastHits, 2, "only the l4lb name itself");
  });

  it("a delta that changes a name: the next query sees the new addresses", async () => {
    const p = new Pair();
    await p.q(WEB);
    await p.q(WEB);
    assert.equal(p.fastHits, 1);
    p.each((a) => a.applyChanges("dcos.thisdcos.directory.", new Map([[WEB, { a: ["10.7.7.7", "10.7.7.8"] }]]), []));
    assert.deepEqual(answers(await p.q(WEB, { id: 2 })), ["10.7.7.7", "10.7.7.8"]);
    assert.deepEqual(answers(await p.q(WEB, { id: 3 })), ["10.7.7.8", "10.7.7.7"]);
    assert.equal(p.fastHits, 2, "relearned after the change");
    // Only AAAA now: A is NODATA.
    p.each((a) => a.applyChanges("dcos.thisdcos.directory.", new Map([[WEB, { aaaa: ["fd01::9"] }]]), []));
    assert.equal(decode(await p.q(WEB)).answers.length, 0);
    assert.deepEqual(answers(await p.q(WEB, { qtype: TYPE_AAAA })), ["fd01:0:0:0:0:0:0:9"]);
  });

  it("a delta that removes a name: NXDOMAIN as before (and NODATA for its parent, an empty non-terminal)", async () => {
    const p = new Pair();
    await p.q(ONE);
    await p.q(ONE);
    p.each((a) => a.applyChanges("dcos.thisdcos.directory.", new Map(), [ONE]));
    const r = await p.q(ONE);
    assert.equal(decode(r).rcode, 3);
    assert.equal(decode(await p.q("marathon.autoip.dcos.thisdcos.directory.")).rcode, 0);
    assert.equal(p.fastHits, 1);
  });

  it("a name with a CNAME and A records is chased, not answered fast", async () => {
    const p = new Pair();
    p.each((a) => a.setZone(zone("custom.thisdcos.directory.", { "both.custom.thisdcos.directory.": { cname: WEB, a: ["10.3.3.3"] } })));
    for (let id = 1; id <= 3; id++) assert.equal(decode(await p.q("both.custom.thisdcos.directory.", { id })).answers.length, 6);
    assert.equal(p.fastHits, 0);
  });

  it("a CNAME set by a delta on a learned name is chased, not answered fast", async () => {
    const p = new Pair();
    await p.q(ONE);
    p.each((a) => a.applyChanges("dcos.thisdcos.directory.", new Map([[ONE, { cname: WEB }]]), []));
    for (let id = 1; id <= 3; id++) assert.equal(decode(await p.q(ONE, { id })).answers.length, 6);
    assert.equal(p.fastHits, 0);
  });

  it("a whole-snapshot replace (and a removed zone) drops every fast answer", async () => {
    const p = new Pair();
    await p.q(WEB);
    await p.q(ONE);
    assert.ok(p.fastAuth.fastNames() === 2);
    p.each((a) => a.setZone(zone("dcos.thisdcos.directory.", { [WEB]: { a: ["10.8.8.8"] } })));
    assert.equal(p.fastAuth.fastNames(), 0);
    assert.deepEqual(answers(await p.q(WEB)), ["10.8.8.8"]);
    assert.equal(decode(await p.q(ONE)).rcode, 3);
    assert.deepEqual(answers(await p.q(WEB)), ["10.8.8.8"]);
    assert.equal(p.fastHits, 1);
    p.each((a) => a.removeZone("dcos.thisdcos.directory."));
    assert.equal(decode(await p.q(WEB)).rcode, 0);
    assert.equal(decode(await p.q(WEB)).answers.length, 0);
    assert.equal(p.fastHits, 1);
  });

  it("a new router drops the fast answers learned under the old one", async () => {
    const p = new Pair();
    await p.q(WEB);
    await p.q(WEB);
    assert.equal(p.fastHits, 1);
    p.router = new Router({ forwardZones: new Map(), upstreams: [], cryptoId: null });
    await p.q(WEB);
    assert.equal(p.fastHits, 1);
    await p.q(WEB);
    assert.equal(p.fastHits, 2);
  });

  it("counts fast replies as the general path does (internal, NOERROR, transport)", async () => {
    const p = new Pair();
    for (let id = 1; id <= 4; id++) {
      await p.q(WEB, { id });
      await p.q(BIG, { id, transport: "tcp" });
      await p.q(ONE, { id, qtype: TYPE_AAAA });
    }
    assert.ok(p.fastHits >= 6);
    const [f, g] = await p.counters();
    assert.match(f, /dns_queries_total\{route="internal",rcode="NOERROR",transport="udp"\} 8/);
    assert.match(f, /dns_queries_total\{route="internal",rcode="NOERROR",transport="tcp"\} 4/);
    assert.equal(f, g);
  });
});

describe("dcos-dns Authority: what respond() lets respondFast() learn", () => {
  const auth = new Authority();
  auth.setZone(dcosZone());
  const parse = (name: string, qtype = TYPE_A) => {
    const q = new QueryScratch();
    const msg = buildQuery({ id: 1, name, qtype });
    assert.equal(parseQueryInto(msg, q), PARSE_OK);
    return { msg, q };
  };

  it("learns a plain name answered as asked, not a renamed one nor another name than the question's", () => {
    auth.clearFast();
    const { msg, q } = parse("web.marathon.autoip.dcos.thisdcos.global.");
    auth.respond(msg, q, WEB, 512, null, (n) => n, q);
    auth.respond(msg, q, WEB, 512, null, null, q);
    assert.equal(auth.fastNames(), 0);
    assert.equal(auth.respondFast(msg, q, 512, null), null);
    const plain = parse(WEB);
    auth.respond(plain.msg, plain.q, WEB, 512, null, null, null);
    assert.equal(auth.fastNames(), 0, "not without the caller's consent");
    auth.respond(plain.msg, plain.q, WEB, 512, null, null, plain.q);
    assert.equal(auth.fastNames(), 1);
    assert.notEqual(auth.respondFast(plain.msg, plain.q, 512, null), null);
  });

  it("cuts at every limit exactly as many records as fit", () => {
    const { msg, q } = parse(BIG);
    auth.respond(msg, q, BIG, 512, null, null, q);
    const head = 12 + BIG.length + 1 + 4;
    for (let limit = 480; limit <= 560; limit++) {
      const fast = auth.respondFast(msg, q, limit, null)!;
      const general = auth.respond(msg, q, BIG, limit, null, null);
      assert.equal(fast.toString("hex"), general.buf.toString("hex"));
      assert.ok(general.truncated);
      assert.equal(decode(fast).answers.length, Math.floor((limit - head) / 16), `limit ${limit}`);
    }
  });
});
