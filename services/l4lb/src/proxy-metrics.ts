/**
 * The userspace proxy's counters (`stats()`, proxy/index.ts) on /metrics, read at scrape time:
 *
 *     l4lb_userspace_tcp_events_total{event}   accepted, rejected (no backend), connect_failures,
 *                                              failovers, failed, accept_errors
 *     l4lb_userspace_tcp_active                client connections open now
 *     l4lb_userspace_udp_events_total{event}   opened, expired, dropped_no_backend,
 *                                              dropped_session_limit, dropped_queue_full,
 *                                              session_errors, backend_gone, vip_socket_errors
 *     l4lb_userspace_udp_sessions              UDP sessions open now
 *     l4lb_userspace_listeners                 VIP listeners (bound or not)
 *     l4lb_userspace_unbound                   VIP listeners whose address could not be bound
 *
 * Several drivers on one registry (embedded nodes in one process) add up.
 */
import { Counter, Gauge, type Registry } from "@dcnet/core";
import type { UserspaceStats } from "./proxy";

type Source = () => UserspaceStats;

const sources = new WeakMap<Registry, Set<Source>>();

const TCP_EVENTS: [string, keyof UserspaceStats["tcp"]][] = [
  ["accepted", "accepted"],
  ["rejected", "rejected"],
  ["connect_failures", "connectFailures"],
  ["failovers", "failovers"],
  ["failed", "failed"],
  ["accept_errors", "acceptErrors"],
];
const UDP_EVENTS: [string, keyof UserspaceStats["udp"]][] = [
  ["opened", "opened"],
  ["expired", "expired"],
  ["dropped_no_backend", "droppedNoBackend"],
  ["dropped_session_limit", "droppedSessionLimit"],
  ["dropped_queue_full", "droppedQueueFull"],
  ["session_errors", "sessionErrors"],
  ["backend_gone", "backendGone"],
  ["vip_socket_errors", "vipSocketErrors"],
];

function register(registry: Registry, set: Set<Source>): void {
  const all = (): UserspaceStats[] => [...set].map((s) => s());
  const sum = (f: (s: UserspaceStats) => number): number => all().reduce((n, s) => n + f(s), 0);
  const events = <K extends string>(name: string, help: string, list: [string, K][], pick: (s: UserspaceStats) => Record<K, number>) =>
    new Counter({
      name,
      help,
      labelNames: ["event"],
      registers: [registry],
      collect() {
        const stats = all();
        this.reset();
        for (const [event, key] of list)
          this.inc(
            { event },
            stats.reduce((n, s) => n + pick(s)[key], 0),
          );
      },
    });
  const level = (name: string, help: string, f: (s: UserspaceStats) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(sum(f));
      },
    });
  events("l4lb_userspace_tcp_events_total", "Userspace proxy TCP connection events", TCP_EVENTS, (s) => s.tcp);
  events("l4lb_userspace_udp_events_total", "Userspace proxy UDP session and packet events", UDP_EVENTS, (s) => s.udp);
  level("l4lb_userspace_tcp_active", "Userspace proxy client TCP connections open now", (s) => s.tcp.active);
  level("l4lb_userspace_udp_sessions", "Userspace proxy UDP sessions open now", (s) => s.udp.sessions);
  level("l4lb_userspace_listeners", "Userspace proxy VIP listeners (bound or not)", (s) => s.listeners);
  level("l4lb_userspace_unbound", "Userspace proxy VIP listeners whose address could not be bound", (s) => s.unbound.length);
}

/** Puts a userspace driver's `stats()` on `registry`'s /metrics; returns the undo (the driver closed). */
export function exposeUserspaceStats(registry: Registry, stats: Source): () => void {
  let set = sources.get(registry);
  if (!set) {
    set = new Set();
    sources.set(registry, set);
    register(registry, set);
  }
  set.add(stats);
  const s = set;
  return () => void s.delete(stats);
}
