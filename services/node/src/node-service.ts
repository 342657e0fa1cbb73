import { MemberChange, MemberFilter, NodeServiceService, type GetStatusResponse, type Member as MemberMsg } from "@dcnet/proto";
import {
  invalidArgument,
  notFound,
  type AsyncService,
  type Bus,
  type Member,
  type MemberChange as Change,
  type Membership,
} from "@dcnet/core";

const CHANGES: Record<Change, MemberChange> = {
  joined: MemberChange.MEMBER_CHANGE_JOINED,
  reachable: MemberChange.MEMBER_CHANGE_REACHABLE,
  unreachable: MemberChange.MEMBER_CHANGE_UNREACHABLE,
  left: MemberChange.MEMBER_CHANGE_LEFT,
};

function toMsg(m: Member): MemberMsg {
  return { node: m.node, reachable: m.reachable, lastSeenMs: m.lastSeenMs, heartbeats: m.heartbeats };
}

/** The dcnet.core.v1.NodeService handlers over a node's bus and membership view. */
export function nodeService(deps: { bus: Bus; membership: Membership; startedAtMs: number }): AsyncService<typeof NodeServiceService> {
  const { bus, membership } = deps;
  return {
    getStatus: async (): Promise<GetStatusResponse> => ({
      node: membership.self,
      bus: bus.kind,
      busConnected: bus.isConnected(),
      startedAtMs: deps.startedAtMs,
      reachableMembers: membership.reachable().length,
    }),
    listMembers: async (req) => {
      const all = membership.list();
      switch (req.filter) {
        case MemberFilter.MEMBER_FILTER_UNSPECIFIED:
          return { members: all.map(toMsg) };
        case MemberFilter.MEMBER_FILTER_REACHABLE:
          return { members: all.filter((m) => m.reachable).map(toMsg) };
        case MemberFilter.MEMBER_FILTER_UNREACHABLE:
          return { members: all.filter((m) => !m.reachable).map(toMsg) };
        default:
          throw invalidArgument("filter", `unknown member filter ${String(req.filter)}`);
      }
    },
    getMember: async (req) => {
      if (!req.nodeId) throw invalidArgument("node_id", "required");
      const m = membership.get(req.nodeId);
      if (!m) throw notFound(`no member "${req.nodeId}"`, "node_id");
      return { member: toMsg(m) };
    },
    watchMembers: async (_req, send, ctx) => {
      for (const m of membership.list()) send({ change: MemberChange.MEMBER_CHANGE_SNAPSHOT, member: toMsg(m) });
      const off = membership.onChange((m, change) => send({ change: CHANGES[change], member: toMsg(m) }));
      await new Promise<void>((resolve) => {
        if (ctx.signal.aborted) resolve();
        ctx.signal.addEventListener("abort", () => resolve(), { once: true });
      });
      off();
    },
  };
}
