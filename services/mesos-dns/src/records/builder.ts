import type { EnumRecord, Enumeration, RecordSet } from "../model";
import type { ParsedIp } from "./ip";

export type RType = "A" | "AAAA" | "SRV";

/**
 * Accumulates the three record maps `name → set(value)` (§3): insertion order kept for names and
 * values, adding an existing (name, value) pair is a no-op, an empty value is never stored
 * (upstream `rrs.add`). Names with an empty label (leading `.` or `..`) are refused: they cannot
 * be encoded in DNS and only arise from degenerate input.
 */
export class RecordBuilder {
  private readonly maps: Record<RType, Map<string, Values>> = { A: new Map(), AAAA: new Map(), SRV: new Map() };

  /** Result of {@link add}: `true` added, `false` already present (or empty value), `"invalid"` refused name. */
  add(rtype: RType, name: string, value: string): boolean | "invalid" {
    if (value === "") return false;
    const map = this.maps[rtype];
    const entry = map.get(name);
    if (entry === undefined) {
      if (!validName(name)) return "invalid";
      map.set(name, { list: [value], set: undefined });
      return true;
    }
    if (entry.set !== undefined) {
      if (entry.set.has(value)) return false;
      entry.set.add(value);
    } else {
      if (entry.list.includes(value)) return false;
      if (entry.list.length >= SET_THRESHOLD) entry.set = new Set(entry.list).add(value);
    }
    entry.list.push(value);
    return true;
  }

  /** A for IPv4, AAAA for IPv6. */
  addIp(name: string, ip: ParsedIp): boolean | "invalid" {
    return this.add(ip.family === 4 ? "A" : "AAAA", name, ip.text);
  }

  has(rtype: RType, name: string, value: string): boolean {
    const e = this.maps[rtype].get(name);
    return e !== undefined && (e.set !== undefined ? e.set.has(value) : e.list.includes(value));
  }

  /** Freeze into a {@link RecordSet}; the builder should not be used afterwards. */
  build(enumeration: Enumeration): RecordSet {
    const freeze = (m: Map<string, Values>): ReadonlyMap<string, readonly string[]> => {
      const out = new Map<string, readonly string[]>();
      for (const [name, e] of m) out.set(name, Object.freeze(e.list));
      return out;
    };
    return { a: freeze(this.maps.A), aaaa: freeze(this.maps.AAAA), srv: freeze(this.maps.SRV), enumeration };
  }
}

/** Values of one name: a list (insertion order), plus a set once the list is long (O(1) de-duplication). */
interface Values {
  list: string[];
  set: Set<string> | undefined;
}

const SET_THRESHOLD = 16;

/** Absolute, non-empty labels: ends with `.`, no empty label. */
export function validName(name: string): boolean {
  return name.length > 1 && name.endsWith(".") && !name.startsWith(".") && !name.includes("..");
}

/** An enumeration record for a newly added pair. */
export function enumRecord(rtype: RType, name: string, host: string): EnumRecord {
  return { name, host, rtype };
}
