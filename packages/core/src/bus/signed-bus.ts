import type { Registry } from "prom-client";
import { counter } from "../metrics";
import { checkBucket, checkClusterId, checkFilter, checkKey, checkSubject, namespace } from "./names";
import { Rejected, Signer, type RejectReason } from "./signing";
import type { RawKv, RawKvEntry, Transport } from "./transport";
import type { Bus, BusEvent, KvChange, KvEntry, KvStore } from "./types";

export interface BusOptions {
  clusterId: string;
  /** Shared secret of the cluster (≥ 16 bytes). */
  clusterKey: string | Uint8Array;
  nodeId: string;
  /** Where `dcnet_bus_rejected_total` is counted. */
  registry?: Registry;
  /**
   * Reuse signature checks of byte-identical messages within this process
   * (several bus clients in one process; default true). See signing.ts.
   */
  verifyCache?: boolean;
  /** Called for every rejected message (logging). */
  onReject?: (reason: RejectReason, kind: "event" | "kv", place: string) => void;
  /**
   * Called when a subscriber's handler or a watch callback throws (logging; default: a process
   * warning). The error goes no further: it must not end the delivery to anyone (NATS stops
   * reading the connection when a callback throws; the memory transport would crash the process).
   */
  onHandlerError?: (err: unknown, kind: "event" | "kv", place: string) => void;
}

/**
 * The bus every service uses: scopes names to the cluster, signs everything
 * written, verifies everything read, and drops (and counts) what fails.
 */
export function createBus(transport: Transport, opts: BusOptions): Bus & { rejected(): Record<string, number> } {
  const clusterId = checkClusterId(opts.clusterId);
  const signer = new Signer(clusterId, opts.clusterKey, opts.nodeId, { verifyCache: opts.verifyCache ?? true });
  const counts: Record<string, number> = {};
  const rejectedTotal = opts.registry
    ? counter(opts.registry, "dcnet_bus_rejected_total", "Bus messages and values dropped by the identity check", ["reason", "kind"])
    : undefined;
  const eventPrefix = namespace.subject(clusterId, "");
  /** Subjects already checked and scoped (the publish hot path). */
  const published = new Map<string, string>();

  const handlerFailed = (err: unknown, kind: "event" | "kv", place: string): void => {
    try {
      if (opts.onHandlerError) opts.onHandlerError(err, kind, place);
      else process.emitWarning(`bus ${kind} handler for ${place} failed: ${(err as Error)?.message ?? String(err)}`);
    } catch {
      /* the reporter failed too: nothing more to do */
    }
  };

  const reject = (reason: RejectReason, kind: "event" | "kv", place: string): void => {
    counts[reason] = (counts[reason] ?? 0) + 1;
    rejectedTotal?.inc({ reason, kind });
    opts.onReject?.(reason, kind, place);
  };

  const verifyEntry = (bucket: string, raw: RawKvEntry): KvEntry | undefined => {
    const place = `${bucket}/${raw.key}`;
    try {
      const opened = signer.open("kv", place, raw.data);
      return { key: raw.key, value: opened.payload, revision: raw.revision, sender: opened.sender };
    } catch (err) {
      if (!(err instanceof Rejected)) throw err;
      reject(err.reason, "kv", place);
      return undefined;
    }
  };

  const store = (bucket: string, raw: RawKv): KvStore => {
    const seal = (key: string, value: Uint8Array): Uint8Array => signer.seal("kv", `${bucket}/${checkKey(key)}`, value);
    return {
      bucket,
      get: async (key) => {
        const e = await raw.get(checkKey(key));
        return e && verifyEntry(bucket, e);
      },
      put: async (key, value) => raw.put(key, seal(key, value)),
      create: async (key, value) => raw.create(key, seal(key, value)),
      update: async (key, value, rev) => raw.update(key, seal(key, value), rev),
      delete: async (key, rev) => raw.delete(checkKey(key), rev),
      keys: async (filter = ">") => raw.keys(checkFilter(filter, "key")),
      watch: (onChange, options = {}) =>
        raw.watch(checkFilter(options.key ?? ">", "key"), options.initial ?? true, (c) => {
          let change: KvChange;
          if (c.op === "put") {
            const entry = verifyEntry(bucket, c.entry);
            if (!entry) return;
            change = { op: "put", entry };
          } else change = c;
          try {
            onChange(change);
          } catch (err) {
            handlerFailed(err, "kv", `${bucket}/${c.op === "delete" ? c.key : c.entry.key}`);
          }
        }),
    };
  };

  return {
    clusterId,
    nodeId: opts.nodeId,
    kind: transport.kind,
    isConnected: () => transport.isConnected(),
    publish: (subject, payload) => {
      let scoped = published.get(subject);
      if (scoped === undefined) {
        try {
          scoped = namespace.subject(clusterId, checkSubject(subject));
        } catch (err) {
          return Promise.reject(err);
        }
        if (published.size >= 10_000) published.clear();
        published.set(subject, scoped);
      }
      return transport.publish(scoped, signer.seal("event", subject, payload));
    },
    subscribe: (filter, handler) => {
      // An exact filter names the subject: no need to read (and decode) it per message.
      const exact = !/(^|\.)[*>]($|\.)/.test(checkFilter(filter)) ? filter : undefined;
      return transport.subscribe(namespace.subject(clusterId, filter), (msg) => {
        const subject = exact ?? (msg.subject.startsWith(eventPrefix) ? msg.subject.slice(eventPrefix.length) : msg.subject);
        let event: BusEvent;
        try {
          const opened = signer.open("event", subject, msg.data);
          event = { subject, payload: opened.payload, sender: opened.sender, sentAtMs: opened.sentAtMs };
        } catch (err) {
          if (!(err instanceof Rejected)) throw err;
          return reject(err.reason, "event", subject);
        }
        try {
          handler(event);
        } catch (err) {
          handlerFailed(err, "event", subject);
        }
      });
    },
    kv: async (bucket) => store(bucket, await transport.kv(namespace.bucket(clusterId, checkBucket(bucket)))),
    flush: () => transport.flush(),
    close: () => transport.close(),
    rejected: () => ({ ...counts }),
  };
}
