/**
 * Copies bytes between two connected TCP sockets below Node's stream layer: each socket's handle
 * reads straight into a callback that hands the bytes to the other handle's `writeBuffer`, the way
 * `net` itself drives the handles, without a Readable push, a `data` event and a Writable write per
 * chunk. Measured on the 2-core bench machine (proxy CPU per keep-alive HTTP request, wrk -c50):
 * HAProxy `mode tcp` 23–29 µs, this 30–33 µs, `pipe()`/stream events 41–50 µs.
 *
 * It relies on the stream-handle interface Node's own `net` uses (`process.binding("stream_wrap")`:
 * `streamBaseState`, `WriteWrap`; handle `onread`, `readStart`, `readStop`, `writeBuffer`). Those
 * are not public API, so {@link rawCopyAvailable} checks them once and the proxy keeps its stream
 * path (tcp.ts) for a Node where they differ.
 *
 * Semantics are the stream path's: backpressure (a write the kernel did not take at once stops
 * reading from the other side until it completes), half-close (an EOF is passed on as `end()`, a
 * shutdown after the writes already queued), and a read or write error resets the other side. Both
 * sockets are destroyed when both directions have ended and nothing is left to write; the sockets'
 * own `close` events still fire, so accounting stays where it is.
 */
import type * as net from "node:net";
import { nodeBinding } from "@dcnet/core";

/** libuv's UV_EOF (the same value on every platform). */
const UV_EOF = -4095;

interface WriteReq {
  handle: RawHandle;
  oncomplete: (this: WriteReq, status: number) => void;
  async: boolean;
  buffer: Buffer | undefined;
  side: Side | undefined;
}

interface StreamWrap {
  streamBaseState: Int32Array;
  kReadBytesOrError: number;
  kArrayBufferOffset: number;
  kLastWriteWasAsync: number;
  WriteWrap: new () => WriteReq;
}

interface RawHandle {
  onread: ((this: RawHandle, buf: ArrayBuffer | undefined) => void) | null;
  /** Reads go into this buffer (from its start) instead of a new allocation per read. */
  useUserBuffer?(buf: Uint8Array): void;
  readStart(): number;
  readStop(): number;
  writeBuffer(req: WriteReq, data: Buffer): number;
  [SIDE]?: Side;
}

const SIDE = Symbol("l4lb.raw-copy.side");

/** One socket of a copied pair. */
class Side {
  peer!: Side;
  /** EOF read from this socket. */
  eof = false;
  /** Writes to this socket the kernel has not taken yet. */
  pending = 0;
  /** Reading from this socket stopped until the peer's pending writes complete. */
  stopped = false;
  done = false;
  /** A write request to reuse: one the kernel took whole is not kept by Node, so it is free again. */
  spare: WriteReq | undefined = undefined;
  constructor(
    readonly socket: net.Socket,
    readonly handle: RawHandle,
    /** This socket's reads land here (undefined: Node allocates a buffer per read). */
    public buf: Buffer | undefined,
  ) {}
  /**
   * The last view of `buf` handed to a write, reused while reads keep their length (request and
   * reply sizes repeat on a keep-alive connection): no Buffer object per read. Safe for the reason
   * `buf` is: a view is only written again after the write before it completed.
   */
  view: Buffer | undefined = undefined;
  /** The socket has emitted `close` (its handle is gone). */
  closed = false;
}

/**
 * Bytes each socket reads at most at once into its own buffer. Node's default read allocates 64 KiB,
 * shrinks it to what was read (a copy) and wraps it in a new ArrayBuffer, per read; a buffer of its
 * own per socket costs that memory for the connection's life instead (2 × 16 KiB a connection, what
 * HAProxy's default `tune.bufsize` takes per side) and no allocation per read. It is safe to reuse:
 * a write the kernel did not take whole stops reading on the side the bytes came from until it
 * completes, so a buffer is never read into while a write from it is pending.
 */
export const READ_BUFFER_BYTES = 16 * 1024;

/**
 * Read buffers of closed connections, for the next ones (a malloc and an ArrayBuffer less per
 * socket, and no external-memory growth nudging V8 into GCs at high connection rates). A pair's
 * two buffers come back only when both of its sockets have closed: until then a write to one may
 * still be sending bytes that sit in the other's buffer. At most 512 kept (8 MiB).
 */
const spareBuffers: Buffer[] = [];
const MAX_SPARE_BUFFERS = 512;

/** Read buffers waiting for reuse (for tests and metrics). */
export const spareReadBuffers = (): number => spareBuffers.length;

const takeBuffer = (): Buffer => spareBuffers.pop() ?? Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);

/**
 * Call on a copied socket's `close`: once both sockets of its pair have closed, their read buffers
 * go back for reuse. A socket that was never copied is ignored.
 */
export function releaseRawCopy(socket: net.Socket): void {
  const side = (socket as unknown as { [SIDE]?: Side })[SIDE];
  if (side === undefined || side.closed) return;
  side.closed = true;
  if (!side.peer.closed) return;
  for (const s of [side, side.peer]) {
    if (s.buf !== undefined && spareBuffers.length < MAX_SPARE_BUFFERS) spareBuffers.push(s.buf);
    s.buf = undefined;
    s.view = undefined;
  }
}

