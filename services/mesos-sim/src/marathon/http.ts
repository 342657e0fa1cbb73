import type * as http from "node:http";
import { ConflictError } from "@dcnet/core";
import type { ClusterState, TaskView } from "../master/cluster-state";
import { AppValidationError, type NormalizedApp } from "../model/app";
import { HttpError, readJson, sendJson, splitUrl } from "../http-util";
import { canonicalAppId, mergeAppUpdate, parseApp, scaleOnly } from "./app-json";
import type { AppStore } from "./apps";
import type { Deployments } from "./deployments";
import type { MarathonEvents } from "./events";
import { marathonApp, marathonTask } from "./task-json";

export interface MarathonApiDeps {
  apps: AppStore;
  state: ClusterState;
  events: MarathonEvents;
  deployments: Deployments;
  frameworkId: () => string;
  /** `ip:port` of the leading Marathon, or undefined while none. */
  leader: () => string | undefined;
  isLeader: () => boolean;
  /** Kills one task (scheduler). */
  killTask: (task: TaskView) => Promise<void>;
  /** Asks the scheduler to act now. */
  reconcile: () => void;
}

export const MARATHON_VERSION = "1.11.24";

/**
 * Marathon's REST API (v2) on port 8080: apps (create, list, show, update,
 * scale, delete), tasks, events (SSE), info. A non-leading master forwards
 * requests to the leader (events: 307 to the leader).
 */
