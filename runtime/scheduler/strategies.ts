/**
 * Strategies pick one of the enabled steps. The engine lists enabled steps in a canonical
 * order (oldest message first, then the environment's offers by actor name, then advancing the
 * clock), so `fifo` is always index 0; `random` draws from the world's seeded PRNG; `replay`
 * follows a recorded choice path.
 */
import { ScenarioError } from '../errors.ts';
import { nextIndex, type RngState } from './rng.ts';
import { decodeReplayPath } from './ReplayPath.ts';

export interface Strategy {
  readonly name: string;
  /** The index to take among `count` (> 1) enabled steps, and the PRNG state after it. */
  choose(count: number, rng: RngState, choiceNumber: number): [number, RngState];
}

export const fifo: Strategy = {
  name: 'fifo',
  choose: (_count, rng) => [0, rng],
};

export const random: Strategy = {
  name: 'random',
  choose: (count, rng) => nextIndex(rng, count),
};

/** Replays a choice path; past its end it continues first-in first-out, as every recorded run would have. */
export function replay(path: string | readonly number[]): Strategy {
  const choices = typeof path === 'string' ? decodeReplayPath(path) : path;
  return {
    name: 'replay',
    choose(count, rng, choiceNumber) {
      const pick = choices[choiceNumber] ?? 0;
      if (pick >= count) {
        throw new ScenarioError(
          `replay path: choice ${choiceNumber + 1} is ${pick}, but only ${count} steps are enabled there; the path belongs to another scenario or seed`,
        );
      }
      return [pick, rng];
    },
  };
}

export function strategyByName(name: string): Strategy {
  if (name === 'fifo') return fifo;
  if (name === 'random') return random;
  throw new ScenarioError(`strategy: '${name}' is not a strategy; expected fifo, random or replay`);
}
