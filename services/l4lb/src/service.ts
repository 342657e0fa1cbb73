/**
 * l4lb on one node (spec §4): wiring only.
 *
 *   agents:     local Mesos agent ──poll 2 s──▶ backends (backends.ts) ──▶ bus `l4lb/backends.<agent>` (publisher.ts)
 *   every node: bus `backends.>` ──▶ VIP table (vip-table.ts) ──┬─ named VIP addresses (vip-addresses.ts, claims on the bus)
 *               bus membership ──▶ unreachable agents ───────────┼─ reachability filter, fail-open (vip-plan.ts)
 *               local tasks ──▶ hairpin rewrites ────────────────┘
 *                                                     ──▶ DataplaneVip[] ──▶ driver.apply (nft or userspace)
 *   every reconcile_interval_ms: driver.reconcile, claim repair/claims that failed, release after the grace period,
 *   the agent's document re-asserted, documents of agents unreachable for dead_agent_gc_ms removed (dead-agent-gc.ts).
 *
 * APIs: HTTP `/v1/vips` (+ detail), gRPC dcnet.l4lb.v1.L4lbService, Prometheus metrics.
 */
import {
  type Bus,
  type HttpEndpoint,
  type KvStore,
  type KvWatch,
  type Logger,
  type MemoryHub,
  type Membership,
  type Registry,
  connectBus,
  createGrpcServer,
  defaultIPv4,
  Lifecycle,
  serveHttp,
} from "@dcnet/core";
import { networkInterfaces } from "node:os";
import { descriptorSetPath, l4lbv1 } from "@dcnet/proto";
import { rangesOf, type L4lbConfig } from "./config";
import type { DataplaneVip } from "./dataplane";
import type { DataplaneDriver, SocketLbStatus } from "./driver";
import { DeadAgentGc } from "./dead-agent-gc";
import { createNftDriver, nftUsable, type NftDriverOptions } from "./driver-nft";
import { l4lbService } from "./grpc-api";
import { l4lbRoutes } from "./http-api";
import { canonicalIp, type Family } from "./ip";
import { LocalAgent } from "./local-agent";
import { l4lbMetrics } from "./metrics";
import { busReachability, membershipReachability, type ReachabilitySource } from "./node-reachability";
import { createUserspaceDriver, type UserspaceDriverOptions } from "./proxy";
import { exposeUserspaceStats } from "./proxy-metrics";
import { BACKENDS_FILTER, BACKENDS_PREFIX, L4LB_BUCKET, parseBackendsDoc } from "./publisher";
import { VipAddresses } from "./vip-addresses";
import { ipVipGuard } from "./vip-guard";
import { planVip, type PlannedVip, type VipView } from "./vip-plan";
import { VipTable, type AgentProblem } from "./vip-table";

export interface DataplaneStatus {
  mode: "nft" | "userspace" | "none";
  /** Address/protocol/port entries the data plane was last asked to serve. */
  entries: number;
  lastAppliedMs: number;
  lastError: string | undefined;
  warnings: string[];
  /** The socket LB (nft driver option), null when it is off or could not start (see warnings). */
  socketLb?: SocketLbStatus | null;
}

export interface L4lbSnapshot {
  /** Sorted by id. */
  vips: VipView[];
  problems: AgentProblem[];
  unreachableAgents: string[];
  dataplane: DataplaneStatus;
}

export interface L4lbChange {
  /** Ids of VIPs that appeared, changed or went (look them up in a snapshot). */
  changed: string[];
  problemsChanged: boolean;
}

export interface L4lb {
  readonly config: L4lbConfig;
  readonly lifecycle: Lifecycle;
  ports(): { http: number; grpc: number };
  snapshot(): L4lbSnapshot;
  /** One VIP by id or by address as /v1/vips shows it (`web.marathon.l4lb.thisdcos.directory:80`, `11.1.2.3:80`). */
  find(vip: string, protocol?: string): VipView | undefined;
  onChange(cb: (c: L4lbChange) => void): () => void;
  driver(): DataplaneDriver | undefined;
  /** This agent's IP (agents, after the first poll). */
  agentIp(): string | undefined;
  /** Runs the table → data plane step now and waits for it (tests). */
  sync(): Promise<void>;
  /** Runs one reconcile round now (tests). */
  reconcile(): Promise<void>;
}

