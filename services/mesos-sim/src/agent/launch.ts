import type { TaskLaunch } from "../model/launch";

const MODES = ["host", "bridge", "container"];

/**
 * Reads a TaskLaunch from the bus: checks what the agent relies on and fills
 * optional lists with their defaults. Returns the problem as a string when the
 * value cannot be run. The task id always comes from the key.
 */
export function parseLaunch(value: Uint8Array, taskId: string): TaskLaunch | string {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(value).toString("utf8"));
  } catch (err) {
    return `not JSON: ${(err as Error).message}`;
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return "not a JSON object";
  const l = raw as Partial<TaskLaunch>;
  if (typeof l.cmd !== "string" || !l.cmd.trim()) return "cmd must be a non-empty string";
  const mode = (l.network as { mode?: unknown } | undefined)?.mode ?? "host";
  if (typeof mode !== "string" || !MODES.includes(mode)) return `network.mode must be one of ${MODES.join(", ")}`;
  const hostPorts = l.hostPorts ?? [];
  if (!Array.isArray(hostPorts) || hostPorts.some((p) => !Number.isInteger(p))) return "hostPorts must be a list of integers";
  const network = (mode === "host" ? { mode } : { portMappings: [], groups: [], labels: {}, ...l.network, mode }) as TaskLaunch["network"];
  const grace = l.killGracePeriodSeconds;
  return {
    ...l,
    taskId,
    name: l.name ?? taskId,
    frameworkId: l.frameworkId ?? "marathon",
    agentId: l.agentId ?? "",
    cmd: l.cmd,
    env: l.env ?? {},
    cpus: l.cpus ?? 0.1,
    mem: l.mem ?? 32,
    disk: l.disk ?? 0,
    network,
    hostPorts,
    healthChecks: l.healthChecks ?? [],
    killGracePeriodSeconds: typeof grace === "number" && grace >= 0 ? grace : 3,
    labels: l.labels ?? [],
  };
}
