/**
 * Open addressing over 53-bit hashes kept as two 32-bit halves side by side in one typed array
 * (slot i: high half at 2i, low half at 2i + 1, so a probe touches one cache line rather than
 * one in each of two arrays; the tables are far larger than the caches). 0 in both halves marks
 * an empty slot, so callers store hash 0 as 1. Linear probing. The layout of the explorer's
 * state store and of its level index.
 */

/** A table of `slots` empty slots (a power of two). */
export function emptySlots(slots: number): Uint32Array {
  return new Uint32Array(slots * 2);
}

/** How many slots `halves` has. */
export function slotCount(halves: Uint32Array): number {
  return halves.length / 2;
}

/** The slot holding `h`, or the empty slot where it would go. The table must have an empty slot. */
export function slotOf(halves: Uint32Array, mask: number, h: number): number {
  const hHi = Math.floor(h / 4294967296);
  const hLo = h >>> 0;
  let slot = (hLo ^ Math.imul(hHi, 0x9e3779b1)) & mask;
  for (;;) {
    const storedHi = halves[2 * slot];
    const storedLo = halves[2 * slot + 1];
    if ((storedLo === hLo && storedHi === hHi) || (storedLo === 0 && storedHi === 0)) return slot;
    slot = (slot + 1) & mask;
  }
}

/** Whether `slot` is empty. */
export function isEmpty(halves: Uint32Array, slot: number): boolean {
  return halves[2 * slot] === 0 && halves[2 * slot + 1] === 0;
}

/** Writes `h` into `slot`. */
export function store(halves: Uint32Array, slot: number, h: number): void {
  halves[2 * slot] = Math.floor(h / 4294967296);
  halves[2 * slot + 1] = h >>> 0;
}

/** The hash in `slot` (0 when empty). */
export function storedHash(halves: Uint32Array, slot: number): number {
  return halves[2 * slot] * 4294967296 + halves[2 * slot + 1];
}
