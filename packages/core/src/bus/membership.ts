import { Heartbeat, NodeIdentity } from "@dcnet/proto";
import type { Bus, KvStore, KvWatch, Subscription } from "./types";

export interface Member {
  readonly node: NodeIdentity;
  readonly reachable: boolean;
  /** Local receive time of the last heartbeat (ms since epoch); 0 if none yet. */
  readonly lastSeenMs: number;
  readonly heartbeats: number;
}

export type MemberChange = "joined" | "reachable" | "unreachable" | "left";

export interface MembershipOptions {
  identity: NodeIdentity;
  /** Heartbeat period (default 1000 ms). */
  intervalMs?: number;
  /** Heartbeats missed before a node is unreachable (default 3). */
  missedBeats?: number;
  /**
   * A node unreachable for this long is forgotten: whichever member notices first deletes its record
   * from the `nodes` bucket, and every member drops it ("left"). 0 = never. Default 24 h.
   */
  forgetAfterMs?: number;
  now?: () => number;
}

export const HEARTBEAT_SUBJECT = "membership.heartbeat";
export const NODES_BUCKET = "nodes";
export const DEFAULT_FORGET_AFTER_MS = 24 * 3600_000;

interface MutableMember {
  node: NodeIdentity;
  reachable: boolean;
  lastSeenMs: number;
  heartbeats: number;
  intervalMs: number;
  /** When this node saw it turn unreachable, or learned of it without a heartbeat. */
  unreachableSinceMs: number;
}

/**
 * Membership on top of any bus: every node heartbeats on a subject and keeps
 * its identity under its own key of the `nodes` bucket; readers watch both. A
 * node whose heartbeats stop for `missedBeats` of its intervals is unreachable, and one unreachable
 * for `forgetAfterMs` is forgotten (its record deleted), so crashed nodes do not stay listed forever.
 */
export class Membership {
  private readonly intervalMs: number;
  private readonly missedBeats: number;
  private readonly forgetAfterMs: number;
  private readonly now: () => number;
  private readonly members = new Map<string, MutableMember>();
  private readonly listeners = new Set<(m: Member, change: MemberChange) => void>();
  private readonly startedAtMs: number;
  private sequence = 0;
  private timers: NodeJS.Timeout[] = [];
  private sub: Subscription | undefined;
  private watch: KvWatch | undefined;
  private nodes: KvStore | undefined;

  constructor(
    private readonly bus: Bus,
    private readonly opts: MembershipOptions,
  ) {
    this.intervalMs = opts.intervalMs ?? 1000;
    this.missedBeats = opts.missedBeats ?? 3;
    this.forgetAfterMs = opts.forgetAfterMs ?? DEFAULT_FORGET_AFTER_MS;
    this.now = opts.now ?? Date.now;
    this.startedAtMs = this.now();
  }

  get self(): NodeIdentity {
    return this.opts.identity;
  }

  async start(): Promise<void> {
    const id = this.opts.identity.nodeId;
    this.upsert(this.opts.identity, { seen: true });
    this.sub = this.bus.subscribe(HEARTBEAT_SUBJECT, (ev) => {
      let hb: Heartbeat;
      try {
        hb = Heartbeat.decode(ev.payload);
      } catch {
        return;
      }
      if (!hb.node || hb.node.nodeId !== ev.sender) return; // a node speaks only for itself
      this.upsert(hb.node, { seen: true, intervalMs: hb.intervalMs || this.intervalMs });
    });
    this.nodes = await this.bus.kv(NODES_BUCKET);
    this.watch = this.nodes.watch((c) => {
      if (c.op === "put") {
        if (c.entry.sender !== c.entry.key) return; // a node writes only its own record
        try {
          this.upsert(NodeIdentity.decode(c.entry.value), { seen: false });
        } catch {
          /* undecodable record: ignore */
        }
      } else if (c.key !== id) {
        this.remove(c.key);
      } else if (this.timers.length > 0) {
        // Our own record deleted while we run (forgotten by the others after a long cut): write it back.
        void this.putSelf().catch(() => undefined);
      }
    });
    await this.putSelf();
    await this.watch.ready;
    await this.beat();
    this.timers.push(setInterval(() => void this.beat().catch(() => undefined), this.intervalMs));
    this.timers.push(setInterval(() => this.sweep(), Math.max(50, Math.floor(this.intervalMs / 2))));
    for (const t of this.timers) t.unref();
  }

