/**
 * Testcontainers harness for dcnet end-to-end suites: the dcnet image (built
 * once per run), a Docker network, a NATS cluster with JetStream and dcnet
 * nodes configured as in docker-compose.yml, plus helpers to reach them from
 * the test process (gRPC, /metrics, the bus through the mapped NATS ports).
 *
 * Environment:
 * - DCNET_E2E_IMAGE: use this existing local image instead of building one.
 * - DCNET_E2E_NATS_IMAGE: NATS image (default nats:2.10-alpine).
 * - DCNET_E2E_LOGS=1: echo every container's output to stderr as it comes.
 * - DCNET_E2E_HTTP=direct|exec: how MesosCluster sends HTTP to container IPs
 *   (default: direct when the host routes to them, else docker exec).
 *
 * Ryuk is off (see setup.ts): `E2eCluster.stop()` removes what it started.
 * Every container carries the label `dcnet.e2e`; after an interrupted run,
 * `docker rm -f $(docker ps -aq -f label=dcnet.e2e)` clears what is left.
 */
import "./setup";
import * as path from "node:path";
import type { Readable } from "node:stream";
import { createBus, createNatsTransport, eventually, insecure, namespace, sleep, unary, type Bus } from "@dcnet/core";
import { MemberFilter, NodeServiceClient, type Member } from "@dcnet/proto";
import { connect as natsConnect, type NatsConnection } from "nats";
import {
  GenericContainer,
  ImageName,
  Network,
  StartedNetwork,
  Wait,
  getContainerRuntimeClient,
  type StartedTestContainer,
} from "testcontainers";

export const REPO_ROOT = path.resolve(__dirname, "..", "..");
export const NATS_IMAGE = process.env["DCNET_E2E_NATS_IMAGE"] ?? "nats:2.10-alpine";
/** Tag of the image the harness builds from the repo's Dockerfile. */
export const BUILD_TAG = "dcnet:e2e";
export const E2E_LABEL = "dcnet.e2e";
export const NODE_GRPC_PORT = 50051;
export const NODE_HTTP_PORT = 9100;
const NATS_CLIENT_PORT = 4222;
const NATS_MONITOR_PORT = 8222;

export function log(message: string): void {
  process.stderr.write(`      [e2e ${new Date().toISOString().slice(11, 23)}] ${message}\n`);
}

// ---------------------------------------------------------------------------
// The image under test: built once per process, whatever the number of suites.

let image: Promise<string> | undefined;

/**
 * The dcnet image: `DCNET_E2E_IMAGE` if set (must exist locally), otherwise
 * the repo's Dockerfile built as `dcnet:e2e`, once per process; every caller
 * shares the same promise (and the same failure, so a broken build is not retried).
 */
export function dcnetImage(): Promise<string> {
  image ??= resolveImage();
  return image;
}

async function resolveImage(): Promise<string> {
  const client = await getContainerRuntimeClient();
  const given = process.env["DCNET_E2E_IMAGE"];
  if (given) {
    if (!(await client.image.exists(ImageName.fromString(given)))) {
      throw new Error(`DCNET_E2E_IMAGE=${given}: no such local image (build it, or unset the variable to build ${BUILD_TAG})`);
    }
    log(`using image ${given} (DCNET_E2E_IMAGE)`);
    return given;
  }
  // Testcontainers does not notice a failed build (it only checks afterwards
  // that the tag exists): untag the previous build first, so a failed build
  // cannot pass with a stale image. Layers stay, so the build stays cached.
  await client.container.dockerode
    .getImage(BUILD_TAG)
    .remove({ force: true, noprune: true })
    .catch((err: { statusCode?: number; message?: string }) => {
      if (err.statusCode !== 404) log(`could not untag the previous ${BUILD_TAG} (${err.message ?? String(err)}); building anyway`);
    });
  const startedAt = Date.now();
  log(`building ${BUILD_TAG} from ${path.join(REPO_ROOT, "Dockerfile")} ...`);
  try {
    await GenericContainer.fromDockerfile(REPO_ROOT).build(BUILD_TAG, { deleteOnExit: false });
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new Error(
      `building ${BUILD_TAG} failed: ${why} (run \`docker build -t ${BUILD_TAG} .\` or set DEBUG=testcontainers:build to see the output)`,
    );
  }
  log(`built ${BUILD_TAG} in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
  return BUILD_TAG;
}

// ---------------------------------------------------------------------------
// Container output, kept for failure reports.

export class LogTail {
  private readonly lines: string[] = [];
  private partial = "";

  constructor(
    readonly name: string,
    private readonly max = 400,
    private readonly echo = process.env["DCNET_E2E_LOGS"] === "1",
  ) {}

  readonly consume = (stream: Readable): void => {
    stream.on("data", (chunk: string | Buffer) => this.push(chunk.toString()));
    stream.on("error", () => undefined);
  };

  private push(chunk: string): void {
    const parts = (this.partial + chunk).split("\n");
    this.partial = parts.pop() ?? "";
    for (const line of parts) {
      if (!line.trim()) continue;
      this.lines.push(line);
      if (this.echo) process.stderr.write(`[${this.name}] ${line}\n`);
      if (this.lines.length > this.max) this.lines.shift();
    }
  }

  /** The last `n` lines, leaving out those matching `skip` (e.g. noisy warnings). */
  tail(n = 40, skip?: RegExp): string[] {
    return (skip ? this.lines.filter((l) => !skip.test(l)) : this.lines).slice(-n);
  }
}

// ---------------------------------------------------------------------------
// The cluster.

export type NodeRoleName = "master" | "agent" | "public_agent";

export interface NodeSpec {
  /** Node id, also its hostname and network alias. */
  id: string;
  role?: NodeRoleName;
  /** Cluster key of this node (default: the cluster's); another key makes an outsider. */
  clusterKey?: string;
  /** Extra DCNET_* environment. */
  env?: Record<string, string>;
  /** Services run beside the node agent in the same process (`dcnet run node <services...>`), e.g. `["mesos-sim"]`. */
  services?: string[];
  /** Log line that means the node is up (default /gRPC listening/: the node agent has joined the bus). */
  readyLog?: RegExp;
  /** More log lines that must all have appeared as well as `readyLog` (e.g. one per service in the process). */
  readyLogs?: RegExp[];
  /** Linux capabilities added (e.g. NET_ADMIN, SYS_ADMIN for `ip netns`, nftables); also turns AppArmor off for it. */
  capAdd?: string[];
  /** Namespaced sysctls of the container (e.g. net.ipv4.ip_forward), as compose `sysctls:`. */
  sysctls?: Record<string, string>;
  /**
   * On the cluster network only, as in compose. By default Testcontainers
   * creates a container with network aliases on Docker's default bridge and
   * then connects it to the cluster network as well, so that its first
   * interface (the address services pick by default) is on the default bridge.
   */
  oneNetwork?: boolean;
  /**
   * A fixed IPv4 address on the cluster network (needs `oneNetwork` and a
   * cluster with `fixedSubnet`; see `E2eCluster.fixedIp`).
   */
  ipv4Address?: string;
}

/**
 * A helper container on the cluster network that is not a dcnet node (e.g. an
 * upstream DNS server): started by `E2eCluster.addSidecar`, stopped by `stop()`.
 */
export interface SidecarSpec {
  /** Name, hostname and network alias. */
  name: string;
  /** Image (default: the dcnet image). */
  image?: string;
  entrypoint?: string[];
  command?: string[];
  /** Log line that means it is up. */
  readyLog: RegExp;
  /** A fixed IPv4 address on the cluster network (needs a cluster with `fixedSubnet`). */
  ipv4Address?: string;
}

export interface Sidecar {
  readonly name: string;
  readonly spec: SidecarSpec;
  readonly container: StartedTestContainer;
  readonly logs: LogTail;
  /** Its IP on the cluster network. */
  readonly ip: string;
  stopped: boolean;
}

export interface ClusterOptions {
  clusterId?: string;
  clusterKey?: string;
  /** NATS servers in the cluster (default 3: nats-1..nats-3). */
  natsServers?: number;
  /** Nodes started by `start()` (default master-1, agent-1, agent-2). */
  nodes?: NodeSpec[];
  /**
   * A cluster network with a subnet of its own (a free 10.2xx.y.0/24, see
   * `createFixedSubnetNetwork`), so that nodes can have fixed addresses
   * (`NodeSpec.ipv4Address`, `E2eCluster.fixedIp`), as in docker-compose.yml.
   */
  fixedSubnet?: boolean;
}

/** A cluster network's own subnet: `<prefix>.0/24`; Docker hands out `<prefix>.128`-`.255` only, the rest is for fixed addresses. */
export interface FixedSubnet {
  /** First three octets, e.g. `10.204.17`. */
  readonly prefix: string;
  readonly cidr: string;
}

/**
 * A bridge network with a /24 of its own (Testcontainers' `Network` takes no
 * IPAM): tried at random in 10.200.0.0-10.209.255.0 (outside Docker's default
 * address pools and the agents' task subnets 10.251.x) until one overlaps no
 * existing network, so that concurrent runs do not collide. Dynamic addresses
 * come from the upper half (`IPRange`), so a fixed address in the lower half is
 * never taken by another container first.
 */
export async function createFixedSubnetNetwork(labels: Record<string, string>): Promise<{ network: StartedNetwork; subnet: FixedSubnet }> {
  const client = await getContainerRuntimeClient();
  let lastError: unknown;
  for (let attempt = 0; attempt < 20; attempt++) {
    const prefix = `10.${200 + Math.floor(Math.random() * 10)}.${Math.floor(Math.random() * 256)}`;
    const cidr = `${prefix}.0/24`;
    const name = `dcnet-e2e-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
    try {
      const created = await client.network.create({
        Name: name,
        CheckDuplicate: true,
        Driver: "bridge",
        Labels: labels,
        IPAM: { Driver: "default", Config: [{ Subnet: cidr, IPRange: `${prefix}.128/25`, Gateway: `${prefix}.1` }] },
      });
      return { network: new StartedNetwork(client, name, created), subnet: { prefix, cidr } };
    } catch (err) {
      lastError = err;
      if (!/overlap|in use|conflict/i.test(String((err as Error).message ?? err))) throw err;
    }
  }
  throw new Error(`no free /24 for the cluster network: ${String(lastError)}`);
}

