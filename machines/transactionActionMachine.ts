/**
 * One action of a QMP `transaction` (blockdev.c, BlkActionOps, 2015 with series patches 7-10).
 *
 * The coordinator sends `txn.prepare`, then `txn.commit` or `txn.abort`, then `txn.clean`; the
 * action answers each with `txn.phase.done`. Inside a phase every synchronous QEMU call is a
 * call of its program (machines/syncProgram.ts), and the `operation` region names the one
 * running now: flushing the old image, creating or opening the overlay, reopening the old image
 * read-only (which begins with bdrv_drain_all), creating or deleting an internal snapshot,
 * starting or cancelling a job. While an operation waits, the rest of the world steps: that is
 * the nested aio_poll where the series' bug lived.
 *
 * Failure checks sit where QEMU makes them, before or after the drained_begin; `txn.clean`
 * ends the drained section only if prepare began it (the `acquired`/`drained` flags, as the
 * 2015 code keys clean on `state->aio_context` or `state->bs`).
 */
import { setup } from 'xstate';
import type { Era } from './transactionMachine.ts';
import { applyStep, Emitter, type ActorName, type AnyEvent, type ThreadName } from './effects.ts';
import { currentLabel, drainAllOps, emptyProgram, feedProgram, runProgram, type Program, type ProgramHost, type SyncOp } from './syncProgram.ts';

export type ActionKind = 'blockdev-snapshot-sync' | 'blockdev-snapshot-internal-sync' | 'drive-backup' | 'blockdev-backup' | 'abort';
export type TxnPhase = 'prepare' | 'commit' | 'abort' | 'clean';

/** What the action was asked for, resolved against the topology when the scenario was built. */
export interface TransactionActionInput {
  name: ActorName;
  index: number;
  kind: ActionKind;
  /** The device as the user named it. */
  device: string;
  /** Its node and context, or null when no such device exists. */
  node: ActorName | null;
  ctx: ActorName | null;
  hasMedium: boolean;
  readOnly: boolean;
  /** External snapshot: the overlay node and its file; `creatable` false means the path is unusable. */
  overlay?: { node: ActorName; file: ActorName; fileCtx: ActorName; path: string; creatable: boolean };
  /** Internal snapshot. */
  snapshotName?: string;
  nameTaken?: boolean;
  supportsSnapshots?: boolean;
  /** Backups: the target as named, its node and context (null when missing), and the job actor. */
  target?: { name: string; node: ActorName | null; ctx: ActorName | null; fileNode: ActorName | null };
  job?: ActorName;
  /** Devices whose requests go to `node` (they follow the overlay at the append). */
  /**
   * The device's BlockBackends (bs->parents), as a set: each gets its own retarget, to its own
   * mailbox, so their order changes nothing, and identical clients stay interchangeable.
   */
  clients: Readonly<Record<ActorName, true>>;
  /** Every node and its context, for the bdrv_drain_all at the start of bdrv_reopen. */
  allNodes: readonly { node: ActorName; ctx: ActorName }[];
  /** Protection switch (patches 7-10): drained_begin in prepare, drained_end in clean. */
  drains: boolean;
  /**
   * 2015: the external snapshot appends its overlay in commit. now (blockdev.c
   * external_snapshot_action, Transaction API): it appends in prepare, so the point in time is
   * in prepare, and abort undoes the append (external_snapshot_abort, bdrv_replace_node back to
   * the old node). Default 2015.
   */
  era?: Era;
  thread?: ThreadName;
}

export interface TransactionActionContext extends TransactionActionInput {
  thread: ThreadName;
  coordinator: ActorName | null;
  phase: TxnPhase | null;
  program: Program;
  /** aio_context_acquire happened in prepare (clean releases iff set). */
  acquired: boolean;
  /** bdrv_drained_begin happened in prepare (clean ends the section iff set). */
  drained: boolean;
  created: boolean;
  jobStarted: boolean;
  jobCompleted: boolean;
  appended: boolean;
  error: string | null;
  /** Phases finished, in order: `prepare:ok`, `commit:ok`, ... */
  history: readonly string[];
}

