/**
 * Backend reachability (spec §4.5): per VIP, drop the backends whose agent the bus marks
 * unreachable — unless that would drop them all, then keep them all (fail-open: a partition seen
 * wrongly from here must not black-hole a VIP that may still work). Health is not probed here;
 * it comes from Mesos health checks through the weights.
 */

export interface ReachabilityResult<B> {
  backends: B[];
  /** Backends dropped as unreachable (0 when failing open). */
  dropped: number;
  /** True when every backend was unreachable and all were kept. */
  failedOpen: boolean;
}

export function filterReachable<B extends { agentIp: string }>(
  backends: readonly B[],
  unreachable: ReadonlySet<string>,
): ReachabilityResult<B> {
  if (unreachable.size === 0) return { backends: [...backends], dropped: 0, failedOpen: false };
  const kept = backends.filter((b) => !unreachable.has(b.agentIp));
  if (kept.length === 0 && backends.length > 0) return { backends: [...backends], dropped: 0, failedOpen: true };
  return { backends: kept, dropped: backends.length - kept.length, failedOpen: false };
}

export interface ReachabilitySummary {
  /** VIPs with at least one backend dropped or failed open. */
  unreachableVips: number;
  droppedBackends: number;
  failedOpenVips: number;
}

/** {@link filterReachable} over a VIP table, with the counts for metrics (`unreachable_{vips,backends}`). */
export function filterVipsReachable<V extends { backends: readonly { agentIp: string }[] }>(
  vips: readonly V[],
  unreachable: ReadonlySet<string>,
): { vips: V[]; summary: ReachabilitySummary } {
  const summary: ReachabilitySummary = { unreachableVips: 0, droppedBackends: 0, failedOpenVips: 0 };
  const out = vips.map((v) => {
    const r = filterReachable(v.backends, unreachable);
    if (r.dropped > 0 || r.failedOpen) summary.unreachableVips++;
    if (r.failedOpen) summary.failedOpenVips++;
    summary.droppedBackends += r.dropped;
    return r.dropped > 0 ? { ...v, backends: r.backends } : v;
  });
  return { vips: out, summary };
}
