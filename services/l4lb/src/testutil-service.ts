/**
 * Test helpers for the wired service: a config on the in-process bus, a recording data plane,
 * fake agents that publish backends documents and heartbeat like a node agent.
 */
import { Membership, connectBus, createLogger, createRegistry, type Bus, type KvStore, type Logger, type MemoryHub } from "@dcnet/core";
import { NodeRole } from "@dcnet/proto";
import type { Backend, VipProblem } from "./backends";
import { loadL4lbConfig, type L4lbConfig } from "./config";
import type { DataplaneVip } from "./dataplane";
import type { DataplaneDriver } from "./driver";
import { backendsKey, L4LB_BUCKET, type BackendsDoc } from "./publisher";
import { createL4lb, type L4lb, type L4lbDeps } from "./service";
import { parseVipKeyId, vipKeyId } from "./vip-key";

export const quiet = (): Logger => createLogger({ service: "l4lb-test", level: "silent" });

export const CLUSTER = { id: "l4lbtest", key: "l4lb-service-test-key-0001" };
export const MEMORY_BUS = { kind: "memory", heartbeatMs: 100, missedBeats: 3 };

export function testConfig(over: Record<string, unknown> = {}): L4lbConfig {
  return loadL4lbConfig({
    env: {},
    overrides: {
      cluster: CLUSTER,
      bus: MEMORY_BUS,
      httpListen: { host: "127.0.0.1", port: 0 },
      grpcListen: { host: "127.0.0.1", port: 0 },
      ...over,
    },
  });
}

/** A data plane that records what it is asked to serve. */
export class RecordingDriver implements DataplaneDriver {
  readonly mode = "userspace" as const;
  applied: DataplaneVip[] = [];
  applies = 0;
  reconciles = 0;
  fail: Error | undefined;

  async apply(vips: readonly DataplaneVip[]): Promise<void> {
    if (this.fail) throw this.fail;
    this.applied = [...vips];
    this.applies++;
  }

  /** What the next reconciles find: a number of repairs, or an error to throw. */
  reconcileResult: number | Error = 0;

  async reconcile(): Promise<number> {
    this.reconciles++;
    if (this.reconcileResult instanceof Error) throw this.reconcileResult;
    return this.reconcileResult;
  }

  async close(): Promise<void> {}

  /** The entry at `ip:port/protocol`, if served. */
  entry(ip: string, port: number, protocol = "tcp"): DataplaneVip | undefined {
    return this.applied.find((v) => v.ip === ip && v.port === port && v.protocol === protocol);
  }
}

export async function startL4lb(hub: MemoryHub, config: L4lbConfig, deps: Partial<L4lbDeps> = {}): Promise<L4lb> {
  const svc = createL4lb(config, { logger: quiet(), registry: createRegistry({ defaultMetrics: false }), hub, ...deps });
  await svc.lifecycle.start();
  return svc;
}

/** `[vipId, [[ip, port, weight], …]]` → an AgentVip list for a document. */
export type VipSpec = [string, [string, number, number][]];

/**
 * An agent as the rest of the cluster sees it: its backends document (`publish`) and, when
 * `heartbeat`, a node agent's membership (heartbeats at 100 ms) with `address` = its IP.
 */
export class FakeAgent {
  private bus: Bus | undefined;
  private kv: KvStore | undefined;
  private membership: Membership | undefined;

  constructor(
    private readonly hub: MemoryHub,
    readonly ip: string,
  ) {}

  async start(heartbeat = true): Promise<this> {
    this.bus = await connectBus({
      cluster: CLUSTER,
      bus: { kind: "memory", servers: [], replicas: 1, heartbeatMs: 100, missedBeats: 3, forgetAfterMs: 86_400_000, connectTimeoutMs: 0 },
      nodeId: `agent-${this.ip.replace(/[.:]/g, "-")}`,
      logger: quiet(),
      hub: this.hub,
    });
    this.kv = await this.bus.kv(L4LB_BUCKET);
    if (heartbeat) {
      this.membership = new Membership(this.bus, {
        identity: {
          nodeId: this.bus.nodeId,
          clusterId: CLUSTER.id,
          address: this.ip,
          role: NodeRole.NODE_ROLE_AGENT,
          hostname: this.bus.nodeId,
          version: "test",
        },
        intervalMs: 100,
      });
      await this.membership.start();
    }
    return this;
  }

  async publish(vips: VipSpec[], problems: VipProblem[] = []): Promise<void> {
    const doc: BackendsDoc = {
      v: 1,
      agentIp: this.ip,
      vips: vips.map(([id, backends]) => ({
        key: parseVipKeyId(id)!,
        id: vipKeyId(parseVipKeyId(id)!),
        backends: backends.map(([ip, port, weight], i): Backend => ({
          ip,
          port,
          weight,
          taskId: `task-${this.ip}-${i}`,
          agentIp: this.ip,
        })),
      })),
      problems,
      updatedMs: Date.now(),
    };
    await this.kv!.put(backendsKey(this.ip), Buffer.from(JSON.stringify(doc)));
  }

  async unpublish(): Promise<void> {
    await this.kv!.delete(backendsKey(this.ip));
  }

  /** Dies without a goodbye: heartbeats stop, the node record and the document stay. */
  async kill(): Promise<void> {
    await this.bus?.close();
  }

  async stop(): Promise<void> {
    await this.membership?.stop().catch(() => undefined);
    await this.bus?.close().catch(() => undefined);
  }
}
