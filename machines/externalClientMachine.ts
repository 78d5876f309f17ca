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
import { applyStep, Emitter, type ActorName, type AnyEvent, type RequestOrigin, type ThreadName, type Trigger } from './effects.ts';

export type ClientKind = 'nbd' | 'virtio-blk' | 'virtio-scsi';

export interface WorkloadRequest {
  id: string;
  op: 'read' | 'write' | 'flush';
  /** Issue only after these requests (of any client) completed: a causal dependency seen by the guest. */
  after: readonly string[];
  /** Issue no earlier than this REALTIME instant, ns. */
  at?: number;
  /** Issue only once this holds (e.g. the transaction entered commit). */
  when?: Trigger;
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
  /** Workload indexes issued by the far side, not yet taken by the device (virtqueue / socket buffer). */
  ring: readonly number[];
  /**
   * One character per workload request, in workload order: `.` not issued, `i` issued,
   * `s` submitted to the node, `c` completed. A string so that a step copies a few bytes, not
   * an array, and the state of request i is `progress[i]`.
   */
  progress: string;
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
  | { type: 'blk.retarget'; from: ActorName; to: ActorName }
  | { type: 'aio.dispatch'; ctx: ActorName; kind: 'bh' | 'handler' | 'timer'; id: string; thread: ThreadName }
  | { type: 'io.complete'; id: string; node: ActorName; origin: RequestOrigin };

export const clientHandlerId = (client: ActorName) => `notifier:${client}`;

const originOf = (kind: ClientKind): RequestOrigin => (kind === 'nbd' ? 'external-nbd' : 'external-virtio');

export type RequestProgress = '.' | 'i' | 's' | 'c';

const indexCache = new WeakMap<readonly WorkloadRequest[], ReadonlyMap<string, number>>();

/** The position of request `id` in the workload (the workload array is shared by every snapshot, so this is computed once). */
export function workloadIndex(workload: readonly WorkloadRequest[], id: string): number {
  let index = indexCache.get(workload);
  if (!index) {
    index = new Map(workload.map((r, i) => [r.id, i]));
    indexCache.set(workload, index);
  }
  return index.get(id) ?? -1;
}

function withProgress(ctx: ExternalClientContext, index: number, state: RequestProgress): ExternalClientContext {
  return { ...ctx, progress: ctx.progress.slice(0, index) + state + ctx.progress.slice(index + 1) };
}

/** Ids of the requests the far side has seen complete, in workload order. */
export function completedIds(ctx: ExternalClientContext): string[] {
  return ctx.workload.filter((_, i) => ctx.progress[i] === 'c').map((r) => r.id);
}

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
      out.observe({ type: 'obs.guest', phase: 'issue', id: req.id, op: req.op });
      ctx = withProgress({ ...ctx, nextIndex: ctx.nextIndex + 1, ring: [...ctx.ring, ctx.nextIndex] }, ctx.nextIndex, 'i');
      // Guest kick (ioeventfd) or bytes on the socket: the handler becomes ready.
      out.send(ctx.ctx, { type: 'aio.handler.notify', id: clientHandlerId(ctx.name) });
      break;
    }
    case 'aio.dispatch': {
      // virtio: handle_notify drains the virtqueue; nbd: nbd_read reads one request per call.
      const taken = ctx.kind === 'nbd' ? ctx.ring.slice(0, 1) : ctx.ring;
      const rest = ctx.ring.slice(taken.length);
      ctx = { ...ctx, ring: rest };
      for (const index of taken) {
        const req = ctx.workload[index];
        out.send(ctx.node, { type: 'io.submit', id: req.id, origin: originOf(ctx.kind), op: req.op, replyTo: ctx.name, aio: true });
        ctx = withProgress(ctx, index, 's');
      }
      // The socket still holds unread requests: it stays readable.
      if (rest.length > 0) out.send(ctx.ctx, { type: 'aio.handler.notify', id: clientHandlerId(ctx.name) });
      out.send(e.ctx, { type: 'aio.callback.done' });
      break;
    }
    case 'far.tick':
      ctx = { ...ctx, reachedAt: Math.max(ctx.reachedAt, e.at) };
      break;
    case 'blk.retarget':
      // bdrv_append: the device's BlockBackend now points at the overlay; later requests go there.
      if (ctx.node === e.from) ctx = { ...ctx, node: e.to };
      break;
    case 'io.complete':
    {
      // The completion reaches the far side (virtio interrupt / NBD reply); dependants may now be issued.
      const index = workloadIndex(ctx.workload, e.id);
      if (index < 0 || ctx.progress[index] !== 's') {
        const seen = index < 0 ? 'is not in its workload' : ctx.progress[index] === 'c' ? 'completed twice' : 'was never submitted';
        out.observe({ type: 'obs.error', message: `${ctx.name}: completion of ${e.id}, which ${seen}` });
        break;
      }
      out.observe({ type: 'obs.guest', phase: 'complete', id: e.id, op: ctx.workload[index].op });
      ctx = withProgress(ctx, index, 'c');
      break;
    }
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
    progress: '.'.repeat(input.workload?.length ?? 0),
    reachedAt: 0,
  }),
  entry: 'registerHandler',
  initial: 'attached',
  states: {
    attached: {
      on: {
        'far.issue': { actions: 'applyEvent' },
        'far.tick': { actions: 'applyEvent' },
        'blk.retarget': { actions: 'applyEvent' },
        'aio.dispatch': { actions: 'applyEvent' },
        'io.complete': { actions: 'applyEvent' },
      },
    },
  },
});

/**
 * The far side's choice: issue the next request of its program once its time has come and its
 * dependencies completed. `isCompleted` answers for any request id: causal dependencies cross
 * clients (the guest saw Wx complete on one disk before it wrote Wy to another).
 */
export function externalClientOffers(ctx: ExternalClientContext, isCompleted: (id: string) => boolean, holds: (t: Trigger) => boolean = () => true): AnyEvent[] {
  const req = ctx.workload[ctx.nextIndex];
  if (!req) return [];
  if (req.at !== undefined && req.at > ctx.reachedAt) return [];
  for (const dep of req.after) if (!isCompleted(dep)) return [];
  if (req.when && !holds(req.when)) return [];
  return [{ type: 'far.issue', id: req.id }];
}
