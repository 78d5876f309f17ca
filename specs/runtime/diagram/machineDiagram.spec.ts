import { describe, expect, it } from 'vitest';
import { aioContextMachine } from '../../../machines/aioContextMachine.ts';
import { blockNodeMachine } from '../../../machines/blockNodeMachine.ts';
import { transactionActionMachine } from '../../../machines/transactionActionMachine.ts';
import { citedQemuNames, labelText, machineDiagram } from '../../../runtime/diagram/machineDiagram.ts';
import { describeMachine } from '../../../runtime/trace/TraceFile.ts';

const diagramOf = (machine: { id: string } & Parameters<typeof describeMachine>[0]) => machineDiagram(machine.id, describeMachine(machine));

describe('machineDiagram', () => {
  it('should open a stateDiagram-v2 with the machine as the outer state', () => {
    const text = diagramOf(blockNodeMachine);
    expect(text.split('\n').slice(0, 2)).toEqual(['stateDiagram-v2', '  state "blockNode" as blockNode {']);
  });

  it('should draw one arrow per target, its events and guards together', () => {
    expect(diagramOf(blockNodeMachine)).toContain('blockNode__running --> blockNode__draining : drain.begin, drain.run, [isDraining]');
  });

  it('should split parallel regions with --', () => {
    const lines = diagramOf(aioContextMachine).split('\n');
    const separator = lines.findIndex((l) => l.trim() === '--');
    expect(lines.slice(0, separator).some((l) => l.includes('as aioContext__external {'))).toBe(true);
    expect(lines.slice(separator).some((l) => l.includes('as aioContext__loop {'))).toBe(true);
  });

  it('should mark the initial state of each region', () => {
    expect(diagramOf(aioContextMachine)).toContain('[*] --> aioContext__external__enabled');
  });

  it('should note the QEMU functions a state cites', () => {
    expect(diagramOf(blockNodeMachine)).toMatch(/note right of blockNode__drained\n {4}QEMU: bdrv_drained_begin, bdrv_drained_end\n {2}end note/);
  });

  it('should sum up a region that mirrors the context instead of drawing every pair', () => {
    const text = diagramOf(transactionActionMachine);
    expect(text).toContain('state picked by isPhaseState from the context');
    expect(text).not.toMatch(/transactionAction__phase__\w+ --> transactionAction__phase__/);
  });

  it('should be the same bytes every time', () => {
    expect(diagramOf(transactionActionMachine)).toBe(diagramOf(transactionActionMachine));
  });
});

describe('labelText', () => {
  it.each([
    ['a;b', 'a,b'],
    ['x{y}', 'x(y)'],
    ['say "hi"', "say 'hi'"],
    ['two\nlines', 'two lines'],
    ['#3', 'no. 3'],
  ])('should make %j safe for a Mermaid label', (raw, safe) => {
    expect(labelText(raw)).toBe(safe);
  });
});

describe('citedQemuNames', () => {
  it('should find functions and source files in a description', () => {
    expect(citedQemuNames('AioContext (util/async.c, util/aio-posix.c): aio_poll, aio_disable_external')).toEqual(['util/async.c', 'util/aio-posix.c', 'aio_poll', 'aio_disable_external']);
  });
});
