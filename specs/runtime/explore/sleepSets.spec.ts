import { describe, expect, it, vi } from 'vitest';
import { commute, intersectSleep, SleepEntries, sleepAfter, type Footprint, type SleepEntry } from '../../../runtime/explore/sleepSets.ts';

/** Whether two steps with these footprints commute, with no monitor to ask (see `commute`). */
const independent = (a: Footprint, b: Footprint, reads: readonly (ReadonlySet<number> | undefined)[]) => commute(entry('a', a), entry('b', b), reads);

/** A delivery to actor `actor` that appended to `sends`, with nothing else. */
const delivery = (actor: number, sends: number[] = [], more: Partial<Footprint> = {}): Footprint => ({ actor, offer: false, sends, alarms: false, time: false, judged: false, ...more });
const noReads: (ReadonlySet<number> | undefined)[] = [];

describe('independent: steps that commute', () => {
  it('should call two different actors’ steps with disjoint sends independent', () => {
    expect(independent(delivery(1, [3]), delivery(2, [4]), noReads)).toBe(true);
  });

  it('should call a send to an actor independent of that actor’s own delivery (appends go behind the message delivered)', () => {
    expect(independent(delivery(1, [2]), delivery(2, []), noReads)).toBe(true);
  });

  it('should call one alarm edit independent of a step without one', () => {
    expect(independent(delivery(1, [], { alarms: true }), delivery(2, [5]), noReads)).toBe(true);
  });

  it('should call a clock advance independent of a step that arms no timer and sends nowhere the alarms go', () => {
    expect(independent({ ...delivery(-1, [4]), alarms: true, time: true }, delivery(2, [5]), noReads)).toBe(true);
  });

  it('should call one judged step independent of an unjudged one', () => {
    expect(independent(delivery(1, [], { judged: true }), delivery(2), noReads)).toBe(true);
  });
});

describe('independent: steps that do not commute', () => {
  const cases: [string, Footprint, Footprint, (ReadonlySet<number> | undefined)[]][] = [
    ['two steps of one actor', delivery(1), delivery(1), noReads],
    ['two sends to one mailbox (their order there)', delivery(1, [3, 7]), delivery(2, [7]), noReads],
    ['two alarm edits (one timer list)', delivery(1, [], { alarms: true }), delivery(2, [], { alarms: true }), noReads],
    ['two steps a monitor judges (their order in the trace)', delivery(1, [], { judged: true }), delivery(2, [], { judged: true }), noReads],
    ['a clock advance and an alarm edit', { ...delivery(-1, [4]), alarms: true, time: true }, delivery(2, [], { alarms: true }), noReads],
    ['a clock advance and a send to a due alarm’s target', { ...delivery(-1, [4]), alarms: true, time: true }, delivery(2, [4]), noReads],
    ['a VM stop and a clock advance', delivery(1, [], { time: true }), { ...delivery(-1, [4]), alarms: true, time: true }, noReads],
    ['an offer and a step of an actor the offer reads', delivery(1, [], { offer: true }), delivery(2), [undefined, new Set([2])]],
    ['a step of an actor an offer reads and that offer', delivery(2), delivery(1, [], { offer: true }), [undefined, new Set([2])]],
  ];
  it.each(cases)('should call %s dependent', (_, a, b, reads) => {
    expect(independent(a, b, reads)).toBe(false);
  });
});

/** A step as a sleep set holds it: `judgedKey` names its judged events (none when 0). */
const entry = (identity: string, footprint: Footprint, judgedKey = 0): SleepEntry => ({ identity, footprint, judged: [], judgedKey });

describe('sleep sets: what a successor inherits', () => {
  it('should put to sleep the siblings explored before that commute with the step taken, and only those', () => {
    const before = [entry('deliver:a', delivery(1, [9])), entry('deliver:b', delivery(2, [5]))];
    const inherited = sleepAfter([], before, entry('deliver:c', delivery(3, [5])), noReads);
    expect(inherited.map((e) => e.identity)).toEqual(['deliver:a']);
  });

  it('should keep asleep what was asleep and commutes with the step taken', () => {
    const asleep = [entry('deliver:a', delivery(1)), entry('deliver:c', delivery(3))];
    expect(sleepAfter(asleep, [], entry('deliver:c', delivery(3)), noReads).map((e) => e.identity)).toEqual(['deliver:a']);
  });

  it('should hand on the very list it was given when everything asleep stays asleep and nothing joins', () => {
    const asleep = [entry('deliver:a', delivery(1)), entry('deliver:b', delivery(2))];
    expect(sleepAfter(asleep, [], entry('deliver:c', delivery(3)), noReads)).toBe(asleep);
    expect(sleepAfter(asleep, [entry('deliver:d', delivery(4))], entry('deliver:c', delivery(3)), noReads)).not.toBe(asleep);
  });

  it('should make a new list exactly as long as what it keeps', () => {
    const before = [entry('deliver:a', delivery(1)), entry('deliver:b', delivery(2, [5]))];
    const inherited = sleepAfter([], before, entry('deliver:c', delivery(3, [5])), noReads);
    expect(inherited).toEqual([before[0]]);
    expect(inherited.length).toBe(1);
  });

  it('should keep asleep, at a state reached by two shortest paths, only what sleeps on both', () => {
    const a = [entry('deliver:a', delivery(1)), entry('deliver:b', delivery(2))];
    const b = [entry('deliver:b', delivery(2)), entry('deliver:c', delivery(3))];
    expect(intersectSleep(a, b).map((e) => e.identity)).toEqual(['deliver:b']);
    expect(intersectSleep(a, [])).toEqual([]);
    expect(intersectSleep(a, [...b, a[0]])).toBe(a);
  });
});

