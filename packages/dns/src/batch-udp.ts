/**
 * The DNS listener's batched UDP socket: `native/udp_batch.c`, a small Node-API module, takes up to
 * `batch` datagrams per recvmmsg(2) into one buffer, runs {@link BatchUdpOptions.answer} for each
 * of them in one JavaScript call, and sends the synchronous replies with one sendmmsg(2).
 *
 * Why it exists: on Node 20 every datagram received through `udp_wrap` (dgram or raw-udp.ts) gets
 * an ArrayBuffer of its own and a JavaScript callback of its own; the young-generation collections
 * that free those buffers and the per-datagram crossings were what kept Mesos-DNS and dcos-dns
 * below dnsmasq (services/mesos-dns/README.md, Benchmark). Here the receive buffers are reused, a
 * query costs one small pooled Buffer (the copy handed to the handler), and the syscalls are shared
 * by the batch. The DNS logic stays in TypeScript; the C file only moves bytes.
 *
 * - Replies that are promises (forwarded queries) are sent when they settle, with sendto(2) to a
 *   copy of the sender's address; so are replies larger than an output slot.
 * - A datagram larger than an input slot (4096 bytes; DNS queries are far smaller) is dropped and
 *   counted in `stats().cut`.
 * - A reply the kernel does not take at once (send buffer full) is dropped and counted in
 *   `stats().sendFailures`: UDP DNS clients retry, and queueing would only grow memory under flood.
 * - {@link openBatchUdp} returns null when the module is not built or cannot load; the listener then
 *   uses raw-udp.ts. `batchUdpUnavailable()` says why.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { errnoError } from "./raw-udp";

interface NativeUdp {
  maxBatch: number;
  /** [fd, bound port], or [-errno, the call that failed]. */
  open(family: 4 | 6, address: string, port: number, rcvbuf: number): [number, number | string];
  start(
    fd: number,
    inBuf: Buffer,
    outBuf: Buffer,
    meta: Int32Array,
    addrs: Buffer,
    batch: number,
    inSlot: number,
    outSlot: number,
    onBatch: (count: number) => void,
    onError: (errno: number, syscall: string) => void,
  ): object;
  sendTo(handle: object, buf: Uint8Array, peer: Uint8Array): number;
  stop(handle: object, done: () => void): void;
  closeFd(fd: number): void;
}

/** Where `npm run build` puts the module (native/build.mjs), relative to dist/. */
const MODULE_PATH = join(__dirname, "..", "native", "build", "udp_batch.node");
const IN_SLOT = 4096;
const OUT_SLOT = 4096;
/** Bytes per sender address slot (struct sockaddr_in6). */
const PEER = 28;
export const DEFAULT_UDP_BATCH = 64;

let native: NativeUdp | null | undefined;
let unavailable: string | undefined;

function load(): NativeUdp | null {
  if (native !== undefined) return native;
  native = null;
  if (!existsSync(MODULE_PATH)) unavailable = `${MODULE_PATH} is not built (npm run build builds it with the C compiler)`;
  else {
    try {
      const mod = { exports: {} };
      process.dlopen(mod, MODULE_PATH);
      native = mod.exports as NativeUdp;
    } catch (err) {
      unavailable = `${MODULE_PATH} does not load: ${(err as Error).message}`;
    }
  }
  return native;
}

/** Why the batched path cannot be used here, or undefined when it can. */
export function batchUdpUnavailable(): string | undefined {
  load();
  return unavailable;
}

export interface BatchUdpOptions {
  address: string;
  port: number;
  v6: boolean;
  recvBufferBytes: number;
  /** Datagrams per recvmmsg (default 64, at most the module's maxBatch). */
  batch?: number;
  /**
   * The reply to one datagram (null: none). `msg` is the caller's to keep. A throw is the caller's
   * bug: catch inside. A rejected promise goes to onHandlerError.
   */
  answer: (msg: Buffer) => Buffer | null | Promise<Buffer | null>;
  onHandlerError: (err: unknown) => void;
  /** Socket errors (receive, send); they are not fatal. */
  onError: (err: Error) => void;
}

export interface BatchUdpStats {
  /** recvmmsg calls that returned datagrams. */
  batches: number;
  datagrams: number;
  /** Replies the kernel refused (send buffer full, unreachable). */
  sendFailures: number;
  /** Datagrams larger than an input slot, dropped. */
  cut: number;
}

export interface BatchUdpSocket {
  readonly port: number;
  stats(): BatchUdpStats;
  close(): Promise<void>;
}

/** Binds `address:port` (an IP literal); null when the module is unavailable; throws bind errors. */
export function openBatchUdp(o: BatchUdpOptions): BatchUdpSocket | null {
  const n = load();
  if (n === null) return null;
  const batch = Math.max(1, Math.min(o.batch ?? DEFAULT_UDP_BATCH, n.maxBatch));
  const where = `${o.address}:${o.port}`;
  const [fd, portOrCall] = n.open(o.v6 ? 6 : 4, o.address, o.port, o.recvBufferBytes);
  if (fd < 0) throw errnoError(String(portOrCall), fd, where);
  const port = Number(portOrCall);
  const inBuf = Buffer.alloc(batch * IN_SLOT);
  const outBuf = Buffer.alloc(batch * OUT_SLOT);
  const meta = new Int32Array(2 * batch + 4);
  const addrs = Buffer.alloc(batch * PEER);
  const { answer, onHandlerError, onError } = o;
  let closed = false;
  let handle: object | null = null;

  const sendOne = (buf: Buffer, peer: Uint8Array): void => {
    if (closed || handle === null) return;
    const rc = n.sendTo(handle, buf, peer);
    if (rc < 0) {
      meta[2 * batch]!++;
      onError(errnoError("sendto", rc, where));
    }
  };

  const onBatch = (count: number): void => {
    for (let i = 0; i < count; i++) {
      const len = meta[i]!;
      if (len < 0) continue;
      const off = i * IN_SLOT;
      const msg = Buffer.allocUnsafe(len);
      inBuf.copy(msg, 0, off, off + len);
      const r = answer(msg);
      if (r === null) continue;
      if (r instanceof Promise) {
        const peer = Buffer.from(addrs.subarray(i * PEER, (i + 1) * PEER));
        r.then((reply) => {
          if (reply !== null) sendOne(reply, peer);
        }, onHandlerError);
      } else if (r.length <= OUT_SLOT) {
        r.copy(outBuf, i * OUT_SLOT);
        meta[batch + i] = r.length;
      } else sendOne(r, addrs.subarray(i * PEER, (i + 1) * PEER));
    }
  };

  try {
    handle = n.start(fd, inBuf, outBuf, meta, addrs, batch, IN_SLOT, OUT_SLOT, onBatch, (errno, syscall) =>
      onError(errnoError(syscall, errno, where)),
    );
  } catch (err) {
    n.closeFd(fd);
    throw err;
  }
  const h = handle;
  return {
    port,
    stats: () => ({
      sendFailures: meta[2 * batch]!,
      cut: meta[2 * batch + 1]!,
      batches: meta[2 * batch + 2]!,
      datagrams: meta[2 * batch + 3]!,
    }),
    close() {
      if (closed) return Promise.resolve();
      closed = true;
      return new Promise<void>((resolve) => n.stop(h, resolve));
    },
  };
}
