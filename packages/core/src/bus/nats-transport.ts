import { connect, KvWatchInclude, type KV, type NatsConnection, type ConnectionOptions, type KvEntry as NatsKvEntry } from "nats";
import { ConflictError } from "../errors";
import type { RawKv, RawKvChange, RawKvEntry, Transport } from "./transport";

export interface NatsTransportOptions {
  /** NATS server URLs (`nats://host:4222`); list every server of the cluster. */
  servers: string[];
  /** Connection name shown by the server (monitoring). */
  name: string;
  /** JetStream KV replicas for buckets this node creates. */
  replicas: number;
  /** How long to keep retrying the first connection, in ms (servers may still be starting). */
  connectTimeoutMs?: number;
  /** Optional hook so callers can log reconnects. */
  onStatus?: (status: string, detail: string) => void;
}

const isConflict = (err: unknown): boolean => err instanceof Error && /wrong last sequence|key exists/i.test(err.message);

/** "No stream leader answered": the request was not applied, so any request may be retried. */
const isUnanswered = (err: unknown): boolean => {
  const code = (err as { code?: unknown }).code;
  return (
    code === "503" ||
    (err instanceof Error && /no responders|temporarily unavailable|no suitable peers|stream not found/i.test(err.message))
  );
};

/** A timeout: the request may or may not have been applied, so only idempotent requests are retried. */
const isTimeout = (err: unknown): boolean => {
  const code = (err as { code?: unknown }).code;
  return code === "TIMEOUT" || (err instanceof Error && /timeout/i.test(err.message));
};

/**
 * Runs a JetStream request, retrying transient failures for up to `budgetMs`
 * (a new R3 bucket needs a moment to elect its leader; a lost server causes
 * re-elections for 10–30 s). Compare-and-set requests pass `idempotent: false`:
 * after a timeout they must not be repeated (the first may have been applied,
 * and a retry would report a conflict with our own write).
 */
export async function retryTransient<T>(fn: () => Promise<T>, opts: { budgetMs?: number; idempotent?: boolean } = {}): Promise<T> {
  const deadline = Date.now() + (opts.budgetMs ?? 30_000);
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const retry = isUnanswered(err) || (opts.idempotent !== false && isTimeout(err));
      if (!retry || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, Math.min(50 * 2 ** attempt, 1000)));
    }
  }
}

const RESOLVED: Promise<void> = Promise.resolve();

function toRaw(e: NatsKvEntry): RawKvEntry {
  return { key: e.key, data: e.value, revision: e.revision };
}

