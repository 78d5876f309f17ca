import { describe, expect, it } from 'vitest';
import { InvariantChecker } from '../../../runtime/invariants/InvariantChecker.ts';
import type { TraceEvent } from '../../../runtime/trace/TraceEvent.ts';

const model = {
  nodeContext: { 'node:d0': 'ctx:io', 'node:d1': 'ctx:io', 'node:d0-file': 'ctx:io' },
  nodeChildren: { 'node:d0': ['node:d0-file'] },
};

/** A timeline as data: [actor, type, fields], one step each. */
type Row = [string, TraceEvent['type'], Record<string, unknown>];

function check(rows: Row[], finish = true): string[] {
  const checker = new InvariantChecker(model);
  rows.forEach(([actor, type, fields], i) => checker.observe({ step: i + 1, time: 0, vtime: 0, actor, type, ...fields } as TraceEvent));
  if (finish) checker.finish();
  return checker.violations.map((v) => `${v.invariant}@${v.step}`);
}

const begin = (node: string, quiesce: number): Row[] => [
  [node, '@trace.drain', { phase: 'begin', node, quiesce }],
  [node, '@trace.counter', { counter: 'quiesceCounter', value: quiesce }],
];
const end = (node: string, quiesce: number): Row[] => [
  [node, '@trace.drain', { phase: 'end', node, quiesce }],
  [node, '@trace.counter', { counter: 'quiesceCounter', value: quiesce }],
];
const count = (value: number): Row => ['ctx:io', '@trace.counter', { counter: 'externalDisableCount', value }];
const ready = (handler = 'h'): Row => ['ctx:io', '@trace.ready', { handler, external: true }];
const dispatch = (handler = 'h'): Row => ['ctx:io', '@trace.dispatch', { kind: 'handler', id: handler, owner: 'client:c', external: true, thread: 'io' }];
const submit = (id: string, node = 'node:d0'): Row => [node, '@trace.io.submit', { node, id, origin: 'external-virtio', op: 'write', via: 'client:c' }];
const complete = (id: string, node = 'node:d0'): Row => [node, '@trace.io.complete', { node, id, origin: 'external-virtio' }];

describe('I1 gating', () => {
  it('should hold when external handlers run only at count 0', () => {
    expect(check([ready(), dispatch(), ...begin('node:d0', 1), count(1), ...end('node:d0', 0), count(0)])).toEqual([]);
  });
  it('should break when an external handler runs at count 1', () => {
    expect(check([...begin('node:d0', 1), count(1), ready(), dispatch()], false)).toContain('I1@5');
  });
});

describe('I2 counter sanity', () => {
  it('should hold when each quiesce 0->1 is followed by one disable and each 1->0 by one enable', () => {
    expect(check([...begin('node:d0', 1), count(1), ...begin('node:d0', 2), ...end('node:d0', 1), ...end('node:d0', 0), count(0)])).toEqual([]);
  });
  it('should break on a disable no quiesce transition asked for', () => {
    expect(check([count(1)], false)).toEqual(['I2@1']);
  });
  it('should break when a quiesce transition never reaches the context', () => {
    expect(check([...begin('node:d0', 1)])).toEqual(['I2@2']);
  });
  it('should break on an unmatched drained_end reported by a node', () => {
    expect(check([['node:d0', '@trace.error', { message: 'Cannot end drain on node:d0: not drained (quiesceCounter=0)' }]])).toEqual(['I2@1']);
  });
});

describe('I3 nesting', () => {
  it('should hold for two nodes of one context with overlapping sections', () => {
    expect(check([...begin('node:d0', 1), count(1), ...begin('node:d1', 1), count(2), ...end('node:d0', 0), count(1), ...end('node:d1', 0), count(0)])).toEqual([]);
  });
  it('should break when the context is re-enabled while a node is still quiesced', () => {
    expect(check([...begin('node:d0', 1), count(1), ...begin('node:d1', 1), count(2), ...end('node:d0', 0), count(1), count(0)], false)).toContain('I3@10');
  });
  it('should break when the reported quiesce disagrees with begins minus ends', () => {
    expect(check([...begin('node:d0', 1), count(1), ['node:d0', '@trace.drain', { phase: 'begin', node: 'node:d0', quiesce: 1 }]], false)).toContain('I3@4');
  });
});

