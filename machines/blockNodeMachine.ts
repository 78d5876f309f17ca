/**
 * Block node (BlockDriverState, block.c / block/io.c, 2015).
 *
 * A node has a driver, optional children (file, backing), one AioContext, a list of tracked
 * requests and a quiesce counter. Requests from a device or export use the AIO interface
 * (bdrv_aio_*), so their completion reaches the submitter through a bottom half
 * (bdrv_co_em_bh); requests between nodes complete directly. A protocol node (`file`) hands
 * its requests to host storage and reaps completions from its linux-aio event notifier, an
 * internal handler (block/linux-aio.c).
 *
 * Drained sections are the explicit states `running -> draining -> drained`:
 * `drain.begin` is bdrv_drained_begin (0->1 disables external clients of the context, then
 * bdrv_drain), `drain.end` is bdrv_drained_end (1->0 re-enables), `drain.run` is the one-shot
 * bdrv_drain: run the driver hook on the node and its children (bdrv_drain_recurse), then poll
 * while requests are pending or a poll made progress.
 *
 * In the `now` era (QEMU 8.1 on: block/io.c after the 2022 drain rework and the 2023 removal of
 * aio_disable_external) the same states run another drain: `drain.begin` on 0->1 calls every
 * parent's drained_begin (bdrv_parent_drained_begin: BlockBackends, block jobs, parent nodes,
 * each answering when its callback returned), then the driver's bdrv_drain_begin, and polls
 * (BDRV_POLL_WHILE with bdrv_drain_poll_top_level: non-blocking polls until none makes
 * progress, then a blocking one while the node has requests in flight or a parent reports
 * itself busy). `drain.end` on 1->0 calls the parents' drained_end. Children are not drained;
 * no context is gated. A node drained as the parent of a drained node (`parent.drained_begin`,
 * bdrv_drained_begin_no_poll) quiesces its own parents in turn and does not poll.
 */
import { setup } from 'xstate';
import { applyStep, Emitter, SORTED_CONTEXT_LISTS, type ActorName, type AnyEvent, type RequestOrigin, type ThreadName } from './effects.ts';
import type { Era } from './transactionMachine.ts';

export type DriverName = 'file' | 'raw' | 'qcow2' | 'qed' | 'iscsi' | 'curl' | 'nbd';

export interface TrackedRequest {
  /** qed: a guest write that allocates (every guest write is taken as allocating). */
  allocating?: boolean;
  origin: RequestOrigin;
  op: 'read' | 'write' | 'flush';
  replyTo: ActorName;
  /** Submitted through bdrv_aio_*: completion goes through a BH of the node's context. */
  aio: boolean;
}

export interface DrainRun {
  kind: 'begin' | 'run';
  thread: ThreadName;
  replyTo: ActorName;
  /** now: `parents` while the parents' drained_begin callbacks run. */
  stage: 'hooks' | 'parents' | 'polling';
  /** Children whose drain hook has not answered yet. */
  hooksOutstanding: number;
  /**
   * 2015: bdrv_requests_pending(bs) read before the poll that is running now. now: the poll
   * running is the blocking one (not one of bdrv_drain_poll_top_level's non-blocking polls).
   */
  busyBeforePoll: boolean;
}

/**
 * now: a round of calls to every parent's drained_begin or drained_end, waiting for each to
 * return (`parent.drained.done`), and what the node does once they all have.
 */
export interface ParentRound {
  outstanding: number;
  /** `poll`: bdrv_drain_begin, then poll (drain.begin); `end`: answer drain.end; `run-end`: answer drain.run; `parent-begin`/`parent-end`: answer the child that quiesced this node. */
  then: 'poll' | 'end' | 'run-end' | 'parent-begin' | 'parent-end';
  replyTo: ActorName | null;
}

/** A child asked to run its drain hook (bdrv_drain_recurse), waiting for its own children. */
export interface HookCall {
  replyTo: ActorName;
  outstanding: number;
}

export interface BlockNodeContext {
  name: ActorName;
  driver: DriverName;
  ctx: ActorName;
  children: Readonly<Partial<Record<'file' | 'backing', ActorName>>>;
  parents: readonly ActorName[];
  host: ActorName;
  tracked: Readonly<Record<string, TrackedRequest>>;
  /** The ids of `tracked`, sorted (see `track`). */
  trackedOrder: readonly string[];
  /** Completions reaped from the host, waiting for the linux-aio handler to be dispatched. */
  reaped: readonly string[];
  /** Completions waiting for the completion BH (bdrv_co_em_bh), with the submitter to call back. */
  completionQueue: readonly { id: string; replyTo: ActorName; origin: RequestOrigin }[];
  quiesceCounter: number;
  /** Per child: the child (or one of its descendants) has requests pending. */
  childBusy: Readonly<Record<ActorName, boolean>>;
  drain: DrainRun | null;
  hookCalls: readonly HookCall[];
  /** drained_end waiting for aio_enable_external to return, then answering this caller. */
  endReplyTo: ActorName | null;
  /** qed's need-check state (block/qed.c); null for other drivers. */
  qed: QedState | null;
  /** Protection switch (patches 11-12): qed's .bdrv_drain hook. */
  drainHook: boolean;
  /** bdrv_add_before_write_notifier: the backup job that must copy old data before a guest write proceeds. */
  beforeWrite: ActorName | null;
  /** Guest writes tracked but held until the job's copy-before-write is done. */
  held: readonly string[];
  /** Driver timers that do no block I/O (qcow2 cache clean, iscsi NOP/event, curl multi), with firings left. */
  housekeeping: Readonly<Record<string, { firings: number; interval: number }>>;
  /** `2015` (aio_disable_external on the context) or `now` (parents' drained callbacks). */
  era: Era;
  /**
   * now: the parents attached to this node (bs->parents whose BdrvChildClass has drained
   * callbacks: BlockBackends, block jobs, parent nodes), each with what its drained_poll would
   * answer now (busy), kept current by the parent itself (`parent.busy`).
   */
  parentLinks: Readonly<Record<ActorName, boolean>>;
  /** now: parent callback rounds under way, innermost last. */
  rounds: readonly ParentRound[];
}

