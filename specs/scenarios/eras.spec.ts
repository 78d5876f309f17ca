import { describe, expect, it } from 'vitest';
import { libraryEntries, resolveScenario } from '../../runtime/cli/scenarioCommands.ts';
import { runScenario } from '../../runtime/scenario/runScenario.ts';
import type { TraceEvent } from '../../runtime/trace/TraceEvent.ts';

/** The transaction's phases and points in time, in trace order: `prepare 0`, `pit 0`, ... */
function phasesAndPoints(name: string, era: '2015' | 'now'): string[] {
  const run = runScenario(resolveScenario(name, era));
  const trace = (run.result.trace ?? []) as TraceEvent[];
  return trace.flatMap((e) => {
    if (e.type === '@trace.txn' && e.phase !== 'transaction' && e.result === 'start') return [`${e.phase} ${e.index}`];
    if (e.type === '@trace.pit') return [`pit ${e.index}`];
    if (e.type === '@trace.artifact' && e.kind === 'overlay') return [`overlay ${e.op}`];
    return [];
  });
}

describe('the external snapshot in each era', () => {
  it('should append (the point in time) in commit in 2015, first in, first out', () => {
    expect(phasesAndPoints('two-external-snapshots', '2015')).toEqual([
      'prepare 0', 'prepare 1', 'commit 0', 'pit 0', 'overlay created', 'commit 1', 'pit 1', 'overlay created', 'clean 0', 'clean 1',
    ]);
  });
  it('should append in prepare in the now era, and commit and clean last in, first out', () => {
    expect(phasesAndPoints('two-external-snapshots', 'now')).toEqual([
      'prepare 0', 'pit 0', 'overlay created', 'prepare 1', 'pit 1', 'overlay created', 'commit 1', 'commit 0', 'clean 1', 'clean 0',
    ]);
  });
  it('should undo the append in abort in the now era, so the failed transaction leaves no overlay', () => {
    expect(phasesAndPoints('now-era-snapshot-abort', 'now')).toEqual(['prepare 0', 'pit 0', 'overlay created', 'prepare 1', 'abort 1', 'abort 0', 'overlay removed', 'clean 1', 'clean 0']);
  });
  it('should quiesce the overlay through its backing link in the now era: drive0 alone is drained, and abort lets the overlay go', () => {
    const run = runScenario(resolveScenario('now-era-snapshot-abort', 'now'));
    const trace = (run.result.trace ?? []) as TraceEvent[];
    const prepare0 = trace.find((e) => e.type === '@trace.txn' && e.phase === 'prepare' && e.index === 0 && e.result === 'start')!;
    const drains = trace.flatMap((e) =>
      e.step > prepare0.step && e.type === '@trace.drain' && ['begin', 'end', 'parent.begin', 'parent.end'].includes(e.phase) ? [`${e.phase} ${e.node} ${e.quiesce}`] : [],
    );
    expect(drains).toEqual(['begin node:drive0 1', 'parent.begin node:overlay0 1', 'parent.end node:overlay0 0', 'end node:drive0 0']);
    expect(run.met).toBe(true);
  });
});

describe('every library scenario in the other era', () => {
  // Not every expectation carries over (an order of commits, a point in time in commit), but
  // the model must run cleanly in both eras: no internal error, no request lost or duplicated,
  // the phases in the era's order, every section paired.
  const other = (era: string | undefined) => (era === 'now' ? '2015' : 'now');
  it.each(libraryEntries().filter((e) => !e.name.startsWith('reference-')).map((e) => [e.name]))('should run cleanly: %s', (name) => {
    const file = resolveScenario(name);
    const run = runScenario(resolveScenario(name, other(file.topology.era)));
    expect(run.result.errors.map((e) => e.message)).toEqual([]);
    const broken = new Set(run.result.violations.map((v) => v.invariant));
    for (const id of ['conservation', 'I8', 'I9', 'I11', 'I12'] as const) {
      if (!file.expect.violate?.includes(id)) expect(broken.has(id), `${id}: ${run.result.violations.find((v) => v.invariant === id)?.message}`).toBe(false);
    }
  });
});
