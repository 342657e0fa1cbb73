import { spawn } from "node:child_process";
import * as http from "node:http";
import * as net from "node:net";
import type { HealthCheck } from "../model/launch";
import type { Probe } from "./health";

/** Where a task's port `portIndex` is reached from the agent (host: agentIP:hostPort; bridge: taskIP:containerPort). */
export type Endpoint = (portIndex: number) => { host: string; port: number } | undefined;

export function httpProbe(host: string, port: number, path: string): Probe {
  return (timeoutMs) =>
    new Promise<boolean>((resolve) => {
      const req = http.get({ host, port, path: path.startsWith("/") ? path : `/${path}`, timeout: timeoutMs, agent: false }, (res) => {
        res.resume();
        const status = res.statusCode ?? 0;
        resolve(status >= 200 && status < 400);
      });
      req.on("timeout", () => req.destroy(new Error("timeout")));
      req.on("error", () => resolve(false));
    });
}

export function tcpProbe(host: string, port: number): Probe {
  return (timeoutMs) =>
    new Promise<boolean>((resolve) => {
      const socket = net.connect({ host, port });
      const done = (ok: boolean): void => {
        socket.destroy();
        resolve(ok);
      };
      socket.setTimeout(timeoutMs, () => done(false));
      socket.once("connect", () => done(true));
      socket.once("error", () => done(false));
    });
}

/** `sh -c <command>` with the task's environment (in its namespace, if any); exit 0 = healthy; the group is killed on timeout. */
export function commandProbe(command: string, env: Record<string, string>, cwd: string, netns?: string): Probe {
  return (timeoutMs) =>
    new Promise<boolean>((resolve) => {
      const [file, args] = netns ? ["ip", ["netns", "exec", netns, "sh", "-c", command]] : ["sh", ["-c", command]];
      const child = spawn(file, args as string[], { env, cwd, detached: true, stdio: "ignore" });
      const timer = setTimeout(() => {
        try {
          if (child.pid) process.kill(-child.pid, "SIGKILL");
        } catch {
          /* gone */
        }
      }, timeoutMs);
      child.once("error", () => {
        clearTimeout(timer);
        resolve(false);
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        resolve(code === 0);
      });
    });
}

/** The probe for one check, or the reason it cannot run (e.g. no port at that index). */
export function probeFor(
  check: HealthCheck,
  ctx: { endpoint: Endpoint; env: Record<string, string>; cwd: string; netns?: string },
): Probe | string {
  if (check.protocol === "COMMAND") return commandProbe(check.command, ctx.env, ctx.cwd, ctx.netns);
  const target = ctx.endpoint(check.portIndex);
  if (!target) return `health check portIndex ${check.portIndex} names no port of the task`;
  if (check.protocol === "HTTP" || check.protocol === "MESOS_HTTP") return httpProbe(target.host, target.port, check.path);
  return tcpProbe(target.host, target.port);
}