/** block/qed.c: the NEED_CHECK header bit, allocating writes in flight, the need-check timer and its flush sequence. */
export interface QedState {
  needCheck: boolean;
  allocating: number;
  timerArmed: boolean;
  /** qed_need_check_timer_cb's sequence: flush, write the header with the bit clear, flush. */
  step: null | 'flush' | 'header' | 'flush-again';
}

/** A driver timer that does no block-layer I/O (iscsi, curl, qcow2 cache clean: docs/patches/11-bdrv-drain-callback.md). */
export interface HousekeepingTimer {
  kind: 'qcow2-cache-clean' | 'iscsi-nop' | 'iscsi-event' | 'curl-multi';
  interval: number;
  firings: number;
}

export interface BlockNodeInput {
  name: ActorName;
  driver: DriverName;
  ctx: ActorName;
  children?: Partial<Record<'file' | 'backing', ActorName>>;
  parents?: readonly ActorName[];
  host?: ActorName;
  drainHook?: boolean;
  timers?: readonly HousekeepingTimer[];
  era?: Era;
  /** now: the parents attached when QEMU starts (BlockBackends and parent nodes), by name. */
  parentLinks?: readonly ActorName[];
}

/** qed arms its need-check timer this long after the last allocating write (QED_NEED_CHECK_TIMEOUT, VIRTUAL clock). */
export const QED_NEED_CHECK_NS = 5_000_000_000;
export const qedTimerId = (node: ActorName) => `timer:qed-need-check:${node}`;
export const housekeepingTimerId = (node: ActorName, kind: HousekeepingTimer['kind']) => `timer:${kind}:${node}`;

export type BlockNodeEvent =
  | { type: 'io.submit'; id: string; origin: RequestOrigin; op: 'read' | 'write' | 'flush'; replyTo: ActorName; aio: boolean }
  | { type: 'io.complete'; id: string; node: ActorName; origin: RequestOrigin }
  | { type: 'host.completion'; id: string; origin: RequestOrigin }
  | { type: 'aio.dispatch'; ctx: ActorName; kind: 'bh' | 'handler' | 'timer'; id: string; thread: ThreadName }
  | { type: 'aio.poll.done'; ctx: ActorName; progress: boolean }
  | { type: 'node.busy'; child: ActorName; busy: boolean }
  | { type: 'drain.begin'; thread: ThreadName; replyTo: ActorName }
  | { type: 'drain.end'; thread: ThreadName; replyTo: ActorName }
  | { type: 'drain.run'; thread: ThreadName; replyTo: ActorName }
  | { type: 'drain.hook'; replyTo: ActorName }
  | { type: 'drain.hook.done'; node: ActorName }
  | { type: 'aio.external.enabled'; ctx: ActorName }
  | { type: 'node.notifier.add' | 'node.notifier.remove'; job: ActorName }
  | { type: 'job.before_write.done'; id: string }
  | { type: 'parent.drained_begin' | 'parent.drained_end'; node: ActorName; replyTo?: ActorName; detach?: boolean }
  | { type: 'parent.drained.done'; parent: ActorName }
  /** ack: answer `parent.attached` (to replyTo, else the parent) once the parent is linked and, if this node is drained, quiesced. */
  | { type: 'parent.attach'; parent: ActorName; busy: boolean; ack?: boolean; replyTo?: ActorName }
  | { type: 'parent.detach'; parent: ActorName; replyTo?: ActorName }
  | { type: 'parent.busy'; parent: ActorName; busy: boolean };

type Ctx = BlockNodeContext;

export const laioHandlerId = (node: ActorName) => `laio:${node}`;
export const completionBhId = (node: ActorName) => `bh:complete:${node}`;
/** now: the bottom half aio_wait_kick schedules to wake a drain waiting in a blocking poll. */
export const kickBhId = (node: ActorName) => `bh:aio-wait-kick:${node}`;

const isProtocolDriver = (driver: DriverName) => driver === 'file' || driver === 'iscsi' || driver === 'curl' || driver === 'nbd';

function isBusy(ctx: Ctx): boolean {
  if (ctx.trackedOrder.length > 0) return true;
  for (const child in ctx.childBusy) if (ctx.childBusy[child]) return true;
  return false;
}

/** Keeps the parents' view of this subtree's pending requests current (bdrv_requests_pending recurses into children). */
function reportBusyChange(before: boolean, ctx: Ctx, out: Emitter): void {
  const after = isBusy(ctx);
  if (before === after) return;
  for (const parent of ctx.parents) out.send(parent, { type: 'node.busy', child: ctx.name, busy: after });
}

function track(ctx: Ctx, id: string, req: TrackedRequest): Ctx {
  // Kept sorted: only the count is read (bdrv_requests_pending), so two states that differ only
  // in the order requests were submitted are one state.
  return { ...ctx, tracked: { ...ctx.tracked, [id]: req }, trackedOrder: [...ctx.trackedOrder, id].sort(SORTED_CONTEXT_LISTS.trackedOrder) };
}

