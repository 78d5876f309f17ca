/**
 * AioContext: one QEMU event loop instance (include/block/aio.h, util/async.c, util/aio-posix.c).
 *
 * It owns fd/event-notifier handlers (flagged external or internal), bottom halves, a timer list
 * per clock, the external-disable counter, and the recursive context lock. `aio.poll` runs one
 * `aio_poll` iteration in QEMU's order: one BH pass, then ready handlers (external ones skipped
 * while disabled), then expired timers. A callback runs synchronously inside `aio_poll`, so the
 * context hands each one to its owner with `aio.dispatch` and waits for `aio.callback.done`
 * before moving on; a poll that a callback starts is a nested `aio_poll` on the same thread.
 */
import { setup } from 'xstate';
import { applyStep, Emitter, type ActorName, type AnyEvent, type ClockType, type ThreadName } from './effects.ts';

export interface AioHandler {
  owner: ActorName;
  /** aio_set_fd_handler(..., is_external, ...): a source of new requests from outside the block layer. */
  external: boolean;
  /** The fd is readable / the event notifier is set. */
  ready: boolean;
}

export interface BottomHalf {
  owner: ActorName;
  scheduled: boolean;
  /** qemu_bh_schedule_idle: runs, but does not count as progress. */
  idle: boolean;
}

export interface AioTimer {
  owner: ActorName;
  clock: ClockType;
  /** Absolute deadline in ns on `clock` when it was given as one (timer_mod); null for a relative arm or when not armed. */
  deadline: number | null;
  armed: boolean;
  /** The deadline passed (the engine said so); the next poll's timer phase runs it. */
  expired: boolean;
}

export type PollPhase = 'bh' | 'handlers' | 'timers';

/** One active aio_poll call; nested calls stack up, innermost last. */
export interface PollFrame {
  thread: ThreadName;
  replyTo: ActorName;
  blocking: boolean;
  phase: PollPhase;
  /** Candidates of the current phase not yet visited, in QEMU's list order. */
  queue: readonly string[];
  progress: boolean;
  /** The callback running now; the frame waits for its `aio.callback.done`. */
  awaiting: { kind: 'bh' | 'handler' | 'timer'; id: string } | null;
}

/** A poll or lock request that cannot run yet: another thread holds the context, or a blocking poll has nothing to do. */
export interface ParkedRequest {
  kind: 'poll' | 'acquire';
  thread: ThreadName;
  replyTo: ActorName;
  blocking: boolean;
}

export interface AioContextContext {
  name: ActorName;
  /** Protection switch (series patches 1, 2, 5): when false, aio_node_check ignores the counter. */
  externalGating: boolean;
  externalDisableCount: number;
  handlers: Readonly<Record<string, AioHandler>>;
  /**
   * `handler-list`: aio_dispatch walks ctx->aio_handlers. `readiness`: aio_dispatch_ready_handlers
   * walks the ready list the fdmon built (see `DispatchOrder` in actors/topology.ts).
   */
  dispatchOrder: 'handler-list' | 'readiness';
  /** QLIST_INSERT_HEAD in aio_set_fd_handler: the newest handler is visited first. Kept (and read) only with `handler-list`. */
  handlerOrder: readonly string[];
  /** With `readiness`: the ready handlers, oldest ready first (the order the fdmon reports them); empty otherwise. */
  readyOrder: readonly string[];
  bhs: Readonly<Record<string, BottomHalf>>;
  /** `handler-list` (QEMU 2015): aio_bh_new links the new BH at the head of ctx->first_bh, and aio_bh_poll walks that list. Empty with `readiness`. */
  bhOrder: readonly string[];
  /**
   * `readiness` (QEMU 5.0's O(1) BH list): aio_bh_enqueue puts a BH at the head of ctx->bh_list
   * when qemu_bh_schedule finds it not pending, and aio_bh_poll moves the list into its slice and
   * dequeues from the head: newest scheduled first. The BHs pending, newest first; empty with
   * `handler-list`.
   */
  bhPending: readonly string[];
  timers: Readonly<Record<string, AioTimer>>;
  /**
   * The expired timers, in the order their deadlines passed. The engine fires alarms in deadline
   * order, and equal deadlines in the order they were armed, which is QEMU's list order:
   * timer_mod_ns_locked inserts a timer after every timer whose expire_time is not later.
   */
  expiredOrder: readonly string[];
  lockOwner: ThreadName | null;
  lockDepth: number;
  frames: readonly PollFrame[];
  parked: readonly ParkedRequest[];
}

