/* Test helpers (compiled with the tests; not part of the agent's API). */
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import {
  createBus,
  createLogger,
  createMemoryHub,
  createRegistry,
  eventually,
  validate,
  type Bus,
  type KvStore,
  type Registry,
} from "@dcnet/core";
import { BUCKET, keys, parseTaskKey } from "../model/kv-layout";
import type { ContainerNetworkProvider, TaskLaunch } from "../model/launch";
import type { TaskState, TaskStatus } from "../model/mesos";
import { createMesosAgent, type MesosAgent } from "./agent";
import { agentSection, type AgentConfigInput } from "./config";
import { sandboxFor } from "./sandbox";

export const CLUSTER = { clusterId: "agent-test", clusterKey: "agent-test-cluster-key-xxxx" };

export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

export function launchOf(taskId: string, cmd: string, extra: Partial<TaskLaunch> = {}): TaskLaunch {
  return {
    taskId,
    name: taskId.split(".")[0] ?? taskId,
    frameworkId: "marathon-fw",
    frameworkName: "marathon",
    agentId: "",
    cmd,
    env: {},
    cpus: 0.1,
    mem: 32,
    disk: 0,
    network: { mode: "host" },
    hostPorts: [],
    healthChecks: [],
    killGracePeriodSeconds: 1,
    labels: [],
    ...extra,
  };
}

export const ECHO = `node -e "require('http').createServer((q,s)=>s.end(process.env.MESOS_TASK_ID)).listen(+process.env.PORT0)"`;

export function get(url: string, timeoutMs = 2000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: timeoutMs, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (d: string) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error(`timeout: ${url}`)));
    req.on("error", reject);
  });
}

export function post(url: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: "POST", headers: { "content-type": "application/json" }, timeout: 3000, agent: false },
      (res) => {
        let out = "";
        res.setEncoding("utf8").on("data", (d: string) => (out += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: out }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

export const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** An agent on an in-process bus, with a "master" bus client that records every status written. */
export class Harness {
  readonly hub = createMemoryHub();
  readonly masterBus: Bus = createBus(this.hub.transport(), { ...CLUSTER, nodeId: "master" });
  readonly registry: Registry = createRegistry({ defaultMetrics: false });
  readonly history = new Map<string, TaskStatus[]>();
  readonly workDir = fs.mkdtempSync(path.join(os.tmpdir(), "dcnet-agent-test-"));
  agent!: MesosAgent;
  kv!: KvStore;
  agentId = "";
  private agentBus: Bus | undefined;
  private stopWatch: (() => void) | undefined;

  async start(overrides: AgentConfigInput = {}, provider?: ContainerNetworkProvider): Promise<this> {
    this.kv = await this.masterBus.kv(BUCKET);
    if (!this.stopWatch) {
      const w = this.kv.watch(
        (c) => {
          if (c.op !== "put") return;
          const k = parseTaskKey(c.entry.key);
          if (k?.kind !== "status") return;
          const s = JSON.parse(Buffer.from(c.entry.value).toString("utf8")) as TaskStatus;
          this.history.set(k.taskId, [...(this.history.get(k.taskId) ?? []), s]);
        },
        { key: "status.>", initial: false },
      );
      this.stopWatch = () => w.stop();
      await w.ready;
    }
    const config = validate(agentSection, {
      id: `agent-${Math.random().toString(36).slice(2, 8)}`,
      ip: "127.0.0.1",
      host: "127.0.0.1",
      port: 0,
      portRange: [1024, 65535],
      workDir: this.workDir,
      heartbeatMs: 100,
      bridge: { enabled: "off" },
      ...overrides,
    });
    this.agentId = config.id;
    this.agentBus = createBus(this.hub.transport(), { ...CLUSTER, nodeId: config.id });
    const logger = createLogger({ service: "agent-test", level: process.env.AGENT_TEST_LOG === "1" ? "debug" : "silent" });
    this.agent = createMesosAgent(config, {
      bus: this.agentBus,
      logger,
      registry: this.registry,
      ...(provider ? { networkProvider: provider } : {}),
    });
    await this.agent.lifecycle.start();
    return this;
  }

  async launch(l: TaskLaunch): Promise<void> {
    await this.kv.put(keys.launch(this.agentId, l.taskId), Buffer.from(JSON.stringify({ ...l, agentId: this.agentId })));
  }

  async status(taskId: string): Promise<TaskStatus | undefined> {
    const e = await this.kv.get(keys.status(this.agentId, taskId));
    return e ? (JSON.parse(Buffer.from(e.value).toString("utf8")) as TaskStatus) : undefined;
  }

  states(taskId: string): TaskState[] {
    return (this.history.get(taskId) ?? []).map((s) => s.state);
  }

  /**
   * Waits for the stored status to reach `state` and for the watch to have
   * delivered it too (the watch is asynchronous: without this, `states()`
   * could still miss the statuses the stored value already shows).
   */
  async waitFor(taskId: string, state: TaskState, timeoutMs = 8000): Promise<TaskStatus> {
    return eventually(async () => {
      const s = await this.status(taskId);
      if (s?.state !== state || !this.states(taskId).includes(state))
        throw new Error(`task ${taskId}: want ${state}, have ${s?.state} (${s?.message ?? ""}); seen ${this.states(taskId).join(",")}`);
      return s;
    }, timeoutMs);
  }

  sandbox(taskId: string, file: "stdout" | "stderr"): string {
    return fs.readFileSync(sandboxFor(this.workDir, this.agentId, taskId)[file], "utf8");
  }

  async stop(): Promise<void> {
    await this.agent?.lifecycle.stop();
    this.stopWatch?.();
    await this.agentBus?.close();
    await this.masterBus.close();
    fs.rmSync(this.workDir, { recursive: true, force: true });
  }
}
