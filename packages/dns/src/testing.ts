/** Test helpers for DNS servers: a query builder, a full decoder, client exchanges, a fake upstream resolver. */
import { batchUdpUnavailable } from "./batch-udp";
import * as dgram from "node:dgram";
import * as net from "node:net";
import { TYPE_OPT, nameToWire } from "./wire";

export interface QueryOpts {
  id?: number;
  name: string;
  qtype: number;
  qclass?: number;
  /** Raw flags word (default RD). */
  flags?: number;
  edns?: { udpSize: number; version?: number; do?: boolean };
}

/** Builds a query with the name written exactly as given (case kept, uncompressed). */
export function buildQuery(o: QueryOpts): Buffer {
  const name = nameToWire(o.name.endsWith(".") ? o.name : o.name + ".");
  if (!name) throw new Error(`bad name ${o.name}`);
  const opt = o.edns ? Buffer.alloc(11) : Buffer.alloc(0);
  if (o.edns) {
    opt.writeUInt16BE(TYPE_OPT, 1);
    opt.writeUInt16BE(o.edns.udpSize, 3);
    opt[6] = o.edns.version ?? 0;
    opt.writeUInt16BE(o.edns.do ? 0x8000 : 0, 7);
  }
  const h = Buffer.alloc(12);
  h.writeUInt16BE(o.id ?? 0x1234, 0);
  h.writeUInt16BE(o.flags ?? 0x0100, 2);
  h.writeUInt16BE(1, 4);
  h.writeUInt16BE(o.edns ? 1 : 0, 10);
  const q = Buffer.alloc(4);
  q.writeUInt16BE(o.qtype, 0);
  q.writeUInt16BE(o.qclass ?? 1, 2);
  return Buffer.concat([h, name, q, opt]);
}

export interface RR {
  name: string;
  type: number;
  class: number;
  ttl: number;
  /** A/AAAA: address; NS: name; SRV: {priority, weight, port, target}; SOA: fields; else hex. */
  data: unknown;
}

export interface Decoded {
  id: number;
  flags: number;
  qr: boolean;
  opcode: number;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  ra: boolean;
  cd: boolean;
  rcode: number;
  questions: { name: string; type: number; class: number }[];
  answers: RR[];
  authority: RR[];
  additional: RR[];
  size: number;
}

function readName(msg: Buffer, off: number): { name: string; end: number } {
  const labels: string[] = [];
  let pos = off;
  let end = -1;
  for (let hops = 0; hops < 128;) {
    const l = msg[pos];
    if (l === undefined) throw new Error("name out of bounds");
    if (l === 0) {
      if (end < 0) end = pos + 1;
      return { name: labels.length ? labels.join(".") + "." : ".", end };
    }
    if ((l & 0xc0) === 0xc0) {
      if (end < 0) end = pos + 2;
      pos = ((l & 0x3f) << 8) | msg[pos + 1]!;
      hops++;
      continue;
    }
    labels.push(msg.toString("latin1", pos + 1, pos + 1 + l));
    pos += l + 1;
  }
  throw new Error("pointer loop");
}

function readRR(msg: Buffer, off: number): { rr: RR; end: number } {
  const { name, end } = readName(msg, off);
  const type = msg.readUInt16BE(end);
  const cls = msg.readUInt16BE(end + 2);
  const ttl = msg.readUInt32BE(end + 4);
  const rdlen = msg.readUInt16BE(end + 8);
  const rd = end + 10;
  if (rd + rdlen > msg.length) throw new Error("rdata out of bounds");
  let data: unknown;
  switch (type) {
    case 1:
      data = [...msg.subarray(rd, rd + 4)].join(".");
      break;
    case 28: {
      const g: string[] = [];
      for (let i = 0; i < 8; i++) g.push(msg.readUInt16BE(rd + i * 2).toString(16));
      data = g.join(":");
      break;
    }
    case 2:
    case 5:
      data = readName(msg, rd).name;
      break;
    case 33:
      data = {
        priority: msg.readUInt16BE(rd),
        weight: msg.readUInt16BE(rd + 2),
        port: msg.readUInt16BE(rd + 4),
        target: readName(msg, rd + 6).name,
      };
      break;
    case 6: {
      const m = readName(msg, rd);
      const r = readName(msg, m.end);
      const o = r.end;
      data = {
        mname: m.name,
        rname: r.name,
        serial: msg.readUInt32BE(o),
        refresh: msg.readUInt32BE(o + 4),
        retry: msg.readUInt32BE(o + 8),
        expire: msg.readUInt32BE(o + 12),
        minimum: msg.readUInt32BE(o + 16),
      };
      break;
    }
    default:
      data = msg.toString("hex", rd, rd + rdlen);
  }
  return { rr: { name, type, class: cls, ttl, data }, end: rd + rdlen };
}

