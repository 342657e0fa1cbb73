import { Envelope } from "@dcnet/proto";

/**
 * A hand-rolled encoder for dcnet.core.v1.Envelope on the publish hot path.
 * The bytes are ordinary protobuf (any decoder reads them; the tests check
 * against the generated codec): the fields that never change for a sender
 * (cluster id, sender, algorithm) are encoded once, and the signature is
 * always written last so a receiver can find it without decoding.
 */

const TAG_SENT_AT = 0x18; // field 3, varint
const TAG_PAYLOAD = 0x22; // field 4, length-delimited
const TAG_SIGNATURE = 0x32; // field 6, length-delimited

function varintLength(n: number): number {
  let len = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    len++;
  }
  return len;
}

function writeVarint(buf: Buffer, pos: number, n: number): number {
  while (n >= 0x80) {
    buf[pos++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[pos++] = n;
  return pos;
}

/** The constant head of every envelope one sender writes. */
export function envelopeHead(clusterId: string, sender: string, algorithm: string): Buffer {
  return Buffer.from(
    Envelope.encode({ clusterId, sender, algorithm, sentAtMs: 0, payload: Buffer.alloc(0), signature: Buffer.alloc(0) }).finish(),
  );
}

export function encodeEnvelope(head: Buffer, sentAtMs: number, payload: Uint8Array, signature: Uint8Array): Buffer {
  const size =
    head.length +
    1 +
    varintLength(sentAtMs) +
    1 +
    varintLength(payload.length) +
    payload.length +
    1 +
    varintLength(signature.length) +
    signature.length;
  const buf = Buffer.allocUnsafe(size);
  let pos = head.copy(buf, 0);
  buf[pos++] = TAG_SENT_AT;
  pos = writeVarint(buf, pos, sentAtMs);
  buf[pos++] = TAG_PAYLOAD;
  pos = writeVarint(buf, pos, payload.length);
  buf.set(payload, pos);
  pos += payload.length;
  buf[pos++] = TAG_SIGNATURE;
  pos = writeVarint(buf, pos, signature.length);
  buf.set(signature, pos);
  return buf;
}

/**
 * A lookup key from the trailing 32-byte signature field (48 of its bits), if
 * the envelope ends with one, as ours do. Only a hint: a cache hit must still
 * match the whole message byte for byte.
 */
export function signatureHint(data: Uint8Array): number | undefined {
  const n = data.length;
  if (n < 34 || data[n - 34] !== TAG_SIGNATURE || data[n - 33] !== 32) return undefined;
  let hint = 0;
  for (let i = n - 32; i < n - 26; i++) hint = hint * 256 + data[i]!;
  return hint;
}
