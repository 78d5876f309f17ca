/**
 * The QMP `transaction` command (blockdev.c qmp_transaction).
 *
 * 2015: `bdrv_drain_all()` once; prepare every action in request order, stopping at the first
 * failure; on success commit every started action, on failure abort every started action
 * (including the one whose prepare failed); then clean every started action. The `era` setting
 * holds the order of commit/abort/clean: FIFO in 2015, LIFO for the 2021+ Transaction API
 * (util/transactions.c), so adding that era touches no action.
 *
 * It runs on the main thread inside the monitor's dispatch, so the monitor takes no other
 * command until it answers.
 */
import { setup } from 'xstate';
import { applyStep, Emitter, type ActorName, type AnyEvent, type ThreadName } from './effects.ts';
import { drainAllOps, emptyProgram, feedProgram, runProgram, type Program, type ProgramHost } from './syncProgram.ts';
import type { TxnPhase } from './transactionActionMachine.ts';

export type Era = '2015' | 'now';

export interface TransactionInput {
  name: ActorName;
  actions: readonly ActorName[];
  era?: Era;
  /** Every node and its context: the bdrv_drain_all before the first prepare. */
  allNodes: readonly { node: ActorName; ctx: ActorName }[];
}

export interface TransactionContext {
  name: ActorName;
  actions: readonly ActorName[];
  era: Era;
  allNodes: readonly { node: ActorName; ctx: ActorName }[];
  thread: ThreadName;
  replyTo: ActorName | null;
  stage: 'idle' | 'drainAll' | TxnPhase | 'done';
  program: Program;
  /** Action indexes still to run in the current phase, in the era's order. */
  pending: readonly number[];
  /** How many actions started (prepare was called). */
  started: number;
  failedAt: number | null;
  error: string | null;
}

type Ctx = TransactionContext;

/** Commit, abort and clean run over the started actions: FIFO in 2015, LIFO now. */
export function phaseOrder(era: Era, started: number): number[] {
  const order = Array.from({ length: started }, (_, i) => i);
  return era === 'now' ? order.reverse() : order;
}

function host(ctx: Ctx): ProgramHost {
  return { self: ctx.name, thread: ctx.thread, holds: () => false };
}

function callNext(ctx: Ctx, out: Emitter): Ctx {
  const stage = ctx.stage as TxnPhase;
  const [index, ...rest] = ctx.pending;
  if (index === undefined) return nextStage(ctx, out);
  out.observe({ type: 'obs.txn', txn: ctx.name, phase: stage, index, result: 'start' });
  out.send(ctx.actions[index], { type: `txn.${stage}`, replyTo: ctx.name, thread: ctx.thread });
  return { ...ctx, pending: rest, started: stage === 'prepare' ? Math.max(ctx.started, index + 1) : ctx.started };
}

function enter(ctx: Ctx, stage: TxnPhase, pending: number[], out: Emitter): Ctx {
  return callNext({ ...ctx, stage, pending }, out);
}

function nextStage(ctx: Ctx, out: Emitter): Ctx {
  switch (ctx.stage) {
    case 'drainAll':
      return enter(ctx, 'prepare', ctx.actions.map((_, i) => i), out);
    case 'prepare':
      return enter(ctx, 'commit', phaseOrder(ctx.era, ctx.started), out);
    case 'commit':
    case 'abort':
      return enter(ctx, 'clean', phaseOrder(ctx.era, ctx.started), out);
    case 'clean': {
      const ok = ctx.failedAt === null;
      out.observe({ type: 'obs.txn', txn: ctx.name, phase: 'transaction', index: -1, result: ok ? 'ok' : 'failed', ...(ok ? {} : { error: ctx.error! }) });
      out.send(ctx.replyTo!, { type: 'txn.result', txn: ctx.name, ok, error: ctx.error });
      return { ...ctx, stage: 'done' };
    }
    default:
      return ctx;
  }
}

export function transactionStep(ctx: Ctx, event: AnyEvent): { context: Ctx; emitted: Emitter['emitted'] } {
  const out = new Emitter();
  if (event.type === 'txn.run') {
    out.observe({ type: 'obs.txn', txn: ctx.name, phase: 'transaction', index: -1, result: 'start' });
    ctx = { ...ctx, replyTo: event.replyTo as ActorName, thread: event.thread as ThreadName, stage: 'drainAll', program: { ops: [], waiting: null } };
    ctx = { ...ctx, program: { ops: drainAllOps(ctx.allNodes, { self: ctx.name, thread: ctx.thread }, 'drainAll', ctx.era), waiting: null } };
    ctx = runDrainAll(ctx, out);
  } else if (event.type === 'txn.phase.done') {
    const index = event.index as number;
    const ok = event.ok as boolean;
    out.observe({ type: 'obs.txn', txn: ctx.name, phase: ctx.stage as TxnPhase, index, result: ok ? 'ok' : 'failed', ...(ok ? {} : { error: String(event.error) }) });
    if (ctx.stage === 'prepare' && !ok) {
      // The first failure: later actions never start; every started one is aborted, the failing one included.
      ctx = { ...ctx, failedAt: index, error: String(event.error) };
      ctx = enter(ctx, 'abort', phaseOrder(ctx.era, ctx.started), out);
    } else {
      ctx = callNext(ctx, out);
    }
  } else {
    const fed = feedProgram(ctx.program, event, host(ctx), out);
    if (!fed.consumed) out.observe({ type: 'obs.error', message: `${ctx.name}: unexpected ${event.type} in ${ctx.stage}` });
    ctx = { ...ctx, program: fed.program };
    if (fed.advanced) ctx = runDrainAll(ctx, out);
  }
  return { context: ctx, emitted: out.emitted };
}

function runDrainAll(ctx: Ctx, out: Emitter): Ctx {
  const outcome = runProgram(ctx.program, host(ctx), out);
  ctx = { ...ctx, program: outcome.program };
  return outcome.status === 'finished' ? nextStage({ ...ctx, program: emptyProgram }, out) : ctx;
}

const STAGES = ['idle', 'drainAll', 'prepare', 'commit', 'abort', 'clean', 'done'] as const;

export const transactionMachine = setup({
  types: {
    context: {} as TransactionContext,
    input: {} as TransactionInput,
  },
  actions: { applyEvent: applyStep(transactionStep) as any },
  guards: {
    isStage: ({ context }, params: { stage: string }) => context.stage === params.stage,
  },
}).createMachine({
  id: 'transaction',
  description: 'qmp_transaction: drain_all, prepare in order, commit or abort every started action, clean every started action',
  context: ({ input }) => ({
    name: input.name,
    actions: input.actions,
    era: input.era ?? '2015',
    allNodes: input.allNodes,
    thread: 'main',
    replyTo: null,
    stage: 'idle',
    program: emptyProgram,
    pending: [],
    started: 0,
    failedAt: null,
    error: null,
  }),
  initial: 'idle',
  on: Object.fromEntries(['txn.phase.done', 'aio.acquired', 'drain.done', 'drain.begin.done', 'drain.end.done'].map((t) => [t, { actions: 'applyEvent' }])),
  states: Object.fromEntries(
    STAGES.map((stage) => [
      stage,
      {
        ...(stage === 'idle' ? { on: { 'txn.run': { actions: 'applyEvent' } } } : {}),
        always: STAGES.filter((other) => other !== stage).map((other) => ({ guard: { type: 'isStage' as const, params: { stage: other } }, target: other })),
      },
    ]),
  ) as any,
});
