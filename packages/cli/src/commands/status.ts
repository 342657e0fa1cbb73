import * as grpc from "@grpc/grpc-js";
import { MemberFilter, NodeRole, NodeServiceClient, nodeRoleToJSON } from "@dcnet/proto";
import { checkHealth, unary } from "../deps";

const role = (r: NodeRole | undefined): string =>
  nodeRoleToJSON(r ?? NodeRole.NODE_ROLE_UNSPECIFIED)
    .replace("NODE_ROLE_", "")
    .toLowerCase();

/** `dcnet status`: a node's view of itself and the cluster, as a table or JSON. */
export async function status(addr: string, json: boolean, out: (line: string) => void): Promise<void> {
  const client = new NodeServiceClient(addr, grpc.credentials.createInsecure());
  try {
    const st = await unary(client.getStatus.bind(client), {});
    const list = await unary(client.listMembers.bind(client), { filter: MemberFilter.MEMBER_FILTER_UNSPECIFIED });
    if (json) {
      out(JSON.stringify({ status: st, members: list.members }, null, 2));
      return;
    }
    out(
      `node ${st.node?.nodeId} (${role(st.node?.role)}) cluster ${st.node?.clusterId}, bus ${st.bus} ${st.busConnected ? "connected" : "DISCONNECTED"}`,
    );
    out(`${"NODE".padEnd(20)} ${"ADDRESS".padEnd(16)} ${"ROLE".padEnd(13)} ${"REACHABLE".padEnd(10)} LAST SEEN`);
    for (const m of list.members) {
      const ago = m.lastSeenMs ? `${((Date.now() - m.lastSeenMs) / 1000).toFixed(1)}s ago` : "never";
      out(
        `${(m.node?.nodeId ?? "").padEnd(20)} ${(m.node?.address ?? "").padEnd(16)} ${role(m.node?.role).padEnd(13)} ${(m.reachable ? "yes" : "no").padEnd(10)} ${ago}`,
      );
    }
  } finally {
    client.close();
  }
}

/** `dcnet health`: exits 0 when the server's grpc.health.v1 says SERVING. */
export async function health(addr: string, service: string): Promise<string> {
  return checkHealth(addr, service);
}