/** Decodes a whole message (strict: throws on anything out of bounds). */
export function decode(msg: Buffer): Decoded {
  const flags = msg.readUInt16BE(2);
  const counts = [4, 6, 8, 10].map((o) => msg.readUInt16BE(o));
  let off = 12;
  const questions: Decoded["questions"] = [];
  for (let i = 0; i < counts[0]!; i++) {
    const { name, end } = readName(msg, off);
    questions.push({ name, type: msg.readUInt16BE(end), class: msg.readUInt16BE(end + 2) });
    off = end + 4;
  }
  const sections: RR[][] = [[], [], []];
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < counts[s + 1]!; i++) {
      const r = readRR(msg, off);
      sections[s]!.push(r.rr);
      off = r.end;
    }
  }
  if (off !== msg.length) throw new Error(`trailing bytes: ${msg.length - off}`);
  return {
    id: msg.readUInt16BE(0),
    flags,
    qr: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0xf,
    aa: (flags & 0x0400) !== 0,
    tc: (flags & 0x0200) !== 0,
    rd: (flags & 0x0100) !== 0,
    ra: (flags & 0x0080) !== 0,
    cd: (flags & 0x0010) !== 0,
    rcode: flags & 0xf,
    questions,
    answers: sections[0]!,
    authority: sections[1]!,
    additional: sections[2]!,
    size: msg.length,
  };
}

/** Sends one UDP datagram, resolves with the first reply or null after `timeoutMs`. */
export function udpExchange(port: number, msg: Buffer, timeoutMs = 2000): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const s = dgram.createSocket("udp4");
    const timer = setTimeout(() => {
      s.close();
      resolve(null);
    }, timeoutMs);
    s.once("message", (m) => {
      clearTimeout(timer);
      s.close();
      resolve(m);
    });
    s.send(msg, port, "127.0.0.1");
  });
}

/** A tiny TCP client: sends all messages on one connection, resolves with that many replies (any order). */
export function tcpExchange(port: number, msgs: Buffer[], timeoutMs = 3000): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, "127.0.0.1");
    const replies: Buffer[] = [];
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`TCP: got ${replies.length}/${msgs.length} replies`));
    }, timeoutMs);
    sock.on("connect", () => {
      for (const m of msgs) {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(m.length);
        sock.write(Buffer.concat([len, m]));
      }
    });
    sock.on("data", (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const n = buf.readUInt16BE(0);
        replies.push(buf.subarray(2, 2 + n));
        buf = buf.subarray(2 + n);
      }
      if (replies.length === msgs.length) {
        clearTimeout(timer);
        sock.end();
        resolve(replies);
      }
    });
    sock.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

export type UpstreamHandler = (msg: Buffer, transport: "udp" | "tcp") => Buffer | null;

export interface FakeUpstream {
  /** `127.0.0.1:port` — the same port number on UDP and TCP. */
  address: string;
  port: number;
  /** Every query as it arrived, with the port it came from (one UDP socket or TCP connection of the client). */
  received: { msg: Buffer; transport: "udp" | "tcp"; fromPort: number }[];
  close(): Promise<void>;
}

/** A fake upstream resolver on 127.0.0.1 (UDP and TCP on one port); handler null = stay silent. */
export async function startUpstream(handler: UpstreamHandler): Promise<FakeUpstream> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const udp = dgram.createSocket("udp4");
    await new Promise<void>((r) => udp.bind(0, "127.0.0.1", () => r()));
    const port = udp.address().port;
    const tcp = net.createServer();
    const conns = new Set<net.Socket>();
    const ok = await new Promise<boolean>((r) => {
      tcp.once("error", () => r(false));
      tcp.listen(port, "127.0.0.1", () => r(true));
    });
    if (!ok) {
      udp.close();
      continue;
    }
    const received: FakeUpstream["received"] = [];
    udp.on("message", (m, rinfo) => {
      received.push({ msg: m, transport: "udp", fromPort: rinfo.port });
      const reply = handler(m, "udp");
      if (reply) udp.send(reply, rinfo.port, rinfo.address);
    });
    tcp.on("connection", (s) => {
      conns.add(s);
      s.on("close", () => conns.delete(s));
      s.on("error", () => s.destroy());
      let buf = Buffer.alloc(0);
      s.on("data", (c: Buffer) => {
        buf = Buffer.concat([buf, c]);
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          const m = buf.subarray(2, 2 + buf.readUInt16BE(0));
          buf = buf.subarray(2 + m.length);
          received.push({ msg: m, transport: "tcp", fromPort: s.remotePort ?? 0 });
          const reply = handler(m, "tcp");
          if (reply) {
            const len = Buffer.alloc(2);
            len.writeUInt16BE(reply.length);
            s.write(Buffer.concat([len, reply]));
          }
        }
      });
    });
    return {
      address: `127.0.0.1:${port}`,
      port,
      received,
      close: async () => {
        for (const c of conns) c.destroy();
        await Promise.all([new Promise<void>((r) => udp.close(() => r())), new Promise<void>((r) => tcp.close(() => r()))]);
      },
    };
  }
  throw new Error("could not bind a fake upstream");
}

