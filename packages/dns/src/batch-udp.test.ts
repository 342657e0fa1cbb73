import { strict as assert } from "node:assert";
import * as dgram from "node:dgram";
import { openBatchUdp, type BatchUdpOptions, type BatchUdpSocket } from "./batch-udp";
import { skipWithoutBatchUdp } from "./testing";

/** A client socket that collects every datagram it gets. */
async function client(): Promise<{ sock: dgram.Socket; got: Buffer[]; wait: (n: number, ms?: number) => Promise<Buffer[]> }> {
  const sock = dgram.createSocket({ type: "udp4", recvBufferSize: 4 << 20 });
  const got: Buffer[] = [];
  let waiter: (() => void) | null = null;
  sock.on("message", (m) => {
    got.push(m);
    waiter?.();
  });
  await new Promise<void>((r) => sock.bind(0, "127.0.0.1", r));
  const wait = (n: number, ms = 3000) =>
    new Promise<Buffer[]>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${got.length} of ${n} datagrams arrived`)), ms);
      const check = () => {
        if (got.length >= n) {
          clearTimeout(timer);
          waiter = null;
          resolve(got);
        }
      };
      waiter = check;
      check();
    });
  return { sock, got, wait };
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("dns/batch-udp (recvmmsg/sendmmsg through the native module)", function () {
  before(function () {
    skipWithoutBatchUdp(this);
  });

  const open = (answer: BatchUdpOptions["answer"], extra: Partial<BatchUdpOptions> = {}) => {
    const errors: unknown[] = [];
    const s = openBatchUdp({
      address: "127.0.0.1",
      port: 0,
      v6: false,
      recvBufferBytes: 4 << 20,
      answer,
      onHandlerError: (e) => errors.push(e),
      onError: (e) => errors.push(e),
      ...extra,
    });
    assert.ok(s, "module loads");
    return { s: s as BatchUdpSocket, errors };
  };

  it("datagrams that queue up while the loop is busy are taken and answered in batches", async () => {
    const { s } = open((msg) => Buffer.concat([Buffer.from("re:"), msg]));
    const c = await client();
    try {
      // The sends run synchronously on this thread: the socket cannot be read until they are done.
      for (let i = 0; i < 200; i++) c.sock.send(Buffer.from(`q${i}`), s.port, "127.0.0.1");
      const got = await c.wait(200);
      assert.deepEqual(new Set(got.map((b) => b.toString())), new Set(Array.from({ length: 200 }, (_, i) => `re:q${i}`)));
      const st = s.stats();
      assert.equal(st.datagrams, 200);
      assert.ok(st.batches <= 200 / 16, `200 datagrams in ${st.batches} recvmmsg calls`);
      assert.equal(st.sendFailures, 0);
    } finally {
      c.sock.close();
      await s.close();
    }
  });

  it("the handler's message is its own copy: a promise reply may use it after later batches overwrote the receive buffer", async () => {
    const { s } = open((msg) => delay(20).then(() => Buffer.from(msg)));
    const c = await client();
    try {
      for (let i = 0; i < 300; i++) c.sock.send(Buffer.from(`m${i}`.padEnd(40, "x")), s.port, "127.0.0.1");
      const got = await c.wait(300);
      assert.equal(new Set(got.map((b) => b.toString())).size, 300);
      for (const b of got) assert.match(b.toString(), /^m\d+x+$/);
    } finally {
      c.sock.close();
      await s.close();
    }
  });

  it("a datagram larger than an input slot is dropped and counted; a reply larger than an output slot is still sent", async () => {
    const { s } = open((msg) => (msg[0] === 0x42 ? Buffer.alloc(6000, 0x61) : Buffer.from("ok")));
    const c = await client();
    try {
      c.sock.send(Buffer.alloc(5000, 1), s.port, "127.0.0.1");
      c.sock.send(Buffer.from([0x42]), s.port, "127.0.0.1");
      c.sock.send(Buffer.from([0x01]), s.port, "127.0.0.1");
      const got = await c.wait(2);
      await delay(50);
      assert.equal(c.got.length, 2, "no reply to the oversized datagram");
      assert.deepEqual(
        got.map((b) => b.length).sort((a, b) => a - b),
        [2, 6000],
      );
      assert.equal(s.stats().cut, 1);
    } finally {
      c.sock.close();
      await s.close();
    }
  });

  it("null means no reply; a rejected promise goes to onHandlerError and the socket keeps serving", async () => {
    const { s, errors } = open((msg) => {
      if (msg.toString() === "drop") return null;
      if (msg.toString() === "fail") return Promise.reject(new Error("boom"));
      return Buffer.from("fine");
    });
    const c = await client();
    try {
      c.sock.send("drop", s.port, "127.0.0.1");
      c.sock.send("fail", s.port, "127.0.0.1");
      await delay(30);
      c.sock.send("x", s.port, "127.0.0.1");
      const got = await c.wait(1);
      await delay(30);
      assert.deepEqual(
        c.got.map((b) => b.toString()),
        ["fine"],
      );
      assert.equal(got.length, 1);
      assert.equal((errors[0] as Error).message, "boom");
    } finally {
      c.sock.close();
      await s.close();
    }
  });

  it("close with a reply still pending: the reply is not sent, nothing crashes, and the port is free again", async () => {
    const { s } = open(() => delay(30).then(() => Buffer.from("late")));
    const c = await client();
    const port = s.port;
    c.sock.send("q", port, "127.0.0.1");
    await delay(5);
    await s.close();
    await delay(60);
    assert.equal(c.got.length, 0);
    const again = openBatchUdp({
      address: "127.0.0.1",
      port,
      v6: false,
      recvBufferBytes: 0,
      answer: () => Buffer.from("again"),
      onHandlerError: () => {},
      onError: () => {},
    })!;
    try {
      c.sock.send("q", port, "127.0.0.1");
      assert.equal((await c.wait(1))[0]!.toString(), "again");
    } finally {
      c.sock.close();
      await again.close();
    }
  });

  it("bind errors name the call, the code and the address", () => {
    assert.throws(
      () =>
        openBatchUdp({
          address: "192.0.2.1",
          port: 0,
          v6: false,
          recvBufferBytes: 0,
          answer: () => null,
          onHandlerError: () => {},
          onError: () => {},
        }),
      (err: NodeJS.ErrnoException) => err.code === "EADDRNOTAVAIL" && err.message === "bind EADDRNOTAVAIL 192.0.2.1:0",
    );
  });
});