export type TransactionActionEvent =
  | { type: 'txn.prepare' | 'txn.commit' | 'txn.abort' | 'txn.clean'; replyTo: ActorName; thread: ThreadName }
  | { type: 'job.completed'; job: ActorName }
  | AnyEvent;

type Ctx = TransactionActionContext;

/** QEMU's own messages for the failures the model knows. */
export const actionErrors = {
  deviceNotFound: (device: string) => `Device '${device}' not found`,
  noMedium: (device: string) => `Device '${device}' has no medium`,
  readOnly: (device: string) => `Device '${device}' is read only`,
  noInternalSnapshots: (device: string) => `Device '${device}' doesn't support internal snapshots`,
  emptyName: () => 'Name is empty',
  nameTaken: (name: string, device: string) => `Snapshot with name '${name}' already exists on device '${device}'`,
  cannotCreate: (path: string) => `Could not create file '${path}': No such file or directory`,
  targetNotFound: (target: string) => `Could not open '${target}': No such file or directory`,
  backupTargetNotFound: (target: string) => `Device '${target}' not found`,
  differentContexts: () => 'Backup between two IO threads is not implemented',
  aborted: () => 'Transaction aborted using Abort action',
};

const local = (label: string, name: string, data?: Record<string, unknown>): SyncOp => ({ kind: 'local', label, name, data });
const fail = (label: string, message: string): SyncOp => local(label, 'fail', { message });

function io(ctx: Ctx, label: string, node: ActorName, nodeCtx: ActorName, op: 'read' | 'write' | 'flush', part = ''): SyncOp {
  return { kind: 'io', label, node, ctx: nodeCtx, id: `${ctx.name}/${label}${part}`, op, origin: 'txn' };
}

/** bdrv_drained_begin or bdrv_drained_end on `node`, called by the action and awaited. */
function drainCall(ctx: Ctx, label: string, node: ActorName, which: 'begin' | 'end'): SyncOp {
  return { kind: 'call', label, to: node, event: { type: `drain.${which}`, thread: ctx.thread, replyTo: ctx.name }, awaits: `drain.${which}.done` };
}

/**
 * now: each of the device's BlockBackends moves from one node to the other (bdrv_replace_node),
 * one after the other, each done before the next (the BlockBackend answers once the new node has
 * taken it, quiesced if that node is drained, and it has let go of the old one).
 */
function retargets(ctx: Ctx, label: string, from: ActorName, to: ActorName): SyncOp[] {
  return Object.keys(ctx.clients).map((client) => ({ kind: 'call', label, to: client, event: { type: 'blk.retarget', from, to, replyTo: ctx.name }, awaits: 'blk.retargeted' }));
}

/** aio_context_acquire + bdrv_drained_begin, as the four drained actions open their prepare. */
function acquireAndDrain(ctx: Ctx): SyncOp[] {
  const ops: SyncOp[] = [
    // Held until clean: the IOThread cannot run its own loop on this context meanwhile.
    { kind: 'call', label: 'acquire', to: ctx.ctx!, event: { type: 'aio.acquire', thread: ctx.thread, replyTo: ctx.name }, awaits: 'aio.acquired' },
    local('acquire', 'acquired'),
  ];
  if (ctx.drains) {
    ops.push(
      drainCall(ctx, 'drainedBegin', ctx.node!, 'begin'),
      local('drainedBegin', 'drained'),
    );
  }
  return ops;
}