export const DEFAULT_NODES: readonly NodeSpec[] = [
  { id: "master-1", role: "master" },
  { id: "agent-1", role: "agent" },
  { id: "agent-2", role: "agent" },
];

export interface NatsServer {
  /** Name and network alias: nats-1, nats-2, ... */
  readonly name: string;
  readonly container: StartedTestContainer;
  /** Client URL through the mapped port, for the test process. */
  readonly clientUrl: string;
  /** Monitoring endpoint (/varz, /connz, /jsz) through the mapped port. */
  readonly monitorUrl: string;
  readonly logs: LogTail;
  stopped: boolean;
}

export interface DcnetNode {
  readonly id: string;
  readonly spec: NodeSpec;
  readonly container: StartedTestContainer;
  /** `host:port` of the node's gRPC server (NodeService, health, reflection). */
  readonly grpcAddress: string;
  /** Base URL of the node's HTTP endpoint (/metrics, /healthz). */
  readonly httpUrl: string;
  readonly client: NodeServiceClient;
  readonly logs: LogTail;
  /** The container's IP on the cluster network (what its services report as their address). */
  readonly ip: string;
  stopped: boolean;
}

/** A bus opened by the test process; `connectionName` is how NATS monitoring (/connz) names it. */
export type TestBus = Bus & { rejected(): Record<string, number>; readonly connectionName: string };