/** The NATS implementation: core subjects for events, JetStream KV buckets for state. */
export async function createNatsTransport(opts: NatsTransportOptions): Promise<Transport> {
  const deadline = Date.now() + (opts.connectTimeoutMs ?? 30_000);
  const connOpts: ConnectionOptions = {
    servers: opts.servers,
    name: opts.name,
    reconnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    pingInterval: 5_000,
    maxPingOut: 2,
  };
  let nc: NatsConnection | undefined;
  for (;;) {
    try {
      nc = await connect(connOpts);
      break;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  const conn = nc;
  let connected = true;
  void (async () => {
    for await (const s of conn.status()) {
      if (s.type === "disconnect") connected = false;
      if (s.type === "reconnect") connected = true;
      opts.onStatus?.(s.type, String(s.data));
    }
  })();
  // Short request timeout, so retries fit while JetStream re-elects after a lost server.
  const js = conn.jetstream({ timeout: 3_000 });
  const kvs = new Map<string, Promise<KV>>();

  const openKv = async (bucket: string): Promise<KV> => {
    // Creating a bucket races with other nodes doing the same, and JetStream's
    // meta leader may still be settling (cluster just formed, or a server lost).
    for (let attempt = 0; ; attempt++) {
      try {
        // allow_direct off: reads go to the stream leader, so a get after a put
        // (from any node) sees it; direct gets may be answered by a lagging replica.
        return await js.views.kv(bucket, { replicas: opts.replicas, history: 1, allow_direct: false });
      } catch (err) {
        if (attempt >= 40) throw err;
        await new Promise((r) => setTimeout(r, 250 * Math.min(attempt + 1, 4)));
      }
    }
  };

  const rawKv = (kv: KV): RawKv => ({
    get: async (key) => {
      const e = await retryTransient(() => kv.get(key));
      return e && e.operation === "PUT" ? toRaw(e) : undefined;
    },
    put: (key, data) => retryTransient(() => kv.put(key, data)),
    create: async (key, data) => {
      try {
        return await retryTransient(() => kv.create(key, data), { idempotent: false });
      } catch (err) {
        throw isConflict(err) ? new ConflictError(key, 0, err) : err;
      }
    },
    update: async (key, data, expected) => {
      try {
        return await retryTransient(() => kv.update(key, data, expected), { idempotent: false });
      } catch (err) {
        throw isConflict(err) ? new ConflictError(key, expected, err) : err;
      }
    },
    delete: async (key, expected) => {
      if (expected === undefined) return retryTransient(() => kv.delete(key));
      try {
        return await retryTransient(() => kv.delete(key, { previousSeq: expected }), { idempotent: false });
      } catch (err) {
        throw isConflict(err) ? new ConflictError(key, expected, err) : err;
      }
    },
    // The listing's consumer is created while iterating, so the whole listing is what gets retried
    // (after a lost server, consumer creation times out for a while: seen in e2e).
    keys: (filter) =>
      retryTransient(async () => {
        const out: string[] = [];
        for await (const k of await kv.keys(filter)) out.push(k);
        return out;
      }),
    watch: (filter, initial, onChange) => {
      let stopped = false;
      let stopIter: (() => void) | undefined;
      let markReady: () => void = () => {};
      const ready = new Promise<void>((resolve) => (markReady = resolve));
      let lastRevision = 0;
      // The ordered consumer under kv.watch survives reconnects; if it still
      // ends (e.g. its stream leader was lost for long), resume after the last
      // revision seen, so no change is missed or delivered twice.
      void (async () => {
        while (!stopped) {
          try {
            const iter = await retryTransient(() =>
              kv.watch({
                key: filter,
                ...(lastRevision > 0
                  ? { resumeFromRevision: lastRevision + 1 }
                  : { include: initial ? KvWatchInclude.LastValue : KvWatchInclude.UpdatesOnly }),
                initializedFn: () => markReady(),
              }),
            );
            stopIter = () => iter.stop();
            if (stopped) iter.stop();
            if (!initial) markReady();
            for await (const e of iter) {
              if (stopped) break;
              if (e.revision <= lastRevision) continue;
              lastRevision = e.revision;
              const change: RawKvChange =
                e.operation === "PUT" ? { op: "put", entry: toRaw(e) } : { op: "delete", key: e.key, revision: e.revision };
              onChange(change);
            }
          } catch {
            /* resumed below */
          }
          if (!stopped) await new Promise((r) => setTimeout(r, 500));
        }
      })();
      return {
        ready,
        stop: () => {
          stopped = true;
          markReady();
          stopIter?.();
        },
      };
    },
  });

  return {
    kind: "nats",
    isConnected: () => connected && !conn.isClosed(),
    publish: (subject, data) => {
      try {
        conn.publish(subject, data); // buffered by the client: nothing to wait for
        return RESOLVED;
      } catch (err) {
        return Promise.reject(err);
      }
    },
    subscribe: (subject, handler) => {
      // The message itself is a RawMessage: no copy, and its subject is only decoded if read.
      const sub = conn.subscribe(subject, { callback: (err, msg) => !err && handler(msg) });
      return { unsubscribe: () => sub.unsubscribe() };
    },
    kv: async (bucket) => {
      let p = kvs.get(bucket);
      if (!p) {
        p = openKv(bucket);
        kvs.set(bucket, p);
        p.catch(() => kvs.delete(bucket));
      }
      return rawKv(await p);
    },
    flush: () => conn.flush(),
    close: async () => {
      await conn.drain().catch(() => conn.close());
    },
  };
}