export function phaseProgram(ctx: Ctx, phase: TxnPhase): SyncOp[] {
  const device = ctx.device;
  switch (phase) {
    case 'prepare':
      return prepareOps(ctx, device);
    case 'commit':
      if (ctx.kind !== 'blockdev-snapshot-sync') return [];
      if (ctx.era === 'now') {
        // external_snapshot_commit: bdrv_reopen_set_read_only(old_bs); bdrv_reopen_multiple
        // drains the node it reopens (no longer every node), then writes the image's flags.
        return [
          drainCall(ctx, 'reopenReadOnly', ctx.node!, 'begin'),
          io(ctx, 'reopenReadOnly', ctx.node!, ctx.ctx!, 'flush'),
          drainCall(ctx, 'reopenReadOnly', ctx.node!, 'end'),
        ];
      }
      // external_snapshot_commit: bdrv_append (the point in time), then reopen the old image read-only,
      // which begins with bdrv_drain_all (bdrv_reopen_multiple).
      return [local('append', 'append'), ...drainAllOps(ctx.allNodes, { self: ctx.name, thread: ctx.thread }, 'reopenReadOnly'), io(ctx, 'reopenReadOnly', ctx.node!, ctx.ctx!, 'flush')];
    case 'abort':
      // external_snapshot_abort (now): the overlay is replaced by the old node again.
      if (ctx.kind === 'blockdev-snapshot-sync' && ctx.appended) {
        // bdrv_replace_node back, then the overlay lets go of its backing node: it leaves that
        // node's quiesce before abort returns.
        return [
          local('undoAppend', 'undoAppend'),
          ...retargets(ctx, 'undoAppend', ctx.overlay!.node, ctx.node!),
          { kind: 'call', label: 'undoAppend', to: ctx.node!, event: { type: 'parent.detach', parent: ctx.overlay!.node, replyTo: ctx.name }, awaits: 'parent.drained.done' },
        ];
      }
      if (ctx.kind === 'blockdev-snapshot-internal-sync' && ctx.created) {
        // qcow2_snapshot_delete: free the snapshot's clusters, then rewrite the snapshot table.
        return [io(ctx, 'deleteSnapshot', ctx.node!, ctx.ctx!, 'write', '/refcounts'), io(ctx, 'deleteSnapshot', ctx.node!, ctx.ctx!, 'write', '/table'), local('deleteSnapshot', 'deleted')];
      }
      if ((ctx.kind === 'drive-backup' || ctx.kind === 'blockdev-backup') && ctx.jobStarted) {
        // block_job_cancel_sync: cancel, then aio_poll(ctx, true) until the job completed.
        return [
          { kind: 'send', label: 'cancelJob', to: ctx.job!, event: { type: 'job.cancel' } },
          { kind: 'pollUntil', label: 'cancelJob', ctx: ctx.ctx!, until: 'jobCompleted' },
        ];
      }
      return [];
    case 'clean': {
      const ops: SyncOp[] = [];
      if (ctx.drained) ops.push(drainCall(ctx, 'drainedEnd', ctx.node!, 'end'));
      if (ctx.acquired) ops.push({ kind: 'send', label: 'release', to: ctx.ctx!, event: { type: 'aio.release', thread: ctx.thread } });
      return ops;
    }
  }
}

