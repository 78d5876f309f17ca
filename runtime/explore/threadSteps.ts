/**
 * Thread granularity: the explorer's choice points where another QEMU thread or the
 * environment can act, not after every message.
 *
 * In QEMU a thread runs its callbacks synchronously inside aio_poll: aio_dispatch calls a
 * handler, which calls bdrv_drained_begin, which calls aio_disable_external, and no other thread
 * sees the middle of that chain except through what it publishes. The model makes every one of
 * those calls a message. A macro step is therefore one step followed, with no choice point, by
 * the deliveries that continue the same thread's call chain, until that thread waits.
 *
 * The rule, read off the machines:
 *
 * 1. The thread a delivery runs on: the receiver's own thread when it has one (an event loop
 *    runs on its thread, iothread_run / main_loop_wait; the QMP monitor, a transaction and its
 *    actions run on the main thread), else the event's `thread` field (aio.poll, aio.dispatch,
 *    aio.acquire, aio.release, drain.*: the caller says which thread calls; in particular the
 *    main thread polling an IOThread's context while it waits for synchronous I/O runs that
 *    context's callbacks on the main thread, and the dispatch says so), else the thread of the
 *    step that sent the message, when that step belongs to the macro step under way (a plain
 *    function call runs on its caller's thread: io.submit, io.complete, aio.bh.schedule,
 *    aio.callback.done, host.submit, ...). Otherwise the thread is unknown.
 * 2. A macro step starts with any enabled step. It has a thread when its first step is a
 *    delivery whose thread (1) is known without the macro step: offers (the guest, the NBD
 *    client on the far side, the host completing I/O, a QMP command arriving), clock advances
 *    and timer expiries, and messages whose thread is unknown, are macro steps of one message.
 * 3. The chain continues with the oldest enabled delivery of a message sent within the macro
 *    step by a step of its thread, which also runs on that thread (1). A message a step of
 *    thread T sends for another thread (a context waking the IOThread's parked poll when the
 *    main thread releases its lock: an aio.dispatch with the IOThread's name; an aio.acquired
 *    granted to the main thread's monitor when the IOThread releases) is a cross-thread
 *    message: it stays in the mailbox and is a choice point. The chain ends where the thread
 *    waits: a blocking aio_poll with nothing ready is parked, an aio.acquire of a lock another
 *    thread holds is parked, a call whose reply comes from another thread: no message of the
 *    chain is left to deliver.
 * 4. The chain also ends, leaving the rest of its messages for later choice points, where
 *    another party can act on what it published:
 *    - a step changed what the environment may do (the offers enabled or the next clock
 *      advance): a scripted trigger fired, I/O was submitted to the host, a timer was armed;
 *      the environment may act right there in QEMU, and what it does may not commute with the
 *      rest of the chain (a completion before a non-blocking aio_poll of the chain);
 *    - the next delivery of the chain does not commute (`independentInWorld`, or both are
 *      judged by monitors) with a step another thread or the environment may take now: the two
 *      threads race in QEMU, and both orders are explored.
 *
 * What (4) checks is the steps enabled at that instant, not every step other threads could take
 * before the chain's next delivery (the persistent-set condition): the soundness specs
 * (specs/runtime/explore/granularity.spec.ts) compare both granularities on the library.
 */
import type { ActorSpec, Engine } from '../engine/Engine.ts';
import type { Step, World } from '../engine/World.ts';
import type { ThreadName } from '../../machines/effects.ts';
import { type Footprint, independentInWorld } from './sleepSets.ts';

export type Granularity = 'message' | 'thread';

export const GRANULARITIES: readonly Granularity[] = ['message', 'thread'];

/** By actor index: the thread that runs every delivery to it, or null when it runs on its caller's. */
export type PinnedThreads = readonly (ThreadName | null)[];