function untrack(ctx: Ctx, id: string): Ctx {
  const { [id]: _done, ...tracked } = ctx.tracked;
  return { ...ctx, tracked, trackedOrder: ctx.trackedOrder.filter((t) => t !== id) };
}

/** tracked_request_end, then the completion: directly to a parent node, or through the completion BH. */
function completeRequest(ctx: Ctx, out: Emitter, id: string): Ctx {
  const req = ctx.tracked[id];
  if (!req) {
    out.observe({ type: 'obs.error', message: `${ctx.name}: completion for unknown request '${id}'` });
    return ctx;
  }
  ctx = untrack(ctx, id);
  out.observe({ type: 'obs.io.complete', node: ctx.name, id, origin: req.origin });
  out.observe({ type: 'obs.counter', counter: 'inFlight', value: ctx.trackedOrder.length });
  if (req.replyTo === ctx.name) return qedContinue(ctx, out);
  if (req.allocating && ctx.qed) ctx = qedAllocatingWriteDone(ctx, out);
  if (!req.aio) {
    out.send(req.replyTo, { type: 'io.complete', id, node: ctx.name, origin: req.origin });
    return ctx;
  }
  if (ctx.completionQueue.length === 0) out.send(ctx.ctx, { type: 'aio.bh.schedule', id: completionBhId(ctx.name) });
  return { ...ctx, completionQueue: [...ctx.completionQueue, { id, replyTo: req.replyTo, origin: req.origin }] };
}

/** The driver's request function: down to the file child, or (a protocol node) to the host via linux-aio. */
function forward(ctx: Ctx, out: Emitter, id: string): void {
  const req = ctx.tracked[id];
  const child = ctx.children.file;
  if (child) {
    out.send(child, { type: 'io.submit', id, origin: req.origin, op: req.op, replyTo: ctx.name, aio: false });
  } else {
    // laio_submit: the request goes to the host; the kernel signals the event notifier when it completes.
    out.send(ctx.host, { type: 'host.submit', id, node: ctx.name, op: req.op, origin: req.origin, ctx: ctx.ctx, handler: laioHandlerId(ctx.name) });
  }
}

function startPoll(ctx: Ctx, out: Emitter): Ctx {
  const drain = ctx.drain!;
  const busy = isBusy(ctx);
  out.send(ctx.ctx, { type: 'aio.poll', blocking: busy, thread: drain.thread, replyTo: ctx.name });
  return { ...ctx, drain: { ...drain, stage: 'polling', busyBeforePoll: busy } };
}

/** bdrv_drain: hook on this node and (bdrv_drain_recurse) on every child, then the poll loop. */
function startDrain(ctx: Ctx, out: Emitter, kind: DrainRun['kind'], thread: ThreadName, replyTo: ActorName): Ctx {
  const children = Object.values(ctx.children) as ActorName[];
  ctx = runDriverHook(ctx, out);
  for (const child of children) out.send(child, { type: 'drain.hook', replyTo: ctx.name });
  ctx = { ...ctx, drain: { kind, thread, replyTo, stage: 'hooks', hooksOutstanding: children.length, busyBeforePoll: false } };
  return children.length === 0 ? startPoll(ctx, out) : ctx;
}

/**
 * BlockDriver.bdrv_drain (patch 11), run on every drain of the node: qed's (patch 12, in the
 * form that lasted) cancels a pending need-check timer and runs its work now, so the drain's
 * polling waits for that I/O instead of the timer firing inside the section.
 */
function runDriverHook(ctx: Ctx, out: Emitter): Ctx {
  if (!ctx.qed || !ctx.drainHook || !ctx.qed.timerArmed) return ctx;
  out.send(ctx.ctx, { type: 'aio.timer.del', id: qedTimerId(ctx.name) });
  return qedStartCheckClear({ ...ctx, qed: { ...ctx.qed, timerArmed: false } }, out);
}

/** qed_start_allocating_write / qed_aio_write_alloc: the bit is set and a pending timer is cancelled. */
function qedAllocatingWriteStarts(ctx: Ctx, out: Emitter): Ctx {
  const qed = ctx.qed!;
  if (qed.timerArmed) out.send(ctx.ctx, { type: 'aio.timer.del', id: qedTimerId(ctx.name) });
  return { ...ctx, qed: { ...qed, needCheck: true, allocating: qed.allocating + 1, timerArmed: false } };
}

/** The last allocating write finished with the bit set: arm the need-check timer (VIRTUAL, 5 s). */
function qedAllocatingWriteDone(ctx: Ctx, out: Emitter): Ctx {
  const qed = { ...ctx.qed!, allocating: ctx.qed!.allocating - 1 };
  if (qed.allocating === 0 && qed.needCheck && qed.step === null && !qed.timerArmed) {
    out.send(ctx.ctx, { type: 'aio.timer.mod', id: qedTimerId(ctx.name), delay: QED_NEED_CHECK_NS });
    qed.timerArmed = true;
  }
  return { ...ctx, qed };
}

/** qed_need_check_timer_cb: flush, clear the bit in the header, flush; the driver's own I/O. */
function qedStartCheckClear(ctx: Ctx, out: Emitter): Ctx {
  return qedIssue({ ...ctx, qed: { ...ctx.qed!, step: 'flush' } }, out);
}

