import * as grpc from "@grpc/grpc-js";
import { dcosdnsv1 } from "@dcnet/proto";
import { DcnetError, unary } from "../deps";
import {
  buildQuery,
  decode,
  exchangeTcp,
  exchangeUdp,
  parseResolver,
  rcodeName,
  TYPE_A,
  TYPE_AAAA,
  TYPE_ANY,
  TYPE_NS,
  TYPE_SOA,
  TYPE_SRV,
} from "@dcnet/dns";

const TYPES: Record<string, number> = { A: TYPE_A, AAAA: TYPE_AAAA, SRV: TYPE_SRV, NS: TYPE_NS, SOA: TYPE_SOA, CNAME: 5, ANY: TYPE_ANY };
const NAMES = Object.fromEntries(Object.entries(TYPES).map(([k, v]) => [v, k]));

export interface DnsOptions {
  /** DNS server `ip[:port]` for lookup. */
  server: string;
  /** dcos-dns gRPC address for zones. */
  addr: string;
  json: boolean;
  out: (line: string) => void;
}

/** `dcnet dns lookup NAME [TYPE]` (a real DNS query, UDP then TCP when truncated) and `dcnet dns zones` (gRPC). */
export async function dnsCommand(sub: string | undefined, args: string[], o: DnsOptions): Promise<number> {
  if (sub === "lookup") {
    const name = args[0];
    if (!name) throw new DcnetError(3, "dns lookup needs a NAME", { field: "name" });
    const type = (args[1] ?? "A").toUpperCase();
    const qtype = TYPES[type];
    if (qtype === undefined) throw new DcnetError(3, `"${args[1]}" is not one of ${Object.keys(TYPES).join(", ")}`, { field: "type" });
    const up = parseResolver(o.server);
    if (!up) throw new DcnetError(3, `"${o.server}" is not ip or ip:port`, { field: "--server" });
    const q = buildQuery({ id: Math.floor(Math.random() * 0xffff), name, qtype, edns: { udpSize: 1232 } });
    let reply = (await exchangeUdp(q, up, 3000).catch((e: Error) => Promise.reject(new DcnetError(14, `${up.label}: ${e.message}`)))).reply;
    if (reply[2]! & 0x02) reply = (await exchangeTcp(q, up, 3000)).reply;
    const d = decode(reply);
    const rows = d.answers.map((a) => ({
      name: a.name,
      ttl: a.ttl,
      type: NAMES[a.type] ?? String(a.type),
      value: a.type === TYPE_SRV ? srvText(a.data) : typeof a.data === "object" ? JSON.stringify(a.data) : String(a.data),
    }));
    if (o.json) o.out(JSON.stringify({ rcode: rcodeName(d.rcode), answers: rows }));
    else {
      o.out(`;; ${rcodeName(d.rcode)} from ${up.label}${d.aa ? ", authoritative" : ""}`);
      for (const r of rows) o.out(`${r.name}\t${r.ttl}\t${r.type}\t${r.value}`);
    }
    return d.rcode === 0 ? 0 : 1;
  }
  if (sub === "zones") {
    const client = new dcosdnsv1.DcosDnsServiceClient(o.addr, grpc.credentials.createInsecure());
    try {
      const res = await unary(client.listZones.bind(client), {});
      if (o.json) o.out(JSON.stringify(res.zones));
      else
        for (const z of res.zones)
          o.out(`${z.name.padEnd(36)} ${String(z.names).padStart(6)} names ${String(z.records).padStart(7)} records  (${z.source})`);
      return 0;
    } finally {
      client.close();
    }
  }
  throw new DcnetError(3, `unknown dns subcommand "${sub ?? ""}" (lookup NAME [TYPE] | zones)`, { field: "dns" });
}

function srvText(data: unknown): string {
  const s = data as { priority: number; weight: number; port: number; target: string };
  return `${s.priority} ${s.weight} ${s.port} ${s.target}`;
}
