/**
 * Where mesos-sim keeps its durable state on the bus (one KV bucket, `mesos`).
 * Keys are partitioned by writer, as everything on the bus:
 *
 * | key                               | writer          | value                    |
 * | --------------------------------- | --------------- | ------------------------ |
 * | `leader`                          | masters (CAS)   | LeaderLease              |
 * | `agents.<agent>`                  | that agent      | AgentRecord              |
 * | `launch.<agent>.<task>`           | leading master  | TaskLaunch               |
 * | `status.<agent>.<task>`           | that agent      | TaskStatus (Mesos JSON)  |
 * | `frameworks.<framework>`          | leading master  | framework info           |
 * | `marathon.apps.<app>`             | leading master  | normalised Marathon app  |
 * | `marathon.deployments.<id>`       | leading master  | deployment               |
 *
 * `<agent>`, `<task>`, `<app>` are encoded with `encodeKeyPart` because ids
 * hold dots (task ids `app.uuid`) and slashes (app ids `/group/app`).
 */

export const BUCKET = "mesos";

/** Reversible: every byte outside [A-Za-z0-9-] becomes `_XX` (hex). */
export function encodeKeyPart(id: string): string {
  return Buffer.from(id, "utf8")
    .toString("latin1")
    .replace(/[^A-Za-z0-9-]/g, (c) => `_${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

export function decodeKeyPart(part: string): string {
  return Buffer.from(
    part.replace(/_([0-9a-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))),
    "latin1",
  ).toString("utf8");
}

export const keys = {
  leader: "leader",
  agent: (agentId: string): string => `agents.${encodeKeyPart(agentId)}`,
  launch: (agentId: string, taskId: string): string => `launch.${encodeKeyPart(agentId)}.${encodeKeyPart(taskId)}`,
  launchesOf: (agentId: string): string => `launch.${encodeKeyPart(agentId)}.*`,
  status: (agentId: string, taskId: string): string => `status.${encodeKeyPart(agentId)}.${encodeKeyPart(taskId)}`,
  framework: (id: string): string => `frameworks.${encodeKeyPart(id)}`,
  app: (appId: string): string => `marathon.apps.${encodeKeyPart(appId)}`,
};

/** Splits `launch.<agent>.<task>` / `status.<agent>.<task>` back into ids. */
export function parseTaskKey(key: string): { kind: string; agentId: string; taskId: string } | undefined {
  const parts = key.split(".");
  if (parts.length !== 3) return undefined;
  return { kind: parts[0]!, agentId: decodeKeyPart(parts[1]!), taskId: decodeKeyPart(parts[2]!) };
}

export interface LeaderLease {
  masterId: string;
  /** `ip:port` of the master's HTTP API (5050). */
  address: string;
  /** Marathon's `ip:port` on that master. */
  marathon: string;
  electedAt: number;
  /** Renewed by the leader; others take over after it passes. */
  expiresAt: number;
}
