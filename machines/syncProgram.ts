/**
 * Synchronous QEMU code as a program of calls.
 *
 * The monitor, the transaction and its actions run on the main thread inside a QMP dispatch.
 * Each of their steps is a synchronous QEMU call: take a context lock, `bdrv_drained_begin`,
 * a `bdrv_flush` or `bdrv_pwrite` from outside a coroutine (which submits the request and then
 * spins `aio_poll(ctx, true)` until it completes: the nested event loop of the series), start
 * or cancel a job. A program is the list of those calls; the owner runs it one call at a time
 * and the rest of the world keeps stepping while it waits. Owner-specific steps (`local`) are
 * handed back to the owner machine, which applies them and resumes.
 */
import type { ActorName, AnyEvent, RequestOrigin, ThreadName } from './effects.ts';
import { Emitter } from './effects.ts';

export type SyncOp =
  /** Send and wait for the reply of type `awaits`. */
  | { kind: 'call'; label: string; to: ActorName; event: AnyEvent; awaits: string }
  /** Send, no reply (aio_context_release). */
  | { kind: 'send'; label: string; to: ActorName; event: AnyEvent }
  /** bdrv_prwv_co / bdrv_flush from outside a coroutine: submit, then aio_poll(ctx, true) until done. */
  | { kind: 'io'; label: string; node: ActorName; ctx: ActorName; id: string; op: 'read' | 'write' | 'flush'; origin: RequestOrigin }
  /** Poll `ctx` (blocking) until the owner says `until` holds; used for block_job_cancel_sync. */
  | { kind: 'pollUntil'; label: string; ctx: ActorName; until: string }
  /** Handed back to the owner. */
  | { kind: 'local'; label: string; name: string; data?: Record<string, unknown> };

export type Waiting =
  | { kind: 'reply'; awaits: string }
  | { kind: 'io'; id: string; done: boolean; polling: boolean }
  | { kind: 'poll'; until: string };

export interface Program {
  readonly ops: readonly SyncOp[];
  /** What the first op waits for, once issued. */
  readonly waiting: Waiting | null;
}

export const emptyProgram: Program = { ops: [], waiting: null };

export interface ProgramHost {
  self: ActorName;
  thread: ThreadName;
  /** For `pollUntil`: whether the named condition holds now. */
  holds(condition: string): boolean;
}

export type RunOutcome =
  | { status: 'waiting'; program: Program }
  | { status: 'local'; program: Program; op: Extract<SyncOp, { kind: 'local' }> }
  | { status: 'finished'; program: Program };

/** The label of the call running now (for the owner's `operation` state), or null. */
export function currentLabel(program: Program): string | null {
  return program.ops.length > 0 ? program.ops[0].label : null;
}

/** Issues calls until one must wait, a local op comes up, or the program ends. */
export function runProgram(program: Program, host: ProgramHost, out: Emitter): RunOutcome {
  let ops = program.ops;
  while (ops.length > 0) {
    const op = ops[0];
    switch (op.kind) {
      case 'send':
        out.send(op.to, op.event);
        ops = ops.slice(1);
        continue;
      case 'call':
        out.send(op.to, op.event);
        return { status: 'waiting', program: { ops, waiting: { kind: 'reply', awaits: op.awaits } } };
      case 'io':
        // The completion comes back through the node's completion BH, so the aio_poll that runs
        // it is the one that returns with the request done (QEMU re-enters the coroutine from
        // the completion callback itself; the model has no coroutines, the BH keeps the order).
        out.send(op.node, { type: 'io.submit', id: op.id, origin: op.origin, op: op.op, replyTo: host.self, aio: true });
        out.send(op.ctx, { type: 'aio.poll', blocking: true, thread: host.thread, replyTo: host.self });
        return { status: 'waiting', program: { ops, waiting: { kind: 'io', id: op.id, done: false, polling: true } } };
      case 'pollUntil':
        if (host.holds(op.until)) {
          ops = ops.slice(1);
          continue;
        }
        out.send(op.ctx, { type: 'aio.poll', blocking: true, thread: host.thread, replyTo: host.self });
        return { status: 'waiting', program: { ops, waiting: { kind: 'poll', until: op.until } } };
      case 'local':
        return { status: 'local', program: { ops: ops.slice(1), waiting: null }, op };
    }
  }
  return { status: 'finished', program: emptyProgram };
}

