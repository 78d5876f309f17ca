/**
 * Open addressing over 53-bit hashes kept as two 32-bit halves in typed arrays (0 in both
 * halves marks an empty slot, so callers store hash 0 as 1), with linear probing: the layout of
 * the explorer's state store and of its level index.
 */

/** The slot holding `h`, or the empty slot where it would go. The table must have an empty slot. */
export function slotOf(hi: Uint32Array, lo: Uint32Array, mask: number, h: number): number {
  const hHi = Math.floor(h / 4294967296);
  const hLo = h >>> 0;
  let slot = (hLo ^ Math.imul(hHi, 0x9e3779b1)) & mask;
  for (;;) {
    const storedLo = lo[slot];
    const storedHi = hi[slot];
    if ((storedLo === hLo && storedHi === hHi) || (storedLo === 0 && storedHi === 0)) return slot;
    slot = (slot + 1) & mask;
  }
}

/** Whether `slot` is empty. */
export function isEmpty(hi: Uint32Array, lo: Uint32Array, slot: number): boolean {
  return hi[slot] === 0 && lo[slot] === 0;
}

/** Writes `h` into `slot`. */
export function store(hi: Uint32Array, lo: Uint32Array, slot: number, h: number): void {
  hi[slot] = Math.floor(h / 4294967296);
  lo[slot] = h >>> 0;
}
