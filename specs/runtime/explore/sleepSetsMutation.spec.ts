import { describe, expect, it, vi } from 'vitest';
import { explore as exploreAtAnyGranularity, type ExploreOptions } from '../../../runtime/explore/explore.ts';
import type { Topology } from '../../../actors/topology.ts';

/** These specs are about the message-level search (sleep sets, --reduce, exact shortest lengths in messages): granularity.spec.ts compares it with the default, thread granularity. */
const explore = (topology: Topology, options: ExploreOptions = {}) => exploreAtAnyGranularity(topology, { granularity: 'message', ...options });
import { resolveScenario } from '../../../runtime/cli/scenarioCommands.ts';
import { libraryTopology } from '../../helpers/library.ts';
import type { Footprint, JudgementsCommute, SleepEntry } from '../../../runtime/explore/sleepSets.ts';

/**
 * The sleep-set specs compare state counts with and without them; this shows that comparison can
 * fail. With an independence relation that forgets one clause (two sends to one mailbox, or the
 * monitors' order), steps that do not commute are put to sleep and states are lost. It also
 * shows what asking the monitors buys over keeping every two judged steps apart.
 */
const mutation = { is: 'none' as 'none' | 'sends forgotten' | 'monitors never asked' | 'monitors always agree' };
vi.mock('../../../runtime/explore/sleepSets.ts', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../../runtime/explore/sleepSets.ts')>();
  const sendsForgotten = (a: Footprint, b: Footprint, reads: readonly (ReadonlySet<number> | undefined)[]) =>
    original.commute(asEntry({ ...a, sends: [] }), asEntry({ ...b, sends: [] }), reads);
  const asEntry = (footprint: Footprint): SleepEntry => ({ identity: '', footprint, judged: [], judgedKey: 0 });
  return {
    ...original,
    sleepAfter: (
      asleep: readonly SleepEntry[],
      before: readonly SleepEntry[],
      taken: SleepEntry,
      reads: readonly (ReadonlySet<number> | undefined)[],
      judgementsCommute?: JudgementsCommute,
    ) => {
      switch (mutation.is) {
        case 'sends forgotten':
          return [...asleep, ...before].filter((e) => sendsForgotten(e.footprint, taken.footprint, reads));
        case 'monitors never asked':
          return original.sleepAfter(asleep, before, taken, reads);
        case 'monitors always agree':
          return original.sleepAfter(asleep, before, taken, reads, () => true);
        default:
          return original.sleepAfter(asleep, before, taken, reads, judgementsCommute);
      }
    },
  };
});

/** `explore` of a library scenario (its expectations as options) with the sleep sets mutated as named. */
function exploreMutated(name: string, is: typeof mutation.is) {
  const scenario = resolveScenario(name);
  mutation.is = is;
  try {
    return explore(scenario.topology, { expectedViolations: scenario.expect.violate ?? [] });
  } finally {
    mutation.is = 'none';
  }
}

describe('sleep sets: a wrong independence shows', () => {
  it('should lose states when two sends to one mailbox are taken to commute', () => {
    const topology = libraryTopology('drained-section-dataplane');
    const sound = explore(topology);
    mutation.is = 'sends forgotten';
    try {
      const wrong = explore(topology);
      expect(wrong.states).toBeLessThan(sound.states);
    } finally {
      mutation.is = 'none';
    }
  });

  it('should lose states when two judged steps are taken to commute without asking the monitors', () => {
    // At a kick during commit, the order of two judged steps changes what the monitors hold.
    const sound = exploreMutated('kick-when-commit-begins', 'none');
    const wrong = exploreMutated('kick-when-commit-begins', 'monitors always agree');
    expect(wrong.states).toBeLessThan(sound.states);
  });
});

describe('sleep sets: asking the monitors', () => {
  it('should visit the same states in fewer transitions than keeping every two judged steps apart', () => {
    const apart = exploreMutated('drained-section-dataplane', 'monitors never asked');
    const asked = exploreMutated('drained-section-dataplane', 'none');
    expect(asked.verdict).toBe(apart.verdict);
    expect(asked.states).toBe(apart.states);
    expect(asked.transitions).toBeLessThan(apart.transitions);
  });
});
