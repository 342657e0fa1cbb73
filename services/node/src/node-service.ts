import { MemberFilter, NodeServiceService, type GetStatusResponse, type Member as MemberMsg } from "@dcnet/proto";
import { invalidArgument, notFound, type AsyncService, type Bus, type Member, type Membership } from "@dcnet/core";

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
  };
}
