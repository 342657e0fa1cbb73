import { createHmac, timingSafeEqual } from "node:crypto";
import { Envelope } from "@dcnet/proto";

/** What a signature covers besides the payload: where the message was put and by whom. */
export interface SigningContext {
  readonly clusterId: string;
  /** "event" or "kv". */
  readonly kind: "event" | "kv";
  /** Subject (events) or `bucket/key` (KV values), relative to the cluster namespace. */
  readonly place: string;
}

export const ALGORITHM = "hmac-sha256";

export type RejectReason = "malformed" | "unsigned" | "foreign_cluster" | "bad_signature" | "unknown_algorithm";

export class Rejected extends Error {
  constructor(readonly reason: RejectReason) {
    super(`bus message rejected: ${reason}`);
  }
}

/**
 * Signs and checks envelopes with the cluster key (HMAC-SHA256). The signing
 * input is `dcnet-v1`, cluster id, kind, place, sender and time joined by
 * newlines (none of them may hold one), then the payload bytes.
 */
export class Signer {
  private readonly key: Buffer;

  constructor(
    readonly clusterId: string,
    key: string | Uint8Array,
    readonly nodeId: string,
  ) {
    this.key = Buffer.from(key);
    if (this.key.length < 16) throw new Error("cluster key must be at least 16 bytes");
  }

  private mac(ctx: SigningContext, sender: string, sentAtMs: number, payload: Uint8Array): Buffer {
    const h = createHmac("sha256", this.key);
    h.update(`dcnet-v1\n${ctx.clusterId}\n${ctx.kind}\n${ctx.place}\n${sender}\n${sentAtMs}\n`);
    h.update(payload);
    return h.digest();
  }

  seal(kind: SigningContext["kind"], place: string, payload: Uint8Array, now = Date.now()): Uint8Array {
    const ctx = { clusterId: this.clusterId, kind, place };
    return Envelope.encode({
      clusterId: this.clusterId,
      sender: this.nodeId,
      sentAtMs: now,
      payload: Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength),
      algorithm: ALGORITHM,
      signature: this.mac(ctx, this.nodeId, now, payload),
    }).finish();
  }

  /** Returns the verified envelope, or throws Rejected with the reason. */
  open(kind: SigningContext["kind"], place: string, data: Uint8Array): Envelope {
    let env: Envelope;
    try {
      env = Envelope.decode(data);
    } catch {
      throw new Rejected("malformed");
    }
    if (env.signature.length === 0) throw new Rejected("unsigned");
    if (env.clusterId !== this.clusterId) throw new Rejected("foreign_cluster");
    if (env.algorithm !== ALGORITHM) throw new Rejected("unknown_algorithm");
    if (env.sender.includes("\n")) throw new Rejected("malformed");
    const expected = this.mac({ clusterId: this.clusterId, kind, place }, env.sender, env.sentAtMs, env.payload);
    const got = Buffer.from(env.signature);
    if (got.length !== expected.length || !timingSafeEqual(got, expected)) throw new Rejected("bad_signature");
    return env;
  }
}
