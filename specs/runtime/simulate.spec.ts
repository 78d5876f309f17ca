import { describe, expect, it } from 'vitest';
import { timer, map } from 'rxjs';
import { createActor, createMachine } from 'xstate';
import { libraryTopology } from '../helpers/library.ts';

const guestWritesDuringDrainedSection = () => libraryTopology('drained-section-dataplane');
import { simulate, startSimulation } from '../../runtime/simulate.ts';
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

describe('startSimulation: a run taken a slice at a time', () => {
  it.each([1, 7, 100])('should give the same trace and replay path as a whole run, in slices of %i', (slice) => {
    const topology = libraryTopology('two-external-snapshots-without-drains');
    const whole = simulate(topology, { seed: 3, strategy: 'random', collectTrace: true });
    const sliced = startSimulation(topology, { seed: 3, strategy: 'random', collectTrace: true });
    let slices = 0;
    while (!sliced.advance(slice)) slices++;
    const result = sliced.finish();
    expect(slices).toBeGreaterThan(0);
    expect(result.trace).toEqual(whole.trace);
    expect(result.replayPath).toBe(whole.replayPath);
    expect(result.violations.map((v) => [v.invariant, v.step])).toEqual(whole.violations.map((v) => [v.invariant, v.step]));
  });

  it('should stop at maxSteps across slices', () => {
    const sliced = startSimulation(guestWritesDuringDrainedSection(), { maxSteps: 10 });
    while (!sliced.advance(3));
    const result = sliced.finish();
    expect(result.steps).toBe(10);
    expect(result.endReason).toBe('max-steps');
  });
});
