import { describe, expect, it } from 'vitest';
import { Expander, timeHorizonOf } from '../../../runtime/explore/Expander.ts';
import { libraryTopology } from '../../helpers/library.ts';
import { type World, mailboxOf } from '../../../runtime/engine/World.ts';

/** Every successor met in the first `levels` levels of a breadth-first walk (without merging), with its parent. */
function successors(expander: Expander, levels: number): { parent: World; step: ReturnType<Expander['expand']>['steps'][number] }[] {
  const met: { parent: World; step: ReturnType<Expander['expand']>['steps'][number] }[] = [];
  let frontier = [expander.engine.initial];
  for (let level = 0; level < levels; level++) {
    const next: World[] = [];
    for (const world of frontier) {
      for (const step of expander.expand(world).steps) {
        met.push({ parent: world, step });
        next.push(step.world);
      }
    }
    frontier = next.slice(0, 400);
  }
  return met;
}

describe('Expander: hashing a successor from its parent', () => {
  it.each(['two-external-snapshots', 'qed-timer-without-hook', 'backup-and-snapshot-over-nbd'])(
    'should give every successor the hash a whole-world digest gives it: %s',
    (name) => {
      const topology = libraryTopology(name);
      const expander = new Expander(topology);
      const met = successors(expander, 30);
      expect(met.length).toBeGreaterThan(1000);
      // A copy of the world is a new object: its digest is computed afresh, from no parent.
      for (const { step } of met) expect(step.worldHash).toBe(expander.engine.digest({ ...step.world }, step.world.time.realtime >= timeHorizonOf(topology)));
    },
  );
});

describe('Expander: footprints', () => {
  it('should name as sends every other actor’s mailbox that received a message, and no mailbox that did not', () => {
    const expander = new Expander(libraryTopology('two-external-snapshots'));
    const names = expander.engine.actorNames;
    const received = (parent: World, world: World, name: string) => mailboxOf(world, name).some((e) => !mailboxOf(parent, name).includes(e));
    let sends = 0;
    for (const { parent, step } of successors(expander, 25)) {
      const others = names.flatMap((name, i) => (i !== step.footprint.actor && received(parent, step.world, name) ? [i] : []));
      expect(step.footprint.sends.filter((i) => i !== step.footprint.actor)).toEqual(others);
      sends += others.length;
    }
    expect(sends).toBeGreaterThan(1000);
  });

  it('should give a step the same identity wherever it is enabled, and leave out the steps asleep', () => {
    const expander = new Expander(libraryTopology('drained-section-dataplane'));
    const { steps } = expander.expand(expander.engine.initial);
    expect(new Set(steps.map((s) => s.identity)).size).toBe(steps.length);
    const asleep = [{ identity: steps[0].identity }];
    const rest = expander.expand(expander.engine.initial, asleep).steps;
    expect(rest.map((s) => s.identity)).toEqual(steps.slice(1).map((s) => s.identity));
    expect(rest.map((s) => s.index)).toEqual(steps.slice(1).map((s) => s.index));
  });
});
