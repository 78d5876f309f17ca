/**
 * External clients: sources of *new* requests from outside the block layer.
 *
 * - `nbd`: an NBD server connection (nbd/server.c). Its socket is registered on the exported
 *   node's context with is_external = true (series patch 3). A readable socket makes the
 *   handler read one request and submit it; the socket stays readable while the far side has
 *   sent more.
 * - `virtio-blk` / `virtio-scsi`: a dataplane host notifier (hw/block/dataplane/virtio-blk.c,
 *   hw/scsi/virtio-scsi-dataplane.c), registered external by patch 4. A guest kick sets the
 *   ioeventfd; the handler pops every element of the virtqueue and submits each.
 *
 * The far side (the guest, or the NBD client across the network) is folded in: it issues the
 * workload in program order, each request only after the requests it depends on completed,
 * and *when* it issues is the scheduler's choice (`far.issue` is offered).
 */
import { setup } from 'xstate';
import { applyStep, Emitter, type ActorName, type AnyEvent, type RequestOrigin, type ThreadName } from './effects.ts';

export type ClientKind = 'nbd' | 'virtio-blk' | 'virtio-scsi';

export interface WorkloadRequest {
  id: string;
  op: 'read' | 'write' | 'flush';
  /** Issue only after these requests (of any client) completed: a causal dependency seen by the guest. */
  after: readonly string[];
  /** Issue no earlier than this REALTIME instant, ns. */
  at?: number;
}

export interface ExternalClientContext {
  name: ActorName;
  kind: ClientKind;
  node: ActorName;
  ctx: ActorName;
  /** Protection switch (patch 3 for nbd, 4 for dataplane): register the handler as external. */
  external: boolean;
  workload: readonly WorkloadRequest[];
  /** Index of the next workload request the far side will issue. */
  nextIndex: number;
  /** Issued by the far side, not yet taken by the device (virtqueue / socket buffer). */
  ring: readonly string[];
  submitted: readonly string[];
  completed: readonly string[];
  /** The latest workload instant (`at`) the clock has reached. */
  reachedAt: number;
}

export interface ExternalClientInput {
  name: ActorName;
  kind: ClientKind;
  node: ActorName;
  ctx: ActorName;
  external?: boolean;
  workload?: readonly WorkloadRequest[];
}

export type ExternalClientEvent =
  | { type: 'far.issue'; id: string }
  | { type: 'far.tick'; at: number }
  | { type: 'aio.dispatch'; ctx: ActorName; kind: 'bh' | 'handler' | 'timer'; id: string; thread: ThreadName }
  | { type: 'io.complete'; id: string; node: ActorName; origin: RequestOrigin };

export const clientHandlerId = (client: ActorName) => `notifier:${client}`;

const originOf = (kind: ClientKind): RequestOrigin => (kind === 'nbd' ? 'external-nbd' : 'external-virtio');

export function externalClientStep(ctx: ExternalClientContext, event: AnyEvent) {
  const out = new Emitter();
  const e = event as ExternalClientEvent;
  switch (e.type) {
    case 'far.issue': {
      const req = ctx.workload[ctx.nextIndex];
      if (!req || req.id !== e.id) {
        out.observe({ type: 'obs.error', message: `${ctx.name}: far side issued '${e.id}' out of program order` });
        break;
      }
      ctx = { ...ctx, nextIndex: ctx.nextIndex + 1, ring: [...ctx.ring, e.id] };
      // Guest kick (ioeventfd) or bytes on the socket: the handler becomes ready.
      out.send(ctx.ctx, { type: 'aio.handler.notify', id: clientHandlerId(ctx.name) });
      break;
    }
    case 'aio.dispatch': {
      // virtio: handle_notify drains the virtqueue; nbd: nbd_read reads one request per call.
      const taken = ctx.kind === 'nbd' ? ctx.ring.slice(0, 1) : ctx.ring;
      const rest = ctx.ring.slice(taken.length);
      for (const id of taken) {
        const req = ctx.workload.find((r) => r.id === id)!;
        out.send(ctx.node, { type: 'io.submit', id, origin: originOf(ctx.kind), op: req.op, replyTo: ctx.name, aio: true });
      }
      ctx = { ...ctx, ring: rest, submitted: [...ctx.submitted, ...taken] };
      // The socket still holds unread requests: it stays readable.
      if (rest.length > 0) out.send(ctx.ctx, { type: 'aio.handler.notify', id: clientHandlerId(ctx.name) });
      out.send(e.ctx, { type: 'aio.callback.done' });
      break;
    }
    case 'far.tick':
      ctx = { ...ctx, reachedAt: Math.max(ctx.reachedAt, e.at) };
      break;
    case 'io.complete':
      // The completion reaches the far side (virtio interrupt / NBD reply); dependants may now be issued.
      ctx = { ...ctx, completed: [...ctx.completed, e.id] };
      break;
  }
  return { context: ctx, emitted: out.emitted };
}

export const externalClientMachine = setup({
  types: {
    context: {} as ExternalClientContext,
    input: {} as ExternalClientInput,
    events: {} as ExternalClientEvent,
  },
  actions: {
    applyEvent: applyStep(externalClientStep) as any,
    registerHandler: applyStep((ctx: ExternalClientContext) => {
      const out = new Emitter();
      // aio_set_event_notifier / aio_set_fd_handler with is_external (patches 3 and 4).
      out.send(ctx.ctx, { type: 'aio.handler.set', id: clientHandlerId(ctx.name), owner: ctx.name, external: ctx.external });
      // The far side's own schedule: one alarm per distinct instant of the workload.
      const instants = [...new Set(ctx.workload.map((r) => r.at).filter((at): at is number => at !== undefined && at > 0))];
      for (const at of instants.sort((a, b) => a - b)) out.alarm(`${ctx.name}/at${at}`, 'realtime', at, { type: 'far.tick', at });
      return { context: ctx, emitted: out.emitted };
    }) as any,
  },
}).createMachine({
  id: 'externalClient',
  description: 'NBD server connection or virtio dataplane notifier: an external handler that submits new requests',
  context: ({ input }) => ({
    name: input.name,
    kind: input.kind,
    node: input.node,
    ctx: input.ctx,
    external: input.external ?? true,
    workload: input.workload ?? [],
    nextIndex: 0,
    ring: [],
    submitted: [],
    completed: [],
    reachedAt: 0,
  }),
  entry: 'registerHandler',
  initial: 'attached',
  states: {
    attached: {
      on: {
        'far.issue': { actions: 'applyEvent' },
        'far.tick': { actions: 'applyEvent' },
        'aio.dispatch': { actions: 'applyEvent' },
        'io.complete': { actions: 'applyEvent' },
      },
    },
  },
});

/**
 * The far side's choice: issue the next request of its program once its dependencies completed.
 * `completedEverywhere` is every request completed by any client (causal dependencies cross clients).
 */
export function externalClientOffers(ctx: ExternalClientContext, completedEverywhere: ReadonlySet<string>): AnyEvent[] {
  const req = ctx.workload[ctx.nextIndex];
  if (!req) return [];
  if (req.at !== undefined && req.at > ctx.reachedAt) return [];
  for (const dep of req.after) if (!completedEverywhere.has(dep)) return [];
  return [{ type: 'far.issue', id: req.id }];
}
