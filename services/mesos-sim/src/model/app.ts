import type { Constraint } from "../marathon/app-constraints";
import type { HealthCheck, PortMappingSpec, TaskNetwork } from "./launch";

/**
 * A Marathon app after validation and normalisation (marathon/app-json.ts):
 * both the Marathon 1.4 and 1.5 JSON shapes end up here. `json` keeps the
 * app as the user sent it (plus defaults), which is what GET /v2/apps returns.
 */
export interface NormalizedApp {
  /** Absolute, normalised id: `/mygroup/myapp`. */
  id: string;
  cmd: string;
  instances: number;
  cpus: number;
  mem: number;
  disk: number;
  env: Record<string, string>;
  labels: Record<string, string>;
  network: TaskNetwork;
  /**
   * Host-mode port definitions (`portDefinitions`, or the legacy `ports`);
   * port 0 = any free host port. Empty in bridge/container mode (see network.portMappings).
   */
  portDefinitions: PortDefinition[];
  /** With `requirePorts` the ports in portDefinitions are taken literally. */
  requirePorts: boolean;
  healthChecks: HealthCheck[];
  /** Placement constraints (marathon/app-constraints.ts); absent in apps stored before they were supported. */
  constraints?: Constraint[];
  killGracePeriodSeconds: number;
  /** Marathon `container` as given (docker image etc.), passed to the Mesos task. */
  containerType: "DOCKER" | "MESOS" | undefined;
  dockerImage: string | undefined;
  /** The Marathon JSON to return from the API (input plus defaults, with `version`). */
  json: Record<string, unknown>;
  version: string;
}

export interface PortDefinition {
  port: number;
  protocol: "tcp" | "udp" | "tcp,udp";
  name?: string;
  labels?: Record<string, string>;
}

export type { PortMappingSpec };

/** `/mygroup/myapp` → Mesos task name `myapp.mygroup` (Marathon's rule). */
export function taskNameOf(appId: string): string {
  return appId
    .split("/")
    .filter((s) => s.length > 0)
    .reverse()
    .join(".");
}

/** A Marathon 422 body: `{message, details: [{path, errors}]}`. */
export interface ValidationFailure {
  message: string;
  details: { path: string; errors: string[] }[];
}

export class AppValidationError extends Error {
  constructor(readonly failure: ValidationFailure) {
    super(`${failure.message}: ${failure.details.map((d) => `${d.path} ${d.errors.join(", ")}`).join("; ")}`);
    this.name = "AppValidationError";
  }
}