/** Resolves all, then throws the first failure: nothing keeps starting behind a failed start. */
async function settleAll<T>(work: Promise<T>[]): Promise<T[]> {
  const results = await Promise.allSettled(work);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** A GenericContainer with the HostConfig settings Testcontainers has no builder for (compose `sysctls:`, `security_opt:`). */
class NodeContainer extends GenericContainer {
  /** Added capabilities; with any, AppArmor off as well (compose: `cap_add` + `security_opt: [apparmor:unconfined]`). */
  withCapabilities(capabilities: string[]): this {
    if (capabilities.length === 0) return this;
    this.hostConfig.SecurityOpt = [...(this.hostConfig.SecurityOpt ?? []), "apparmor:unconfined"];
    return this.withAddedCapabilities(...capabilities);
  }

  withSysctls(sysctls: Record<string, string>): this {
    if (Object.keys(sysctls).length > 0) this.hostConfig.Sysctls = { ...this.hostConfig.Sysctls, ...sysctls };
    return this;
  }

  /** Created on `network` alone, with these aliases (what compose does), instead of default bridge + connect; optionally at a fixed address. */
  withOnlyNetwork(network: StartedNetwork, aliases: string[], ipv4Address?: string): this {
    this.createOpts.NetworkingConfig = {
      EndpointsConfig: {
        [network.getName()]: { Aliases: aliases, ...(ipv4Address ? { IPAMConfig: { IPv4Address: ipv4Address } } : {}) },
      },
    };
    return this.withNetworkMode(network.getName());
  }

  /** On `network`, the Testcontainers way or alone (see NodeSpec.oneNetwork); a fixed address needs `alone`. */
  withClusterNetwork(network: StartedNetwork, aliases: string[], alone: boolean, ipv4Address?: string): this {
    if (ipv4Address && !alone) throw new Error(`a fixed address (${ipv4Address}) needs oneNetwork`);
    return alone ? this.withOnlyNetwork(network, aliases, ipv4Address) : this.withNetwork(network).withNetworkAliases(...aliases);
  }
}

/**
 * A NATS cluster and dcnet nodes on one Docker network, configured like
 * docker-compose.yml. Create it, `await start()`, and always `await stop()`
 * (in `after`): stop() also cleans up after a start that failed half-way.
 */
export class E2eCluster {
  readonly clusterId: string;
  readonly clusterKey: string;
  readonly nats: NatsServer[] = [];
  readonly nodes: DcnetNode[] = [];
  /** Helper containers (addSidecar), stopped with the cluster. */
  readonly sidecars: Sidecar[] = [];
  private readonly buses: TestBus[] = [];
  private readonly labels: Record<string, string>;
  private network: StartedNetwork | undefined;
  /** The cluster network's own subnet (with `fixedSubnet`), once started. */
  subnet: FixedSubnet | undefined;
  private image: string | undefined;
  private stopped = false;

  constructor(private readonly opts: ClusterOptions = {}) {
    this.clusterId = opts.clusterId ?? "dcnet";
    this.clusterKey = opts.clusterKey ?? `e2e-cluster-key-${Math.random().toString(36).slice(2)}-0123456789`;
    this.labels = { [E2E_LABEL]: "true", [`${E2E_LABEL}.pid`]: String(process.pid) };
  }

  /** Builds (or finds) the image, then starts the network, the NATS cluster and the nodes. */
  async start(): Promise<this> {
    const startedAt = Date.now();
    this.image = await dcnetImage();
    if (this.stopped) throw new Error("cluster stopped while starting");
    if (this.opts.fixedSubnet) {
      const created = await createFixedSubnetNetwork(this.labels);
      this.network = created.network;
      this.subnet = created.subnet;
    } else {
      this.network = await new Network().start();
    }
    if (this.stopped) throw new Error("cluster stopped while starting");
    const count = this.opts.natsServers ?? 3;
    const names = Array.from({ length: count }, (_, i) => `nats-${i + 1}`);
    await settleAll(names.map((name) => this.startNats(name, names)));
    await this.beforeNodes();
    if (this.stopped) throw new Error("cluster stopped while starting");
    await settleAll(this.nodeSpecs().map((spec) => this.addNode(spec)));
    log(
      `cluster up in ${((Date.now() - startedAt) / 1000).toFixed(1)} s: ${this.nats.map((s) => `${s.name}=${s.clientUrl}`).join(" ")}; ` +
        this.nodes.map((n) => `${n.id}=${n.grpcAddress}`).join(" "),
    );
    return this;
  }

  /** Called by `start()` once the network and NATS are up, before the nodes start (e.g. to add sidecars they need). */
  protected async beforeNodes(): Promise<void> {}

  /** The nodes `start()` starts, once the network is up (so that specs can use `fixedIp`). */
  protected nodeSpecs(): readonly NodeSpec[] {
    return this.opts.nodes ?? DEFAULT_NODES;
  }

  /** Address `<prefix>.<host>` on the cluster's own subnet (`fixedSubnet`); hosts 2-127 are free for fixed addresses. */
  fixedIp(host: number): string {
    if (!this.subnet) throw new Error("fixedIp: the cluster has no subnet of its own (fixedSubnet) or is not started");
    if (!Number.isInteger(host) || host < 2 || host > 127) throw new Error(`fixedIp: host ${host} outside 2-127`);
    return `${this.subnet.prefix}.${host}`;
  }

  private requireNetwork(): StartedNetwork {
    if (!this.network || this.stopped) throw new Error("cluster not started (or already stopped)");
    return this.network;
  }

  private async startNats(name: string, all: string[]): Promise<NatsServer> {
    const network = this.requireNetwork();
    const routes = all.filter((n) => n !== name).map((n) => `nats://${n}:6222`);
    const command = ["-js", "-sd", "/data", "-n", name, "-m", String(NATS_MONITOR_PORT)];
    if (routes.length > 0) command.push("--cluster_name", "dcnet", "--cluster", "nats://0.0.0.0:6222", "--routes", routes.join(","));
    const logs = new LogTail(name);
    const container = await new GenericContainer(NATS_IMAGE)
      .withNetwork(network)
      .withNetworkAliases(name)
      .withHostname(name)
      .withCommand(command)
      .withExposedPorts(NATS_CLIENT_PORT, NATS_MONITOR_PORT)
      .withLabels(this.labels)
      .withLogConsumer(logs.consume)
      .withWaitStrategy(Wait.forLogMessage(/Server is ready/))
      .withStartupTimeout(30_000)
      .start()
      .catch((err: unknown) => {
        throw new Error(`${name} did not start: ${String(err)}\n${logs.tail(20).join("\n")}`);
      });
    const host = container.getHost();
    const server: NatsServer = {
      name,
      container,
      clientUrl: `nats://${host}:${container.getMappedPort(NATS_CLIENT_PORT)}`,
      monitorUrl: `http://${host}:${container.getMappedPort(NATS_MONITOR_PORT)}`,
      logs,
      stopped: false,
    };
    this.nats.push(server);
    if (this.stopped) await container.stop().catch(() => undefined);
    return server;
  }

  /**
   * Starts a dcnet node (`dcnet run node`) with the environment docker-compose.yml
   * gives nodes, and waits for "gRPC listening" (it has joined the bus by then).
   */
  async addNode(spec: NodeSpec): Promise<DcnetNode> {
    const network = this.requireNetwork();
    if (!this.image) throw new Error("cluster not started");
    const logs = new LogTail(spec.id);
    const container = await new NodeContainer(this.image)
      .withCapabilities(spec.capAdd ?? [])
      .withSysctls({ "net.ipv4.ip_local_reserved_ports": RESERVED_PORTS, ...spec.sysctls })
      .withClusterNetwork(network, [spec.id], spec.oneNetwork ?? false, spec.ipv4Address)
      .withHostname(spec.id)
      .withCommand(["run", "node", ...(spec.services ?? [])])
      .withEnvironment({
        DCNET_CLUSTER__ID: this.clusterId,
        DCNET_CLUSTER__KEY: spec.clusterKey ?? this.clusterKey,
        // Every server of the cluster, as a static config would list them (stopped ones too).
        DCNET_BUS__SERVERS: this.nats.map((s) => `nats://${s.name}:${NATS_CLIENT_PORT}`).join(","),
        DCNET_NODE__ID: spec.id,
        DCNET_NODE__ROLE: spec.role ?? "agent",
        ...spec.env,
      })
      .withExposedPorts(NODE_GRPC_PORT, NODE_HTTP_PORT)
      .withLabels(this.labels)
      .withLogConsumer(logs.consume)
      .withWaitStrategy(
        spec.readyLogs?.length
          ? Wait.forAll([spec.readyLog ?? /gRPC listening/, ...spec.readyLogs].map((re) => Wait.forLogMessage(re)))
          : Wait.forLogMessage(spec.readyLog ?? /gRPC listening/),
      )
      .withStartupTimeout(90_000)
      .start()
      .catch((err: unknown) => {
        throw new Error(`node ${spec.id} did not start: ${String(err)}\n${logs.tail(20).join("\n")}`);
      });
    const host = container.getHost();
    const grpcAddress = `${host}:${container.getMappedPort(NODE_GRPC_PORT)}`;
    const node: DcnetNode = {
      id: spec.id,
      spec,
      container,
      grpcAddress,
      httpUrl: `http://${host}:${container.getMappedPort(NODE_HTTP_PORT)}`,
      client: new NodeServiceClient(grpcAddress, insecure()),
      logs,
      ip: container.getIpAddress(network.getName()),
      stopped: false,
    };
    this.nodes.push(node);
    if (this.stopped) await container.stop().catch(() => undefined);
    return node;
  }

  /** Starts a helper container on the cluster network alone (optionally at a fixed address); waits for its `readyLog`. */
  async addSidecar(spec: SidecarSpec): Promise<Sidecar> {
    const network = this.requireNetwork();
    const image = spec.image ?? this.image;
    if (!image) throw new Error("cluster not started");
    const logs = new LogTail(spec.name);
    let builder = new NodeContainer(image).withOnlyNetwork(network, [spec.name], spec.ipv4Address).withHostname(spec.name);
    if (spec.entrypoint) builder = builder.withEntrypoint(spec.entrypoint);
    if (spec.command) builder = builder.withCommand(spec.command);
    const container = await builder
      .withLabels(this.labels)
      .withLogConsumer(logs.consume)
      .withWaitStrategy(Wait.forLogMessage(spec.readyLog))
      .withStartupTimeout(60_000)
      .start()
      .catch((err: unknown) => {
        throw new Error(`${spec.name} did not start: ${String(err)}\n${logs.tail(20).join("\n")}`);
      });
    const sidecar: Sidecar = { name: spec.name, spec, container, logs, ip: container.getIpAddress(network.getName()), stopped: false };
    this.sidecars.push(sidecar);
    if (this.stopped) await container.stop().catch(() => undefined);
    return sidecar;
  }

  node(id: string): DcnetNode {
    const node = this.nodes.find((n) => n.id === id);
    if (!node) throw new Error(`no node ${id}`);
    return node;
  }

  natsServer(name: string): NatsServer {
    const server = this.nats.find((s) => s.name === name);
    if (!server) throw new Error(`no NATS server ${name}`);
    return server;
  }

  runningNats(): NatsServer[] {
    return this.nats.filter((s) => !s.stopped);
  }

  /**
   * Stops (and removes) a NATS server. By default with no grace period
   * (`docker stop -t 0`: SIGTERM, then SIGKILL at once; nats-server still gets
   * to close some connections in between); `graceful` gives it up to 10 s.
   */
  async stopNats(name: string, opts: { graceful?: boolean } = {}): Promise<void> {
    const server = this.natsServer(name);
    server.stopped = true;
    await server.container.stop({ timeout: opts.graceful ? 10_000 : 0 });
  }

  async stopNode(id: string): Promise<void> {
    const node = this.node(id);
    node.stopped = true;
    node.client.close();
    await node.container.stop({ timeout: 10_000 });
  }

  /**
   * Kills a node's container at once (`docker kill`: SIGKILL to every process in
   * it, so nothing is shut down gracefully: no lease given up, no record
   * deleted), then removes it. Its output stays in `logs`.
   */
  async killNode(id: string): Promise<void> {
    const node = this.node(id);
    node.stopped = true;
    node.client.close();
    const client = await getContainerRuntimeClient();
    await client.container.dockerode.getContainer(node.container.getId()).kill({ signal: "SIGKILL" });
    await node.container.stop({ timeout: 0 }).catch((err: unknown) => log(`removing killed ${id}: ${String(err)}`));
  }

  /**
   * A bus for the test process, signed with the cluster key (or another one),
   * connected through the mapped client ports of the running NATS servers
   * (the connection is named `dcnet-<nodeId>`). With `attachTo`, connects
   * until the client (which picks a server at random) is on that server (or
   * one of those servers), e.g. to make it lose that server; every running
   * server stays in its list to fail over to.
   * Closed by stop().
   */
  async connectBus(nodeId: string, opts: { clusterKey?: string; attachTo?: NatsServer | NatsServer[] } = {}): Promise<TestBus> {
    const servers = this.runningNats().map((s) => s.clientUrl);
    const open = async (name: string): Promise<TestBus> => {
      const transport = await createNatsTransport({ servers, name, replicas: Math.min(3, this.nats.length), connectTimeoutMs: 30_000 });
      const bus = Object.assign(
        createBus(transport, { clusterId: this.clusterId, clusterKey: opts.clusterKey ?? this.clusterKey, nodeId }),
        {
          connectionName: name,
        },
      );
      this.buses.push(bus);
      return bus;
    };
    if (!opts.attachTo) return open(`dcnet-${nodeId}`);
    const targets = Array.isArray(opts.attachTo) ? opts.attachTo : [opts.attachTo];
    for (let attempt = 0; attempt < 40; attempt++) {
      const name = attempt === 0 ? `dcnet-${nodeId}` : `dcnet-${nodeId}-${attempt}`;
      const bus = await open(name);
      await bus.flush();
      for (const target of targets) if ((await natsConnectionNames(target)).includes(name)) return bus;
      this.buses.splice(this.buses.indexOf(bus), 1);
      await withTimeout(bus.close(), 5_000, "closing a test bus").catch(() => undefined);
    }
    throw new Error(`could not get a connection attached to ${targets.map((t) => t.name).join(" or ")}`);
  }

  /** The running NATS server a client connection (by name, see /connz) is attached to, if any. */
  async serverOf(connectionName: string): Promise<NatsServer | undefined> {
    for (const server of this.runningNats()) {
      if ((await natsConnectionNames(server)).includes(connectionName)) return server;
    }
    return undefined;
  }

  /** A plain NATS connection to the running servers (for JetStream admin calls); the caller closes it. */
  async natsConnection(name = "dcnet-e2e-admin"): Promise<NatsConnection> {
    return natsConnect({ servers: this.runningNats().map((s) => s.clientUrl), name });
  }

  /** JetStream stream of a dcnet KV bucket of this cluster, e.g. `KV_dcnet_dcnet_nodes`. */
  kvStream(bucket: string): string {
    return `KV_${namespace.bucket(this.clusterId, bucket)}`;
  }

  /** Server name (nats-N) of a stream's current leader. */
  async streamLeader(stream: string): Promise<string | undefined> {
    const nc = await this.natsConnection();
    try {
      const info = await (await nc.jetstreamManager()).streams.info(stream);
      return info.cluster?.leader;
    } finally {
      await nc.close();
    }
  }

  /**
   * Makes `server` the leader of a replicated stream, by asking the current
   * leader to step down until the election lands there (JetStream picks at random).
   */
  async moveStreamLeader(stream: string, server: NatsServer, timeoutMs = 30_000): Promise<void> {
    const nc = await this.natsConnection();
    try {
      const jsm = await nc.jetstreamManager();
      const leader = async (): Promise<string> => {
        const l = (await jsm.streams.info(stream)).cluster?.leader;
        if (!l) throw new Error(`${stream} has no leader`);
        return l;
      };
      const deadline = Date.now() + timeoutMs;
      const initial = await eventually(leader, 10_000, 100);
      let current = initial;
      let stepdowns = 0;
      while (current !== server.name) {
        stepdowns++;
        if (Date.now() > deadline) throw new Error(`${stream}: leader stays on ${current}, not ${server.name}`);
        await nc.request(`$JS.API.STREAM.LEADER.STEPDOWN.${stream}`, undefined, { timeout: 5_000 }).catch(() => undefined);
        const previous = current;
        current = await eventually(
          async () => {
            const l = await leader();
            if (l === previous) throw new Error("not re-elected yet");
            return l;
          },
          10_000,
          100,
        ).catch(() => previous);
        await sleep(100);
      }
      log(
        `${stream}: leader ${initial === server.name ? `already on ${initial}` : `moved ${initial} -> ${current} (${stepdowns} step-downs)`}`,
      );
    } finally {
      await nc.close();
    }
  }

  /** Last lines of every container's output, for failure reports. */
  recentLogs(lines = 30, skip?: RegExp): string {
    const all = [...this.nats, ...this.nodes, ...this.sidecars];
    return all.map((c) => `----- ${c.logs.name}${c.stopped ? " (stopped)" : ""} -----\n${c.logs.tail(lines, skip).join("\n")}`).join("\n");
  }

  /** Stops everything this cluster started; safe to call after a failed start, and more than once. */
  async stop(): Promise<void> {
    this.stopped = true;
    const startedAt = Date.now();
    await Promise.allSettled(this.buses.splice(0).map((b) => withTimeout(b.close(), 5_000, "closing a test bus")));
    for (const n of this.nodes) n.client.close();
    const containers = [...this.nodes, ...this.nats, ...this.sidecars].filter((c) => !c.stopped);
    for (const c of containers) c.stopped = true;
    const results: PromiseSettledResult<unknown>[] = await Promise.allSettled(containers.map((c) => c.container.stop({ timeout: 0 })));
    const network = this.network;
    this.network = undefined;
    if (network) results.push(...(await Promise.allSettled([network.stop()])));
    const failed = results.filter((r) => r.status === "rejected");
    log(`cluster stopped in ${((Date.now() - startedAt) / 1000).toFixed(1)} s${failed.length ? ` (${failed.length} failures)` : ""}`);
    for (const f of failed) log(`cleanup failure: ${String((f as PromiseRejectedResult).reason)}`);
  }
}

// ---------------------------------------------------------------------------
// Probes.

/** Node ids a node lists (reachable ones by default), sorted. */
export async function memberIds(node: DcnetNode, filter = MemberFilter.MEMBER_FILTER_REACHABLE): Promise<string[]> {
  const res = await unary(node.client.listMembers.bind(node.client), { filter }, { timeoutMs: 3_000 });
  return res.members.map((m: Member) => m.node?.nodeId ?? "?").sort();
}

/** Sum of the samples of a metric on a node's /metrics whose labels include `labels`. */
export async function scrapeMetric(node: DcnetNode, name: string, labels: Record<string, string> = {}): Promise<number> {
  const res = await fetch(`${node.httpUrl}/metrics`, { signal: AbortSignal.timeout(3_000) });
  if (!res.ok) throw new Error(`${node.id} /metrics: HTTP ${res.status}`);
  return sumSamples(await res.text(), name, labels);
}

/** Prometheus text format: sums the samples of `name` whose labels include `labels`. */
export function sumSamples(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) sum += Number(m[3]);
  }
  return sum;
}

