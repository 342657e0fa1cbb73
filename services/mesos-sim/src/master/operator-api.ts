import type * as http from "node:http";
import type { Logger } from "@dcnet/core";
import { HttpError, readJson, recordIo, sendJson } from "../http-util";
import type { FrameworkRecord } from "../model/launch";
import type { AgentView, ClusterState, TaskView } from "./cluster-state";
import { agentV1, frameworkV1, getStateV1, MESOS_VERSION, taskV1 } from "./state-json";
import type { TaskStatus } from "../model/mesos";

/**
 * The v1 Operator API on the leading master (`POST /api/v1`): GET_STATE,
 * GET_VERSION, GET_HEALTH and SUBSCRIBE (a RecordIO stream: SUBSCRIBED with
 * the full state, then TASK_ADDED, TASK_UPDATED, AGENT_ADDED, AGENT_REMOVED,
 * FRAMEWORK_ADDED, FRAMEWORK_UPDATED, and HEARTBEAT every `heartbeatSeconds`).
 */
export class OperatorApi {
  private readonly streams = new Set<http.ServerResponse>();

  constructor(
    private readonly state: ClusterState,
    private readonly frameworks: () => FrameworkRecord[],
    private readonly opts: { heartbeatSeconds: number; log: Logger },
  ) {
    state.on("taskAdded", (t: TaskView) => this.broadcast({ type: "TASK_ADDED", task_added: { task: taskV1(t) } }));
    state.on("taskUpdated", (t: TaskView, s: TaskStatus) =>
      this.broadcast({
        type: "TASK_UPDATED",
        task_updated: {
          task_id: { value: t.launch.taskId },
          framework_id: { value: t.launch.frameworkId },
          agent_id: { value: t.launch.agentId },
          state: s.state,
          status: s,
        },
      }),
    );
    state.on("agentAdded", (a: AgentView) => this.broadcast({ type: "AGENT_ADDED", agent_added: { agent: agentV1(a) } }));
    state.on("agentRemoved", (a: AgentView) =>
      this.broadcast({ type: "AGENT_REMOVED", agent_removed: { agent_id: { value: a.record.id } } }),
    );
  }

  /** FRAMEWORK_ADDED for a new framework, FRAMEWORK_UPDATED when a known one re-registers (after a failover). */
  frameworkRegistered(f: FrameworkRecord, known: boolean): void {
    const framework = frameworkV1(f);
    this.broadcast(
      known ? { type: "FRAMEWORK_UPDATED", framework_updated: { framework } } : { type: "FRAMEWORK_ADDED", framework_added: { framework } },
    );
  }

  /** Ends every SUBSCRIBE stream (on demotion: subscribers reconnect and get redirected to the new leader). */
  closeStreams(): void {
    for (const res of this.streams) res.end();
    this.streams.clear();
  }

  async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body = await readJson(req);
    const type = typeof body === "object" && body !== null ? (body as { type?: unknown }).type : undefined;
    switch (type) {
      case "GET_STATE":
        return sendJson(res, 200, { type: "GET_STATE", get_state: getStateV1(this.state, this.frameworks()) });
      case "GET_VERSION":
        return sendJson(res, 200, { type: "GET_VERSION", get_version: { version_info: { version: MESOS_VERSION } } });
      case "GET_HEALTH":
        return sendJson(res, 200, { type: "GET_HEALTH", get_health: { healthy: true } });
      case "SUBSCRIBE":
        return this.subscribe(req, res);
      default:
        throw new HttpError(400, {
          error: "bad_request",
          message: type === undefined ? 'body must be JSON with a "type" field' : `unsupported call type ${JSON.stringify(type)}`,
        });
    }
  }

  private subscribe(req: http.IncomingMessage, res: http.ServerResponse): void {
    res.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked", "cache-control": "no-cache" });
    res.write(
      recordIo({
        type: "SUBSCRIBED",
        subscribed: { get_state: getStateV1(this.state, this.frameworks()), heartbeat_interval_seconds: this.opts.heartbeatSeconds },
      }),
    );
    this.streams.add(res);
    const hb = setInterval(() => res.write(recordIo({ type: "HEARTBEAT" })), this.opts.heartbeatSeconds * 1000);
    const done = (): void => {
      clearInterval(hb);
      this.streams.delete(res);
    };
    req.on("close", done);
    res.on("close", done);
  }

  private broadcast(event: unknown): void {
    if (this.streams.size === 0) return;
    const frame = recordIo(event);
    for (const res of this.streams) res.write(frame);
  }
}
