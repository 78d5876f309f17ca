/**
 * The backup block job (block/backup.c, 2015).
 *
 * `job.start` is the moment the job coroutine starts: its point in time. From then on it
 * copies the source to the target chunk by chunk (a read of the source, then a write of the
 * target, both internal requests of origin `job`). `job.cancel` (block_job_cancel) stops it
 * after the request in flight; the job then completes. Completion is announced through a BH of
 * the source's context, so whoever waits in block_job_cancel_sync's `aio_poll(ctx, true)` loop
 * sees `job.completed` before that poll returns.
 *
 * Copy-before-write: the job registers a before-write notifier on the source
 * (bdrv_add_before_write_notifier). A guest write to a chunk not copied yet is held by the
 * source until the job has copied that chunk's old data to the target (backup_before_write_notify
 * -> backup_do_cow); chunks copied that way are skipped by the loop. A write's chunk is a hash
 * of its id (the model has no offsets).
 *
 * In the `now` era the job is a parent of its source and of its target (backup_job_create calls
 * block_job_add_bdrv for both; BdrvChildClass child_job): a drain of either pauses it
 * (child_job_drained_begin -> job_pause), it reports itself busy to both until its request in
 * flight is done (child_job_drained_poll), and it resumes when the last drain of its nodes ends
 * (job_resume). Copy-before-write for a guest write is not the loop and goes on while paused. It pauses at its pause points, between requests
 * (job_pause_point); a cancelled job does not pause. A job created inside a drained section
 * starts paused.
 */
import { setup } from 'xstate';
import { applyStep, Emitter, type ActorName, type AnyEvent, type ThreadName } from './effects.ts';
import type { Era } from './transactionMachine.ts';

export interface BackupJobContext {
  name: ActorName;
  source: ActorName;
  target: ActorName;
  ctx: ActorName;
  chunks: number;
  /** Next chunk to copy. */
  chunk: number;
  /** The request in flight: `r` reading chunk from source, `w` writing it to target. */
  inFlight: 'r' | 'w' | null;
  /** One character per chunk: `c` copied (by the loop or before a guest write), `.` not yet. */
  copied: string;
  /** Guest writes held by the source until their chunk is copied, oldest first; the first is being copied. */
  cow: readonly { write: string; chunk: number; replyTo: ActorName; phase: 'r' | 'w' | 'wait' }[];
  cancelled: boolean;
  completed: boolean;
  owner: ActorName | null;
  era: Era;
  /** now: drains of its nodes under way (job->pause_count from drained sections). */
  pauseCount: number;
  /** now: nodes that have not yet linked the job as their parent; the coroutine's first run waits for them. */
  attaching: number;
  /** now: the loop stopped at a pause point; `r` the next chunk's read is where it resumes. */
  pausedAt: 'r' | null;
}

export interface BackupJobInput {
  name: ActorName;
  source: ActorName;
  target: ActorName;
  ctx: ActorName;
  chunks?: number;
  era?: Era;
}

export type BackupJobEvent =
  | { type: 'job.start'; replyTo: ActorName }
  | { type: 'job.cancel' }
  | { type: 'job.before_write'; id: string; replyTo: ActorName }
  | { type: 'io.complete'; id: string; node: ActorName }
  | { type: 'aio.dispatch'; ctx: ActorName; kind: 'bh' | 'handler' | 'timer'; id: string; thread: ThreadName }
  | { type: 'parent.drained_begin' | 'parent.drained_end'; node: ActorName; replyTo?: ActorName }
  | { type: 'parent.attached'; node: ActorName };

export const jobCompletionBhId = (job: ActorName) => `bh:job:${job}`;

/** The chunk a guest write touches: a stable hash of its id (the model has no offsets). */
export function chunkOf(writeId: string, chunks: number): number {
  let h = 0;
  for (let i = 0; i < writeId.length; i++) h = (Math.imul(h, 31) + writeId.charCodeAt(i)) >>> 0;
  return chunks > 0 ? h % chunks : 0;
}

