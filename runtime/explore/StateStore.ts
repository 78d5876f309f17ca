import { emptySlots, isEmpty, slotCount, slotOf, store, storedHash, storedId } from './hashSlots.ts';

/**
 * The explorer's memory of where it has been: 53-bit state hashes in an open-addressing table
 * (each slot the hash's two 32-bit halves and the state's id, see `hashSlots.ts`), plus, by
 * state id, the parent's id and the index of the step taken. 30 to 54 bytes per state (12
 * bytes per slot, the table a quarter to half full, then 4 for the parent and 2 for the step),
 * with no object per state. Hash 0 marks an empty slot, so a state whose hash is 0 is stored as
 * 1 (one more way to collide, counted in the report's collision probability like any other).
 */
export class StateStore {
  private table: Uint32Array;
  private mask: number;
  private parentIds = new Int32Array(1024);
  private stepIndexes = new Uint16Array(1024);
  size = 0;

  constructor(capacityHint = 1 << 12) {
    let slots = 1 << 10;
    while (slots < capacityHint * 2) slots *= 2;
    this.table = emptySlots(slots);
    this.mask = slots - 1;
  }

  has(hash: number): boolean {
    return this.find(hash === 0 ? 1 : hash) < 0;
  }

  /** The id of the state stored under `hash`, or -1. */
  idOf(hash: number): number {
    const slot = slotOf(this.table, this.mask, hash === 0 ? 1 : hash);
    return isEmpty(this.table, slot) ? -1 : storedId(this.table, slot);
  }

  /** Records a new state; its id, or -1 when the hash was already there. */
  add(hash: number, parent: number, step: number): number {
    const h = hash === 0 ? 1 : hash;
    const slot = this.find(h);
    if (slot < 0) return -1;
    const id = this.size++;
    store(this.table, slot, h, id);
    if (id >= this.parentIds.length) this.growLinks();
    this.parentIds[id] = parent;
    this.stepIndexes[id] = step;
    if (this.size * 2 > this.mask) this.growTable();
    return id;
  }

  parent(id: number): number {
    return this.parentIds[id];
  }

  step(id: number): number {
    return this.stepIndexes[id];
  }

  /** Bytes held for the states stored so far (table and links), and per state. */
  bytes(): { total: number; perState: number } {
    const total = this.table.byteLength + this.parentIds.byteLength + this.stepIndexes.byteLength;
    return { total, perState: this.size === 0 ? 0 : total / this.size };
  }

  /** The empty slot where `h` goes, or -1 when it is already stored. */
  private find(h: number): number {
    const slot = slotOf(this.table, this.mask, h);
    return isEmpty(this.table, slot) ? slot : -1;
  }

  private growTable(): void {
    const old = this.table;
    const slots = slotCount(old);
    this.table = emptySlots(slots * 2);
    this.mask = slots * 2 - 1;
    for (let i = 0; i < slots; i++) {
      const h = storedHash(old, i);
      if (h !== 0) store(this.table, slotOf(this.table, this.mask, h), h, storedId(old, i));
    }
  }

  private growLinks(): void {
    const parents = new Int32Array(this.parentIds.length * 2);
    parents.set(this.parentIds);
    this.parentIds = parents;
    const steps = new Uint16Array(this.stepIndexes.length * 2);
    steps.set(this.stepIndexes);
    this.stepIndexes = steps;
  }
}
