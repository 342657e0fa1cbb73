import * as http from "node:http";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export { Counter, Gauge, Histogram, Registry };

/** A registry with Node's default process metrics, one per process. */
export function createRegistry(options: { defaultMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  return registry;
}

/**
 * Returns the metric of that name if already registered (several embedded
 * nodes share one registry), or registers a new one.
 */
export function counter<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[]): Counter<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<L>;
  return new Counter({ name, help, labelNames, registers: [registry] });
}

export function gauge<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[]): Gauge<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Gauge<L>;
  return new Gauge({ name, help, labelNames, registers: [registry] });
}

export function histogram<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[],
  buckets?: number[],
): Histogram<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Histogram<L>;
  return new Histogram({ name, help, labelNames, registers: [registry], ...(buckets ? { buckets } : {}) });
}

/**
 * `metric.labels(...values)` looked up once per distinct value list and kept: prom-client builds
 * and hashes a label string on every `labels()` call, too much for a metric observed on every
 * query. Only for label values from a small set (every distinct list is kept while `metric` is).
 */
export function labelledChild<C>(metric: { labels(...values: string[]): C }): (...values: string[]) => C {
  const children = new Map<string, C>();
  return (...values) => {
    const key = values.length === 1 ? values[0]! : values.join("\u0000");
    let child = children.get(key);
    if (child === undefined) children.set(key, (child = metric.labels(...values)));
    return child;
  };
}

export interface HttpEndpoint {
  readonly port: number;
  readonly address: string;
  close(): Promise<void>;
}

export type HttpRoute = (req: http.IncomingMessage, res: http.ServerResponse) => boolean | Promise<boolean>;

/**
 * An HTTP server for `/metrics` (Prometheus text format) plus any routes a
 * service adds (a route returns true when it answered). Unknown paths get 404
 * with a JSON reason.
 */
export async function serveHttp(
  registry: Registry,
  listen: { host: string; port: number },
  routes: HttpRoute[] = [],
): Promise<HttpEndpoint> {
  const server = http.createServer((req, res) => {
    void (async () => {
      try {
        if (req.method === "GET" && req.url?.split("?")[0] === "/metrics") {
          res.writeHead(200, { "content-type": registry.contentType });
          res.end(await registry.metrics());
          return;
        }
        for (const route of routes) if (await route(req, res)) return;
        res.writeHead(404, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: "not_found", reason: `no route for ${req.method} ${req.url}` }));
      } catch (err) {
        if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: "internal", reason: err instanceof Error ? err.message : String(err) }));
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(listen.port, listen.host, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : listen.port;
  return {
    port,
    address: listen.host,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