function qedIssue(ctx: Ctx, out: Emitter): Ctx {
  const qed = ctx.qed!;
  const op = qed.step === 'header' ? 'write' : 'flush';
  // The id names the request's role, not its run: one sequence runs at a time (the timer is
  // armed only while none runs), and a run counter would tell apart states that differ only in
  // how often the timer ran. QEMU's tracked requests have no ids at all.
  const id = `${ctx.name}/need-check/${qed.step}`;
  // The driver's own request: tracked on this node (so a drain waits for it), served by the file child.
  ctx = track(ctx, id, { origin: 'driver-timer', op, replyTo: ctx.name, aio: false });
  out.observe({ type: 'obs.io.submit', node: ctx.name, id, origin: 'driver-timer', op, via: ctx.name });
  out.observe({ type: 'obs.counter', counter: 'inFlight', value: ctx.trackedOrder.length });
  const child = ctx.children.file;
  if (child) out.send(child, { type: 'io.submit', id, origin: 'driver-timer', op, replyTo: ctx.name, aio: false });
  else out.send(ctx.host, { type: 'host.submit', id, node: ctx.name, op, origin: 'driver-timer', ctx: ctx.ctx, handler: laioHandlerId(ctx.name) });
  return ctx;
}

function qedContinue(ctx: Ctx, out: Emitter): Ctx {
  const qed = ctx.qed!;
  const next = qed.step === 'flush' ? 'header' : qed.step === 'header' ? 'flush-again' : null;
  if (next === null) return { ...ctx, qed: { ...qed, step: null, needCheck: false } };
  return qedIssue({ ...ctx, qed: { ...qed, step: next } }, out);
}

function finishDrain(ctx: Ctx, out: Emitter): Ctx {
  const drain = ctx.drain!;
  if (drain.kind === 'begin') {
    out.observe({ type: 'obs.drain', phase: 'begin.returned', node: ctx.name, quiesce: ctx.quiesceCounter });
    out.send(drain.replyTo, { type: 'drain.begin.done', node: ctx.name });
  } else {
    out.observe({ type: 'obs.drain', phase: 'run.returned', node: ctx.name, quiesce: ctx.quiesceCounter });
    out.send(drain.replyTo, { type: 'drain.done', node: ctx.name });
  }
  return { ...ctx, drain: null };
}

// ---------------------------------------------------------------------------------------------
// The now era's drain (block/io.c, QEMU 8.1 on).

/** What bdrv_drain_poll answers for the node: requests in flight on it (bs->in_flight) or a busy parent. */
function nowBusy(ctx: Ctx): boolean {
  if (ctx.trackedOrder.length > 0) return true;
  for (const parent in ctx.parentLinks) if (ctx.parentLinks[parent]) return true;
  return false;
}

/** bdrv_parent_drained_begin / bdrv_parent_drained_end: every parent's callback, each awaited; then `then`. */
function callParents(ctx: Ctx, out: Emitter, which: 'begin' | 'end', then: ParentRound['then'], replyTo: ActorName | null): Ctx {
  const parents = Object.keys(ctx.parentLinks).sort();
  for (const parent of parents) out.send(parent, { type: `parent.drained_${which}`, node: ctx.name, replyTo: ctx.name });
  const round: ParentRound = { outstanding: parents.length, then, replyTo };
  return parents.length === 0 ? finishRound(ctx, out, round) : { ...ctx, rounds: [...ctx.rounds, round] };
}

function finishRound(ctx: Ctx, out: Emitter, round: ParentRound): Ctx {
  switch (round.then) {
    case 'poll':
      return nowPoll(nowDriverBegin(ctx, out), out, false);
    case 'end':
      if (round.replyTo) out.send(round.replyTo, { type: 'drain.end.done', node: ctx.name });
      return ctx;
    case 'run-end':
      out.observe({ type: 'obs.drain', phase: 'run.returned', node: ctx.name, quiesce: ctx.quiesceCounter });
      if (round.replyTo) out.send(round.replyTo, { type: 'drain.done', node: ctx.name });
      return ctx;
    case 'parent-begin':
      ctx = nowDriverBegin(ctx, out);
      if (round.replyTo) out.send(round.replyTo, { type: 'parent.drained.done', parent: ctx.name });
      return ctx;
    case 'parent-end':
      if (round.replyTo) out.send(round.replyTo, { type: 'parent.drained.done', parent: ctx.name });
      return ctx;
  }
}

/**
 * The driver's bdrv_drain_begin, on the quiesce 0->1 only: qed's (bdrv_qed_drain_begin) runs
 * a pending need-check timer's work now, so the drain's polling waits for it.
 */
function nowDriverBegin(ctx: Ctx, out: Emitter): Ctx {
  if (!ctx.qed || !ctx.drainHook) return ctx;
  out.observe({ type: 'obs.drain', phase: 'driver.begin', node: ctx.name, quiesce: ctx.quiesceCounter });
  return runDriverHook(ctx, out);
}

/** BDRV_POLL_WHILE(bs, bdrv_drain_poll_top_level(bs)): a non-blocking poll, or (`blocking`) the blocking one. */
function nowPoll(ctx: Ctx, out: Emitter, blocking: boolean): Ctx {
  const drain = ctx.drain!;
  out.send(ctx.ctx, { type: 'aio.poll', blocking, thread: drain.thread, replyTo: ctx.name });
  return { ...ctx, drain: { ...drain, stage: 'polling', busyBeforePoll: blocking } };
}

/** drained_begin has polled the node quiet: it returns (drain.run goes on to its drained_end). */
function nowFinishDrain(ctx: Ctx, out: Emitter): Ctx {
  const drain = ctx.drain!;
  out.observe({ type: 'obs.drain', phase: 'begin.returned', node: ctx.name, quiesce: ctx.quiesceCounter });
  ctx = { ...ctx, drain: null };
  if (drain.kind === 'begin') {
    out.send(drain.replyTo, { type: 'drain.begin.done', node: ctx.name });
    return ctx;
  }
  // bdrv_drain: bdrv_drained_begin, then bdrv_drained_end.
  return nowEnd(ctx, out, 'run-end', drain.replyTo);
}

