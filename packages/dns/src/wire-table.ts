/**
 * A hash table keyed by lower-cased wire names (the `key`/`keyLen`/`keyHash` that `parseQueryInto`
 * leaves in a QueryScratch), so a hot path finds a name without building a string.
 *
 * Layout, for few cache misses per lookup: `slots` is open addressing with linear probing, SLOT ints
 * per slot (state: 0 empty, 1 live, -1 removed; key hash; offset in `data`; key length; value
 * length; three ints the caller defines), and each entry is one run of `data`: the key, then the caller's value bytes.
 * Removal leaves a tombstone; the table is rebuilt (live entries only, data compacted) when live +
 * removed slots pass half the capacity.
 */
import { wireKeyHash } from "./wire";

/** Ints per slot: a power of two, so `(i + SLOT) & (length - 1)` wraps to slot 0. */
const SLOT = 8;
const LIVE = 1;
const DEAD = -1;

export class WireKeyTable {
  private slots: Int32Array;
  /** Keys and values; replaced when it grows, so read it after `find()`. */
  data: Uint8Array;
  private dataLen = 0;
  private live = 0;
  private used = 0;

  constructor(initialSlots = 64) {
    let cap = 16;
    while (cap < initialSlots) cap *= 2;
    this.slots = new Int32Array(cap * SLOT);
    this.data = new Uint8Array(cap * 32);
  }

  /** Live entries. */
  get size(): number {
    return this.live;
  }

  /** The slot of the entry whose key is `key[0, len)` (hash `hash`, see `wireKeyHash`), or -1. */
  find(key: Uint8Array, len: number, hash: number): number {
    const t = this.slots;
    const d = this.data;
    const wrap = t.length - 1;
    let i = (hash & (t.length / SLOT - 1)) * SLOT;
    for (;;) {
      const s = t[i]!;
      if (s === 0) return -1;
      if (s === LIVE && t[i + 1] === hash && t[i + 3] === len) {
        const off = t[i + 2]!;
        let j = 0;
        while (j < len && d[off + j] === key[j]) j++;
        if (j === len) return i;
      }
      i = (i + SLOT) & wrap;
    }
  }

  /** Offset in `data` of the value bytes of the entry at `slot`. */
  valueAt(slot: number): number {
    return this.slots[slot + 2]! + this.slots[slot + 3]!;
  }

  /** The caller's first count of the entry at `slot`. */
  count0(slot: number): number {
    return this.slots[slot + 5]!;
  }

  /** The caller's second count of the entry at `slot`. */
  count1(slot: number): number {
    return this.slots[slot + 6]!;
  }

  /** The caller's third int of the entry at `slot` (e.g. an index into its own list). */
  count2(slot: number): number {
    return this.slots[slot + 7]!;
  }

  /** Adds (or replaces) the entry for `key[0, len)`; `value` is copied. */
  set(key: Uint8Array, len: number, hash: number, value: Uint8Array, c0: number, c1: number, c2 = 0): void {
    this.delete(key, len, hash);
    if ((this.used + 1) * 2 > this.slots.length / SLOT) this.rebuild();
    this.insert(key, 0, len, hash, value, 0, value.length, c0, c1, c2);
  }

  /** Removes the entry for `key[0, len)`; returns whether there was one. */
  delete(key: Uint8Array, len: number, hash: number): boolean {
    const s = this.find(key, len, hash);
    if (s < 0) return false;
    this.slots[s] = DEAD;
    this.live--;
    return true;
  }

  /** Removes the entry for an absolute presentation name when it has a wire key (see `plainKey`). */
  deleteKey(key: Uint8Array): boolean {
    return this.delete(key, key.length, wireKeyHash(key, key.length));
  }

  clear(): void {
    this.slots.fill(0);
    this.dataLen = 0;
    this.live = 0;
    this.used = 0;
  }

  private insert(
    key: Uint8Array,
    keyOff: number,
    len: number,
    hash: number,
    value: Uint8Array,
    valueOff: number,
    valueLen: number,
    c0: number,
    c1: number,
    c2: number,
  ): void {
    const off = this.dataLen;
    const need = off + len + valueLen;
    if (need > this.data.length) {
      const next = new Uint8Array(Math.max(need, this.data.length * 2));
      next.set(this.data.subarray(0, off));
      this.data = next;
    }
    this.data.set(key.subarray(keyOff, keyOff + len), off);
    this.data.set(value.subarray(valueOff, valueOff + valueLen), off + len);
    this.dataLen = need;
    const t = this.slots;
    const wrap = t.length - 1;
    let i = (hash & (t.length / SLOT - 1)) * SLOT;
    while (t[i] !== 0) i = (i + SLOT) & wrap;
    t[i] = LIVE;
    t[i + 1] = hash;
    t[i + 2] = off;
    t[i + 3] = len;
    t[i + 4] = valueLen;
    t[i + 5] = c0;
    t[i + 6] = c1;
    t[i + 7] = c2;
    this.live++;
    this.used++;
  }

  /** Re-inserts the live entries into fresh arrays (twice the capacity when over a quarter full). */
  private rebuild(): void {
    const old = this.slots;
    const oldData = this.data;
    const cap = old.length / SLOT;
    this.slots = new Int32Array((this.live * 4 >= cap ? cap * 2 : cap) * SLOT);
    this.data = new Uint8Array(Math.max(oldData.length, 64));
    this.dataLen = 0;
    this.live = 0;
    this.used = 0;
    for (let i = 0; i < old.length; i += SLOT) {
      if (old[i] !== LIVE) continue;
      const off = old[i + 2]!;
      const len = old[i + 3]!;
      this.insert(oldData, off, len, old[i + 1]!, oldData, off + len, old[i + 4]!, old[i + 5]!, old[i + 6]!, old[i + 7]!);
    }
  }
}
