/**
 * dcos-dns's REST API (§7, Mesos-DNS-compatible shapes): `/v1/version`, `/v1/hosts/{host}`,
 * `/v1/services/{service}`, `/v1/records` (every record of every zone), `/v1/metrics`
 * (Prometheus text), `/v1/zones` (ours: each zone with its record count); `/v1/config` and
 * `/v1/enumerate` answer 501 as in dcos-net. Lookups go through the router, so renamed suffixes
 * (`dclb`, `thisdcos.global`, crypto id) work here too. GET only: other methods → 405 with a reason.
 */
import type * as http from "node:http";
import type { Registry } from "@dcnet/core";
import type { Authority } from "./authority";
import type { Router } from "./router";
import { absolute, countRecords } from "./zone";

export const DCOS_DNS_VERSION = "0.1.0-dcnet";

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

export interface HttpApiDeps {
  authority: Authority;
  router: () => Router;
  registry: Registry;
}

export function dcosDnsRoutes(deps: HttpApiDeps): (req: http.IncomingMessage, res: http.ServerResponse) => Promise<boolean> {
  const resolve = (raw: string) => {
    const name = absolute(raw);
    const route = deps.router().route(name);
    if (route.kind !== "internal") return { name, route, values: undefined, map: null };
    const found = deps.authority.lookup(route.name);
    return { name, route, values: found?.values, map: route.map };
  };
  return async (req, res) => {
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    } catch {
      send(res, 400, { error: "invalid_argument", reason: "the path is not valid percent-encoding" });
      return true;
    }
    if (!path.startsWith("/v1/")) return false;
    if (req.method !== "GET") {
      send(res, 405, { error: "method_not_allowed", reason: `${req.method} is not supported; the API is read-only (GET)` });
      return true;
    }
    if (path === "/v1/version") {
      send(res, 200, { Service: "dcos-dns", Version: DCOS_DNS_VERSION });
      return true;
    }
    if (path === "/v1/config" || path === "/v1/enumerate") {
      send(res, 501, { error: "not_implemented", reason: `${path} is not provided by dcos-dns (as in dcos-net)` });
      return true;
    }
    if (path === "/v1/metrics") {
      res.writeHead(200, { "content-type": deps.registry.contentType });
      res.end(await deps.registry.metrics());
      return true;
    }
    let m = /^\/v1\/hosts\/([^/]+)$/.exec(path);
    if (m) {
      const r = resolve(m[1]!);
      const ips = [...(r.values?.a ?? []), ...(r.values?.aaaa ?? [])];
      send(
        res,
        200,
        ips.map((ip) => ({ host: r.name, ip })),
      );
      return true;
    }
    m = /^\/v1\/services\/([^/]+)$/.exec(path);
    if (m) {
      const r = resolve(m[1]!);
      const out: { service: string; host: string; port: number; ip?: string }[] = [];
      for (const s of r.values?.srv ?? []) {
        const target = absolute(s.target);
        const t = deps.authority.lookup(target)?.values;
        const host = r.map ? r.map(target) : target;
        const ip = t?.a?.[0] ?? t?.aaaa?.[0];
        out.push({ service: r.name, host, port: s.port, ...(ip ? { ip } : {}) });
      }
      send(res, 200, out);
      return true;
    }
    if (path === "/v1/records") {
      const out: { name: string; host: string; rtype: string }[] = [];
      for (const z of deps.authority.zones())
        for (const [name, v] of z.records) {
          for (const ip of v.a ?? []) out.push({ name, host: ip, rtype: "A" });
          for (const ip of v.aaaa ?? []) out.push({ name, host: ip, rtype: "AAAA" });
          for (const s of v.srv ?? []) out.push({ name, host: `${absolute(s.target)}:${s.port}`, rtype: "SRV" });
          if (v.cname) out.push({ name, host: absolute(v.cname), rtype: "CNAME" });
        }
      send(res, 200, out);
      return true;
    }
    if (path === "/v1/zones") {
      send(
        res,
        200,
        deps.authority.zones().map((z) => ({ zone: z.zone, names: z.records.size, records: countRecords(z.records) })),
      );
      return true;
    }
    send(res, 404, { error: "not_found", reason: `no route for GET ${path}` });
    return true;
  };
}