function markCopied(ctx: BackupJobContext, chunk: number): BackupJobContext {
  return { ...ctx, copied: ctx.copied.slice(0, chunk) + 'c' + ctx.copied.slice(chunk + 1) };
}

/** The loop's next chunk not copied yet, from `from`. */
function nextUncopied(ctx: BackupJobContext, from: number): number {
  let chunk = from;
  while (chunk < ctx.chunks && ctx.copied[chunk] === 'c') chunk++;
  return chunk;
}

/** backup_do_cow for the oldest held write: copy its chunk unless that is done already. */
function serveCow(ctx: BackupJobContext, out: Emitter): BackupJobContext {
  for (;;) {
    const [head, ...rest] = ctx.cow;
    if (!head || head.phase !== 'wait') return ctx;
    if (ctx.copied[head.chunk] === 'c' || ctx.completed || ctx.cancelled) {
      out.send(head.replyTo, { type: 'job.before_write.done', id: head.write });
      ctx = { ...ctx, cow: rest };
      continue;
    }
    out.send(ctx.source, { type: 'io.submit', id: `${ctx.name}/cow-r:${head.write}`, origin: 'job', op: 'read', replyTo: ctx.name, aio: true });
    return { ...ctx, cow: [{ ...head, phase: 'r' }, ...rest] };
  }
}

function issue(ctx: BackupJobContext, out: Emitter, phase: 'r' | 'w'): BackupJobContext {
  // job_pause_point between chunks (now era): a drained source holds the loop here.
  if (phase === 'r' && ctx.pauseCount > 0 && !ctx.cancelled) return { ...ctx, inFlight: null, pausedAt: 'r' };
  if (phase === 'r') ctx = { ...ctx, chunk: nextUncopied(ctx, ctx.chunk) };
  if (ctx.chunk >= ctx.chunks) return finish(ctx, out);
  const node = phase === 'r' ? ctx.source : ctx.target;
  out.send(node, { type: 'io.submit', id: `${ctx.name}/${phase}${ctx.chunk}`, origin: 'job', op: phase === 'r' ? 'read' : 'write', replyTo: ctx.name, aio: true });
  return { ...ctx, inFlight: phase };
}

/** block_job_completed, deferred to a BH so that a waiting aio_poll sees it; the notifier goes away. */
function finish(ctx: BackupJobContext, out: Emitter): BackupJobContext {
  out.send(ctx.ctx, { type: 'aio.bh.schedule', id: jobCompletionBhId(ctx.name) });
  return { ...ctx, inFlight: null };
}

/** The nodes the job is a parent of (block_job_add_bdrv): its source, and its target. */
function jobNodes(ctx: BackupJobContext): ActorName[] {
  return ctx.target === ctx.source ? [ctx.source] : [ctx.source, ctx.target];
}

/** child_job_drained_poll: the job is busy until it reaches a pause point. */
function jobBusy(ctx: BackupJobContext): boolean {
  return ctx.inFlight !== null || ctx.cow.some((held) => held.phase !== 'wait');
}

