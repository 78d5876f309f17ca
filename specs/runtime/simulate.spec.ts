import { describe, expect, it } from 'vitest';
import { timer, map } from 'rxjs';
import { createActor, createMachine } from 'xstate';
import { libraryTopology } from '../helpers/library.ts';

const guestWritesDuringDrainedSection = () => libraryTopology('drained-section-dataplane');
import { simulate } from '../../runtime/simulate.ts';
import { VirtualClock } from '../../runtime/scheduler/VirtualClock.ts';

describe('simulate: one clock for the model, XState and RxJS', () => {
  it('should fire an RxJS timer and an XState delay at the simulated instants', () => {
    const clock = new VirtualClock();
    const seen: string[] = [];
    timer(2, clock).pipe(map(() => `rxjs timer at ${clock.now()}ms`)).subscribe((line) => seen.push(line));
    const watcher = createActor(createMachine({ initial: 'waiting', states: { waiting: { after: { 1: 'fired' } }, fired: {} } }), { clock });
    watcher.subscribe((s) => seen.push(`xstate ${String(s.value)} at ${clock.now()}ms`));
    watcher.start();
    const result = simulate(guestWritesDuringDrainedSection(), { clock });
    expect(result.unfinished).toEqual([]);
    expect(seen).toEqual(['xstate waiting at 0ms', 'xstate fired at 1ms', 'rxjs timer at 2ms']);
    expect(clock.nowNs()).toBe(result.world.time.realtime);
  });
});

describe('simulate: the end of a run', () => {
  it('should say the run was cut short when maxSteps ends it', () => {
    const result = simulate(guestWritesDuringDrainedSection(), { maxSteps: 10 });
    expect(result.endReason).toBe('max-steps');
    expect(result.unfinished[0]).toBe('stopped after 10 steps (maxSteps) before the model went quiet');
  });

  it('should list the requests a run never completed', () => {
    const topology = guestWritesDuringDrainedSection();
    // A drained section that never ends keeps W2 and W3 out forever.
    const neverEnds = { ...topology, script: topology.script!.slice(0, 1) };
    const result = simulate(neverEnds);
    expect(result.endReason).toBe('quiescent');
    expect(result.unfinished).toEqual(['client:vblk0: W2, W3 never completed']);
    expect(result.violations).toEqual([]);
  });
});
