/**
 * The explorer's state table: open addressing over 53-bit hashes, each slot three 32-bit words
 * side by side in one typed array (slot i: the hash's high half at 3i, its low half at 3i + 1,
 * the state's id at 3i + 2), so that a probe, and the id found with it, touch one cache line
 * rather than one in each of several arrays (the tables are far larger than the caches). 0 in
 * both halves marks an empty slot, so callers store hash 0 as 1. Linear probing.
 */

const WORDS = 3;

/** A table of `slots` empty slots (a power of two). */
export function emptySlots(slots: number): Uint32Array {
  return new Uint32Array(slots * WORDS);
}

/** How many slots `table` has. */
export function slotCount(table: Uint32Array): number {
  return table.length / WORDS;
}

/** The slot holding `h`, or the empty slot where it would go. The table must have an empty slot. */
export function slotOf(table: Uint32Array, mask: number, h: number): number {
  const hHi = Math.floor(h / 4294967296);
  const hLo = h >>> 0;
  let slot = (hLo ^ Math.imul(hHi, 0x9e3779b1)) & mask;
  for (;;) {
    const storedHi = table[WORDS * slot];
    const storedLo = table[WORDS * slot + 1];
    if ((storedLo === hLo && storedHi === hHi) || (storedLo === 0 && storedHi === 0)) return slot;
    slot = (slot + 1) & mask;
  }
}

/** Whether `slot` is empty. */
export function isEmpty(table: Uint32Array, slot: number): boolean {
  return table[WORDS * slot] === 0 && table[WORDS * slot + 1] === 0;
}

/** Writes `h` and its state's `id` into `slot`. */
export function store(table: Uint32Array, slot: number, h: number, id: number): void {
  table[WORDS * slot] = Math.floor(h / 4294967296);
  table[WORDS * slot + 1] = h >>> 0;
  table[WORDS * slot + 2] = id;
}

/** The hash in `slot` (0 when empty). */
export function storedHash(table: Uint32Array, slot: number): number {
  return table[WORDS * slot] * 4294967296 + table[WORDS * slot + 1];
}

/** The id stored with the hash in `slot`. */
export function storedId(table: Uint32Array, slot: number): number {
  return table[WORDS * slot + 2];
}
