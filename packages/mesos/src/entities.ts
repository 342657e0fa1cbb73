/**
 * Agents and frameworks as the normaliser needs them (id → IP, id → name), from any of the shapes
 * Mesos uses: v1 `Agent` (`{agent_info, pid}`) / `AgentInfo`, v0 `slaves[]` (`{id, hostname, pid}`);
 * v1 `Framework` (`{framework_info}`) / `FrameworkInfo`, v0 `frameworks[]` (`{id, name}`).
 */
import { isIP } from "node:net";
import { idOf, isObj, obj, pidIp, str } from "./json";

export interface AgentRef {
  id: string;
  /** The agent's IP, `""` when neither its hostname nor its PID holds an IP literal. */
  ip: string;
}

export interface FrameworkRef {
  id: string;
  name: string;
}

/**
 * The agent's id and IP: its `hostname` when that is an IP literal, else the IP of its libprocess
 * `pid` (`slave(1)@10.0.0.1:5051`). (dcos-net resolves a non-IP hostname through its own DNS; a
 * Mesos agent's PID carries the address it registered with, which needs no resolver.)
 */
export function parseAgent(agent: unknown): AgentRef | undefined {
  if (!isObj(agent)) return undefined;
  const info = obj(agent["agent_info"]) ?? agent;
  const id = idOf(info["id"]);
  if (id === undefined) return undefined;
  const hostname = str(info["hostname"]) ?? "";
  const ip = isIP(hostname) ? hostname : (pidIp(agent["pid"]) ?? "");
  return { id, ip };
}

export function parseFramework(framework: unknown): FrameworkRef | undefined {
  if (!isObj(framework)) return undefined;
  const info = obj(framework["framework_info"]) ?? framework;
  const id = idOf(info["id"]);
  if (id === undefined) return undefined;
  return { id, name: str(info["name"]) ?? "" };
}
