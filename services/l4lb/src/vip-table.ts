/**
 * The cluster's VIP table: the union of every agent's `backends.<agent>` document (spec §4.2–4.3:
 * every node reads all agents' backends and programs its own kernel). A VIP exists while at least
 * one agent publishes a backend for it; when its backend set is empty cluster-wide it is gone.
 *
 * Incremental: `set(key, doc)` replaces one agent's contribution and returns the ids of the VIPs
 * whose union changed, so the service recomputes only those.
 */
import type { AgentVip, Backend, VipProblem } from "./backends";
import type { BackendsDoc } from "./publisher";
import type { VipKey } from "./vip-key";

/** One VIP with the backends of every agent (sorted by address, port, task). */
export interface TableVip {
  id: string;
  key: VipKey;
  backends: Backend[];
}

/** A label problem with the agent that reported it. */
export interface AgentProblem extends VipProblem {
  agentIp: string;
}

function compareBackends(a: Backend, b: Backend): number {
  if (a.ip !== b.ip) return a.ip < b.ip ? -1 : 1;
  if (a.port !== b.port) return a.port - b.port;
  if (a.agentIp !== b.agentIp) return a.agentIp < b.agentIp ? -1 : 1;
  return a.taskId < b.taskId ? -1 : a.taskId > b.taskId ? 1 : 0;
}

export class VipTable {
  /** Document key → document. */
  private readonly docs = new Map<string, BackendsDoc>();
  /** VIP id → document key → that agent's part. */
  private readonly parts = new Map<string, Map<string, AgentVip>>();
  private readonly merged = new Map<string, TableVip>();
  private backendTotal = 0;
  private problemsVersion = 0;

  /** Replaces (or with undefined removes) one agent's document; the ids whose backends changed. */
  set(key: string, doc: BackendsDoc | undefined): string[] {
    const old = this.docs.get(key);
    if (doc) this.docs.set(key, doc);
    else this.docs.delete(key);
    if (JSON.stringify(old?.problems ?? []) !== JSON.stringify(doc?.problems ?? [])) this.problemsVersion++;
    const oldById = new Map((old?.vips ?? []).map((v) => [v.id, v] as const));
    const newById = new Map((doc?.vips ?? []).map((v) => [v.id, v] as const));
    const dirty: string[] = [];
    for (const id of new Set([...oldById.keys(), ...newById.keys()])) {
      const before = oldById.get(id);
      const after = newById.get(id);
      if (before && after && JSON.stringify(before.backends) === JSON.stringify(after.backends)) continue;
      let parts = this.parts.get(id);
      if (after) {
        if (!parts) this.parts.set(id, (parts = new Map()));
        parts.set(key, after);
      } else parts?.delete(key);
      this.remerge(id);
      dirty.push(id);
    }
    return dirty;
  }

  get(id: string): TableVip | undefined {
    return this.merged.get(id);
  }

  ids(): IterableIterator<string> {
    return this.merged.keys();
  }

  values(): IterableIterator<TableVip> {
    return this.merged.values();
  }

  get size(): number {
    return this.merged.size;
  }

  get backends(): number {
    return this.backendTotal;
  }

  /** The ids of the VIPs an agent (by IP) has backends for. */
  idsOfAgent(agentIp: string): string[] {
    const out: string[] = [];
    for (const d of this.docs.values()) if (d.agentIp === agentIp) for (const v of d.vips) out.push(v.id);
    return out;
  }

  /** Agent IPs that publish a document. */
  agents(): string[] {
    return [...new Set([...this.docs.values()].map((d) => d.agentIp))].sort();
  }

  /** Changes whenever any agent's problem list changes. */
  get problemsRevision(): number {
    return this.problemsVersion;
  }

  problems(): AgentProblem[] {
    const out: AgentProblem[] = [];
    for (const d of this.docs.values()) for (const p of d.problems) out.push({ agentIp: d.agentIp, ...p });
    return out.sort((a, b) => a.agentIp.localeCompare(b.agentIp) || a.taskId.localeCompare(b.taskId) || a.label.localeCompare(b.label));
  }

  private remerge(id: string): void {
    const prev = this.merged.get(id);
    if (prev) this.backendTotal -= prev.backends.length;
    const parts = this.parts.get(id);
    if (!parts || parts.size === 0) {
      this.parts.delete(id);
      this.merged.delete(id);
      return;
    }
    let key: VipKey | undefined;
    const backends: Backend[] = [];
    for (const p of parts.values()) {
      key ??= p.key;
      backends.push(...p.backends);
    }
    backends.sort(compareBackends);
    this.merged.set(id, { id, key: key!, backends });
    this.backendTotal += backends.length;
  }
}
