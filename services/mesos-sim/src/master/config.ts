import { z } from "@dcnet/core";

/** The `master` section of mesos-sim's config. */
export const masterSection = z
  .object({
    /** Master id; default `master-<ip>`. */
    id: z.string().min(1).optional(),
    /** Address agents and clients reach this master at; default the node address. */
    ip: z.string().min(1).optional(),
    hostname: z.string().min(1).optional(),
    /** Bind address of both HTTP APIs. */
    host: z.string().min(1).default("0.0.0.0"),
    /** Mesos master HTTP (state, Operator API). */
    port: z.number().int().min(0).max(65535).default(5050),
    /** Marathon HTTP. */
    marathonPort: z.number().int().min(0).max(65535).default(8080),
    /** gRPC (dcnet.mesos.v1.MesosSimService, health, reflection). */
    grpcPort: z.number().int().min(0).max(65535).default(50060),
    /** Leader lease: a new leader takes over at most this long (plus renewMs) after the old one stops renewing. */
    leaseMs: z.number().int().min(200).default(3000),
    renewMs: z.number().int().min(50).default(1000),
    /** An agent silent this long is removed and its tasks are TASK_LOST. */
    agentTimeoutMs: z.number().int().min(200).default(5000),
    /** HEARTBEAT interval on Operator API SUBSCRIBE streams. */
    heartbeatSeconds: z.number().int().min(1).max(3600).default(15),
    /** Relaunch backoff after a failed task (doubles per failure). */
    backoffMs: z.number().int().min(0).default(1000),
    maxBackoffMs: z.number().int().min(0).default(60_000),
  })
  .default({});

export type MasterConfig = z.output<typeof masterSection>;
