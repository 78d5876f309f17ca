/**
 * The effect and observation vocabulary shared by every machine.
 *
 * Machines never deliver into another actor's mailbox. They `emit` effects, and the
 * runtime carries them out at the end of the step: `fx.send` enqueues an event for a
 * named actor, `fx.alarm.*` arms or clears an entry of the engine's timer heap. They
 * also `emit` observations (`obs.*`), which the runtime turns into trace events. The
 * `fx.` and `obs.` prefixes are reserved for this, the way xstate reserves `xstate.`.
 */
import { emit, enqueueActions } from 'xstate';

/** An actor's stable name, as it appears in traces: `ctx:iothread0`, `node:drive0`. */
export type ActorName = string;

/** A thread of QEMU: the main loop thread or an IOThread. Polls and locks are per thread. */
export type ThreadName = string;

export type ClockType = 'realtime' | 'virtual';

/** Where an I/O request came from (the origins of docs/invariants.md). */
export type RequestOrigin =
  | 'external-nbd'
  | 'external-virtio'
  | 'job'
  | 'driver-timer'
  | 'txn'
  | 'internal';

export type AnyEvent = { type: string; [key: string]: unknown };

/**
 * A condition on the rest of the world that a scripted step waits for: a request the guest
 * saw complete, or a transaction (one action, or any) having entered a phase. The runtime
 * evaluates it; machines only carry it.
 */
export type Trigger =
  | { completed: string }
  | { txn: ActorName; phase: 'prepare' | 'commit' | 'abort' | 'clean'; index?: number };

export function describeTrigger(trigger: Trigger): string {
  return 'completed' in trigger
    ? `after ${trigger.completed} completed`
    : `after ${trigger.txn}${trigger.index === undefined ? '' : ` action ${trigger.index}`} entered ${trigger.phase}`;
}

export interface SendEffect {
  type: 'fx.send';
  to: ActorName;
  event: AnyEvent;
}

/**
 * Arm one entry of the engine's timer heap; when `deadline` passes on `clock`, `event` is
 * delivered to the emitter. With `relative`, the deadline counts from now (machines never read
 * the clock; the engine adds the current time).
 */
export interface AlarmSetEffect {
  type: 'fx.alarm.set';
  id: string;
  clock: ClockType;
  deadline: number;
  relative?: boolean;
  event: AnyEvent;
}

export interface AlarmClearEffect {
  type: 'fx.alarm.clear';
  id: string;
}

/** Stop or resume the guest (QMP `stop` / `cont`): the VIRTUAL clock freezes while it is stopped. */
export interface VmRunStateEffect {
  type: 'fx.vm';
  running: boolean;
}

export type Effect = SendEffect | AlarmSetEffect | AlarmClearEffect | VmRunStateEffect;

/**
 * A drain's phases: bdrv_drained_begin's call, its return, bdrv_drained_end, the one-shot
 * bdrv_drain; now era: the driver's bdrv_drain_begin/end callbacks (on 0->1 and 1->0 only) and a
 * node quiesced as a parent of a drained node (bdrv_drained_begin_no_poll: `parent.begin`/`parent.end`).
 */
export type DrainPhase = 'begin' | 'begin.returned' | 'end' | 'run' | 'run.returned' | 'driver.begin' | 'driver.end' | 'parent.begin' | 'parent.end';

/** now era: blk_root_drained_begin/end (the BlockBackend's counter), blk_wait_while_drained, the restart at drained_end. */
export type BlkPhase = 'quiesce' | 'resume' | 'queued' | 'restarted';