  /** Stops heartbeating and removes this node's record (a graceful leave). */
  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.sub?.unsubscribe();
    this.watch?.stop();
    await this.nodes?.delete(this.opts.identity.nodeId).catch(() => undefined);
  }

  list(): Member[] {
    this.sweep();
    return [...this.members.values()].map(freeze).sort((a, b) => a.node.nodeId.localeCompare(b.node.nodeId));
  }

  get(nodeId: string): Member | undefined {
    this.sweep();
    const m = this.members.get(nodeId);
    return m && freeze(m);
  }

  reachable(): Member[] {
    return this.list().filter((m) => m.reachable);
  }

  onChange(listener: (m: Member, change: MemberChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private async putSelf(): Promise<void> {
    await this.nodes?.put(this.opts.identity.nodeId, NodeIdentity.encode(this.opts.identity).finish());
  }

  private async beat(): Promise<void> {
    const hb: Heartbeat = {
      node: this.opts.identity,
      intervalMs: this.intervalMs,
      sequence: ++this.sequence,
      startedAtMs: this.startedAtMs,
    };
    this.members.get(this.opts.identity.nodeId)!.lastSeenMs = this.now();
    await this.bus.publish(HEARTBEAT_SUBJECT, Heartbeat.encode(hb).finish());
  }

  private upsert(node: NodeIdentity, how: { seen: boolean; intervalMs?: number }): void {
    let m = this.members.get(node.nodeId);
    const joined = !m;
    if (!m) {
      m = { node, reachable: false, lastSeenMs: 0, heartbeats: 0, intervalMs: this.intervalMs, unreachableSinceMs: this.now() };
      this.members.set(node.nodeId, m);
    }
    m.node = node;
    if (how.intervalMs) m.intervalMs = how.intervalMs;
    if (joined) this.emit(m, "joined");
    if (how.seen) {
      m.lastSeenMs = this.now();
      m.heartbeats++;
      if (!m.reachable) {
        m.reachable = true;
        this.emit(m, "reachable");
      }
    }
  }

  private remove(nodeId: string): void {
    const m = this.members.get(nodeId);
    if (!m) return;
    this.members.delete(nodeId);
    m.reachable = false;
    this.emit(m, "left");
  }

  private sweep(): void {
    const now = this.now();
    for (const m of this.members.values()) {
      if (m.node.nodeId === this.opts.identity.nodeId) continue;
      if (m.reachable && now - m.lastSeenMs > m.intervalMs * this.missedBeats) {
        m.reachable = false;
        m.unreachableSinceMs = now;
        this.emit(m, "unreachable");
      }
      // Counted from when this node saw it go (or learned of it), not from its last heartbeat: a
      // stall of this process, or a record read before the node's first heartbeat, forgets nobody.
      if (!m.reachable && this.forgetAfterMs > 0 && now - m.unreachableSinceMs > this.forgetAfterMs) {
        const nodeId = m.node.nodeId;
        this.remove(nodeId);
        void this.nodes?.delete(nodeId).catch(() => undefined);
      }
    }
  }

  private emit(m: MutableMember, change: MemberChange): void {
    const snapshot = freeze(m);
    for (const l of this.listeners) l(snapshot, change);
  }
}

function freeze(m: MutableMember): Member {
  return { node: m.node, reachable: m.reachable, lastSeenMs: m.lastSeenMs, heartbeats: m.heartbeats };
}
