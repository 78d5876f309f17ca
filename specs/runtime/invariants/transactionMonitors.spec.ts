import { describe, expect, it } from 'vitest';
import { InvariantChecker } from '../../../runtime/invariants/InvariantChecker.ts';
import type { TraceEvent } from '../../../runtime/trace/TraceEvent.ts';
import { ConsistentCutMonitor } from '../../../runtime/invariants/transactionMonitors.ts';
import { TraceState } from '../../../runtime/invariants/monitors.ts';
import { canonicalJson } from '../../../runtime/engine/worldHash.ts';

const T = 'txn:1';
const model = {
  nodeContext: { 'node:d0': 'ctx:io', 'node:d1': 'ctx:io' },
  nodeClients: { 'node:d0': ['client:c0'], 'node:d1': ['client:c1'] },
  era: '2015' as const,
  qedDrainHook: true,
};

type Row = [string, TraceEvent['type'], Record<string, unknown>];

function check(rows: Row[], finish = true, era: '2015' | 'now' = '2015'): string[] {
  const checker = new InvariantChecker({ ...model, era });
  rows.forEach(([actor, type, fields], i) => checker.observe({ step: i + 1, time: 0, vtime: 0, actor, type, ...fields } as TraceEvent));
  if (finish) checker.finish();
  return checker.violations.map((v) => `${v.invariant}@${v.step}`);
}

const txn = (phase: string, index: number, result: string, error?: string): Row => [T, '@trace.txn', { txn: T, phase, index, result, ...(error ? { error } : {}) }];
const call = (phase: string, index: number, ok = true): Row[] => [txn(phase, index, 'start'), txn(phase, index, ok ? 'ok' : 'failed')];
const begin = (node: string, q = 1): Row => [node, '@trace.drain', { phase: 'begin', node, quiesce: q }];
const end = (node: string, q = 0): Row => [node, '@trace.drain', { phase: 'end', node, quiesce: q }];
const start = txn('transaction', -1, 'start');
const ok = txn('transaction', -1, 'ok');
const failed = txn('transaction', -1, 'failed', 'boom');

describe('I8 transaction ordering', () => {
  it('should hold for prepare, prepare, commit, commit, clean, clean', () => {
    expect(check([start, ...call('prepare', 0), ...call('prepare', 1), ...call('commit', 0), ...call('commit', 1), ...call('clean', 0), ...call('clean', 1), ok])).toEqual([]);
  });
  it('should break when an action is prepared after a failure', () => {
    expect(check([start, ...call('prepare', 0, false), ...call('prepare', 1)], false)).toContain('I8@4');
  });
  it('should break when a failed transaction commits', () => {
    expect(check([start, ...call('prepare', 0, false), ...call('commit', 0)], false)).toContain('I8@4');
  });
  it('should break when clean comes before every started action was resolved', () => {
    expect(check([start, ...call('prepare', 0), ...call('prepare', 1), ...call('commit', 0), ...call('clean', 0)], false)).toContain('I8@8');
  });
  it('should break when 2015 commits out of request order, and hold for it in the now era', () => {
    const rows = [start, ...call('prepare', 0), ...call('prepare', 1), ...call('commit', 1), ...call('commit', 0), ...call('clean', 1), ...call('clean', 0), ok];
    expect(check(rows)).toEqual(['I8@8', 'I8@12']);
    expect(check(rows, true, 'now')).toEqual([]);
  });
});

describe('I9 pairing', () => {
  it('should hold when the section begun in prepare ends in clean', () => {
    expect(check([start, txn('prepare', 0, 'start'), begin('node:d0'), txn('prepare', 0, 'ok'), ...call('commit', 0), txn('clean', 0, 'start'), end('node:d0'), txn('clean', 0, 'ok'), ok])).toEqual([]);
  });
  it('should break when clean does not end the section prepare began', () => {
    expect(check([start, txn('prepare', 0, 'start'), begin('node:d0'), txn('prepare', 0, 'ok'), ...call('commit', 0), ...call('clean', 0), ok], false)).toContain('I9@9');
  });
});

