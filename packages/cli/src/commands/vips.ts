import * as grpc from "@grpc/grpc-js";
import { l4lbv1 } from "@dcnet/proto";
import { unary } from "../deps";

export interface VipsOptions {
  /** l4lb gRPC address (default 127.0.0.1:50090). */
  addr: string;
  json: boolean;
  out: (line: string) => void;
}

/** `dcnet vips`: a node's VIP table from its l4lb (gRPC ListVips): VIPs, addresses, backends with weights, label problems. */
export async function vipsCommand(o: VipsOptions): Promise<number> {
  const client = new l4lbv1.L4lbServiceClient(o.addr, grpc.credentials.createInsecure());
  try {
    const res = await unary(client.listVips.bind(client), {});
    if (o.json) {
      o.out(JSON.stringify(res));
      return 0;
    }
    if (res.vips.length === 0) o.out("no VIPs");
    else {
      const width = Math.max(3, ...res.vips.map((v) => v.vip.length));
      o.out(`${"VIP".padEnd(width)}  PROTO  ${"ADDRESSES".padEnd(18)}  BACKENDS (weight; * = unreachable agent, not used)`);
      for (const v of res.vips) {
        const backends = v.backends
          .map((b) => `${b.ip.includes(":") ? `[${b.ip}]` : b.ip}:${b.port} w${b.weight}${b.inUse ? "" : "*"}`)
          .join(", ");
        const addresses = v.addresses.join(",") || "(none yet)";
        o.out(
          `${v.vip.padEnd(width)}  ${v.protocol.padEnd(5)}  ${addresses.padEnd(18)}  ${backends}${v.failedOpen ? "  (all unreachable: kept, fail-open)" : ""}`,
        );
      }
    }
    if (res.unreachableAgents.length > 0) o.out(`unreachable agents: ${res.unreachableAgents.join(", ")}`);
    const d = res.dataplane;
    if (d) {
      const n = d.socketLb?.vips ?? 0;
      const lb = d.socketLb ? ` + socket LB (${n} VIP${n === 1 ? "" : "s"} in its maps; cgroup ${d.socketLb.cgroup})` : "";
      o.out(
        `data plane: ${d.mode}${lb}, ${d.entries} entr${d.entries === 1 ? "y" : "ies"}${d.lastError ? `; last apply failed: ${d.lastError}` : ""}`,
      );
      for (const w of d.warnings) o.out(`  warning: ${w}`);
    }
    if (res.problems.length > 0) {
      o.out(`label problems (${res.problems.length}):`);
      for (const p of res.problems) o.out(`  ${p.agentIp}  ${p.framework}/${p.app}  ${p.label}=${JSON.stringify(p.value)}: ${p.reason}`);
    }
    return 0;
  } finally {
    client.close();
  }
}