/**
 * Each actor's own thread, from what the actors are (see `createActorSpecs`): an event loop's
 * thread, and the main thread (the main context's loop) for the monitor, transactions and
 * their actions. Contexts, nodes, jobs and the QEMU side of clients run on whichever thread
 * calls them; the host runs a submission on the submitter's thread.
 */
export function pinnedThreadsOf(specs: readonly ActorSpec[]): PinnedThreads {
  const loops = specs.filter((s) => s.kind === 'event-loop');
  const mainLoop = loops.find((s) => (s.input as { ctx: string }).ctx === 'ctx:main') ?? loops[0];
  const mainThread = mainLoop ? (mainLoop.input as { thread: ThreadName }).thread : 'main';
  return specs.map((s) => {
    if (s.kind === 'event-loop') return (s.input as { thread: ThreadName }).thread;
    if (s.kind === 'monitor' || s.kind === 'transaction' || s.kind === 'transaction-action') return mainThread;
    return null;
  });
}

/** A macro step: the world it ends in and, per message it delivered, that message's index among its state's enabled steps. */
export interface MacroStep {
  world: World;
  /** The enabled-step index of each of its messages (the first is the macro step's own index). */
  indexes: number[];
  /** How many steps were enabled at each of those states (a replay path records a choice only where more than one was). */
  enabledCounts: number[];
  /** The actors whose snapshot or mailbox it may have replaced, each once, ascending. */
  changed: number[];
  /** It set, cleared or fired an alarm, or moved the clocks or the VM's run state. */
  alarms: boolean;
  time: boolean;
  /** The mailboxes it appended to (each once, ascending). */
  sends: number[];
}

/**
 * How a probe of a step runs (applied only to learn its footprint): the trace events it makes
 * must not reach the explorer's buffer; the caller counts the judged ones instead.
 */
export interface ProbeHooks {
  /** Runs `body` with tracing muted; returns whether the step made any judged trace event. */
  muted(body: () => void): boolean;
}

export class ThreadStepper {
  /** Scratch lists of enabled steps, one per depth of use (the macro step's state, and probes). */
  private readonly enabled: Step[] = [];
  private readonly before: Step[] = [];

  constructor(
    private readonly engine: Engine,
    readonly pinned: PinnedThreads,
    private readonly offerReads: readonly (ReadonlySet<number> | undefined)[],
    private readonly hooks: ProbeHooks,
    /** Rule 4 (specs only may switch it off, to see what the thread map alone decides). */
    private readonly endWhereOthersMayAct = true,
  ) {}

  /** The thread a macro step's first step runs on, when known without the macro step (rule 2). */
  firstThread(step: Step): ThreadName | null {
    if (step.kind !== 'deliver') return null;
    return this.runsOn(step);
  }

  /** Rule 1: the thread a delivery runs on, or null when it is unknown (sent by the environment or the clock). */
  runsOn(step: Extract<Step, { kind: 'deliver' }>): ThreadName | null {
    return this.pinned[step.at] ?? threadField(step) ?? step.envelope.thread ?? null;
  }

