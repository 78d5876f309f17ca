import { describe, expect, it } from 'vitest';
import { LevelIndex } from '../../../runtime/explore/LevelIndex.ts';

describe('LevelIndex', () => {
  it('should find every value by its 53-bit hash after the table has grown many times', () => {
    const index = new LevelIndex<string>();
    const hashes: number[] = [];
    // Spread over all 53 bits, with neighbours that share their low or their high halves.
    for (let i = 0; i < 5000; i++) hashes.push(((i * 2654435761) % 2 ** 21) * 2 ** 32 + ((i * 40503) >>> 0), i * 2 ** 32 + 7, 2 ** 32 + i + 1);
    const unique = [...new Set(hashes)];
    unique.forEach((h, i) => index.set(h, `v${i}`));
    expect(index.size).toBe(unique.length);
    unique.forEach((h, i) => expect(index.get(h)).toBe(`v${i}`));
  });

  it('should miss a hash never set, including one that shares a half with a stored one', () => {
    const index = new LevelIndex<number>();
    index.set(5 * 2 ** 32 + 7, 1);
    expect(index.get(6 * 2 ** 32 + 7)).toBeUndefined();
    expect(index.get(5 * 2 ** 32 + 8)).toBeUndefined();
  });

  it('should keep hash 0 apart from the empty slot', () => {
    const index = new LevelIndex<string>();
    expect(index.get(0)).toBeUndefined();
    index.set(0, 'zero');
    expect(index.get(0)).toBe('zero');
  });

  it('should replace the value of a hash set again', () => {
    const index = new LevelIndex<string>();
    index.set(42, 'first');
    index.set(42, 'second');
    expect(index.get(42)).toBe('second');
    expect(index.size).toBe(1);
  });

  it('should forget every entry when cleared, and take new ones in the same table', () => {
    const index = new LevelIndex<number>();
    for (let i = 1; i <= 3000; i++) index.set(i * 2 ** 32 + i, i);
    index.clear();
    expect(index.size).toBe(0);
    expect(index.get(2 ** 32 + 1)).toBeUndefined();
    index.set(7, 70);
    expect(index.get(7)).toBe(70);
    expect(index.get(2 * 2 ** 32 + 2)).toBeUndefined();
  });
});
