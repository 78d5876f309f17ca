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
 *
 * In the `now` era (QEMU 8.1 on) the actor is also the device's BlockBackend, a parent of its
 * node: nothing is external any more; the node's bdrv_drained_begin calls the BlockBackend's
 * drained_begin (blk_root_drained_begin), which on its own 0->1 calls the device's BlockDevOps
 * drained_begin: virtio-blk/virtio-scsi detach their ioeventfd handler
 * (virtio_queue_aio_detach_host_notifier), the NBD export stops reading requests
 * (nbd_drained_begin sets `quiescing`, and nbd_drained_poll wakes the receive coroutine so that no
 * read is left pending). A request that reaches a quiesced BlockBackend waits in its queue
 * (blk_wait_while_drained) unless queuing is off; blk_root_drained_end on 1->0 re-attaches the
 * handler (drained_end) and restarts the queue. The BlockBackend reports itself busy while a
 * request it submitted is not complete (blk_root_drained_poll reads blk->in_flight).
 *
 * A virtio-scsi disk on a shared SCSI bus (`bus`, machines/scsiBusMachine.ts) does not detach
 * its own handler: its drained_begin (scsi_disk_drained_begin -> scsi_device_drained_begin)
 * calls the bus, whose 0->1 detaches every disk's handler (virtio_scsi_drained_begin), and the
 * BlockBackend answers its node only once the bus has returned; its drained_end
 * (scsi_device_drained_end) calls the bus again, whose 1->0 attaches them all, and then the
 * BlockBackend restarts its own queue. Meanwhile (`waitingForBus`) the BlockBackend takes no
 * other drained call.
 */
import { setup } from 'xstate';
import { applyStep, Emitter, type ActorName, type AnyEvent, type RequestOrigin, type ThreadName, type Trigger } from './effects.ts';
import type { ScsiDiskEvent } from './scsiBusMachine.ts';
import type { Era } from './transactionMachine.ts';

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
   * `s` submitted to the node, `q` queued in the BlockBackend (now era), `c` completed. A string so that a step copies a few bytes, not
   * an array, and the state of request i is `progress[i]`.
   */
  progress: string;
  /** The latest workload instant (`at`) the clock has reached. */
  reachedAt: number;
  /** `2015`: the handler is gated by its context; `now`: the BlockBackend quiesces (see above). */
  era: Era;
  /** now: the BlockBackend's quiesce_counter (one per drained node it is attached through). */
  blkQuiesce: number;
  /** now: workload indexes waiting in blk_wait_while_drained, oldest first. */
  queued: readonly number[];
  /** now: the device's handler is detached from the context (BlockDevOps drained_begin ran). */
  detached: boolean;
  /** now, protection switch: the device implements BlockDevOps drained_begin/end. */
  drainedCallbacks: boolean;
  /** now, protection switch: blk_wait_while_drained queues (off: blk_set_disable_request_queuing). */
  queuing: boolean;
  /** now: the node the BlockBackend is moving away from, until the new one has taken it, and who waits for the move. */
  leaving: { node: ActorName; replyTo: ActorName | null } | null;
  /** now, virtio-scsi: the SCSI bus this disk sits on (its HBA), whose drain counter its drained callbacks go through; null: none. */
  bus: ActorName | null;
  /** now: a drained_begin (end) waiting for the bus's scsi_device_drained_begin (end) to return, and whom to answer then. */
  busCall: { which: 'begin' | 'end'; replyTo: ActorName | null } | null;
}

export interface ExternalClientInput {
  name: ActorName;
  kind: ClientKind;
  node: ActorName;
  ctx: ActorName;
  external?: boolean;
  workload?: readonly WorkloadRequest[];
  era?: Era;
  drainedCallbacks?: boolean;
  queuing?: boolean;
  /** now, virtio-scsi: the SCSI bus actor the disk sits on. */
  bus?: ActorName;
}

export type ExternalClientEvent =
  | { type: 'far.issue'; id: string }
  | { type: 'far.tick'; at: number }
  /** bdrv_append / bdrv_replace_node: the BlockBackend moves from one node to another (now: replyTo waits until it has). */
  | { type: 'blk.retarget'; from: ActorName; to: ActorName; replyTo?: ActorName }
  | { type: 'aio.dispatch'; ctx: ActorName; kind: 'bh' | 'handler' | 'timer'; id: string; thread: ThreadName }
  | { type: 'io.complete'; id: string; node: ActorName; origin: RequestOrigin }
  /** now: a node this BlockBackend is attached through quiesces or resumes it (replyTo: the caller waits; detach: it let go of the BlockBackend). */
  | { type: 'parent.drained_begin' | 'parent.drained_end'; node: ActorName; replyTo?: ActorName; detach?: boolean }
  /** now: the node it moves to has taken it (and quiesced it if drained): the old one may let go. */
  | { type: 'parent.attached'; node: ActorName }
  /** now, virtio-scsi: the bus detaches or attaches this disk's handler, or answers its call (machines/scsiBusMachine.ts). */
  | ScsiDiskEvent;

