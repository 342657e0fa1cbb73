/**
 * Which agent IPs the bus marks unreachable (spec §4.5: lashup's node table + BFS distance; here
 * the bus membership of packages/core). Each node's node agent heartbeats on
 * `membership.heartbeat` (default every 1 s) and keeps its identity — with its `address` — in the
 * `nodes` bucket; a node whose heartbeats stop for `missedBeats` (default 3) of its intervals is
 * unreachable, and one whose record was deleted (a graceful leave) is gone.
 *
 * l4lb only READS membership: it does not heartbeat or write a record (the node agent on the same
 * node does), so it never appears as a member. An address is unreachable when every member with
 * that address is unreachable or gone; an address no member has is not (we know nothing against
 * it). Members known only from their record (no heartbeat yet) count as seen at our start, so a
 * node that is already dead when we start turns unreachable after `missedBeats` intervals.
 *
 * The agent IP of a backend must be its node's `node.address` (both default to the node's first
 * non-loopback IPv4; compose sets neither, so they agree).
 */
import { HEARTBEAT_SUBJECT, NODES_BUCKET, type Bus, type KvWatch, type Logger, type Membership, type Subscription } from "@dcnet/core";
import { Heartbeat, NodeIdentity } from "@dcnet/proto";
import { canonicalIp } from "./ip";

export interface ReachabilitySource {
  start(): Promise<void>;
  stop(): void;
  /** Agent IPs (canonical) currently unreachable. */
  unreachable(): ReadonlySet<string>;
  /** Called (synchronously) whenever the unreachable set changed; returns an unsubscribe. */
  onChange(cb: (unreachable: ReadonlySet<string>) => void): () => void;
  /** The address (canonical) a node id's record on the bus gives, if known: this node's own, for the agent side. */
  addressOf(nodeId: string): string | undefined;
  /** Every address (canonical) of a member that has not left, reachable or not. */
  knownAddresses(): ReadonlySet<string>;
}

interface Seen {
  address: string;
  lastSeenMs: number;
  intervalMs: number;
  gone: boolean;
}

export interface BusReachabilityOptions {
  /** Heartbeat period assumed until a node's first heartbeat says its own (default 1000 ms). */
  intervalMs?: number;
  missedBeats?: number;
  /** How often the set is recomputed (default min(250, interval/2) ms). */
  sweepMs?: number;
  logger: Logger;
  now?: () => number;
}

const sameSet = (a: ReadonlySet<string>, b: ReadonlySet<string>): boolean => a.size === b.size && [...a].every((x) => b.has(x));