describe('I4 quiescence', () => {
  const inFlight = (node: string, value: number): Row => [node, '@trace.counter', { counter: 'inFlight', value }];
  const returned: Row = ['node:d0', '@trace.drain', { phase: 'begin.returned', node: 'node:d0', quiesce: 1 }];
  it('should hold when the node and its children are idle when drained_begin returns', () => {
    expect(check([inFlight('node:d0', 1), inFlight('node:d0-file', 1), ...begin('node:d0', 1), count(1), inFlight('node:d0-file', 0), inFlight('node:d0', 0), returned])).toEqual([]);
  });
  it('should break when a child still has a request in flight', () => {
    expect(check([inFlight('node:d0-file', 1), ...begin('node:d0', 1), count(1), returned], false)).toEqual(['I4@5']);
  });
});

describe('I5 no external admission inside a section', () => {
  it('should hold for submits before the begin and after the end', () => {
    expect(check([submit('W1'), complete('W1'), ...begin('node:d0', 1), count(1), ...end('node:d0', 0), count(0), submit('W2'), complete('W2')])).toEqual([]);
  });
  it('should break for an external submit between begin and end', () => {
    expect(check([...begin('node:d0', 1), count(1), submit('W1'), complete('W1'), ...end('node:d0', 0), count(0)])).toEqual(['I5@4']);
  });
  it('should not count a submit on another node of the context', () => {
    expect(check([...begin('node:d0', 1), count(1), submit('W1', 'node:d1'), complete('W1', 'node:d1'), ...end('node:d0', 0), count(0)])).toEqual([]);
  });
});

describe('I7 deferral', () => {
  it('should hold when a handler ready while disabled runs after the last enable', () => {
    expect(check([...begin('node:d0', 1), count(1), ready(), ...end('node:d0', 0), count(0), dispatch()])).toEqual([]);
  });
  it('should break when it runs early', () => {
    expect(check([...begin('node:d0', 1), count(1), ready(), dispatch()], false)).toEqual(['I1@5', 'I7@5']);
  });
  it('should break when it is never run after the last enable', () => {
    expect(check([...begin('node:d0', 1), count(1), ready(), ...end('node:d0', 0), count(0)])).toEqual(['I7@7']);
  });
});

describe('conservation', () => {
  it('should hold when every request completes once', () => {
    expect(check([submit('W1'), submit('W2'), complete('W2'), complete('W1')])).toEqual([]);
  });
  it('should break on a duplicate submit, a double completion and a lost request', () => {
    expect(check([submit('W1'), submit('W1'), complete('W1'), complete('W1'), submit('W3')])).toEqual(['conservation@2', 'conservation@4', 'conservation@5']);
  });
  it("should break when a guest request's id is submitted again after it completed", () => {
    expect(check([submit('W1'), complete('W1'), submit('W1'), complete('W1')])).toEqual(['conservation@3']);
  });
  it("should take a driver's background request again once it completed, and break on it while it is open", () => {
    const timerIo = (type: '@trace.io.submit' | '@trace.io.complete'): Row => ['node:d0', type, { node: 'node:d0', id: 'node:d0/need-check/flush', origin: 'driver-timer', op: 'flush', via: 'node:d0' }];
    expect(check([timerIo('@trace.io.submit'), timerIo('@trace.io.complete'), timerIo('@trace.io.submit'), timerIo('@trace.io.complete')])).toEqual([]);
    expect(check([timerIo('@trace.io.submit'), timerIo('@trace.io.submit'), timerIo('@trace.io.complete')])).toEqual(['conservation@2']);
  });
});