function nowEnd(ctx: Ctx, out: Emitter, then: 'end' | 'run-end', replyTo: ActorName): Ctx {
  ctx = { ...ctx, quiesceCounter: ctx.quiesceCounter - 1 };
  out.observe({ type: 'obs.drain', phase: 'end', node: ctx.name, quiesce: ctx.quiesceCounter });
  out.observe({ type: 'obs.counter', counter: 'quiesceCounter', value: ctx.quiesceCounter });
  if (ctx.quiesceCounter === 0) return callParents(ctx, out, 'end', then, replyTo);
  return finishRound(ctx, out, { outstanding: 0, then, replyTo });
}

/** bdrv_do_drained_begin: quiesce_counter++, and on 0->1 the parents' drained_begin and the driver's. */
function nowBegin(ctx: Ctx, out: Emitter, kind: DrainRun['kind'], thread: ThreadName, replyTo: ActorName): Ctx {
  ctx = { ...ctx, quiesceCounter: ctx.quiesceCounter + 1 };
  out.observe({ type: 'obs.drain', phase: 'begin', node: ctx.name, quiesce: ctx.quiesceCounter });
  out.observe({ type: 'obs.counter', counter: 'quiesceCounter', value: ctx.quiesceCounter });
  ctx = { ...ctx, drain: { kind, thread, replyTo, stage: 'parents', hooksOutstanding: 0, busyBeforePoll: false } };
  if (ctx.quiesceCounter === 1) return callParents(ctx, out, 'begin', 'poll', null);
  return nowPoll(ctx, out, false);
}

/** The now era's events; null for those both eras handle alike. */
function nowStep(ctx: Ctx, e: BlockNodeEvent, out: Emitter): Ctx | null {
  switch (e.type) {
    case 'drain.begin':
      return nowBegin(ctx, out, 'begin', e.thread, e.replyTo);
    case 'drain.run':
      return nowBegin(ctx, out, 'run', e.thread, e.replyTo);
    case 'drain.end':
      if (ctx.quiesceCounter === 0) {
        out.observe({ type: 'obs.error', message: `Cannot end drain on ${ctx.name}: not drained (quiesceCounter=0)` });
        out.send(e.replyTo, { type: 'drain.end.done', node: ctx.name, error: 'not drained' });
        return ctx;
      }
      return nowEnd(ctx, out, 'end', e.replyTo);
    case 'parent.drained_begin':
      // bdrv_child_cb_drained_begin -> bdrv_drained_begin_no_poll: this node is a parent of a drained one.
      ctx = { ...ctx, quiesceCounter: ctx.quiesceCounter + 1 };
      out.observe({ type: 'obs.drain', phase: 'parent.begin', node: ctx.name, quiesce: ctx.quiesceCounter });
      out.observe({ type: 'obs.counter', counter: 'quiesceCounter', value: ctx.quiesceCounter });
      if (ctx.quiesceCounter === 1) return callParents(ctx, out, 'begin', 'parent-begin', e.replyTo ?? null);
      return finishRound(ctx, out, { outstanding: 0, then: 'parent-end', replyTo: e.replyTo ?? null });
    case 'parent.drained_end':
      if (ctx.quiesceCounter === 0) {
        out.observe({ type: 'obs.error', message: `Cannot end drain on ${ctx.name}: not drained (quiesceCounter=0)` });
        return finishRound(ctx, out, { outstanding: 0, then: 'parent-end', replyTo: e.replyTo ?? null });
      }
      ctx = { ...ctx, quiesceCounter: ctx.quiesceCounter - 1 };
      out.observe({ type: 'obs.drain', phase: 'parent.end', node: ctx.name, quiesce: ctx.quiesceCounter });
      out.observe({ type: 'obs.counter', counter: 'quiesceCounter', value: ctx.quiesceCounter });
      if (ctx.quiesceCounter === 0) return callParents(ctx, out, 'end', 'parent-end', e.replyTo ?? null);
      return finishRound(ctx, out, { outstanding: 0, then: 'parent-end', replyTo: e.replyTo ?? null });
    case 'parent.drained.done': {
      const round = ctx.rounds[ctx.rounds.length - 1];
      if (!round) {
        out.observe({ type: 'obs.error', message: `${ctx.name}: ${e.parent} answered a drained callback nobody called` });
        return ctx;
      }
      const outstanding = round.outstanding - 1;
      const rounds = ctx.rounds.slice(0, -1);
      if (outstanding > 0) return { ...ctx, rounds: [...rounds, { ...round, outstanding }] };
      return finishRound({ ...ctx, rounds }, out, round);
    }
    case 'parent.attach':
      // bdrv_replace_child_noperm: a parent attached to a drained node is quiesced at once.
      ctx = { ...ctx, parentLinks: { ...ctx.parentLinks, [e.parent]: e.busy } };
      if (ctx.quiesceCounter > 0) out.send(e.parent, { type: 'parent.drained_begin', node: ctx.name });
      if (e.ack) out.send(e.replyTo ?? e.parent, { type: 'parent.attached', node: ctx.name });
      return ctx;
    case 'parent.detach': {
      const linked = e.parent in ctx.parentLinks;
      if (linked) {
        const { [e.parent]: _gone, ...parentLinks } = ctx.parentLinks;
        ctx = { ...ctx, parentLinks };
      }
      // Detached from a drained node: the parent's quiesce from it ends (bdrv_parent_drained_end_single),
      // and a caller that waits (replyTo) hears from the parent once that has returned.
      if (linked && ctx.quiesceCounter > 0) out.send(e.parent, { type: 'parent.drained_end', node: ctx.name, detach: true, ...(e.replyTo ? { replyTo: e.replyTo } : {}) });
      else if (e.replyTo) out.send(e.replyTo, { type: 'parent.drained.done', parent: e.parent });
      return ctx;
    }
    case 'parent.busy':
      if (!(e.parent in ctx.parentLinks) || ctx.parentLinks[e.parent] === e.busy) return ctx;
      // A parent going idle calls aio_wait_kick (blk_dec_in_flight, bdrv_dec_in_flight): a drain
      // waiting in a blocking poll wakes up and reads bdrv_drain_poll again. (U) QEMU's kick is a
      // BH in the main loop, where AIO_WAIT_WHILE waits; the model's drain polls the node's context.
      if (!e.busy && ctx.drain?.stage === 'polling') out.send(ctx.ctx, { type: 'aio.bh.schedule', id: kickBhId(ctx.name) });
      return { ...ctx, parentLinks: { ...ctx.parentLinks, [e.parent]: e.busy } };
    case 'aio.poll.done': {
      const drain = ctx.drain;
      if (!drain || drain.stage !== 'polling') {
        out.observe({ type: 'obs.error', message: `${ctx.name}: aio.poll.done while not draining` });
        return ctx;
      }
      // bdrv_drain_poll_top_level: while (aio_poll(ctx, false)); then BDRV_POLL_WHILE's aio_poll(ctx, true) while busy.
      if (drain.busyBeforePoll || e.progress) return nowPoll(ctx, out, false);
      if (nowBusy(ctx)) return nowPoll(ctx, out, true);
      return nowFinishDrain(ctx, out);
    }
    default:
      return null;
  }
}

