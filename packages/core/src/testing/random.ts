/** mulberry32: a small seeded PRNG, so fuzz tests and benchmarks are reproducible from their seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A JSON value, as the fuzz tests mutate parsed documents. */
export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** A place in a JSON tree: the array or object holding a value, and its index or key. */
export interface JsonSlot {
  parent: Json[] | { [k: string]: Json };
  key: string | number;
}

/** Every (container, key) place of the tree, depth first: where a fuzz test replaces, deletes or copies values. */
export function jsonSlots(root: Json): JsonSlot[] {
  const out: JsonSlot[] = [];
  const walk = (v: Json): void => {
    if (Array.isArray(v))
      v.forEach((c, i) => {
        out.push({ parent: v, key: i });
        walk(c);
      });
    else if (v !== null && typeof v === "object")
      for (const [k, c] of Object.entries(v)) {
        out.push({ parent: v, key: k });
        walk(c);
      }
  };
  walk(root);
  return out;
}
