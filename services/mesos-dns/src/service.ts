import { createGrpcServer, Lifecycle, readConfigFile, serveHttp, type HttpEndpoint, type Logger, type Registry } from "@dcnet/core";
import { descriptorSetPath, mesosdnsv1 } from "@dcnet/proto";
import { configForDisplay, parseMesosDnsConfig } from "./config";
import { createDnsServer, type DnsServer } from "./dns/server";
import { mesosDnsService } from "./grpc-api";
import { mesosDnsRoutes } from "./http/api";
import type { MesosDnsConfig } from "./model";
import { Reloader } from "./state/reloader";

export interface MesosDnsOptions {
  /** Path of an upstream Mesos-DNS config.json (as given to `--config`). */
  file?: string | undefined;
  /** Environment for MESOS_DNS_* overrides. */
  env: Record<string, string | undefined>;
  /** gRPC port (not an upstream key; DCNET_MESOS_DNS_GRPC_PORT in the CLI); 0 = any; undefined = off. */
  grpcPort?: number | undefined;
  /** Follow the master's Operator API stream for immediate reloads (default true). */
  subscribe?: boolean;
}

export interface MesosDns {
  readonly config: MesosDnsConfig;
  readonly lifecycle: Lifecycle;
  readonly reloader: Reloader;
  ports(): { dnsUdp: number; dnsTcp: number; http: number; grpc: number };
}

/** Reads and validates the config (upstream config.json + MESOS_DNS_* environment). */
export function loadMesosDnsConfig(opts: Pick<MesosDnsOptions, "file" | "env">, warn: (msg: string) => void): MesosDnsConfig {
  return parseMesosDnsConfig(opts.file ? readConfigFile(opts.file) : {}, { env: opts.env, warn });
}

/**
 * Mesos-DNS: reload records from the leading master, then serve DNS (UDP and
 * TCP), the HTTP API with /metrics, and gRPC. As upstream, the servers start
 * only after the first successful reload.
 */
export function createMesosDns(config: MesosDnsConfig, opts: MesosDnsOptions, deps: { logger: Logger; registry: Registry }): MesosDns {
  const log = deps.logger;
  const reloader = new Reloader(config, { log, registry: deps.registry, subscribe: opts.subscribe ?? true });
  const ports = { dnsUdp: 0, dnsTcp: 0, http: 0, grpc: 0 };
  let dns: DnsServer | undefined;
  let http: HttpEndpoint | undefined;
  const grpc = createGrpcServer({ logger: log, descriptorSetPath });

  const lifecycle = new Lifecycle(log)
    .add(
      "first reload",
      async () => {
        log.info({ masters: config.masters }, "waiting for the first successful reload");
        await reloader.start();
        log.info({ serial: reloader.current?.serial, from: reloader.current?.from }, "records loaded");
      },
      async () => reloader.stop(),
    )
    .add(
      "dns",
      async () => {
        if (!config.dnsOn) return;
        dns = createDnsServer({ config, logger: log, registry: deps.registry });
        const cur = reloader.current!;
        dns.update(cur.set, cur.serial);
        reloader.on("generation", (g: { set: typeof cur.set; serial: number }) => dns?.update(g.set, g.serial));
        const bound = await dns.start();
        ports.dnsUdp = bound.udp;
        ports.dnsTcp = bound.tcp;
        log.info({ listener: config.listener, udp: bound.udp, tcp: bound.tcp, domain: config.domain }, "DNS listening");
      },
      async () => dns?.stop(),
    )
    .add(
      "http",
      async () => {
        if (!config.httpOn) return;
        http = await serveHttp(deps.registry, { host: config.httpListener, port: config.httpPort }, [
          mesosDnsRoutes({
            config,
            current: () => reloader.current,
            displayConfig: (serial) => configForDisplay(config, serial, opts.file ?? ""),
          }),
        ]);
        ports.http = http.port;
        log.info({ listener: config.httpListener, port: http.port }, "HTTP API listening");
      },
      async () => http?.close(),
    )
    .add(
      "grpc",
      async () => {
        if (opts.grpcPort === undefined) return;
        grpc.add("dcnet.mesosdns.v1.MesosDnsService", mesosdnsv1.MesosDnsServiceService, mesosDnsService(reloader));
        ports.grpc = await grpc.listen(config.httpListener, opts.grpcPort);
        log.info({ port: ports.grpc }, "gRPC listening");
      },
      () => grpc.stop(1000),
    );
  return { config, lifecycle, reloader, ports: () => ({ ...ports }) };
}
