/**
 * A callback owner for experiments on an AioContext: the role test-aio.c's callbacks play.
 *
 * It owns whatever handlers, BHs and timers it is told to create, records every callback the
 * context dispatches to it and every poll result it asked for, and on a callback sends the
 * events its `reactions` list for that callback id (schedule another BH, reschedule itself,
 * re-arm a timer, ...), as the callback's synchronous body, before returning.
 */
import { setup } from 'xstate';
import { applyStep, Emitter, type ActorName, type AnyEvent, type ThreadName } from './effects.ts';

export interface ProbeReaction {
  to: ActorName;
  event: AnyEvent;
  /** Only on the first `times` runs of the callback (unbounded if absent). */
  times?: number;
}

export interface CallbackProbeContext {
  name: ActorName;
  reactions: Readonly<Record<string, readonly ProbeReaction[]>>;
  /** Callback ids in the order they ran, e.g. `bh:a`, `handler:e`, `timer:t`. */
  ran: readonly string[];
  runs: Readonly<Record<string, number>>;
  /** Progress results of the polls this probe asked for. */
  pollResults: readonly boolean[];
  acquired: number;
}

export type CallbackProbeEvent =
  | { type: 'aio.dispatch'; ctx: ActorName; kind: 'bh' | 'handler' | 'timer'; id: string; thread: ThreadName }
  | { type: 'aio.poll.done'; ctx: ActorName; progress: boolean }
  | { type: 'aio.acquired'; ctx: ActorName };

export function callbackProbeStep(ctx: CallbackProbeContext, event: AnyEvent) {
  const out = new Emitter();
  const e = event as CallbackProbeEvent;
  if (e.type === 'aio.dispatch') {
    const key = `${e.kind}:${e.id}`;
    const runs = (ctx.runs[e.id] ?? 0) + 1;
    for (const reaction of ctx.reactions[e.id] ?? []) {
      if (reaction.times === undefined || runs <= reaction.times) out.send(reaction.to, reaction.event);
    }
    out.send(e.ctx, { type: 'aio.callback.done' });
    ctx = { ...ctx, ran: [...ctx.ran, key], runs: { ...ctx.runs, [e.id]: runs } };
  } else if (e.type === 'aio.poll.done') {
    ctx = { ...ctx, pollResults: [...ctx.pollResults, e.progress] };
  } else {
    ctx = { ...ctx, acquired: ctx.acquired + 1 };
  }
  return { context: ctx, emitted: out.emitted };
}

export const callbackProbeMachine = setup({
  types: {
    context: {} as CallbackProbeContext,
    input: {} as { name: ActorName; reactions?: Record<string, readonly ProbeReaction[]> },
    events: {} as CallbackProbeEvent,
  },
  actions: { applyEvent: applyStep(callbackProbeStep) as any },
}).createMachine({
  id: 'callbackProbe',
  description: 'Owner of experimental handlers, BHs and timers (the callbacks of tests/test-aio.c)',
  context: ({ input }) => ({
    name: input.name,
    reactions: input.reactions ?? {},
    ran: [],
    runs: {},
    pollResults: [],
    acquired: 0,
  }),
  initial: 'listening',
  states: {
    listening: {
      on: {
        'aio.dispatch': { actions: 'applyEvent' },
        'aio.poll.done': { actions: 'applyEvent' },
        'aio.acquired': { actions: 'applyEvent' },
      },
    },
  },
});