describe('sleep sets: two steps the monitors both judge', () => {
  const judged = (actor: number, key: number) => entry(`deliver:${actor}`, delivery(actor, [], { judged: true }), key);

  it('should put a judged sibling to sleep when the monitors end the same in either order', () => {
    const inherited = sleepAfter([], [judged(1, 11)], judged(2, 22), noReads, () => true);
    expect(inherited.map((e) => e.identity)).toEqual(['deliver:1']);
  });

  it('should keep a judged sibling awake when the monitors end differently by the order', () => {
    expect(sleepAfter([], [judged(1, 11)], judged(2, 22), noReads, () => false)).toEqual([]);
  });

  it('should keep a judged sibling awake when nobody can tell whether the monitors commute', () => {
    expect(sleepAfter([], [judged(1, 11)], judged(2, 22), noReads)).toEqual([]);
  });

  it('should ask the monitors only about steps that commute in the world', () => {
    const asked: string[] = [];
    const sameActor = entry('offer:2', delivery(2, [], { judged: true, offer: true }), 33);
    commute(sameActor, judged(2, 22), noReads, (a, b) => (asked.push(`${a.identity}+${b.identity}`), true));
    commute(judged(1, 11), judged(2, 22), noReads, (a, b) => (asked.push(`${a.identity}+${b.identity}`), true));
    expect(asked).toEqual(['deliver:1+deliver:2']);
  });

  it('should not ask the monitors about a pair only one of which they judge', () => {
    const ask = vi.fn(() => false);
    expect(commute(judged(1, 11), entry('deliver:2', delivery(2)), noReads, ask)).toBe(true);
    expect(ask).not.toHaveBeenCalled();
  });
});

describe('SleepEntries: one entry and one list per content', () => {
  it('should hand out one entry for steps of one identity, footprint and judged events', () => {
    const entries = new SleepEntries();
    const first = entries.of(entry('deliver:a', delivery(1, [2]), 7));
    expect(entries.of(entry('deliver:a', delivery(1, [2]), 7))).toBe(first);
    expect(entries.of(entry('deliver:a', delivery(1, [3]), 7))).not.toBe(first);
    expect(entries.of(entry('deliver:a', delivery(1, [2]), 8))).not.toBe(first);
    expect(entries.of(entry('deliver:b', delivery(1, [2]), 7))).not.toBe(first);
  });

  it('should give equal sleep sets made by different expansions one list', () => {
    const entries = new SleepEntries();
    const before = () => [entries.of(entry('deliver:a', delivery(1))), entries.of(entry('deliver:b', delivery(2)))];
    const one = sleepAfter([], before(), entries.of(entry('deliver:c', delivery(3))), noReads, undefined, entries);
    const other = sleepAfter([], before(), entries.of(entry('deliver:c', delivery(3))), noReads, undefined, entries);
    expect(one.map((e) => e.identity)).toEqual(['deliver:a', 'deliver:b']);
    expect(other).toBe(one);
  });

  it('should not mistake a list of other entries for one it made', () => {
    const entries = new SleepEntries();
    const a = entries.of(entry('deliver:a', delivery(1)));
    const b = entries.of(entry('deliver:b', delivery(2)));
    const c = entries.of(entry('deliver:c', delivery(3)));
    const ab = sleepAfter([], [a, b], c, noReads, undefined, entries);
    const ba = sleepAfter([], [b, a], c, noReads, undefined, entries);
    expect(ba).not.toBe(ab);
    expect(ba).toEqual([b, a]);
    expect(sleepAfter([], [a], c, noReads, undefined, entries)).toEqual([a]);
  });
});
