/**
 * The raw transport under the bus: bytes in, bytes out, no cluster scoping and
 * no signatures. The signing layer (signed-bus.ts) adds both, once, for every
 * transport. Names given to a transport are already namespaced.
 */

export interface RawMessage {
  readonly subject: string;
  readonly data: Uint8Array;
}

export interface RawKvEntry {
  readonly key: string;
  readonly data: Uint8Array;
  readonly revision: number;
}

export type RawKvChange =
  { readonly op: "put"; readonly entry: RawKvEntry } | { readonly op: "delete"; readonly key: string; readonly revision: number };

export interface RawKv {
  get(key: string): Promise<RawKvEntry | undefined>;
  put(key: string, data: Uint8Array): Promise<number>;
  create(key: string, data: Uint8Array): Promise<number>;
  update(key: string, data: Uint8Array, expectedRevision: number): Promise<number>;
  /** With `expectedRevision`: only if the key is at that revision (ConflictError otherwise). */
  delete(key: string, expectedRevision?: number): Promise<void>;
  keys(filter: string): Promise<string[]>;
  watch(filter: string, initial: boolean, onChange: (change: RawKvChange) => void): { ready: Promise<void>; stop(): void };
}

export interface Transport {
  readonly kind: string;
  isConnected(): boolean;
  publish(subject: string, data: Uint8Array): Promise<void>;
  subscribe(subject: string, handler: (msg: RawMessage) => void): { unsubscribe(): void };
  kv(bucket: string): Promise<RawKv>;
  flush(): Promise<void>;
  close(): Promise<void>;
}

/** NATS subject matching: `*` matches one token, `>` one or more trailing tokens. */
export function subjectMatches(filter: string, subject: string): boolean {
  if (filter === ">") return subject.length > 0;
  const f = filter.split(".");
  const s = subject.split(".");
  for (let i = 0; i < f.length; i++) {
    const tok = f[i];
    if (tok === ">") return s.length > i;
    if (i >= s.length) return false;
    if (tok !== "*" && tok !== s[i]) return false;
  }
  return f.length === s.length;
}
