/**
 * Tolerant readers for Mesos JSON parsed into `unknown`: a field of the wrong type reads as absent.
 * Both shapes Mesos serves are handled where they differ: ids are plain strings in `/master/state`
 * (`"id": "t1"`) and `{"value": "t1"}` objects in the v1 Operator API (`"task_id": {"value": "t1"}`);
 * label lists are arrays in the former and `{"labels": [...]}` in the latter.
 */
import { isIP } from "node:net";

export type Obj = Record<string, unknown>;

export const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

export const obj = (v: unknown): Obj | undefined => (isObj(v) ? v : undefined);

export const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

/** The objects of an array (other elements skipped); `[]` when `v` is not an array. */
export const objects = (v: unknown): Obj[] => (Array.isArray(v) ? v.filter(isObj) : []);

/** An integer in 0–65535, else undefined. */
export const portNumber = (v: unknown): number | undefined =>
  typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 65535 ? v : undefined;

/** `"x"` or `{"value": "x"}` → `"x"`; anything else (or `""`) → undefined. */
export function idOf(v: unknown): string | undefined {
  const s = typeof v === "string" ? v : isObj(v) ? str(v["value"]) : undefined;
  return s === "" ? undefined : s;
}

export interface Label {
  key: string;
  value: string;
}

/** A label list in either shape (`[{key, value}]` or `{labels: [{key, value}]}`); labels without a string key are skipped, a missing value reads as `""`. */
export function labelsOf(v: unknown): Label[] {
  const list = Array.isArray(v) ? v : isObj(v) ? v["labels"] : undefined;
  const out: Label[] = [];
  for (const l of objects(list)) {
    const key = str(l["key"]);
    if (key !== undefined) out.push({ key, value: str(l["value"]) ?? "" });
  }
  return out;
}

/** The host of `host:port` or `[v6]:port` (a bare host is returned as is). */
export function hostOf(hostPort: string): string {
  if (hostPort.startsWith("[")) {
    const end = hostPort.indexOf("]");
    return end > 0 ? hostPort.slice(1, end) : hostPort;
  }
  const colon = hostPort.lastIndexOf(":");
  if (colon < 0 || hostPort.indexOf(":") !== colon) return hostPort; // no port, or a bare IPv6 address
  return hostPort.slice(0, colon);
}

/** The IP of a libprocess PID (`slave(1)@10.0.0.1:5051`), when it is an IP literal. */
export function pidIp(pid: unknown): string | undefined {
  if (typeof pid !== "string") return undefined;
  const at = pid.indexOf("@");
  if (at < 0) return undefined;
  const host = hostOf(pid.slice(at + 1).trim());
  return isIP(host) ? host : undefined;
}
