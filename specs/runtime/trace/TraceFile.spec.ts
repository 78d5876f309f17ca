import { describe, expect, it } from 'vitest';
import { aioContextMachine } from '../../../machines/aioContextMachine.ts';
import { blockNodeMachine } from '../../../machines/blockNodeMachine.ts';
import { resolveScenario } from '../../../runtime/cli/scenarioCommands.ts';
import { runScenario } from '../../../runtime/scenario/runScenario.ts';
import { describeMachine, type StatechartNode, type TraceLine } from '../../../runtime/trace/TraceFile.ts';
import { traceFileLines } from '../../../runtime/trace/TraceFileWriter.ts';

function child(node: StatechartNode, key: string): StatechartNode {
  const found = node.children.find((c) => c.key === key);
  if (!found) throw new Error(`${node.path || node.key} has no child ${key}`);
  return found;
}

function traceFileOf(name: string, seed?: number): TraceLine[] {
  const scenario = resolveScenario(name);
  const lines: TraceLine[] = [];
  const file = traceFileLines(scenario, { seed: seed ?? scenario.seed, strategy: scenario.strategy, source: 'run' }, (l) => lines.push(l));
  const run = runScenario(scenario, { seed, sinks: [file.event], onViolation: file.violation });
  file.end(run);
  return lines;
}

describe('describeMachine: a statechart from the machine its own state nodes', () => {
  it("should give the block node's running, draining and drained states with drain.begin into draining", () => {
    const root = describeMachine(blockNodeMachine);
    expect(root.children.map((c) => c.key)).toEqual(['running', 'draining', 'drained']);
    expect(root.initial).toBe('running');
    const begin = child(root, 'running').transitions.find((t) => t.event === 'drain.begin');
    expect(begin).toMatchObject({ targets: ['draining'], actions: ['applyEvent'] });
  });

  it('should keep eventless transitions with their guards', () => {
    const draining = child(describeMachine(blockNodeMachine), 'draining');
    expect(draining.transitions.filter((t) => t.event === '')).toEqual([
      { event: '', guard: 'isQuiesced', targets: ['drained'], actions: [] },
      { event: '', guard: 'isRunning', targets: ['running'], actions: [] },
    ]);
  });

  it("should give the context's parallel regions with their paths", () => {
    const root = describeMachine(aioContextMachine);
    expect(root.type).toBe('parallel');
    const external = child(root, 'external');
    expect(external.children.map((c) => c.path)).toEqual(['external.enabled', 'external.disabled']);
    expect(external.initial).toBe('enabled');
  });

  it("should carry the machines' descriptions, which cite QEMU", () => {
    expect(describeMachine(blockNodeMachine).description).toContain('block/io.c');
  });
});

describe('trace files', () => {
  it('should start with the meta line, each machine once, then each actor', () => {
    const lines = traceFileOf('two-external-snapshots');
    expect(lines[0]).toMatchObject({ type: '@trace.meta', format: 'drainlab.trace/1', scenario: 'two-external-snapshots', source: 'run' });
    const machines = lines.filter((l) => l.type === '@trace.machine').map((l) => (l as { machine: string }).machine);
    expect(new Set(machines).size).toBe(machines.length);
    expect(machines).toContain('blockNode');
    const actors = lines.filter((l) => l.type === '@trace.actor').map((l) => (l as { actor: string }).actor);
    expect(actors).toContain('node:drive0');
    expect(actors).toContain('ctx:iothread0');
    const firstEvent = lines.findIndex((l) => !['@trace.meta', '@trace.machine', '@trace.actor'].includes(l.type));
    expect(lines.slice(firstEvent).some((l) => ['@trace.meta', '@trace.machine', '@trace.actor'].includes(l.type))).toBe(false);
  });

  it('should write each violation right after the event of its step', () => {
    const lines = traceFileOf('drained-section-without-gating');
    const at = lines.findIndex((l) => l.type === '@trace.violation');
    expect(at).toBeGreaterThan(0);
    const violation = lines[at] as { step: number; invariant: string };
    expect(violation.invariant).toBe('I1');
    expect((lines[at - 1] as { step: number }).step).toBe(violation.step);
  });

  it('should end with the images and the end line', () => {
    const lines = traceFileOf('two-external-snapshots-without-drains');
    const images = lines.filter((l) => l.type === '@trace.image');
    expect(images.map((i) => (i as { holds: string[] }).holds)).toEqual([[], ['Wy']]);
    expect(lines.at(-1)).toMatchObject({ type: '@trace.end', endReason: 'quiescent', met: true });
  });

  it('should be the same bytes for the same scenario and seed', () => {
    const text = (lines: TraceLine[]) => lines.map((l) => JSON.stringify(l)).join('\n');
    expect(text(traceFileOf('two-external-snapshots-without-drains', 5))).toBe(text(traceFileOf('two-external-snapshots-without-drains', 5)));
  });
});

describe('describeMachine: regions that mirror the context', () => {
  it("should sum up the transaction action's phase region by its guard instead of listing every pair", async () => {
    const { transactionActionMachine } = await import('../../../machines/transactionActionMachine.ts');
    const phase = child(describeMachine(transactionActionMachine), 'phase');
    expect(phase.selectedBy).toBe('isPhaseState');
    expect(phase.children.every((c) => c.transitions.every((t) => t.event !== ''))).toBe(true);
  });

  it('should keep the guarded transitions of a region that is not a mirror', () => {
    const root = describeMachine(blockNodeMachine);
    expect(root.selectedBy).toBeUndefined();
    expect(child(root, 'drained').transitions.some((t) => t.guard === 'isDraining')).toBe(true);
  });
});