describe('I10 atomic cut', () => {
  const write = (id: string, node: string, via: string): Row => [node, '@trace.io.submit', { node, id, origin: 'external-virtio', op: 'write', via }];
  const guest = (phase: 'issue' | 'complete', id: string): Row => ['client:x', '@trace.guest', { phase, id, op: 'write' }];
  const pit = (index: number, node: string): Row => [`${T}/action:${index}`, '@trace.pit', { action: `${T}/action:${index}`, index, node, kind: 'internal-snapshot' }];
  const cut = (rows: Row[]) => check(rows, false).filter((v) => v.startsWith('I10'));
  it('should hold when both writes are in their images', () => {
    expect(cut([guest('issue', 'Wx'), write('Wx', 'node:d0', 'client:c0'), guest('complete', 'Wx'), guest('issue', 'Wy'), write('Wy', 'node:d1', 'client:c1'), start, pit(0, 'node:d0'), pit(1, 'node:d1'), ok])).toEqual([]);
  });
  it('should break when the later write is in and the earlier one is not', () => {
    expect(cut([start, pit(0, 'node:d0'), guest('issue', 'Wx'), write('Wx', 'node:d0', 'client:c0'), guest('complete', 'Wx'), guest('issue', 'Wy'), write('Wy', 'node:d1', 'client:c1'), pit(1, 'node:d1'), ok])).toEqual(['I10@9']);
  });

  // Wx completes before Wy is issued (ordered) or both are issued first (unordered).
  const ordered = (nodeX = 'node:d0'): Row[] => [guest('issue', 'Wx'), write('Wx', nodeX, 'client:c0'), guest('complete', 'Wx'), guest('issue', 'Wy'), write('Wy', 'node:d1', 'client:c1'), guest('complete', 'Wy')];
  const unordered = (nodeX = 'node:d0'): Row[] => [guest('issue', 'Wx'), guest('issue', 'Wy'), write('Wx', nodeX, 'client:c0'), write('Wy', 'node:d1', 'client:c1'), guest('complete', 'Wx'), guest('complete', 'Wy')];
  const cutKey = (rows: Row[]): string => {
    const monitor = new ConsistentCutMonitor(model.nodeClients);
    const state = new TraceState(model);
    rows.forEach(([actor, type, fields], i) => monitor.observe({ step: i + 1, time: 0, vtime: 0, actor, type, ...fields } as TraceEvent, state, () => {}));
    return canonicalJson(monitor.key());
  };
  it('should forget the order of writes that reached their nodes before any point in time, which no later image can lack', () => {
    expect(cutKey(ordered())).toBe(cutKey(unordered()));
  });
  it('should keep the order of writes a live point in time lacks, since it decides the cut', () => {
    expect(cutKey([start, pit(0, 'node:d0'), ...ordered()])).not.toBe(cutKey([start, pit(0, 'node:d0'), ...unordered()]));
    expect(cut([start, pit(0, 'node:d0'), ...ordered(), pit(1, 'node:d1'), ok])).toEqual(['I10@10']);
    expect(cut([start, pit(0, 'node:d0'), ...unordered(), pit(1, 'node:d1'), ok])).toEqual([]);
  });
  it('should keep the order of a write that reached a node other than its device’s, which a later image of that device’s node lacks', () => {
    expect(cutKey(ordered('node:o0'))).not.toBe(cutKey(unordered('node:o0')));
    expect(cut([...ordered('node:o0'), start, pit(0, 'node:d0'), pit(1, 'node:d1'), ok])).toEqual(['I10@10']);
  });
});

describe('I11 abort effects and I12 progress', () => {
  const artifact = (op: 'created' | 'removed'): Row => [`${T}/action:0`, '@trace.artifact', { action: `${T}/action:0`, kind: 'job', op }];
  it('should hold when a failed transaction removed what it created', () => {
    expect(check([start, artifact('created'), artifact('removed'), failed])).toEqual([]);
  });
  it('should break when a failed transaction leaves a job behind', () => {
    expect(check([start, artifact('created'), failed])).toEqual(['I11@3']);
  });
  it('should break when a transaction never answers', () => {
    expect(check([start, txn('prepare', 0, 'start')])).toEqual(['I12@2']);
  });
});

describe('I4 with the qed hook', () => {
  const alarm = (phase: 'set' | 'clear' | 'fire'): Row => ['ctx:io', '@trace.alarm', { phase, id: 'ctx:io/timer:qed-need-check:node:d0', clock: 'virtual', deadline: 5e9 }];
  const returned: Row = ['node:d0', '@trace.drain', { phase: 'begin.returned', node: 'node:d0', quiesce: 1 }];
  it('should hold when the hook cancelled the timer pending at begin', () => {
    expect(check([alarm('set'), begin('node:d0'), alarm('clear'), returned], false)).toEqual([]);
  });
  it('should break when the timer pending at begin is still armed when the drain returns', () => {
    expect(check([alarm('set'), begin('node:d0'), returned], false)).toEqual(['I4@3']);
  });
  it('should not blame the hook for a timer re-armed during the drain (the residual gap of docs/patches/12-qed-bdrv-drain.md)', () => {
    expect(check([begin('node:d0'), alarm('set'), returned], false)).toEqual([]);
  });
});

describe('I6 driver-timer I/O', () => {
  it('should break on a driver-timer request inside a section and hold outside it', () => {
    const timerIo: Row = ['node:d0', '@trace.io.submit', { node: 'node:d0', id: 'q', origin: 'driver-timer', op: 'flush', via: 'node:d0' }];
    const done: Row = ['node:d0', '@trace.io.complete', { node: 'node:d0', id: 'q', origin: 'driver-timer' }];
    const returned: Row = ['node:d0', '@trace.drain', { phase: 'begin.returned', node: 'node:d0', quiesce: 1 }];
    expect(check([timerIo, done, begin('node:d0'), returned, end('node:d0')], false).filter((v) => v.startsWith('I6'))).toEqual([]);
    expect(check([begin('node:d0'), returned, timerIo], false).filter((v) => v.startsWith('I6'))).toEqual(['I6@3']);
  });
});
