/**
 * Host storage: the kernel and disk below a protocol node (block/linux-aio.c's io_submit and
 * the eventfd it signals).
 *
 * A submitted request stays pending until the environment completes it; *when* is a choice the
 * scheduler makes (`host.complete` is offered for every pending request), which is how the
 * model covers every latency ordering without wall-clock time. Completing a request puts it in
 * the node's completion ring and sets the node's event notifier, an internal handler: the
 * completion itself waits for the next poll of the node's context.
 */
import { setup } from 'xstate';
import { applyStep, Emitter, SORTED_CONTEXT_LISTS, type ActorName, type AnyEvent, type RequestOrigin } from './effects.ts';

export interface HostRequest {
  id: string;
  node: ActorName;
  op: 'read' | 'write' | 'flush';
  origin: RequestOrigin;
  ctx: ActorName;
  handler: string;
  /** The latency of its kind has passed: the scheduler may complete it now. */
  ready: boolean;
}

/** Minimum service time per kind of request, ns (0: the scheduler may complete it at once). */
export interface HostLatency {
  read: number;
  write: number;
  flush: number;
}

export interface HostStorageContext {
  name: ActorName;
  latency: HostLatency;
  /**
   * Submitted and not completed, sorted by node and id: the environment may complete any of
   * them next (see `hostStorageOffers`), so the order they came in is not behaviour, and two
   * states that differ only in it are one state.
   */
  pending: readonly HostRequest[];
}

function sortedPending(pending: HostRequest[]): HostRequest[] {
  return pending.sort(SORTED_CONTEXT_LISTS.pending);
}

export type HostStorageEvent =
  | { type: 'host.submit'; id: string; node: ActorName; op: 'read' | 'write' | 'flush'; origin: RequestOrigin; ctx: ActorName; handler: string }
  | { type: 'host.complete'; id: string; node: ActorName }
  | { type: 'host.ready'; id: string; node: ActorName };

export function hostStorageStep(ctx: HostStorageContext, event: AnyEvent) {
  const out = new Emitter();
  const e = event as HostStorageEvent;
  if (e.type === 'host.submit') {
    const latency = ctx.latency[e.op];
    ctx = { ...ctx, pending: sortedPending([...ctx.pending, { id: e.id, node: e.node, op: e.op, origin: e.origin, ctx: e.ctx, handler: e.handler, ready: latency === 0 }]) };
    if (latency > 0) out.alarmIn(`${ctx.name}/${e.node}/${e.id}`, 'realtime', latency, { type: 'host.ready', id: e.id, node: e.node });
  } else if (e.type === 'host.ready') {
    ctx = { ...ctx, pending: ctx.pending.map((r) => (r.id === e.id && r.node === e.node ? { ...r, ready: true } : r)) };
  } else {
    const req = ctx.pending.find((r) => r.id === e.id && r.node === e.node);
    if (!req) {
      out.observe({ type: 'obs.error', message: `${ctx.name}: host.complete for request '${e.id}' on ${e.node}, which is not pending` });
    } else {
      ctx = { ...ctx, pending: ctx.pending.filter((r) => r !== req) };
      out.send(req.node, { type: 'host.completion', id: req.id, origin: req.origin });
      // event_notifier_set on the linux-aio eventfd: an internal handler of the node's context.
      out.send(req.ctx, { type: 'aio.handler.notify', id: req.handler });
    }
  }
  return { context: ctx, emitted: out.emitted };
}

export const hostStorageMachine = setup({
  types: {
    context: {} as HostStorageContext,
    input: {} as { name: ActorName; latency?: Partial<HostLatency> },
    events: {} as HostStorageEvent,
  },
  actions: { applyEvent: applyStep(hostStorageStep) as any },
}).createMachine({
  id: 'hostStorage',
  description: 'Host storage under protocol nodes: completes requests in an order the scheduler chooses',
  context: ({ input }) => ({ name: input.name, latency: { read: 0, write: 0, flush: 0, ...input.latency }, pending: [] }),
  initial: 'serving',
  states: {
    serving: {
      on: {
        'host.submit': { actions: 'applyEvent' },
        'host.complete': { actions: 'applyEvent' },
        'host.ready': { actions: 'applyEvent' },
      },
    },
  },
});

const offersCache = new WeakMap<HostStorageContext, AnyEvent[]>();

/**
 * The environment's choices: any pending request whose latency has passed may complete next.
 * They depend on the context alone, so they are computed once per context value.
 */
export function hostStorageOffers(ctx: HostStorageContext): AnyEvent[] {
  let offers = offersCache.get(ctx);
  if (!offers) {
    offers = ctx.pending.filter((r) => r.ready).map((r) => ({ type: 'host.complete', id: r.id, node: r.node }));
    offersCache.set(ctx, offers);
  }
  return offers;
}
