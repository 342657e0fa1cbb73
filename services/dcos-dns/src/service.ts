/**
 * dcos-dns on one node: static zones, zones from the bus, the producer (masters), DNS listeners,
 * the HTTP and gRPC APIs, the resolv.conf generator. Wiring only; each concept is in its own file.
 */
import {
  type Bus,
  type HttpEndpoint,
  type Logger,
  type MemoryHub,
  type Registry,
  camelToSnake,
  clusterKey,
  connectBus,
  counter,
  createGrpcServer,
  defaultIPv4,
  gauge,
  histogram,
  invalidArgument,
  Lifecycle,
  serveHttp,
} from "@dcnet/core";
import { parseResolver, type Upstream } from "@dcnet/dns";
import { dcosdnsv1, descriptorSetPath } from "@dcnet/proto";
import { allAddresses, ensureLoopbackAddresses } from "./addresses";
import { Authority } from "./authority";
import { type DcosDnsConfig, upstreamsOf } from "./config";
import { cryptoIdFromClusterKey } from "./crypto-id";
import { dcosDnsService } from "./grpc-api";
import { dcosDnsRoutes } from "./http-api";
import { L4LB_BUCKET, L4lbZone } from "./l4lb-zone";
import { loopingUpstreams, upstreamsFromResolvConf } from "./loop-guard";
import { MesosMirror } from "./mesos-mirror";
import { ZoneProducer } from "./producer";
import { renderResolvConf, writeIfChanged } from "./resolvconf";
import { Router } from "./router";
import { type DcosDnsServer, createDcosDnsServer } from "./server";
import { type RecordValues, type ZoneData, absolute, countRecords, localhostZone, spartanZone, thisnodeZone, zkZone } from "./zone";
import { ZONE_BUCKET } from "./zone-codec";
import { ZonePublisher } from "./zone-publisher";
import { ZoneSync } from "./zone-sync";
import { vipsProxyRoute } from "./vips-proxy";

export interface DcosDns {
  readonly config: DcosDnsConfig;
  readonly lifecycle: Lifecycle;
  readonly authority: Authority;
  ports(): { dns: { ip: string; udp: number; tcp: number }[]; http: number; grpc: number };
  /** The producer, on masters (undefined elsewhere). */
  producer(): ZoneProducer | undefined;
  server(): DcosDnsServer;
}

export interface DcosDnsDeps {
  logger: Logger;
  registry: Registry;
  /** The in-process bus hub (embedded mode). */
  hub?: MemoryHub;
  /** A bus connection to share (aggregated mode); otherwise one is opened from config.bus. */
  bus?: Bus;
}

const RESOLV_CONF = "/etc/resolv.conf";

