/**
 * The project's only randomness: a seeded 32-bit PRNG (mulberry32) whose whole state is one
 * number, so it lives inside the world value and is restored with it.
 */
export type RngState = number;

export function seedRng(seed: number): RngState {
  return seed >>> 0;
}

/** One draw: a float in [0, 1) and the next state. */
export function nextRandom(state: RngState): [number, RngState] {
  const next = (state + 0x6d2b79f5) >>> 0;
  let t = next;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return [((t ^ (t >>> 14)) >>> 0) / 4294967296, next];
}

/** A uniform index in [0, count). */
export function nextIndex(state: RngState, count: number): [number, RngState] {
  const [r, next] = nextRandom(state);
  return [Math.floor(r * count), next];
}
