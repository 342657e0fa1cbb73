import type * as http from "node:http";
import type { Enumeration, MesosDnsConfig, RecordSet } from "../model";

export const MESOS_DNS_VERSION = "v0.7.0-dcnet";

/** Upstream's lookup key: lower-cased, every `.*` removed, one trailing dot (§5). */
export function lookupKey(name: string): string {
  const k = name.toLowerCase().split(".*").join("");
  return k.endsWith(".") ? k : `${k}.`;
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, null, 2);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

function text(res: http.ServerResponse, status: number, body: string): void {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

const pick = <T>(values: readonly T[] | undefined): T | undefined =>
  values && values.length ? values[Math.floor(Math.random() * values.length)] : undefined;

/**
 * The /v1/enumerate body in upstream's JSON shape (Go struct field order: a framework's `tasks`
 * before its `name`; a task's `records` is Go's nil slice, `null`, when the task added no record).
 */
export function enumerationBody(e: Enumeration): unknown {
  return {
    frameworks: e.frameworks.map((f) => ({
      tasks: f.tasks.map((t) => ({
        name: t.name,
        id: t.id,
        records: t.records.length === 0 ? null : t.records.map((r) => ({ name: r.name, host: r.host, rtype: r.rtype })),
      })),
      name: f.name,
    })),
  };
}

export interface HttpApiDeps {
  config: MesosDnsConfig;
  /** The served set and its serial; undefined before the first reload. */
  current: () => { set: RecordSet; serial: number } | undefined;
  /** The `/v1/config` body (upstream field names, no secrets). */
  displayConfig: (serial: number) => unknown;
  /** Counts HTTP lookups like DNS ones (upstream bumps the same counters). */
  onLookup?: (kind: "hosts" | "services", found: boolean) => void;
}

/**
 * Mesos-DNS's HTTP API (§5): GET only, pretty-printed JSON; unknown paths
 * 404 `404: Page Not Found` as text, like upstream.
 */
export function mesosDnsRoutes(deps: HttpApiDeps): (req: http.IncomingMessage, res: http.ServerResponse) => boolean {
  return (req, res) => {
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
    if (raw === "/metrics") return false;
    try {
      path = decodeURIComponent(raw);
    } catch {
      // Go's server answers 400 too (a plain-text "400 Bad Request"); ours names the problem, in JSON.
      send(res, 400, { error: "invalid_argument", reason: `the path "${raw}" is not valid percent-encoding` });
      return true;
    }
    if (req.method !== "GET") {
      text(res, 405, "405: Method Not Allowed");
      return true;
    }
    const cur = deps.current();
    if (path === "/v1/version") {
      send(res, 200, { Service: "Mesos-DNS", URL: "https://github.com/mesosphere/mesos-dns", Version: MESOS_DNS_VERSION });
      return true;
    }
    if (path === "/v1/config") {
      send(res, 200, deps.displayConfig(cur?.serial ?? 0));
      return true;
    }
    let m = /^\/v1\/hosts\/([^/]+)\/ports$/.exec(path);
    if (m) {
      text(res, 501, "To be implemented...");
      return true;
    }
    m = /^\/v1\/hosts\/([^/]+)$/.exec(path);
    if (m) {
      const key = lookupKey(m[1]!);
      const ips = [...(cur?.set.a.get(key) ?? []), ...(cur?.set.aaaa.get(key) ?? [])];
      deps.onLookup?.("hosts", ips.length > 0);
      send(res, 200, ips.length ? ips.map((ip) => ({ host: key, ip })) : [{ host: "", ip: "" }]);
      return true;
    }
    m = /^\/v1\/services\/([^/]+)$/.exec(path);
    if (m) {
      const service = m[1]!;
      const out: { service: string; host: string; ip: string; port: string }[] = [];
      for (const v of cur?.set.srv.get(lookupKey(service)) ?? []) {
        const i = v.lastIndexOf(":");
        const host = v.slice(0, i);
        const port = v.slice(i + 1);
        const a = pick(cur?.set.a.get(host));
        const aaaa = pick(cur?.set.aaaa.get(host));
        if (a) out.push({ service, host, ip: a, port });
        if (aaaa) out.push({ service, host, ip: aaaa, port });
      }
      deps.onLookup?.("services", out.length > 0);
      send(res, 200, out.length ? out : [{ service: "", host: "", ip: "", port: "" }]);
      return true;
    }
    if (deps.config.enumerationOn && path === "/v1/enumerate") {
      send(res, 200, cur ? enumerationBody(cur.set.enumeration) : { frameworks: null });
      return true;
    }
    if (deps.config.enumerationOn && path === "/v1/axfr") {
      const obj = (mp: ReadonlyMap<string, readonly string[]> | undefined): Record<string, readonly string[]> =>
        Object.fromEntries(mp ?? []);
      send(res, 200, {
        TTL: deps.config.ttl,
        Serial: cur?.serial ?? 0,
        RefreshSeconds: deps.config.refreshSeconds,
        Mname: deps.config.soaMname,
        Rname: deps.config.soaRname,
        Domain: deps.config.domain,
        Records: { As: obj(cur?.set.a), AAAAs: obj(cur?.set.aaaa), SRVs: obj(cur?.set.srv) },
      });
      return true;
    }
    text(res, 404, "404: Page Not Found");
    return true;
  };
}
