/**
 * The one time seam: a virtual clock in integer nanoseconds that both XState (as its `Clock`)
 * and RxJS (as a `SchedulerLike`) schedule on, so no timer in the simulation ever touches the
 * host's real time. Time only moves when the engine calls `advanceTo`/`advanceBy`.
 *
 * Units: the clock itself counts nanoseconds (`nowNs`, `advanceTo`, `advanceBy`, `nextDueNs`).
 * Both adapters speak milliseconds, so machine and stream code reads the way those libraries
 * document it: XState `after: { 1000: ... }` and RxJS `timer(5, clock)` are 1000 ms and 5 ms.
 * A delay of `d` ms falls due `round(d * 1e6)` ns later (rounded so due times stay integers);
 * `now()` returns `nowNs() / 1e6`.
 */
import { Subscription, type SchedulerAction, type SchedulerLike } from 'rxjs';
import type { ActorOptions, AnyActorLogic } from 'xstate';

/** XState does not export its `Clock` interface by name; this is the same type. */
type XStateClock = NonNullable<ActorOptions<AnyActorLogic>['clock']>;

const NS_PER_MS = 1_000_000;

interface Entry {
  readonly dueNs: number;
  /** Tie-breaker and handle: strictly increasing, so equal due times run in scheduling order. */
  readonly seq: number;
  readonly run: () => void;
}

/** What an RxJS action needs from its clock, without widening the clock's public surface. */
interface TimerPort {
  enqueueAfterMs(delayMs: number, run: () => void): number | null;
  cancel(seq: number): void;
}

/**
 * Deterministic virtual time for XState and RxJS together: callbacks run only inside
 * `advanceTo`/`advanceBy`/`flush`, ordered by due time and then by scheduling order.
 *
 * Guarantees: no real timer, `Date` or promise is used; nothing runs synchronously inside
 * `setTimeout`/`schedule` (zero delays included); a cancelled entry never runs; every callback
 * sees the clock at exactly its own due time. Both adapters take milliseconds (1 ms = 1e6 ns);
 * negative or NaN delays count as zero and an infinite delay never falls due.
 *
 * @example
 * const clock = new VirtualClock();
 * const actor = createActor(machine, { clock }).start(); // after: { 1000: 'b' }
 * timer(5, clock).subscribe(log);
 * clock.advanceBy(1_000 * 1e6); // runs the timer at 5 ms, then the machine's delay at 1000 ms
 */
