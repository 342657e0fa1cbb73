/**
 * Rule drift in our nft table: the chains' rules compared with what nft-render writes. The
 * periodic reconcile reads the table back (`nft -j list table`); maps and elements are compared
 * with the model (nft-apply.ts `parseTable`), the chains' rules here. Someone flushing `output`
 * or deleting the masquerade rule leaves maps and chain names intact, and VIPs silently stop
 * working (or replies stop coming back) until we notice.
 *
 * What the rules should look like in nft's JSON is not written by hand (it varies with the nft
 * version: `ct status dnat` reads back as `in`, a protocol match that a later statement implies is
 * dropped): the driver loads our chains once into a probe table of regular chains
 * (`renderRuleProbe`: no hook, no packet sees them), reads them back and deletes it. The dispatch
 * chains are probed once per protocol with {@link PROBE_SLOTS} slots; `<proto>_slots_<n>` must
 * read the same with `"mod":<n>`.
 *
 * A chain whose rules differ is repaired in place (flushed, its rules added again, in the
 * reconcile's one transaction: `renderChainRepair`); a base chain whose hook, priority or policy
 * differs is a problem, which makes the reconcile rebuild the table (a chain's hook cannot be
 * changed in place).
 */
import type { ChainRead } from "./nft-apply";
import { BASE_CHAINS, PROBE_SLOTS } from "./nft-render";
import type { Family } from "./ip";

/** Expected rule expressions (JSON text) per chain, learnt from a probe. */
export interface ExpectedChains {
  fixed: Map<string, string[]>;
  /** Per protocol, the dispatch chain's rules with `"mod":<PROBE_SLOTS>`; absent when the probe did not show it. */
  slots: Partial<Record<"tcp" | "udp", string[]>>;
}

const FIXED = ["prerouting", "output", "postrouting", "reject_tcp", "reject_udp"];
const PROBE_MOD = `"mod":${PROBE_SLOTS}`;

/** From the chains of a probe table; undefined when a fixed chain is missing from it (the probe did not work). */
export function expectedFromProbe(probe: ReadonlyMap<string, ChainRead>): ExpectedChains | undefined {
  const fixed = new Map<string, string[]>();
  for (const name of FIXED) {
    const c = probe.get(name);
    if (!c || c.rules.length === 0) return undefined;
    fixed.set(name, c.rules);
  }
  const slots: ExpectedChains["slots"] = {};
  for (const p of ["tcp", "udp"] as const) {
    const rules = probe.get(`${p}_slots_${PROBE_SLOTS}`)?.rules;
    if (rules && rules.length > 0 && rules.join("\n").split(PROBE_MOD).length === 2) slots[p] = rules;
  }
  return { fixed, slots };
}

export interface ChainDrift {
  /** Chains whose rules differ from ours (repair: flush and add them again). */
  drifted: string[];
  /** Base chains hooked otherwise than ours (repair: rebuild the table). */
  problems: string[];
}

/** The chains of one family's table (as read) that differ from ours. Chains we do not know (not ours) are ignored. */
export function chainDrift(family: Family, chains: ReadonlyMap<string, ChainRead>, expected: ExpectedChains): ChainDrift {
  const fam = family === 4 ? "ip" : "ip6";
  const drifted: string[] = [];
  const problems: string[] = [];
  for (const [name, want] of Object.entries(BASE_CHAINS)) {
    const c = chains.get(name);
    if (!c) continue; // missing: parseTable reports it
    const have = c.base;
    if (!have || have.type !== want.type || have.hook !== want.hook || have.prio !== want.prio || have.policy !== want.policy)
      problems.push(
        `${fam}: chain ${name} is ${have ? `type ${String(have.type)} hook ${String(have.hook)} priority ${String(have.prio)} policy ${String(have.policy)}` : "not a base chain"}, not type ${want.type} hook ${want.hook} priority ${want.prio} policy ${want.policy}`,
      );
  }
  const same = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);
  for (const [name, c] of chains) {
    let want = expected.fixed.get(name);
    if (!want) {
      const m = /^(tcp|udp)_slots_([0-9]+)$/.exec(name);
      const template = m ? expected.slots[m[1] as "tcp" | "udp"] : undefined;
      if (!m || !template) continue;
      want = template.map((r) => r.replace(PROBE_MOD, `"mod":${Number(m[2])}`));
    }
    if (!same(c.rules, want)) drifted.push(name);
  }
  return { drifted, problems };
}