export function backupJobStep(ctx: BackupJobContext, event: AnyEvent) {
  const out = new Emitter();
  const e = event as BackupJobEvent;
  const busyBefore = jobBusy(ctx);
  switch (e.type) {
    case 'job.start':
      // backup_start + block_job_start: the notifier is in place, then the coroutine runs until its first yield.
      ctx = { ...ctx, owner: e.replyTo };
      out.send(ctx.source, { type: 'node.notifier.add', job: ctx.name });
      if (ctx.era === 'now') {
        // block_job_add_bdrv: the job becomes a parent of its source and its target; a drained one pauses it first.
        const nodes = jobNodes(ctx);
        for (const node of nodes) out.send(node, { type: 'parent.attach', parent: ctx.name, busy: false, ack: true });
        ctx = { ...ctx, attaching: nodes.length };
        out.send(e.replyTo, { type: 'job.started', job: ctx.name });
        break;
      }
      out.send(e.replyTo, { type: 'job.started', job: ctx.name });
      ctx = ctx.chunks > 0 ? issue(ctx, out, 'r') : finish(ctx, out);
      break;
    case 'parent.attached':
      ctx = { ...ctx, attaching: ctx.attaching - 1 };
      if (ctx.attaching > 0) break;
      // The coroutine's first run: straight to its first pause point if one of its nodes is drained.
      ctx = ctx.chunks > 0 ? issue(ctx, out, 'r') : finish(ctx, out);
      break;
    case 'parent.drained_begin':
      ctx = { ...ctx, pauseCount: ctx.pauseCount + 1 };
      if (e.replyTo) out.send(e.replyTo, { type: 'parent.drained.done', parent: ctx.name });
      break;
    case 'parent.drained_end':
      ctx = { ...ctx, pauseCount: Math.max(0, ctx.pauseCount - 1) };
      if (ctx.pauseCount === 0 && ctx.pausedAt !== null && !ctx.completed) {
        // job_resume: the loop goes on from its pause point.
        ctx = issue({ ...ctx, pausedAt: null }, out, 'r');
      }
      if (e.replyTo) out.send(e.replyTo, { type: 'parent.drained.done', parent: ctx.name });
      break;
    case 'job.cancel':
      ctx = { ...ctx, cancelled: true };
      // A paused job is woken to see it is cancelled (job_cancel_async -> job_enter).
      if (ctx.pausedAt !== null) ctx = finish({ ...ctx, pausedAt: null }, out);
      break;
    case 'job.before_write': {
      const waiting = { write: e.id, chunk: chunkOf(e.id, ctx.chunks), replyTo: e.replyTo, phase: 'wait' as const };
      const idle = ctx.cow.length === 0;
      ctx = { ...ctx, cow: [...ctx.cow, waiting] };
      if (idle) ctx = serveCow(ctx, out);
      break;
    }
    case 'io.complete':
      if (e.id.startsWith(`${ctx.name}/cow-`)) {
        const [head, ...rest] = ctx.cow;
        if (head.phase === 'r') {
          out.send(ctx.target, { type: 'io.submit', id: `${ctx.name}/cow-w:${head.write}`, origin: 'job', op: 'write', replyTo: ctx.name, aio: true });
          ctx = { ...ctx, cow: [{ ...head, phase: 'w' }, ...rest] };
        } else {
          out.send(head.replyTo, { type: 'job.before_write.done', id: head.write });
          ctx = serveCow({ ...markCopied(ctx, head.chunk), cow: rest }, out);
        }
      } else if (ctx.inFlight === 'r' && !ctx.cancelled) {
        ctx = issue(ctx, out, 'w');
      } else {
        if (ctx.inFlight === 'w') ctx = markCopied(ctx, ctx.chunk);
        const chunk = ctx.inFlight === 'w' ? ctx.chunk + 1 : ctx.chunk;
        ctx = { ...ctx, chunk };
        ctx = chunk < ctx.chunks && !ctx.cancelled ? issue(ctx, out, 'r') : finish(ctx, out);
      }
      break;
    case 'aio.dispatch':
      ctx = { ...ctx, completed: true };
      out.send(ctx.source, { type: 'node.notifier.remove', job: ctx.name });
      // block_job_remove_all_bdrv: the job is no parent of its nodes any more.
      if (ctx.era === 'now') for (const node of jobNodes(ctx)) out.send(node, { type: 'parent.detach', parent: ctx.name });
      // Writes still held are let through: there is nothing left to copy for.
      for (const held of ctx.cow) if (held.phase === 'wait') out.send(held.replyTo, { type: 'job.before_write.done', id: held.write });
      ctx = { ...ctx, cow: ctx.cow.filter((held) => held.phase !== 'wait') };
      if (ctx.owner) out.send(ctx.owner, { type: 'job.completed', job: ctx.name, cancelled: ctx.cancelled });
      out.send(e.ctx, { type: 'aio.callback.done' });
      break;
  }
  if (ctx.era === 'now' && !ctx.completed) {
    const busyAfter = jobBusy(ctx);
    if (busyAfter !== busyBefore) for (const node of jobNodes(ctx)) out.send(node, { type: 'parent.busy', parent: ctx.name, busy: busyAfter });
  }
  return { context: ctx, emitted: out.emitted };
}

