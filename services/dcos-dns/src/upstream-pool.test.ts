import { strict as assert } from "node:assert";
import { buildQuery, decode, ExchangeError, parseResolver, startUpstream, TYPE_A, upstreamReply } from "@dcnet/dns";
import { UdpUpstreamPool } from "./upstream-pool";

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
      const sentIds = new Set(up.received.map((r) => r.msg.readUInt16BE(0)));
      assert.ok(sentIds.size >= 199, "IDs on the wire are ours, distinct per socket");
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
});
