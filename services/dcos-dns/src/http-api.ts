/**
 * dcos-dns's REST API (§7, Mesos-DNS-compatible shapes): `/v1/version`, `/v1/hosts/{host}` (A),
 * `/v1/services/{service}` (SRV, target resolved to A), `/v1/records` (every A, AAAA and SRV record
 * of every zone, streamed), `/v1/metrics`
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
    // The request target is origin-form (`/path?query`): `//x/…` is a path, not an authority
    // (as a relative URL it would be, and `//` or `//[` would not parse at all).
    const target = req.url ?? "/";
    let raw: string;
    let path: string;
    try {
      raw = new URL(target.startsWith("/") ? `http://x${target}` : target).pathname;
    } catch {
      send(res, 400, { error: "invalid_argument", reason: `the request target ${JSON.stringify(target)} is not a URL path` });
      return true;
    }
    try {
      path = decodeURIComponent(raw);
    } catch {
      send(res, 400, { error: "invalid_argument", reason: `the path ${JSON.stringify(raw)} is not valid percent-encoding` });
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
      // §7: A records only (as Mesos-DNS's /v1/hosts).
      const r = resolve(m[1]!);
      send(
        res,
        200,
        (r.values?.a ?? []).map((ip) => ({ host: r.name, ip })),
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
        // §7: the SRV target resolved to A.
        const ip = t?.a?.[0];
        out.push({ service: r.name, host, port: s.port, ...(ip ? { ip } : {}) });
      }
      send(res, 200, out);
      return true;
    }
    if (path === "/v1/records") {
      // §7: a streamed JSON array of A, AAAA and SRV records (SRV host = `target:port`) over all zones.
      res.writeHead(200, { "content-type": "application/json" });
      let batch = "[";
      let first = true;
      const add = (name: string, host: string, rtype: string) => {
        batch += (first ? "" : ",") + JSON.stringify({ name, host, rtype });
        first = false;
        if (batch.length >= 16_384) {
          res.write(batch);
          batch = "";
        }
      };
      for (const z of deps.authority.zones())
        for (const [name, v] of z.records) {
          for (const ip of v.a ?? []) add(name, ip, "A");
          for (const ip of v.aaaa ?? []) add(name, ip, "AAAA");
          for (const s of v.srv ?? []) add(name, `${absolute(s.target)}:${s.port}`, "SRV");
        }
      res.end(batch + "]");
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