export interface AioContextInput {
  name: ActorName;
  externalGating?: boolean;
  dispatchOrder?: 'handler-list' | 'readiness';
}

export type AioContextEvent =
  | { type: 'aio.handler.set'; id: string; owner: ActorName; external: boolean }
  | { type: 'aio.handler.remove'; id: string }
  | { type: 'aio.handler.notify'; id: string }
  | { type: 'aio.bh.new'; id: string; owner: ActorName; idle?: boolean }
  | { type: 'aio.bh.schedule'; id: string }
  | { type: 'aio.bh.cancel'; id: string }
  | { type: 'aio.bh.delete'; id: string }
  | { type: 'aio.timer.new'; id: string; owner: ActorName; clock: ClockType }
  /** timer_mod: an absolute `deadline`, or a `delay` from now (the owner does not read the clock). */
  | { type: 'aio.timer.mod'; id: string; deadline?: number; delay?: number }
  | { type: 'aio.timer.del'; id: string }
  /** The deadline of the timer's current arming passed (a firing for an older arming never arrives: the engine takes it back). */
  | { type: 'aio.timer.expired'; id: string }
  | { type: 'aio.external.disable' }
  | { type: 'aio.external.enable'; replyTo?: ActorName }
  | { type: 'aio.poll'; blocking: boolean; thread: ThreadName; replyTo: ActorName }
  | { type: 'aio.callback.done' }
  | { type: 'aio.acquire'; thread: ThreadName; replyTo: ActorName }
  | { type: 'aio.release'; thread: ThreadName };

type Ctx = AioContextContext;
type Result = { context: Ctx; emitted: Emitter['emitted'] };

// ---------------------------------------------------------------------------------------------
// Pure helpers: the poll as a resumable loop over the innermost frame.

/** aio_node_check: an external handler is dispatchable only while the disable counter is 0. */
function gateAllows(ctx: Ctx, handler: AioHandler): boolean {
  return !handler.external || !ctx.externalGating || ctx.externalDisableCount === 0;
}

/** What a blocking poll would find: a non-idle BH, a dispatchable ready handler, an expired timer (aio_compute_timeout == 0). */
export function hasDispatchableWork(ctx: Ctx): boolean {
  // With `readiness` the BH list holds only the pending ones; every BH is in ctx.bhs.
  const bhs = ctx.dispatchOrder === 'readiness' ? Object.keys(ctx.bhs) : ctx.bhOrder;
  for (const id of bhs) {
    const bh = ctx.bhs[id];
    if (bh.scheduled && !bh.idle) return true;
  }
  for (const id in ctx.handlers) {
    const h = ctx.handlers[id];
    if (h.ready && gateAllows(ctx, h)) return true;
  }
  for (const id in ctx.timers) if (ctx.timers[id].expired) return true;
  return false;
}

function timerQueue(ctx: Ctx): string[] {
  // timerlistgroup_run_timers: REALTIME list first, then VIRTUAL; each list in its order
  // (deadline, then arming order: see `expiredOrder`).
  const expired = ctx.expiredOrder.filter((id) => ctx.timers[id]?.expired);
  return [...expired.filter((id) => ctx.timers[id].clock === 'realtime'), ...expired.filter((id) => ctx.timers[id].clock !== 'realtime')];
}

/** `expiredOrder` without `id` (re-armed, deleted, or run). */
function notExpired(ctx: Ctx, id: string): readonly string[] {
  return ctx.expiredOrder.includes(id) ? ctx.expiredOrder.filter((x) => x !== id) : ctx.expiredOrder;
}

/**
 * The handlers one poll dispatches, in its order. handler-list: aio_dispatch_handlers walks
 * ctx->aio_handlers. readiness: aio_add_ready_handler puts each handler the fdmon reports at
 * the head of the ready list, and aio_dispatch_ready_handlers takes them from the head, so the
 * newest ready runs first.
 */
function readyHandlers(ctx: Ctx): string[] {
  if (ctx.dispatchOrder === 'readiness') return [...ctx.readyOrder].reverse();
  return ctx.handlerOrder.filter((id) => ctx.handlers[id].ready);
}

/** A handler's fd becomes readable (or is consumed); with `readiness` the ready list follows. */
function setReady(ctx: Ctx, id: string, ready: boolean): Ctx {
  const h = ctx.handlers[id];
  const handlers = { ...ctx.handlers, [id]: { ...h, ready } };
  if (ctx.dispatchOrder !== 'readiness' || h.ready === ready) return { ...ctx, handlers };
  return { ...ctx, handlers, readyOrder: ready ? [...ctx.readyOrder, id] : ctx.readyOrder.filter((r) => r !== id) };
}

