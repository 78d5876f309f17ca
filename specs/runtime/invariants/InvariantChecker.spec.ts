import { describe, expect, it } from 'vitest';
import { InvariantChecker } from '../../../runtime/invariants/InvariantChecker.ts';
import { defaultMonitors, TraceState } from '../../../runtime/invariants/monitors.ts';
import { STATE_WRITES } from '../../../runtime/invariants/InvariantChecker.ts';
import { canonicalJson } from '../../../runtime/engine/worldHash.ts';
import { modelMapOf, simulate } from '../../../runtime/simulate.ts';
import { libraryTopology } from '../../helpers/library.ts';
import { libraryEntries } from '../../../runtime/cli/scenarioCommands.ts';
import type { TraceEvent } from '../../../runtime/trace/TraceEvent.ts';

/** Every library scenario's trace at seed 0, with its model map. */
function libraryTraces(): { model: ReturnType<typeof modelMapOf>; trace: TraceEvent[] }[] {
  return libraryEntries().flatMap(({ name }) =>
    [0].map((seed) => {
      const topology = libraryTopology(name);
      return { model: modelMapOf(topology), trace: simulate(topology, { seed, strategy: 'random', collectTrace: true }).trace! };
    }),
  );
}

describe('InvariantChecker: copy on write', () => {
  it('should leave every monitor unchanged and silent on the event types it does not declare in reads, over the library’s traces', () => {
    let checked = 0;
    for (const { model, trace } of libraryTraces()) {
      const monitors = defaultMonitors(model);
      const state = new TraceState(model);
      for (const e of trace) {
        const stateBefore = canonicalJson(state.key());
        for (const monitor of monitors) {
          const ignores = monitor.reads !== undefined && !monitor.reads.has(e.type);
          const before = ignores ? canonicalJson(monitor.key()) : '';
          let reports = 0;
          monitor.observe(e, state, () => reports++);
          if (!ignores) continue;
          expect([monitor.constructor.name, e.type, canonicalJson(monitor.key()), reports]).toEqual([monitor.constructor.name, e.type, before, 0]);
          checked++;
        }
        state.observe(e);
        if (!STATE_WRITES.has(e.type)) expect([e.type, canonicalJson(state.key())]).toEqual([e.type, stateBefore]);
      }
    }
    expect(checked).toBeGreaterThan(10_000);
  });

  it('should keep a copy and its original independent when each observes its own events', () => {
    const model = { nodeContext: { 'node:d0': 'ctx:io' } };
    const event = (type: TraceEvent['type'], fields: Record<string, unknown>, step: number) => ({ step, time: 0, vtime: 0, actor: 'ctx:io', type, ...fields }) as TraceEvent;
    const original = new InvariantChecker(model);
    const before = original.key();
    const copy = original.clone();
    copy.observe(event('@trace.counter', { counter: 'externalDisableCount', value: 1 }, 1));
    copy.observe(event('@trace.dispatch', { kind: 'handler', id: 'h', owner: 'client:c', external: true, thread: 'io' }, 2));
    expect(copy.violations.map((v) => v.invariant)).toContain('I1');
    expect(original.violations).toEqual([]);
    expect(original.key()).toBe(before);
    const copyKey = copy.key();
    original.observe(event('@trace.ready', { handler: 'h', external: true }, 1));
    expect(original.key()).not.toBe(before);
    expect(copy.key()).toBe(copyKey);
  });

  it("should keep a copy's observations out of its original, and the original's out of the copy, over the library's traces", () => {
    // Each monitor's key and the trace state's computed afresh: the checker's cached keys would hide a shared container.
    const fresh = (checker: InvariantChecker) =>
      canonicalJson([(checker as unknown as { state: TraceState }).state.key(), checker.monitors.map((m) => m.key())]);
    for (const { model, trace } of libraryTraces()) {
      const checker = new InvariantChecker(model);
      for (const e of trace) {
        const copy = checker.clone();
        const before = fresh(checker);
        copy.observe(e);
        expect(fresh(checker)).toBe(before);
        checker.observe(e);
        expect(fresh(copy)).toBe(fresh(checker));
      }
    }
  });

  it('should judge a trace the same whether it is observed by one checker or by a chain of copies', () => {
    for (const { model, trace } of libraryTraces().slice(0, 12)) {
      const whole = new InvariantChecker(model);
      let chained = new InvariantChecker(model);
      for (const e of trace) {
        whole.observe(e);
        chained = chained.clone();
        chained.observe(e);
      }
      whole.finish();
      chained.finish();
      expect(chained.key()).toBe(whole.key());
      expect(chained.violations.map((v) => [v.invariant, v.step])).toEqual(whole.violations.map((v) => [v.invariant, v.step]));
    }
  });
});
