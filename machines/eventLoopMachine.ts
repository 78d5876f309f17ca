/**
 * The home loop of a context: an IOThread (iothread_run: `while (running) aio_poll(ctx, true)`)
 * or the main loop (main_loop_wait dispatching qemu_aio_context). It asks for one blocking poll
 * after another; the context parks the request while it has nothing to dispatch or while
 * another thread holds its lock (aio_context_acquire), so an idle loop takes no steps.
 */
import { setup, emit } from 'xstate';
import type { ActorName, ThreadName } from './effects.ts';

export interface EventLoopContext {
  name: ActorName;
  ctx: ActorName;
  thread: ThreadName;
}

export type EventLoopEvent = { type: 'aio.poll.done'; ctx: ActorName; progress: boolean };

export const eventLoopMachine = setup({
  types: {
    context: {} as EventLoopContext,
    input: {} as { name: ActorName; ctx: ActorName; thread: ThreadName },
    events: {} as EventLoopEvent,
  },
  actions: {
    requestBlockingPoll: emit(({ context }) => ({
      type: 'fx.send',
      to: context.ctx,
      event: { type: 'aio.poll', blocking: true, thread: context.thread, replyTo: context.name },
    })) as any,
  },
}).createMachine({
  id: 'eventLoop',
  description: 'iothread_run / main_loop_wait: aio_poll(ctx, blocking=true) forever',
  context: ({ input }) => ({ name: input.name, ctx: input.ctx, thread: input.thread }),
  initial: 'polling',
  states: {
    polling: {
      entry: 'requestBlockingPoll',
      on: {
        'aio.poll.done': { target: 'polling', reenter: true },
      },
    },
  },
});