export const clientHandlerId = (client: ActorName) => `notifier:${client}`;

const originOf = (kind: ClientKind): RequestOrigin => (kind === 'nbd' ? 'external-nbd' : 'external-virtio');

/** `q`: waiting in the BlockBackend's queue (now era). */
export type RequestProgress = '.' | 'i' | 's' | 'q' | 'c';

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

/** Requests submitted to a node and not completed: blk->in_flight, which blk_root_drained_poll reads. */
function inFlight(ctx: ExternalClientContext): number {
  let count = 0;
  for (let i = 0; i < ctx.progress.length; i++) if (ctx.progress[i] === 's') count++;
  return count;
}

/** now: the BlockBackend's request path (blk_co_do_preadv/pwritev): queued while drained, else on to the node. */
function submitOrQueue(ctx: ExternalClientContext, out: Emitter, index: number): ExternalClientContext {
  const req = ctx.workload[index];
  if (ctx.era === 'now' && ctx.blkQuiesce > 0 && ctx.queuing) {
    // blk_wait_while_drained: the request waits, and leaves blk->in_flight while it does.
    out.observe({ type: 'obs.blk', phase: 'queued', node: ctx.node, quiesce: ctx.blkQuiesce, id: req.id });
    return withProgress({ ...ctx, queued: [...ctx.queued, index] }, index, 'q');
  }
  out.send(ctx.node, { type: 'io.submit', id: req.id, origin: originOf(ctx.kind), op: req.op, replyTo: ctx.name, aio: true });
  return withProgress(ctx, index, 's');
}

/** The device's handler on its context, as registered at start-up (and re-attached in the now era). */
function attachHandler(ctx: ExternalClientContext, out: Emitter): void {
  out.send(ctx.ctx, { type: 'aio.handler.set', id: clientHandlerId(ctx.name), owner: ctx.name, external: ctx.external });
}

/** now: virtio_queue_aio_detach_host_notifier: kicks from now on stay in the eventfd, unread. */
function detachHandler(ctx: ExternalClientContext, out: Emitter): ExternalClientContext {
  if (ctx.detached) return ctx;
  out.send(ctx.ctx, { type: 'aio.handler.remove', id: clientHandlerId(ctx.name) });
  return { ...ctx, detached: true };
}

/**
 * now: the handler goes back and is kicked at once, whatever came meanwhile: virtio's
 * virtio_queue_aio_attach_host_notifier sets the host notifier itself (event_notifier_set, for
 * the kicks ignored while detached), and nbd_drained_end re-enters the receive coroutine
 * (nbd_client_receive_next_request). A kick with nothing to read is a dispatch that submits
 * nothing; without it, a readiness left over from a kick whose request an earlier dispatch
 * already took would never be dispatched (I7 would say it was lost).
 */
function reattachHandler(ctx: ExternalClientContext, out: Emitter): ExternalClientContext {
  if (!ctx.detached) return ctx;
  attachHandler(ctx, out);
  out.send(ctx.ctx, { type: 'aio.handler.notify', id: clientHandlerId(ctx.name) });
  return { ...ctx, detached: false };
}

/** blk_root_drained_end, after the device's drained_end: the requests queued in blk_wait_while_drained go on. */
function restartQueued(ctx: ExternalClientContext, out: Emitter): ExternalClientContext {
  const queued = ctx.queued;
  ctx = { ...ctx, queued: [] };
  for (const index of queued) {
    out.observe({ type: 'obs.blk', phase: 'restarted', node: ctx.node, quiesce: 0, id: ctx.workload[index].id });
    ctx = submitOrQueue(ctx, out, index);
  }
  return ctx;
}

