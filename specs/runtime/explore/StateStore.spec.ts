import { describe, expect, it } from 'vitest';
import { StateStore } from '../../../runtime/explore/StateStore.ts';

describe('StateStore', () => {
  it('should store each 53-bit hash once and give ids in the order states were added', () => {
    const store = new StateStore();
    expect(store.add(2 ** 53 - 1, -1, 0)).toBe(0);
    expect(store.add(12345, 0, 3)).toBe(1);
    expect(store.add(2 ** 53 - 1, 1, 2)).toBe(-1);
    expect(store.size).toBe(2);
    expect(store.has(12345)).toBe(true);
    expect(store.has(12346)).toBe(false);
  });

  it('should tell apart hashes that share their low or their high 32 bits', () => {
    const store = new StateStore();
    store.add(5 * 2 ** 32 + 7, -1, 0);
    expect(store.has(6 * 2 ** 32 + 7)).toBe(false);
    expect(store.has(5 * 2 ** 32 + 8)).toBe(false);
    expect(store.add(6 * 2 ** 32 + 7, 0, 1)).toBe(1);
  });

  it('should keep every hash, parent and step through growing far past its first size', () => {
    const store = new StateStore(16);
    const hashes = Array.from({ length: 50_000 }, (_, i) => (i * 2654435761) % 2 ** 53);
    hashes.forEach((h, i) => expect(store.add(h, i - 1, i % 7)).toBe(i));
    expect(hashes.every((h) => store.has(h))).toBe(true);
    expect(store.parent(40_000)).toBe(39_999);
    expect(store.step(40_000)).toBe(40_000 % 7);
    expect(store.bytes().perState).toBeLessThan(60);
  });

  it('should give the id a hash was stored with, after growing, and -1 for a hash never stored', () => {
    const store = new StateStore(16);
    const hashes = Array.from({ length: 20_000 }, (_, i) => ((i + 1) * 2654435761) % 2 ** 53);
    hashes.forEach((h, i) => store.add(h, i - 1, 0));
    expect(hashes.map((h) => store.idOf(h))).toEqual(hashes.map((_, i) => i));
    expect(store.idOf(3)).toBe(-1);
  });
});
