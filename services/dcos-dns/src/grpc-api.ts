/**
 * dcnet.dcosdns.v1.DcosDnsService. Resolve sends a real DNS message through the server's own query
 * path (over "tcp", so nothing is truncated), so it answers exactly what a DNS client would get,
 * forwarding included.
 */
import { invalidArgument, type AsyncService } from "@dcnet/core";
import { buildQuery, decode, rcodeName, TYPE_A, TYPE_AAAA, TYPE_ANY, TYPE_SRV } from "@dcnet/dns";
import { dcosdnsv1 } from "@dcnet/proto";
import { TYPE_CNAME, type Authority } from "./authority";
import type { Router } from "./router";
import type { DcosDnsServer } from "./server";
import { absolute, countRecords } from "./zone";

const TYPES: Record<string, number> = { "": TYPE_A, A: TYPE_A, AAAA: TYPE_AAAA, SRV: TYPE_SRV, CNAME: TYPE_CNAME, ANY: TYPE_ANY };
const NAMES: Record<number, string> = { [TYPE_A]: "A", [TYPE_AAAA]: "AAAA", [TYPE_SRV]: "SRV", [TYPE_CNAME]: "CNAME" };

export interface ZoneEvents {
  source(zone: string): string;
  subscribe(cb: (zone: string, removed: boolean) => void): () => void;
}

export function dcosDnsService(deps: {
  server: DcosDnsServer;
  authority: Authority;
  router: () => Router;
  events: ZoneEvents;
}): AsyncService<typeof dcosdnsv1.DcosDnsServiceService> {
  const zoneMsg = (name: string): dcosdnsv1.Zone => {
    const z = deps.authority.zone(name);
    return { name, names: z?.records.size ?? 0, records: z ? countRecords(z.records) : 0, source: deps.events.source(name) };
  };
  return {
    resolve: async (req) => {
      if (!req.name) throw invalidArgument("name", "required");
      const qtype = TYPES[req.type.toUpperCase()];
      if (qtype === undefined) throw invalidArgument("type", `"${req.type}" is not one of A, AAAA, SRV, CNAME, ANY`);
      const name = absolute(req.name);
      if (name.length > 254 || name.split(".").some((l, i, a) => l.length > 63 || (l === "" && i < a.length - 1)))
        throw invalidArgument("name", `"${req.name}" is not a valid DNS name`);
      const route = deps.router().route(name);
      const reply = await deps.server.query(buildQuery({ id: Math.floor(Math.random() * 0xffff), name, qtype }), "tcp");
      if (reply === null) return { rcode: "SERVFAIL", route: route.kind, zone: "", answers: [] };
      const d = decode(reply);
      const zone =
        route.kind === "internal" ? (deps.authority.lookup(route.name)?.zone ?? "") : route.kind === "mesos" ? "mesos." : route.zone;
      return {
        rcode: rcodeName(d.rcode),
        route: route.kind === "none" ? "forward" : route.kind,
        zone,
        answers: d.answers.map((rr) => ({
          name: rr.name.toLowerCase(),
          type: NAMES[rr.type] ?? String(rr.type),
          value: rr.type === TYPE_SRV ? `${(rr.data as { target: string }).target}:${(rr.data as { port: number }).port}` : String(rr.data),
          ttl: rr.ttl,
        })),
      };
    },
    listZones: async () => ({ zones: deps.authority.zones().map((z) => zoneMsg(z.zone)) }),
    watch: async (_req, send, ctx) => {
      for (const z of deps.authority.zones()) send({ zone: zoneMsg(z.zone), removed: false });
      const off = deps.events.subscribe((zone, removed) => send({ zone: zoneMsg(zone), removed }));
      await new Promise<void>((resolve) => {
        if (ctx.signal.aborted) resolve();
        ctx.signal.addEventListener("abort", () => resolve(), { once: true });
      });
      off();
    },
  };
}