/** What a running or cancelling job takes in: every event goes to `backupJobStep`, and the state's `always` decides what follows. */
const copying = {
  'job.cancel': { actions: 'applyEvent' },
  'parent.attached': { actions: 'applyEvent' },
  'parent.drained_begin': { actions: 'applyEvent' },
  'parent.drained_end': { actions: 'applyEvent' },
  'job.before_write': { actions: 'applyEvent' },
  'io.complete': { actions: 'applyEvent' },
  'aio.dispatch': { actions: 'applyEvent' },
} as const;

export const backupJobMachine = setup({
  types: {
    context: {} as BackupJobContext,
    input: {} as BackupJobInput,
    events: {} as BackupJobEvent,
  },
  actions: {
    applyEvent: applyStep(backupJobStep) as any,
    registerCompletionBh: applyStep((ctx: BackupJobContext) => {
      const out = new Emitter();
      out.send(ctx.ctx, { type: 'aio.bh.new', id: jobCompletionBhId(ctx.name), owner: ctx.name });
      return { context: ctx, emitted: out.emitted };
    }) as any,
  },
  guards: {
    isCompleted: ({ context }) => context.completed,
    isCancelled: ({ context }) => context.cancelled,
    isPaused: ({ context }) => context.pausedAt !== null,
    isResumed: ({ context }) => context.pausedAt === null,
  },
}).createMachine({
  id: 'backupJob',
  description: 'Backup block job (block/backup.c): point in time at start, copy loop, synchronous cancel',
  context: ({ input }) => ({
    name: input.name,
    source: input.source,
    target: input.target,
    ctx: input.ctx,
    chunks: input.chunks ?? 2,
    chunk: 0,
    inFlight: null,
    copied: '.'.repeat(input.chunks ?? 2),
    cow: [],
    cancelled: false,
    completed: false,
    owner: null,
    era: input.era ?? '2015',
    pauseCount: 0,
    attaching: 0,
    pausedAt: null,
  }),
  entry: 'registerCompletionBh',
  initial: 'created',
  states: {
    created: {
      on: { 'job.start': { target: 'running', actions: 'applyEvent' }, 'parent.drained_begin': { actions: 'applyEvent' }, 'parent.drained_end': { actions: 'applyEvent' } },
    },
    running: {
      description: 'Copying chunk by chunk',
      always: [{ guard: 'isCancelled', target: 'cancelling' }, { guard: 'isCompleted', target: 'completed' }, { guard: 'isPaused', target: 'paused' }],
      on: copying,
    },
    paused: {
      description: 'now: stopped at a pause point while its source is drained (job_pause_point)',
      always: [{ guard: 'isCompleted', target: 'completed' }, { guard: 'isCancelled', target: 'cancelling' }, { guard: 'isResumed', target: 'running' }],
      on: copying,
    },
    cancelling: {
      description: 'block_job_cancel: stop after the request in flight',
      always: [{ guard: 'isCompleted', target: 'completed' }],
      on: copying,
    },
    completed: {
      on: {
        'job.cancel': {},
        'job.before_write': { actions: 'applyEvent' },
        'io.complete': { actions: 'applyEvent' },
        'parent.drained_begin': { actions: 'applyEvent' },
        'parent.drained_end': { actions: 'applyEvent' },
      },
    },
  },
});