/** Names of the client connections a NATS server has (its /connz), e.g. `dcnet-master-1`. */
export async function natsConnectionNames(server: NatsServer): Promise<string[]> {
  const res = await fetch(`${server.monitorUrl}/connz?limit=4096`, { signal: AbortSignal.timeout(3_000) });
  if (!res.ok) throw new Error(`${server.name} /connz: HTTP ${res.status}`);
  const body = (await res.json()) as { connections?: { name?: string }[] };
  return (body.connections ?? []).map((c) => c.name ?? "").filter((n) => n.length > 0);
}

// ---------------------------------------------------------------------------
// Simulated Mesos (mesos-sim) in the node containers, as docker-compose.yml runs it.

export const MESOS_MASTER_PORT = 5050;
export const MARATHON_PORT = 8080;
export const MESOS_AGENT_PORT = 5051;

/** The parts of `/master/state` (v0) the suites read. */
export interface MesosTaskDoc {
  id: string;
  name: string;
  slave_id: string;
  state: string;
  resources: { ports?: string };
  statuses: {
    state: string;
    container_status?: {
      network_infos?: {
        ip_addresses?: { ip_address: string }[];
        port_mappings?: { host_port: number; container_port: number; protocol?: string }[];
      }[];
    };
  }[];
}

export interface MasterStateDoc {
  id: string;
  pid: string;
  leader: string;
  slaves: { id: string; pid: string; hostname: string; active: boolean }[];
  frameworks: { id: string; name: string; tasks: MesosTaskDoc[]; completed_tasks: MesosTaskDoc[] }[];
}

