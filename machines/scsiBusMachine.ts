/**
 * A virtio-scsi HBA's SCSI bus (hw/scsi/scsi-bus.c, hw/scsi/virtio-scsi.c, QEMU 8.1 on).
 *
 * A virtio-scsi HBA carries several SCSI disks (scsi-hd devices), each with its own
 * BlockBackend on its own node, and one set of virtqueues whose host notifiers live on the
 * HBA's IOThread. Each disk's BlockDevOps drained_begin (scsi_disk_drained_begin) calls
 * scsi_device_drained_begin, which counts on the bus: on the bus's 0->1 the HBA's
 * drained_begin (virtio_scsi_drained_begin) detaches the host notifiers of ALL its virtqueues
 * (virtio_queue_aio_detach_host_notifier). scsi_device_drained_end counts down, and on 1->0
 * virtio_scsi_drained_end attaches them all again (virtio_queue_aio_attach_host_notifier).
 * Overlapping drains of two disks give one detach and one attach, and a drain of one disk stops
 * the whole HBA: another disk's new requests wait in the virtqueue until the last drain ends.
 *
 * In the model each disk is a client actor (device and BlockBackend together) holding its own
 * handler (one notifier per disk stands for the HBA's virtqueues): the bus tells every disk to
 * detach or attach its handler (`scsi.notifiers.detach/attach`), waits until each has
 * (`scsi.notifiers.done`), and only then answers the disk that called it
 * (`scsi.drained.done`), so that the detach of every handler has happened before the drained
 * node's bdrv_drained_begin goes on. While a round runs the bus takes no other call: in QEMU
 * these are plain function calls in the main loop (GLOBAL_STATE_CODE), one after the other.
 *
 * In the 2015 era nothing calls the bus (the context's external counter gates every handler of
 * the HBA's IOThread; the devices have no drained callbacks).
 */
import { setup } from 'xstate';
import { applyStep, Emitter, type ActorName, type AnyEvent } from './effects.ts';
import type { Era } from './transactionMachine.ts';

export interface ScsiBusContext {
  name: ActorName;
  era: Era;
  /** The disks on the bus (client actors), kept sorted: only which ones is behaviour. */
  disks: readonly ActorName[];
  /** bus->drain_count: the disks whose BlockBackend is in a drained section (scsi_device_drained_begin - _end). */
  drainCount: number;
  /** A detach (begin) or attach (end) of every disk's handler under way: the acks still owed, and the disk to answer. */
  round: { which: 'begin' | 'end'; outstanding: number; replyTo: ActorName } | null;
}

export interface ScsiBusInput {
  name: ActorName;
  disks: readonly ActorName[];
  era?: Era;
}

export type ScsiBusEvent =
  /** scsi_device_drained_begin / scsi_device_drained_end, called by a disk's BlockDevOps drained_begin/end (replyTo: the disk, which waits). */
  | { type: 'scsi.drained_begin' | 'scsi.drained_end'; disk: ActorName; replyTo: ActorName }
  /** A disk has detached or attached its handler, as the bus told it. */
  | { type: 'scsi.notifiers.done'; disk: ActorName };

/** What the bus sends a disk: detach or attach its handler, then answer `scsi.notifiers.done`. */
export type ScsiDiskEvent =
  | { type: 'scsi.notifiers.detach' | 'scsi.notifiers.attach'; bus: ActorName }
  /** The bus call of a disk has returned (the HBA's drained_begin/end ran if the count crossed 0). */
  | { type: 'scsi.drained.done'; bus: ActorName };

type Ctx = ScsiBusContext;

/** The count changed: the trace shows it as `scsiBusDrainCount` of `bus:NAME`. */
function observeCount(ctx: Ctx, out: Emitter): void {
  out.observe({ type: 'obs.counter', counter: 'scsiBusDrainCount', value: ctx.drainCount });
}

/** virtio_scsi_drained_begin / _end: every virtqueue's host notifier, that is, every disk's handler. */
function startRound(ctx: Ctx, out: Emitter, which: 'begin' | 'end', replyTo: ActorName): Ctx {
  const type = which === 'begin' ? 'scsi.notifiers.detach' : 'scsi.notifiers.attach';
  for (const disk of ctx.disks) out.send(disk, { type, bus: ctx.name });
  if (ctx.disks.length === 0) {
    out.send(replyTo, { type: 'scsi.drained.done', bus: ctx.name });
    return ctx;
  }
  return { ...ctx, round: { which, outstanding: ctx.disks.length, replyTo } };
}

