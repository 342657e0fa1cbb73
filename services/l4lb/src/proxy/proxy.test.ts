import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import * as dgram from "node:dgram";
import * as crypto from "node:crypto";
import * as net from "node:net";
import { Code, DcnetError, eventually } from "@dcnet/core";
import type { DataplaneVip } from "../dataplane";
import { pick, pickOther } from "./balancer";
import { createUserspaceDriver, type UserspaceDriver } from "./index";
import { rawCopyAvailable, spareReadBuffers } from "./raw-copy";
import { hasLocalAddress } from "./local-address";
import { blackhole, exchange, freePort, hold, refused, silent, tcpBackend, udpBackend, vipAddress, type Backend } from "./testutil";

const tcpVip = (ip: string, port: number, backends: [Backend, number][]): DataplaneVip => ({
  protocol: "tcp",
  ip,
  port,
  backends: backends.map(([b, weight]) => ({ ip: b.host, port: b.port, weight })),
});

/** Runs `n` exchanges, `parallel` at a time; returns the backend name of each answer (or the error). */
async function many(host: string, port: number, n: number, parallel = 50): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i += parallel) {
    const batch = await Promise.all(Array.from({ length: Math.min(parallel, n - i) }, () => exchange(host, port, "hi")));
    out.push(...batch.map((a) => a.split(":")[0]!));
  }
  return out;
}

const count = (xs: string[]): Record<string, number> =>
  xs.reduce<Record<string, number>>((acc, x) => ({ ...acc, [x]: (acc[x] ?? 0) + 1 }), {});

describe("userspace proxy: balancer", () => {
  const a = { ip: "127.0.0.1", port: 1 };
  const b = { ip: "127.0.0.1", port: 2 };
  it("picks nothing from no slots, by slot otherwise", () => {
    assert.equal(pick([]), undefined);
    const got = count(Array.from({ length: 4000 }, () => String(pick([a, b, a, a])!.port)));
    assert.ok(Math.abs((got["1"] ?? 0) - 3000) < 200, JSON.stringify(got));
  });
  it("pickOther avoids the failed backend, or gives nothing", () => {
    for (let i = 0; i < 50; i++) assert.deepEqual(pickOther([a, a, b, a], a), b);
    assert.equal(pickOther([a, a], a), undefined);
    assert.equal(pickOther([], a), undefined);
  });
});