export interface L4lbDeps {
  logger: Logger;
  registry: Registry;
  /** The in-process bus hub (embedded mode, tests). */
  hub?: MemoryHub;
  /** A bus connection to share (aggregated mode); otherwise one is opened from config.bus. */
  bus?: Bus;
  /** A Membership this process already runs (shared with the node agent); otherwise read from the bus. */
  membership?: Pick<Membership, "list" | "onChange">;
  /** A data plane to use instead of the configured one (tests), or a factory. */
  driver?: DataplaneDriver | ((mode: L4lbConfig["mode"]) => Promise<DataplaneDriver>);
  /** Extra nft driver options (tests: `netns`). */
  nft?: Partial<Omit<NftDriverOptions, "logger" | "registry">>;
  /** Extra userspace driver options (embedded mode: `bindAddress`). */
  userspace?: Partial<Omit<UserspaceDriverOptions, "logger">>;
}

const hostPort = (ip: string, port: number): string => (ip.includes(":") ? `[${ip}]:${port}` : `${ip}:${port}`);

/**
 * The addresses of this host's interfaces other than loopback ones (the userspace proxy's
 * `addLocalAddress` puts VIPs on lo: they must not count as the node's own), read at most every 5 s
 * (the label check asks for every IP VIP label).
 */
let interfaceCache: { at: number; addresses: string[] } | undefined;
function interfaceAddresses(): string[] {
  const now = Date.now();
  if (interfaceCache && now - interfaceCache.at < 5000) return interfaceCache.addresses;
  const addresses: string[] = [];
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) if (!a.internal) addresses.push(a.address);
  interfaceCache = { at: now, addresses };
  return addresses;
}