/** Observations: the semantic facts a machine reports; the runtime stamps them with step and time. */
export type Observation =
  | { type: 'obs.counter'; counter: string; value: number; subject?: string }
  | { type: 'obs.dispatch'; kind: 'bh' | 'handler' | 'timer'; id: string; owner: ActorName; external: boolean; thread: ThreadName }
  | { type: 'obs.poll.begin'; thread: ThreadName; blocking: boolean; depth: number }
  | { type: 'obs.poll.end'; thread: ThreadName; progress: boolean; depth: number }
  | { type: 'obs.ready'; handler: string; external: boolean }
  | { type: 'obs.io.submit'; node: ActorName; id: string; origin: RequestOrigin; op: 'read' | 'write' | 'flush'; via: string }
  | { type: 'obs.io.complete'; node: ActorName; id: string; origin: RequestOrigin }
  | { type: 'obs.drain'; phase: DrainPhase; node: ActorName; quiesce: number }
  /** now era: a BlockBackend (the client actor) quiesced or resumed through `node`, a request queued in it or restarted. */
  | { type: 'obs.blk'; phase: BlkPhase; node: ActorName; quiesce: number; id?: string; detached?: boolean }
  /** yield / resume: a coroutine command yields to the main loop while its drain bounces to a BH (bdrv_co_yield_to_drain). */
  | { type: 'obs.command'; phase: 'start' | 'yield' | 'resume' | 'end'; command: string; index: number }
  | { type: 'obs.txn'; txn: ActorName; phase: 'prepare' | 'commit' | 'abort' | 'clean' | 'transaction'; index: number; result: 'start' | 'ok' | 'failed'; error?: string }
  | { type: 'obs.pit'; action: ActorName; index: number; node: ActorName; kind: 'external-snapshot' | 'internal-snapshot' | 'backup' }
  | { type: 'obs.guest'; phase: 'issue' | 'complete'; id: string; op: 'read' | 'write' | 'flush' }
  | { type: 'obs.artifact'; action: ActorName; kind: 'internal-snapshot' | 'job' | 'overlay'; op: 'created' | 'removed' }
  | { type: 'obs.error'; message: string };

export type Emitted = Effect | Observation;

/**
 * Emits a list of effects and observations computed from a pure step function.
 * Machines with data-heavy transitions compute `{ context, emitted }` once and hand both over
 * through this one action, so the update and its effects cannot disagree.
 */
export function applyStep<TContext extends object>(
  step: (context: TContext, event: AnyEvent) => { context: TContext; emitted: readonly Emitted[] },
) {
  return enqueueActions(({ context, event, enqueue }: { context: TContext; event: AnyEvent; enqueue: any }) => {
    const result = step(context, event);
    if (result.context !== context) enqueue.assign(() => result.context);
    for (const item of result.emitted) enqueue(emit(item as any));
  });
}

/** Collects what a step emits, for pure step functions. */
export class Emitter {
  readonly emitted: Emitted[] = [];
  send(to: ActorName, event: AnyEvent): void {
    this.emitted.push({ type: 'fx.send', to, event });
  }
  alarm(id: string, clock: ClockType, deadline: number, event: AnyEvent): void {
    this.emitted.push({ type: 'fx.alarm.set', id, clock, deadline, event });
  }
  /** An alarm `delay` ns from now on `clock`. */
  alarmIn(id: string, clock: ClockType, delay: number, event: AnyEvent): void {
    this.emitted.push({ type: 'fx.alarm.set', id, clock, deadline: delay, relative: true, event });
  }
  clearAlarm(id: string): void {
    this.emitted.push({ type: 'fx.alarm.clear', id });
  }
  setVmRunning(running: boolean): void {
    this.emitted.push({ type: 'fx.vm', running });
  }
  observe(observation: Observation): void {
    this.emitted.push(observation);
  }
}

/**
 * Context fields kept sorted because their order is not behaviour (see the machines that keep
 * them): a renaming of interchangeable actors (symmetry reduction) sorts them again, as the
 * machine would have kept the renamed state.
 */
export const SORTED_CONTEXT_LISTS: Readonly<Record<string, (a: unknown, b: unknown) => number>> = {
  trackedOrder: (a, b) => compareText(a as string, b as string),
  reaped: (a, b) => compareText(a as string, b as string),
  pending: (a, b) => {
    const x = a as { node: string; id: string };
    const y = b as { node: string; id: string };
    return compareText(x.node, y.node) || compareText(x.id, y.id);
  },
};

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
