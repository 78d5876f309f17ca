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
 * Not modelled: the copy-before-write notifier delaying a guest write until the old data is
 * copied. What a backup holds is decided by its point in time (writes absorbed by the source
 * before the job started), which is what the consistency checks need.
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
  | { type: 'io.complete'; id: string; node: ActorName }
  | { type: 'aio.dispatch'; ctx: ActorName; kind: 'bh' | 'handler' | 'timer'; id: string; thread: ThreadName };

export const jobCompletionBhId = (job: ActorName) => `bh:job:${job}`;

function issue(ctx: BackupJobContext, out: Emitter, phase: 'r' | 'w'): BackupJobContext {
  const node = phase === 'r' ? ctx.source : ctx.target;
  out.send(node, { type: 'io.submit', id: `${ctx.name}/${phase}${ctx.chunk}`, origin: 'job', op: phase === 'r' ? 'read' : 'write', replyTo: ctx.name, aio: true });
  return { ...ctx, inFlight: phase };
}

/** block_job_completed, deferred to a BH so that a waiting aio_poll sees it. */
function finish(ctx: BackupJobContext, out: Emitter): BackupJobContext {
  out.send(ctx.ctx, { type: 'aio.bh.schedule', id: jobCompletionBhId(ctx.name) });
  return { ...ctx, inFlight: null };
}

export function backupJobStep(ctx: BackupJobContext, event: AnyEvent) {
  const out = new Emitter();
  const e = event as BackupJobEvent;
  switch (e.type) {
    case 'job.start':
      // backup_start + block_job_start: the coroutine runs until its first yield (the first read).
      ctx = { ...ctx, owner: e.replyTo };
      out.send(e.replyTo, { type: 'job.started', job: ctx.name });
      ctx = ctx.chunks > 0 ? issue(ctx, out, 'r') : finish(ctx, out);
      break;
    case 'job.cancel':
      ctx = { ...ctx, cancelled: true };
      break;
    case 'io.complete':
      if (ctx.inFlight === 'r' && !ctx.cancelled) {
        ctx = issue(ctx, out, 'w');
      } else {
        const chunk = ctx.inFlight === 'w' ? ctx.chunk + 1 : ctx.chunk;
        ctx = { ...ctx, chunk };
        ctx = chunk < ctx.chunks && !ctx.cancelled ? issue(ctx, out, 'r') : finish(ctx, out);
      }
      break;
    case 'aio.dispatch':
      ctx = { ...ctx, completed: true };
      if (ctx.owner) out.send(ctx.owner, { type: 'job.completed', job: ctx.name, cancelled: ctx.cancelled });
      out.send(e.ctx, { type: 'aio.callback.done' });
      break;
  }
  return { context: ctx, emitted: out.emitted };
}

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
      on: {
        'job.cancel': { actions: 'applyEvent' },
        'io.complete': { actions: 'applyEvent' },
        'aio.dispatch': { actions: 'applyEvent' },
      },
    },
    cancelling: {
      description: 'block_job_cancel: stop after the request in flight',
      always: [{ guard: 'isCompleted', target: 'completed' }],
      on: {
        'job.cancel': { actions: 'applyEvent' },
        'io.complete': { actions: 'applyEvent' },
        'aio.dispatch': { actions: 'applyEvent' },
      },
    },
    completed: {
      on: { 'job.cancel': {} },
    },
  },
});
