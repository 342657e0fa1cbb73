import { strict as assert } from "node:assert";
import * as net from "node:net";
import { createLogger, seededRandom } from "@dcnet/core";
import { createDnsListener, type DnsHandler } from "./listener";

/**
 * Fuzz of the DNS-over-TCP framing (RFC 1035 §4.2.2: a 2-byte length, then the message): a stream
 * of frames of random lengths (0 included, up to 1,500 bytes; many per connection) cut into random
 * chunks, optionally ending in a lying length prefix (more bytes promised than sent) or a lone
 * prefix byte. The handler replies with the frame's length and first bytes, throws on some frames
 * and answers others later. Contract: every complete frame reaches the handler exactly once with
 * its exact bytes; every reply comes back framed; the handler throwing or a partial frame at the
 * end loses nothing before it, the connection is closed once the answers are written, and the
 * listener keeps serving. A failure names the seed and round.
 */

const logger = createLogger({ service: "dns-listener-fuzz", level: "silent" });

/** Reply: [len hi, len lo, first byte or 0, frame index hi, lo]: identifies the frame exactly. */
const handler: DnsHandler = (msg) => {
  const idx = msg.length >= 3 ? msg.readUInt16BE(1) : -1;
  if (msg.length >= 1 && msg[0] === 0xee) throw new Error("handler failure (fuzz)");
  const reply = Buffer.from([msg.length >> 8, msg.length & 0xff, msg[0] ?? 0, (idx >> 8) & 0xff, idx & 0xff]);
  if (msg.length >= 1 && msg[0] === 0xdd) return new Promise((r) => setTimeout(() => r(reply), 1 + (msg.length % 7)));
  if (msg.length >= 1 && msg[0] === 0xcc) return null;
  return reply;
};

interface Frame {
  body: Buffer;
  expect: Buffer | null;
}

function frames(rnd: () => number, n: number): Frame[] {
  return Array.from({ length: n }, (_, i) => {
    const len = rnd() < 0.1 ? Math.floor(rnd() * 3) : 3 + Math.floor(rnd() * (rnd() < 0.1 ? 1500 : 60));
    const body = Buffer.alloc(len);
    for (let k = 0; k < len; k++) body[k] = Math.floor(rnd() * 256);
    if (len >= 1) body[0] = [0x01, 0x01, 0x01, 0xcc, 0xdd, 0xee][Math.floor(rnd() * 6)]!;
    if (len >= 3) body.writeUInt16BE(i, 1);
    const idx = len >= 3 ? i : -1;
    const expect =
      body[0] === 0xee || body[0] === 0xcc ? null : Buffer.from([len >> 8, len & 0xff, body[0] ?? 0, (idx >> 8) & 0xff, idx & 0xff]);
    return { body, expect };
  });
}

/** Sends `bytes` in random chunks, half-closes, collects framed replies until the server closes. */
function converse(port: number, bytes: Buffer, rnd: () => number): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: "127.0.0.1", allowHalfOpen: true });
    const replies: Buffer[] = [];
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error("server did not close the connection"));
    }, 5000);
    sock.on("data", (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        replies.push(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        buf = buf.subarray(2 + buf.readUInt16BE(0));
      }
    });
    sock.on("error", reject);
    sock.on("close", () => {
      clearTimeout(timer);
      if (buf.length > 0) reject(new Error(`${buf.length} bytes of a partial reply`));
      else resolve(replies);
    });
    const cuts: Buffer[] = [];
    for (let i = 0; i < bytes.length;) {
      const n = 1 + Math.floor(rnd() * (rnd() < 0.5 ? 8 : 600));
      cuts.push(bytes.subarray(i, i + n));
      i += n;
    }
    const next = (): void => {
      const c = cuts.shift();
      if (c === undefined) {
        sock.end();
        return;
      }
      sock.write(c, () => (rnd() < 0.2 ? setTimeout(next, 1) : setImmediate(next)));
    };
    sock.once("connect", next);
  });
}

const key = (b: Buffer): string => b.toString("hex");

describe("DNS TCP framing fuzz", function () {
  this.timeout(30_000);
  for (const seed of [51, 52]) {
    it(`seed ${seed}: random frames in random chunks, lying and partial prefixes at the end (40 connections)`, async () => {
      const rnd = seededRandom(seed);
      const l = createDnsListener({ host: "127.0.0.1", port: 0, handle: handler, logger, udp: false, maxTcpInFlight: 8 });
      const { tcp } = await l.start();
      try {
        for (let round = 0; round < 40; round++) {
          const fs = frames(rnd, 1 + Math.floor(rnd() * 120));
          const parts = fs.map((f) => {
            const h = Buffer.alloc(2);
            h.writeUInt16BE(f.body.length);
            return Buffer.concat([h, f.body]);
          });
          const tail = rnd();
          if (tail < 0.2)
            parts.push(Buffer.from([0x01, 0xf4, 1, 2, 3])); // promises 500 bytes, sends 3
          else if (tail < 0.3) parts.push(Buffer.from([0xff])); // half a prefix
          const replies = await converse(tcp, Buffer.concat(parts), rnd);
          const want = fs.flatMap((f) => (f.expect ? [key(f.expect)] : [])).sort();
          assert.deepEqual(replies.map(key).sort(), want, `seed ${seed} round ${round}: replies differ from the complete frames`);
        }
      } finally {
        await l.stop();
      }
    });
  }
});
