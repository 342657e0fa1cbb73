import type * as http from "node:http";
import type { HttpRoute } from "@dcnet/core";
import { agentState, v1GetAgent, v1GetState, type AgentView } from "./state";

const MAX_BODY = 1 << 20;

function send(res: http.ServerResponse, status: number, body: unknown): true {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
  return true;
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new Error(`request body larger than ${MAX_BODY} bytes`));
        req.destroy();
      } else chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

const SUPPORTED = ["GET_STATE", "GET_TASKS", "GET_FRAMEWORKS", "GET_EXECUTORS", "GET_AGENT", "GET_HEALTH"];

/** The v1 agent API (`POST /api/v1`, JSON only): the read-only calls in SUPPORTED. */
export function v1Call(body: string, view: AgentView): { status: number; body: unknown } {
  let call: unknown;
  try {
    call = JSON.parse(body);
  } catch (err) {
    return { status: 400, body: { error: "bad_request", reason: `malformed JSON: ${(err as Error).message}` } };
  }
  const type = typeof call === "object" && call !== null ? (call as { type?: unknown }).type : undefined;
  if (typeof type !== "string") return { status: 400, body: { error: "bad_request", reason: 'expected an object with a string "type"' } };
  switch (type) {
    case "GET_STATE":
      return { status: 200, body: { type, get_state: v1GetState(view) } };
    case "GET_TASKS":
      return { status: 200, body: { type, get_tasks: v1GetState(view).get_tasks } };
    case "GET_FRAMEWORKS":
      return { status: 200, body: { type, get_frameworks: v1GetState(view).get_frameworks } };
    case "GET_EXECUTORS":
      return { status: 200, body: { type, get_executors: v1GetState(view).get_executors } };
    case "GET_AGENT":
      return { status: 200, body: { type, get_agent: v1GetAgent(view) } };
    case "GET_HEALTH":
      return { status: 200, body: { type, get_health: { healthy: true } } };
    default:
      return { status: 400, body: { error: "bad_request", reason: `unsupported call type ${type} (supported: ${SUPPORTED.join(", ")})` } };
  }
}

/** Routes for serveHttp: `GET /state`, `/state.json`, `/health`, `POST /api/v1`. */
export function agentRoutes(view: () => AgentView): HttpRoute[] {
  return [
    async (req, res) => {
      const path = req.url?.split("?")[0] ?? "";
      if (req.method === "GET" && (path === "/state" || path === "/state.json" || path === "/slave(1)/state")) {
        return send(res, 200, agentState(view()));
      }
      if (req.method === "GET" && path === "/health") {
        res.writeHead(200).end();
        return true;
      }
      if (path !== "/api/v1") return false;
      if (req.method !== "POST") return send(res, 405, { error: "method_not_allowed", reason: "use POST /api/v1" });
      const type = req.headers["content-type"] ?? "application/json";
      if (!/json/i.test(type))
        return send(res, 415, { error: "unsupported_media_type", reason: `only application/json is supported, got ${type}` });
      let body: string;
      try {
        body = await readBody(req);
      } catch (err) {
        return send(res, 413, { error: "too_large", reason: (err as Error).message });
      }
      const out = v1Call(body, view());
      return send(res, out.status, out.body);
    },
  ];
}
