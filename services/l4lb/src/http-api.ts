/**
 * l4lb's REST API (spec §7; dcos-net serves it on 62080, we on `http_listen`, default 62081):
 *
 * - `GET /v1/vips` — dcos-net's shape, straight from the cluster table (every published backend,
 *   reachable or not, weight not shown):
 *   `[{"vip":"<ip>:<port>"|"<name>.<fw>.l4lb.thisdcos.directory:<port>","protocol":"tcp|udp","backend":[{"ip","port"}]}]`
 *   (IPv6 VIP addresses written `[v6]:port`). Header `ETag` = base64(SHA-1(body)); `If-None-Match`
 *   with it → 304.
 * - `GET /v1/vips/detail` (or `/v1/vips?detail`) — ours: `{vips:[VipView…], problems:[…],
 *   unreachableAgents:[…], dataplane:{mode, entries, lastAppliedMs, lastError, warnings, socketLb}}` with
 *   weights, reachability, the addresses served and label problems.
 * - `GET /v1/metrics` — Prometheus text (as `/metrics`).
 *
 * GET only: other methods → 405 with a reason.
 */
import { createHash } from "node:crypto";
import type * as http from "node:http";
import type { Registry } from "@dcnet/core";
import type { L4lbSnapshot } from "./service";

/** One entry of dcos-net's `/v1/vips`. */
export interface CompatVip {
  vip: string;
  protocol: "tcp" | "udp";
  backend: { ip: string; port: number }[];
}

export function compatVips(s: L4lbSnapshot): CompatVip[] {
  return s.vips.map((v) => {
    const seen = new Set<string>();
    const backend: { ip: string; port: number }[] = [];
    for (const b of v.backends) {
      const k = `${b.ip} ${b.port}`;
      if (seen.has(k)) continue;
      seen.add(k);
      backend.push({ ip: b.ip, port: b.port });
    }
    return { vip: v.vip, protocol: v.protocol, backend };
  });
}

function send(req: http.IncomingMessage, res: http.ServerResponse, status: number, body: unknown, etag = false): void {
  const text = JSON.stringify(body);
  const headers: Record<string, string | number> = { "content-type": "application/json" };
  if (etag) {
    const tag = `"${createHash("sha1").update(text).digest("base64")}"`;
    headers["etag"] = tag;
    if (req.headers["if-none-match"] === tag) {
      res.writeHead(304, headers);
      res.end();
      return;
    }
  }
  headers["content-length"] = Buffer.byteLength(text);
  res.writeHead(status, headers);
  res.end(text);
}

export function l4lbRoutes(deps: {
  snapshot: () => L4lbSnapshot;
  registry: Registry;
}): (req: http.IncomingMessage, res: http.ServerResponse) => Promise<boolean> {
  return async (req, res) => {
    // The request target is origin-form (`/path?query`): `//x/…` is a path, not an authority
    // (as a relative URL it would be, and `//` or `//[` would not parse at all).
    const target = req.url ?? "/";
    let url: URL;
    try {
      url = new URL(target.startsWith("/") ? `http://x${target}` : target);
    } catch {
      send(req, res, 400, { error: "invalid_argument", reason: `the request target ${JSON.stringify(target)} is not a URL path` });
      return true;
    }
    const path = url.pathname.replace(/\/+$/, "");
    if (!path.startsWith("/v1/")) return false;
    if (path !== "/v1/vips" && path !== "/v1/vips/detail" && path !== "/v1/metrics") return false;
    if (req.method !== "GET" && req.method !== "HEAD") {
      send(req, res, 405, { error: "method_not_allowed", reason: `${req.method} is not supported; the API is read-only (GET)` });
      return true;
    }
    if (path === "/v1/metrics") {
      res.writeHead(200, { "content-type": deps.registry.contentType });
      res.end(await deps.registry.metrics());
      return true;
    }
    const s = deps.snapshot();
    if (path === "/v1/vips/detail" || url.searchParams.has("detail")) send(req, res, 200, s, true);
    else send(req, res, 200, compatVips(s), true);
    return true;
  };
}
