import { createDcosDns, loadDcosDnsConfig } from "@dcnet/dcos-dns";
import { createL4lb, loadL4lbConfig } from "@dcnet/l4lb";
import { createMesosDns, loadMesosDnsConfig } from "@dcnet/mesos-dns";
import { createMesosSim, mesosSimConfigSchema } from "@dcnet/mesos-sim";
import { createNodeAgent, nodeConfigSchema } from "@dcnet/node";
import { invalidArgument, loadConfig, type Logger, type Registry, type z } from "@dcnet/core";

/** A service `dcnet run <name>` can start. Later services add themselves here. */
export interface RunnableService {
  readonly name: string;
  readonly description: string;
  /** Validates config (file + env) and starts; resolves to a stop function. */
  start(input: {
    configFile?: string | undefined;
    env: Record<string, string | undefined>;
    registry: Registry;
    logger: (level: string) => Logger;
  }): Promise<{ stop(): Promise<void>; summary: Record<string, unknown> }>;
}

function configured<S extends z.ZodTypeAny>(
  schema: S,
  input: { configFile?: string | undefined; env: Record<string, string | undefined> },
): z.output<S> {
  return loadConfig(schema, { file: input.configFile, env: input.env, prefix: "DCNET" });
}

/** `DCNET_MESOS_DNS_GRPC_PORT`: unset → 50070, `off` → no gRPC server, else a port 0-65535 (0 = any). */
export function mesosDnsGrpcPort(value: string | undefined): number | undefined {
  if (value === undefined) return 50070;
  if (value === "off") return undefined;
  const port = /^\d+$/.test(value.trim()) ? Number(value.trim()) : NaN;
  if (!Number.isInteger(port) || port > 65535)
    throw invalidArgument("DCNET_MESOS_DNS_GRPC_PORT", `must be a port 0-65535 or "off", got "${value}"`);
  return port;
}

export const services: readonly RunnableService[] = [
  {
    name: "node",
    description: "node agent: joins the bus, heartbeats, serves NodeService (gRPC 50051) and /metrics (9100)",
    async start(input) {
      const config = configured(nodeConfigSchema, input);
      const agent = createNodeAgent(config, { logger: input.logger(config.log.level), registry: input.registry });
      await agent.lifecycle.start();
      return {
        stop: () => agent.lifecycle.stop(),
        summary: { node: agent.identity.nodeId, grpc: agent.ports.grpc, http: agent.ports.http },
      };
    },
  },
  {
    name: "mesos-dns",
    description:
      "Mesos-DNS: .mesos records from the leading master; DNS (port), HTTP API (httpport 8123); --config takes an upstream config.json",
    async start(input) {
      const logger = input.logger(input.env["DCNET_LOG__LEVEL"] ?? "info");
      const config = loadMesosDnsConfig({ file: input.configFile, env: input.env }, (msg) => logger.warn(msg));
      const grpcPort = mesosDnsGrpcPort(input.env["DCNET_MESOS_DNS_GRPC_PORT"]);
      const dns = createMesosDns(config, { file: input.configFile, env: input.env, grpcPort }, { logger, registry: input.registry });
      await dns.lifecycle.start();
      return { stop: () => dns.lifecycle.stop(), summary: dns.ports() };
    },
  },
  {
    name: "dcos-dns",
    description:
      "dcos-dns (spartan): DNS on 198.51.100.1-3:53, *.thisdcos.directory from the bus, .mesos to every Mesos-DNS; --config takes a dcos-dns.json",
    async start(input) {
      const file = input.env["DCNET_DCOS_DNS_CONFIG"] ?? input.configFile;
      // The logger takes `log.level` (file or DCNET_LOG__LEVEL), so the config's warnings wait for it.
      const warnings: string[] = [];
      const config = loadDcosDnsConfig({ file, env: input.env }, (msg) => warnings.push(msg));
      const logger = input.logger(config.log.level);
      for (const msg of warnings) logger.warn(msg);
      const dns = createDcosDns(config, { logger, registry: input.registry });
      await dns.lifecycle.start();
      const p = dns.ports();
      return { stop: () => dns.lifecycle.stop(), summary: { dns: p.dns, http: p.http, grpc: p.grpc } };
    },
  },
  {
    name: "l4lb",
    description:
      "l4lb (minuteman): VIPs from port labels on every node (nftables, or a userspace proxy); agents publish their backends; HTTP /v1/vips 62081, gRPC 50090",
    async start(input) {
      const file = input.env["DCNET_L4LB_CONFIG"] ?? input.configFile;
      // The logger takes `log.level` (file or DCNET_LOG__LEVEL), so the config's warnings wait for it.
      const warnings: string[] = [];
      const config = loadL4lbConfig({ file, env: input.env }, (msg) => warnings.push(msg));
      const logger = input.logger(config.log.level);
      for (const msg of warnings) logger.warn(msg);
      const l4lb = createL4lb(config, { logger, registry: input.registry });
      await l4lb.lifecycle.start();
      const p = l4lb.ports();
      return {
        stop: () => l4lb.lifecycle.stop(),
        summary: { mode: l4lb.driver()?.mode, agent: config.agent.enabled, http: p.http, grpc: p.grpc },
      };
    },
  },
  {
    name: "mesos-sim",
    description: "Mesos master (5050) + Marathon (8080) and/or agent (5051) whose tasks really run; roles: DCNET_ROLES=master,agent",
    async start(input) {
      const config = configured(mesosSimConfigSchema, input);
      const sim = createMesosSim(config, { logger: input.logger(config.log.level), registry: input.registry });
      await sim.lifecycle.start();
      return {
        stop: () => sim.lifecycle.stop(),
        summary: { roles: config.roles, master: sim.master?.ports(), agent: sim.agent?.port() },
      };
    },
  },
];

export function findService(name: string): RunnableService | undefined {
  return services.find((s) => s.name === name);
}
