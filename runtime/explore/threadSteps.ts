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
 *    context's callbacks on the main thread, and the dispatch says so), else the thread whose
 *    step sent the message (`Envelope.thread`: a plain function call runs on its caller's thread:
 *    io.submit, io.complete, aio.bh.schedule, aio.callback.done, host.submit, ...).
 * 2. The environment is one more party (`ENVIRONMENT`): the guest and the NBD client on the far
 *    side (offers), the host completing I/O (an offer), the clock (an advance and the expiries it
 *    delivers). Its macro step is the offer or the advance with the deliveries of what it sent to
 *    actors of no thread of their own: a completion landing in a node's completion queue and the
 *    context's event notifier turning readable (host.completion, aio.handler.notify), a timer
 *    becoming expired (aio.timer.expired). That is the kernel's side of one event; a QEMU thread
 *    reads none of it until its next aio_poll. What it sends to a thread's own actor (a QMP
 *    command, a script's wake-up) is that thread's to take, at a choice point.
 * 3. QEMU starts before anything else happens: the messages the actors send as they start
 *    (the block graph, the exports' and devices' handlers, the loops' first aio_poll) and all
 *    they send in turn are the first macro step (`STARTUP`), the only one enabled until it ends.
 *    An alarm's expiry is not start-up, even one due at time zero: a scripted QMP command comes
 *    from outside.
 * 4. A macro step starts with any enabled step; its thread is the first step's (1, 2). The chain
 *    continues with the oldest enabled delivery of a message its thread sent that also runs on
 *    that thread (1), or of what the environment sent an actor of no thread (2) that the chain
 *    reaches in that actor's mailbox. A message for another thread (a context waking the
 *    IOThread's parked poll when the main thread releases its lock: an aio.dispatch with the
 *    IOThread's name; an aio.acquired granted to the main thread's monitor when the IOThread
 *    releases) stays in the mailbox: it is a choice point. The chain ends where the thread
 *    waits: a blocking aio_poll with nothing ready is parked, an aio.acquire of a lock another
 *    thread holds is parked, a call whose reply comes from another thread: no message of the
 *    chain is left to deliver.
 * 5. A thread that releases a context's lock another thread may take ends its macro step there:
 *    in QEMU 2015 the IOThread waits for the lock (RFifoLock, first come first served) and runs
 *    as soon as it is released, before the releasing thread can take it again, and the
 *    environment may have acted meanwhile (an NBD request arriving between the transaction's
 *    bdrv_drain_all and a drained_begin is admitted by the IOThread: qed's residual gap needs
 *    it). Another thread may take it when the context is another thread's home (its event loop
 *    polls it: iothread_run), or when another thread's acquire or poll of it is parked there or
 *    waits in its mailbox. The main thread releasing the main context's lock with no other thread
 *    in sight hands nothing over (bdrv_drain_all's aio_context_acquire/release of each main-loop
 *    node): the chain goes on, as the main thread does in QEMU.
 *
 * What this leaves out, on purpose: the environment acting in the middle of a chain. A thread
 * reads what the environment did only in aio_poll, and a chain's blocking poll waits for it (a
 * choice point); what is lost is a completion of I/O the chain itself submitted landing before a
 * non-blocking poll later in the same chain, that is, the host finishing a request faster than
 * QEMU runs the rest of a callback. docs/model.md says so; the soundness specs
 * (specs/runtime/explore/granularity.spec.ts) compare both granularities on the library: the
 * same verdicts, the same violated invariants, counterexamples that replay.
 */
import type { ActorSpec, Engine } from '../engine/Engine.ts';
import type { Step, World } from '../engine/World.ts';
import type { AioContextContext } from '../../machines/aioContextMachine.ts';
import type { ThreadName } from '../../machines/effects.ts';

export type Granularity = 'message' | 'thread';

export const GRANULARITIES: readonly Granularity[] = ['message', 'thread'];

/** What `explore` runs at unless told (`--granularity`). */
export const DEFAULT_GRANULARITY: Granularity = 'thread';

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

/**
 * By actor index, for each context: the thread of the event loop that polls it (rule 5 of
 * `ThreadStepper`); null for every other actor.
 */