export function scsiBusStep(ctx: Ctx, event: AnyEvent): { context: Ctx; emitted: Emitter['emitted'] } {
  const out = new Emitter();
  const e = event as ScsiBusEvent;
  switch (e.type) {
    case 'scsi.drained_begin':
      if (ctx.era !== 'now') {
        // 2015: no device has drained callbacks; nothing should call the bus.
        out.observe({ type: 'obs.error', message: `${ctx.name}: scsi_device_drained_begin from ${e.disk} in the 2015 era` });
        out.send(e.replyTo, { type: 'scsi.drained.done', bus: ctx.name });
        break;
      }
      // scsi_device_drained_begin: if (bus->drain_count++ == 0) bus->info->drained_begin(bus).
      ctx = { ...ctx, drainCount: ctx.drainCount + 1 };
      observeCount(ctx, out);
      if (ctx.drainCount === 1) ctx = startRound(ctx, out, 'begin', e.replyTo);
      else out.send(e.replyTo, { type: 'scsi.drained.done', bus: ctx.name });
      break;
    case 'scsi.drained_end':
      if (ctx.era !== 'now' || ctx.drainCount === 0) {
        out.observe({ type: 'obs.error', message: `${ctx.name}: scsi_device_drained_end from ${e.disk} with drain_count=0 (not drained)` });
        out.send(e.replyTo, { type: 'scsi.drained.done', bus: ctx.name });
        break;
      }
      // scsi_device_drained_end: if (--bus->drain_count == 0) bus->info->drained_end(bus).
      ctx = { ...ctx, drainCount: ctx.drainCount - 1 };
      observeCount(ctx, out);
      if (ctx.drainCount === 0) ctx = startRound(ctx, out, 'end', e.replyTo);
      else out.send(e.replyTo, { type: 'scsi.drained.done', bus: ctx.name });
      break;
    case 'scsi.notifiers.done': {
      const round = ctx.round;
      if (!round) {
        out.observe({ type: 'obs.error', message: `${ctx.name}: ${e.disk} answered a detach or attach nobody asked for` });
        break;
      }
      if (round.outstanding > 1) {
        ctx = { ...ctx, round: { ...round, outstanding: round.outstanding - 1 } };
        break;
      }
      // Every disk's handler is detached (attached): the HBA's drained_begin (drained_end) returns.
      out.send(round.replyTo, { type: 'scsi.drained.done', bus: ctx.name });
      ctx = { ...ctx, round: null };
      break;
    }
  }
  return { context: ctx, emitted: out.emitted };
}

export const scsiBusMachine = setup({
  types: {
    context: {} as ScsiBusContext,
    input: {} as ScsiBusInput,
    events: {} as ScsiBusEvent,
  },
  actions: {
    applyEvent: applyStep(scsiBusStep) as any,
  },
  guards: {
    isSwitching: ({ context }) => context.round !== null,
    isIdle: ({ context }) => context.round === null,
  },
}).createMachine({
  id: 'scsiBus',
  description: "A virtio-scsi HBA's SCSI bus (hw/scsi/scsi-bus.c): the disks' drain counter bus->drain_count; on 0->1 every disk's handler is detached, on 1->0 attached again",
  context: ({ input }) => ({
    name: input.name,
    era: input.era ?? '2015',
    disks: [...input.disks].sort(),
    drainCount: 0,
    round: null,
  }),
  initial: 'idle',
  states: {
    idle: {
      description: 'No detach or attach under way: a disk may call scsi_device_drained_begin or scsi_device_drained_end',
      always: [{ guard: 'isSwitching', target: 'switching' }],
      on: {
        'scsi.drained_begin': { actions: 'applyEvent' },
        'scsi.drained_end': { actions: 'applyEvent' },
        'scsi.notifiers.done': { actions: 'applyEvent' },
      },
    },
    switching: {
      description: 'virtio_scsi_drained_begin or virtio_scsi_drained_end: waiting for every disk to have detached (attached) its handler',
      always: [{ guard: 'isIdle', target: 'idle' }],
      on: {
        'scsi.notifiers.done': { actions: 'applyEvent' },
      },
    },
  },
});