function replaceTop(ctx: Ctx, frame: PollFrame): Ctx {
  return { ...ctx, frames: [...ctx.frames.slice(0, -1), frame] };
}

/** Runs the innermost frame until it dispatches a callback (and waits) or finishes. */
function resumePoll(ctx: Ctx, out: Emitter): Ctx {
  while (ctx.frames.length > 0) {
    const frame = ctx.frames[ctx.frames.length - 1];
    if (frame.awaiting) return ctx;
    const [next, ...rest] = frame.queue;
    if (next === undefined) {
      if (frame.phase === 'bh') {
        // aio_dispatch: handlers after the BH pass; readiness is re-read now.
        ctx = replaceTop(ctx, { ...frame, phase: 'handlers', queue: readyHandlers(ctx) });
      } else if (frame.phase === 'handlers') {
        ctx = replaceTop(ctx, { ...frame, phase: 'timers', queue: timerQueue(ctx) });
      } else {
        ctx = { ...ctx, frames: ctx.frames.slice(0, -1) };
        out.observe({ type: 'obs.poll.end', thread: frame.thread, progress: frame.progress, depth: ctx.frames.length });
        out.send(frame.replyTo, { type: 'aio.poll.done', ctx: ctx.name, progress: frame.progress });
      }
      continue;
    }
    ctx = replaceTop(ctx, { ...frame, queue: rest });
    if (frame.phase === 'bh') {
      const bh = ctx.bhs[next];
      if (!bh || !bh.scheduled) continue;
      // aio_bh_poll clears `scheduled` before calling the callback, so a BH that
      // reschedules itself runs again only in the next pass (test_bh_schedule10).
      ctx = { ...ctx, bhs: { ...ctx.bhs, [next]: { ...bh, scheduled: false } } };
      ctx = dispatch(ctx, out, 'bh', next, bh.owner, false, !bh.idle);
      return ctx;
    }
    if (frame.phase === 'handlers') {
      const h = ctx.handlers[next];
      if (!h || !h.ready) continue;
      // The external check is repeated at dispatch time (aio_dispatch -> aio_node_check):
      // a BH of this very poll may have disabled external clients.
      if (!gateAllows(ctx, h)) continue;
      ctx = setReady(ctx, next, false);
      ctx = dispatch(ctx, out, 'handler', next, h.owner, h.external, true);
      return ctx;
    }
    const t = ctx.timers[next];
    if (!t || !t.expired) continue;
    // timerlist_run_timers: the timer is disarmed before its callback runs.
    ctx = { ...ctx, timers: { ...ctx.timers, [next]: { ...t, expired: false, armed: false, deadline: null } }, expiredOrder: notExpired(ctx, next) };
    ctx = dispatch(ctx, out, 'timer', next, t.owner, false, true);
    return ctx;
  }
  return ctx;
}

function dispatch(
  ctx: Ctx,
  out: Emitter,
  kind: 'bh' | 'handler' | 'timer',
  id: string,
  owner: ActorName,
  external: boolean,
  progress: boolean,
): Ctx {
  const frame = ctx.frames[ctx.frames.length - 1];
  out.observe({ type: 'obs.dispatch', kind, id, owner, external, thread: frame.thread });
  out.send(owner, { type: 'aio.dispatch', ctx: ctx.name, kind, id, thread: frame.thread });
  return replaceTop(ctx, { ...frame, progress: frame.progress || progress, awaiting: { kind, id } });
}

/**
 * BH_PENDING (readiness order): on ctx->bh_list, or still in the slice of a poll under way (a
 * BH leaves the slice when aio_bh_dequeue takes it, which here is when its frame's queue moves
 * past it). qemu_bh_schedule on a pending BH only sets BH_SCHEDULED: it runs in its place.
 */
function bhIsPending(ctx: Ctx, id: string): boolean {
  return ctx.bhPending.includes(id) || ctx.frames.some((frame) => frame.phase === 'bh' && frame.queue.includes(id));
}

/** The context lock (aio_context_acquire) and the running poll both belong to one thread at a time. */
function threadMayEnter(ctx: Ctx, thread: ThreadName): boolean {
  if (ctx.lockOwner !== null && ctx.lockOwner !== thread) return false;
  const top = ctx.frames[ctx.frames.length - 1];
  return !top || top.thread === thread;
}