describe('checkInvariants: the monitors as an RxJS operator', () => {
  it('should emit each violation as the trace stream reveals it, and the end-of-run ones on complete', async () => {
    const { Subject } = await import('rxjs');
    const { checkInvariants } = await import('../../../runtime/invariants/InvariantChecker.ts');
    const trace$ = new Subject<TraceEvent>();
    const seen: string[] = [];
    let completed = false;
    trace$.pipe(checkInvariants(model)).subscribe({ next: (v) => seen.push(`${v.invariant}@${v.step}`), complete: () => (completed = true) });
    const rows: Row[] = [...begin('node:d0', 1), count(1), ready(), dispatch(), ['node:d0', '@trace.io.submit', { node: 'node:d0', id: 'W9', origin: 'external-virtio', op: 'write', via: 'client:c' }]];
    rows.forEach(([actor, type, fields], i) => trace$.next({ step: i + 1, time: 0, vtime: 0, actor, type, ...fields } as TraceEvent));
    expect(seen).toEqual(['I1@5', 'I7@5', 'I5@6']);
    trace$.complete();
    expect(seen).toEqual(['I1@5', 'I7@5', 'I5@6', 'conservation@6']);
    expect(completed).toBe(true);
  });
});

describe('the now-era readings', () => {
  const now = { ...model, era: 'now' as const };
  function checkNow(rows: Row[], finish = true): string[] {
    const checker = new InvariantChecker(now);
    rows.forEach(([actor, type, fields], i) => checker.observe({ step: i + 1, time: 0, vtime: 0, actor, type, ...fields } as TraceEvent));
    if (finish) checker.finish();
    return checker.violations.map((v) => `${v.invariant}@${v.step}`);
  }
  const blk = (phase: string, quiesce: number, extra: Record<string, unknown> = {}): Row[] => [
    ['client:c', '@trace.blk', { phase, node: 'node:d0', quiesce, ...extra }],
    ...(phase === 'quiesce' || phase === 'resume' ? [['client:c', '@trace.counter', { counter: 'blkQuiesce', value: quiesce }] as Row] : []),
  ];

  it('should hold a section in which the device stays detached and no context counter moves (I1, I2, I3)', () => {
    expect(checkNow([ready(), dispatch(), ...begin('node:d0', 1), ...blk('quiesce', 1), ...end('node:d0', 0), ...blk('resume', 0), ready(), dispatch()])).toEqual([]);
  });
  it('should break I1 when a device runs while its BlockBackend is quiesced', () => {
    expect(checkNow([...begin('node:d0', 1), ...blk('quiesce', 1), ready(), dispatch()], false)).toContain('I1@6');
  });
  it('should break I3 when a BlockBackend resumes while its node is still drained', () => {
    expect(checkNow([...begin('node:d0', 1), ...blk('quiesce', 1), ...blk('resume', 0)], false)).toContain('I3@5');
  });
  it('should not break I3 when the BlockBackend was detached from the drained node', () => {
    expect(checkNow([...begin('node:d0', 1), ...blk('quiesce', 1), ...blk('resume', 0, { detached: true })], false)).toEqual([]);
  });
  it('should count a parent quiesce in I3 (begins minus ends)', () => {
    expect(checkNow([['node:d0', '@trace.drain', { phase: 'parent.begin', node: 'node:d0', quiesce: 1 }], ...begin('node:d0', 2), ...end('node:d0', 1)], false)).toEqual([]);
  });
  it('should break I5 for a request admitted into a node quiesced as a parent', () => {
    expect(checkNow([['node:d0', '@trace.drain', { phase: 'parent.begin', node: 'node:d0', quiesce: 1 }], submit('W1')], false)).toContain('I5@2');
  });
  it('should break I7 when a request queued in a BlockBackend is never restarted', () => {
    expect(checkNow([...begin('node:d0', 1), ...blk('quiesce', 1), ...blk('queued', 1, { id: 'W1' }), ...end('node:d0', 0), ...blk('resume', 0)])).toContain('I7@9');
  });
  it('should hold I7 when the queued request restarts after the BlockBackend resumed', () => {
    expect(checkNow([...begin('node:d0', 1), ...blk('quiesce', 1), ...blk('queued', 1, { id: 'W1' }), ...end('node:d0', 0), ...blk('resume', 0), ...blk('restarted', 0, { id: 'W1' }), submit('W1'), complete('W1')])).toEqual([]);
  });
});