/** Builds a reply to `query` with `answers` A records for its question (owner = pointer to the question). */
export function upstreamReply(query: Buffer, opts: { rcode?: number; a?: string[]; tc?: boolean; optSize?: number } = {}): Buffer {
  const qEnd = (() => {
    let p = 12;
    while (query[p] !== 0) p += query[p]! + 1;
    return p + 5;
  })();
  const parts: Buffer[] = [Buffer.from(query.subarray(0, qEnd))];
  const head = parts[0]!;
  head.writeUInt16BE(0x8180 | (opts.tc ? 0x0200 : 0) | (opts.rcode ?? 0), 2);
  head.writeUInt16BE(1, 4);
  head.writeUInt16BE(opts.a?.length ?? 0, 6);
  head.writeUInt16BE(0, 8);
  head.writeUInt16BE(opts.optSize ? 1 : 0, 10);
  for (const ip of opts.a ?? []) {
    const rr = Buffer.alloc(16);
    rr.writeUInt16BE(0xc00c, 0);
    rr.writeUInt16BE(1, 2);
    rr.writeUInt16BE(1, 4);
    rr.writeUInt32BE(30, 6);
    rr.writeUInt16BE(4, 10);
    Buffer.from(ip.split(".").map(Number)).copy(rr, 12);
    parts.push(rr);
  }
  if (opts.optSize) {
    const opt = Buffer.alloc(11);
    opt.writeUInt16BE(TYPE_OPT, 1);
    opt.writeUInt16BE(opts.optSize, 3);
    parts.push(opt);
  }
  return Buffer.concat(parts);
}

/** The seeded PRNG of @dcnet/core (mulberry32). */

/**
 * One to three random damages of a DNS message (fuzz tests): a bit flipped, a byte replaced, the
 * message cut short, a section count set to 0/1/2/65535, a compression pointer planted, the OPT
 * version changed, garbage appended; mostly left a query (QR clear). `rnd`: a seeded PRNG.
 */
export function mutateQuery(rnd: () => number, base: Buffer): Buffer {
  let b = Buffer.from(base);
  for (let e = 1 + Math.floor(rnd() * 3); e > 0; e--) {
    const r = rnd();
    const at = 2 + Math.floor(rnd() * Math.max(1, b.length - 2));
    if (at >= b.length) continue;
    if (r < 0.3) b[at] = b[at]! ^ (1 << Math.floor(rnd() * 8));
    else if (r < 0.5) b[at] = Math.floor(rnd() * 256);
    else if (r < 0.6) b = b.subarray(0, at);
    else if (r < 0.7 && b.length >= 12) b.writeUInt16BE([0, 1, 2, 0xffff][Math.floor(rnd() * 4)]!, 4 + 2 * Math.floor(rnd() * 4));
    else if (r < 0.8 && b.length > 14) b.writeUInt16BE(0xc000 | Math.floor(rnd() * b.length), 12 + Math.floor(rnd() * (b.length - 13)));
    else if (r < 0.9 && b.length > 11)
      b[b.length - 5] = Math.floor(rnd() * 3); // OPT version, when present
    else b = Buffer.concat([b, Buffer.alloc(Math.floor(rnd() * 40), Math.floor(rnd() * 256))]);
  }
  b = Buffer.from(b);
  if (b.length > 2) b[2] = rnd() < 0.95 ? b[2]! & 0x7f : b[2]!; // mostly queries (QR clear)
  return b;
}

/**
 * Skips the calling test (or hook) where the batched UDP module is not built — no C compiler, not
 * Linux — printing why. `.ci/run` builds it (DCNET_REQUIRE_NATIVE=1) and counts a skip as a failure.
 */
export function skipWithoutBatchUdp(ctx: Mocha.Context): void {
  const why = batchUdpUnavailable();
  if (why === undefined) return;
  console.log(`      skipped: ${why}`);
  ctx.skip();
}