/** Live tasks of every framework in a master state. */
export const stateTasks = (state: MasterStateDoc): MesosTaskDoc[] => state.frameworks.flatMap((f) => f.tasks);
/** Completed tasks of every framework in a master state. */
export const completedTasks = (state: MasterStateDoc): MesosTaskDoc[] => state.frameworks.flatMap((f) => f.completed_tasks);

/** Mesos port ranges (`[31000-31002, 31005-31005]`) as a list of ports. */
export function parsePortRanges(ranges: string | undefined): number[] {
  const ports: number[] = [];
  for (const m of (ranges ?? "").matchAll(/(\d+)-(\d+)/g)) for (let p = Number(m[1]); p <= Number(m[2]); p++) ports.push(p);
  return ports;
}

/** `slave(1)@172.18.0.5:5051` / `master@172.18.0.2:5050` → `172.18.0.5`. */
export function pidIp(pid: string): string {
  const m = /@([^:]+):\d+$/.exec(pid);
  if (!m) throw new Error(`not a libprocess pid: ${pid}`);
  return m[1]!;
}

export interface HttpAnswer {
  status: number;
  /** The `location` header (redirects are not followed). */
  location?: string;
  text: string;
}

export interface MesosClusterOptions extends Omit<ClusterOptions, "nodes"> {
  /** Masters master-1..N (default 3). */
  masters?: number;
  /** Agents agent-1..N (default 2). */
  agents?: number;
  /**
   * Every master runs mesos-dns as well (`dcnet run node mesos-sim mesos-dns`,
   * as in docker-compose.yml and DC/OS: DNS 61053, HTTP 8123), reading all the
   * masters. Its `masters` must be IP literals known before the masters start:
   * the cluster gets a subnet of its own (`fixedSubnet`) and master-N the fixed
   * address `fixedIp(10 + N)`.
   */
  mesosDns?: boolean;
  /**
   * dcos-dns on every node, configured as in docker-compose.yml (implies
   * `mesosDns`, hence `fixedSubnet`): masters run `dcnet run node mesos-sim
   * mesos-dns dcos-dns` (NET_ADMIN, every address, the zone producer with the
   * master's own Mesos master first), agents `dcnet run node mesos-sim dcos-dns`
   * (resolv.conf generator on); listeners on 198.51.100.1-3:53 (put on `lo`),
   * `.mesos` forwarded to every master's mesos-dns, other names to an upstream
   * DNS container (dnsmasq in the dcnet image, `upstream-dns` at
   * `fixedIp(UPSTREAM_DNS_HOST)`) that answers `*.example.test` with
   * `fixedIp(EXAMPLE_TEST_HOST)` itself and forwards the rest to Docker's DNS.
   */
  dcosDns?: boolean;
  /**
   * l4lb (minuteman) on every node, as in docker-compose.yml: `l4lb` added to
   * every node's services with the nftables data plane (`DCNET_MODE=nft`, so
   * masters get NET_ADMIN too), agents with `DCNET_AGENT__ENABLED=true` (they
   * poll their Mesos agent and publish their backends); REST on
   * `L4LB_HTTP_PORT`, gRPC on `L4LB_GRPC_PORT` (127.0.0.1 in each container).
   * With `dcosDns`, every dcos-dns serves `<name>.<framework>.l4lb.thisdcos.directory`.
   */
  l4lb?: boolean;
  /** Extra environment for every node (e.g. `DCNET_LOG__LEVEL: "debug"`), over what the topology sets. */
  nodeEnv?: Record<string, string>;
}

