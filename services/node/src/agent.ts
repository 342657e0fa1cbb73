import * as os from "node:os";
import { NodeRole, NodeServiceService, descriptorSetPath, type NodeIdentity } from "@dcnet/proto";
import {
  Lifecycle,
  Membership,
  connectBus,
  createGrpcServer,
  gauge,
  serveHttp,
  type Bus,
  type HttpEndpoint,
  type Logger,
  type MemoryHub,
  type Registry,
} from "@dcnet/core";
import { defaultAddress, type NodeConfig } from "./config";
import { nodeService } from "./node-service";

export const VERSION = "0.1.0";

const ROLES: Record<NodeConfig["node"]["role"], NodeRole> = {
  master: NodeRole.NODE_ROLE_MASTER,
  agent: NodeRole.NODE_ROLE_AGENT,
  public_agent: NodeRole.NODE_ROLE_PUBLIC_AGENT,
};

export interface NodeAgentDeps {
  logger: Logger;
  registry: Registry;
  /** The in-process hub, when `bus.kind` is "memory" (embedded mode). */
  hub?: MemoryHub;
}

export interface NodeAgent {
  readonly identity: NodeIdentity;
  readonly lifecycle: Lifecycle;
  /** Bound ports, known after start. */
  readonly ports: { grpc: number; http: number };
  membership(): Membership;
}

/**
 * The node agent: joins the bus, heartbeats, and serves NodeService (gRPC,
 * with health and reflection) and /metrics. Later services run beside it.
 */
export function createNodeAgent(config: NodeConfig, deps: NodeAgentDeps): NodeAgent {
  const address = config.node.address ?? defaultAddress();
  const identity: NodeIdentity = {
    nodeId: config.node.id ?? address,
    clusterId: config.cluster.id,
    address,
    role: ROLES[config.node.role],
    hostname: config.node.hostname ?? os.hostname(),
    version: VERSION,
  };
  const log = deps.logger.child({ node: identity.nodeId });
  const startedAtMs = Date.now();
  const ports = { grpc: 0, http: 0 };
  const grpc = createGrpcServer({ logger: log, descriptorSetPath });
  let bus: Bus | undefined;
  let membership: Membership | undefined;
  let http: HttpEndpoint | undefined;

  const members = gauge(deps.registry, "dcnet_members", "Cluster members this node knows, by reachability", ["node", "state"]);
  const connected = gauge(deps.registry, "dcnet_bus_connected", "1 while the bus connection is up", ["node"]);
  const refresh = (): void => {
    if (!membership || !bus) return;
    const list = membership.list();
    members.set({ node: identity.nodeId, state: "reachable" }, list.filter((m) => m.reachable).length);
    members.set({ node: identity.nodeId, state: "unreachable" }, list.filter((m) => !m.reachable).length);
    connected.set({ node: identity.nodeId }, bus.isConnected() ? 1 : 0);
  };

  const lifecycle = new Lifecycle(log)
    .add(
      "bus",
      async () => {
        bus = await connectBus({
          cluster: config.cluster,
          bus: config.bus,
          nodeId: identity.nodeId,
          logger: log,
          registry: deps.registry,
          ...(deps.hub ? { hub: deps.hub } : {}),
        });
        log.info({ kind: bus.kind, servers: config.bus.kind === "nats" ? config.bus.servers : undefined }, "bus connected");
      },
      async () => bus?.close(),
    )
    .add(
      "membership",
      async () => {
        membership = new Membership(bus!, {
          identity,
          intervalMs: config.bus.heartbeatMs,
          missedBeats: config.bus.missedBeats,
          forgetAfterMs: config.bus.forgetAfterMs,
        });
        membership.onChange((m, change) => {
          log.info({ member: m.node.nodeId, change }, "membership change");
          refresh();
        });
        await membership.start();
      },
      async () => membership?.stop(),
    )
    .add(
      "grpc",
      async () => {
        grpc.add("dcnet.core.v1.NodeService", NodeServiceService, nodeService({ bus: bus!, membership: membership!, startedAtMs }));
        ports.grpc = await grpc.listen(config.grpc.host, config.grpc.port);
        log.info({ host: config.grpc.host, port: ports.grpc }, "gRPC listening");
      },
      () => grpc.stop(),
    )
    .add(
      "http",
      async () => {
        http = await serveHttp(deps.registry, config.http, [
          async (req, res) => {
            if (req.url !== "/healthz") return false;
            refresh();
            const ok = bus?.isConnected() ?? false;
            res.writeHead(ok ? 200 : 503, { "content-type": "application/json" });
            res.end(JSON.stringify({ ok, node: identity.nodeId, members: membership?.reachable().length ?? 0 }));
            return true;
          },
        ]);
        ports.http = http.port;
        log.info({ host: config.http.host, port: ports.http }, "HTTP (/metrics, /healthz) listening");
      },
      async () => http?.close(),
    );

  return {
    identity,
    lifecycle,
    ports,
    membership: () => {
      if (!membership) throw new Error("node agent not started");
      return membership;
    },
  };
}
