import * as fs from "node:fs";
import { z } from "zod";
import { DEFAULT_FORGET_AFTER_MS } from "../bus/membership";
import { list } from "./load";

/** Config sections every dcnet service shares. */

export const clusterSection = z
  .object({
    /** Cluster id: namespaces subjects and buckets; part of every signature. */
    id: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "lower-case letters, digits and dashes, at most 63")
      .default("dcnet"),
    /** Shared cluster key (≥ 16 characters). Required with the NATS bus. */
    key: z.string().min(16, "must be at least 16 characters").optional(),
    /** File holding the cluster key (used when `key` is not set). */
    keyFile: z.string().optional(),
  })
  .default({});

export const busSection = z
  .object({
    kind: z.enum(["nats", "memory"]).default("nats"),
    servers: list(z.string().regex(/^(nats|tls):\/\/[^\s]+$/, "must be a nats:// URL")).default(["nats://127.0.0.1:4222"]),
    /** JetStream KV replicas; "auto" = min(3, number of servers). */
    replicas: z.union([z.literal("auto"), z.number().int().min(1).max(5)]).default("auto"),
    heartbeatMs: z.number().int().min(50).max(60_000).default(1000),
    missedBeats: z.number().int().min(2).max(100).default(3),
    /** A node unreachable this long is forgotten (its `nodes` record deleted); 0 = never. Default 24 h. */
    forgetAfterMs: z.number().int().min(0).default(DEFAULT_FORGET_AFTER_MS),
    connectTimeoutMs: z.number().int().min(0).default(60_000),
  })
  .default({});

export const listenSection = (defaultPort: number, host = "0.0.0.0") =>
  z
    .object({
      host: z.string().min(1).default(host),
      port: z.number().int().min(0).max(65535).default(defaultPort),
    })
    .default({});

export const logSection = z
  .object({ level: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info") })
  .default({});

export type ClusterConfig = z.output<typeof clusterSection>;
export type BusConfig = z.output<typeof busSection>;

export function replicasFor(bus: BusConfig): number {
  return bus.replicas === "auto" ? Math.min(3, bus.servers.length) : bus.replicas;
}

/** The cluster key from `key` or `keyFile`; undefined when neither is set. */
export function clusterKey(cluster: ClusterConfig): string | undefined {
  if (cluster.key) return cluster.key;
  if (cluster.keyFile) return fs.readFileSync(cluster.keyFile, "utf8").trim();
  return undefined;
}
