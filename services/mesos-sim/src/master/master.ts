import * as os from "node:os";
import type * as http from "node:http";
import { Lifecycle, createGrpcServer, serveHttp, type Bus, type HttpEndpoint, type KvStore, type Logger, type Registry } from "@dcnet/core";
import { HttpError, redirect, sendJson, splitUrl } from "../http-util";
import { AppStore } from "../marathon/apps";
import { Deployments } from "../marathon/deployments";
import { MarathonEvents } from "../marathon/events";
import { marathonRoutes } from "../marathon/http";
import { MarathonScheduler } from "../marathon/scheduler";
import { BUCKET, keys } from "../model/kv-layout";
import type { FrameworkRecord } from "../model/launch";
import type { TaskStatus } from "../model/mesos";
import { mesosv1, descriptorSetPath } from "@dcnet/proto";
import { ClusterState, type TaskView } from "./cluster-state";
import { mesosSimService } from "./grpc-api";
import type { MasterConfig } from "./config";
import { LeaderElection } from "./leader";
import { OperatorApi } from "./operator-api";
import { masterStateJson } from "./state-json";

export interface MesosMaster {
  readonly lifecycle: Lifecycle;
  readonly id: string;
  ports(): { master: number; marathon: number; grpc: number };
  isLeader(): boolean;
  state(): ClusterState;
}

/**
 * A Mesos master with Marathon beside it. Every master keeps the cluster state
 * from the bus; the one holding the leader lease serves the APIs (the others
 * redirect or forward) and runs Marathon's scheduler.
 */
