/**
 * Upstream resolvers and one-shot exchanges with them: the client's message is sent unchanged (same
 * ID, flags, EDNS) over a fresh socket — a connected UDP socket (random source port, ICMP errors seen
 * at once) or a TCP connection with 2-byte length framing.
 */
import * as dgram from "node:dgram";
import * as net from "node:net";
import type { Transport } from "./truncate";
import { type Layout, FLAG_QR, walkMessage } from "./wire";

export interface Upstream {
  host: string;
  port: number;
  family: 4 | 6;
  /** `ip:port` / `[v6]:port`, for logs and metric labels. */
  label: string;
}

/** `ip`, `ip:port`, `v6`, `[v6]:port` → upstream; null when not an IP literal (§7: resolvers must be IPs). */
export function parseResolver(s: string): Upstream | null {
  const text = s.trim();
  let host: string;
  let port = 53;
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close < 0) return null;
    host = text.slice(1, close);
    const rest = text.slice(close + 1);
    if (rest !== "") {
      if (!rest.startsWith(":")) return null;
      port = Number(rest.slice(1));
    }
  } else if (net.isIP(text)) {
    host = text;
  } else {
    const i = text.lastIndexOf(":");
    if (i < 0) return null;
    host = text.slice(0, i);
    port = Number(text.slice(i + 1));
  }
  const family = net.isIP(host);
  if (family === 0 || !Number.isInteger(port) || port < 1 || port > 65535) return null;
  return { host, port, family: family as 4 | 6, label: family === 6 ? `[${host}]:${port}` : `${host}:${port}` };
}

export class ExchangeError extends Error {
  constructor(
    readonly reason: "timeout" | "network" | "invalid",
    message: string,
  ) {
    super(message);
    this.name = "ExchangeError";
  }
}

/** A reply is accepted when it parses, is a response, and carries the query's ID. */
function checkReply(query: Buffer, reply: Buffer): Layout | null {
  if (reply.length < 12 || reply[0] !== query[0] || reply[1] !== query[1] || !(reply[2]! & (FLAG_QR >> 8))) return null;
  return walkMessage(reply);
}

export interface Exchanged {
  reply: Buffer;
  layout: Layout;
}

/** One UDP exchange on a fresh connected socket (random source port, ICMP errors seen at once). */
export function exchangeUdp(query: Buffer, up: Upstream, timeoutMs: number, signal?: AbortSignal): Promise<Exchanged> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket(up.family === 6 ? "udp6" : "udp4");
    let done = false;
    const onAbort = () => finish(new ExchangeError("network", "aborted"));
    const finish = (err: Error | null, value?: Exchanged) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      sock.close();
      if (err) reject(err);
      else resolve(value!);
    };
    const timer = setTimeout(() => finish(new ExchangeError("timeout", `no reply from ${up.label} within ${timeoutMs} ms`)), timeoutMs);
    if (signal?.aborted) return onAbort();
    signal?.addEventListener("abort", onAbort);
    sock.on("error", (err) => finish(new ExchangeError("network", `${up.label}: ${err.message}`)));
    sock.on("message", (msg) => {
      // Mismatched IDs are ignored (as a late or spoofed packet); anything else unparsable fails.
      if (msg.length >= 2 && (msg[0] !== query[0] || msg[1] !== query[1])) return;
      const layout = checkReply(query, msg);
      if (!layout) finish(new ExchangeError("invalid", `unparsable reply from ${up.label}`));
      else finish(null, { reply: msg, layout });
    });
    // A failed connect reaches the callback (not "error"), and a send on the unconnected socket
    // would throw from Node's nextTick: fail the exchange instead.
    sock.connect(up.port, up.host, ((err?: Error) => {
      if (done) return;
      if (err) return finish(new ExchangeError("network", `${up.label}: connect: ${err.message}`));
      try {
        sock.send(query, (e) => {
          if (e) finish(new ExchangeError("network", `${up.label}: ${e.message}`));
        });
      } catch (e) {
        finish(new ExchangeError("network", `${up.label}: ${(e as Error).message}`));
      }
    }) as () => void);
  });
}

/** One TCP exchange: connect, send the length-prefixed query, read one length-prefixed reply. */
export function exchangeTcp(query: Buffer, up: Upstream, timeoutMs: number, signal?: AbortSignal): Promise<Exchanged> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: up.host, port: up.port, family: up.family, noDelay: true });
    let done = false;
    let buf: Buffer = Buffer.alloc(0);
    const onAbort = () => finish(new ExchangeError("network", "aborted"));
    const finish = (err: Error | null, value?: Exchanged) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      sock.destroy();
      if (err) reject(err);
      else resolve(value!);
    };
    let timer = setTimeout(() => finish(new ExchangeError("timeout", `connect to ${up.label} timed out`)), timeoutMs);
    if (signal?.aborted) {
      onAbort();
      return;
    }
    signal?.addEventListener("abort", onAbort);
    sock.on("connect", () => {
      // Dial, then write/read, each get the timeout (upstream: Dial/Read/WriteTimeout).
      clearTimeout(timer);
      timer = setTimeout(() => finish(new ExchangeError("timeout", `no reply from ${up.label} within ${timeoutMs} ms`)), timeoutMs);
      const framed = Buffer.allocUnsafe(query.length + 2);
      framed.writeUInt16BE(query.length, 0);
      query.copy(framed, 2);
      sock.write(framed);
    });
    sock.on("data", (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      if (buf.length < 2) return;
      const n = buf.readUInt16BE(0);
      if (buf.length < n + 2) return;
      const msg = buf.subarray(2, n + 2);
      const layout = checkReply(query, msg);
      if (!layout) finish(new ExchangeError("invalid", `unparsable reply from ${up.label}`));
      else finish(null, { reply: msg, layout });
    });
    sock.on("error", (err) => finish(new ExchangeError("network", `${up.label}: ${err.message}`)));
    sock.on("close", () => finish(new ExchangeError("network", `${up.label}: connection closed before a reply`)));
  });
}

/** One exchange over `transport`. */
export function exchange(query: Buffer, up: Upstream, transport: Transport, timeoutMs: number, signal?: AbortSignal): Promise<Exchanged> {
  return transport === "udp" ? exchangeUdp(query, up, timeoutMs, signal) : exchangeTcp(query, up, timeoutMs, signal);
}