function prepareOps(ctx: Ctx, device: string): SyncOp[] {
  switch (ctx.kind) {
    case 'abort':
      return [fail('check', actionErrors.aborted())];
    case 'blockdev-snapshot-sync': {
      if (!ctx.node) return [fail('lookup', actionErrors.deviceNotFound(device))];
      const overlay = ctx.overlay!;
      const ops = acquireAndDrain(ctx);
      if (!ctx.hasMedium) return [...ops, fail('check', actionErrors.noMedium(device))];
      ops.push(io(ctx, 'flush', ctx.node, ctx.ctx!, 'flush'));
      if (!overlay.creatable) return [...ops, fail('createOverlay', actionErrors.cannotCreate(overlay.path))];
      ops.push(io(ctx, 'createOverlay', overlay.file, overlay.fileCtx, 'write'), io(ctx, 'openOverlay', overlay.node, overlay.fileCtx, 'read'));
      // bdrv_append in prepare (now). The overlay becomes a parent of the drained node, which
      // quiesces it at once (bdrv_replace_child_noperm), and the device's BlockBackend moves to
      // the quiesced overlay: the old node's drained_end in clean ends both.
      if (ctx.era === 'now') {
        ops.push(
          { kind: 'call', label: 'append', to: ctx.node, event: { type: 'parent.attach', parent: overlay.node, busy: false, ack: true, replyTo: ctx.name }, awaits: 'parent.attached' },
          local('append', 'append'),
          ...retargets(ctx, 'append', ctx.node, overlay.node),
        );
      }
      return ops;
    }
    case 'blockdev-snapshot-internal-sync': {
      if (!ctx.node) return [fail('lookup', actionErrors.deviceNotFound(device))];
      const ops = acquireAndDrain(ctx);
      const name = ctx.snapshotName ?? '';
      const problem = !ctx.hasMedium
        ? actionErrors.noMedium(device)
        : ctx.readOnly
          ? actionErrors.readOnly(device)
          : !ctx.supportsSnapshots
            ? actionErrors.noInternalSnapshots(device)
            : name === ''
              ? actionErrors.emptyName()
              : ctx.nameTaken
                ? actionErrors.nameTaken(name, device)
                : null;
      if (problem) return [...ops, fail('check', problem)];
      // bdrv_snapshot_create: the snapshot is the image as it is now; its table is written with nested polls.
      // qcow2_snapshot_create: copy the L1 table, write the snapshot table, update the header.
      return [
        ...ops,
        local('createSnapshot', 'pointInTime', { kind: 'internal-snapshot' }),
        io(ctx, 'createSnapshot', ctx.node, ctx.ctx!, 'write', '/l1'),
        io(ctx, 'createSnapshot', ctx.node, ctx.ctx!, 'write', '/table'),
        io(ctx, 'createSnapshot', ctx.node, ctx.ctx!, 'write', '/header'),
        local('createSnapshot', 'created'),
      ];
    }
    case 'drive-backup':
    case 'blockdev-backup': {
      if (!ctx.node) return [fail('lookup', actionErrors.deviceNotFound(device))];
      const target = ctx.target!;
      const ops: SyncOp[] = [];
      if (ctx.kind === 'blockdev-backup') {
        if (!target.node) return [fail('lookup', actionErrors.backupTargetNotFound(target.name))];
        if (target.ctx !== ctx.ctx) return [fail('check', actionErrors.differentContexts())];
      }
      ops.push(...acquireAndDrain(ctx));
      if (!ctx.hasMedium) return [...ops, fail('check', actionErrors.noMedium(device))];
      if (ctx.kind === 'drive-backup') {
        if (!target.node) return [...ops, fail('createTarget', actionErrors.targetNotFound(target.name))];
        ops.push(io(ctx, 'createTarget', target.fileNode ?? target.node, target.ctx!, 'write'));
      }
      ops.push(
        { kind: 'call', label: 'startJob', to: ctx.job!, event: { type: 'job.start', replyTo: ctx.name }, awaits: 'job.started' },
        local('startJob', 'jobStarted'),
      );
      return ops;
    }
  }
}

function host(ctx: Ctx): ProgramHost {
  return { self: ctx.name, thread: ctx.thread, holds: (condition) => condition === 'jobCompleted' && ctx.jobCompleted };
}