// Every TCP case runs with both ways of copying bytes (raw-copy.ts and stream events).
for (const copy of ["raw", "raw-alloc", "stream"] as const) {
  describe(`userspace proxy: TCP (${copy} copy)`, function () {
    this.timeout(20_000);
    // The raw run must not quietly fall back to streams on this Node.
    if (copy === "raw") before(() => assert.ok(rawCopyAvailable(), "raw copy unavailable on this Node"));
    let driver: UserspaceDriver;
    let b1: Backend;
    let b2: Backend;
    const vip = vipAddress(1);
    let port: number;

    beforeEach(async () => {
      driver = createUserspaceDriver({ logger: silent, connectTimeoutMs: 1000, tcpCopy: copy });
      b1 = await tcpBackend("b1");
      b2 = await tcpBackend("b2");
      port = await freePort(vip);
    });
    afterEach(async () => {
      await driver.close();
      await b1.close();
      await b2.close();
    });

    it("round trip through the VIP, with half-close", async () => {
      await driver.apply([tcpVip(vip, port, [[b1, 1]])]);
      assert.equal(await exchange(vip, port, "ping"), "b1:pingb1:bye");
    });

    it("weights 3:1 split ~300/100 over 400 connections", async () => {
      await driver.apply([
        tcpVip(vip, port, [
          [b1, 3],
          [b2, 1],
        ]),
      ]);
      const got = count(await many(vip, port, 400));
      assert.equal((got["b1"] ?? 0) + (got["b2"] ?? 0), 400, JSON.stringify(got));
      // binomial(400, 0.75): sd 8.7; 45 is more than 5 sd
      assert.ok(Math.abs((got["b1"] ?? 0) - 300) <= 45, JSON.stringify(got));
      assert.equal(driver.stats().tcp.accepted, 400);
    });

    it("weight 0: no new connections, an open connection keeps working", async () => {
      await driver.apply([tcpVip(vip, port, [[b1, 1]])]);
      const h = await hold(vip, port);
      assert.equal(await h.say("a"), "b1:a");
      await driver.apply([
        tcpVip(vip, port, [
          [b1, 0],
          [b2, 1],
        ]),
      ]);
      assert.deepEqual(count(await many(vip, port, 40)), { b2: 40 });
      assert.equal(await h.say("b"), "b1:b");
      h.close();
    });

    it("a backend removed while a connection is open: the connection continues", async () => {
      await driver.apply([tcpVip(vip, port, [[b1, 1]])]);
      const h = await hold(vip, port);
      assert.equal(await h.say("a"), "b1:a");
      await driver.apply([tcpVip(vip, port, [[b2, 1]])]);
      assert.deepEqual(count(await many(vip, port, 20)), { b2: 20 });
      assert.equal(await h.say("b"), "b1:b");
      h.close();
    });

    it("an apply that only changes weights or backends keeps the listener", async () => {
      await driver.apply([tcpVip(vip, port, [[b1, 1]])]);
      const before = driver.listenerOf({ protocol: "tcp", ip: vip, port });
      assert.ok(before instanceof net.Server);
      await driver.apply([
        tcpVip(vip, port, [
          [b1, 2],
          [b2, 5],
        ]),
      ]);
      await driver.apply([tcpVip(vip, port, [[b2, 1]])]);
      assert.equal(driver.listenerOf({ protocol: "tcp", ip: vip, port }), before);
      assert.equal(await exchange(vip, port, "x"), "b2:xb2:bye");
    });

    it("a backend that refuses: falls over to the other one", async () => {
      const deadPort = await freePort("127.0.0.1");
      await driver.apply([
        {
          protocol: "tcp",
          ip: vip,
          port,
          backends: [
            { ip: "127.0.0.1", port: deadPort, weight: 5 },
            { ip: b2.host, port: b2.port, weight: 1 },
          ],
        },
      ]);
      assert.deepEqual(count(await many(vip, port, 30)), { b2: 30 });
      const s = driver.stats().tcp;
      assert.ok(s.failovers > 0 && s.failovers === s.connectFailures, JSON.stringify(s));
      assert.equal(s.failed, 0);
    });

    it("a backend that does not answer: the dial times out and falls over", async function () {
      const hole = await blackhole();
      try {
        await driver.apply([
          {
            protocol: "tcp",
            ip: vip,
            port,
            backends: [
              { ip: "127.0.0.1", port: hole.port, weight: 1000 },
              { ip: b2.host, port: b2.port, weight: 1 },
            ],
          },
        ]);
        const t0 = Date.now();
        assert.equal(await exchange(vip, port, "x"), "b2:xb2:bye");
        const took = Date.now() - t0;
        assert.ok(took >= 900 && took < 3000, `${took} ms`);
        assert.equal(driver.stats().tcp.failovers, 1);
      } finally {
        hole.close();
      }
    });

    it("the only backend refuses: the client is reset", async () => {
      const deadPort = await freePort("127.0.0.1");
      await driver.apply([{ protocol: "tcp", ip: vip, port, backends: [{ ip: "127.0.0.1", port: deadPort, weight: 1 }] }]);
      assert.equal(await exchange(vip, port, "x"), "ERROR ECONNRESET");
      assert.equal(driver.stats().tcp.failed, 1);
    });

    it("no backend taking new connections: closed at once", async () => {
      await driver.apply([tcpVip(vip, port, [[b1, 0]])]);
      const t0 = Date.now();
      const got = await exchange(vip, port, "x");
      assert.ok(got === "ERROR ECONNRESET" || got === "", got);
      assert.ok(Date.now() - t0 < 1000);
      assert.equal(b1.accepted, 0);
      assert.equal(driver.stats().tcp.rejected, 1);
    });

    it("a reset on the backend side resets the client", async () => {
      const rude = net.createServer((s) => s.on("data", () => s.resetAndDestroy()));
      await new Promise<void>((resolve) => rude.listen({ host: "127.0.0.1", port: 0 }, resolve));
      try {
        await driver.apply([
          { protocol: "tcp", ip: vip, port, backends: [{ ip: "127.0.0.1", port: (rude.address() as net.AddressInfo).port, weight: 1 }] },
        ]);
        const h = await hold(vip, port);
        await assert.rejects(h.say("x"), /closed before an answer/);
        for (let i = 0; i < 50 && driver.stats().tcp.active > 0; i++) await new Promise((r) => setTimeout(r, 10));
        assert.equal(driver.stats().tcp.active, 0);
      } finally {
        await new Promise<void>((resolve) => rude.close(() => resolve()));
      }
    });

    it("addLocalAddress puts a missing VIP address on lo and takes it away again", async function () {
      const address = `198.18.${(process.pid % 250) + 1}.1`;
      const probe = await new Promise<string | undefined>((resolve) =>
        execFile("ip", ["addr", "add", `${address}/32`, "dev", "lo"], (err) => resolve(err ? String(err.message) : undefined)),
      );
      if (probe !== undefined) {
        console.warn(`    skipped: cannot add addresses to lo (${probe.trim()})`);
        this.skip();
      }
      await new Promise((resolve) => execFile("ip", ["addr", "del", `${address}/32`, "dev", "lo"], resolve));
      await driver.close();
      driver = createUserspaceDriver({ logger: silent, addLocalAddress: true, tcpCopy: copy });
      await driver.apply([tcpVip(address, port, [[b1, 1]])]);
      assert.equal(await exchange(address, port, "x"), "b1:xb1:bye");
      assert.deepEqual(driver.stats().unbound, []);
      // taken away behind our back: reconcile adds it again
      await new Promise((resolve) => execFile("ip", ["addr", "del", `${address}/32`, "dev", "lo"], resolve));
      assert.equal(await driver.reconcile(), 1);
      assert.equal(await exchange(address, port, "y"), "b1:yb1:bye");
      await driver.apply([]);
      assert.equal(hasLocalAddress(address), false);
    });

    it("many concurrent connections", async () => {
      await driver.apply([
        tcpVip(vip, port, [
          [b1, 1],
          [b2, 1],
        ]),
      ]);
      const got = await many(vip, port, 1000, 500);
      assert.equal(got.filter((x) => x === "b1" || x === "b2").length, 1000, JSON.stringify(count(got)));
      for (let i = 0; i < 50 && driver.stats().tcp.active > 0; i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(driver.stats().tcp.active, 0);
    });

    it("bytes in bulk both ways with backpressure: every byte arrives, in order, through a reader that stalls", async () => {
      const sink = net.createServer((s) => s.pipe(s)); // echo
      await new Promise<void>((resolve) => sink.listen({ host: "127.0.0.1", port: 0 }, resolve));
      try {
        await driver.apply([
          { protocol: "tcp", ip: vip, port, backends: [{ ip: "127.0.0.1", port: (sink.address() as net.AddressInfo).port, weight: 1 }] },
        ]);
        // Each chunk differs (its number in every 4 bytes), so bytes reused, lost or reordered by the
        // proxy's buffers change the digest; the client stops reading now and then, so writes back to
        // it queue up and the proxy must hold reading on the backend side meanwhile.
        const total = 32 * 1024 * 1024;
        const chunkBytes = 64 * 1024;
        const sent = crypto.createHash("sha256");
        const got = crypto.createHash("sha256");
        const received = await new Promise<number>((resolve, reject) => {
          const s = net.connect({ host: vip, port });
          let n = 0;
          let stalls = 0;
          s.on("data", (d: Buffer) => {
            got.update(d);
            n += d.length;
            if (n >= total) {
              s.destroy();
              resolve(n);
            } else if (n > (stalls + 1) * 4 * 1024 * 1024) {
              stalls++;
              s.pause();
              setTimeout(() => s.resume(), 20);
            }
          });
          s.on("error", reject);
          let k = 0;
          const pump = (): void => {
            while (k * chunkBytes < total) {
              const chunk = Buffer.alloc(chunkBytes);
              for (let i = 0; i < chunkBytes; i += 4) chunk.writeUInt32LE(k, i);
              k++;
              sent.update(chunk);
              if (!s.write(chunk)) {
                s.once("drain", pump);
                return;
              }
            }
          };
          s.on("connect", pump);
        });
        assert.equal(received, total);
        assert.equal(got.digest("hex"), sent.digest("hex"));
      } finally {
        await new Promise<void>((resolve) => sink.close(() => resolve()));
      }
    });

    // Only `raw` keeps read buffers (raw-alloc and stream allocate per read).
    if (copy === "raw")
      it("read buffers: a connection takes two (from the spares when there are some) and gives both back when it closes", async () => {
        await driver.apply([tcpVip(vip, port, [[b1, 1]])]);
        // Let connections of earlier tests finish closing first.
        let c0 = -1;
        await eventually(() => {
          const n = spareReadBuffers();
          const same = n === c0;
          c0 = n;
          assert.ok(same, "the spare count is settled");
        });
        const h = await hold(vip, port);
        assert.equal(await h.say("x"), "b1:x");
        assert.equal(spareReadBuffers(), Math.max(0, c0 - 2), "the open connection holds two");
        h.close();
        await eventually(() => assert.equal(spareReadBuffers(), Math.min(512, Math.max(c0, 2)), "both back after close"));
      });

    it("reconcile binds a listener again after it died", async () => {
      await driver.apply([tcpVip(vip, port, [[b1, 1]])]);
      assert.equal(await driver.reconcile(), 0);
      const srv = driver.listenerOf({ protocol: "tcp", ip: vip, port }) as net.Server;
      await new Promise<void>((resolve) => srv.close(() => resolve()));
      assert.ok(await refused(vip, port));
      assert.equal(await driver.reconcile(), 1);
      assert.notEqual(driver.listenerOf({ protocol: "tcp", ip: vip, port }), srv);
      assert.equal(await exchange(vip, port, "x"), "b1:xb1:bye");
    });

    it("a VIP whose address the host does not hold is reported, the others still work", async () => {
      await driver.apply([tcpVip("192.0.2.77", port, [[b1, 1]]), tcpVip(vip, port, [[b2, 1]])]);
      assert.deepEqual(driver.stats().unbound, [`tcp 192.0.2.77 ${port}`]);
      assert.equal(await exchange(vip, port, "x"), "b2:xb2:bye");
      assert.equal(await driver.reconcile(), 0);
    });

    it("bindAddress chooses where a VIP listens", async () => {
      await driver.close();
      const other = vipAddress(9);
      driver = createUserspaceDriver({ logger: silent, bindAddress: () => other, tcpCopy: copy });
      await driver.apply([tcpVip("11.0.0.1", port, [[b1, 1]])]);
      assert.equal(await exchange(other, port, "x"), "b1:xb1:bye");
    });

    it("IPv6 VIPs", async () => {
      const b6 = await tcpBackend("b6", "::1");
      try {
        const p6 = await freePort("::1");
        await driver.apply([{ protocol: "tcp", ip: "0:0::1", port: p6, backends: [{ ip: "::1", port: b6.port, weight: 1 }] }]);
        assert.equal(await exchange("::1", p6, "x"), "b6:xb6:bye");
        assert.ok(driver.listenerOf({ protocol: "tcp", ip: "::0:1", port: p6 }));
      } finally {
        await b6.close();
      }
    });

    it("an invalid VIP rejects the apply before anything changes", async () => {
      await driver.apply([tcpVip(vip, port, [[b1, 1]])]);
      await assert.rejects(
        driver.apply([tcpVip("not-an-ip", 80, [[b1, 1]])]),
        (err: unknown) => err instanceof DcnetError && err.code === Code.INVALID_ARGUMENT,
      );
      assert.equal(await exchange(vip, port, "x"), "b1:xb1:bye");
    });

    it("a removed VIP stops listening; its open connections continue", async () => {
      await driver.apply([tcpVip(vip, port, [[b1, 1]])]);
      const h = await hold(vip, port);
      assert.equal(await h.say("a"), "b1:a");
      await driver.apply([]);
      assert.ok(await refused(vip, port));
      assert.equal(await h.say("b"), "b1:b");
      h.close();
    });

    it("close() leaves nothing listening and no connection open", async () => {
      await driver.apply([
        tcpVip(vip, port, [[b1, 1]]),
        { protocol: "udp", ip: vip, port, backends: [{ ip: b1.host, port: b1.port, weight: 1 }] },
      ]);
      const h = await hold(vip, port);
      assert.equal(await h.say("a"), "b1:a");
      await driver.close();
      assert.ok(await refused(vip, port));
      await assert.rejects(h.say("b"));
      // the UDP port is free again
      const u = dgram.createSocket("udp4");
      await new Promise<void>((resolve, reject) => {
        u.once("error", reject);
        u.bind({ address: vip, port }, resolve);
      });
      u.close();
      await assert.rejects(driver.apply([]), /closed/);
    });
  });
}

/** Sends `msg` from `sock` to host:port and resolves with the reply and where it came from. */
function udpAsk(
  sock: dgram.Socket,
  host: string,
  port: number,
  msg: string,
  timeoutMs = 2000,
): Promise<{ text: string; from: dgram.RemoteInfo } | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      sock.off("message", on);
      resolve(undefined);
    }, timeoutMs);
    const on = (m: Buffer, from: dgram.RemoteInfo): void => {
      clearTimeout(timer);
      sock.off("message", on);
      resolve({ text: m.toString(), from });
    };
    sock.on("message", on);
    sock.send(msg, port, host);
  });
}