/**
 * The fixed ports of the services that fall in Linux's ephemeral range (32768–60999), reserved in every node
 * container as docker-compose.yml does: otherwise an outgoing connection of the node may take one of them as its
 * source port first and the service's listen fails with EADDRINUSE (seen once in CI: mesos-sim's gRPC on 50060).
 */
export const RESERVED_PORTS = "50051,50060,50070,50080,50090,61053,62080,62081";

/** mesos-dns on the masters (MesosClusterOptions.mesosDns): DNS (UDP and TCP) and HTTP API ports, as in DC/OS. */
export const MESOS_DNS_PORT = 61053;
export const MESOS_DNS_HTTP_PORT = 8123;

/** l4lb (MesosClusterOptions.l4lb): its REST and gRPC ports (127.0.0.1 only), its nftables table, and its ready log line. */
export const L4LB_HTTP_PORT = 62081;
export const L4LB_GRPC_PORT = 50090;
export const L4LB_NFT_TABLE = "dcnet_l4lb";
export const L4LB_READY = /"service":"l4lb".*"msg":"l4lb APIs listening"/;

/**
 * Environment of l4lb on a node: the nftables data plane; on agents, the agent side and the socket LB on the container's
 * cgroup (agents have SYS_ADMIN, which loading BPF programs needs). docker-compose.yml turns the socket LB on for masters
 * too; here they keep the table alone (NET_ADMIN only), so the suite also runs a node without it.
 */
export function l4lbEnv(role: "master" | "agent"): Record<string, string> {
  return { DCNET_MODE: "nft", ...(role === "agent" ? { DCNET_AGENT__ENABLED: "true", DCNET_NFT__SOCKET_LB_CGROUP: "auto" } : {}) };
}

/** Adds l4lb to a node spec (services, ready line, environment, NET_ADMIN). */
export function withL4lb(spec: NodeSpec): NodeSpec {
  const role = spec.role === "master" ? "master" : "agent";
  return {
    ...spec,
    services: [...(spec.services ?? []), "l4lb"],
    readyLogs: [...(spec.readyLogs ?? []), L4LB_READY],
    capAdd: [...new Set([...(spec.capAdd ?? []), "NET_ADMIN"])],
    env: { ...spec.env, ...l4lbEnv(role) },
  };
}

/** Environment of mesos-dns on a master reading `masterIps` (as docker-compose.yml sets it). */
export function mesosDnsEnv(masterIps: string[]): Record<string, string> {
  return {
    MESOS_DNS_MASTERS: masterIps.map((ip) => `${ip}:${MESOS_MASTER_PORT}`).join(","),
    MESOS_DNS_PORT: String(MESOS_DNS_PORT),
    MESOS_DNS_HTTPPORT: String(MESOS_DNS_HTTP_PORT),
    // Offline: no upstream resolvers; names outside .mesos are REFUSED.
    MESOS_DNS_EXTERNALON: "false",
    MESOS_DNS_REFRESHSECONDS: "30",
  };
}

/** dcos-dns (MesosClusterOptions.dcosDns): its listener addresses (port 53), REST and gRPC ports (127.0.0.1 only). */
export const DCOS_DNS_IPS: readonly string[] = ["198.51.100.1", "198.51.100.2", "198.51.100.3"];
export const DCOS_DNS_HTTP_PORT = 62080;
export const DCOS_DNS_GRPC_PORT = 50080;
/** The upstream DNS container (dnsmasq) is at `fixedIp(UPSTREAM_DNS_HOST)` and answers `*.example.test` with `fixedIp(EXAMPLE_TEST_HOST)`. */
export const UPSTREAM_DNS_HOST = 53;
export const EXAMPLE_TEST_HOST = 99;
/** The log lines of a node's dcos-dns once its listeners are up, and (agents) once it has rewritten /etc/resolv.conf. */
export const DCOS_DNS_READY = /"service":"dcos-dns".*"msg":"DNS listening"/;
export const DCOS_DNS_RESOLVCONF_WRITTEN = /"service":"dcos-dns".*"msg":"resolv.conf rewritten"/;

/**
 * Environment of dcos-dns on a node (as docker-compose.yml sets it): `masterIps`
 * for `.mesos` (each at :61053) and the zk / master records, listener addresses
 * managed on `lo`, `upstreams` for other names, the resolv.conf generator; on a
 * master (`ownMasterIp`) also every address and the zone producer with its own
 * Mesos master first.
 */
export function dcosDnsEnv(masterIps: string[], upstreams: string[], ownMasterIp?: string): Record<string, string> {
  const common = {
    DCNET_MASTERS: masterIps.join(","),
    DCNET_MANAGE_ADDRESSES: "true",
    DCNET_UPSTREAM_RESOLVERS: upstreams.join(","),
    DCNET_RESOLVCONF__ENABLED: "true",
  };
  if (!ownMasterIp) return common;
  return {
    ...common,
    DCNET_BIND_ALL: "true",
    DCNET_PRODUCER__ENABLED: "true",
    DCNET_PRODUCER__SETTLE_MS: "2000",
    DCNET_PRODUCER__MESOS_MASTERS: [ownMasterIp, ...masterIps.filter((ip) => ip !== ownMasterIp)]
      .map((ip) => `${ip}:${MESOS_MASTER_PORT}`)
      .join(","),
  };
}

/** A DNS question for `MesosCluster.dns` / `pollDns`. */
export interface DnsQuestion {
  name: string;
  type: "A" | "SRV";
}

/** One answer: A → sorted IPs; SRV → sorted `target:port`; or the resolver's error code (ENOTFOUND = NXDOMAIN, ENODATA, ETIMEOUT, ...). */
export interface DnsAnswer {
  server: string;
  name: string;
  type: "A" | "SRV";
  records?: string[];
  error?: string;
  /** ms since the start of the poll. */
  at: number;
  /** When the question was asked (epoch ms, the containers' clock: the host's). */
  time?: number;
}

/**
 * Node specs of the compose topology, each on the cluster network only (so that
 * masters and agents report their address there): masters `dcnet run node mesos-sim` with
 * DCNET_ROLES=master, agents with DCNET_ROLES=agent, NET_ADMIN + SYS_ADMIN (bridge
 * mode: ip netns, nftables), ip_forward and route_localnet, and a task subnet of
 * their own (10.251.<n>.0/24, outside Docker's address pools).
 */
