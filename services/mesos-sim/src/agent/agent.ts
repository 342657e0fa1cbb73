import { Lifecycle, serveHttp, type Bus, type HttpEndpoint, type KvChange, type KvStore, type Logger, type Registry } from "@dcnet/core";
import { BUCKET, keys, parseTaskKey } from "../model/kv-layout";
import type { AgentRecord, ContainerNetworkProvider } from "../model/launch";
import type { TaskState } from "../model/mesos";
import { BridgeNetwork, bridgeNames, probeBridgeSupport } from "./bridge";
import type { AgentConfig } from "./config";
import { agentRoutes } from "./http";
import { parseLaunch } from "./launch";
import { agentMetrics } from "./metrics";
import type { NetworkingDeps } from "./network";
import { PortBook } from "./ports";
import { makeStatus } from "./status";
import { TaskRunner } from "./task-runner";

export const HEARTBEAT_SUBJECT = "mesos.agent.heartbeat";

export interface MesosAgentDeps {
  bus: Bus;
  logger: Logger;
  registry: Registry;
  /** The overlay agent's seam for container-mode (virtual network) tasks. */
  networkProvider?: ContainerNetworkProvider;
}

export interface MesosAgent {
  readonly lifecycle: Lifecycle;
  /** The registered record (port and bridge fields known after start). */
  record(): AgentRecord;
  /** The bound HTTP port (after start). */
  port(): number;
  /** Tasks this process knows (live and kept completed ones), for tests and embedding. */
  tasks(): TaskRunner[];
}

const json = (v: unknown): Uint8Array => Buffer.from(JSON.stringify(v));
const TERMINAL: readonly TaskState[] = ["TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR"];

/**
 * A simulated Mesos agent whose tasks really run: registers on the bus,
 * heartbeats, runs what the master writes under `launch.<agent>.*`, reports
 * `status.<agent>.<task>`, serves `/state` and `/api/v1` (see README.md).
 */
