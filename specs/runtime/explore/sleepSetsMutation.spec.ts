import { describe, expect, it, vi } from 'vitest';
import { explore } from '../../../runtime/explore/explore.ts';
import { libraryTopology } from '../../helpers/library.ts';
import type { Footprint, SleepEntry } from '../../../runtime/explore/sleepSets.ts';

/**
 * The sleep-set specs compare state counts with and without them; this shows that comparison can
 * fail. With an independence relation that forgets one clause (two sends to one mailbox), steps
 * that do not commute are put to sleep and states are lost.
 */
const forgetful = { on: false };
vi.mock('../../../runtime/explore/sleepSets.ts', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../../runtime/explore/sleepSets.ts')>();
  const sendsForgotten = (a: Footprint, b: Footprint, reads: readonly (ReadonlySet<number> | undefined)[]) =>
    original.independent({ ...a, sends: [] }, { ...b, sends: [] }, reads);
  return {
    ...original,
    sleepAfter: (asleep: readonly SleepEntry[], before: readonly SleepEntry[], taken: Footprint, reads: readonly (ReadonlySet<number> | undefined)[]) =>
      forgetful.on ? [...asleep, ...before].filter((e) => sendsForgotten(e.footprint, taken, reads)) : original.sleepAfter(asleep, before, taken, reads),
  };
});

describe('sleep sets: a wrong independence shows', () => {
  it('should lose states when two sends to one mailbox are taken to commute', () => {
    const topology = libraryTopology('drained-section-dataplane');
    const sound = explore(topology);
    forgetful.on = true;
    try {
      const wrong = explore(topology);
      expect(wrong.states).toBeLessThan(sound.states);
    } finally {
      forgetful.on = false;
    }
  });
});
