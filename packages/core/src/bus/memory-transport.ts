import { ConflictError } from "../errors";
import { subjectMatches, type RawKv, type RawKvChange, type RawKvEntry, type RawMessage, type Transport } from "./transport";

/**
 * The in-process twin of the NATS transport: one hub is the "server", every
 * node of an embedded cluster gets its own transport on it. Deliveries are
 * asynchronous and in order, as over a network connection.
 */
export interface MemoryHub {
  transport(): Transport;
}

interface Bucket {
  seq: number;
  entries: Map<string, RawKvEntry>;
  watchers: Set<(change: RawKvChange) => void>;
}

export function createMemoryHub(): MemoryHub {
  const subscribers = new Set<{ filter: string; handler: (msg: RawMessage) => void }>();
  const buckets = new Map<string, Bucket>();

  const bucketOf = (name: string): Bucket => {
    let b = buckets.get(name);
    if (!b) {
      b = { seq: 0, entries: new Map(), watchers: new Set() };
      buckets.set(name, b);
    }
    return b;
  };

  const notify = (b: Bucket, change: RawKvChange): void => {
    for (const w of b.watchers) setImmediate(() => w(change));
  };

  const write = (b: Bucket, key: string, data: Uint8Array): number => {
    const entry: RawKvEntry = { key, data: Uint8Array.from(data), revision: ++b.seq };
    b.entries.set(key, entry);
    notify(b, { op: "put", entry });
    return entry.revision;
  };

  /** A bucket as one transport sees it: like a closed NATS connection, a closed transport neither reads, writes nor watches. */
  const rawKv = (b: Bucket, isOpen: () => boolean): RawKv => {
    const open = (): void => {
      if (!isOpen()) throw new Error("bus is closed");
    };
    return {
      get: async (key) => (open(), b.entries.get(key)),
      put: async (key, data) => (open(), write(b, key, data)),
      create: async (key, data) => {
        open();
        if (b.entries.has(key)) throw new ConflictError(key, 0);
        return write(b, key, data);
      },
      update: async (key, data, expected) => {
        open();
        if (b.entries.get(key)?.revision !== expected) throw new ConflictError(key, expected);
        return write(b, key, data);
      },
      delete: async (key, expected) => {
        open();
        if (expected !== undefined && b.entries.get(key)?.revision !== expected) throw new ConflictError(key, expected);
        if (!b.entries.delete(key)) return;
        notify(b, { op: "delete", key, revision: ++b.seq });
      },
      keys: async (filter) => (open(), [...b.entries.keys()].filter((k) => subjectMatches(filter, k))),
      watch: (filter, initial, onChange) => {
        let stopped = false;
        const watcher = (change: RawKvChange): void => {
          const key = change.op === "put" ? change.entry.key : change.key;
          if (!stopped && isOpen() && subjectMatches(filter, key)) onChange(change);
        };
        const snapshot = initial ? [...b.entries.values()].filter((e) => subjectMatches(filter, e.key)) : [];
        b.watchers.add(watcher);
        const ready = new Promise<void>((resolve) =>
          setImmediate(() => {
            for (const entry of snapshot) if (!stopped && isOpen()) onChange({ op: "put", entry });
            resolve();
          }),
        );
        return {
          ready,
          stop: () => {
            stopped = true;
            b.watchers.delete(watcher);
          },
        };
      },
    };
  };

  return {
    transport(): Transport {
      let open = true;
      const mine = new Set<{ filter: string; handler: (msg: RawMessage) => void }>();
      return {
        kind: "memory",
        isConnected: () => open,
        publish: async (subject, data) => {
          if (!open) throw new Error("bus is closed");
          const msg: RawMessage = { subject, data: Uint8Array.from(data) };
          for (const s of subscribers) if (subjectMatches(s.filter, subject)) setImmediate(() => s.handler(msg));
        },
        subscribe: (filter, handler) => {
          const sub = { filter, handler: (m: RawMessage) => open && subscribers.has(sub) && handler(m) };
          subscribers.add(sub);
          mine.add(sub);
          return {
            unsubscribe: () => {
              subscribers.delete(sub);
              mine.delete(sub);
            },
          };
        },
        kv: async (bucket) => rawKv(bucketOf(bucket), () => open),
        flush: () => new Promise((resolve) => setImmediate(resolve)),
        close: async () => {
          open = false;
          for (const s of mine) subscribers.delete(s);
          mine.clear();
        },
      };
    },
  };
}
