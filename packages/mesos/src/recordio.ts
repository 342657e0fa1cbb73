/**
 * RecordIO, the framing of Mesos streaming responses: `<decimal byte length>\n<bytes>` repeated.
 * As dcos-net: a length prefix longer than 12 bytes without its newline is a protocol error.
 */

export class RecordIoError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RecordIoError";
  }
}

const MAX_PREFIX = 12;

export class RecordIoDecoder {
  /** Received bytes not yet consumed (kept as chunks while a long record is incomplete). */
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Length of the record being read, once its prefix is parsed. */
  private need: number | undefined;

  /** Feeds bytes; returns the records completed by them (UTF-8 text). Throws {@link RecordIoError}. */
  push(data: Uint8Array): string[] {
    if (data.length > 0) {
      this.chunks.push(Buffer.from(data.buffer, data.byteOffset, data.length));
      this.buffered += data.length;
    }
    const out: string[] = [];
    for (;;) {
      if (this.need === undefined) {
        const buf = this.flat();
        const nl = buf.indexOf(0x0a);
        if (nl < 0) {
          if (buf.length > MAX_PREFIX) throw new RecordIoError(`RecordIO: no newline within ${MAX_PREFIX} bytes of a length prefix`);
          return out;
        }
        const prefix = buf.subarray(0, nl).toString("latin1");
        if (!/^\d+$/.test(prefix)) throw new RecordIoError(`RecordIO: bad length prefix ${JSON.stringify(prefix)}`);
        this.need = Number(prefix);
        this.set(buf.subarray(nl + 1));
      }
      if (this.buffered < this.need) return out;
      const buf = this.flat();
      out.push(buf.subarray(0, this.need).toString("utf8"));
      this.set(buf.subarray(this.need));
      this.need = undefined;
    }
  }

  /** Bytes received but not yet returned as a record. */
  pending(): number {
    return this.buffered;
  }

  private flat(): Buffer {
    if (this.chunks.length !== 1) this.set(Buffer.concat(this.chunks, this.buffered));
    return this.chunks[0]!;
  }

  private set(buf: Buffer): void {
    this.chunks = [buf];
    this.buffered = buf.length;
  }
}