let binding: StreamWrap | null = null;

function load(): StreamWrap | null {
  binding = nodeBinding<StreamWrap>(
    "stream_wrap",
    (b) =>
      b.streamBaseState instanceof Int32Array &&
      typeof b.kReadBytesOrError === "number" &&
      typeof b.kArrayBufferOffset === "number" &&
      typeof b.kLastWriteWasAsync === "number" &&
      typeof b.WriteWrap === "function",
  );
  return binding;
}

/** Whether this Node offers the handle interface the raw copy needs. */
export function rawCopyAvailable(): boolean {
  return load() !== null;
}

function handleOf(s: net.Socket): RawHandle | null {
  const h = (s as unknown as { _handle: RawHandle | null })._handle;
  return h !== null && typeof h.writeBuffer === "function" && typeof h.readStart === "function" ? h : null;
}

/**
 * Starts copying between `a` and `b`, both connected and neither read by `net` yet (the client
 * accepted with `pauseOnConnect`, the backend `pause()`d in its `connect` handler). Returns false,
 * touching nothing, when the raw interface is unavailable or a socket has no stream handle.
 */
export function startRawCopy(a: net.Socket, b: net.Socket, options: { readBuffer?: boolean } = {}): boolean {
  const w = load();
  const ha = handleOf(a);
  const hb = handleOf(b);
  if (w === null || ha === null || hb === null) return false;
  const own = options.readBuffer !== false && typeof ha.useUserBuffer === "function" && typeof hb.useUserBuffer === "function";
  const sa = new Side(a, ha, own ? takeBuffer() : undefined);
  const sb = new Side(b, hb, own ? takeBuffer() : undefined);
  (a as unknown as { [SIDE]?: Side })[SIDE] = sa;
  (b as unknown as { [SIDE]?: Side })[SIDE] = sb;
  if (sa.buf !== undefined && sb.buf !== undefined) {
    ha.useUserBuffer!(sa.buf);
    hb.useUserBuffer!(sb.buf);
  }
  sa.peer = sb;
  sb.peer = sa;
  ha[SIDE] = sa;
  hb[SIDE] = sb;
  ha.onread = onRead;
  hb.onread = onRead;
  if (ha.readStart() !== 0 || hb.readStart() !== 0) {
    fail(sa);
    return true;
  }
  return true;
}

function onRead(this: RawHandle, ab: ArrayBuffer | undefined): void {
  const w = binding!;
  const side = this[SIDE]!;
  if (side.done) return;
  const n = w.streamBaseState[w.kReadBytesOrError]!;
  if (n > 0) {
    const buf = side.buf;
    if (buf !== undefined) {
      let view = side.view;
      if (view === undefined || view.length !== n) side.view = view = buf.subarray(0, n);
      write(w, side.peer, view, side);
    } else if (ab !== undefined) write(w, side.peer, Buffer.from(ab, w.streamBaseState[w.kArrayBufferOffset]!, n), side);
    return;
  }
  if (n === 0) return;
  if (n === UV_EOF) {
    side.eof = true;
    this.readStop();
    const peer = side.peer;
    if (!peer.socket.destroyed) peer.socket.end();
    maybeClose(side);
    return;
  }
  fail(side);
}

function write(w: StreamWrap, to: Side, data: Buffer, from: Side): void {
  if (to.done) return;
  let req = to.spare;
  if (req === undefined) {
    req = new w.WriteWrap();
    req.handle = to.handle;
    req.oncomplete = afterWrite;
    req.async = false;
    req.buffer = undefined;
    req.side = to;
    to.spare = req;
  }
  const err = to.handle.writeBuffer(req, data);
  if (err !== 0) {
    fail(to);
    return;
  }
  if (w.streamBaseState[w.kLastWriteWasAsync] !== 0) {
    // Node holds this request until the write completes: the next write needs a new one.
    to.spare = undefined;
    req.async = true;
    req.buffer = data;
    to.pending++;
    if (!from.stopped && !from.eof) {
      from.stopped = true;
      from.handle.readStop();
    }
  }
}

function afterWrite(this: WriteReq, status: number): void {
  const to = this.side!;
  this.buffer = undefined;
  to.pending--;
  if (to.done) return;
  if (status < 0) {
    fail(to);
    return;
  }
  if (to.pending === 0) {
    const from = to.peer;
    if (from.stopped && !from.eof) {
      from.stopped = false;
      from.handle.readStart();
    }
    maybeClose(to);
  }
}

/** Both directions ended and nothing left to write: close both sockets. */
function maybeClose(side: Side): void {
  const peer = side.peer;
  if (side.eof && peer.eof && side.pending === 0 && peer.pending === 0) {
    side.done = peer.done = true;
    side.socket.destroy();
    peer.socket.destroy();
  }
}

/** An error on `side` (read or write): reset the other socket, close this one. */
function fail(side: Side): void {
  const peer = side.peer;
  if (side.done) return;
  side.done = peer.done = true;
  side.socket.destroy();
  if (!peer.socket.destroyed) peer.socket.resetAndDestroy();
}
