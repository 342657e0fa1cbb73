/**
 * dcnet.l4lb.v1.L4lbService (proto/dcnet/l4lb/v1/l4lb.proto): ListVips, GetVip, WatchVips over
 * this node's view of the VIP table.
 */
import { invalidArgument, notFound, type AsyncService } from "@dcnet/core";
import { l4lbv1 } from "@dcnet/proto";
import type { L4lbChange, L4lbSnapshot } from "./service";
import type { AgentProblem } from "./vip-table";
import type { VipView } from "./vip-plan";

export function vipMessage(v: VipView): l4lbv1.Vip {
  return {
    id: v.id,
    protocol: v.protocol,
    port: v.port,
    vip: v.vip,
    kind: v.kind,
    name: v.name ?? "",
    framework: v.framework ?? "",
    dnsName: v.dnsName ?? "",
    addresses: [...v.addresses],
    backends: v.backends.map((b) => ({
      ip: b.ip,
      port: b.port,
      weight: b.weight,
      agentIp: b.agentIp,
      taskId: b.taskId,
      reachable: b.reachable,
      inUse: b.inUse,
    })),
    failedOpen: v.failedOpen,
  };
}

const problemMessage = (p: AgentProblem): l4lbv1.VipProblem => ({ ...p });

export interface L4lbApiDeps {
  snapshot(): L4lbSnapshot;
  find(vip: string, protocol?: string): VipView | undefined;
  subscribe(cb: (c: L4lbChange) => void): () => void;
}

export function l4lbService(deps: L4lbApiDeps): AsyncService<typeof l4lbv1.L4lbServiceService> {
  return {
    listVips: async () => {
      const s = deps.snapshot();
      const d = s.dataplane;
      return {
        vips: s.vips.map(vipMessage),
        problems: s.problems.map(problemMessage),
        unreachableAgents: s.unreachableAgents,
        dataplane: {
          mode: d.mode,
          entries: d.entries,
          lastError: d.lastError ?? "",
          warnings: d.warnings,
          socketLb: d.socketLb ?? undefined,
        },
      };
    },
    getVip: async (req) => {
      if (!req.vip)
        throw invalidArgument("vip", "required: an id (tcp/name:web.marathon/80) or an address (web.marathon.l4lb.thisdcos.directory:80)");
      if (req.protocol !== "" && req.protocol !== "tcp" && req.protocol !== "udp")
        throw invalidArgument("protocol", `"${req.protocol}" is not tcp or udp`);
      const v = deps.find(req.vip, req.protocol || undefined);
      if (!v) throw notFound(`no VIP ${req.vip}${req.protocol ? ` (${req.protocol})` : ""}`, "vip");
      return { vip: vipMessage(v) };
    },
    watchVips: async (_req, send, ctx) => {
      // Changes that happen while the first snapshot is sent are queued, then sent in order.
      const queue: L4lbChange[] = [];
      let live = false;
      const known = new Set<string>();
      const flush = (c: L4lbChange): void => {
        const s = deps.snapshot();
        const byId = new Map(s.vips.map((v) => [v.id, v] as const));
        for (const id of c.changed) {
          const v = byId.get(id);
          if (v) {
            known.add(id);
            send({ vip: vipMessage(v) });
          } else if (known.delete(id)) send({ removed: id });
        }
        if (c.problemsChanged) send({ problems: { problems: s.problems.map(problemMessage) } });
      };
      const off = deps.subscribe((c) => {
        if (live) flush(c);
        else queue.push(c);
      });
      try {
        const s = deps.snapshot();
        for (const v of s.vips) {
          known.add(v.id);
          send({ vip: vipMessage(v) });
        }
        send({ problems: { problems: s.problems.map(problemMessage) } });
        send({ synced: true });
        live = true;
        for (const c of queue.splice(0)) flush(c);
        await new Promise<void>((resolve) => {
          if (ctx.signal.aborted) resolve();
          ctx.signal.addEventListener("abort", () => resolve(), { once: true });
        });
      } finally {
        off();
      }
    },
  };
}