export function homeThreadsOf(specs: readonly ActorSpec[]): PinnedThreads {
  const homes = new Map(specs.filter((s) => s.kind === 'event-loop').map((s) => [(s.input as { ctx: string }).ctx, (s.input as { thread: ThreadName }).thread]));
  return specs.map((s) => (s.kind === 'aio-context' ? (homes.get(s.name) ?? null) : null));
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

/** The party that runs the environment's macro steps (rule 2): no QEMU thread. */
export const ENVIRONMENT = 'environment';

/**
 * The party that runs QEMU's start-up (rule 3): the messages the actors send as they start, and
 * everything those deliveries send in turn, until none is left.
 */
export const STARTUP = 'startup';

const NONE: ReadonlySet<string> = new Set();

export class ThreadStepper {
  /** Scratch list of enabled steps within a macro step. */
  private readonly list: Step[] = [];

  constructor(
    private readonly engine: Engine,
    readonly pinned: PinnedThreads,
    /** By actor index: the thread whose event loop polls that context, for contexts (rule 5); null for other actors. */
    private readonly homeThreads: PinnedThreads,
    /**
     * For specs only (a mutation): messages of these types continue their sender's chain, whichever
     * thread they are for; with aio.release, a released lock does not end the chain (rule 5).
     */
    private readonly takenAsLocal: ReadonlySet<string> = NONE,
  ) {
    this.releaseEndsChain = !takenAsLocal.has('aio.release');
  }

  /** Rule 5, unless a spec's mutation takes the release as local. */
  private readonly releaseEndsChain: boolean;

  /** The party a macro step's first step runs on (rules 1 and 2). */
  firstThread(step: Step): string {
    if (step.kind !== 'deliver') return ENVIRONMENT;
    if (isStartup(step)) return STARTUP;
    return this.runsOn(step);
  }

  /**
   * Rule 3: while start-up messages are left, the only macro step: the one that starts with the
   * first of them (-1 once start-up is over).
   */
  startupStep(enabled: readonly Step[], count: number): number {
    for (let i = 0; i < count; i++) {
      const step = enabled[i];
      if (step.kind !== 'deliver') break;
      if (isStartup(step)) return i;
    }
    return -1;
  }

  /** Rule 1: the thread a delivery runs on (the environment's, for what the environment sent to actors of no thread). */
  runsOn(step: Extract<Step, { kind: 'deliver' }>): string {
    return this.pinned[step.at] ?? threadField(step) ?? (step.envelope.from === 'clock' ? ENVIRONMENT : step.envelope.thread) ?? ENVIRONMENT;
  }

  /**
   * The macro step that starts with `enabled[index]` at `world` (`count` steps enabled there).
   * Its steps are applied for real: their trace events go to the explorer, in order.
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
    let current = world;
    let step = enabled[index];
    for (;;) {
      // The messages a step of the chain sends are stamped with its thread (rule 1): a chain
      // interrupted at a choice point goes on when its thread next runs, in a later macro step.
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
      const list = this.list;
      const listed = engine.listEnabled(current, list);
      const next = this.chainDelivery(list, listed, thread, changed);
      if (next < 0) break;
      // Rule 5: the thread released a context's lock: another thread waiting for it runs now.
      if (step.kind === 'deliver' && step.envelope.event.type === 'aio.release' && thread !== STARTUP && this.releaseEndsChain && this.anotherThreadMayTake(current, step.at, thread)) break;
      indexes.push(next);
      enabledCounts.push(listed);
      step = list[next];
    }
    return { world: current, indexes, enabledCounts, changed: [...changed].sort((a, b) => a - b), alarms, time, sends: [...sends].sort((a, b) => a - b) };
  }

  /**
   * Rule 5: whether a thread other than `thread` may take the lock of the context at `at` now
   * that `thread` released it: the context is another thread's home, or another thread's
   * acquire or poll of it is parked in it or waits in its mailbox.
   */
  private anotherThreadMayTake(world: World, at: number, thread: string): boolean {
    const home = this.homeThreads[at];
    if (home !== null && home !== thread) return true;
    // Only contexts receive aio.release.
    const { parked } = world.parts[at].snapshot.context as AioContextContext;
    if (parked.some((request) => request.thread !== thread)) return true;
    const mailbox = world.mailboxes[at];
    for (let i = 0; i < mailbox.size; i++) {
      const requester = mailbox.envelopeAt(i).event.thread;
      if (typeof requester === 'string' && requester !== thread) return true;
    }
    return false;
  }

  /**
   * Rule 4: the oldest enabled delivery of a message the chain's thread sent, run on that
   * thread, or of what the environment sent an actor of no thread that the chain has touched
   * (rule 2: the kernel's side of an event that has already happened, left behind older messages
   * in that actor's mailbox; the chain takes it as it reaches it, as the actor would see it in
   * QEMU; only where the chain has been, so that what a macro step does depends on the actors it
   * touches alone, which sleep sets need); -1 if none.
   */
  private chainDelivery(list: readonly Step[], count: number, thread: string, touched: ReadonlySet<number>): number {
    // Deliveries come first in canonical order, oldest message first.
    for (let i = 0; i < count; i++) {
      const step = list[i];
      if (step.kind !== 'deliver') break;
      if (thread === STARTUP) {
        if (isStartup(step)) return i;
        continue;
      }
      const runsOn = this.runsOn(step);
      if (runsOn === thread ? step.envelope.thread === thread : runsOn === ENVIRONMENT && touched.has(step.at)) return i;
      if (this.takenAsLocal.size > 0 && step.envelope.thread === thread && this.takenAsLocal.has(step.envelope.event.type)) return i;
    }
    return -1;
  }
}

/**
 * A start-up message: sent while the actors started, or by a delivery of start-up. An alarm's
 * expiry is the clock's, even one armed for time zero as the actors start (a scripted command at
 * `at: 0` comes from outside QEMU, after start-up).
 */
function isStartup(step: Extract<Step, { kind: 'deliver' }>): boolean {
  return step.envelope.thread === STARTUP && step.envelope.from !== 'clock';
}

function threadField(step: Extract<Step, { kind: 'deliver' }>): string | null {
  const thread = step.envelope.event.thread;
  return typeof thread === 'string' ? thread : null;
}
