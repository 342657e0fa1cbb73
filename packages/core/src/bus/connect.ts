import type { Registry } from "prom-client";
import type { Logger } from "pino";
import { clusterKey, replicasFor, type BusConfig, type ClusterConfig } from "../config/common";
import { invalidArgument } from "../errors";
import type { MemoryHub } from "./memory-transport";
import { createNatsTransport } from "./nats-transport";
import { createBus } from "./signed-bus";
import type { Bus } from "./types";

export interface ConnectBusOptions {
  cluster: ClusterConfig;
  bus: BusConfig;
  nodeId: string;
  logger: Logger;
  registry?: Registry;
  /** Required when `bus.kind` is "memory": the in-process hub to join. */
  hub?: MemoryHub;
}

/** Builds the configured bus (NATS or in-process) with identity checks on. */
export async function connectBus(opts: ConnectBusOptions): Promise<Bus & { rejected(): Record<string, number> }> {
  const key = clusterKey(opts.cluster);
  if (!key) throw invalidArgument("cluster.key", "a cluster key is required (set cluster.key, cluster.keyFile or DCNET_CLUSTER__KEY)");
  const log = opts.logger;
  const transport =
    opts.bus.kind === "memory"
      ? (opts.hub ?? failNoHub()).transport()
      : await createNatsTransport({
          servers: opts.bus.servers,
          name: `dcnet-${opts.nodeId}`,
          replicas: replicasFor(opts.bus),
          connectTimeoutMs: opts.bus.connectTimeoutMs,
          onStatus: (type, detail) => {
            if (type !== "pingTimer") log.info({ type, detail }, "nats connection status");
          },
        });
  return createBus(transport, {
    clusterId: opts.cluster.id,
    clusterKey: key,
    nodeId: opts.nodeId,
    ...(opts.registry ? { registry: opts.registry } : {}),
    onReject: (reason, kind, place) => log.warn({ reason, kind, place }, "bus message rejected"),
    onHandlerError: (err, kind, place) =>
      log.error({ err, kind, place }, "bus handler failed (the message was dropped for it; delivery goes on)"),
  });
}

function failNoHub(): never {
  throw invalidArgument("bus.kind", '"memory" is only available in the embedded mode (dcnet start)');
}
