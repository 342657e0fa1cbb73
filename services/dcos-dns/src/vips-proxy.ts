/**
 * `GET /v1/vips` on dcos-dns's REST port (62080), as dcos-net serves it there (§7; the masters'
 * Admin Router exposes that port as `/net`, so clients ask `/net/v1/vips`). The VIP table is
 * l4lb's: this route passes the request to l4lb's own REST API (`l4lb_rest`, default
 * 127.0.0.1:62081, the same node) and its answer back unchanged — status, body, `ETag` (and 304
 * for a matching `If-None-Match`). `/v1/vips/detail` (ours) goes the same way.
 *
 * When l4lb does not answer (not running on this node, or a split layout without it): 502 with a
 * JSON reason naming the address. `l4lb_rest: ""` turns the route off (then 404 like any unknown path).
 */
import * as http from "node:http";

/** Request headers passed on to l4lb; response headers passed back. */
const REQUEST_HEADERS = ["if-none-match", "accept"] as const;
const RESPONSE_HEADERS = ["content-type", "etag", "cache-control"] as const;

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/** `host:port` (IPv6 `[addr]:port`) → the parts; undefined when it is not one. */
export function parseHostPort(s: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(s);
  const port = Number(m?.[3]);
  if (!m || !Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  return { host: m[1] ?? m[2]!, port };
}

export function vipsProxyRoute(
  target: string,
  timeoutMs = 5000,
): (req: http.IncomingMessage, res: http.ServerResponse) => Promise<boolean> {
  const to = parseHostPort(target);
  if (!to) throw new Error(`l4lb_rest: "${target}" is not host:port`);
  return (req, res) => {
    const url = req.url ?? "/";
    const path = url.split("?")[0]!;
    if (path !== "/v1/vips" && !path.startsWith("/v1/vips/")) return Promise.resolve(false);
    if (req.method !== "GET") {
      sendJson(res, 405, { error: "method_not_allowed", reason: `${req.method} is not supported; the API is read-only (GET)` });
      return Promise.resolve(true);
    }
    const headers: http.OutgoingHttpHeaders = {};
    for (const h of REQUEST_HEADERS) if (req.headers[h] !== undefined) headers[h] = req.headers[h];
    return new Promise<boolean>((resolve) => {
      const fail = (why: string): void => {
        if (!res.headersSent) sendJson(res, 502, { error: "unavailable", reason: `l4lb's REST API at ${target} ${why}` });
        else res.destroy();
        resolve(true);
      };
      const out = http.get({ host: to.host, port: to.port, path: url, headers, agent: false, timeout: timeoutMs }, (up) => {
        const back: http.OutgoingHttpHeaders = {};
        for (const h of RESPONSE_HEADERS) if (up.headers[h] !== undefined) back[h] = up.headers[h];
        res.writeHead(up.statusCode ?? 502, back);
        up.pipe(res);
        up.on("end", () => resolve(true));
        up.on("error", (err) => fail(`failed mid-answer: ${err.message}`));
      });
      let timedOut = false;
      out.on("timeout", () => {
        timedOut = true;
        out.destroy();
      });
      out.on("error", (err: NodeJS.ErrnoException) =>
        fail(timedOut ? `did not answer within ${timeoutMs} ms` : `does not answer: ${err.code ?? err.message}`),
      );
    });
  };
}
