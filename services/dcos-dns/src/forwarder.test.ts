import { strict as assert } from "node:assert";
import * as net from "node:net";
import { buildQuery, decode, ExchangeError, parseResolver, startUpstream, TYPE_A, upstreamReply, type Upstream } from "@dcnet/dns";
import { Forwarder } from "./forwarder";

const up = (s: string): Upstream => parseResolver(s)!;

describe("dcos-dns forwarding (§3.3)", () => {
  it("asks all upstreams when there are fewer than 3", () => {
    const f = new Forwarder();
    assert.deepEqual(
      f.choose([up("10.0.0.1"), up("10.0.0.2")]).map((u) => u.host),
      ["10.0.0.1", "10.0.0.2"],
    );
  });

  it("with 3+: two from the lowest failure bucket, or its single member plus one from the next bucket", async () => {
    const silent = await Promise.all([0, 1, 2, 3].map(() => startUpstream(() => null)));
    try {
      const ups = silent.map((s) => up(s.address));
      const f = new Forwarder({ perUpstreamMs: 50, random: () => 0 });
      const two = f.choose(ups);
      assert.equal(two.length, 2);
      assert.equal(new Set(two.map((u) => u.host + u.port)).size, 2);
      const q = buildQuery({ id: 1, name: "example.com", qtype: TYPE_A });
      await f.forward(q, [ups[0]!, ups[1]!], "udp");
      await f.forward(q, [ups[0]!, ups[1]!], "udp");
      await f.forward(q, [ups[2]!], "udp");
      assert.equal(f.failureCount(ups[0]!), 2);
      assert.equal(f.failureCount(ups[2]!), 1);
      // Buckets: {0: [u3]}, {1: [u2]}, {2: [u0, u1]} → u3 plus the one from bucket 1.
      assert.deepEqual(
        f.choose(ups).map((u) => u.label),
        [ups[3]!.label, ups[2]!.label],
      );
      // Once u3 fails twice too, the lowest bucket is {1: [u2]} and the next {2: [u0, u1, u3]}.
      await f.forward(q, [ups[3]!], "udp");
      await f.forward(q, [ups[3]!], "udp");
      const c = f.choose(ups);
      assert.equal(c[0]!.label, ups[2]!.label);
      assert.notEqual(c[1]!.label, ups[2]!.label);
    } finally {
      for (const s of silent) await s.close();
    }
  });

  it("relays the first reply of any rcode at once; a slower upstream that then times out is still counted as failed", async () => {
    const fast = await startUpstream((m) => upstreamReply(m, { rcode: 3 }));
    const slow = await startUpstream(() => null);
    const attempts: { label: string; error: string | null }[] = [];
    try {
      const f = new Forwarder({
        perUpstreamMs: 300,
        onAttempt: (u, _t, _s, err) => attempts.push({ label: u.label, error: err?.reason ?? null }),
      });
      const q = buildQuery({ id: 77, name: "example.com", qtype: TYPE_A });
      const t0 = Date.now();
      const r = await f.forward(q, [up(slow.address), up(fast.address)], "udp");
      assert.ok(Date.now() - t0 < 250, "the client does not wait for the slow upstream");
      assert.ok(r);
      assert.equal(decode(r.reply).rcode, 3);
      assert.equal(r.upstream.label, fast.address);
      assert.equal(f.failureCount(up(slow.address)), 0, "not yet: its timeout has not passed");
      await new Promise((res) => setTimeout(res, 500));
      assert.equal(f.failureCount(up(slow.address)), 1);
      assert.equal(f.failureCount(up(fast.address)), 0);
      assert.deepEqual(attempts, [
        { label: fast.address, error: null },
        { label: slow.address, error: "timeout" },
      ]);
    } finally {
      await fast.close();
      await slow.close();
    }
  });

  it("null when every upstream fails, within the overall timeout", async () => {
    const silent = await startUpstream(() => null);
    try {
      const f = new Forwarder({ perUpstreamMs: 5000, overallMs: 200 });
      const t0 = Date.now();
      const r = await f.forward(buildQuery({ id: 1, name: "x.", qtype: TYPE_A }), [up(silent.address)], "udp");
      assert.equal(r, null);
      assert.ok(Date.now() - t0 < 1000);
    } finally {
      await silent.close();
    }
  });

  it("TCP: the overall deadline ends a forward whose exchange is still connecting, counted as a timeout", async () => {
    const signals: AbortSignal[] = [];
    const reasons: string[] = [];
    const f = new Forwarder({
      perUpstreamMs: 5000,
      overallMs: 150,
      onAttempt: (_u, _t, _s, err) => reasons.push(err?.reason ?? "ok"),
      // Stands for a connect that never completes (SYN unanswered): settles only when aborted.
      exchangeTcp: (_q, _u, _ms, signal) =>
        new Promise((_, reject) => {
          signals.push(signal!);
          signal!.addEventListener("abort", () => reject(new ExchangeError("network", "aborted")));
        }),
    });
    const t0 = Date.now();
    const r = await f.forward(buildQuery({ id: 1, name: "x.", qtype: TYPE_A }), [up("10.0.0.1:53")], "tcp");
    const took = Date.now() - t0;
    assert.equal(r, null);
    assert.ok(took >= 140 && took < 1000, `${took} ms`);
    await new Promise((res) => setImmediate(res));
    assert.equal(signals[0]!.aborted, true, "the exchange was abandoned");
    assert.equal(f.failureCount(up("10.0.0.1:53")), 1);
    assert.deepEqual(reasons, ["timeout"]);
  });

  it("TCP: an upstream that accepts but never replies → null at the overall deadline, not twice the per-upstream timeout", async () => {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((s) => sockets.add(s));
    await new Promise<void>((res) => server.listen(0, "127.0.0.1", res));
    try {
      const f = new Forwarder({ perUpstreamMs: 2000, overallMs: 200 });
      const t0 = Date.now();
      const r = await f.forward(
        buildQuery({ id: 1, name: "x.", qtype: TYPE_A }),
        [up(`127.0.0.1:${(server.address() as net.AddressInfo).port}`)],
        "tcp",
      );
      assert.equal(r, null);
      assert.ok(Date.now() - t0 < 1000);
      f.close();
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((res) => server.close(res));
    }
  });

  it("closing the forwarder fails what is in flight without counting failures", async () => {
    const silent = await startUpstream(() => null);
    try {
      const f = new Forwarder({ perUpstreamMs: 2000 });
      const p = f.forward(buildQuery({ id: 1, name: "x.", qtype: TYPE_A }), [up(silent.address)], "udp");
      f.close();
      assert.equal(await p, null);
      assert.equal(f.failureCount(up(silent.address)), 0);
    } finally {
      await silent.close();
    }
  });
});