/** Applies a local op; returns the context and whether the phase failed. */
function applyLocal(ctx: Ctx, op: Extract<SyncOp, { kind: 'local' }>, out: Emitter): { ctx: Ctx; failed: boolean } {
  switch (op.name) {
    case 'fail':
      return { ctx: { ...ctx, error: op.data!.message as string }, failed: true };
    case 'acquired':
      return { ctx: { ...ctx, acquired: true }, failed: false };
    case 'drained':
      return { ctx: { ...ctx, drained: true }, failed: false };
    case 'undoAppend': {
      const overlay = ctx.overlay!;
      out.observe({ type: 'obs.artifact', action: ctx.name, kind: 'overlay', op: 'removed' });
      // now: the BlockBackends move back one by one (`retargets`, the calls after this step).
      if (ctx.era !== 'now') for (const client in ctx.clients) out.send(client, { type: 'blk.retarget', from: overlay.node, to: ctx.node! });
      return { ctx: { ...ctx, appended: false }, failed: false };
    }
    case 'created':
      out.observe({ type: 'obs.artifact', action: ctx.name, kind: 'internal-snapshot', op: 'created' });
      return { ctx: { ...ctx, created: true }, failed: false };
    case 'deleted':
      out.observe({ type: 'obs.artifact', action: ctx.name, kind: 'internal-snapshot', op: 'removed' });
      return { ctx: { ...ctx, created: false }, failed: false };
    case 'pointInTime':
      out.observe({ type: 'obs.pit', action: ctx.name, index: ctx.index, node: ctx.node!, kind: op.data!.kind as PointKind });
      return { ctx, failed: false };
    case 'jobStarted':
      out.observe({ type: 'obs.pit', action: ctx.name, index: ctx.index, node: ctx.node!, kind: 'backup' });
      out.observe({ type: 'obs.artifact', action: ctx.name, kind: 'job', op: 'created' });
      return { ctx: { ...ctx, jobStarted: true }, failed: false };
    case 'append': {
      // bdrv_append(overlay, old): the overlay takes over the device; the old image becomes its backing file.
      const overlay = ctx.overlay!;
      out.observe({ type: 'obs.pit', action: ctx.name, index: ctx.index, node: ctx.node!, kind: 'external-snapshot' });
      out.observe({ type: 'obs.artifact', action: ctx.name, kind: 'overlay', op: 'created' });
      if (ctx.era !== 'now') for (const client in ctx.clients) out.send(client, { type: 'blk.retarget', from: ctx.node!, to: overlay.node });
      return { ctx: { ...ctx, appended: true }, failed: false };
    }
    default:
      out.observe({ type: 'obs.error', message: `${ctx.name}: unknown local step '${op.name}'` });
      return { ctx, failed: false };
  }
}

type PointKind = 'external-snapshot' | 'internal-snapshot' | 'backup';

/** Runs the phase's program as far as it goes; answers the coordinator when the phase ends. */
function advance(ctx: Ctx, out: Emitter): Ctx {
  for (;;) {
    const outcome = runProgram(ctx.program, host(ctx), out);
    ctx = { ...ctx, program: outcome.program };
    if (outcome.status === 'waiting') return ctx;
    if (outcome.status === 'local') {
      const applied = applyLocal(ctx, outcome.op, out);
      ctx = applied.ctx;
      if (applied.failed) return endPhase({ ...ctx, program: emptyProgram }, out, false);
      continue;
    }
    return endPhase(ctx, out, true);
  }
}

function endPhase(ctx: Ctx, out: Emitter, ok: boolean): Ctx {
  const phase = ctx.phase!;
  out.send(ctx.coordinator!, { type: 'txn.phase.done', index: ctx.index, phase, ok, error: ok ? null : ctx.error });
  return { ...ctx, phase: null, history: [...ctx.history, `${phase}:${ok ? 'ok' : 'failed'}`] };
}

export function transactionActionStep(ctx: Ctx, event: AnyEvent): { context: Ctx; emitted: Emitter['emitted'] } {
  const out = new Emitter();
  switch (event.type) {
    case 'txn.prepare':
    case 'txn.commit':
    case 'txn.abort':
    case 'txn.clean': {
      const phase = event.type.slice(4) as TxnPhase;
      ctx = { ...ctx, coordinator: event.replyTo as ActorName, phase, program: { ops: phaseProgram(ctx, phase), waiting: null } };
      ctx = advance(ctx, out);
      break;
    }
    case 'job.completed':
      out.observe({ type: 'obs.artifact', action: ctx.name, kind: 'job', op: 'removed' });
      ctx = { ...ctx, jobCompleted: true };
      break;
    default: {
      const fed = feedProgram(ctx.program, event, host(ctx), out);
      if (!fed.consumed) {
        out.observe({ type: 'obs.error', message: `${ctx.name}: unexpected ${event.type} during ${ctx.phase ?? 'no phase'}` });
        break;
      }
      ctx = { ...ctx, program: fed.program };
      if (fed.advanced) ctx = advance(ctx, out);
    }
  }
  return { context: ctx, emitted: out.emitted };
}

