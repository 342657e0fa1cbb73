/**
 * Node's internal handle bindings (`process.binding(name)`), for the few hot paths that drive libuv
 * handles the way Node's own `dgram` and `net` do (packages/dns raw-udp.ts, l4lb raw-copy.ts). They
 * are not public API: each caller names the members it relies on in `fits`, the answer is kept per
 * name, and null (no binding, a deprecation policy that throws, or members that differ) tells the
 * caller to keep its public-API path.
 */
const cache = new Map<string, unknown>();

export function nodeBinding<T>(name: string, fits: (binding: Partial<T>) => boolean): T | null {
  if (cache.has(name)) return cache.get(name) as T | null;
  let found: T | null = null;
  try {
    const b = (process as unknown as { binding(name: string): Partial<T> }).binding(name);
    if (b !== null && typeof b === "object" && fits(b)) found = b as T;
  } catch {
    // no process.binding here (a future Node, or a policy that throws): the public path
  }
  cache.set(name, found);
  return found;
}
