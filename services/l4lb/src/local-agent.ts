/**
 * The agent side (spec §4.2, `dcos_l4lb_mesos_poller`): polls the local Mesos agent (every 2 s by
 * default), turns its tasks into this agent's VIPs and backends (backends.ts) and publishes them
 * (publisher.ts) when they changed. It also keeps, for this node's own data plane, the hairpin
 * rewrites of the tasks it hosts (hairpin.ts), and reports label problems: each is logged once
 * (app, label, value, reason) while it lasts, counted in `l4lb_label_problems`, and published in the
 * agent's document so every node's API shows it.
 */
import type { KvStore, Logger } from "@dcnet/core";
import { createAgentPoller, type AgentPoller, type NormalTask } from "@dcnet/mesos";
import { agentBackends, type VipProblem } from "./backends";
import type { Endpoint } from "./dataplane";
import { localRewrites } from "./hairpin";
import { canonicalIp } from "./ip";
import type { L4lbMetrics } from "./metrics";
import { BackendsPublisher } from "./publisher";
import type { IpVipGuard } from "./vip-guard";

export interface LocalAgentOptions {
  kv: KvStore;
  /** `http://ip:port` or `ip:port` of the local Mesos agent. */
  url: string;
  intervalMs: number;
  ipv6: boolean;
  logger: Logger;
  metrics: L4lbMetrics;
  /** After each poll that changed the tasks (the rewrites may have changed). */
  onTasks: () => void;
  /**
   * This node's own address (its `node.address`), used as the agent IP when the Mesos agent gives
   * none but the poller's fallback, the host of `url` (loopback by default): with a hostname that
   * is not an IP (compose: `agent-1`), GET_AGENT carries no IP, and every agent would publish as
   * 127.0.0.1 under one key, overwriting the others.
   */
  ownAddress?: () => string | undefined;
  /** IP VIP addresses refused as bad labels (vip-guard.ts). */
  refuseIp?: IpVipGuard;
}

const isLoopback = (ip: string): boolean => ip === "::1" || ip.startsWith("127.");

const problemKey = (p: VipProblem): string => JSON.stringify([p.taskId, p.label, p.value, p.reason]);

export class LocalAgent {
  private readonly poller: AgentPoller;
  private readonly publisher: BackendsPublisher;
  private readonly logged = new Set<string>();
  private ip: string | undefined;
  private rewriteMap: ReadonlyMap<string, Endpoint> = new Map();
  private pending: { tasks: NormalTask[]; agentIp: string } | undefined;
  private retry: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Publishes failed since the last one that worked. */
  private failedInARow = 0;

  constructor(private readonly opts: LocalAgentOptions) {
    this.poller = createAgentPoller({ agent: opts.url, intervalMs: opts.intervalMs, logger: opts.logger });
    this.publisher = new BackendsPublisher(opts.kv, { logger: opts.logger });
    this.poller.onChange((tasks, agentIp) => {
      this.pending = { tasks, agentIp };
      void this.flush();
    });
  }

  /** This agent's IP, once the first poll answered. */
  agentIp(): string | undefined {
    return this.ip;
  }

  rewrites(): ReadonlyMap<string, Endpoint> {
    return this.rewriteMap;
  }

  start(): void {
    this.poller.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    await this.poller.stop();
  }

  /** Rewrites the document if the bucket lost it (every reconcile). */
  async reassert(): Promise<void> {
    const r = await this.publisher.reassert();
    if (r !== "unchanged") {
      this.opts.metrics.publishes.inc({ result: `reassert-${r}` });
      this.opts.logger.warn({ result: r }, "the bus did not hold this agent's backends document: rewritten");
    }
  }

  /** The configured guard, and this agent's own IP (which the bus may not know yet) refused too. */
  private refuseIp(agentIp: string): IpVipGuard {
    const guard = this.opts.refuseIp;
    return (ip) =>
      canonicalIp(ip) === agentIp
        ? `${agentIp} is this agent's own address: a VIP there would catch that node's traffic on every node`
        : guard?.(ip);
  }

  private async flush(): Promise<void> {
    const p = this.pending;
    if (!p || this.stopped) return;
    let agentIp = canonicalIp(p.agentIp) ?? p.agentIp;
    if (agentIp === "" || isLoopback(agentIp)) agentIp = this.opts.ownAddress?.() ?? agentIp;
    const m = this.opts.metrics;
    const b = agentBackends(p.tasks, agentIp, { ipv6: this.opts.ipv6, refuseIp: this.refuseIp(agentIp) });
    m.localTasks.set(p.tasks.length);
    m.localRunningTasks.set(p.tasks.filter((t) => t.state === "running").length);
    m.localVips.set(b.vips.length);
    m.localBackends.set(b.vips.reduce((n, v) => n + v.backends.length, 0));
    m.labelProblems.set(b.problems.length);
    const now = new Set(b.problems.map(problemKey));
    for (const pr of b.problems) {
      const k = problemKey(pr);
      if (this.logged.has(k)) continue;
      this.logged.add(k);
      this.opts.logger.warn(
        { app: pr.app, framework: pr.framework, taskId: pr.taskId, label: pr.label, value: pr.value, reason: pr.reason },
        `VIP label ${pr.label} of ${pr.app} ignored: ${pr.reason}`,
      );
    }
    for (const k of this.logged) if (!now.has(k)) this.logged.delete(k);
    const ipChanged = this.ip !== agentIp;
    this.ip = agentIp;
    this.rewriteMap = localRewrites(p.tasks, agentIp);
    if (ipChanged) this.opts.logger.info({ agentIp }, "local Mesos agent found");
    this.opts.onTasks();
    try {
      const r = await this.publisher.publish(agentIp, b);
      if (this.pending === p) this.pending = undefined;
      m.publishes.inc({ result: r });
      if (this.failedInARow > 0) this.opts.logger.info({ failedInARow: this.failedInARow }, "this agent's backends published again");
      this.failedInARow = 0;
    } catch (err) {
      m.publishes.inc({ result: "error" });
      // While the bus stays down: one warning, then debug (each failure counted in l4lb_backends_publishes_total{result="error"}).
      this.opts.logger[this.failedInARow++ === 0 ? "warn" : "debug"](
        { err: (err as Error).message, failedInARow: this.failedInARow },
        "publishing this agent's backends failed: retrying",
      );
      clearTimeout(this.retry);
      this.retry = setTimeout(() => void this.flush(), this.opts.intervalMs);
      this.retry.unref();
    }
  }
}
