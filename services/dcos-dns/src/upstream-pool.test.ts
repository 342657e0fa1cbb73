import { strict as assert } from "node:assert";
import * as dgram from "node:dgram";
import { buildQuery, decode, ExchangeError, nameToWire, parseResolver, startUpstream, TYPE_A, upstreamReply } from "@dcnet/dns";
import { UdpUpstreamPool, sameQuestion } from "./upstream-pool";

describe("UDP upstream pool (pooled connected sockets, our own query IDs)", () => {
  it("gives every reply the client's ID back, many queries in flight at once", async () => {
    const up = await startUpstream((m) => upstreamReply(m, { a: ["10.0.0.1"] }));
    const pool = new UdpUpstreamPool({ socketsPerUpstream: 2 });
    try {
      const ids = Array.from({ length: 200 }, (_, i) => (i * 331) & 0xffff);
      const replies = await Promise.all(
        ids.map((id) => pool.exchange(buildQuery({ id, name: "x.mesos", qtype: TYPE_A }), parseResolver(up.address)!, 2000)),
      );
      assert.deepEqual(
        replies.map((r) => decode(r.reply).id),
        ids,
      );
      // All 200 are in flight at once (sent in one tick, before any reply is read): on each socket
      // (source port) their IDs are distinct. Across sockets two random IDs may be equal.
      const byPort = new Map<number, number[]>();
      for (const r of up.received) byPort.set(r.fromPort, [...(byPort.get(r.fromPort) ?? []), r.msg.readUInt16BE(0)]);
      assert.equal(up.received.length, 200);
      assert.equal(byPort.size, 2, "two sockets");
      for (const [port, sent] of byPort)
        assert.equal(new Set(sent).size, sent.length, `IDs in flight on the socket from port ${port} are distinct`);
      // Ours, not the client's: a random ID is one of the 200 client IDs at 200 / 65,536 per query.
      const clientIds = new Set(ids);
      const kept = up.received.filter((r) => clientIds.has(r.msg.readUInt16BE(0))).length;
      assert.ok(kept < 10, `${kept} of 200 queries left with a client's ID`);
    } finally {
      pool.close();
      await up.close();
    }
  });

  it("moves to a new socket (source port) after maxQueriesPerSocket; a silent upstream times out", async () => {
    const ports = new Set<number>();
    const up = await startUpstream((m) => upstreamReply(m));
    const pool = new UdpUpstreamPool({ socketsPerUpstream: 1, maxQueriesPerSocket: 3 });
    try {
      for (let i = 0; i < 7; i++)
        await pool.exchange(buildQuery({ id: i, name: "x.mesos", qtype: TYPE_A }), parseResolver(up.address)!, 2000);
      // The fake upstream does not expose the source port; count sockets through the pool instead.
      for (const list of (pool as unknown as { pools: Map<string, { sock: { address(): { port: number } } }[]> }).pools.values())
        for (const s of list) if (s) ports.add(s.sock.address().port);
      assert.equal(ports.size, 1, "one live socket at a time");
      const silent = await startUpstream(() => null);
      await assert.rejects(
        pool.exchange(buildQuery({ id: 1, name: "x.mesos", qtype: TYPE_A }), parseResolver(silent.address)!, 100),
        /no reply/,
      );
      await silent.close();
    } finally {
      pool.close();
      await up.close();
    }
  });

  it("timeouts come from one sweep: on time (within a sweep interval), for retired sockets too, nothing left pending", async () => {
    const silent = await startUpstream(() => null);
    const pool = new UdpUpstreamPool({ socketsPerUpstream: 1, maxQueriesPerSocket: 1 });
    try {
      const up = parseResolver(silent.address)!;
      const t0 = performance.now();
      // The second query retires the first one's socket while its query is still waiting.
      const outcomes = await Promise.allSettled([
        pool.exchange(buildQuery({ id: 1, name: "x.mesos", qtype: TYPE_A }), up, 60),
        pool.exchange(buildQuery({ id: 2, name: "x.mesos", qtype: TYPE_A }), up, 60),
      ]);
      const took = performance.now() - t0;
      for (const o of outcomes) {
        assert.equal(o.status, "rejected");
        assert.match(String((o as PromiseRejectedResult).reason), /no reply from .* within 60 ms/);
      }
      assert.ok(took >= 55 && took < 400, `rejected after ${Math.round(took)} ms`);
      const sockets = [
        ...(pool as unknown as { pools: Map<string, ({ pending: Map<number, unknown> } | undefined)[]> }).pools.values(),
      ].flat();
      for (const s of sockets) assert.equal(s?.pending.size ?? 0, 0);
    } finally {
      pool.close();
      await silent.close();
    }
  });

  it("a failed connect retires the socket: the query fails as a network error, the next query gets a fresh socket", async () => {
    // Linux refuses connect() to the broadcast address without SO_BROADCAST (EACCES).
    const bcast = parseResolver("255.255.255.255:53")!;
    const pool = new UdpUpstreamPool({ socketsPerUpstream: 1 });
    const list = () => (pool as unknown as { pools: Map<string, unknown[]> }).pools.get(bcast.label) ?? [];
    try {
      for (let i = 0; i < 2; i++) {
        await assert.rejects(pool.exchange(buildQuery({ id: 1, name: "x.mesos", qtype: TYPE_A }), bcast, 2000), (e: ExchangeError) => {
          assert.equal(e.reason, "network");
          assert.match(e.message, /connect: .*EACCES/);
          return true;
        });
        assert.ok(
          list().every((s) => s === undefined),
          "the failed socket is not kept",
        );
      }
    } finally {
      pool.close();
    }
  });

  it("query IDs on the wire are random, not sequential", async () => {
    const up = await startUpstream((m) => upstreamReply(m));
    const pool = new UdpUpstreamPool({ socketsPerUpstream: 1 });
    try {
      for (let i = 0; i < 64; i++)
        await pool.exchange(buildQuery({ id: 7, name: "x.mesos", qtype: TYPE_A }), parseResolver(up.address)!, 2000);
      const ids = up.received.map((r) => r.msg.readUInt16BE(0));
      let steps = 0;
      for (let i = 1; i < ids.length; i++) if (((ids[i]! - ids[i - 1]!) & 0xffff) === 1) steps++;
      assert.ok(steps < 4, `${steps} of ${ids.length - 1} IDs were the previous one + 1`);
      assert.ok(new Set(ids).size > 60);
    } finally {
      pool.close();
      await up.close();
    }
  });

  it("a reply with the right ID but another question is ignored; the real reply (any letter case) is taken", async () => {
    // An upstream that first sends a forged reply (our ID, another name), then the real one with the name in upper case.
    const sock = dgram.createSocket("udp4");
    await new Promise<void>((r) => sock.bind(0, "127.0.0.1", r));
    sock.on("message", (m, rinfo) => {
      const q = decode(m);
      const forged = buildQuery({ id: q.id, name: "evil.example", qtype: TYPE_A });
      forged[2] = forged[2]! | 0x80;
      sock.send(forged, rinfo.port, rinfo.address);
      const real = upstreamReply(m, { a: ["10.0.0.7"] });
      // The question name upper-cased, as an upstream echoing 0x20-randomised case might.
      for (let i = 12; i < 12 + 9; i++) if (real[i]! >= 0x61 && real[i]! <= 0x7a) real[i] = real[i]! - 0x20;
      setTimeout(() => sock.send(real, rinfo.port, rinfo.address), 30);
    });
    const pool = new UdpUpstreamPool();
    try {
      const up = parseResolver(`127.0.0.1:${sock.address().port}`)!;
      const r = await pool.exchange(buildQuery({ id: 11, name: "web.mesos", qtype: TYPE_A }), up, 2000);
      const d = decode(r.reply);
      assert.equal(d.id, 11);
      assert.deepEqual(
        d.answers.map((a) => a.data),
        ["10.0.0.7"],
      );
    } finally {
      pool.close();
      sock.close();
    }
  });

  it("question matching: case-insensitive names; type, class, count and other names differ", () => {
    const q = buildQuery({ id: 1, name: "Web.Mesos", qtype: TYPE_A });
    const end = q.length;
    const same = buildQuery({ id: 1, name: "wEB.mesOS", qtype: TYPE_A });
    assert.equal(sameQuestion(q, end, same), true);
    assert.equal(sameQuestion(q, end, buildQuery({ id: 1, name: "web.mesos", qtype: 28 })), false, "type");
    assert.equal(sameQuestion(q, end, buildQuery({ id: 1, name: "wec.mesos", qtype: TYPE_A })), false, "name");
    assert.equal(sameQuestion(q, end, buildQuery({ id: 1, name: "web.meso", qtype: TYPE_A })), false, "length");
    const cls = Buffer.from(same);
    cls[end - 1] = 3;
    assert.equal(sameQuestion(q, end, cls), false, "class");
    const noQ = Buffer.from(same);
    noQ[5] = 0;
    assert.equal(sameQuestion(q, end, noQ), false, "count");
    // Several questions: all echoed, or only the first (miekg's SetReply: Mesos-DNS); never another subset.
    const tail = Buffer.concat([nameToWire("api.mesos")!, Buffer.from([0, 1, 0, 1])]);
    const two = Buffer.concat([q, tail]);
    two.writeUInt16BE(2, 4);
    assert.equal(sameQuestion(two, two.length, Buffer.from(two)), true, "both echoed");
    assert.equal(sameQuestion(two, two.length, same), true, "the first echoed alone");
    const secondOnly = Buffer.concat([q.subarray(0, 12), tail]);
    assert.equal(sameQuestion(two, two.length, secondOnly), false, "the second alone");
    const wrongSecond = Buffer.from(two);
    wrongSecond[wrongSecond.length - 6] = 0x78; // "api.mesox"
    assert.equal(sameQuestion(two, two.length, wrongSecond), false, "both echoed, the second differs");
    const shortReply = Buffer.from(two.subarray(0, two.length - 2));
    assert.equal(sameQuestion(two, two.length, shortReply), false, "cut inside the second question");
    // Only letters fold: '-' (0x2d) and '\r' (0x0d) differ by 0x20 too.
    assert.equal(
      sameQuestion(buildQuery({ id: 1, name: "a-b", qtype: TYPE_A }), 12 + 5 + 4, buildQuery({ id: 1, name: "a\rb", qtype: TYPE_A })),
      false,
    );
  });
});