export function createL4lb(config: L4lbConfig, deps: L4lbDeps): L4lb {
  const nodeId = config.node.id ?? defaultIPv4();
  const log = deps.logger;
  const metrics = l4lbMetrics(deps.registry);
  const ranges = rangesOf(config);
  // What every node refuses to serve as an IP VIP (static: the same answer on every node and over time).
  const refuseIpStatic = ipVipGuard({ namedRanges: ranges, allow: config.ipVipAllow });
  // The agent side also refuses node addresses: its own interfaces' and every member's.
  const refuseIpLabel = ipVipGuard({
    namedRanges: ranges,
    allow: config.ipVipAllow,
    nodeAddresses: () => [...interfaceAddresses(), ...(reach?.knownAddresses() ?? [])],
  });
  const table = new VipTable();
  const planned = new Map<string, PlannedVip>();
  const idsByName = new Map<string, Set<string>>();
  const dirty = new Set<string>();
  const listeners = new Set<(c: L4lbChange) => void>();
  const badKeys = new Map<string, string>();
  const ports = { http: 0, grpc: 0 };
  const status: DataplaneStatus = { mode: "none", entries: 0, lastAppliedMs: 0, lastError: undefined, warnings: [] };

  let bus: Bus | undefined;
  let ownBus = false;
  let kv: KvStore | undefined;
  let watch: KvWatch | undefined;
  let addresses: VipAddresses | undefined;
  let reach: ReachabilitySource | undefined;
  let gc: DeadAgentGc | undefined;
  let agent: LocalAgent | undefined;
  let driver: DataplaneDriver | undefined;
  let unexposeStats: (() => void) | undefined;
  let http: HttpEndpoint | undefined;
  let reconcileTimer: NodeJS.Timeout | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let running = false;
  let dataplaneStale = true;
  let problemsSeen = -1;
  let scheduled = false;
  const grpc = createGrpcServer({ logger: log, descriptorSetPath });

  // ---- the table → data plane step ----

  const markIds = (ids: Iterable<string>): void => {
    for (const id of ids) dirty.add(id);
  };
  const markName = (name: string): void => markIds(idsByName.get(name) ?? []);

  const unindex = (id: string, p: PlannedVip | undefined): void => {
    if (!p?.claim) return;
    const s = idsByName.get(p.claim.name);
    s?.delete(id);
    if (s && s.size === 0) idsByName.delete(p.claim.name);
  };

  const missingClaims = (ps: Iterable<PlannedVip>): { name: string; family: Family }[] => {
    const out: { name: string; family: Family }[] = [];
    for (const p of ps) {
      if (!p.claim) continue;
      for (const family of p.claim.families)
        if (addresses!.address(p.claim.name, family) === undefined) out.push({ name: p.claim.name, family });
    }
    return out;
  };

  const claim = (wanted: { name: string; family: Family }[]): void => {
    if (wanted.length === 0 || !addresses) return;
    void addresses.ensure(wanted).catch((err: unknown) => log.warn({ err: (err as Error).message }, "claiming VIP addresses failed"));
  };

  const updateMetrics = (): void => {
    metrics.vips.set(table.size);
    metrics.backends.set(table.backends);
    metrics.unreachableNodes.set(reach?.unreachable().size ?? 0);
    let unreachableVips = 0;
    let dropped = 0;
    let failedOpen = 0;
    for (const p of planned.values()) {
      const down = p.view.backends.filter((b) => !b.reachable);
      if (down.length > 0) unreachableVips++;
      if (p.view.failedOpen) failedOpen++;
      // Fail-open is per family: a VIP can keep its IPv4 backends and drop IPv6 ones.
      dropped += down.filter((b) => !b.inUse).length;
    }
    metrics.unreachableVips.set(unreachableVips);
    metrics.unreachableBackends.set(dropped);
    metrics.failedOpenVips.set(failedOpen);
  };

  const step = async (): Promise<void> => {
    if (!running || !addresses || !reach) return;
    const end = metrics.vipsDuration.startTimer();
    const ids = [...dirty];
    dirty.clear();
    const inputs = {
      address: (name: string, f: Family) => addresses!.address(name, f),
      unreachable: reach.unreachable(),
      rewrites: agent?.rewrites() ?? new Map(),
      ipv6: config.ipv6,
      refuseIp: refuseIpStatic,
    };
    const changed: string[] = [];
    const fresh: PlannedVip[] = [];
    for (const id of ids) {
      const tv = table.get(id);
      const before = planned.get(id);
      unindex(id, before);
      if (!tv) {
        if (before) {
          planned.delete(id);
          changed.push(id);
        }
        continue;
      }
      const p = planVip(tv, inputs);
      planned.set(id, p);
      fresh.push(p);
      if (p.claim) {
        let s = idsByName.get(p.claim.name);
        if (!s) idsByName.set(p.claim.name, (s = new Set()));
        s.add(id);
      }
      if (!before || JSON.stringify(before.view) !== JSON.stringify(p.view)) changed.push(id);
    }
    claim(missingClaims(fresh));
    if (ids.length > 0 || dataplaneStale) {
      const list: DataplaneVip[] = [];
      for (const p of planned.values()) for (const d of p.dataplane) list.push(d);
      status.entries = list.length;
      metrics.dataplaneVips.set(list.length);
      try {
        await driver!.apply(list);
        dataplaneStale = false;
        status.lastAppliedMs = Date.now();
        if (status.lastError !== undefined) log.info("data plane applied again after an error");
        status.lastError = undefined;
        end();
      } catch (err) {
        dataplaneStale = true;
        metrics.dataplaneErrors.inc({ op: "apply" });
        const msg = (err as Error).message;
        if (status.lastError !== msg) log.error({ err: msg }, "applying the VIP table to the data plane failed (retrying)");
        status.lastError = msg;
        clearTimeout(retryTimer);
        retryTimer = setTimeout(schedule, 1000);
        retryTimer.unref();
      }
    }
    updateMetrics();
    const problemsChanged = table.problemsRevision !== problemsSeen;
    problemsSeen = table.problemsRevision;
    if (changed.length > 0 || problemsChanged) {
      const c: L4lbChange = { changed, problemsChanged };
      for (const l of listeners) l(c);
    }
  };

  let inflight: Promise<void> | undefined;
  let again = false;
  /** At most one step at a time; calls during a step make exactly one more. */
  const runStep = (): Promise<void> => {
    if (inflight) {
      again = true;
      return inflight;
    }
    inflight = (async () => {
      do {
        again = false;
        try {
          await step();
        } catch (err) {
          log.error({ err }, "l4lb step failed");
        }
      } while (again);
    })().finally(() => (inflight = undefined));
    return inflight;
  };

  /** A step soon: changes that arrive together (one watch burst) are handled together. */
  function schedule(): void {
    if (scheduled || !running) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      void runStep();
    });
  }

  // ---- the periodic round ----

  const reconcileRound = async (): Promise<void> => {
    if (!running) return;
    if (driver) {
      // Every round is counted and timed (read-back included), whatever it found.
      const end = metrics.reconcileDuration.startTimer();
      let outcome: "clean" | "repaired" | "failed";
      try {
        const n = await driver.reconcile();
        if (n > 0) metrics.reconciled.inc({ mode: driver.mode }, n);
        outcome = n > 0 ? "repaired" : "clean";
      } catch (err) {
        outcome = "failed";
        metrics.dataplaneErrors.inc({ op: "reconcile" });
        log.warn({ err: (err as Error).message }, "data plane reconcile failed");
      }
      end({ outcome });
      metrics.reconcileRounds.inc({ outcome });
    }
    if (dataplaneStale) schedule();
    if (addresses) {
      claim(missingClaims(planned.values()));
      const inUse: Record<Family, Set<string>> = { 4: new Set(), 6: new Set() };
      for (const p of planned.values()) if (p.claim) for (const f of p.claim.families) inUse[f].add(p.claim.name);
      for (const r of await addresses.releaseDue(inUse, Date.now())) metrics.releases.inc({ family: String(r.family) });
    }
    await agent?.reassert().catch((err: unknown) => log.warn({ err: (err as Error).message }, "re-asserting the backends document failed"));
    if (gc && reach) {
      const removed = await gc.sweep({
        unreachable: reach.unreachable(),
        known: reach.knownAddresses(),
        agents: table.agents(),
        self: agent?.agentIp(),
      });
      if (removed.length > 0) metrics.deadAgentDocuments.inc(removed.length);
    }
  };

  // ---- the agent IP against membership ----

  /**
   * Reachability filtering matches backends' agent IPs with the addresses of membership records
   * (node.address). When this agent's IP is not one of them (the Mesos agent's IP differs from
   * node.address), its backends can never be marked unreachable anywhere: warned once (log and the
   * detail API's `dataplane.warnings`) after it has lasted a membership timeout, withdrawn when it ends.
   */
  let addressWarning: string | undefined;
  let mismatch: { ip: string; since: number } | undefined;
  let addressTimer: NodeJS.Timeout | undefined;
  const addressGraceMs = config.bus.heartbeatMs * config.bus.missedBeats;
  const withdrawAddressWarning = (): void => {
    if (addressWarning === undefined) return;
    status.warnings = status.warnings.filter((w) => w !== addressWarning);
    addressWarning = undefined;
  };
  const checkAgentAddress = (): void => {
    const ip = agent?.agentIp();
    if (!ip || !reach) return;
    const known = reach.knownAddresses();
    if (known.has(ip)) {
      mismatch = undefined;
      if (addressWarning !== undefined) log.info({ agentIp: ip }, "this agent's IP is a membership address again");
      withdrawAddressWarning();
      return;
    }
    if (mismatch?.ip !== ip) {
      mismatch = { ip, since: Date.now() };
      withdrawAddressWarning();
    }
    if (addressWarning !== undefined || Date.now() - mismatch.since < addressGraceMs) return;
    const list = [...known].sort();
    addressWarning =
      `this agent's backends carry the agent IP ${ip}, which no membership record has (node addresses: ${list.join(", ") || "none"}): ` +
      "they can never be marked unreachable; make node.address and the Mesos agent's IP agree";
    status.warnings.push(addressWarning);
    log.warn({ agentIp: ip, nodeAddresses: list }, addressWarning);
  };

  // ---- the data plane ----

  const makeDriver = async (): Promise<DataplaneDriver> => {
    if (deps.driver) return typeof deps.driver === "function" ? deps.driver(config.mode) : deps.driver;
    let mode = config.mode;
    if (mode === "auto") {
      const probe = await nftUsable(deps.nft ?? {});
      mode = probe.ok ? "nft" : "userspace";
      log.info({ mode, why: probe.ok ? "nft list tables works" : probe.reason }, "data plane mode chosen");
    }
    if (mode === "nft") {
      const d = await createNftDriver({
        logger: log,
        registry: deps.registry,
        table: config.nft.table,
        balance: config.nft.balance,
        ctMark: config.nft.ctMark,
        routeProtocol: config.nft.routeProtocol,
        routeSource: config.nft.routeSource,
        ...(config.nft.socketLbCgroup !== undefined ? { socketLb: { cgroup: config.nft.socketLbCgroup } } : {}),
        // Named VIPs take their addresses from these ranges, kept for VIPs: a few prefix routes cover them.
        routeCover: [ranges[4], ranges[6]],
        reconcileIntervalMs: 0, // the service's own round calls reconcile()
        ...deps.nft,
      });
      status.warnings = [...d.warnings];
      return d;
    }
    const d = createUserspaceDriver({
      logger: log,
      addLocalAddress: config.userspace.addLocalAddress,
      udpIdleMs: config.userspace.udpIdleMs,
      connectTimeoutMs: config.userspace.connectTimeoutMs,
      ...deps.userspace,
    });
    unexposeStats = exposeUserspaceStats(deps.registry, () => d.stats());
    return d;
  };

  // ---- views for the APIs ----

  const snapshot = (): L4lbSnapshot => ({
    vips: [...planned.values()].map((p) => p.view).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
    problems: table.problems(),
    unreachableAgents: [...(reach?.unreachable() ?? [])].sort(),
    dataplane: { ...status, warnings: [...status.warnings], socketLb: driver?.socketLb?.() ?? null },
  });

  const find = (q: string, protocol?: string): VipView | undefined => {
    const query = q.trim();
    const direct = planned.get(query);
    if (direct) return direct.view;
    const hits: VipView[] = [];
    for (const p of planned.values()) {
      const v = p.view;
      if (protocol && v.protocol !== protocol) continue;
      const forms = [v.vip, ...v.addresses.map((a) => hostPort(a, v.port))];
      if (v.dnsName) forms.push(`${v.dnsName.replace(/\.l4lb\.thisdcos\.directory$/, "")}:${v.port}`);
      if (forms.includes(query)) hits.push(v);
    }
    return hits.find((v) => v.protocol === "tcp") ?? hits[0];
  };

  // ---- lifecycle ----

  const lifecycle = new Lifecycle(log)
    .add(
      "bus",
      async () => {
        if (deps.bus) bus = deps.bus;
        else {
          bus = await connectBus({
            cluster: config.cluster,
            bus: config.bus,
            nodeId: `l4lb@${nodeId}`,
            logger: log,
            registry: deps.registry,
            ...(deps.hub ? { hub: deps.hub } : {}),
          });
          ownBus = true;
        }
        kv = await bus.kv(L4LB_BUCKET);
      },
      async () => {
        if (ownBus) await bus?.close();
      },
    )
    .add(
      "data plane",
      async () => {
        driver = await makeDriver();
        status.mode = driver.mode;
        log.info({ mode: driver.mode, warnings: status.warnings }, "data plane ready");
      },
      async () => {
        // The kernel state stays: VIPs keep working across a restart of l4lb.
        unexposeStats?.();
        await driver?.close();
      },
    )
    .add(
      "vip table",
      async () => {
        reach = deps.membership
          ? membershipReachability(deps.membership)
          : busReachability(bus!, { intervalMs: config.bus.heartbeatMs, missedBeats: config.bus.missedBeats, logger: log });
        let lastUnreachable = new Set<string>();
        reach.onChange((u) => {
          gc?.observe(u);
          for (const a of u) if (!lastUnreachable.has(a)) markIds(table.idsOfAgent(a));
          for (const a of lastUnreachable) if (!u.has(a)) markIds(table.idsOfAgent(a));
          lastUnreachable = new Set(u);
          schedule();
        });
        await reach.start();
        gc = new DeadAgentGc({ kv: kv!, afterMs: config.deadAgentGcMs, logger: log });
        gc.observe(reach.unreachable());
        addresses = new VipAddresses(kv!, {
          ranges,
          graceMs: config.releaseGraceMs,
          logger: log,
          onChange: (names) => {
            for (const n of names) markName(n);
            schedule();
          },
          onClaimFailed: (_name, family) => metrics.claimFailures.inc({ family: String(family) }),
        });
        await addresses.start();
        watch = kv!.watch(
          (c) => {
            const key = c.op === "put" ? c.entry.key : c.key;
            if (!key.startsWith(BACKENDS_PREFIX)) return;
            if (c.op === "delete") {
              markIds(table.set(key, undefined));
              badKeys.delete(key);
            } else {
              const parsed = parseBackendsDoc(key, c.entry.value);
              if (parsed.ok) {
                badKeys.delete(key);
                markIds(table.set(key, parsed.doc));
              } else {
                metrics.badDocuments.inc();
                if (badKeys.get(key) !== parsed.reason)
                  log.warn({ key, reason: parsed.reason, sender: c.entry.sender }, "unreadable backends document ignored");
                badKeys.set(key, parsed.reason);
                markIds(table.set(key, undefined));
              }
            }
            schedule();
          },
          { key: BACKENDS_FILTER, initial: true },
        );
        await watch.ready;
        lastUnreachable = new Set(reach.unreachable());
        running = true;
        markIds(table.ids());
        await runStep();
        log.info({ vips: table.size, backends: table.backends, agents: table.agents().length }, "VIP table loaded");
        reconcileTimer = setInterval(
          () => void reconcileRound().catch((err: unknown) => log.warn({ err }, "reconcile round failed")),
          config.reconcileIntervalMs,
        );
        reconcileTimer.unref();
      },
      async () => {
        running = false;
        clearInterval(reconcileTimer);
        clearTimeout(retryTimer);
        watch?.stop();
        addresses?.stop();
        reach?.stop();
        await inflight;
      },
    )
    .add(
      "agent",
      async () => {
        if (!config.agent.enabled) return;
        agent = new LocalAgent({
          kv: kv!,
          url: config.agent.url,
          intervalMs: config.agent.pollIntervalMs,
          ipv6: config.ipv6,
          logger: log,
          metrics,
          onTasks: () => {
            const ip = agent?.agentIp();
            if (ip) markIds(table.idsOfAgent(ip));
            schedule();
          },
          // The node agent's record (same node id) on the bus; `node.address` when configured.
          ownAddress: () => (config.node.address !== undefined ? canonicalIp(config.node.address) : undefined) ?? reach?.addressOf(nodeId),
          refuseIp: refuseIpLabel,
        });
        agent.start();
        log.info({ url: config.agent.url, intervalMs: config.agent.pollIntervalMs }, "polling the local Mesos agent");
        addressTimer = setInterval(checkAgentAddress, Math.max(100, Math.min(addressGraceMs, config.agent.pollIntervalMs)));
        addressTimer.unref();
      },
      async () => {
        clearInterval(addressTimer);
        await agent?.stop();
      },
    )
    .add(
      "http",
      async () => {
        http = await serveHttp(deps.registry, config.httpListen, [l4lbRoutes({ snapshot, registry: deps.registry })]);
        ports.http = http.port;
      },
      async () => http?.close(),
    )
    .add(
      "grpc",
      async () => {
        grpc.add("dcnet.l4lb.v1.L4lbService", l4lbv1.L4lbServiceService, l4lbService({ snapshot, find, subscribe: (cb) => subscribe(cb) }));
        ports.grpc = await grpc.listen(config.grpcListen.host, config.grpcListen.port);
        log.info({ http: ports.http, grpc: ports.grpc, agent: config.agent.enabled }, "l4lb APIs listening");
      },
      () => grpc.stop(1000),
    );

  function subscribe(cb: (c: L4lbChange) => void): () => void {
    listeners.add(cb);
    return () => listeners.delete(cb);
  }

  return {
    config,
    lifecycle,
    ports: () => ({ ...ports }),
    snapshot,
    find,
    onChange: subscribe,
    driver: () => driver,
    agentIp: () => agent?.agentIp(),
    sync: () => runStep(),
    reconcile: () => reconcileRound(),
  };
}
