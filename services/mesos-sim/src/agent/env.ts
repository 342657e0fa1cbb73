import type { TaskLaunch } from "../model/launch";
import { portNames } from "./ports";

/** What the agent inherits into every task environment (the rest of its own environment stays out). */
const INHERITED = ["PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "USER"];

/** `PORT_<NAME>`: upper case, anything but letters and digits becomes `_`. */
export const portVariable = (name: string): string => `PORT_${name.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`;

/**
 * A task's environment: the inherited basics, the app's `env`, then the
 * agent's own variables (which win): MESOS_TASK_ID, MESOS_AGENT_ID,
 * MESOS_SANDBOX, HOST (agent IP), PORT0…n = hostPorts[i], PORTS, PORT = PORT0,
 * PORT_<NAME> for named ports, MARATHON_APP_ID.
 */
export function buildTaskEnv(
  launch: TaskLaunch,
  agent: { id: string; ip: string },
  sandbox: string,
  inherit: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of INHERITED) {
    const v = inherit[name];
    if (v !== undefined) env[name] = v;
  }
  Object.assign(env, launch.env);
  env.MESOS_TASK_ID = launch.taskId;
  env.MESOS_AGENT_ID = agent.id;
  env.MESOS_SANDBOX = sandbox;
  env.HOST = agent.ip;
  const names = portNames(launch);
  launch.hostPorts.forEach((port, i) => {
    env[`PORT${i}`] = String(port);
    const name = names[i];
    if (name) env[portVariable(name)] = String(port);
  });
  if (launch.hostPorts.length) {
    env.PORTS = launch.hostPorts.join(",");
    env.PORT = String(launch.hostPorts[0]);
  }
  if (launch.appId) env.MARATHON_APP_ID = launch.appId;
  return env;
}
