/**
 * Strategies pick one of the enabled steps. The engine lists enabled steps in a canonical
 * order (oldest message first, then the environment's offers by actor name, then advancing the
 * clock), so `fifo` is always index 0; `random` draws from the world's seeded PRNG; `replay`
 * follows a recorded choice path.
 */
import { ScenarioError } from '../errors.ts';
import type { Step } from '../engine/World.ts';
import { nextIndex, type RngState } from './rng.ts';
import { decodeReplayPath } from './ReplayPath.ts';

export interface Strategy {
  readonly name: string;
  /** The index to take among the enabled steps (more than one), and the PRNG state after it. */
  choose(steps: readonly Step[], rng: RngState, choiceNumber: number): [number, RngState];
}

export const fifo: Strategy = {
  name: 'fifo',
  choose: (_count, rng) => [0, rng],
};

/**
 * Uniform over the steps that take no virtual time; the clock advances only when nothing else
 * can happen (code runs in zero virtual time, as a fast CPU would). Host completions, guest
 * kicks and every delivery interleave freely.
 */
export const random: Strategy = {
  name: 'random',
  choose: (steps, rng) => {
    const timeless = steps[steps.length - 1].kind === 'advance' ? steps.length - 1 : steps.length;
    return nextIndex(rng, timeless);
  },
};

/** Replays a choice path; past its end it continues first-in first-out, as every recorded run would have. */
export function replay(path: string | readonly number[]): Strategy {
  const choices = typeof path === 'string' ? decodeReplayPath(path) : path;
  return {
    name: 'replay',
    choose(steps, rng, choiceNumber) {
      const pick = choices[choiceNumber] ?? 0;
      if (pick >= steps.length) {
        throw new ScenarioError(
          `replay path: choice ${choiceNumber + 1} is ${pick}, but only ${steps.length} steps are enabled there; the path belongs to another scenario or seed`,
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
