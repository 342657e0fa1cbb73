/**
 * l4lb's Prometheus metrics (spec §7 names where they apply; `l4lb_` is the prefix dcos-net's
 * Telegraf adds). The nft driver adds `l4lb_nft_duration_seconds{op}`,
 * `l4lb_routes_duration_seconds`, `l4lb_reconciled_nft_total` and `l4lb_reconciled_routes_total`;
 * the userspace driver's counters are proxy-metrics.ts.
 */
import { counter, gauge, histogram, type Registry } from "@dcnet/core";

export function l4lbMetrics(registry: Registry) {
  return {
    vips: gauge(registry, "l4lb_vips", "VIPs in the cluster VIP table (named VIPs once, whatever their families)", []),
    backends: gauge(registry, "l4lb_backends", "Backends in the cluster VIP table", []),
    dataplaneVips: gauge(registry, "l4lb_dataplane_vips", "VIP address/protocol/port entries this node's data plane serves", []),
    unreachableNodes: gauge(registry, "l4lb_unreachable_nodes", "Agent IPs the bus marks unreachable", []),
    unreachableVips: gauge(registry, "l4lb_unreachable_vips", "VIPs with backends on unreachable agents", []),
    unreachableBackends: gauge(registry, "l4lb_unreachable_backends", "Backends dropped because their agent is unreachable", []),
    failedOpenVips: gauge(
      registry,
      "l4lb_failed_open_vips",
      "VIPs with an address family whose backends are all unreachable and all kept (fail-open)",
      [],
    ),
    vipsDuration: histogram(
      registry,
      "l4lb_vips_duration_seconds",
      "Time from a VIP table change to the data plane applied",
      [],
      [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    ),
    dataplaneErrors: counter(registry, "l4lb_dataplane_errors_total", "Data plane apply or reconcile failures", ["op"]),
    reconciled: counter(registry, "l4lb_reconciled_total", "Data plane repairs made by reconcile (any mode)", ["mode"]),
    reconcileRounds: counter(
      registry,
      "l4lb_reconcile_rounds_total",
      "Data plane reconciles (every round, any mode) by outcome: clean, repaired or failed",
      ["outcome"],
    ),
    reconcileDuration: histogram(
      registry,
      "l4lb_reconcile_duration_seconds",
      "Time of one whole data plane reconcile (read-back, comparison and repair), every round",
      ["outcome"],
      [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    ),
    claimFailures: counter(registry, "l4lb_claim_failures_total", "Named-VIP address claims that failed", ["family"]),
    releases: counter(registry, "l4lb_released_addresses_total", "Named-VIP addresses released after the grace period", ["family"]),
    badDocuments: counter(registry, "l4lb_bad_documents_total", "Backends documents on the bus that could not be read", []),
    deadAgentDocuments: counter(
      registry,
      "l4lb_dead_agent_documents_removed_total",
      "Backends documents of agents unreachable for longer than dead_agent_gc_ms that this node removed",
      [],
    ),
    localVips: gauge(registry, "l4lb_local_vips", "VIPs this agent's tasks serve", []),
    localTasks: gauge(registry, "l4lb_local_tasks", "Non-terminal tasks on this agent", []),
    localRunningTasks: gauge(registry, "l4lb_local_running_tasks", "Running tasks on this agent", []),
    localBackends: gauge(registry, "l4lb_local_backends", "Backends this agent publishes", []),
    labelProblems: gauge(registry, "l4lb_label_problems", "VIP labels on this agent's tasks that produced no backend", []),
    publishes: counter(registry, "l4lb_backends_publishes_total", "Writes of this agent's backends document", ["result"]),
  };
}

export type L4lbMetrics = ReturnType<typeof l4lbMetrics>;