async function udpClient(): Promise<dgram.Socket> {
  const s = dgram.createSocket("udp4");
  await new Promise<void>((resolve) => s.bind({ address: "127.0.0.1", port: 0 }, resolve));
  return s;
}

describe("userspace proxy: UDP", function () {
  this.timeout(20_000);
  let driver: UserspaceDriver;
  let u1: Backend;
  let u2: Backend;
  const clients: dgram.Socket[] = [];
  const vip = vipAddress(2);
  let port: number;
  const udpVip = (backends: [Backend, number][]): DataplaneVip => ({
    protocol: "udp",
    ip: vip,
    port,
    backends: backends.map(([b, weight]) => ({ ip: b.host, port: b.port, weight })),
  });
  const client = async (): Promise<dgram.Socket> => {
    const c = await udpClient();
    clients.push(c);
    return c;
  };

  beforeEach(async () => {
    driver = createUserspaceDriver({ logger: silent, udpIdleMs: 10_000, maxUdpSessions: 3 });
    u1 = await udpBackend("u1");
    u2 = await udpBackend("u2");
    port = await freePort(vip, "udp");
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await driver.close();
    await u1.close();
    await u2.close();
  });

  it("round trip; the reply comes from the VIP address; a session sticks to its backend", async () => {
    await driver.apply([
      udpVip([
        [u1, 1],
        [u2, 1],
      ]),
    ]);
    const c = await client();
    const first = await udpAsk(c, vip, port, "q1");
    assert.ok(first, "no reply");
    assert.equal(first.from.address, vip);
    assert.equal(first.from.port, port);
    const name = first.text.split(":")[0]!;
    for (let i = 2; i <= 10; i++) assert.equal((await udpAsk(c, vip, port, `q${i}`))?.text, `${name}:q${i}`);
    assert.equal(driver.stats().udp.opened, 1);
  });

  it("an idle session expires; the next packet opens a new one", async () => {
    await driver.close();
    driver = createUserspaceDriver({ logger: silent, udpIdleMs: 200 });
    await driver.apply([udpVip([[u1, 1]])]);
    const c = await client();
    assert.equal((await udpAsk(c, vip, port, "a"))?.text, "u1:a");
    assert.equal(driver.stats().udp.sessions, 1);
    for (let i = 0; i < 40 && driver.stats().udp.sessions > 0; i++) await new Promise((r) => setTimeout(r, 25));
    const s = driver.stats().udp;
    assert.equal(s.sessions, 0);
    assert.equal(s.expired, 1);
    assert.equal((await udpAsk(c, vip, port, "b"))?.text, "u1:b");
    assert.equal(driver.stats().udp.opened, 2);
  });

  it("weights and drain: weight 0 gets no new sessions, an existing session stays", async () => {
    await driver.apply([udpVip([[u1, 1]])]);
    const c1 = await client();
    assert.equal((await udpAsk(c1, vip, port, "a"))?.text, "u1:a");
    await driver.apply([
      udpVip([
        [u1, 0],
        [u2, 1],
      ]),
    ]);
    const c2 = await client();
    assert.equal((await udpAsk(c2, vip, port, "b"))?.text, "u2:b");
    assert.equal((await udpAsk(c1, vip, port, "c"))?.text, "u1:c");
  });

  it("a backend removed from the VIP (still answering): its sessions end and the client's next packet goes to another", async () => {
    await driver.apply([udpVip([[u1, 1]])]);
    const c = await client();
    assert.equal((await udpAsk(c, vip, port, "a"))?.text, "u1:a");
    await driver.apply([
      udpVip([
        [u1, 1],
        [u2, 1],
      ]),
    ]);
    assert.equal((await udpAsk(c, vip, port, "b"))?.text, "u1:b", "a backend added: the session stays");
    await driver.apply([udpVip([[u2, 1]])]);
    assert.equal((await udpAsk(c, vip, port, "c"))?.text, "u2:c");
    const s = driver.stats().udp;
    assert.equal(s.backendGone, 1);
    assert.equal(s.opened, 2);
  });

  it("no backend: dropped and counted", async () => {
    await driver.apply([udpVip([[u1, 0]])]);
    const c = await client();
    assert.equal(await udpAsk(c, vip, port, "a", 300), undefined);
    assert.equal(driver.stats().udp.droppedNoBackend, 1);
  });

  it("the session limit: a client beyond it is dropped and counted", async () => {
    await driver.apply([udpVip([[u1, 1]])]);
    for (let i = 0; i < 3; i++) assert.ok(await udpAsk(await client(), vip, port, "a"));
    assert.equal(await udpAsk(await client(), vip, port, "a", 300), undefined);
    assert.equal(driver.stats().udp.droppedSessionLimit, 1);
    assert.equal(driver.stats().udp.sessions, 3);
  });

  it("a weight change keeps the VIP socket; reconcile rebinds a dead one", async () => {
    await driver.apply([udpVip([[u1, 1]])]);
    const sock = driver.listenerOf({ protocol: "udp", ip: vip, port });
    assert.ok(sock);
    await driver.apply([
      udpVip([
        [u1, 3],
        [u2, 1],
      ]),
    ]);
    assert.equal(driver.listenerOf({ protocol: "udp", ip: vip, port }), sock);
    (sock as dgram.Socket).close();
    assert.equal(await driver.reconcile(), 1);
    assert.notEqual(driver.listenerOf({ protocol: "udp", ip: vip, port }), sock);
    assert.ok(await udpAsk(await client(), vip, port, "a"));
  });
});
