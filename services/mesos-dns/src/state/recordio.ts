/**
 * The RecordIO framing of the master's SUBSCRIBE stream: `<decimal byte length>\n<bytes>`, repeated.
 * The length is ASCII digits only (as Mesos writes it; `0x10`, ` 5`, `1e3` or an empty prefix are
 * errors, not numbers), at most 12 of them before the newline, and a record may be at most
 * `maxRecordBytes` long (default 256 MiB: a SUBSCRIBED of a large cluster is tens of MB), so a
 * corrupt or hostile prefix fails at once instead of buffering the stream until memory runs out.
 * Received bytes are kept as a list of chunks until a record is complete, so a large record (a
 * SUBSCRIBED with the whole cluster's state) is copied once, not once per chunk.
 */

export class RecordIoError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RecordIoError";
  }
}

const MAX_PREFIX = 12;
export const DEFAULT_MAX_RECORD_BYTES = 256 << 20;

export class RecordReader {
  constructor(private readonly maxRecordBytes = DEFAULT_MAX_RECORD_BYTES) {}

  private chunks: Buffer[] = [];
  private size = 0;
  /** Byte length of the record being read, once its prefix is in. */
  private need: number | undefined;

  /** Adds received bytes; returns the records they complete (UTF-8 text). Throws RecordIoError. */
  push(chunk: Buffer): string[] {
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.size += chunk.length;
    }
    const records: string[] = [];
    for (;;) {
      if (this.need === undefined) {
        const head = this.joined();
        const nl = head.indexOf(0x0a);
        if (nl < 0) {
          if (head.length > MAX_PREFIX) throw new RecordIoError(`RecordIO: no newline within ${MAX_PREFIX} bytes of a length prefix`);
          return records;
        }
        const prefix = head.toString("latin1", 0, nl);
        if (nl > MAX_PREFIX || !/^[0-9]+$/.test(prefix))
          throw new RecordIoError(`RecordIO: bad length prefix ${JSON.stringify(prefix.slice(0, 20))}`);
        const need = Number(prefix);
        if (need > this.maxRecordBytes)
          throw new RecordIoError(`RecordIO: a record of ${need} bytes is over the limit of ${this.maxRecordBytes}`);
        this.need = need;
        this.keep(head.subarray(nl + 1));
      }
      if (this.size < this.need) return records;
      const all = this.joined();
      records.push(all.toString("utf8", 0, this.need));
      this.keep(all.subarray(this.need));
      this.need = undefined;
    }
  }

  private joined(): Buffer {
    if (this.chunks.length !== 1) this.keep(Buffer.concat(this.chunks, this.size));
    return this.chunks[0]!;
  }

  private keep(buf: Buffer): void {
    this.chunks = [buf];
    this.size = buf.length;
  }
}
