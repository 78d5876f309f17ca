import { emptySlots, slotCount, slotOf, store, storedHash } from './hashSlots.ts';

/**
 * The next level's states that have something asleep, by state hash, while the level is being
 * found (see `intersectSleep`). An open-addressing table of 53-bit hashes (`hashSlots.ts`)
 * with the node's place beside it: a `Map<number, …>` boxed every hash as a heap number and
 * rehashed as it grew, and was the single largest cost of merging a successor.
 */
export class LevelIndex<T> {
  private halves = emptySlots(1 << 10);
  private places = new Int32Array(1 << 10);
  private values: T[] = [];
  private mask = (1 << 10) - 1;

  get size(): number {
    return this.values.length;
  }

  get(hash: number): T | undefined {
    const slot = this.slotOf(hash === 0 ? 1 : hash);
    return this.places[slot] > 0 ? this.values[this.places[slot] - 1] : undefined;
  }

  /** Records `value` under a hash not recorded yet. */
  set(hash: number, value: T): void {
    const h = hash === 0 ? 1 : hash;
    const slot = this.slotOf(h);
    if (this.places[slot] > 0) {
      this.values[this.places[slot] - 1] = value;
      return;
    }
    store(this.halves, slot, h);
    this.values.push(value);
    this.places[slot] = this.values.length;
    if (this.values.length * 2 > this.mask) this.grow();
  }

  /**
   * Forgets every entry but keeps the table's size: the next level is usually about as large,
   * and growing a table from small again costs a rehash at every doubling.
   */
  clear(): void {
    if (this.values.length === 0) return;
    this.halves.fill(0);
    this.places.fill(0);
    this.values = [];
  }

  private slotOf(h: number): number {
    return slotOf(this.halves, this.mask, h);
  }

  private grow(): void {
    const { halves, places } = this;
    const slots = slotCount(halves);
    this.halves = emptySlots(slots * 2);
    this.places = new Int32Array(slots * 2);
    this.mask = slots * 2 - 1;
    for (let i = 0; i < slots; i++) {
      if (places[i] === 0) continue;
      const h = storedHash(halves, i);
      const slot = this.slotOf(h);
      store(this.halves, slot, h);
      this.places[slot] = places[i];
    }
  }
}
