/**
 * A UDP socket for the DNS listener below `node:dgram`: the libuv handle dgram itself wraps
 * (`process.binding("udp_wrap")`), receiving into a callback and sending with the handle's `send`,
 * without dgram's per-datagram event emit, argument checks, lookup callback and a new send request
 * per reply. Measured on the 2-core bench machine with a minimal responder at 20k queries/s: 19.3
 * vs 21.3 µs of CPU per query (~10% less), which is what a DNS server's throughput is made of here.
 *
 * The handle interface is Node's own, not public API: {@link openRawUdp} checks it and returns null
 * when it is missing or different, and the listener then uses dgram (listener.ts). Bind and buffer
 * errors come back as errors named like dgram's (`bind EADDRINUSE 127.0.0.1:53`).
 */
import { getSystemErrorName } from "node:util";
import { nodeBinding } from "@dcnet/core";

interface SendReq {
  list?: Buffer[];
}

interface UdpHandle {
  bind(address: string, port: number, flags: number): number;
  bind6(address: string, port: number, flags: number): number;
  send(req: SendReq, list: Buffer[], count: number, port: number, address: string, hasCallback: boolean): number;
  send6(req: SendReq, list: Buffer[], count: number, port: number, address: string, hasCallback: boolean): number;
  recvStart(): number;
  recvStop(): number;
  getsockname(out: { port?: number }): number;
  bufferSize(size: number, recv: boolean, ctx: Record<string, unknown>): number | undefined;
  close(cb?: () => void): void;
  onmessage: ((nread: number, handle: unknown, buf: Buffer | undefined, rinfo: { address: string; port: number }) => void) | null;
}

interface UdpWrap {
  UDP: new () => UdpHandle;
  SendWrap: new () => SendReq;
}

export interface RawUdpSocket {
  readonly port: number;
  /** Sends `buf` to address:port (an IP literal of the socket's family); errors are counted, not thrown. */
  send(buf: Buffer, port: number, address: string): void;
  close(): Promise<void>;
}

const UDP_METHODS = ["bind", "bind6", "send", "send6", "recvStart", "recvStop", "getsockname", "bufferSize", "close"] as const;

function load(): UdpWrap | null {
  return nodeBinding<UdpWrap>("udp_wrap", (w) => {
    if (typeof w.UDP !== "function" || typeof w.SendWrap !== "function") return false;
    const p = w.UDP.prototype as Partial<UdpHandle>;
    return UDP_METHODS.every((m) => typeof p[m] === "function");
  });
}

/** Whether this Node offers the handle interface (for tests and the listener's choice). */
export function rawUdpAvailable(): boolean {
  return load() !== null;
}

/** An error named like dgram's (`bind EADDRINUSE 127.0.0.1:53`) from a negative errno (libuv's or the kernel's). */
export function errnoError(syscall: string, code: number, where: string): NodeJS.ErrnoException {
  const name = getSystemErrorName(code);
  return Object.assign(new Error(`${syscall} ${name} ${where}`), { code: name, errno: code, syscall });
}

/**
 * Binds `address:port` (an IP literal; `v6` for an IPv6 one) and hands every datagram to
 * `onMessage`. Null when the raw interface is unavailable; throws the bind error otherwise.
 */
export function openRawUdp(o: {
  address: string;
  port: number;
  v6: boolean;
  recvBufferBytes: number;
  onMessage: (msg: Buffer, port: number, address: string) => void;
  onError: (err: Error) => void;
}): RawUdpSocket | null {
  const w = load();
  if (w === null) return null;
  const h = new w.UDP();
  const where = `${o.address}:${o.port}`;
  const bindErr = o.v6 ? h.bind6(o.address, o.port, 0) : h.bind(o.address, o.port, 0);
  if (bindErr !== 0) {
    h.close();
    throw errnoError("bind", bindErr, where);
  }
  const ctx: Record<string, unknown> = {};
  if (h.bufferSize(o.recvBufferBytes, true, ctx) === undefined) {
    // The kernel keeps its own cap (net.core.rmem_max); a failure here is not fatal, as with dgram's option.
    o.onError(new Error(`setting the receive buffer of ${where}: ${JSON.stringify(ctx)}`));
  }
  const name: { port?: number } = {};
  h.getsockname(name);
  const { onMessage, onError } = o;
  h.onmessage = (nread, _handle, buf, rinfo) => {
    if (nread < 0 || buf === undefined) {
      onError(errnoError("recvmsg", nread, where));
      return;
    }
    onMessage(buf, rinfo.port, rinfo.address);
  };
  const startErr = h.recvStart();
  if (startErr !== 0) {
    h.close();
    throw errnoError("recvStart", startErr, where);
  }
  const SendWrap = w.SendWrap;
  /** A send the kernel took at once leaves the request unused: reuse it until one is queued. */
  let req = new SendWrap();
  const list: Buffer[] = [];
  let closed = false;
  const send = o.v6 ? h.send6.bind(h) : h.send.bind(h);
  return {
    port: name.port ?? o.port,
    send(buf, port, address) {
      if (closed) return;
      list[0] = buf;
      const r = send(req, list, 1, port, address, false);
      if (r === 0) {
        // Queued (EAGAIN): the request and the buffer stay referenced until libuv sends it.
        req.list = [buf];
        req = new SendWrap();
      } else if (r < 0) onError(errnoError("send", r, `${address}:${port}`));
    },
    close() {
      if (closed) return Promise.resolve();
      closed = true;
      h.recvStop();
      h.onmessage = null;
      return new Promise<void>((resolve) => h.close(resolve));
    },
  };
}
