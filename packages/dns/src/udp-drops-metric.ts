/**
 * `<prefix>_udp_dropped_total{reason}`: datagrams the batched UDP path dropped by design
 * (batch-udp.ts) — `send_failed`, a reply the kernel did not take at once (send buffer full, no
 * route); `too_large`, a query over 4096 bytes. Read from the listeners at scrape time, so the
 * query path pays nothing for it. A listener that was restarted counts from zero again.
 */
import { Counter, type Registry } from "@dcnet/core";
import type { DnsListener } from "./listener";

const REASONS = { sendFailures: "send_failed", cut: "too_large" } as const;

export function registerUdpDropsMetric(registry: Registry, name: string, listeners: () => readonly DnsListener[]): void {
  if (registry.getSingleMetric(name)) return;
  const seen = new WeakMap<DnsListener, { sendFailures: number; cut: number }>();
  new Counter({
    name,
    help: "UDP datagrams the batched path dropped: replies the kernel did not take (send_failed), queries over 4096 bytes (too_large)",
    labelNames: ["reason"],
    registers: [registry],
    collect() {
      for (const reason of Object.values(REASONS)) this.inc({ reason }, 0);
      for (const l of listeners()) {
        const now = l.udpDrops();
        if (now === undefined) continue;
        const before = seen.get(l) ?? { sendFailures: 0, cut: 0 };
        for (const key of ["sendFailures", "cut"] as const) {
          const delta = now[key] >= before[key] ? now[key] - before[key] : now[key];
          if (delta > 0) this.inc({ reason: REASONS[key] }, delta);
        }
        seen.set(l, now);
      }
    },
  });
}