export function externalClientStep(ctx: ExternalClientContext, event: AnyEvent) {
  const out = new Emitter();
  const e = event as ExternalClientEvent;
  const busyBefore = ctx.era === 'now' && inFlight(ctx) > 0;
  switch (e.type) {
    case 'far.issue': {
      const req = ctx.workload[ctx.nextIndex];
      if (!req || req.id !== e.id) {
        out.observe({ type: 'obs.error', message: `${ctx.name}: far side issued '${e.id}' out of program order` });
        break;
      }
      out.observe({ type: 'obs.guest', phase: 'issue', id: req.id, op: req.op });
      ctx = withProgress({ ...ctx, nextIndex: ctx.nextIndex + 1, ring: [...ctx.ring, ctx.nextIndex] }, ctx.nextIndex, 'i');
      // Guest kick (ioeventfd) or bytes on the socket: the handler becomes ready. A detached
      // handler's eventfd is set all the same; the device reads it once it is attached again.
      if (!ctx.detached) out.send(ctx.ctx, { type: 'aio.handler.notify', id: clientHandlerId(ctx.name) });
      break;
    }
    case 'aio.dispatch': {
      // virtio: handle_notify drains the virtqueue; nbd: nbd_read reads one request per call.
      const taken = ctx.kind === 'nbd' ? ctx.ring.slice(0, 1) : ctx.ring;
      const rest = ctx.ring.slice(taken.length);
      ctx = { ...ctx, ring: rest };
      for (const index of taken) ctx = submitOrQueue(ctx, out, index);
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
      if (ctx.node !== e.from) {
        if (e.replyTo) out.send(e.replyTo, { type: 'blk.retargeted', client: ctx.name });
        break;
      }
      ctx = { ...ctx, node: e.to };
      if (ctx.era === 'now') {
        // bdrv_replace_child_noperm: the new node quiesces the BlockBackend (if it is drained)
        // before the old node lets it go, so it never runs unquiesced in between.
        out.send(e.to, { type: 'parent.attach', parent: ctx.name, busy: inFlight(ctx) > 0, ack: true });
        ctx = { ...ctx, leaving: { node: e.from, replyTo: e.replyTo ?? null } };
      }
      break;
    case 'parent.attached':
      if (ctx.leaving) {
        out.send(ctx.leaving.node, { type: 'parent.detach', parent: ctx.name });
        if (ctx.leaving.replyTo) out.send(ctx.leaving.replyTo, { type: 'blk.retargeted', client: ctx.name });
      }
      ctx = { ...ctx, leaving: null };
      break;
    case 'parent.drained_begin':
      // blk_root_drained_begin: on 0->1 the device's drained_begin.
      ctx = { ...ctx, blkQuiesce: ctx.blkQuiesce + 1 };
      out.observe({ type: 'obs.blk', phase: 'quiesce', node: e.node, quiesce: ctx.blkQuiesce });
      out.observe({ type: 'obs.counter', counter: 'blkQuiesce', value: ctx.blkQuiesce });
      if (ctx.blkQuiesce === 1 && ctx.drainedCallbacks && ctx.bus) {
        // scsi_disk_drained_begin -> scsi_device_drained_begin: the bus counts, and on its 0->1
        // virtio_scsi_drained_begin detaches every disk's handler, this one's included. The node's
        // call returns only once the bus's has (scsi.drained.done): no window before the detach.
        out.send(ctx.bus, { type: 'scsi.drained_begin', disk: ctx.name, replyTo: ctx.name });
        ctx = { ...ctx, busCall: { which: 'begin', replyTo: e.replyTo ?? null } };
        break;
      }
      if (ctx.blkQuiesce === 1 && ctx.drainedCallbacks) ctx = detachHandler(ctx, out);
      if (e.replyTo) out.send(e.replyTo, { type: 'parent.drained.done', parent: ctx.name });
      break;
    case 'parent.drained_end': {
      if (ctx.blkQuiesce === 0) {
        out.observe({ type: 'obs.error', message: `${ctx.name}: drained_end on a BlockBackend that is not drained (not drained)` });
        if (e.replyTo) out.send(e.replyTo, { type: 'parent.drained.done', parent: ctx.name });
        break;
      }
      // blk_root_drained_end: on 1->0 the device's drained_end, then the queued requests restart.
      ctx = { ...ctx, blkQuiesce: ctx.blkQuiesce - 1 };
      out.observe({ type: 'obs.blk', phase: 'resume', node: e.node, quiesce: ctx.blkQuiesce, ...(e.detach ? { detached: true } : {}) });
      out.observe({ type: 'obs.counter', counter: 'blkQuiesce', value: ctx.blkQuiesce });
      if (ctx.blkQuiesce === 0 && ctx.drainedCallbacks && ctx.bus) {
        // scsi_disk_drained_end -> scsi_device_drained_end: on the bus's 1->0
        // virtio_scsi_drained_end attaches every disk's handler again; the queue restarts once
        // the bus has returned (scsi.drained.done).
        out.send(ctx.bus, { type: 'scsi.drained_end', disk: ctx.name, replyTo: ctx.name });
        ctx = { ...ctx, busCall: { which: 'end', replyTo: e.replyTo ?? null } };
        break;
      }
      if (ctx.blkQuiesce === 0) ctx = restartQueued(reattachHandler(ctx, out), out);
      if (e.replyTo) out.send(e.replyTo, { type: 'parent.drained.done', parent: ctx.name });
      break;
    }
    case 'scsi.notifiers.detach':
      // virtio_scsi_drained_begin reaches this disk's virtqueue (whichever disk's drain started it).
      ctx = detachHandler(ctx, out);
      out.send(e.bus, { type: 'scsi.notifiers.done', disk: ctx.name });
      break;
    case 'scsi.notifiers.attach':
      // virtio_scsi_drained_end: attached again, and the kicks that came meanwhile are read.
      ctx = reattachHandler(ctx, out);
      out.send(e.bus, { type: 'scsi.notifiers.done', disk: ctx.name });
      break;
    case 'scsi.drained.done': {
      // The bus call returned: the BlockBackend's drained_begin (drained_end) goes on.
      const call = ctx.busCall;
      if (!call) {
        out.observe({ type: 'obs.error', message: `${ctx.name}: ${e.bus} answered a call this disk did not make` });
        break;
      }
      ctx = { ...ctx, busCall: null };
      if (call.which === 'end' && ctx.blkQuiesce === 0) ctx = restartQueued(ctx, out);
      if (call.replyTo) out.send(call.replyTo, { type: 'parent.drained.done', parent: ctx.name });
      break;
    }
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
  if (ctx.era === 'now') {
    // blk_root_drained_poll: the node draining asks whether this BlockBackend is still busy.
    const busyAfter = inFlight(ctx) > 0;
    if (busyAfter !== busyBefore) out.send(ctx.node, { type: 'parent.busy', parent: ctx.name, busy: busyAfter });
  }
  return { context: ctx, emitted: out.emitted };
}

/** What the device does in every state: serve its guest, and do as its SCSI bus says. */
const servesGuestAndBus = {
  'far.issue': { actions: 'applyEvent' },
  'far.tick': { actions: 'applyEvent' },
  'aio.dispatch': { actions: 'applyEvent' },
  'io.complete': { actions: 'applyEvent' },
  'scsi.notifiers.detach': { actions: 'applyEvent' },
  'scsi.notifiers.attach': { actions: 'applyEvent' },
  'scsi.drained.done': { actions: 'applyEvent' },
} as const;

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
      attachHandler(ctx, out);
      // The far side's own schedule: one alarm per distinct instant of the workload.
      const instants = [...new Set(ctx.workload.map((r) => r.at).filter((at): at is number => at !== undefined && at > 0))];
      for (const at of instants.sort((a, b) => a - b)) out.alarm(`${ctx.name}/at${at}`, 'realtime', at, { type: 'far.tick', at });
      return { context: ctx, emitted: out.emitted };
    }) as any,
  },
  guards: {
    isCallingBus: ({ context }) => context.busCall !== null,
    isNotCallingBus: ({ context }) => context.busCall === null,
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
    era: input.era ?? '2015',
    blkQuiesce: 0,
    queued: [],
    detached: false,
    drainedCallbacks: input.drainedCallbacks ?? true,
    queuing: input.queuing ?? true,
    leaving: null,
    bus: input.bus ?? null,
    busCall: null,
  }),
  entry: 'registerHandler',
  initial: 'attached',
  states: {
    attached: {
      description: 'The device takes requests from the far side and submits (or, quiesced, queues) them',
      always: [{ guard: 'isCallingBus', target: 'waitingForBus' }],
      on: {
        ...servesGuestAndBus,
        'blk.retarget': { actions: 'applyEvent' },
        'parent.drained_begin': { actions: 'applyEvent' },
        'parent.drained_end': { actions: 'applyEvent' },
        'parent.attached': { actions: 'applyEvent' },
      },
    },
    waitingForBus: {
      description:
        "now, virtio-scsi: blk_root_drained_begin or blk_root_drained_end waits for scsi_device_drained_begin or scsi_device_drained_end to return; the device still serves its guest, and no other drained call is taken",
      always: [{ guard: 'isNotCallingBus', target: 'attached' }],
      on: servesGuestAndBus,
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