export function createDcosDns(config: DcosDnsConfig, deps: DcosDnsDeps): DcosDns {
  const log = deps.logger;
  const authority = new Authority(config.loadbalance);
  const nodeIp = config.nodeIp ?? defaultIPv4();
  const blacklist = new Set(config.bindIpBlacklist);
  const bindIps = [...new Set([...config.bindIps, ...(config.bindAll ? allAddresses() : [])])].filter((ip) => !blacklist.has(ip));
  const own = { ips: bindIps, ports: [config.udpPort, config.tcpPort].filter((p) => p > 0) };
  // The schema checked the configured bind IPs; `bind_all` adds the node's addresses only now.
  const loop = loopingUpstreams(config, own)[0];
  // The top-level key as in the file (zone names below it are kept as written).
  if (loop) throw invalidArgument([camelToSnake(String(loop.path[0])), ...loop.path.slice(1)].join("."), loop.message);
  const upstreams = upstreamsOf(config.upstreamResolvers ?? upstreamsFromResolvConf(RESOLV_CONF, own, log));
  const mesosDns: Upstream[] = upstreamsOf(config.mesosDns ?? config.masters.map((m) => (m.includes(":") ? `[${m}]:61053` : `${m}:61053`)));
  const key = clusterKey(config.cluster);
  const forwardZones = new Map(Object.entries(config.forwardZones).map(([z, list]) => [absolute(z), upstreamsOf(list)] as const));
  const router = new Router({ forwardZones, upstreams, cryptoId: key ? cryptoIdFromClusterKey(key) : null });
  const sources = new Map<string, string>();
  const listeners = new Set<(zone: string, removed: boolean) => void>();
  const notify = (zone: string, removed: boolean) => {
    for (const l of listeners) l(zone, removed);
  };
  // The same gauge zone-sync.ts sets for the zones from the bus: every zone served has its count.
  const zoneRecords = gauge(deps.registry, "dns_zone_records", "Records in each zone served", ["zone"]);
  const setLocal = (z: ZoneData, source: "static" | "local") => {
    authority.setZone(z);
    zoneRecords.labels(z.zone).set(countRecords(z.records));
    sources.set(z.zone, source);
    notify(z.zone, false);
  };
  const server = createDcosDnsServer({
    authority,
    router: () => router,
    mesosDns: () => mesosDns,
    bindIps,
    udpPort: config.udpPort,
    tcpPort: config.tcpPort,
    udpEnabled: config.udpServerEnabled,
    tcpEnabled: config.tcpServerEnabled,
    handlerLimit: config.handlerLimit,
    ednsUdpSize: config.ednsUdpSize,
    perUpstreamMs: config.upstreamTimeoutMs,
    overallMs: config.forwardTimeoutMs,
    logger: log,
    registry: deps.registry,
  });
  const ports = { dns: [] as { ip: string; udp: number; tcp: number }[], http: 0, grpc: 0 };
  let bus: Bus | undefined;
  let ownBus = false;
  let sync: ZoneSync | undefined;
  let l4lbZone: L4lbZone | undefined;
  let producer: ZoneProducer | undefined;
  let publisher: ZonePublisher | undefined;
  let http: HttpEndpoint | undefined;
  let resolvTimer: NodeJS.Timeout | undefined;
  const grpc = createGrpcServer({ logger: log, descriptorSetPath });

  const lifecycle = new Lifecycle(log)
    .add(
      "static zones",
      async () => {
        setLocal(spartanZone(), "static");
        setLocal(localhostZone(), "static");
        setLocal(zkZone(config.masters), "static");
        setLocal(thisnodeZone(nodeIp, config.publicIps), "local");
        for (const [zone, entries] of Object.entries(config.zones)) {
          const records = new Map<string, RecordValues>();
          for (const e of entries) records.set(absolute(e.name), { cname: absolute(e.value) });
          setLocal({ zone: absolute(zone), records }, "static");
        }
      },
      async () => undefined,
    )
    .add(
      "bus zones",
      async () => {
        if (!config.bus && !deps.bus) {
          log.info("no bus configured: standalone (static zones, .mesos forwarding and upstreams only)");
          return;
        }
        if (deps.bus) bus = deps.bus;
        else {
          bus = await connectBus({
            cluster: config.cluster,
            bus: config.bus!,
            nodeId: `dcos-dns@${config.node.id ?? nodeIp}`,
            logger: log,
            registry: deps.registry,
            ...(deps.hub ? { hub: deps.hub } : {}),
          });
          ownBus = true;
        }
        const kv = await bus.kv(ZONE_BUCKET);
        sync = new ZoneSync(kv, authority, { logger: log, registry: deps.registry, bus });
        sync.onApplied((zone) => {
          const removed = !authority.hasZone(zone);
          if (removed) sources.delete(zone);
          else sources.set(zone, "bus");
          notify(zone, removed);
        });
        await sync.start();
        l4lbZone = new L4lbZone(await bus.kv(L4LB_BUCKET), { logger: log, onZone: (z) => setLocal(z, "local") });
        await l4lbZone.start();
        if (config.producer.enabled) {
          const pushDuration = histogram(
            deps.registry,
            "dns_zone_push_duration_seconds",
            "Time to write a zone to the bus",
            ["zone"],
            [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
          );
          const deltas = counter(deps.registry, "dns_zone_deltas_sent_total", "Zone deltas published (sent) or too big to send", [
            "zone",
            "sent",
          ]);
          publisher = new ZonePublisher(kv, {
            logger: log,
            intervalMs: config.producer.pushIntervalMs,
            bus,
            // Changes reach the nodes as deltas at once; their snapshot follows one interval later.
            snapshotTrailsDeltas: true,
            onDelta: (zone, _names, _bytes, sent) => deltas.labels(zone, String(sent)).inc(),
            onPushed: (zone, secs, bytes) => {
              pushDuration.labels(zone).observe(secs);
              log.debug({ zone, bytes, ms: Math.round(secs * 1000) }, "zone pushed");
            },
          });
          const p = config.producer;
          producer = new ZoneProducer({
            masters: p.mesosMasters,
            self: p.mesosMasters[0]!,
            masterIps: () => config.masters,
            publisher,
            mirror: p.mesosDnsGrpc ? new MesosMirror({ target: p.mesosDnsGrpc, domain: p.mesosDnsDomain, logger: log }) : undefined,
            logger: log,
            recoveryTimeoutMs: p.recoveryTimeoutMs,
            settleMs: p.settleMs,
            connectTimeoutMs: p.connectTimeoutMs,
          });
          producer.start();
        }
      },
      async () => {
        await producer?.stop();
        publisher?.stop();
        l4lbZone?.stop();
        sync?.stop();
        if (ownBus) await bus?.close();
      },
    )
    .add(
      "addresses",
      async () => {
        if (!config.manageAddresses) return;
        const added = await ensureLoopbackAddresses(bindIps);
        if (added.length) log.info({ added }, "listener addresses added to lo");
      },
      async () => undefined,
    )
    .add(
      "dns",
      async () => {
        ports.dns = await server.start();
        log.info(
          { listeners: ports.dns, upstreams: upstreams.map((u) => u.label), mesosDns: mesosDns.map((u) => u.label) },
          "DNS listening",
        );
      },
      () => server.stop(),
    )
    .add(
      "http",
      async () => {
        http = await serveHttp(deps.registry, config.httpListen, [
          ...(config.l4lbRest !== "" ? [vipsProxyRoute(config.l4lbRest)] : []),
          dcosDnsRoutes({ authority, router: () => router, registry: deps.registry }),
        ]);
        ports.http = http.port;
      },
      async () => http?.close(),
    )
    .add(
      "grpc",
      async () => {
        grpc.add(
          "dcnet.dcosdns.v1.DcosDnsService",
          dcosdnsv1.DcosDnsServiceService,
          dcosDnsService({
            server,
            authority,
            router: () => router,
            events: {
              source: (z) => sources.get(z) ?? "local",
              subscribe: (cb) => {
                listeners.add(cb);
                return () => listeners.delete(cb);
              },
            },
          }),
        );
        ports.grpc = await grpc.listen(config.grpcListen.host, config.grpcListen.port);
        log.info({ http: ports.http, grpc: ports.grpc }, "APIs listening");
      },
      () => grpc.stop(1000),
    )
    .add(
      "resolvconf",
      async () => {
        const rc = config.resolvconf;
        if (!rc.enabled) return;
        const own = ports.dns
          .filter((d) => d.udp > 0)
          .map((d) => parseResolver(`${d.ip.includes(":") ? `[${d.ip}]` : d.ip}:${d.udp}`))
          .filter((u): u is Upstream => u !== null);
        const warned = new Set<string>();
        const warn = (msg: string) => {
          // Once per distinct reason, not every interval.
          if (warned.has(msg)) return;
          warned.add(msg);
          log.warn({ path: rc.path }, msg);
        };
        const run = async () => {
          try {
            const text = await renderResolvConf({ listeners: own, upstreams, search: rc.search, warn });
            if (writeIfChanged(rc.path, text)) log.info({ path: rc.path }, "resolv.conf rewritten");
          } catch (err) {
            log.warn({ err: (err as Error).message, path: rc.path }, "resolv.conf generation failed");
          }
        };
        await run();
        resolvTimer = setInterval(() => void run(), rc.intervalMs);
        resolvTimer.unref();
      },
      async () => clearInterval(resolvTimer),
    );

  return {
    config,
    lifecycle,
    authority,
    ports: () => ({ ...ports, dns: [...ports.dns] }),
    producer: () => producer,
    server: () => server,
  };
}