  /**
   * The macro step that starts with `enabled[index]` at `world` (`count` steps enabled there).
   * `apply` applies a step of the chain for real (its trace events go to the explorer); the
   * caller reads each one's effects from `engine.lastEffects` through `onApplied`.
   */
  run(world: World, enabled: readonly Step[], count: number, index: number): MacroStep {
    const engine = this.engine;
    const thread = this.firstThread(enabled[index]);
    const indexes = [index];
    const enabledCounts = [count];
    const changed = new Set<number>();
    const sends = new Set<number>();
    let alarms = false;
    let time = false;
    // The environment's steps enabled before the step being taken (rule 4).
    let envBefore = envSteps(enabled, count);
    let current = world;
    let step = enabled[index];
    for (;;) {
      // The messages a step of the thread sends are stamped with it (rule 1): a chain interrupted
      // at a choice point goes on when its thread next runs, in a later macro step.
      engine.sendingThread = thread;
      try {
        current = engine.apply(current, step);
      } finally {
        engine.sendingThread = null;
      }
      const effects = engine.lastEffects;
      if (step.kind !== 'advance') changed.add(step.at);
      for (const to of effects.sends) {
        changed.add(to);
        sends.add(to);
      }
      alarms ||= effects.alarms;
      time ||= effects.time;
      if (thread === null) break;
      const list = this.before;
      const listed = engine.listEnabled(current, list);
      const envNow = envSteps(list, listed);
      if (this.endWhereOthersMayAct && !sameEnvSteps(envBefore, envNow)) break;
      const next = this.chainDelivery(list, listed, thread);
      if (next < 0) break;
      if (this.endWhereOthersMayAct && !this.commutesWithTheRest(current, list, listed, next)) break;
      indexes.push(next);
      enabledCounts.push(listed);
      envBefore = envNow;
      step = list[next];
    }
    return { world: current, indexes, enabledCounts, changed: [...changed].sort((a, b) => a - b), alarms, time, sends: [...sends].sort((a, b) => a - b) };
  }

  /** Rule 3: the oldest enabled delivery of a message the chain sent, run on its thread; -1 if none. */
  private chainDelivery(list: readonly Step[], count: number, thread: ThreadName): number {
    // Deliveries come first in canonical order, oldest message first.
    for (let i = 0; i < count; i++) {
      const step = list[i];
      if (step.kind !== 'deliver') break;
      if (step.envelope.thread === thread && this.runsOn(step) === thread) return i;
    }
    return -1;
  }

  /** Rule 4, second part: the chain's next delivery commutes with every other step enabled now. */
  private commutesWithTheRest(world: World, list: readonly Step[], count: number, chosen: number): boolean {
    // The list is the engine's scratch for `world`; probes list nothing, so it stays valid.
    const mine = this.footprint(world, list[chosen]);
    for (let i = 0; i < count; i++) {
      if (i === chosen) continue;
      const other = this.footprint(world, list[i]);
      if (mine.judged && other.judged) return false;
      if (!independentInWorld(mine, other, this.offerReads)) return false;
    }
    return true;
  }

  /** What a step touches from `world`, found by applying it with tracing muted (transitions are memoized). */
  private footprint(world: World, step: Step): Footprint {
    let sends: number[] = [];
    let alarms = false;
    let time = false;
    const judged = this.hooks.muted(() => {
      this.engine.apply(world, step);
      const effects = this.engine.lastEffects;
      sends = [...new Set(effects.sends)].sort((a, b) => a - b);
      alarms = effects.alarms;
      time = effects.time;
    });
    return { actor: step.kind === 'advance' ? -1 : step.at, offer: step.kind === 'offer', sends, alarms, time, judged };
  }
}

function threadField(step: Extract<Step, { kind: 'deliver' }>): ThreadName | null {
  const thread = step.envelope.event.thread;
  return typeof thread === 'string' ? thread : null;
}

/** The environment's enabled steps (offers, then the clock advance): they follow the deliveries in canonical order. */
function envSteps(list: readonly Step[], count: number): Step[] {
  const steps: Step[] = [];
  for (let i = 0; i < count; i++) if (list[i].kind !== 'deliver') steps.push(list[i]);
  return steps;
}

/** The same environment steps: offers of the same actors with the same (interned) events, the same advance. */
function sameEnvSteps(a: readonly Step[], b: readonly Step[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (x === y) continue;
    if (x.kind === 'offer' && y.kind === 'offer') {
      if (x.at !== y.at || (x.event !== y.event && JSON.stringify(x.event) !== JSON.stringify(y.event))) return false;
    } else if (x.kind === 'advance' && y.kind === 'advance') {
      if (x.realtime !== y.realtime || x.virtual !== y.virtual) return false;
    } else return false;
  }
  return true;
}
