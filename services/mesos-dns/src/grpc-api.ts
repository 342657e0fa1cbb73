import { mesosdnsv1 } from "@dcnet/proto";
import { invalidArgument, type AsyncService } from "@dcnet/core";
import { lookupKey } from "./http/api";
import type { RecordSet } from "./model";
import type { Generation, Reloader } from "./state/reloader";

type Rec = mesosdnsv1.Record;
const TYPES = ["A", "AAAA", "SRV"] as const;

function recordsOf(set: RecordSet, type: (typeof TYPES)[number], name?: string): Rec[] {
  const map = type === "A" ? set.a : type === "AAAA" ? set.aaaa : set.srv;
  if (name !== undefined) return (map.get(name) ?? []).map((value) => ({ name, type, value }));
  const out: Rec[] = [];
  for (const [n, values] of map) for (const value of values) out.push({ name: n, type, value });
  return out;
}

const all = (set: RecordSet): Rec[] => TYPES.flatMap((t) => recordsOf(set, t));
const keyOf = (r: Rec): string => `${r.type} ${r.name} ${r.value}`;

/** What changed between two sets (for Watch deltas). */
export function diff(prev: RecordSet, next: RecordSet): { added: Rec[]; removed: Rec[] } {
  const before = new Map(all(prev).map((r) => [keyOf(r), r]));
  const after = new Map(all(next).map((r) => [keyOf(r), r]));
  return {
    added: [...after].filter(([k]) => !before.has(k)).map(([, r]) => r),
    removed: [...before].filter(([k]) => !after.has(k)).map(([, r]) => r),
  };
}

/** dcnet.mesosdns.v1.MesosDnsService over the served record set. */
export function mesosDnsService(reloader: Reloader): AsyncService<typeof mesosdnsv1.MesosDnsServiceService> {
  return {
    lookup: async (req) => {
      if (!req.name) throw invalidArgument("name", "required");
      const type = req.type.toUpperCase();
      if (type && !(TYPES as readonly string[]).includes(type)) throw invalidArgument("type", `"${req.type}" is not A, AAAA or SRV`);
      const cur = reloader.current;
      if (!cur) return { records: [], serial: 0 };
      const key = lookupKey(req.name);
      const types = type ? [type as (typeof TYPES)[number]] : TYPES;
      return { records: types.flatMap((t) => recordsOf(cur.set, t, key)), serial: cur.serial };
    },
    enumerate: async () => {
      const cur = reloader.current;
      return {
        serial: cur?.serial ?? 0,
        frameworks: (cur?.set.enumeration.frameworks ?? []).map((f) => ({
          name: f.name,
          tasks: f.tasks.map((t) => ({
            name: t.name,
            id: t.id,
            records: t.records.map((r) => ({ name: r.name, type: r.rtype, value: r.host })),
          })),
        })),
      };
    },
    watch: async (_req, send, ctx) => {
      let last: Generation | undefined = reloader.current;
      if (last) send({ kind: mesosdnsv1.ChangeKind.CHANGE_KIND_SNAPSHOT, serial: last.serial, added: all(last.set), removed: [] });
      const onGeneration = (g: Generation): void => {
        if (!last) send({ kind: mesosdnsv1.ChangeKind.CHANGE_KIND_SNAPSHOT, serial: g.serial, added: all(g.set), removed: [] });
        else {
          const d = diff(last.set, g.set);
          if (d.added.length || d.removed.length) send({ kind: mesosdnsv1.ChangeKind.CHANGE_KIND_DELTA, serial: g.serial, ...d });
        }
        last = g;
      };
      reloader.on("generation", onGeneration);
      await new Promise<void>((resolve) => {
        if (ctx.signal.aborted) resolve();
        ctx.signal.addEventListener("abort", () => resolve(), { once: true });
      });
      reloader.off("generation", onGeneration);
    },
  };
}
