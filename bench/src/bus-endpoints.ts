/**
 * The two sides the bus benchmark compares, behind one small interface: the
 * bare `nats` client ("raw") and our signed bus over the NATS transport
 * ("ours"). Every endpoint is its own NATS connection.
 */
import { connect, type NatsConnection } from "nats";
import { createBus, createNatsTransport, type Bus } from "@dcnet/core";

export interface Endpoint {
  /** Raw returns nothing (nats.js publish is synchronous); ours returns the bus's promise. */
  publish(subject: string, data: Uint8Array): void | Promise<void>;
  /** `onData` gets the application payload (for ours: after the signature was checked). */
  subscribe(subject: string, onData: (data: Uint8Array) => void): { unsubscribe(): void };
  flush(): Promise<void>;
  close(): Promise<void>;
}

export interface Side {
  readonly name: string;
  /** Subject prefix for this side (ours is namespaced by the bus). */
  readonly prefix: string;
  readonly publisher: Endpoint;
  readonly subscribers: readonly Endpoint[];
  /** Messages the side dropped (ours: failed signature checks); must stay 0. */
  rejected(): number;
  close(): Promise<void>;
}

const CLUSTER_ID = "bench";
const CLUSTER_KEY = "bench-cluster-key-0123456789abcdef";

function rawEndpoint(nc: NatsConnection): Endpoint {
  return {
    publish: (subject, data) => nc.publish(subject, data),
    subscribe: (subject, onData) => nc.subscribe(subject, { callback: (err, msg) => !err && onData(msg.data) }),
    flush: () => nc.flush(),
    close: async () => {
      await nc.drain().catch(() => nc.close());
    },
  };
}

function ourEndpoint(bus: Bus): Endpoint {
  return {
    publish: (subject, data) => bus.publish(subject, data),
    subscribe: (subject, onData) => bus.subscribe(subject, (event) => onData(event.payload)),
    flush: () => bus.flush(),
    close: () => bus.close(),
  };
}

function side(name: string, prefix: string, endpoints: Endpoint[], rejected: () => number): Side {
  const [publisher, ...subscribers] = endpoints;
  if (!publisher) throw new Error("no endpoints");
  return {
    name,
    prefix,
    publisher,
    subscribers,
    rejected,
    close: async () => {
      await Promise.all(endpoints.map((e) => e.close()));
    },
  };
}

/** 1 publisher + `subscribers` subscriber connections with the bare nats client. */
export async function rawSide(url: string, subscribers: number): Promise<Side> {
  const conns = await Promise.all(Array.from({ length: subscribers + 1 }, (_, i) => connect({ servers: url, name: `bench-raw-${i}` })));
  return side("raw nats", "raw", conns.map(rawEndpoint), () => 0);
}

/** 1 publisher + `subscribers` subscriber connections, each a NATS transport under its own signed bus. */
export async function ourSide(url: string, subscribers: number, verifyCache = true): Promise<Side> {
  const buses = await Promise.all(
    Array.from({ length: subscribers + 1 }, async (_, i) => {
      const transport = await createNatsTransport({ servers: [url], name: `bench-ours-${i}`, replicas: 1 });
      return createBus(transport, { clusterId: CLUSTER_ID, clusterKey: CLUSTER_KEY, nodeId: `bench-node-${i}`, verifyCache });
    }),
  );
  const rejected = (): number => buses.reduce((sum, b) => sum + Object.values(b.rejected()).reduce((a, c) => a + c, 0), 0);
  const name = verifyCache ? "ours (signed bus)" : "ours (every subscriber checks)";
  return side(name, verifyCache ? "ours" : "oursnc", buses.map(ourEndpoint), rejected);
}
