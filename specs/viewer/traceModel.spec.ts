import { describe, expect, it } from 'vitest';
import { resolveScenario } from '../../runtime/cli/scenarioCommands.ts';
import { runScenario } from '../../runtime/scenario/runScenario.ts';
import type { TraceLine } from '../../runtime/trace/TraceFile.ts';
import { traceFileLines } from '../../runtime/trace/TraceFileWriter.ts';
import { activePaths, annotatePhases, lastAtOrBefore, parseTrace, TraceModel } from '../../viewer/src/traceModel.ts';

/** A library scenario's trace file, as the lines `drainlab run --trace` writes. */
function traceOf(name: string): TraceLine[] {
  const scenario = resolveScenario(name);
  const lines: TraceLine[] = [];
  const file = traceFileLines(scenario, { seed: scenario.seed, strategy: scenario.strategy, source: 'run' }, (l) => lines.push(l));
  const run = runScenario(scenario, { sinks: [file.event], onViolation: file.violation });
  file.end(run);
  return lines;
}

const ndjson = (lines: TraceLine[]) => lines.map((l) => JSON.stringify(l)).join('\n') + '\n';
const withoutDrains = traceOf('two-external-snapshots-without-drains');
const withSeries = traceOf('two-external-snapshots');

describe('parsing a trace file', () => {
  it('reads the meta line: scenario, seed and the protections switched off', () => {
    const model = parseTrace(ndjson(withoutDrains));
    expect(model.meta?.scenario).toBe('two-external-snapshots-without-drains');
    expect(model.meta?.protections.transactionDrains).toBe(false);
  });

  it('knows every actor with its kind and machine, and every machine statechart', () => {
    const model = parseTrace(ndjson(withoutDrains));
    const node = model.actorByName.get('node:drive0');
    expect(node).toMatchObject({ kind: 'block-node', machine: 'blockNode', group: 'nodes' });
    for (const actor of model.actors) expect(model.machines.has(actor.machine)).toBe(true);
  });

  it('takes the last step from the end line', () => {
    const model = parseTrace(ndjson(withoutDrains));
    const end = withoutDrains.find((l) => l.type === '@trace.end') as { steps: number };
    expect(model.lastStep).toBe(end.steps);
  });

  it('gives the same model whether lines come as one text or one by one', () => {
    const whole = parseTrace(ndjson(withSeries));
    const live = new TraceModel();
    for (const line of withSeries) live.add(line);
    expect(live.steps).toEqual(whole.steps);
    expect(live.stateAt('node:drive0', 200)).toBe(whole.stateAt('node:drive0', 200));
  });
});

describe('lookups at a step', () => {
  it('finds the last entry at or before a value by binary search', () => {
    expect(lastAtOrBefore([0, 3, 7, 7, 10], 8)).toBe(3);
    expect(lastAtOrBefore([0, 3, 7], -1)).toBe(-1);
    expect(lastAtOrBefore([0, 3, 7], 100)).toBe(2);
  });

  it('gives an actor the state value of the last @trace.state at or before the step', () => {
    const model = parseTrace(ndjson(withSeries));
    const drainBegin = withSeries.find((l) => l.type === '@trace.drain' && l.phase === 'begin.returned' && l.node === 'node:drive0') as { step: number };
    expect(model.stateAt('node:drive0', 0)).toBe('running');
    expect(model.stateAt('node:drive0', drainBegin.step)).toBe('drained');
  });

  it('gives a counter its value at the step, and nothing before its first change', () => {
    const model = parseTrace(ndjson(withSeries));
    const first = withSeries.find((l) => l.type === '@trace.counter' && l.actor === 'ctx:iothread0' && l.counter === 'externalDisableCount') as { step: number; value: number };
    expect(model.counterAt('ctx:iothread0', 'externalDisableCount', first.step - 1)).toBeUndefined();
    expect(model.counterAt('ctx:iothread0', 'externalDisableCount', first.step)).toBe(first.value);
  });

  it('lights every leaf of a state value, their ancestors and the root', () => {
    expect([...activePaths('external.enabled|loop.idle')].sort()).toEqual(['', 'external', 'external.enabled', 'loop', 'loop.idle']);
  });

  it('jumps to the next and previous step with an event of a kind', () => {
    const model = parseTrace(ndjson(withoutDrains));
    const v = model.violations[0];
    expect(model.nextOf('violation', 0)).toBe(v.step);
    expect(model.prevOf('violation', v.step)).toBeUndefined();
    const submits = withoutDrains.filter((l) => l.type === '@trace.io.submit').map((l) => (l as { step: number }).step);
    expect(model.nextOf('submit', submits[0])).toBe(submits.find((s) => s > submits[0]));
  });

  it('lists the events of one step in file order', () => {
    const model = parseTrace(ndjson(withoutDrains));
    const submit = withoutDrains.find((l) => l.type === '@trace.io.submit') as { step: number };
    const events = model.eventsAt(submit.step);
    expect(events.length).toBeGreaterThan(0);
    expect(events.every((e) => e.step === submit.step)).toBe(true);
  });
});

describe('drained sections and phases', () => {
  it('bands a node from drained begin to the end that brings it back to zero', () => {
    const model = parseTrace(ndjson(withSeries));
    const band = model.bands().find((b) => b.actor === 'node:drive0' && b.kind === 'drained');
    const begin = withSeries.find((l) => l.type === '@trace.drain' && l.phase === 'begin' && l.node === 'node:drive0') as { step: number };
    const end = withSeries.find((l) => l.type === '@trace.drain' && l.phase === 'end' && l.node === 'node:drive0') as { step: number };
    expect(band).toMatchObject({ start: begin.step, end: end.step });
  });

  it('bands a context while externalDisableCount is above zero', () => {
    const model = parseTrace(ndjson(withSeries));
    const bands = model.bands().filter((b) => b.actor === 'ctx:iothread0');
    expect(bands).toHaveLength(1);
    expect(bands[0].kind).toBe('external-disabled');
    expect(bands[0].end).not.toBeNull();
  });

  it('has no drained band on a run without the drains', () => {
    const model = parseTrace(ndjson(withoutDrains));
    expect(model.bands().filter((b) => b.kind === 'drained')).toEqual([]);
  });

  it('annotates events with the transaction phase open in line order, "-" outside', () => {
    const model = parseTrace(ndjson(withoutDrains));
    const phases = annotatePhases(model.events);
    const wx = model.events.findIndex((e) => e.type === '@trace.io.submit' && e.id === 'Wx');
    expect(phases[wx]).toBe('commit 0');
    expect(phases[0]).toBe('-');
  });

  it('pairs @trace.txn start and ok into spans', () => {
    const model = parseTrace(ndjson(withoutDrains));
    const commit0 = model.phases().find((p) => p.label === 'commit 0');
    expect(commit0?.result).toBe('ok');
    expect(commit0!.end!).toBeGreaterThan(commit0!.start);
  });
});