export function mesosNodeSpecs(
  masters = 3,
  agents = 2,
  opts: {
    mesosDnsMasterIps?: string[];
    /** dcos-dns on every node (needs mesosDnsMasterIps), with these upstream resolvers (see MesosClusterOptions.dcosDns). */
    dcosDnsUpstreams?: string[];
    /** l4lb on every node (see MesosClusterOptions.l4lb). */
    l4lb?: boolean;
  } = {},
): NodeSpec[] {
  const specs: NodeSpec[] = [];
  const dnsIps = opts.mesosDnsMasterIps;
  if (dnsIps && dnsIps.length !== masters) throw new Error(`mesosNodeSpecs: ${dnsIps.length} master IPs for ${masters} masters`);
  const upstreams = opts.dcosDnsUpstreams;
  if (upstreams && !dnsIps) throw new Error("mesosNodeSpecs: dcos-dns needs the masters' IPs (mesosDnsMasterIps)");
  for (let i = 1; i <= masters; i++) {
    const id = `master-${i}`;
    const ip = dnsIps?.[i - 1];
    specs.push({
      id,
      role: "master",
      services: ip ? ["mesos-sim", "mesos-dns"] : ["mesos-sim"],
      // mesos-dns starts its DNS and HTTP servers after its first reload from the leading master.
      readyLog: ip ? /HTTP API listening/ : /mesos master and marathon listening/,
      oneNetwork: true,
      ...(ip ? { ipv4Address: ip } : {}),
      env: {
        DCNET_ROLES: "master",
        DCNET_MASTER__ID: id,
        ...(ip && dnsIps ? { DCNET_MASTER__IP: ip, DCNET_NODE__ADDRESS: ip, ...mesosDnsEnv(dnsIps) } : {}),
      },
    });
    if (upstreams && dnsIps && ip) {
      const spec = specs[specs.length - 1]!;
      // dcos-dns puts 198.51.100.1-3 on lo: NET_ADMIN (as compose's masters).
      Object.assign(spec, {
        services: ["mesos-sim", "mesos-dns", "dcos-dns"],
        readyLogs: [DCOS_DNS_READY, DCOS_DNS_RESOLVCONF_WRITTEN],
        capAdd: ["NET_ADMIN"],
        env: { ...spec.env, ...dcosDnsEnv(dnsIps, upstreams, ip) },
      });
    }
  }
  for (let i = 1; i <= agents; i++) {
    const id = `agent-${i}`;
    specs.push({
      id,
      role: "agent",
      services: ["mesos-sim"],
      readyLog: /agent registered/,
      oneNetwork: true,
      capAdd: ["NET_ADMIN", "SYS_ADMIN"],
      sysctls: { "net.ipv4.ip_forward": "1", "net.ipv4.conf.all.route_localnet": "1" },
      env: {
        DCNET_ROLES: "agent",
        DCNET_AGENT__ID: id,
        DCNET_AGENT__BRIDGE__SUBNET: `10.251.${i}.0/24`,
        ...(upstreams && dnsIps ? dcosDnsEnv(dnsIps, upstreams) : {}),
      },
      ...(upstreams ? { services: ["mesos-sim", "dcos-dns"], readyLogs: [DCOS_DNS_READY, DCOS_DNS_RESOLVCONF_WRITTEN] } : {}),
    });
  }
  return opts.l4lb ? specs.map(withL4lb) : specs;
}

/**
 * The compose topology (NATS x3, masters, agents) with mesos-sim in the node
 * containers, and HTTP helpers for the masters (5050), Marathon (8080), the
 * agents (5051) and tasks.
 *
 * The test process talks to the containers at their IPs on the cluster network:
 * the master redirects (307) and Marathon forwards to those addresses, agents and
 * host-mode tasks listen on dynamic ports there, and `/master/state` reports them.
 * On Linux the Docker bridge is routed from the host, so that is a plain fetch;
 * where it is not (Docker Desktop), or with DCNET_E2E_HTTP=exec, every request is
 * run by `node` inside a running node container (`docker exec`) instead.
 */
export class MesosCluster extends E2eCluster {
  /** How HTTP requests reach the containers (decided by start()). */
  httpMode: "direct" | "exec" = "direct";

  constructor(private readonly mesosOpts: MesosClusterOptions = {}) {
    super({
      ...mesosOpts,
      fixedSubnet: (mesosOpts.fixedSubnet ?? false) || (mesosOpts.mesosDns ?? false) || (mesosOpts.dcosDns ?? false),
      nodes: mesosNodeSpecs(mesosOpts.masters ?? 3, mesosOpts.agents ?? 2, { l4lb: mesosOpts.l4lb ?? false }),
    });
  }

  protected override nodeSpecs(): readonly NodeSpec[] {
    const masters = this.mesosOpts.masters ?? 3;
    const extra = this.mesosOpts.nodeEnv;
    const withEnv = (specs: readonly NodeSpec[]): readonly NodeSpec[] =>
      extra ? specs.map((s) => ({ ...s, env: { ...s.env, ...extra } })) : specs;
    if (!this.mesosOpts.mesosDns && !this.mesosOpts.dcosDns) return withEnv(super.nodeSpecs());
    const ips = Array.from({ length: masters }, (_, i) => this.fixedIp(11 + i));
    return withEnv(
      mesosNodeSpecs(masters, this.mesosOpts.agents ?? 2, {
        mesosDnsMasterIps: ips,
        ...(this.mesosOpts.dcosDns ? { dcosDnsUpstreams: [this.upstreamDnsIp()] } : {}),
        l4lb: this.mesosOpts.l4lb ?? false,
      }),
    );
  }

  /** With dcosDns: the upstream DNS container, before the nodes (their dcos-dns forward to it, and agents' resolv.conf falls back to it). */
  protected override async beforeNodes(): Promise<void> {
    if (!this.mesosOpts.dcosDns) return;
    const sidecar = await this.addSidecar({
      name: "upstream-dns",
      entrypoint: ["dnsmasq"],
      command: [
        "--keep-in-foreground",
        "--log-facility=-",
        "--no-resolv",
        "--no-hosts",
        "--server=127.0.0.11",
        `--address=/example.test/${this.exampleTestIp()}`,
        "--user=root",
      ],
      readyLog: /started, version/,
      ipv4Address: this.upstreamDnsIp(),
    });
    log(`upstream DNS (dnsmasq) at ${sidecar.ip}: *.example.test -> ${this.exampleTestIp()}, the rest to Docker's DNS`);
  }

  /** The upstream DNS container's address (dcosDns). */
  upstreamDnsIp(): string {
    return this.fixedIp(UPSTREAM_DNS_HOST);
  }

  /** What the upstream DNS container answers for `*.example.test` (dcosDns). */
  exampleTestIp(): string {
    return this.fixedIp(EXAMPLE_TEST_HOST);
  }

  /**
   * DNS questions asked from inside `from`'s container (`node` with a
   * `dns.promises.Resolver` per server, UDP, 1 s timeout, 2 tries), to each
   * server (`ip` or `ip:port`; default port MESOS_DNS_PORT).
   */
  async dns(from: DcnetNode, servers: string[], questions: DnsQuestion[]): Promise<DnsAnswer[]> {
    return (await this.pollDns(from, servers, questions, { durationMs: 0 })).flat();
  }

