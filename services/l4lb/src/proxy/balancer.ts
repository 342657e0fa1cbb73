/**
 * Backend choice for the userspace proxy: uniform over a VIP's slots (dataplane.ts `slotsOf`: a
 * backend of weight w holds w slots, weight 0 none), so a new connection or UDP session goes to a
 * backend with probability proportional to its weight, as `numgen random` does in the nft plane.
 */
import type { Endpoint } from "../dataplane";

/** A random slot's backend; undefined when there is no slot (nothing takes new connections). */
export function pick(slots: readonly Endpoint[]): Endpoint | undefined {
  const n = slots.length;
  return n === 0 ? undefined : slots[Math.floor(Math.random() * n)];
}

const same = (a: Endpoint, b: Endpoint): boolean => a.port === b.port && a.ip === b.ip;

/**
 * For a retry after `failed` could not be reached: a random slot whose backend is another one
 * (walking on from a random start, so still roughly by weight); undefined when no other backend
 * has a slot.
 */
export function pickOther(slots: readonly Endpoint[], failed: Endpoint): Endpoint | undefined {
  const n = slots.length;
  if (n === 0) return undefined;
  const start = Math.floor(Math.random() * n);
  for (let i = 0; i < n; i++) {
    const s = slots[(start + i) % n]!;
    if (!same(s, failed)) return s;
  }
  return undefined;
}
