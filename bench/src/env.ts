/** Small helpers every benchmark shares: integer knobs from the environment and a seeded PRNG. */

/** A positive integer from `process.env[name]` (at most `max`), or `fallback` when unset; anything else throws naming the knob. */
export function envInt(name: string, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0 || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? "a positive integer" : `an integer in 1..${max}`;
    throw new Error(`${name} must be ${range}, got "${raw}"`);
  }
  return n;
}

/** mulberry32 (packages/core): a small seeded PRNG, so every run (and round) uses the same order. */
export { seededRandom as prng } from "@dcnet/core";