  /**
   * Asks every question at every server, every `intervalMs` (default 200) for
   * `durationMs`, from one `node` process inside `from`'s container; resolves
   * when done with every round's answers (each round starts `intervalMs` after
   * the previous one started, or when it ends if it took longer).
   */
  async pollDns(
    from: DcnetNode,
    servers: string[],
    questions: DnsQuestion[],
    opts: { durationMs: number; intervalMs?: number },
  ): Promise<DnsAnswer[][]> {
    const withPort = servers.map((s) => (s.includes(":") ? s : `${s}:${MESOS_DNS_PORT}`));
    const script = [
      "const { Resolver } = require('dns').promises;",
      "const { servers, questions, durationMs, intervalMs } = JSON.parse(process.argv[1]);",
      "const resolvers = servers.map((s) => { const r = new Resolver({ timeout: 1000, tries: 2 }); r.setServers([s]); return [s, r]; });",
      "const t0 = Date.now(); const rounds = [];",
      "const ask = async (server, r, q) => {",
      "  const time = Date.now(); const at = time - t0;",
      "  try {",
      "    const got = q.type === 'SRV' ? (await r.resolveSrv(q.name)).map((x) => x.name + ':' + x.port) : await r.resolve4(q.name);",
      "    return { server, name: q.name, type: q.type, records: got.sort(), at, time };",
      "  } catch (e) { return { server, name: q.name, type: q.type, error: e.code || String(e), at, time }; }",
      "};",
      "(async () => {",
      "  do {",
      "    const start = Date.now();",
      "    rounds.push(await Promise.all(resolvers.flatMap(([s, r]) => questions.map((q) => ask(s, r, q)))));",
      "    const wait = start + intervalMs - Date.now();",
      "    if (Date.now() - t0 < durationMs && wait > 0) await new Promise((ok) => setTimeout(ok, wait));",
      "  } while (Date.now() - t0 < durationMs);",
      "  console.log(JSON.stringify(rounds));",
      "})();",
    ].join("\n");
    const spec = JSON.stringify({ servers: withPort, questions, durationMs: opts.durationMs, intervalMs: opts.intervalMs ?? 200 });
    const res = await withTimeout(from.container.exec(["node", "-e", script, spec]), opts.durationMs + 20_000, `DNS from ${from.id}`);
    if (res.exitCode !== 0) throw new Error(`DNS questions from ${from.id}: ${(res.stderr || res.output).trim()}`);
    return JSON.parse(res.stdout) as DnsAnswer[][];
  }

  override async start(): Promise<this> {
    await super.start();
    const forced = process.env["DCNET_E2E_HTTP"];
    if (forced === "exec" || forced === "direct") this.httpMode = forced;
    else {
      const probe = `http://${this.masters()[0]!.ip}:${MESOS_MASTER_PORT}/health`;
      this.httpMode = (await this.directGet(probe, 3_000).then(
        () => true,
        () => false,
      ))
        ? "direct"
        : "exec";
    }
    log(
      `mesos-sim: HTTP to the containers ${this.httpMode === "direct" ? "straight from the test process (container IPs are routed)" : "through docker exec in a node container"}; ` +
        this.nodes.map((n) => `${n.id}=${n.ip}`).join(" "),
    );
    return this;
  }

  /** Running masters. */
  masters(): DcnetNode[] {
    return this.nodes.filter((n) => n.spec.role === "master" && !n.stopped);
  }

  /** Running agents. */
  agents(): DcnetNode[] {
    return this.nodes.filter((n) => n.spec.role === "agent" && !n.stopped);
  }

  /** The node whose container has this IP (running or not). */
  nodeByIp(ip: string): DcnetNode {
    const node = this.nodes.find((n) => n.ip === ip);
    if (!node) throw new Error(`no node at ${ip} (${this.nodes.map((n) => `${n.id}=${n.ip}`).join(" ")})`);
    return node;
  }

  private async directGet(url: string, timeoutMs: number, init: { method?: string; body?: string } = {}): Promise<HttpAnswer> {
    const res = await fetch(url, {
      method: init.method ?? "GET",
      redirect: "manual",
      signal: AbortSignal.timeout(timeoutMs),
      ...(init.body !== undefined ? { body: init.body, headers: { "content-type": "application/json" } } : {}),
    });
    const location = res.headers.get("location");
    return { status: res.status, ...(location ? { location } : {}), text: await res.text() };
  }

  /**
   * One HTTP request (redirects not followed) from the test process, or, with
   * `from` (or in exec mode), from inside that node's container (any running
   * node by default), e.g. to reach a bridge task's IP, which only exists
   * inside its agent container. Rejects on a network error or timeout.
   */
  async http(url: string, opts: { method?: string; body?: unknown; timeoutMs?: number; from?: DcnetNode } = {}): Promise<HttpAnswer> {
    const timeoutMs = opts.timeoutMs ?? 3_000;
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const method = opts.method ?? "GET";
    if (!opts.from && this.httpMode === "direct") {
      return this.directGet(url, timeoutMs, { method, ...(body !== undefined ? { body } : {}) });
    }
    const via = opts.from ?? this.nodes.find((n) => !n.stopped);
    if (!via) throw new Error("no running node to send a request from");
    const script = [
      "const [url, method, timeout, body] = process.argv.slice(1);",
      "fetch(url, { method, redirect: 'manual', signal: AbortSignal.timeout(+timeout),",
      "  ...(body ? { body, headers: { 'content-type': 'application/json' } } : {}) })",
      "  .then(async (r) => console.log(JSON.stringify({ status: r.status, location: r.headers.get('location') ?? undefined, text: await r.text() })))",
      "  .catch((e) => { console.error(String(e.cause ?? e)); process.exit(2); });",
    ].join("\n");
    const res = await withTimeout(
      via.container.exec(["node", "-e", script, url, method, String(timeoutMs), body ?? ""]),
      timeoutMs + 10_000,
      `exec in ${via.id}`,
    );
    if (res.exitCode !== 0) throw new Error(`${method} ${url} from ${via.id}: ${(res.stderr || res.output).trim()}`);
    return JSON.parse(res.stdout) as HttpAnswer;
  }

  /** An HTTP request that must answer 2xx; returns the parsed JSON body. */
  async httpJson<T>(url: string, opts: { method?: string; body?: unknown; timeoutMs?: number; from?: DcnetNode } = {}): Promise<T> {
    const res = await this.http(url, opts);
    if (res.status < 200 || res.status > 299)
      throw new Error(`${opts.method ?? "GET"} ${url}: HTTP ${res.status} ${res.text.slice(0, 300)}`);
    return JSON.parse(res.text) as T;
  }

  /**
   * The leading master and its `/master/state`: the running master that answers
   * 200 (the others answer 307) and names itself leader. Waits up to `timeoutMs`.
   */
  async leader(timeoutMs = 15_000): Promise<{ node: DcnetNode; state: MasterStateDoc }> {
    return eventually(
      async () => {
        const seen: string[] = [];
        for (const node of this.masters()) {
          const res = await this.http(`http://${node.ip}:${MESOS_MASTER_PORT}/master/state`, { timeoutMs: 2_000 }).catch(
            (err: Error): HttpAnswer => ({
              status: 0,
              text: err.message,
            }),
          );
          if (res.status !== 200) {
            seen.push(`${node.id}: ${res.status}${res.location ? ` to ${res.location}` : ""}`);
            continue;
          }
          const state = JSON.parse(res.text) as MasterStateDoc;
          if (state.leader === `master@${node.ip}:${MESOS_MASTER_PORT}`) return { node, state };
          seen.push(`${node.id}: 200 naming leader "${state.leader}"`);
        }
        throw new Error(`no leading master (${seen.join(", ")})`);
      },
      timeoutMs,
      100,
    );
  }

  /** `/master/state` of the leading master. */
  async masterState(): Promise<MasterStateDoc> {
    return (await this.leader()).state;
  }

  /** A Marathon API call on a running master (the leader by default; the others forward). */
  async marathon<T>(path: string, opts: { method?: string; body?: unknown; master?: DcnetNode } = {}): Promise<T> {
    const master = opts.master ?? (await this.leader()).node;
    const { master: _m, ...rest } = opts;
    return this.httpJson<T>(`http://${master.ip}:${MARATHON_PORT}${path}`, { timeoutMs: 5_000, ...rest });
  }
}
