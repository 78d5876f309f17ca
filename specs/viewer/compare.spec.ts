import { describe, expect, it } from 'vitest';
import { resolveScenario } from '../../runtime/cli/scenarioCommands.ts';
import { runScenario } from '../../runtime/scenario/runScenario.ts';
import type { TraceLine } from '../../runtime/trace/TraceFile.ts';
import { traceFileLines } from '../../runtime/trace/TraceFileWriter.ts';
import { alignKeyEvents, compareTraces, describeDivergence, diffPairs, firstDivergence, guestWriteSummary, keyEvents, type KeyEvent } from '../../viewer/src/compare.ts';
import { TraceModel } from '../../viewer/src/traceModel.ts';

function modelOf(name: string): TraceModel {
  const scenario = resolveScenario(name);
  const model = new TraceModel();
  const file = traceFileLines(scenario, { seed: scenario.seed, strategy: scenario.strategy, source: 'run' }, (l: TraceLine) => model.add(l));
  const run = runScenario(scenario, { sinks: [file.event], onViolation: file.violation });
  file.end(run);
  return model;
}

const series = modelOf('two-external-snapshots');
const withoutDrains = modelOf('two-external-snapshots-without-drains');

const ev = (key: string, phase = '-'): KeyEvent => ({ step: 0, phase, kind: 'txn', key, text: key });

describe('key events', () => {
  it('annotates the guest write Wx with commit 0 on the run without the drains', () => {
    const wx = keyEvents(withoutDrains).find((e) => e.kind === 'submit' && e.request === 'Wx');
    expect(wx?.phase).toBe('commit 0');
  });

  it('annotates Wx outside any phase on the run with the series', () => {
    const wx = keyEvents(series).find((e) => e.kind === 'submit' && e.request === 'Wx');
    expect(wx?.phase).toBe('-');
  });

  it('keeps only external dispatches', () => {
    const dispatches = keyEvents(withoutDrains).filter((e) => e.kind === 'dispatch');
    expect(dispatches.length).toBeGreaterThan(0);
    expect(dispatches.every((e) => e.external)).toBe(true);
  });

  it('includes the violation after the event that revealed it', () => {
    const list = keyEvents(withoutDrains);
    const v = list.find((e) => e.kind === 'violation');
    expect(v?.invariant).toBe('I10');
    expect(list.indexOf(v!)).toBeGreaterThan(list.findIndex((e) => e.kind === 'pit'));
  });

  it('leaves the phase out of the comparison key', () => {
    const a = keyEvents(series).find((e) => e.request === 'Wx' && e.kind === 'submit')!;
    const b = keyEvents(withoutDrains).find((e) => e.request === 'Wx' && e.kind === 'submit')!;
    expect(a.key).toBe(b.key);
  });
});

describe('alignment', () => {
  it('pairs equal lists one to one', () => {
    expect(diffPairs(['a', 'b', 'c'], ['a', 'b', 'c'])).toEqual([
      [0, 0],
      [1, 1],
      [2, 2],
    ]);
  });

  it('leaves a gap for an event only one side has instead of shifting the rest', () => {
    expect(diffPairs(['a', 'x', 'b', 'c'], ['a', 'b', 'c'])).toEqual([
      [0, 0],
      [1, -1],
      [2, 1],
      [3, 2],
    ]);
  });

  it('finds a shortest alignment when both sides have extras', () => {
    const pairs = diffPairs(['a', 'b', 'c', 'd'], ['b', 'x', 'c', 'd', 'e']);
    expect(pairs.filter(([i, j]) => i >= 0 && j >= 0)).toHaveLength(3);
    expect(pairs).toHaveLength(6);
  });

  it('marks a row divergent when both sides have the event in different phases', () => {
    const rows = alignKeyEvents([ev('s'), ev('w', 'commit 0')], [ev('s'), ev('w', '-')]);
    expect(rows.map((r) => r.same)).toEqual([true, false]);
    expect(firstDivergence(rows)).toBe(1);
  });

  it('reports no divergence for identical runs', () => {
    const c = compareTraces(series, series);
    expect(c.divergence).toBe(-1);
    expect(describeDivergence(c)).toMatch(/same story/);
  });
});

describe('the headline comparison', () => {
  const c = compareTraces(series, withoutDrains);

  it('first differs where the series drains drive0 in prepare 0 and the other run does not', () => {
    const row = c.rows[c.divergence];
    expect(row.a?.text).toMatch(/drained begin drive0/);
    expect(row.a?.phase).toBe('prepare 0');
    expect(row.b).toBeUndefined();
  });

  it('shows Wx submitted inside commit 0 only on the side without the drains', () => {
    const wx = guestWriteSummary(c).find((w) => w.request === 'Wx');
    expect(wx?.a?.phase).toBe('-');
    expect(wx?.b?.phase).toBe('commit 0');
  });

  it('keeps every key event of both sides, each once, in order', () => {
    const a = c.rows.filter((r) => r.a).map((r) => r.a);
    const b = c.rows.filter((r) => r.b).map((r) => r.b);
    expect(a).toEqual(c.a);
    expect(b).toEqual(c.b);
  });
});
