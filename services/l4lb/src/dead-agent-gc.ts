/**
 * Garbage collection of dead agents' backends documents (spec §4.2: "a VIP whose backend set
 * becomes empty cluster-wide is removed", DCOS_OSS-5356). Only an agent writes its own
 * `backends.<agent>` key, so an agent that dies for good would keep its VIPs (and their named
 * addresses) forever: reachability filtering hides its backends, but fail-open brings them back
 * when they are a VIP's only ones.
 *
 * Every node runs this on its reconcile round. A document is deleted when its agent IP
 *
 * 1. has been unreachable (bus membership: missed heartbeats or left) for `afterMs` without a
 *    break, as this node saw it — a node that just started waits the full time;
 * 2. is not this node's own agent IP;
 * 3. and this node does not see most of the cluster unreachable (then it is more likely the one
 *    cut off: nothing is deleted, logged once). Members unreachable for `afterMs` or longer count
 *    as dead, not as members, so nodes replaced over a cluster's life never block it; and at least
 *    one other member must be reachable;
 *
 * and the deletion is a compare-and-delete on the revision read just before (a document the agent
 * rewrote in between is kept). Every node may try; one wins, the others get a conflict. An agent
 * that comes back republishes on its next poll or reconcile (`reassert`), so a mistaken delete
 * costs its VIPs at most that long, never more.
 */
import { ConflictError, type KvStore, type Logger } from "@dcnet/core";
import { backendsKey, parseBackendsDoc } from "./publisher";

export interface DeadAgentGcOptions {
  kv: KvStore;
  /** How long an agent must stay unreachable (ms); 0 = never delete. */
  afterMs: number;
  logger: Logger;
  now?: () => number;
}

export interface GcInputs {
  /** Agent IPs the bus marks unreachable now. */
  unreachable: ReadonlySet<string>;
  /** Addresses of members that have not left (reachable or not). */
  known: ReadonlySet<string>;
  /** Agent IPs that publish a document (the VIP table's). */
  agents: readonly string[];
  /** This node's own agent IP (never deleted). */
  self: string | undefined;
}

export class DeadAgentGc {
  private readonly since = new Map<string, number>();
  private cutOffLogged = false;

  constructor(private readonly opts: DeadAgentGcOptions) {}

  /** Records when each agent IP turned unreachable; forgets those that came back (call on every change and round). */
  observe(unreachable: ReadonlySet<string>): void {
    const now = (this.opts.now ?? Date.now)();
    for (const ip of unreachable) if (!this.since.has(ip)) this.since.set(ip, now);
    for (const ip of [...this.since.keys()]) if (!unreachable.has(ip)) this.since.delete(ip);
  }

  /** Deletes the documents that are due; resolves to the agent IPs whose document this node deleted. */
  async sweep(inputs: GcInputs): Promise<string[]> {
    this.observe(inputs.unreachable);
    if (this.opts.afterMs <= 0) return [];
    const now = (this.opts.now ?? Date.now)();
    // Members unreachable for afterMs or longer are dead, not a sign that this node is cut off: left
    // out of the count, or nodes replaced over the cluster's life would outnumber the live ones and
    // stop the collection for good. At least one other member must be reachable (a node whose own
    // view is broken sees nobody).
    const members = new Set([...inputs.known, ...inputs.unreachable]);
    let recent = 0;
    for (const ip of inputs.unreachable) {
      const t = this.since.get(ip);
      if (t !== undefined && now - t >= this.opts.afterMs) members.delete(ip);
      else recent++;
    }
    let reachableOthers = 0;
    for (const ip of members) if (!inputs.unreachable.has(ip) && ip !== inputs.self) reachableOthers++;
    if (recent * 2 > members.size || reachableOthers === 0) {
      if (!this.cutOffLogged)
        this.opts.logger.warn(
          { unreachable: inputs.unreachable.size, recentlyUnreachable: recent, members: members.size, reachableOthers },
          "most of the cluster looks unreachable from here: dead agents' backends documents are not collected",
        );
      this.cutOffLogged = true;
      return [];
    }
    this.cutOffLogged = false;
    const deleted: string[] = [];
    for (const ip of inputs.agents) {
      const t = this.since.get(ip);
      if (t === undefined || now - t < this.opts.afterMs || ip === inputs.self) continue;
      const key = backendsKey(ip);
      try {
        const entry = await this.opts.kv.get(key);
        if (!entry) continue;
        const parsed = parseBackendsDoc(key, entry.value);
        if (parsed.ok && parsed.doc.agentIp !== ip) continue; // not that agent's document
        await this.opts.kv.delete(key, entry.revision);
        deleted.push(ip);
        this.opts.logger.warn(
          { agentIp: ip, key, unreachableForMs: now - t },
          "removed the backends document of an agent unreachable for longer than dead_agent_gc_ms",
        );
      } catch (err) {
        if (err instanceof ConflictError) continue; // rewritten (the agent is back) or another node was first
        this.opts.logger.warn({ agentIp: ip, err: (err as Error).message }, "removing a dead agent's backends document failed");
      }
    }
    return deleted;
  }
}
