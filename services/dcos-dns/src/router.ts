/**
 * Where a query goes (spec §3.2), first match wins:
 * 1. `*.dclb.thisdcos.directory` → renamed to `l4lb.thisdcos.directory`, internal;
 * 2. `*.dclb.thisdcos.global` → `l4lb.thisdcos.directory`; `*.<X>.thisdcos.global` → `<X>.thisdcos.directory`;
 * 3. `*.<L>.<cryptoid>.dcos.directory` with this cluster's crypto id → `<L>.thisdcos.directory`
 *    (in 1–3 the renamed zone's apex too: `dclb.thisdcos.directory`, `dcos.thisdcos.global`,
 *    `l4lb.<cryptoid>.dcos.directory`, as dcos-net's label patterns include it)
 *    (another cluster's id falls through to the upstreams);
 * 4. `*.mesos` → every Mesos-DNS, in parallel;
 * 5. `localhost`, `*.zk`, `*.spartan`, `*.thisdcos.directory` → internal (authoritative);
 * 6. the forward zone with the longest matching suffix (upstream picks by map order: a fix, §11);
 * 7. the default upstreams; none configured → SERVFAIL.
 * Renames are undone in replies (`map`), so the client sees the suffix it asked for.
 * A message with several questions goes where they all go; when they disagree it is answered
 * internally (`routeQuestions`).
 */
import type { Upstream } from "@dcnet/dns";
import type { NameMap } from "./authority";

export type Route =
  | { kind: "internal"; name: string; map: NameMap | null }
  | { kind: "mesos" }
  | { kind: "forward"; zone: string; upstreams: readonly Upstream[] }
  | { kind: "none"; zone: string };

export interface RouterConfig {
  /** zone (absolute, lower-case) → upstreams. */
  forwardZones: ReadonlyMap<string, readonly Upstream[]>;
  upstreams: readonly Upstream[];
  /** This cluster's crypto id (zbase32, lower-case), or null. */
  cryptoId: string | null;
}

const THISDCOS = ".thisdcos.directory.";
const DCLB = ".dclb.thisdcos.directory.";
const DCLB_APEX = DCLB.slice(1);
const GLOBAL = ".thisdcos.global.";
const DCOS_DIRECTORY = ".dcos.directory.";

export class Router {
  private readonly zones: { dotted: string; zone: string; route: Route }[];
  private readonly fallback: Route;
  private readonly cryptoSuffix: string | null;

  constructor(cfg: RouterConfig) {
    this.zones = [...cfg.forwardZones.entries()]
      .map(([zone, upstreams]) => ({ dotted: "." + zone, zone, route: { kind: "forward", zone, upstreams } as Route }))
      .sort((a, b) => b.zone.length - a.zone.length);
    this.fallback = cfg.upstreams.length > 0 ? { kind: "forward", zone: ".", upstreams: cfg.upstreams } : { kind: "none", zone: "." };
    this.cryptoSuffix = cfg.cryptoId ? "." + cfg.cryptoId + DCOS_DIRECTORY : null;
  }

  route(name: string): Route {
    if (name.endsWith(THISDCOS)) {
      if (name.endsWith(DCLB) || name === DCLB_APEX) return renamed(name, DCLB, ".l4lb" + THISDCOS);
      return { kind: "internal", name, map: null };
    }
    if (name.endsWith(".mesos.") || name === "mesos.") return { kind: "mesos" };
    if (name.endsWith(GLOBAL)) {
      const head = name.slice(0, name.length - GLOBAL.length);
      const dot = head.lastIndexOf(".");
      const x = head.slice(dot + 1);
      const suffix = "." + x + GLOBAL;
      // The zone apex too (`dcos.thisdcos.global.`), as dcos-net's label patterns include it.
      if (x !== "") return renamed(name, suffix, x === "dclb" ? ".l4lb" + THISDCOS : "." + x + THISDCOS);
    }
    if (this.cryptoSuffix !== null && name.endsWith(this.cryptoSuffix)) {
      const head = name.slice(0, name.length - this.cryptoSuffix.length);
      const l = head.slice(head.lastIndexOf(".") + 1);
      if (l !== "") return renamed(name, "." + l + this.cryptoSuffix, "." + l + THISDCOS);
    }
    if (name === "localhost." || name.endsWith(".zk.") || name === "zk." || name.endsWith(".spartan.") || name === "spartan.") {
      return { kind: "internal", name, map: null };
    }
    for (const z of this.zones) if (name.endsWith(z.dotted) || name === z.zone) return z.route;
    return this.fallback;
  }

  /**
   * Spec §3.2 for a message with several questions: when every question routes the same way, that
   * route (the first question's); otherwise the message is answered internally (the first question,
   * renamed if its route renames), and `disagreeing` lists the routes that were not internal (the
   * caller counts them as forwarder failures).
   */
  routeQuestions(first: string, later: readonly string[]): { route: Route; disagreeing: Route[] } {
    const route = this.route(first);
    if (later.length === 0) return { route, disagreeing: [] };
    const routes = [route, ...later.map((n) => this.route(n))];
    if (routes.every((r) => sameWay(route, r))) return { route, disagreeing: [] };
    const internal: Route = route.kind === "internal" ? route : { kind: "internal", name: first, map: null };
    return { route: internal, disagreeing: routes.filter((r) => r.kind !== "internal") };
  }
}

/** Two routes that send a query to the same place: internal (whatever the rename), Mesos-DNS, or one zone's upstreams. */
function sameWay(a: Route, b: Route): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === "forward" || a.kind === "none") return a.zone === (b as typeof a).zone;
  return true;
}

/** `name` ends with `from` (or is its apex); answer internally as if it ended with `to`; map names in replies back. */
function renamed(name: string, from: string, to: string): Route {
  const toApex = to.slice(1);
  const fromApex = from.slice(1);
  const internal = name === fromApex ? toApex : name.slice(0, name.length - from.length) + to;
  const map: NameMap = (n) => (n === toApex ? fromApex : n.endsWith(to) ? n.slice(0, n.length - to.length) + from : n);
  return { kind: "internal", name: internal, map };
}
