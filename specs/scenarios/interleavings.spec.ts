import { describe, expect, it } from 'vitest';
import type { Protections, Topology } from '../../actors/topology.ts';
import { libraryTopology } from '../helpers/library.ts';

const twoExternalSnapshots = (p: Partial<Protections> = {}) => libraryTopology('two-external-snapshots', p);
const backupPlusSnapshotOverNbd = (p: Partial<Protections> = {}) => libraryTopology('backup-and-snapshot-over-nbd', p);
const twoInternalSnapshots = (p: Partial<Protections> = {}) => libraryTopology('two-internal-snapshots', p);
const qedTimerInsideSection = (p: Partial<Protections> = {}) => libraryTopology('qed-timer-with-hook', p);
const qedResidualGap = (p: Partial<Protections> = {}) => libraryTopology('qed-residual-gap', p);
import { simulate } from '../../runtime/simulate.ts';

type Scenario = (protections?: Partial<Protections>) => Topology;

const interleavings: [string, Scenario, Partial<Protections>, string][] = [
  ['3.1 two external snapshots on one IOThread', twoExternalSnapshots, { transactionDrains: false }, 'I10'],
  ['3.2 drive-backup + external snapshot over NBD', backupPlusSnapshotOverNbd, { transactionDrains: false }, 'I10'],
  ['3.3 two internal snapshots', twoInternalSnapshots, { transactionDrains: false }, 'I10'],
  ['3.4 qed need-check timer inside the section', qedTimerInsideSection, { qedDrainHook: false }, 'I6'],
];

function firstViolatingSeed(scenario: Scenario, protections: Partial<Protections>, invariant: string, seeds = 200): number | null {
  for (let seed = 0; seed < seeds; seed++) {
    const result = simulate(scenario(protections), { seed, strategy: 'random' });
    if (result.violations.some((v) => v.invariant === invariant)) return seed;
  }
  return null;
}

describe('the four interleavings of docs/patches 7-10 with the series', () => {
  it.each(interleavings)('should hold every invariant in %s for 200 seeds', (_name, scenario) => {
    const broken: string[] = [];
    for (let seed = 0; seed < 200; seed++) {
      const result = simulate(scenario(), { seed, strategy: 'random' });
      for (const v of result.violations) broken.push(`seed ${seed}: ${v.invariant} at step ${v.step}: ${v.message}`);
      for (const u of result.unfinished) broken.push(`seed ${seed}: ${u}`);
      for (const e of result.errors) broken.push(`seed ${seed}: error ${e.message}`);
    }
    expect(broken).toEqual([]);
  });
});

describe('the four interleavings of docs/patches 7-10 with the matching protection off', () => {
  // The seed each interleaving breaks at (random strategy): named so a reader can replay it.
  it.each(interleavings)('should break in %s (seed 0 shows it)', (_name, scenario, protections, invariant) => {
    expect(firstViolatingSeed(scenario, protections, invariant)).toBe(0);
    const result = simulate(scenario(protections), { seed: 0, strategy: 'random' });
    const violation = result.violations.find((v) => v.invariant === invariant)!;
    expect(violation.explanation.length).toBeGreaterThan(100);
    expect(result.unfinished).toEqual([]);
  });

  it('should show the 3.1 cut exactly: Wx in overlay0 after append(0), Wy in drive1’s base before append(1)', () => {
    const result = simulate(twoExternalSnapshots({ transactionDrains: false }), { collectTrace: true });
    const trace = result.trace!;
    const pit = (i: number) => trace.find((e) => e.type === '@trace.pit' && e.index === i)!.step;
    const write = (id: string) => trace.find((e) => e.type === '@trace.io.submit' && e.id === id && e.via.startsWith('client:'));
    expect(write('Wx')).toMatchObject({ node: 'node:overlay0' });
    expect(write('Wy')).toMatchObject({ node: 'node:drive1' });
    expect(write('Wx')!.step).toBeGreaterThan(pit(0));
    expect(write('Wy')!.step).toBeLessThan(pit(1));
    expect(result.violations.map((v) => v.invariant)).toEqual(['I10']);
  });

  it('should admit external requests inside the section when only external gating is off (I1, I5)', () => {
    const found = new Set(simulate(twoExternalSnapshots({ externalGating: false })).violations.map((v) => v.invariant));
    expect(found.has('I1')).toBe(true);
    expect(found.has('I5')).toBe(true);
  });
});

describe('3.4 with the drain hook', () => {
  it('should run qed’s check-clear work while drained_begin waits, so none is left for the section', () => {
    const result = simulate(qedTimerInsideSection(), { collectTrace: true });
    const trace = result.trace!;
    const returned = trace.find((e) => e.type === '@trace.drain' && e.phase === 'begin.returned' && e.node === 'node:drive0')!.step;
    const timerIo = trace.filter((e) => e.type === '@trace.io.submit' && e.origin === 'driver-timer' && e.node === 'node:drive0');
    expect(timerIo.map((e) => (e.type === '@trace.io.submit' ? e.op : ''))).toEqual(['flush', 'write', 'flush']);
    for (const e of timerIo) expect(e.step).toBeLessThan(returned);
    expect(result.violations).toEqual([]);
  });
});

describe('the residual gap of docs/patches/12-qed-bdrv-drain.md', () => {
  it('should let a write in flight at drained_begin re-arm qed’s timer, which fires inside the section with every protection on', () => {
    const result = simulate(qedResidualGap(), { collectTrace: true });
    const trace = result.trace!;
    const returned = trace.find((e) => e.type === '@trace.drain' && e.phase === 'begin.returned')!;
    const armed = trace.find((e) => e.type === '@trace.alarm' && e.phase === 'set' && e.id.includes('qed-need-check'))!;
    expect(armed.step).toBeLessThan(returned.step);
    expect(result.violations.map((v) => `${v.invariant} at ${v.time / 1e6} ms`)).toEqual(['I6 at 5002 ms', 'I6 at 5002.5 ms', 'I6 at 5003.5 ms']);
    // The hook's own invariant holds: the timer was not pending when the drain began.
    expect(result.violations.some((v) => v.invariant === 'I4')).toBe(false);
  });
});

describe('image contents at each point in time', () => {
  const images = (protections: Partial<Protections>) =>
    simulate(twoExternalSnapshots(protections)).images.map((i) => `${i.kind} of ${i.node}: [${i.holds.join(', ')}]`);

  it('should leave both writes out of both snapshots with the series', () => {
    expect(images({})).toEqual(['external-snapshot of node:drive0: []', 'external-snapshot of node:drive1: []']);
  });

  it('should put Wy in drive1’s snapshot and Wx in neither without the drains', () => {
    expect(images({ transactionDrains: false })).toEqual(['external-snapshot of node:drive0: []', 'external-snapshot of node:drive1: [Wy]']);
  });

  it('should put a backup’s earlier writes in it and later ones not', () => {
    const result = simulate(backupPlusSnapshotOverNbd({ transactionDrains: false }));
    expect(result.images.map((i) => `${i.kind} of ${i.node}: [${i.holds.join(', ')}]`)).toEqual(['backup of node:drive0: []', 'external-snapshot of node:drive1: [Wy]']);
  });
});