export function marathonRoutes(deps: MarathonApiDeps): (req: http.IncomingMessage, res: http.ServerResponse) => Promise<boolean> {
  const tasksOf = (appId: string): TaskView[] => [...deps.state.tasks.values()].filter((t) => t.launch.appId === appId);
  const notFound = (id: string): HttpError => new HttpError(404, { message: `App '${id}' does not exist` });
  const deployed = (d: { id: string; version: string }): { version: string; deploymentId: string } => ({
    version: d.version,
    deploymentId: d.id,
  });
  /** Marathon answers a body that is not JSON with 422, like any other invalid app. */
  const readApp = async (req: http.IncomingMessage): Promise<unknown> => {
    try {
      return await readJson(req);
    } catch (err) {
      if (err instanceof HttpError && err.status === 400) {
        throw new AppValidationError({ message: "Invalid JSON", details: [{ path: "/", errors: [err.message] }] });
      }
      throw err;
    }
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse, path: string, query: URLSearchParams): Promise<void> => {
    const method = req.method ?? "GET";
    if (path === "/v2/deployments" && method === "GET") return sendJson(res, 200, deps.deployments.list());
    if (path === "/v2/tasks" && method === "GET") {
      const tasks = [...deps.state.tasks.values()].filter((t) => t.launch.frameworkId === deps.frameworkId() && t.launch.appId);
      return sendJson(res, 200, { tasks: tasks.map((t) => marathonTask(t, deps.state.agents.get(t.launch.agentId))) });
    }
    if (path === "/v2/apps" || path === "/v2/apps/") {
      if (method === "GET") {
        return sendJson(res, 200, {
          apps: [...deps.apps.apps.values()].map((a) => ({ ...marathonApp(a, tasksOf(a.id)), deployments: deps.deployments.of(a.id) })),
        });
      }
      if (method === "POST") {
        const app = parseApp(await readApp(req));
        try {
          await deps.apps.create(app);
        } catch (err) {
          if (err instanceof ConflictError) throw new HttpError(409, { message: `An app with id [${app.id}] already exists.` });
          throw err;
        }
        deps.events.emit("api_post_event", { clientIp: req.socket.remoteAddress, uri: `/v2/apps${app.id}`, appDefinition: app.json });
        const d = deps.deployments.start(app.id, "StartApplication");
        deps.reconcile();
        return sendJson(res, 201, { ...marathonApp(app, []), deployments: [{ id: d.id }] }, { location: `/v2/apps${app.id}` });
      }
      throw new HttpError(405, { message: `${method} is not allowed on /v2/apps` });
    }
    const m = /^\/v2\/apps(\/.+?)(?:\/(tasks)(?:\/([^/]+))?)?\/?$/.exec(path);
    if (!m) throw new HttpError(404, { message: `no route for ${method} ${path}` });
    const appId = canonicalAppId(m[1]!) ?? m[1]!;
    const app = deps.apps.apps.get(appId);
    if (m[2] === "tasks") {
      if (!app) throw notFound(appId);
      const taskId = m[3];
      if (taskId === undefined && method === "GET") {
        return sendJson(res, 200, { tasks: tasksOf(appId).map((t) => marathonTask(t, deps.state.agents.get(t.launch.agentId))) });
      }
      if (taskId !== undefined && method === "DELETE") {
        const task = tasksOf(appId).find((t) => t.launch.taskId === taskId);
        if (!task) throw new HttpError(404, { message: `Task '${taskId}' does not exist` });
        // Kill and scale are one step, as in Marathon: both are marked in memory before anything is awaited, so no
        // reconcile pass sees one without the other (it would kill another task, or launch a replacement).
        const killing = deps.killTask(task);
        const scaling =
          query.get("scale") === "true"
            ? deps.apps.put({
                ...app,
                instances: Math.max(0, app.instances - 1),
                json: { ...app.json, instances: Math.max(0, app.instances - 1) },
              })
            : undefined;
        await Promise.all([killing, scaling]);
        deps.reconcile();
        return sendJson(res, 200, { task: marathonTask(task, deps.state.agents.get(task.launch.agentId)) });
      }
      throw new HttpError(405, { message: `${method} is not allowed on ${path}` });
    }
    switch (method) {
      case "GET":
        if (!app) throw notFound(appId);
        return sendJson(res, 200, {
          app: {
            ...marathonApp(app, tasksOf(appId)),
            tasks: tasksOf(appId).map((t) => marathonTask(t, deps.state.agents.get(t.launch.agentId))),
          },
        });
      case "PUT": {
        const body = await readApp(req);
        let next: NormalizedApp;
        if (app) {
          const scale = scaleOnly(body);
          next = scale !== undefined ? { ...app, instances: scale, json: { ...app.json, instances: scale } } : mergeAppUpdate(app, body);
        } else {
          next = parseApp(body, { idFromPath: appId });
        }
        await deps.apps.put(next);
        deps.events.emit("api_post_event", { clientIp: req.socket.remoteAddress, uri: `/v2/apps${next.id}`, appDefinition: next.json });
        const d = deps.deployments.start(
          next.id,
          !app ? "StartApplication" : next.version === app.version ? "ScaleApplication" : "RestartApplication",
        );
        deps.reconcile();
        return sendJson(res, app ? 200 : 201, deployed(d));
      }
      case "DELETE":
        if (!app) throw notFound(appId);
        await deps.apps.delete(appId);
        deps.events.emit("app_terminated_event", { appId });
        const d = deps.deployments.start(appId, "StopApplication");
        deps.reconcile();
        return sendJson(res, 200, deployed(d));
      default:
        throw new HttpError(405, { message: `${method} is not allowed on ${path}` });
    }
  };

  return async (req, res) => {
    let path: string;
    let query: URLSearchParams;
    try {
      [path, query] = splitUrl(req.url);
    } catch (err) {
      if (!(err instanceof HttpError)) throw err;
      sendJson(res, err.status, err.body);
      return true;
    }
    if (!(path === "/ping" || path.startsWith("/v2/"))) return false;
    try {
      if (path === "/ping") {
        res.writeHead(200, { "content-type": "text/plain" });
        res.end("pong\n");
        return true;
      }
      if (path === "/v2/info" || path === "/v2/leader") {
        const leader = deps.leader();
        if (path === "/v2/leader")
          return (leader ? sendJson(res, 200, { leader }) : sendJson(res, 404, { message: "There is no leader" }), true);
        sendJson(res, 200, {
          name: "marathon",
          version: MARATHON_VERSION,
          leader: leader ?? null,
          frameworkId: deps.frameworkId(),
          elected: deps.isLeader(),
        });
        return true;
      }
      if (!deps.isLeader()) {
        await forward(req, res, deps.leader());
        return true;
      }
      if (path === "/v2/events") {
        deps.events.open(req, res, query.getAll("event_type"));
        return true;
      }
      await handle(req, res, path, query);
    } catch (err) {
      if (err instanceof AppValidationError) sendJson(res, 422, err.failure);
      else if (err instanceof HttpError) sendJson(res, err.status, err.body);
      else throw err;
    }
    return true;
  };
}

/** A non-leader passes the request to the leader (events: a 307, since a stream cannot be buffered). */
async function forward(req: http.IncomingMessage, res: http.ServerResponse, leader: string | undefined): Promise<void> {
  if (!leader) throw new HttpError(503, { message: "no leading Marathon yet" });
  const url = `http://${leader}${req.url ?? "/"}`;
  if ((req.url ?? "").startsWith("/v2/events")) {
    res.writeHead(307, { location: url });
    res.end();
    return;
  }
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const body = chunks.length ? Buffer.concat(chunks) : undefined;
  let upstream: Response;
  try {
    upstream = await fetch(url, {
      method: req.method ?? "GET",
      headers: { "content-type": String(req.headers["content-type"] ?? "application/json") },
      ...(body && req.method !== "GET" ? { body } : {}),
      redirect: "manual",
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    throw new HttpError(503, { message: `leading Marathon at ${leader} unreachable: ${(err as Error).message}` });
  }
  const text = Buffer.from(await upstream.arrayBuffer());
  res.writeHead(upstream.status, {
    "content-type": upstream.headers.get("content-type") ?? "application/json",
    "x-marathon-leader": leader,
  });
  res.end(text);
}
