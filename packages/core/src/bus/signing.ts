import { createHmac, timingSafeEqual } from "node:crypto";
import { Envelope } from "@dcnet/proto";
import { encodeEnvelope, envelopeHead, signatureHint } from "./envelope-codec";

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

/** A message as verified: who sent it, when, and its payload (treat as read-only). */
export interface Opened {
  readonly sender: string;
  readonly sentAtMs: number;
  readonly payload: Uint8Array;
}

/**
 * Messages this process has already verified (or signed itself) under one
 * cluster key. A hit needs the same place and byte-for-byte the same message,
 * so it proves exactly what a fresh HMAC check would; it only saves the work
 * when one process holds several bus clients (embedded mode, benchmarks) or
 * hears its own messages. Bounded, oldest evicted first.
 */
class VerifiedCache {
  private readonly entries = new Map<number, { kind: string; place: string; data: Buffer; opened: Opened }>();
  constructor(private readonly capacity: number) {}

  get(hint: number, kind: string, place: string, data: Uint8Array): Opened | undefined {
    const e = this.entries.get(hint);
    if (!e || e.place !== place || e.kind !== kind || e.data.length !== data.length) return undefined;
    return e.data.equals(data) ? e.opened : undefined;
  }

  set(hint: number, kind: string, place: string, data: Buffer, opened: Opened): void {
    if (this.entries.size >= this.capacity) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.delete(hint);
    this.entries.set(hint, { kind, place, data, opened });
  }
}

const caches = new Map<string, VerifiedCache>();

export interface SignerOptions {
  /** Share verification results within the process (default true). */
  verifyCache?: boolean;
}

/**
 * Signs and checks envelopes with the cluster key (HMAC-SHA256). The signing
 * input is `dcnet-v1`, cluster id, kind, place, sender and time joined by
 * newlines (none of them may hold one), then the payload bytes.
 */
export class Signer {
  private readonly key: Buffer;
  private readonly head: Buffer;
  private readonly cache: VerifiedCache | undefined;

  constructor(
    readonly clusterId: string,
    key: string | Uint8Array,
    readonly nodeId: string,
    opts: SignerOptions = {},
  ) {
    this.key = Buffer.from(key);
    if (this.key.length < 16) throw new Error("cluster key must be at least 16 bytes");
    if (nodeId.includes("\n")) throw new Error("node id must not contain a newline");
    this.head = envelopeHead(clusterId, nodeId, ALGORITHM);
    if (opts.verifyCache ?? true) {
      const id = `${clusterId}\n${this.key.toString("base64")}`;
      let cache = caches.get(id);
      if (!cache) caches.set(id, (cache = new VerifiedCache(4096)));
      this.cache = cache;
    }
  }

  private mac(kind: SigningContext["kind"], place: string, sender: string, sentAtMs: number, payload: Uint8Array): Buffer {
    const h = createHmac("sha256", this.key);
    h.update(`dcnet-v1\n${this.clusterId}\n${kind}\n${place}\n${sender}\n${sentAtMs}\n`);
    h.update(payload);
    return h.digest();
  }

  seal(kind: SigningContext["kind"], place: string, payload: Uint8Array, now = Date.now()): Uint8Array {
    const signature = this.mac(kind, place, this.nodeId, now, payload);
    const data = encodeEnvelope(this.head, now, payload, signature);
    if (this.cache) {
      // The payload sits right before the 34-byte signature field; keep a view of our own bytes.
      const own = data.subarray(data.length - 34 - payload.length, data.length - 34);
      this.cache.set(signatureHint(data)!, kind, place, data, { sender: this.nodeId, sentAtMs: now, payload: own });
    }
    return data;
  }

  /** Returns the verified message, or throws Rejected with the reason. */
  open(kind: SigningContext["kind"], place: string, data: Uint8Array): Opened {
    const sig = this.cache && signatureHint(data);
    if (sig !== undefined) {
      const hit = this.cache!.get(sig, kind, place, data);
      if (hit) return hit;
    }
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
    const expected = this.mac(kind, place, env.sender, env.sentAtMs, env.payload);
    if (env.signature.length !== expected.length || !timingSafeEqual(env.signature, expected)) throw new Rejected("bad_signature");
    const opened: Opened = { sender: env.sender, sentAtMs: env.sentAtMs, payload: env.payload };
    if (sig !== undefined) {
      const copy = Buffer.from(data);
      const payload = copy.subarray(copy.length - 34 - env.payload.length, copy.length - 34);
      this.cache!.set(sig, kind, place, copy, { ...opened, payload });
    }
    return opened;
  }
}