export class VirtualClock implements XStateClock, SchedulerLike {
  #nowNs: number;
  #nextSeq = 0;
  /** Binary min-heap on (dueNs, seq); cancelled entries stay until they surface or a compaction. */
  #heap: Entry[] = [];
  /** The entries still due to run, by seq; an entry in the heap but not here was cancelled. */
  #live = new Map<number, Entry>();
  #running = false;
  readonly #port: TimerPort = {
    enqueueAfterMs: (delayMs, run) => this.#enqueueAfterMs(delayMs, run),
    cancel: (seq) => this.#cancel(seq),
  };

  constructor(startNs = 0) {
    assertNs(startNs, 'start time');
    this.#nowNs = startNs;
  }

  /** Current virtual time in nanoseconds. */
  nowNs(): number {
    return this.#nowNs;
  }

  /** Current virtual time in milliseconds (RxJS `TimestampProvider`); may be fractional. */
  now(): number {
    return this.#nowNs / NS_PER_MS;
  }

  /**
   * Runs every entry due at or before `targetNs`, including entries those callbacks schedule
   * within the window, then leaves the clock at `targetNs`.
   *
   * If a callback throws, the clock stays at that callback's due time, later entries stay
   * queued, and the error propagates: the caller sees exactly where time stopped.
   *
   * @example
   * clock.advanceTo(clock.nowNs() + 999 * 1e6); // everything due in the next 999 ms
   */
  advanceTo(targetNs: number): void {
    assertNs(targetNs, 'advanceTo target');
    if (targetNs < this.#nowNs) {
      throw new Error(
        `VirtualClock cannot go back in time: it is at ${this.#nowNs} ns and was asked to advance to ${targetNs} ns`,
      );
    }
    if (this.#running) {
      // A nested advance would interleave with the outer one and break the (due, seq) order.
      throw new Error('VirtualClock cannot be advanced or flushed from inside a callback it is running');
    }
    this.#running = true;
    try {
      for (let entry = this.#peek(); entry !== undefined && entry.dueNs <= targetNs; entry = this.#peek()) {
        this.#popTop();
        this.#live.delete(entry.seq);
        this.#nowNs = entry.dueNs;
        entry.run();
      }
      this.#nowNs = targetNs;
    } finally {
      this.#running = false;
    }
  }

  /**
   * `advanceTo(nowNs() + deltaNs)`; a negative delta throws like any backward advance.
   *
   * @example
   * clock.advanceBy(5 * 1e6); // 5 ms
   */
  advanceBy(deltaNs: number): void {
    assertNs(deltaNs, 'advanceBy delta');
    this.advanceTo(this.#nowNs + deltaNs);
  }

  /**
   * Runs everything due at the current time (zero-delay work, and what that work schedules
   * with zero delay) without moving time.
   *
   * @example
   * of(1).pipe(observeOn(clock)).subscribe(log);
   * clock.flush(); // logs 1; nowNs() is unchanged
   */
  flush(): void {
    this.advanceTo(this.#nowNs);
  }

  /** Due time in ns of the next entry that will run, or `null` when nothing is pending. */
  nextDueNs(): number | null {
    return this.#peek()?.dueNs ?? null;
  }

  /** Number of scheduled, not yet run, not cancelled entries. */
  pending(): number {
    return this.#live.size;
  }

  /**
   * XState `Clock`: runs `fn` once, `timeoutMs` milliseconds from now, and returns a handle
   * for `clearTimeout`. Never runs `fn` synchronously, even for a zero delay.
   *
   * @example
   * const id = clock.setTimeout(() => log('tick'), 2); // due at now + 2_000_000 ns
   */
  setTimeout(fn: () => void, timeoutMs: number): number { // virtual time (@allow-wallclock: the XState Clock method name)
    return this.#enqueueAfterMs(timeoutMs, () => fn()) ?? this.#nextSeq++;
  }

  /** XState `Clock`: cancels a handle of the method above; unknown, run or cancelled handles are ignored. */
  clearTimeout(id: unknown): void {
    if (typeof id === 'number') this.#cancel(id);
  }

  /**
   * RxJS `SchedulerLike`: queues `work` to run `delayMs` milliseconds from now (zero delay
   * means at the next `flush`/advance, never synchronously). The returned action cancels on
   * `unsubscribe()`; `this.schedule(state, delay)` inside `work` reschedules it, as
   * `interval` and `timer` do.
   *
   * @example
   * const sub = clock.schedule(() => log('late'), 3);
   * sub.unsubscribe(); // never logs
   */
  schedule<T>(work: (this: SchedulerAction<T>, state?: T) => void, delayMs = 0, state?: T): Subscription {
    return new VirtualClockAction(this.#port, work).schedule(state, delayMs);
  }

  #enqueueAfterMs(delayMs: number, run: () => void): number | null {
    if (delayMs === Infinity) return null;
    const dueNs = this.#nowNs + (delayMs > 0 ? Math.round(delayMs * NS_PER_MS) : 0);
    if (!Number.isSafeInteger(dueNs)) {
      throw new Error(`VirtualClock: a delay of ${delayMs} ms from ${this.#nowNs} ns overflows integer nanoseconds`);
    }
    const entry: Entry = { dueNs, seq: this.#nextSeq++, run };
    this.#live.set(entry.seq, entry);
    this.#push(entry);
    return entry.seq;
  }

  #cancel(seq: number): void {
    if (!this.#live.delete(seq)) return;
    // Lazy deletion keeps cancel O(1); compact once dead entries dominate so the heap stays small.
    if (this.#heap.length > 64 && this.#heap.length > 2 * this.#live.size) {
      this.#heap = [...this.#live.values()].sort(compareEntries);
    }
  }

  #peek(): Entry | undefined {
    while (this.#heap.length > 0 && !this.#live.has(this.#heap[0].seq)) this.#popTop();
    return this.#heap[0];
  }

  #push(entry: Entry): void {
    const heap = this.#heap;
    let i = heap.push(entry) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (compareEntries(heap[parent], entry) <= 0) break;
      heap[i] = heap[parent];
      i = parent;
    }
    heap[i] = entry;
  }

  #popTop(): void {
    const heap = this.#heap;
    const last = heap.pop();
    if (last === undefined || heap.length === 0) return;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && compareEntries(heap[right], heap[left]) < 0 ? right : left;
      if (compareEntries(last, heap[child]) <= 0) break;
      heap[i] = heap[child];
      i = child;
    }
    heap[i] = last;
  }
}

/**
 * An RxJS action on the virtual clock. Like RxJS's own `AsyncAction`, it is the subscription
 * handed back to the caller and is reused when rescheduled, so a subscriber holding it can
 * always cancel whichever run is currently queued.
 */
class VirtualClockAction<T> extends Subscription implements SchedulerAction<T> {
  readonly #port: TimerPort;
  readonly #work: (this: SchedulerAction<T>, state?: T) => void;
  #queued: number | null = null;

  constructor(port: TimerPort, work: (this: SchedulerAction<T>, state?: T) => void) {
    super();
    this.#port = port;
    this.#work = work;
  }

  schedule(state?: T, delayMs = 0): Subscription {
    if (this.closed) return this;
    this.#dequeue();
    this.#queued = this.#port.enqueueAfterMs(delayMs, () => this.#execute(state));
    return this;
  }

  override unsubscribe(): void {
    this.#dequeue();
    super.unsubscribe();
  }

  #execute(state: T | undefined): void {
    this.#queued = null;
    try {
      this.#work.call(this, state);
    } catch (error) {
      // As in RxJS: a failed action is torn down so it cannot reschedule itself.
      this.unsubscribe();
      throw error;
    }
  }

  #dequeue(): void {
    if (this.#queued !== null) this.#port.cancel(this.#queued);
    this.#queued = null;
  }
}

function compareEntries(a: Entry, b: Entry): number {
  return a.dueNs - b.dueNs || a.seq - b.seq;
}

function assertNs(value: number, what: string): void {
  if (!Number.isSafeInteger(value)) {
    throw new Error(`VirtualClock: ${what} must be an integer number of nanoseconds, got ${value}`);
  }
}