function startPoll(ctx: Ctx, out: Emitter, req: ParkedRequest): Ctx {
  out.observe({ type: 'obs.poll.begin', thread: req.thread, blocking: req.blocking, depth: ctx.frames.length });
  if (ctx.dispatchOrder === 'readiness') return startSlicedPoll(ctx, out, req);
  const frame: PollFrame = {
    thread: req.thread,
    replyTo: req.replyTo,
    blocking: req.blocking,
    phase: 'bh',
    queue: ctx.bhOrder.filter((id) => ctx.bhs[id].scheduled),
    progress: false,
    awaiting: null,
  };
  return resumePoll({ ...ctx, frames: [...ctx.frames, frame] }, out);
}

/**
 * QEMU 5.0's aio_bh_poll: the pending list becomes a new slice (QSLIST_MOVE_ATOMIC) at the tail
 * of ctx->bh_slice_list, and BHs are dequeued from the first slice on. A nested poll therefore
 * first finishes what the polls around it had not dequeued yet (outermost first), then its own
 * slice; the outer passes find those gone. A BH cancelled meanwhile is skipped when dequeued.
 */
function startSlicedPoll(ctx: Ctx, out: Emitter, req: ParkedRequest): Ctx {
  const outer = ctx.frames.filter((f) => f.phase === 'bh').flatMap((f) => f.queue);
  const frames = outer.length === 0 ? ctx.frames : ctx.frames.map((f) => (f.phase === 'bh' ? { ...f, queue: [] } : f));
  const frame: PollFrame = {
    thread: req.thread,
    replyTo: req.replyTo,
    blocking: req.blocking,
    phase: 'bh',
    queue: outer.length === 0 ? ctx.bhPending : [...outer, ...ctx.bhPending],
    progress: false,
    awaiting: null,
  };
  return resumePoll({ ...ctx, bhPending: [], frames: [...frames, frame] }, out);
}

function grantLock(ctx: Ctx, out: Emitter, req: ParkedRequest): Ctx {
  out.send(req.replyTo, { type: 'aio.acquired', ctx: ctx.name });
  return { ...ctx, lockOwner: req.thread, lockDepth: ctx.lockOwner === req.thread ? ctx.lockDepth + 1 : 1 };
}

/** Whether a request can be served now; a blocking poll also needs something to dispatch. */
function canServe(ctx: Ctx, req: ParkedRequest): boolean {
  if (!threadMayEnter(ctx, req.thread)) return false;
  if (req.kind === 'acquire') return true;
  return !req.blocking || hasDispatchableWork(ctx);
}

function serve(ctx: Ctx, out: Emitter, req: ParkedRequest): Ctx {
  return req.kind === 'acquire' ? grantLock(ctx, out, req) : startPoll(ctx, out, req);
}

/**
 * Wakes parked requests that can now run, oldest first: the aio_notify that ends a blocked
 * ppoll, or the lock that another thread released. Only one poll runs at a time, so waking
 * stops at the first poll started that waits for a callback.
 */
function wakeParked(ctx: Ctx, out: Emitter): Ctx {
  let progressed = true;
  while (progressed) {
    progressed = false;
    for (let i = 0; i < ctx.parked.length; i++) {
      const req = ctx.parked[i];
      if (!canServe(ctx, req)) continue;
      ctx = { ...ctx, parked: [...ctx.parked.slice(0, i), ...ctx.parked.slice(i + 1)] };
      ctx = serve(ctx, out, req);
      progressed = true;
      break;
    }
  }
  return ctx;
}

function request(ctx: Ctx, out: Emitter, req: ParkedRequest): Ctx {
  if (canServe(ctx, req)) return serve(ctx, out, req);
  return { ...ctx, parked: [...ctx.parked, req] };
}