/**
 * Offers an event to a waiting program. Returns the program after it (and whether the event was
 * its business); the caller then calls `runProgram` if the program moved on (`advanced`).
 */
export function feedProgram(program: Program, event: AnyEvent, host: ProgramHost, out: Emitter): { program: Program; consumed: boolean; advanced: boolean } {
  const waiting = program.waiting;
  if (!waiting) return { program, consumed: false, advanced: false };
  const op = program.ops[0];
  if (waiting.kind === 'reply') {
    if (event.type !== waiting.awaits) return { program, consumed: false, advanced: false };
    return { program: { ops: program.ops.slice(1), waiting: null }, consumed: true, advanced: true };
  }
  if (waiting.kind === 'io') {
    if (event.type === 'io.complete' && event.id === waiting.id) {
      return { program: { ops: program.ops, waiting: { ...waiting, done: true } }, consumed: true, advanced: false };
    }
    if (event.type === 'aio.poll.done' && waiting.polling) {
      if (waiting.done) return { program: { ops: program.ops.slice(1), waiting: null }, consumed: true, advanced: true };
      // while (rwco.ret == NOT_DONE) aio_poll(aio_context, true);
      out.send((op as Extract<SyncOp, { kind: 'io' }>).ctx, { type: 'aio.poll', blocking: true, thread: host.thread, replyTo: host.self });
      return { program, consumed: true, advanced: false };
    }
    return { program, consumed: false, advanced: false };
  }
  if (event.type !== 'aio.poll.done') return { program, consumed: false, advanced: false };
  if (host.holds(waiting.until)) return { program: { ops: program.ops.slice(1), waiting: null }, consumed: true, advanced: true };
  out.send((op as Extract<SyncOp, { kind: 'pollUntil' }>).ctx, { type: 'aio.poll', blocking: true, thread: host.thread, replyTo: host.self });
  return { program, consumed: true, advanced: false };
}

/** aio_context_acquire ... aio_context_release around `inner`. */
export function underLock(ctx: ActorName, host: { self: ActorName; thread: ThreadName }, inner: SyncOp[], label = 'acquire'): SyncOp[] {
  return [
    { kind: 'call', label, to: ctx, event: { type: 'aio.acquire', thread: host.thread, replyTo: host.self }, awaits: 'aio.acquired' },
    ...inner,
    { kind: 'send', label, to: ctx, event: { type: 'aio.release', thread: host.thread } },
  ];
}

/**
 * bdrv_drain_all. 2015: bdrv_drain of every node in turn, each under its context's lock. now
 * (bdrv_drain_all_begin, then bdrv_drain_all_end): a section over every node, every node
 * drained before any is ended. (U) QEMU quiesces every node first and polls once for all of
 * them; the model's drained_begin polls each node as it quiesces it, which leaves every node
 * quiet and quiesced at the same point.
 */
export function drainAllOps(
  allNodes: readonly { node: ActorName; ctx: ActorName }[],
  host: { self: ActorName; thread: ThreadName },
  label: string,
  era: '2015' | 'now' = '2015',
): SyncOp[] {
  if (era === 'now') return [...drainAllSectionOps(allNodes, host, label, 'begin'), ...drainAllSectionOps(allNodes, host, label, 'end')];
  return allNodes.flatMap(({ node, ctx }) => nodeCall(node, ctx, host, label, 'drain.run', 'drain.done'));
}

/**
 * now: bdrv_drain_all_begin (every node drained) or bdrv_drain_all_end (every node ended).
 * bdrv_new starts a node created inside the section with the section's quiesce
 * (bdrv_drain_all_count); the model's nodes all exist from start-up, so the section quiesces
 * a node still to be created (an overlay) as well, which is what that count gives it.
 */
export function drainAllSectionOps(allNodes: readonly { node: ActorName; ctx: ActorName }[], host: { self: ActorName; thread: ThreadName }, label: string, which: 'begin' | 'end'): SyncOp[] {
  return allNodes.flatMap(({ node, ctx }) => nodeCall(node, ctx, host, label, `drain.${which}`, `drain.${which}.done`));
}

function nodeCall(node: ActorName, ctx: ActorName, host: { self: ActorName; thread: ThreadName }, label: string, type: string, awaits: string): SyncOp[] {
  return underLock(ctx, host, [{ kind: 'call', label, to: node, event: { type, thread: host.thread, replyTo: host.self }, awaits }], label);
}