/** Every synchronous operation an action can be in, for the `operation` region. */
export const OPERATIONS = [
  'lookup',
  'acquire',
  'drainedBegin',
  'check',
  'flush',
  'createOverlay',
  'openOverlay',
  'append',
  'undoAppend',
  'reopenReadOnly',
  'createSnapshot',
  'deleteSnapshot',
  'createTarget',
  'startJob',
  'cancelJob',
  'drainedEnd',
  'release',
] as const;

/** The phase region's state, derived from the context: the phase running, or how the last one ended. */
export function phaseStateOf(ctx: Ctx): string {
  if (ctx.phase) return { prepare: 'preparing', commit: 'committing', abort: 'aborting', clean: 'cleaning' }[ctx.phase];
  const last = ctx.history[ctx.history.length - 1];
  if (!last) return 'idle';
  if (last === 'prepare:ok') return 'prepared';
  if (last === 'prepare:failed') return 'prepareFailed';
  return { commit: 'committed', abort: 'aborted', clean: 'cleaned' }[last.split(':')[0]] ?? 'idle';
}

const PHASE_REGION_STATES = ['idle', 'preparing', 'prepared', 'prepareFailed', 'committing', 'committed', 'aborting', 'aborted', 'cleaning', 'cleaned'] as const;

/**
 * A region whose state mirrors a value computed from the context: each state moves to the one
 * `guard` names, so the statechart shows (and the trace records) where the action is.
 */
function mirrorRegion(states: readonly string[], guard: 'isPhaseState' | 'isOperation', description: Record<string, string> = {}) {
  return Object.fromEntries(
    states.map((state) => [
      state,
      {
        ...(description[state] ? { description: description[state] } : {}),
        always: states.filter((other) => other !== state).map((other) => ({ guard: { type: guard, params: { state: other } }, target: other })),
      },
    ]),
  );
}

const replies = ['aio.acquired', 'aio.poll.done', 'io.complete', 'drain.begin.done', 'drain.end.done', 'drain.done', 'job.started', 'job.completed', 'parent.attached', 'parent.drained.done', 'blk.retargeted'];

export const transactionActionMachine = setup({
  types: {
    context: {} as TransactionActionContext,
    input: {} as TransactionActionInput,
    events: {} as TransactionActionEvent,
  },
  actions: { applyEvent: applyStep(transactionActionStep) as any },
  guards: {
    isPhaseState: ({ context }, params: { state: string }) => phaseStateOf(context) === params.state,
    isOperation: ({ context }, params: { state: string }) => (currentLabel(context.program) ?? 'none') === params.state,
  },
}).createMachine({
  id: 'transactionAction',
  description: 'One QMP transaction action (blockdev.c BlkActionOps): prepare, commit or abort, clean',
  type: 'parallel',
  context: ({ input }) => ({
    ...input,
    thread: input.thread ?? 'main',
    coordinator: null,
    phase: null,
    program: emptyProgram,
    acquired: false,
    drained: false,
    created: false,
    jobStarted: false,
    jobCompleted: false,
    appended: false,
    error: null,
    history: [],
  }),
  on: Object.fromEntries(['txn.prepare', 'txn.commit', 'txn.abort', 'txn.clean', ...replies].map((t) => [t, { actions: 'applyEvent' }])),
  states: {
    phase: {
      description: 'Which BlkActionOps callback runs, or how the last one ended',
      initial: 'idle',
      states: mirrorRegion(PHASE_REGION_STATES, 'isPhaseState'),
    },
    operation: {
      description: 'The synchronous QEMU call the action is in (each waits while the world keeps stepping)',
      initial: 'none',
      states: mirrorRegion(['none', ...OPERATIONS], 'isOperation'),
    },
  },
});