/** The whole transition function of the context's data; the statechart adds named states around it. */
export function aioContextStep(ctx: Ctx, event: AnyEvent): Result {
  const out = new Emitter();
  const e = event as AioContextEvent;
  switch (e.type) {
    case 'aio.handler.set':
      ctx = {
        ...ctx,
        handlers: { ...ctx.handlers, [e.id]: { owner: e.owner, external: e.external, ready: ctx.handlers[e.id]?.ready ?? false } },
        handlerOrder: ctx.handlers[e.id] || ctx.dispatchOrder === 'readiness' ? ctx.handlerOrder : [e.id, ...ctx.handlerOrder],
      };
      break;
    case 'aio.handler.remove': {
      const { [e.id]: _removed, ...handlers } = ctx.handlers;
      ctx = { ...ctx, handlers, handlerOrder: ctx.handlerOrder.filter((id) => id !== e.id), readyOrder: ctx.readyOrder.filter((id) => id !== e.id) };
      break;
    }
    case 'aio.handler.notify': {
      const h = ctx.handlers[e.id];
      if (!h) {
        out.observe({ type: 'obs.error', message: `${ctx.name}: notify for unknown handler '${e.id}'` });
        break;
      }
      out.observe({ type: 'obs.ready', handler: e.id, external: h.external });
      ctx = setReady(ctx, e.id, true);
      break;
    }
    case 'aio.bh.new':
      ctx = {
        ...ctx,
        bhs: { ...ctx.bhs, [e.id]: { owner: e.owner, scheduled: false, idle: e.idle ?? false } },
        bhOrder: ctx.bhs[e.id] || ctx.dispatchOrder === 'readiness' ? ctx.bhOrder : [e.id, ...ctx.bhOrder],
      };
      break;
    case 'aio.bh.schedule':
    case 'aio.bh.cancel': {
      const bh = ctx.bhs[e.id];
      if (!bh) {
        out.observe({ type: 'obs.error', message: `${ctx.name}: ${e.type} for unknown bottom half '${e.id}'` });
        break;
      }
      ctx = { ...ctx, bhs: { ...ctx.bhs, [e.id]: { ...bh, scheduled: e.type === 'aio.bh.schedule' } } };
      if (e.type === 'aio.bh.schedule' && ctx.dispatchOrder === 'readiness' && !bhIsPending(ctx, e.id)) ctx = { ...ctx, bhPending: [e.id, ...ctx.bhPending] };
      break;
    }
    case 'aio.bh.delete': {
      const { [e.id]: _deleted, ...bhs } = ctx.bhs;
      ctx = { ...ctx, bhs, bhOrder: ctx.bhOrder.filter((id) => id !== e.id), bhPending: ctx.bhPending.filter((id) => id !== e.id) };
      break;
    }
    case 'aio.timer.new':
      ctx = { ...ctx, timers: { ...ctx.timers, [e.id]: { owner: e.owner, clock: e.clock, deadline: null, armed: false, expired: false } } };
      break;
    case 'aio.timer.mod': {
      const t = ctx.timers[e.id];
      if (!t) {
        out.observe({ type: 'obs.error', message: `${ctx.name}: timer_mod on unknown timer '${e.id}'` });
        break;
      }
      ctx = { ...ctx, timers: { ...ctx.timers, [e.id]: { ...t, deadline: e.deadline ?? null, armed: true, expired: false } }, expiredOrder: notExpired(ctx, e.id) };
      const expired = { type: 'aio.timer.expired', id: e.id };
      if (e.deadline !== undefined) out.alarm(`${ctx.name}/${e.id}`, t.clock, e.deadline, expired);
      else out.alarmIn(`${ctx.name}/${e.id}`, t.clock, e.delay ?? 0, expired);
      break;
    }
    case 'aio.timer.del': {
      const t = ctx.timers[e.id];
      if (!t) break;
      ctx = { ...ctx, timers: { ...ctx.timers, [e.id]: { ...t, deadline: null, armed: false, expired: false } }, expiredOrder: notExpired(ctx, e.id) };
      out.clearAlarm(`${ctx.name}/${e.id}`);
      break;
    }
    case 'aio.timer.expired': {
      const t = ctx.timers[e.id];
      // Only a firing of the current arming arrives (the engine takes back superseded ones); a
      // timer no longer armed ignores it all the same.
      if (!t || !t.armed) break;
      ctx = { ...ctx, timers: { ...ctx.timers, [e.id]: { ...t, expired: true } }, expiredOrder: [...notExpired(ctx, e.id), e.id] };
      break;
    }
    case 'aio.external.disable':
      // aio_disable_external: atomic_inc(&ctx->external_disable_cnt)
      ctx = { ...ctx, externalDisableCount: ctx.externalDisableCount + 1 };
      out.observe({ type: 'obs.counter', counter: 'externalDisableCount', value: ctx.externalDisableCount });
      break;
    case 'aio.external.enable':
      // aio_enable_external asserts the counter is positive; the model reports instead of aborting.
      if (ctx.externalDisableCount === 0) {
        out.observe({ type: 'obs.error', message: `${ctx.name}: aio_enable_external with externalDisableCount=0` });
        break;
      }
      ctx = { ...ctx, externalDisableCount: ctx.externalDisableCount - 1 };
      out.observe({ type: 'obs.counter', counter: 'externalDisableCount', value: ctx.externalDisableCount });
      // A direct call in QEMU: the caller continues once the counter is down.
      if (e.replyTo) out.send(e.replyTo, { type: 'aio.external.enabled', ctx: ctx.name });
      break;
    case 'aio.poll':
      ctx = request(ctx, out, { kind: 'poll', thread: e.thread, replyTo: e.replyTo, blocking: e.blocking });
      break;
    case 'aio.callback.done': {
      const top = ctx.frames[ctx.frames.length - 1];
      if (!top || !top.awaiting) {
        out.observe({ type: 'obs.error', message: `${ctx.name}: aio.callback.done with no callback running` });
        break;
      }
      ctx = resumePoll(replaceTop(ctx, { ...top, awaiting: null }), out);
      break;
    }
    case 'aio.acquire':
      ctx = request(ctx, out, { kind: 'acquire', thread: e.thread, replyTo: e.replyTo, blocking: false });
      break;
    case 'aio.release':
      if (ctx.lockOwner !== e.thread) {
        out.observe({ type: 'obs.error', message: `${ctx.name}: aio_context_release by ${e.thread}, lock held by ${ctx.lockOwner ?? 'nobody'}` });
        break;
      }
      ctx = ctx.lockDepth > 1 ? { ...ctx, lockDepth: ctx.lockDepth - 1 } : { ...ctx, lockOwner: null, lockDepth: 0 };
      break;
  }
  // Anything above may have made a parked request runnable (aio_notify / lock release).
  if (ctx.parked.length > 0) ctx = wakeParked(ctx, out);
  return { context: ctx, emitted: out.emitted };
}

