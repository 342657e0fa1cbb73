import {
  busSection,
  clusterSection,
  connectBus,
  list,
  logSection,
  Lifecycle,
  z,
  type Logger,
  type MemoryHub,
  type Registry,
} from "@dcnet/core";
import { createMesosAgent, type MesosAgent } from "./agent/agent";
import { agentSection, defaultAgentIp } from "./agent/config";
import { masterSection } from "./master/config";
import { createMesosMaster, type MesosMaster } from "./master/master";

/** `dcnet run mesos-sim` config: which roles this process plays, and each role's section. */
export const mesosSimConfigSchema = z.object({
  cluster: clusterSection,
  bus: busSection,
  log: logSection,
  /** "master" (Mesos master + Marathon), "agent", or both. */
  roles: list(z.enum(["master", "agent"]))
    .refine((r) => r.length > 0, "name at least one role")
    .default(["master"]),
  master: masterSection,
  agent: agentSection,
});

export type MesosSimConfig = z.output<typeof mesosSimConfigSchema>;

export interface MesosSim {
  readonly lifecycle: Lifecycle;
  master?: MesosMaster;
  agent?: MesosAgent;
}

/**
 * One process of the simulated cluster: a master (with Marathon), an agent, or
 * both, on one bus connection. The bus node id is the agent id when the
 * process is an agent (agents are known by their id on the bus).
 */
export function createMesosSim(config: MesosSimConfig, deps: { logger: Logger; registry: Registry; hub?: MemoryHub }): MesosSim {
  const isAgent = config.roles.includes("agent");
  const isMaster = config.roles.includes("master");
  const ip = config.agent.ip ?? config.master.ip ?? defaultAgentIp();
  const nodeId = isAgent ? config.agent.id : (config.master.id ?? `master-${ip}`);
  const log = deps.logger;
  const sim: MesosSim = { lifecycle: new Lifecycle(log) };
  let inner = new Lifecycle(log);
  sim.lifecycle.add(
    "mesos-sim",
    async () => {
      const bus = await connectBus({
        cluster: config.cluster,
        bus: config.bus,
        nodeId,
        logger: log,
        registry: deps.registry,
        ...(deps.hub ? { hub: deps.hub } : {}),
      });
      inner = new Lifecycle(log).add(
        "bus",
        async () => undefined,
        () => bus.close(),
      );
      if (isMaster) {
        sim.master = createMesosMaster(config.master, { bus, logger: log, registry: deps.registry, defaultIp: ip });
        inner.add(
          "master",
          () => sim.master!.lifecycle.start(),
          () => sim.master!.lifecycle.stop(),
        );
      }
      if (isAgent) {
        sim.agent = createMesosAgent(config.agent, { bus, logger: log, registry: deps.registry });
        inner.add(
          "agent",
          () => sim.agent!.lifecycle.start(),
          () => sim.agent!.lifecycle.stop(),
        );
      }
      await inner.start();
    },
    () => inner.stop(),
  );
  return sim;
}