/** now: a node is its children's parent; what its drained_poll answers goes to them when it changes. */
function reportPollBusyChange(before: boolean, ctx: Ctx, out: Emitter): void {
  const after = nowBusy(ctx);
  if (before === after) return;
  for (const child of Object.values(ctx.children) as ActorName[]) out.send(child, { type: 'parent.busy', parent: ctx.name, busy: after });
}

export function blockNodeStep(ctx: Ctx, event: AnyEvent): { context: Ctx; emitted: Emitter['emitted'] } {
  const out = new Emitter();
  const e = event as BlockNodeEvent;
  if (ctx.era === 'now') {
    const pollBusyBefore = nowBusy(ctx);
    const handled = nowStep(ctx, e, out);
    if (handled !== null) {
      reportPollBusyChange(pollBusyBefore, handled, out);
      return { context: handled, emitted: out.emitted };
    }
    ctx = sharedStep(ctx, e, out);
    reportPollBusyChange(pollBusyBefore, ctx, out);
    return { context: ctx, emitted: out.emitted };
  }
  const busyBefore = isBusy(ctx);
  ctx = sharedStep(ctx, e, out);
  reportBusyChange(busyBefore, ctx, out);
  return { context: ctx, emitted: out.emitted };
}

/** What both eras do alike (requests, completions, timers), and the 2015 drain. */
function sharedStep(ctx: Ctx, e: BlockNodeEvent, out: Emitter): Ctx {
  switch (e.type) {
    case 'io.submit': {
      // tracked_request_begin, then the driver's request function.
      const allocating = ctx.qed !== null && e.op === 'write' && e.origin.startsWith('external');
      if (allocating) ctx = qedAllocatingWriteStarts(ctx, out);
      ctx = track(ctx, e.id, { origin: e.origin, op: e.op, replyTo: e.replyTo, aio: e.aio, ...(allocating ? { allocating } : {}) });
      out.observe({ type: 'obs.io.submit', node: ctx.name, id: e.id, origin: e.origin, op: e.op, via: e.replyTo });
      out.observe({ type: 'obs.counter', counter: 'inFlight', value: ctx.trackedOrder.length });
      if (ctx.beforeWrite && e.op === 'write' && e.origin.startsWith('external')) {
        // notifier_with_return_list_notify(&bs->before_write_notifiers): the job copies the old data first.
        out.send(ctx.beforeWrite, { type: 'job.before_write', id: e.id, replyTo: ctx.name });
        ctx = { ...ctx, held: [...ctx.held, e.id] };
        break;
      }
      forward(ctx, out, e.id);
      break;
    }
    case 'node.notifier.add':
      ctx = { ...ctx, beforeWrite: e.job };
      break;
    case 'node.notifier.remove':
      if (ctx.beforeWrite === e.job) ctx = { ...ctx, beforeWrite: null };
      break;
    case 'job.before_write.done':
      if (ctx.held.includes(e.id)) {
        ctx = { ...ctx, held: ctx.held.filter((id) => id !== e.id) };
        forward(ctx, out, e.id);
      }
      break;
    case 'io.complete':
      ctx = completeRequest(ctx, out, e.id);
      break;
    case 'host.completion':
      // The completions one run of the handler reaps are handled in request-id order, not in the
      // order they finished (qemu_laio_completion_cb takes io_getevents' order): no invariant
      // reads the order within one batch, and keeping it told apart states that behave alike.
      ctx = { ...ctx, reaped: [...ctx.reaped, e.id].sort(SORTED_CONTEXT_LISTS.reaped) };
      break;
    case 'aio.dispatch': {
      if (e.kind === 'handler' && e.id === laioHandlerId(ctx.name)) {
        // qemu_laio_completion_cb: reap every finished request.
        const reaped = ctx.reaped;
        ctx = { ...ctx, reaped: [] };
        for (const id of reaped) ctx = completeRequest(ctx, out, id);
      } else if (e.kind === 'timer' && e.id === qedTimerId(ctx.name) && ctx.qed) {
        // qed_need_check_timer_cb, in a poll of this node's context: whatever drained section is open.
        ctx = qedStartCheckClear({ ...ctx, qed: { ...ctx.qed, timerArmed: false } }, out);
      } else if (e.kind === 'timer' && e.id in ctx.housekeeping) {
        // A timer that touches no block request: it may re-arm itself, that is all.
        const timer = ctx.housekeeping[e.id];
        if (timer.firings > 1) out.send(ctx.ctx, { type: 'aio.timer.mod', id: e.id, delay: timer.interval });
        ctx = { ...ctx, housekeeping: { ...ctx.housekeeping, [e.id]: { ...timer, firings: timer.firings - 1 } } };
      } else if (e.kind === 'bh' && e.id === kickBhId(ctx.name)) {
        // aio_wait_kick's dummy BH: it only makes the poll return with progress.
      } else if (e.kind === 'bh' && e.id === completionBhId(ctx.name)) {
        // bdrv_co_em_bh: the AIO completion callback of each finished request.
        for (const { id, replyTo, origin } of ctx.completionQueue) out.send(replyTo, { type: 'io.complete', id, node: ctx.name, origin });
        ctx = { ...ctx, completionQueue: [] };
      }
      out.send(e.ctx, { type: 'aio.callback.done' });
      break;
    }
    case 'node.busy':
      ctx = { ...ctx, childBusy: { ...ctx.childBusy, [e.child]: e.busy } };
      break;
    case 'drain.begin':
      // bdrv_drained_begin: quiesce_counter++, and on 0->1 aio_disable_external(ctx).
      ctx = { ...ctx, quiesceCounter: ctx.quiesceCounter + 1 };
      out.observe({ type: 'obs.drain', phase: 'begin', node: ctx.name, quiesce: ctx.quiesceCounter });
      out.observe({ type: 'obs.counter', counter: 'quiesceCounter', value: ctx.quiesceCounter });
      if (ctx.quiesceCounter === 1) out.send(ctx.ctx, { type: 'aio.external.disable' });
      ctx = startDrain(ctx, out, 'begin', e.thread, e.replyTo);
      break;
    case 'drain.run':
      out.observe({ type: 'obs.drain', phase: 'run', node: ctx.name, quiesce: ctx.quiesceCounter });
      ctx = startDrain(ctx, out, 'run', e.thread, e.replyTo);
      break;
    case 'drain.end':
      if (ctx.quiesceCounter === 0) {
        out.observe({ type: 'obs.error', message: `Cannot end drain on ${ctx.name}: not drained (quiesceCounter=0)` });
        out.send(e.replyTo, { type: 'drain.end.done', node: ctx.name, error: 'not drained' });
        break;
      }
      // bdrv_drained_end: quiesce_counter--, and on 1->0 aio_enable_external(ctx). No polling.
      ctx = { ...ctx, quiesceCounter: ctx.quiesceCounter - 1 };
      out.observe({ type: 'obs.drain', phase: 'end', node: ctx.name, quiesce: ctx.quiesceCounter });
      out.observe({ type: 'obs.counter', counter: 'quiesceCounter', value: ctx.quiesceCounter });
      if (ctx.quiesceCounter === 0) {
        out.send(ctx.ctx, { type: 'aio.external.enable', replyTo: ctx.name });
        ctx = { ...ctx, endReplyTo: e.replyTo };
      } else {
        out.send(e.replyTo, { type: 'drain.end.done', node: ctx.name });
      }
      break;
    case 'aio.external.enabled':
      if (ctx.endReplyTo) out.send(ctx.endReplyTo, { type: 'drain.end.done', node: ctx.name });
      ctx = { ...ctx, endReplyTo: null };
      break;
    case 'drain.hook': {
      ctx = runDriverHook(ctx, out);
      const children = Object.values(ctx.children) as ActorName[];
      if (children.length === 0) {
        out.send(e.replyTo, { type: 'drain.hook.done', node: ctx.name });
      } else {
        for (const child of children) out.send(child, { type: 'drain.hook', replyTo: ctx.name });
        ctx = { ...ctx, hookCalls: [...ctx.hookCalls, { replyTo: e.replyTo, outstanding: children.length }] };
      }
      break;
    }
    case 'drain.hook.done': {
      // Answers go first to a hook call this node forwarded, then to its own drain.
      const call = ctx.hookCalls[0];
      if (call) {
        const outstanding = call.outstanding - 1;
        if (outstanding === 0) {
          out.send(call.replyTo, { type: 'drain.hook.done', node: ctx.name });
          ctx = { ...ctx, hookCalls: ctx.hookCalls.slice(1) };
        } else {
          ctx = { ...ctx, hookCalls: [{ ...call, outstanding }, ...ctx.hookCalls.slice(1)] };
        }
      } else if (ctx.drain && ctx.drain.stage === 'hooks') {
        const hooksOutstanding = ctx.drain.hooksOutstanding - 1;
        ctx = { ...ctx, drain: { ...ctx.drain, hooksOutstanding } };
        if (hooksOutstanding === 0) ctx = startPoll(ctx, out);
      }
      break;
    }
    case 'aio.poll.done': {
      const drain = ctx.drain;
      if (!drain || drain.stage !== 'polling') {
        out.observe({ type: 'obs.error', message: `${ctx.name}: aio.poll.done while not draining` });
        break;
      }
      // bdrv_drain: while (busy) { busy = bdrv_requests_pending(bs); busy |= aio_poll(ctx, busy); }
      if (drain.busyBeforePoll || e.progress) ctx = startPoll(ctx, out);
      else ctx = finishDrain(ctx, out);
      break;
    }
  }
  return ctx;
}