export function createMesosAgent(config: AgentConfig, deps: MesosAgentDeps): MesosAgent {
  const log = deps.logger.child({ agent: config.id });
  const metrics = agentMetrics(deps.registry, config.id);
  const ports = new PortBook(config.portRange);
  const runners = new Map<string, TaskRunner>();
  const completed: TaskRunner[] = [];
  const writes = new Map<string, Promise<void>>();
  const events = new Map<string, Promise<void>>();
  const startedAtMs = Date.now();
  const networking: NetworkingDeps = { agentIp: config.ip, netnsPrefix: `${bridgeNames(config.id, config.bridge.name).taskNsPrefix}c` };
  if (deps.networkProvider) networking.provider = deps.networkProvider;
  let kv: KvStore | undefined;
  let bridge: BridgeNetwork | undefined;
  let http: HttpEndpoint | undefined;
  let heartbeat: NodeJS.Timeout | undefined;
  let stopWatch: (() => void) | undefined;
  const record: AgentRecord = {
    id: config.id,
    ip: config.ip,
    hostname: config.hostname,
    port: config.port,
    portRange: config.portRange,
    cpus: config.cpus,
    mem: config.mem,
    disk: config.disk,
    registeredAt: 0,
    attributes: config.attributes,
  };

  /** Per-task ordered chains: KV writes, and launch events. */
  const chain = (map: Map<string, Promise<void>>, taskId: string, fn: () => Promise<unknown>): Promise<void> => {
    const next = (map.get(taskId) ?? Promise.resolve()).then(fn).then(
      () => undefined,
      (err: unknown) => log.warn({ err, task: taskId }, "task operation failed"),
    );
    map.set(taskId, next);
    void next.then(() => map.get(taskId) === next && map.delete(taskId));
    return next;
  };
  const writeStatus = (taskId: string, state: TaskState, message: string, reason?: string): Promise<void> =>
    chain(writes, taskId, () =>
      kv!.put(keys.status(config.id, taskId), json(makeStatus(taskId, config.id, { state, message, ...(reason ? { reason } : {}) }))),
    );

  const refreshMetrics = (): void => {
    const counts: Partial<Record<TaskState, number>> = {};
    for (const r of new Set([...runners.values(), ...completed])) counts[r.state] = (counts[r.state] ?? 0) + 1;
    metrics.setTasks(counts);
  };

  const newRunner = (launch: TaskRunner["launch"]): TaskRunner => {
    const runner = new TaskRunner(launch, {
      agent: { id: config.id, ip: config.ip },
      workDir: config.workDir,
      ports,
      networking,
      log,
      report: (status) => {
        refreshMetrics();
        void chain(writes, launch.taskId, () => kv!.put(keys.status(config.id, launch.taskId), json(status)));
      },
      onTerminal: (r) => {
        completed.push(r);
        if (completed.length > config.maxCompletedTasks) completed.splice(0, completed.length - config.maxCompletedTasks);
        refreshMetrics();
      },
      onHealthFailure: () => metrics.healthCheckFailed(),
    });
    runners.set(launch.taskId, runner);
    metrics.launched(launch.network.mode);
    return runner;
  };

  const onPut = async (taskId: string, value: Uint8Array, initial: boolean): Promise<void> => {
    const parsed = parseLaunch(value, taskId);
    if (typeof parsed === "string") {
      log.warn({ task: taskId, problem: parsed }, "invalid launch");
      if (!runners.has(taskId)) await writeStatus(taskId, "TASK_ERROR", `invalid launch: ${parsed}`, "REASON_TASK_INVALID");
      return;
    }
    parsed.agentId = config.id;
    const existing = runners.get(taskId);
    if (existing) {
      if (parsed.kill && !existing.terminal) void existing.kill();
      return;
    }
    if (initial) {
      // Present before this process started: a task we ran before a restart, or one never acknowledged.
      const prior = await kv!.get(keys.status(config.id, taskId));
      if (prior) {
        const state = (JSON.parse(Buffer.from(prior.value).toString("utf8")) as { state?: TaskState }).state;
        if (state && !TERMINAL.includes(state))
          await writeStatus(taskId, "TASK_LOST", "agent restarted; task process is gone", "REASON_SLAVE_RESTARTED");
        return;
      }
    }
    if (parsed.kill) return writeStatus(taskId, "TASK_KILLED", "killed before the task was launched");
    void newRunner(parsed).run();
  };

  const onDelete = async (taskId: string): Promise<void> => {
    const runner = runners.get(taskId);
    if (runner && !runner.terminal) await runner.kill();
    runners.delete(taskId);
    await chain(writes, taskId, () => kv!.delete(keys.status(config.id, taskId)));
  };

  const view = () => ({
    record,
    startedAtMs,
    workDir: config.workDir,
    live: [...runners.values()].filter((r) => !r.terminal),
    completed,
  });

  const lifecycle = new Lifecycle(log)
    .add(
      "bridge",
      async () => {
        const reason = config.bridge.enabled === "off" ? "disabled by configuration (bridge.enabled=off)" : await probeBridgeSupport();
        if (reason) {
          record.bridgeUnavailable = reason;
          networking.bridgeUnavailable = reason;
          log.info({ reason }, "bridge mode unavailable");
          return;
        }
        const b = new BridgeNetwork(config.id, config.bridge, log);
        try {
          await b.setup();
        } catch (err) {
          record.bridgeUnavailable = networking.bridgeUnavailable = `bridge setup failed: ${(err as Error).message}`;
          log.warn({ err }, "bridge setup failed; bridge tasks will fail");
          return;
        }
        bridge = networking.bridge = b;
        record.bridgeSubnet = b.subnet;
      },
      async () => bridge?.teardown(),
    )
    .add(
      "http",
      async () => {
        http = await serveHttp(deps.registry, { host: config.host, port: config.port }, agentRoutes(view));
        record.port = http.port;
        log.info({ port: http.port }, "agent HTTP listening");
      },
      async () => http?.close(),
    )
    .add(
      "register",
      async () => {
        kv = await deps.bus.kv(BUCKET);
        record.registeredAt = Date.now();
        await kv.put(keys.agent(config.id), json(record));
        const beat = (): void => {
          deps.bus
            .publish(HEARTBEAT_SUBJECT, json({ agentId: config.id, at: Date.now() }))
            .catch((err: unknown) => log.warn({ err }, "heartbeat failed"));
        };
        beat();
        heartbeat = setInterval(beat, config.heartbeatMs);
        log.info({ ip: config.ip, port: record.port, bridge: record.bridgeSubnet ?? record.bridgeUnavailable }, "agent registered");
      },
      async () => {
        clearInterval(heartbeat);
        await kv?.delete(keys.agent(config.id));
      },
    )
    .add(
      "launches",
      async () => {
        let ready = false;
        const onChange = (change: KvChange): void => {
          const key = change.op === "put" ? change.entry.key : change.key;
          const k = parseTaskKey(key);
          if (!k || k.kind !== "launch" || k.agentId !== config.id) return;
          const initial = !ready;
          void chain(events, k.taskId, () => (change.op === "put" ? onPut(k.taskId, change.entry.value, initial) : onDelete(k.taskId)));
        };
        const watch = kv!.watch(onChange, { key: keys.launchesOf(config.id), initial: true });
        stopWatch = () => watch.stop();
        await watch.ready;
        ready = true;
      },
      async () => {
        stopWatch?.();
        await Promise.all([...runners.values()].map((r) => r.shutdown()));
        await Promise.all([...events.values(), ...writes.values()]);
      },
    );

  return {
    lifecycle,
    record: () => ({ ...record }),
    port: () => record.port,
    tasks: () => [...new Set([...runners.values(), ...completed])],
  };
}