export function createMesosMaster(
  config: MasterConfig,
  deps: { bus: Bus; logger: Logger; registry: Registry; defaultIp: string },
): MesosMaster {
  const ip = config.ip ?? deps.defaultIp;
  const id = config.id ?? `master-${ip}`;
  const hostname = config.hostname ?? os.hostname();
  const log = deps.logger.child({ component: "mesos-master", master: id });
  const startTime = Date.now();
  const ports = { master: 0, marathon: 0, grpc: 0 };
  const grpc = createGrpcServer({ logger: log, descriptorSetPath });
  const state = new ClusterState(deps.bus, { agentTimeoutMs: config.agentTimeoutMs });
  const events = new MarathonEvents();
  const deployments = new Deployments(events);
  let kv: KvStore;
  let apps: AppStore;
  let election: LeaderElection;
  let scheduler: MarathonScheduler;
  let operator: OperatorApi;
  let masterHttp: HttpEndpoint | undefined;
  let marathonHttp: HttpEndpoint | undefined;
  let loop: NodeJS.Timeout | undefined;

  /**
   * Frameworks as the bus knows them. A newly elected master lists them (and so
   * their tasks) at once, under the previous leader's pid until it re-registers
   * them: the state never shows the tasks gone during a failover.
   */
  const frameworks = (): FrameworkRecord[] => [...state.frameworks.values()];
  const marathonId = (): string => state.frameworks.get("marathon")?.id ?? "";
  const leaderLease = () => election?.lease;

  /** On election: (re)register the marathon framework under its durable id, now at this master. */
  const registerFramework = async (): Promise<void> => {
    const existing = await kv.get(keys.framework("marathon"));
    const prev = existing ? (JSON.parse(Buffer.from(existing.value).toString()) as FrameworkRecord) : undefined;
    const framework: FrameworkRecord = {
      id: prev?.id ?? `${deps.bus.clusterId}-marathon-0000`,
      name: "marathon",
      hostname,
      pid: `scheduler(1)@${ip}:${ports.marathon}`,
      registeredTime: prev?.registeredTime ?? Date.now(),
    };
    await kv.put(keys.framework("marathon"), Buffer.from(JSON.stringify(framework)));
    state.registered(framework);
    operator.frameworkRegistered(framework, prev !== undefined);
  };

  const masterRoutes = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<boolean> => {
    let path: string;
    try {
      [path] = splitUrl(req.url);
      if (path === "/health") return (sendJson(res, 200, { healthy: true, leader: election.isLeader }), true);
      const isState = ["/master/state", "/master/state.json", "/state", "/state.json"].includes(path);
      if (!isState && path !== "/api/v1" && path !== "/master/redirect") return false;
      const lease = leaderLease();
      if (!election.isLeader || path === "/master/redirect") {
        if (!lease) throw new HttpError(503, { message: "no leading master elected yet" });
        redirect(res, `http://${lease.address}${path === "/master/redirect" ? "" : (req.url ?? "")}`);
        return true;
      }
      if (isState) {
        const [leaderIp, leaderPort] = splitAddress(lease!.address);
        const leader = { id: lease!.masterId, ip: leaderIp, port: leaderPort, hostname, electedAt: lease!.electedAt };
        sendJson(res, 200, masterStateJson({ id, ip, port: ports.master, hostname, startTime }, leader, state, frameworks()));
        return true;
      }
      if (req.method !== "POST") throw new HttpError(405, { message: "the Operator API takes POST" });
      await operator.handle(req, res);
    } catch (err) {
      if (!(err instanceof HttpError)) throw err;
      sendJson(res, err.status, { error: err.status === 400 ? "bad_request" : "error", ...err.body });
    }
    return true;
  };

  const lifecycle = new Lifecycle(log)
    .add(
      "cluster-state",
      async () => {
        await state.start();
        kv = state.kv;
      },
      () => state.stop(),
    )
    .add(
      "apps",
      async () => {
        apps = new AppStore(await deps.bus.kv(BUCKET));
        await apps.start();
      },
      async () => apps.stop(),
    )
    .add(
      "http",
      async () => {
        operator = new OperatorApi(state, frameworks, { heartbeatSeconds: config.heartbeatSeconds, log });
        scheduler = new MarathonScheduler(kv, state, () => apps.apps, {
          frameworkId: marathonId,
          log,
          backoffMs: config.backoffMs,
          maxBackoffMs: config.maxBackoffMs,
          onAppState: (appId, converged) => deployments.observe(appId, converged),
        });
        masterHttp = await serveHttp(deps.registry, { host: config.host, port: config.port }, [masterRoutes]);
        ports.master = masterHttp.port;
        marathonHttp = await serveHttp(deps.registry, { host: config.host, port: config.marathonPort }, [
          marathonRoutes({
            apps,
            state,
            events,
            deployments,
            frameworkId: marathonId,
            leader: () => leaderLease()?.marathon,
            isLeader: () => election.isLeader,
            killTask: (t: TaskView) => scheduler.kill(t),
            reconcile: () => void scheduler.reconcile(),
          }),
        ]);
        ports.marathon = marathonHttp.port;
        log.info({ master: ports.master, marathon: ports.marathon }, "mesos master and marathon listening");
      },
      async () => {
        operator.closeStreams();
        events.closeAll();
        await masterHttp?.close();
        await marathonHttp?.close();
      },
    )
    .add(
      "election",
      async () => {
        election = new LeaderElection(
          kv,
          { masterId: id, address: `${ip}:${ports.master}`, marathon: `${ip}:${ports.marathon}` },
          { leaseMs: config.leaseMs, renewMs: config.renewMs, log },
        );
        election.on(
          "elected",
          () =>
            void registerFramework().then(
              () => scheduler.reconcile(),
              (err: unknown) => log.warn({ err }, "framework registration failed"),
            ),
        );
        election.on("demoted", () => {
          operator.closeStreams();
          events.closeAll();
        });
        state.on("taskUpdated", (t: TaskView, s: TaskStatus) => {
          if (!election.isLeader) return;
          scheduler.noteStatus(t, s);
          if (t.launch.appId) {
            const agent = state.agents.get(t.launch.agentId);
            events.emit("status_update_event", {
              slaveId: t.launch.agentId,
              taskId: t.launch.taskId,
              taskStatus: s.state,
              message: s.message ?? "",
              appId: t.launch.appId,
              host: agent?.record.hostname ?? t.launch.agentId,
              ipAddresses: (s.container_status?.network_infos ?? [])
                .flatMap((n) => n.ip_addresses ?? [])
                .map((a) => ({ ipAddress: a.ip_address, protocol: a.protocol ?? "IPv4" })),
              ports: t.launch.hostPorts,
              version: t.launch.appVersion,
            });
          }
          void scheduler.reconcile();
        });
        state.on("agentRemoved", () => election.isLeader && void scheduler.reconcile());
        state.on("agentAdded", () => election.isLeader && void scheduler.reconcile());
        apps.onChange = () => election.isLeader && void scheduler.reconcile();
        await election.start();
        loop = setInterval(() => election.isLeader && void scheduler.reconcile(), 1000);
        loop.unref();
      },
      async () => {
        if (loop) clearInterval(loop);
        await election.stop();
      },
    )
    .add(
      "grpc",
      async () => {
        grpc.add(
          "dcnet.mesos.v1.MesosSimService",
          mesosv1.MesosSimServiceService,
          mesosSimService(state, () => election, id),
        );
        ports.grpc = await grpc.listen(config.host, config.grpcPort);
      },
      () => grpc.stop(1000),
    );

  return {
    lifecycle,
    id,
    ports: () => ({ ...ports }),
    isLeader: () => election?.isLeader ?? false,
    state: () => state,
  };
}

function splitAddress(address: string): [string, number] {
  const i = address.lastIndexOf(":");
  return [address.slice(0, i), Number(address.slice(i + 1))];
}
