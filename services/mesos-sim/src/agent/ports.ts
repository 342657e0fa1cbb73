import type { PortMappingSpec, TaskLaunch } from "../model/launch";

/**
 * The agent's host-port book: the master allocates host ports, but the agent
 * still refuses ports outside its range or held by another live task, so no
 * port is ever handed out twice.
 */
export class PortBook {
  private readonly owners = new Map<number, string>();

  constructor(readonly range: readonly [number, number]) {}

  /** Why these ports cannot be given to the task, or undefined. */
  check(taskId: string, ports: readonly number[]): string | undefined {
    const [lo, hi] = this.range;
    const seen = new Set<number>();
    for (const p of ports) {
      if (!Number.isInteger(p) || p < lo || p > hi) return `host port ${p} is outside this agent's port range [${lo}-${hi}]`;
      if (seen.has(p)) return `host port ${p} is requested twice`;
      seen.add(p);
      const owner = this.owners.get(p);
      if (owner !== undefined && owner !== taskId) return `host port ${p} is already used by task ${owner}`;
    }
    return undefined;
  }

  /** Takes the ports for the task; throws with check()'s reason. */
  reserve(taskId: string, ports: readonly number[]): void {
    const problem = this.check(taskId, ports);
    if (problem) throw new Error(problem);
    for (const p of ports) this.owners.set(p, taskId);
  }

  release(taskId: string): void {
    for (const [p, owner] of this.owners) if (owner === taskId) this.owners.delete(p);
  }

  used(): number[] {
    return [...this.owners.keys()].sort((a, b) => a - b);
  }
}

export interface ResolvedMapping {
  hostPort: number;
  containerPort: number;
  protocol: string;
  name?: string;
}

/**
 * Pairs portMappings[i] with hostPorts[i] (mappings without an allocated host
 * port get none). Marathon's rule: containerPort 0 means containerPort = hostPort.
 */
export function resolveMappings(mappings: readonly PortMappingSpec[], hostPorts: readonly number[]): ResolvedMapping[] {
  return mappings.map((m, i) => {
    const hostPort = hostPorts[i] ?? 0;
    return {
      hostPort,
      containerPort: m.containerPort === 0 ? hostPort : m.containerPort,
      protocol: m.protocol,
      ...(m.name ? { name: m.name } : {}),
    };
  });
}

/**
 * Port names by index: port mappings' names (bridge, container), else the
 * discovery ports' names (Marathon copies port definitions' names there).
 */
export function portNames(launch: TaskLaunch): (string | undefined)[] {
  const discovered = launch.discovery?.ports?.ports.map((p) => p.name) ?? [];
  if (launch.network.mode === "host") return discovered;
  return launch.network.portMappings.map((m, i) => m.name ?? discovered[i]);
}