/** Reachability read from the bus (heartbeats + the `nodes` bucket), without joining. */
export function busReachability(bus: Bus, opts: BusReachabilityOptions): ReachabilitySource {
  const intervalMs = opts.intervalMs ?? 1000;
  const missed = opts.missedBeats ?? 3;
  const now = opts.now ?? Date.now;
  const nodes = new Map<string, Seen>();
  const listeners = new Set<(u: ReadonlySet<string>) => void>();
  let current: ReadonlySet<string> = new Set();
  let sub: Subscription | undefined;
  let watch: KvWatch | undefined;
  let timer: NodeJS.Timeout | undefined;
  let startedAt = 0;

  const upsert = (node: NodeIdentity, heartbeat: { intervalMs: number } | undefined): void => {
    const address = canonicalIp(node.address);
    if (address === undefined) return; // a host name: cannot match agent IPs
    const s = nodes.get(node.nodeId);
    const t = now();
    if (!s)
      nodes.set(node.nodeId, {
        address,
        lastSeenMs: heartbeat ? t : startedAt || t,
        intervalMs: heartbeat?.intervalMs || intervalMs,
        gone: false,
      });
    else {
      s.address = address;
      s.gone = false;
      if (heartbeat) {
        s.lastSeenMs = t;
        if (heartbeat.intervalMs) s.intervalMs = heartbeat.intervalMs;
      }
    }
  };

  const compute = (): void => {
    const t = now();
    const up = new Set<string>();
    const down = new Set<string>();
    for (const s of nodes.values()) {
      if (!s.gone && t - s.lastSeenMs <= s.intervalMs * missed) up.add(s.address);
      else down.add(s.address);
    }
    for (const a of up) down.delete(a);
    if (sameSet(down, current)) return;
    const was = current;
    current = down;
    const lost = [...down].filter((a) => !was.has(a));
    const back = [...was].filter((a) => !down.has(a));
    opts.logger.info({ unreachable: [...down].sort(), lost, back }, "agent reachability changed");
    for (const l of listeners) l(current);
  };

  return {
    async start() {
      startedAt = now();
      sub = bus.subscribe(HEARTBEAT_SUBJECT, (ev) => {
        let hb: Heartbeat;
        try {
          hb = Heartbeat.decode(ev.payload);
        } catch {
          return;
        }
        if (!hb.node || hb.node.nodeId !== ev.sender) return; // a node speaks only for itself
        upsert(hb.node, { intervalMs: hb.intervalMs });
        compute();
      });
      const kv = await bus.kv(NODES_BUCKET);
      watch = kv.watch((c) => {
        if (c.op === "put") {
          if (c.entry.sender !== c.entry.key) return; // a node writes only its own record
          try {
            upsert(NodeIdentity.decode(c.entry.value), undefined);
          } catch {
            /* undecodable: ignore */
          }
        } else {
          const s = nodes.get(c.key);
          if (s) s.gone = true;
        }
        compute();
      });
      await watch.ready;
      compute();
      timer = setInterval(compute, opts.sweepMs ?? Math.max(20, Math.min(250, Math.floor(intervalMs / 2))));
      timer.unref();
    },
    stop() {
      clearInterval(timer);
      sub?.unsubscribe();
      watch?.stop();
    },
    unreachable: () => current,
    onChange(cb) {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
    addressOf: (nodeId) => nodes.get(nodeId)?.address,
    knownAddresses: () => new Set([...nodes.values()].filter((s) => !s.gone).map((s) => s.address)),
  };
}

/** Reachability from a Membership this process already runs (the aggregated mode shares the node agent's). */
export function membershipReachability(
  membership: Pick<Membership, "list" | "onChange">,
  opts: { sweepMs?: number } = {},
): ReachabilitySource {
  const listeners = new Set<(u: ReadonlySet<string>) => void>();
  let current: ReadonlySet<string> = new Set();
  let off: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  /** Addresses of members that left (their record was deleted): unreachable until they come back. */
  const gone = new Set<string>();
  const compute = (): void => {
    const up = new Set<string>();
    const down = new Set<string>(gone);
    for (const m of membership.list()) {
      const a = canonicalIp(m.node.address);
      if (a === undefined) continue;
      (m.reachable ? up : down).add(a);
    }
    for (const a of up) down.delete(a);
    if (sameSet(down, current)) return;
    current = down;
    for (const l of listeners) l(current);
  };
  return {
    async start() {
      off = membership.onChange((m, change) => {
        const a = canonicalIp(m.node.address);
        if (a !== undefined) {
          if (change === "left") gone.add(a);
          else gone.delete(a);
        }
        compute();
      });
      compute();
      // Membership.list() sweeps: polling it is what notices missed heartbeats between events.
      timer = setInterval(compute, opts.sweepMs ?? 250);
      timer.unref();
    },
    stop() {
      off?.();
      clearInterval(timer);
    },
    unreachable: () => current,
    onChange(cb) {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
    addressOf(nodeId) {
      const m = membership.list().find((x) => x.node.nodeId === nodeId);
      return m ? canonicalIp(m.node.address) : undefined;
    },
    knownAddresses() {
      const out = new Set<string>();
      for (const m of membership.list()) {
        const a = canonicalIp(m.node.address);
        if (a !== undefined) out.add(a);
      }
      return out;
    },
  };
}