const ALL_EVENTS = [
  'aio.handler.set',
  'aio.handler.remove',
  'aio.handler.notify',
  'aio.bh.new',
  'aio.bh.schedule',
  'aio.bh.cancel',
  'aio.bh.delete',
  'aio.timer.new',
  'aio.timer.mod',
  'aio.timer.del',
  'aio.timer.expired',
  'aio.poll',
  'aio.callback.done',
  'aio.acquire',
  'aio.release',
] as const;

const applyEvent = { actions: 'applyEvent' } as const;

export const aioContextMachine = setup({
  types: {
    context: {} as AioContextContext,
    input: {} as AioContextInput,
    events: {} as AioContextEvent,
  },
  actions: {
    applyEvent: applyStep(aioContextStep) as any,
  },
  guards: {
    isLastDisable: ({ context }) => context.externalDisableCount === 1,
    isPolling: ({ context }) => context.frames.length > 0,
    isIdle: ({ context }) => context.frames.length === 0,
  },
}).createMachine({
  id: 'aioContext',
  description: 'AioContext (util/async.c, util/aio-posix.c): handlers, BHs, timers, aio_poll, external gate',
  type: 'parallel',
  context: ({ input }) => ({
    name: input.name,
    externalGating: input.externalGating ?? true,
    externalDisableCount: 0,
    dispatchOrder: input.dispatchOrder ?? 'handler-list',
    handlers: {},
    handlerOrder: [],
    readyOrder: [],
    bhs: {},
    bhOrder: [],
    bhPending: [],
    timers: {},
    expiredOrder: [],
    lockOwner: null,
    lockDepth: 0,
    frames: [],
    parked: [],
  }),
  states: {
    external: {
      description: 'The external-client gate: aio_disable_external / aio_enable_external with a nesting counter',
      initial: 'enabled',
      states: {
        enabled: {
          on: {
            'aio.external.disable': { target: 'disabled', actions: 'applyEvent' },
            // Not drained: applyEvent reports the unbalanced enable as an error observation.
            'aio.external.enable': applyEvent,
          },
        },
        disabled: {
          on: {
            'aio.external.disable': applyEvent,
            'aio.external.enable': [
              { guard: 'isLastDisable', target: 'enabled', actions: 'applyEvent' },
              { actions: 'applyEvent' },
            ],
          },
        },
      },
    },
    loop: {
      description: 'aio_poll: idle, or running an iteration (BH pass, handlers, timers) of one or more nested calls',
      initial: 'idle',
      states: {
        idle: {
          always: [{ guard: 'isPolling', target: 'polling' }],
        },
        polling: {
          always: [{ guard: 'isIdle', target: 'idle' }],
        },
      },
      on: Object.fromEntries(ALL_EVENTS.map((type) => [type, applyEvent])),
    },
  },
});