const always = [
  'io.submit',
  'io.complete',
  'host.completion',
  'aio.dispatch',
  'node.busy',
  'drain.hook',
  'drain.hook.done',
  'drain.end',
  'aio.external.enabled',
  'node.notifier.add',
  'node.notifier.remove',
  'job.before_write.done',
  'parent.drained_begin',
  'parent.drained_end',
  'parent.drained.done',
  'parent.attach',
  'parent.detach',
  'parent.busy',
] as const;

const applyEvent = { actions: 'applyEvent' } as const;

export const blockNodeMachine = setup({
  types: {
    context: {} as BlockNodeContext,
    input: {} as BlockNodeInput,
    events: {} as BlockNodeEvent,
  },
  actions: {
    applyEvent: applyStep(blockNodeStep) as any,
    registerCompletionPath: applyStep(registerCompletionPath) as any,
  },
  guards: {
    isDraining: ({ context }) => context.drain !== null,
    isQuiesced: ({ context }) => context.quiesceCounter > 0 && context.drain === null,
    isRunning: ({ context }) => context.quiesceCounter === 0 && context.drain === null,
  },
}).createMachine({
  id: 'blockNode',
  description: 'BlockDriverState (block/io.c): tracked requests, quiesce counter, bdrv_drained_begin/end, bdrv_drain',
  context: ({ input }) => ({
    name: input.name,
    driver: input.driver,
    ctx: input.ctx,
    children: input.children ?? {},
    parents: input.parents ?? [],
    host: input.host ?? 'host:storage',
    tracked: {},
    trackedOrder: [],
    reaped: [],
    completionQueue: [],
    quiesceCounter: 0,
    childBusy: {},
    drain: null,
    hookCalls: [],
    endReplyTo: null,
    beforeWrite: null,
    held: [],
    qed: input.driver === 'qed' ? { needCheck: false, allocating: 0, timerArmed: false, step: null } : null,
    drainHook: input.drainHook ?? true,
    housekeeping: Object.fromEntries((input.timers ?? []).map((t) => [housekeepingTimerId(input.name, t.kind), { firings: t.firings, interval: t.interval }])),
    era: input.era ?? '2015',
    parentLinks: Object.fromEntries((input.parentLinks ?? []).map((parent) => [parent, false])),
    rounds: [],
  }),
  entry: 'registerCompletionPath',
  initial: 'running',
  on: Object.fromEntries(always.map((type) => [type, applyEvent])),
  states: {
    running: {
      description: 'quiesce_counter == 0: requests flow; a one-shot bdrv_drain may run here',
      // now: a node quiesced as the parent of a drained node is drained without draining itself.
      always: [{ guard: 'isDraining', target: 'draining' }, { guard: 'isQuiesced', target: 'drained' }],
      on: {
        'drain.begin': { target: 'draining', actions: 'applyEvent' },
        'drain.run': { target: 'draining', actions: 'applyEvent' },
      },
    },
    draining: {
      description: 'bdrv_drain: driver hooks, then aio_poll until nothing is pending and a poll makes no progress',
      on: { 'aio.poll.done': applyEvent },
      always: [
        { guard: 'isQuiesced', target: 'drained' },
        { guard: 'isRunning', target: 'running' },
      ],
    },
    drained: {
      description: 'Between bdrv_drained_begin returning and the matching bdrv_drained_end',
      always: [
        { guard: 'isDraining', target: 'draining' },
        { guard: 'isRunning', target: 'running' },
      ],
      on: {
        'drain.begin': { target: 'draining', actions: 'applyEvent' },
        'drain.run': { target: 'draining', actions: 'applyEvent' },
      },
    },
  },
});

