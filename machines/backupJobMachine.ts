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
 */
import { setup } from 'xstate';
import { applyStep, Emitter, type ActorName, type AnyEvent, type ThreadName } from './effects.ts';

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
}

export interface BackupJobInput {
  name: ActorName;
  source: ActorName;
  target: ActorName;
  ctx: ActorName;
  chunks?: number;
}

export type BackupJobEvent =
  | { type: 'job.start'; replyTo: ActorName }
  | { type: 'job.cancel' }
  | { type: 'job.before_write'; id: string; replyTo: ActorName }
  | { type: 'io.complete'; id: string; node: ActorName }
  | { type: 'aio.dispatch'; ctx: ActorName; kind: 'bh' | 'handler' | 'timer'; id: string; thread: ThreadName };

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

export function backupJobStep(ctx: BackupJobContext, event: AnyEvent) {
  const out = new Emitter();
  const e = event as BackupJobEvent;
  switch (e.type) {
    case 'job.start':
      // backup_start + block_job_start: the notifier is in place, then the coroutine runs until its first yield.
      ctx = { ...ctx, owner: e.replyTo };
      out.send(ctx.source, { type: 'node.notifier.add', job: ctx.name });
      out.send(e.replyTo, { type: 'job.started', job: ctx.name });
      ctx = ctx.chunks > 0 ? issue(ctx, out, 'r') : finish(ctx, out);
      break;
    case 'job.cancel':
      ctx = { ...ctx, cancelled: true };
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
      // Writes still held are let through: there is nothing left to copy for.
      for (const held of ctx.cow) if (held.phase === 'wait') out.send(held.replyTo, { type: 'job.before_write.done', id: held.write });
      ctx = { ...ctx, cow: ctx.cow.filter((held) => held.phase !== 'wait') };
      if (ctx.owner) out.send(ctx.owner, { type: 'job.completed', job: ctx.name, cancelled: ctx.cancelled });
      out.send(e.ctx, { type: 'aio.callback.done' });
      break;
  }
  return { context: ctx, emitted: out.emitted };
}

/** What a running or cancelling job takes in: every event goes to `backupJobStep`, and the state's `always` decides what follows. */
const copying = {
  'job.cancel': { actions: 'applyEvent' },
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
  }),
  entry: 'registerCompletionBh',
  initial: 'created',
  states: {
    created: {
      on: { 'job.start': { target: 'running', actions: 'applyEvent' } },
    },
    running: {
      description: 'Copying chunk by chunk',
      always: [{ guard: 'isCancelled', target: 'cancelling' }, { guard: 'isCompleted', target: 'completed' }],
      on: copying,
    },
    cancelling: {
      description: 'block_job_cancel: stop after the request in flight',
      always: [{ guard: 'isCompleted', target: 'completed' }],
      on: copying,
    },
    completed: {
      on: { 'job.cancel': {}, 'job.before_write': { actions: 'applyEvent' }, 'io.complete': { actions: 'applyEvent' } },
    },
  },
});
