/**
 * The bus: events, replicated key-value state and membership, scoped to one
 * cluster and signed with the cluster key. Two implementations of the raw
 * transport (NATS, in-process) sit under one signing layer, so both behave alike.
 */

/** An event as delivered to a subscriber, after its signature was checked. */
export interface BusEvent {
  /** Subject relative to the cluster namespace (e.g. `membership.heartbeat`). */
  readonly subject: string;
  readonly payload: Uint8Array;
  /** Node id of the sender. */
  readonly sender: string;
  readonly sentAtMs: number;
}

export type EventHandler = (event: BusEvent) => void;

export interface Subscription {
  unsubscribe(): void;
}

export interface KvEntry {
  readonly key: string;
  readonly value: Uint8Array;
  /** Bucket-wide increasing revision of this write. */
  readonly revision: number;
  readonly sender: string;
}

export type KvChange =
  { readonly op: "put"; readonly entry: KvEntry } | { readonly op: "delete"; readonly key: string; readonly revision: number };

export interface KvWatchOptions {
  /** Key filter: exact key, or NATS-style wildcards (`a.*`, `a.>`); default all keys. */
  readonly key?: string;
  /** Deliver the current value of every matching key first (default true). */
  readonly initial?: boolean;
}

export interface KvWatch {
  /** Resolves once the initial values have been delivered. */
  readonly ready: Promise<void>;
  stop(): void;
}

export interface KvStore {
  readonly bucket: string;
  get(key: string): Promise<KvEntry | undefined>;
  /** Unconditional write; returns the new revision. */
  put(key: string, value: Uint8Array): Promise<number>;
  /** Writes only if the key does not exist; ConflictError otherwise. */
  create(key: string, value: Uint8Array): Promise<number>;
  /** Compare-and-set: writes only if the key's current revision is `expectedRevision`. */
  update(key: string, value: Uint8Array, expectedRevision: number): Promise<number>;
  /**
   * Deletes the key (nothing when it is not there). With `expectedRevision`: only if the key's
   * current revision is that one (compare-and-delete); ConflictError otherwise.
   */
  delete(key: string, expectedRevision?: number): Promise<void>;
  /** Keys currently present (optionally matching a filter as in watch). */
  keys(filter?: string): Promise<string[]>;
  watch(onChange: (change: KvChange) => void, options?: KvWatchOptions): KvWatch;
}

export interface Bus {
  readonly clusterId: string;
  readonly nodeId: string;
  /** "nats" or "memory". */
  readonly kind: string;
  isConnected(): boolean;
  publish(subject: string, payload: Uint8Array): Promise<void>;
  subscribe(subject: string, handler: EventHandler): Subscription;
  kv(bucket: string): Promise<KvStore>;
  /** Waits until everything published so far has reached the server. */
  flush(): Promise<void>;
  close(): Promise<void>;
}