/** At creation: the protocol node's linux-aio notifier (internal) and every node's completion BH. */
function registerCompletionPath(ctx: Ctx): { context: Ctx; emitted: Emitter['emitted'] } {
  const out = new Emitter();
  if (isProtocolDriver(ctx.driver) && !ctx.children.file) {
    out.send(ctx.ctx, { type: 'aio.handler.set', id: laioHandlerId(ctx.name), owner: ctx.name, external: false });
  }
  out.send(ctx.ctx, { type: 'aio.bh.new', id: completionBhId(ctx.name), owner: ctx.name });
  if (ctx.era === 'now') out.send(ctx.ctx, { type: 'aio.bh.new', id: kickBhId(ctx.name), owner: ctx.name });
  if (ctx.qed) out.send(ctx.ctx, { type: 'aio.timer.new', id: qedTimerId(ctx.name), owner: ctx.name, clock: 'virtual' });
  for (const [id, timer] of Object.entries(ctx.housekeeping)) {
    const clock = id.includes('qcow2-cache-clean') ? 'virtual' : 'realtime';
    out.send(ctx.ctx, { type: 'aio.timer.new', id, owner: ctx.name, clock });
    if (timer.firings > 0) out.send(ctx.ctx, { type: 'aio.timer.mod', id, delay: timer.interval });
  }
  return { context: ctx, emitted: out.emitted };
}
