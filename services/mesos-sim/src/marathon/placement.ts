import type { AgentView, TaskView } from "../master/cluster-state";
import { TERMINAL_STATES } from "../model/mesos";

export interface PortNeed {
  /** How many host ports the task needs in all. */
  count: number;
  /** Host ports that must be exactly these (requirePorts, explicit hostPort). */
  fixed: number[];
}

/** Host ports in use on an agent by tasks that are not terminal. */
export function usedPorts(tasks: Iterable<TaskView>, agentId: string): Set<number> {
  const used = new Set<number>();
  for (const t of tasks) if (t.launch.agentId === agentId && !TERMINAL_STATES.has(t.state)) for (const p of t.launch.hostPorts) used.add(p);
  return used;
}

/**
 * Picks host ports on one agent: the fixed ones if free and in range, the rest
 * the lowest free in the range from a rotating start (so a freed port is not
 * handed out again at once). Undefined when the agent cannot fit the task.
 */
export function allocatePorts(range: [number, number], used: Set<number>, need: PortNeed, cursor = 0): number[] | undefined {
  const [lo, hi] = range;
  const taken = new Set(used);
  for (const p of need.fixed) {
    if (p < lo || p > hi || taken.has(p)) return undefined;
    taken.add(p);
  }
  const out = [...need.fixed];
  const size = hi - lo + 1;
  for (let i = 0; i < size && out.length < need.count; i++) {
    const p = lo + ((cursor + i) % size);
    if (!taken.has(p)) {
      taken.add(p);
      out.push(p);
    }
  }
  return out.length === need.count ? out : undefined;
}

/**
 * Chooses the agent for a new task: active agents that `opts.allow` accepts
 * (the app's constraints), those able to run the task's network mode first,
 * fewest live tasks first, the first that fits.
 */
export function chooseAgent(
  agents: Iterable<AgentView>,
  tasks: Iterable<TaskView>,
  need: PortNeed,
  opts: { bridge: boolean; cursor: number; allow?: (agent: AgentView) => boolean },
): { agent: AgentView; ports: number[] } | undefined {
  const all = [...tasks];
  const live = (id: string): number => all.filter((t) => t.launch.agentId === id && !TERMINAL_STATES.has(t.state)).length;
  const candidates = [...agents]
    .filter((a) => a.active && (opts.allow?.(a) ?? true))
    .sort((a, b) => {
      if (opts.bridge) {
        const ab = a.record.bridgeUnavailable ? 1 : 0;
        const bb = b.record.bridgeUnavailable ? 1 : 0;
        if (ab !== bb) return ab - bb;
      }
      return live(a.record.id) - live(b.record.id) || a.record.id.localeCompare(b.record.id);
    });
  for (const agent of candidates) {
    const ports = allocatePorts(agent.record.portRange, usedPorts(all, agent.record.id), need, opts.cursor);
    if (ports) return { agent, ports };
  }
  return undefined;
}
