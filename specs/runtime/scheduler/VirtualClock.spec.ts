import { describe, it, expect } from 'vitest';
import { delay, interval, merge, observeOn, of, take, timer, map } from 'rxjs';
import { createActor, createMachine } from 'xstate';
import { VirtualClock } from '../../../runtime/scheduler/VirtualClock.ts';

const NS_PER_MS = 1_000_000;
const ms = (n: number): number => n * NS_PER_MS;

const delayedMachine = createMachine({
  id: 'delayed',
  initial: 'a',
  states: {
    a: { after: { 1000: 'b' } },
    b: {},
  },
});

/** Subscribes with a recorder of `[clock.now(), value]` pairs. */
function recordOn<T>(clock: VirtualClock) {
  const seen: Array<[number, T]> = [];
  return { seen, next: (value: T) => seen.push([clock.now(), value]) };
}

describe('VirtualClock', () => {
  describe('as the XState clock', () => {
    it('should stay in a until 1000 ms and enter b exactly at 1000 ms', () => {
      const clock = new VirtualClock();
      const actor = createActor(delayedMachine, { clock }).start();
      const timeline: Array<[atMs: number, state: string]> = [
        [0, 'a'],
        [999, 'a'],
        [1000, 'b'],
        [5000, 'b'],
      ];

      const observed = timeline.map(([atMs]) => {
        clock.advanceTo(ms(atMs));
        return [atMs, actor.getSnapshot().value] as [number, string];
      });

      expect(observed).toEqual(timeline);
    });

    it('should convert the machine delay from milliseconds to nanoseconds', () => {
      const clock = new VirtualClock();
      createActor(delayedMachine, { clock }).start();

      expect(clock.nextDueNs()).toBe(1_000_000_000);
    });

    it('should never transition when the actor is stopped before the delay falls due', () => {
      const clock = new VirtualClock();
      const actor = createActor(delayedMachine, { clock }).start();

      clock.advanceTo(ms(999));
      actor.stop();
      clock.advanceTo(ms(2000));

      expect(actor.getSnapshot().value).toBe('a');
      expect(clock.pending()).toBe(0);
    });

    it('should never run a callback cancelled with clearTimeout', () => {
      const clock = new VirtualClock();
      const ran: string[] = [];
      const kept = clock.setTimeout(() => ran.push('kept'), 1);
      const cancelled = clock.setTimeout(() => ran.push('cancelled'), 1);

      clock.clearTimeout(cancelled);
      clock.advanceTo(ms(1));

      expect(kept).not.toBe(cancelled);
      expect(ran).toEqual(['kept']);
    });
  });

  describe('as an RxJS scheduler', () => {
    it('should emit timer(5) once at 5 ms and not before', () => {
      const clock = new VirtualClock();
      const { seen, next } = recordOn<number>(clock);
      timer(5, clock).subscribe(next);

      clock.advanceTo(ms(5) - 1);
      expect(seen).toEqual([]);

      clock.advanceTo(ms(50));
      expect(seen).toEqual([[5, 0]]);
    });

    it('should emit interval(2) with take(3) at 2, 4 and 6 ms', () => {
      const clock = new VirtualClock();
      const { seen, next } = recordOn<number>(clock);
      let completedAt: number | null = null;
      interval(2, clock)
        .pipe(take(3))
        .subscribe({ next, complete: () => (completedAt = clock.now()) });

      clock.advanceTo(ms(100));

      expect(seen).toEqual([
        [2, 0],
        [4, 1],
        [6, 2],
      ]);
      expect(completedAt).toBe(6);
      expect(clock.pending()).toBe(0);
    });

    it('should delay of(1, 2) by 3 ms', () => {
      const clock = new VirtualClock();
      const { seen, next } = recordOn<number>(clock);
      of(1, 2).pipe(delay(3, clock)).subscribe(next);

      clock.advanceTo(ms(2));
      expect(seen).toEqual([]);

      clock.advanceTo(ms(10));
      expect(seen).toEqual([
        [3, 1],
        [3, 2],
      ]);
    });

    it('should not emit when unsubscribed before the timer is due', () => {
      const clock = new VirtualClock();
      const { seen, next } = recordOn<number>(clock);
      const subscription = timer(5, clock).subscribe(next);

      clock.advanceTo(ms(4));
      subscription.unsubscribe();
      clock.advanceTo(ms(10));

      expect(seen).toEqual([]);
      expect(clock.pending()).toBe(0);
    });

    it('should not run zero-delay work synchronously inside schedule', () => {
      const clock = new VirtualClock();
      let ran = false;
      clock.schedule(() => (ran = true));

      expect(ran).toBe(false);
      expect(clock.nextDueNs()).toBe(0);
    });

    it('should deliver observeOn(clock) values at the next flush, at the current time', () => {
      const clock = new VirtualClock(ms(2));
      const { seen, next } = recordOn<string>(clock);
      let completed = false;
      of('x', 'y')
        .pipe(observeOn(clock))
        .subscribe({ next, complete: () => (completed = true) });
      expect(seen).toEqual([]);

      clock.flush();

      expect(seen).toEqual([
        [2, 'x'],
        [2, 'y'],
      ]);
      expect(completed).toBe(true);
    });

    it('should express now() in milliseconds of the nanosecond clock', () => {
      const clock = new VirtualClock(ms(7) + 500_000);

      expect(clock.now()).toBe(7.5);
      expect(clock.nowNs()).toBe(7_500_000);
    });
  });

  describe('ordering', () => {
    it('should run callbacks due at the same time in scheduling order', () => {
      const clock = new VirtualClock();
      const ran: string[] = [];
      clock.setTimeout(() => ran.push('first'), 2);
      clock.schedule(() => ran.push('second'), 2);
      clock.setTimeout(() => ran.push('third'), 2);
      clock.setTimeout(() => ran.push('earlier'), 1);

      clock.advanceTo(ms(2));

      expect(ran).toEqual(['earlier', 'first', 'second', 'third']);
    });

    it('should run a callback scheduled during an advance within that advance when due before the target', () => {
      const clock = new VirtualClock();
      const ran: Array<[atNs: number, label: string]> = [];
      clock.setTimeout(() => {
        ran.push([clock.nowNs(), 'outer']);
        clock.setTimeout(() => ran.push([clock.nowNs(), 'inner']), 2);
        clock.setTimeout(() => ran.push([clock.nowNs(), 'beyond']), 10);
      }, 1);

      clock.advanceTo(ms(5));

      expect(ran).toEqual([
        [ms(1), 'outer'],
        [ms(3), 'inner'],
      ]);
      expect(clock.nowNs()).toBe(ms(5));
      expect(clock.nextDueNs()).toBe(ms(11));
    });

    it('should run work rescheduled at the target time within the same advance', () => {
      const clock = new VirtualClock();
      const ran: number[] = [];
      clock.setTimeout(() => {
        ran.push(clock.nowNs());
        clock.setTimeout(() => ran.push(clock.nowNs()), 0);
      }, 4);

      clock.advanceTo(ms(4));

      expect(ran).toEqual([ms(4), ms(4)]);
      expect(clock.pending()).toBe(0);
    });
  });

  describe('time', () => {
    it('should throw when advancing backwards', () => {
      const clock = new VirtualClock(ms(10));

      expect(() => clock.advanceTo(ms(9))).toThrow(/cannot go back in time/);
      expect(() => clock.advanceBy(-1)).toThrow(/cannot go back in time/);
      expect(clock.nowNs()).toBe(ms(10));
    });

    it('should run zero-delay work on flush without moving time', () => {
      const clock = new VirtualClock(ms(3));
      const ran: Array<[atNs: number, label: string]> = [];
      clock.schedule(() => {
        ran.push([clock.nowNs(), 'zero']);
        clock.schedule(() => ran.push([clock.nowNs(), 'chained zero']));
      });
      clock.schedule(() => ran.push([clock.nowNs(), 'later']), 1);

      clock.flush();

      expect(ran).toEqual([
        [ms(3), 'zero'],
        [ms(3), 'chained zero'],
      ]);
      expect(clock.nowNs()).toBe(ms(3));
      expect(clock.nextDueNs()).toBe(ms(4));
    });

    it('should report no next due time when nothing is pending', () => {
      const clock = new VirtualClock();

      expect(clock.nextDueNs()).toBeNull();
      expect(clock.pending()).toBe(0);
    });
  });

  describe('determinism', () => {
    /** One script mixing XState delays, RxJS streams and raw timeouts, with ties everywhere. */
    function runScript(): string[] {
      const clock = new VirtualClock();
      const log: string[] = [];
      const stamp = (what: string) => log.push(`${clock.nowNs()} ${what}`);

      const machine = createMachine({
        id: 'script',
        initial: 'idle',
        states: {
          idle: { after: { 2: 'busy' } },
          busy: { after: { 2: 'idle' } },
        },
      });
      const actor = createActor(machine, { clock });
      actor.subscribe((snapshot) => stamp(`machine ${String(snapshot.value)}`));
      actor.start();

      merge(interval(1, clock).pipe(map((n) => `tick ${n}`)), timer(2, clock).pipe(map(() => 'timer')))
        .pipe(take(6))
        .subscribe(stamp);
      of('a', 'b').pipe(delay(4, clock)).subscribe((v) => stamp(`delayed ${v}`));
      clock.setTimeout(() => stamp('timeout'), 2);

      for (const stepMs of [1, 0, 2, 3, 4]) clock.advanceBy(ms(stepMs));
      actor.stop();
      return log;
    }

    it('should record identical logs when the same script runs twice', () => {
      const first = runScript();
      const second = runScript();

      expect(first.length).toBeGreaterThan(10);
      expect(second).toEqual(first);
    });
  });
});
