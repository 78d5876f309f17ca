/**
 * The QMP monitor on the main thread, running a script of commands.
 *
 * A command arrives on the monitor's socket, an internal handler of the main context, so it
 * runs *inside* a main-loop aio_poll dispatch: every poll it causes is a nested aio_poll on
 * the main thread, which is exactly where the series' bug lived. Like a QMP handler, each
 * command takes the lock of the context it works on (aio_context_acquire) and releases it
 * when done, so the IOThread can run its own loop between commands.
 */
import { setup } from 'xstate';
import { applyStep, describeTrigger, Emitter, type ActorName, type AnyEvent, type ThreadName, type Trigger } from './effects.ts';
import { drainAllOps, drainAllSectionOps, emptyProgram, feedProgram, runProgram, underLock, type Program, type ProgramHost, type SyncOp } from './syncProgram.ts';

/** Every command may wait for a time (`at`, REALTIME ns) and for a condition (`when`). */
type Timing = { at?: number; when?: Trigger };

export type MonitorCommand = Timing &
  (
    /** coroutine (now era only): the command runs in a coroutine, and the drain bounces to a BH (bdrv_co_yield_to_drain). */
    | { do: 'drained_begin'; node: ActorName; ctx: ActorName; coroutine?: boolean }
    | { do: 'drained_end'; node: ActorName; ctx: ActorName; coroutine?: boolean }
    | { do: 'drain'; node: ActorName; ctx: ActorName }
    | { do: 'drain_all'; nodes: readonly { node: ActorName; ctx: ActorName }[]; era?: '2015' | 'now' }
    | { do: 'drain_all_begin' | 'drain_all_end'; nodes: readonly { node: ActorName; ctx: ActorName }[]; era?: '2015' | 'now' }
    | { do: 'poll'; ctx: ActorName; blocking: boolean }
    | { do: 'stop' | 'cont' }
    | { do: 'transaction'; txn: ActorName }
  );

export interface MonitorContext {
  name: ActorName;
  mainCtx: ActorName;
  thread: ThreadName;
  script: readonly MonitorCommand[];
  pc: number;
  /** The running command as the calls it makes. */
  program: Program;
  /** The main-loop poll that dispatched the running command, to answer when it ends. */
  dispatchedBy: ActorName | null;
  errors: number;
  /** QMP replies to transactions, in order: `ok` or `error: <message>`. */
  replies: readonly string[];
  /** For a command with `when`: its time has come (`at`), and whether it was sent. */
  timeReached: boolean;
  sent: boolean;
  /**
   * A coroutine command yielded in bdrv_co_yield_to_drain: its dispatch has returned and the
   * main loop runs on; the drain runs when the main loop dispatches the bounce BH.
   */
  yielded: boolean;
}

export type MonitorEvent =
  | { type: 'script.wake' }
  | { type: 'script.time' }
  | { type: 'aio.dispatch'; ctx: ActorName; kind: 'bh' | 'handler' | 'timer'; id: string; thread: ThreadName }
  | { type: 'aio.acquired'; ctx: ActorName }
  | { type: 'aio.poll.done'; ctx: ActorName; progress: boolean }
  | { type: 'drain.begin.done'; node: ActorName }
  | { type: 'drain.end.done'; node: ActorName; error?: string }
  | { type: 'drain.done'; node: ActorName }
  | { type: 'txn.result'; txn: ActorName; ok: boolean; error: string | null };

export const monitorHandlerId = (monitor: ActorName) => `qmp:${monitor}`;

/** The one-shot BH bdrv_co_yield_to_drain schedules in the main loop (bdrv_co_drain_bh_cb). */
export const coDrainBhId = (monitor: ActorName) => `bh:co-drain:${monitor}`;

/** Whether a command's drain bounces: a coroutine caller in the now era (createSystem keeps `coroutine` for the now era only). */
const bounces = (cmd: MonitorCommand | undefined): boolean => (cmd?.do === 'drained_begin' || cmd?.do === 'drained_end') && cmd.coroutine === true;

/** A command as the calls it makes, each inside aio_context_acquire/release of its context. */
export function commandOps(cmd: MonitorCommand, self: ActorName, thread: ThreadName): SyncOp[] {
  const host = { self, thread };
  const call = (to: ActorName, type: string, awaits: string, extra: Record<string, unknown> = {}): SyncOp[] => [
    { kind: 'call', label: cmd.do, to, event: { type, thread, replyTo: self, ...extra }, awaits },
  ];
  switch (cmd.do) {
    case 'drained_begin':
      return underLock(cmd.ctx, host, call(cmd.node, 'drain.begin', 'drain.begin.done'), cmd.do);
    case 'drained_end':
      return underLock(cmd.ctx, host, call(cmd.node, 'drain.end', 'drain.end.done'), cmd.do);
    case 'drain':
      return underLock(cmd.ctx, host, call(cmd.node, 'drain.run', 'drain.done'), cmd.do);
    case 'drain_all':
      return drainAllOps(cmd.nodes, host, cmd.do, cmd.era);
    case 'drain_all_begin':
    case 'drain_all_end':
      // 2015 had no such section: its begin is the one-shot bdrv_drain_all, its end nothing.
      if (cmd.era !== 'now') return cmd.do === 'drain_all_begin' ? drainAllOps(cmd.nodes, host, cmd.do) : [];
      return drainAllSectionOps(cmd.nodes, host, cmd.do, cmd.do === 'drain_all_begin' ? 'begin' : 'end');
    case 'poll':
      return underLock(cmd.ctx, host, call(cmd.ctx, 'aio.poll', 'aio.poll.done', { blocking: cmd.blocking }), cmd.do);
    case 'stop':
    case 'cont':
      // A run-state change the command carries out itself; no call.
      return [];
    case 'transaction':
      return call(cmd.txn, 'txn.run', 'txn.result');
  }
}

export function describeCommand(cmd: MonitorCommand): string {
  return cmd.when ? `${describeAction(cmd)} (${describeTrigger(cmd.when)})` : describeAction(cmd);
}

function describeAction(cmd: MonitorCommand): string {
  switch (cmd.do) {
    case 'drain_all':
      return 'bdrv_drain_all';
    case 'drain_all_begin':
      return cmd.era === 'now' ? 'bdrv_drain_all_begin' : 'bdrv_drain_all (2015: no section)';
    case 'drain_all_end':
      return cmd.era === 'now' ? 'bdrv_drain_all_end' : 'nothing (2015: no drain_all section)';
    case 'poll':
      return `aio_poll(${cmd.ctx}, blocking=${cmd.blocking})`;
    case 'drained_begin':
      return `bdrv_drained_begin(${cmd.node})${cmd.coroutine ? ' in a coroutine' : ''}`;
    case 'drained_end':
      return `bdrv_drained_end(${cmd.node})${cmd.coroutine ? ' in a coroutine' : ''}`;
    case 'drain':
      return `bdrv_drain(${cmd.node})`;
    case 'stop':
      return 'stop (vm_stop)';
    case 'cont':
      return 'cont (vm_start)';
    case 'transaction':
      return `transaction ${cmd.txn}`;
  }
}

const host = (ctx: MonitorContext): ProgramHost => ({ self: ctx.name, thread: ctx.thread, holds: () => false });

/** Issue calls until one needs an answer; when the command is over, the main loop's dispatch returns. */
function runCommand(ctx: MonitorContext, out: Emitter): MonitorContext {
  const outcome = runProgram(ctx.program, host(ctx), out);
  if (outcome.status !== 'finished') return { ...ctx, program: outcome.program };
  out.observe({ type: 'obs.command', phase: 'end', command: describeCommand(ctx.script[ctx.pc]), index: ctx.pc });
  out.send(ctx.mainCtx, { type: 'aio.callback.done' });
  ctx = { ...ctx, program: emptyProgram, pc: ctx.pc + 1, dispatchedBy: null };
  return armNext(ctx, out);
}

/**
 * The next command arrives at its time (`at`, REALTIME ns; without one, at once). A command
 * with `when` also waits for its condition: the alarm only marks the time as reached, and the
 * environment offers `script.wake` once the condition holds (`monitorOffers`).
 */
function armNext(ctx: MonitorContext, out: Emitter): MonitorContext {
  const cmd = ctx.script[ctx.pc];
  if (!cmd) return ctx;
  out.alarm(`${ctx.name}/cmd${ctx.pc}`, 'realtime', cmd.at ?? 0, { type: cmd.when ? 'script.time' : 'script.wake' });
  return { ...ctx, timeReached: false, sent: false };
}

/** The monitor's environment step: a command waiting for its condition arrives once it holds. */
export function monitorOffers(ctx: MonitorContext, holds: (t: Trigger) => boolean): AnyEvent[] {
  const cmd = ctx.script[ctx.pc];
  if (!cmd?.when || !ctx.timeReached || ctx.sent || ctx.dispatchedBy !== null) return [];
  return holds(cmd.when) ? [{ type: 'script.wake' }] : [];
}

export function monitorStep(ctx: MonitorContext, event: AnyEvent) {
  const out = new Emitter();
  const e = event as MonitorEvent;
  switch (e.type) {
    case 'script.time':
      ctx = { ...ctx, timeReached: true };
      break;
    case 'script.wake':
      // The command's bytes reach the QMP socket: the monitor's handler becomes ready.
      out.send(ctx.mainCtx, { type: 'aio.handler.notify', id: monitorHandlerId(ctx.name) });
      ctx = { ...ctx, sent: true };
      break;
    case 'aio.dispatch': {
      const cmd = ctx.script[ctx.pc];
      if (e.id === coDrainBhId(ctx.name)) {
        // bdrv_co_drain_bh_cb: the drain runs in the BH, outside any coroutine, and its polls
        // nest in the main loop's aio_poll; then aio_co_wake resumes the command (runCommand).
        out.observe({ type: 'obs.command', phase: 'resume', command: describeCommand(cmd), index: ctx.pc });
        ctx = { ...ctx, yielded: false, thread: e.thread, program: { ops: commandOps(cmd, ctx.name, e.thread), waiting: null }, dispatchedBy: e.ctx };
        ctx = runCommand(ctx, out);
        break;
      }
      out.observe({ type: 'obs.command', phase: 'start', command: describeCommand(cmd), index: ctx.pc });
      if (bounces(cmd)) {
        // bdrv_co_yield_to_drain: schedule the drain as a one-shot BH in the main loop and
        // yield; the coroutine's yield ends the QMP dispatch, and the main loop runs on.
        out.send(ctx.mainCtx, { type: 'aio.bh.schedule', id: coDrainBhId(ctx.name) });
        out.observe({ type: 'obs.command', phase: 'yield', command: describeCommand(cmd), index: ctx.pc });
        out.send(e.ctx, { type: 'aio.callback.done' });
        ctx = { ...ctx, yielded: true };
        break;
      }
      if (cmd.do === 'stop' || cmd.do === 'cont') out.setVmRunning(cmd.do === 'cont');
      ctx = { ...ctx, thread: e.thread, program: { ops: commandOps(cmd, ctx.name, e.thread), waiting: null }, dispatchedBy: e.ctx };
      ctx = runCommand(ctx, out);
      break;
    }
    default: {
      const fed = feedProgram(ctx.program, e, host(ctx), out);
      if (!fed.consumed) {
        out.observe({ type: 'obs.error', message: `${ctx.name}: unexpected ${e.type} while running command ${ctx.pc}` });
        break;
      }
      if (e.type === 'drain.end.done' && e.error) ctx = { ...ctx, errors: ctx.errors + 1 };
      if (e.type === 'txn.result') ctx = { ...ctx, replies: [...ctx.replies, e.ok ? 'ok' : `error: ${e.error}`] };
      ctx = { ...ctx, program: fed.program };
      if (fed.advanced) ctx = runCommand(ctx, out);
    }
  }
  return { context: ctx, emitted: out.emitted };
}

export const monitorMachine = setup({
  types: {
    context: {} as MonitorContext,
    input: {} as { name: ActorName; mainCtx: ActorName; script: readonly MonitorCommand[] },
    events: {} as MonitorEvent,
  },
  actions: {
    applyEvent: applyStep(monitorStep) as any,
    registerMonitor: applyStep((ctx: MonitorContext) => {
      const out = new Emitter();
      out.send(ctx.mainCtx, { type: 'aio.handler.set', id: monitorHandlerId(ctx.name), owner: ctx.name, external: false });
      if (ctx.script.some(bounces)) out.send(ctx.mainCtx, { type: 'aio.bh.new', id: coDrainBhId(ctx.name), owner: ctx.name });
      return { context: armNext(ctx, out), emitted: out.emitted };
    }) as any,
  },
  guards: {
    isRunningCommand: ({ context }) => context.dispatchedBy !== null,
    isScriptOver: ({ context }) => context.pc >= context.script.length,
    isCommandOver: ({ context }) => context.dispatchedBy === null && !context.yielded,
    isYielded: ({ context }) => context.yielded,
  },
}).createMachine({
  id: 'monitor',
  description: 'QMP monitor (main thread): runs each scripted command inside a main-loop dispatch',
  context: ({ input }) => ({
    name: input.name,
    mainCtx: input.mainCtx,
    thread: 'main',
    script: input.script,
    pc: 0,
    program: emptyProgram,
    dispatchedBy: null,
    errors: 0,
    replies: [],
    timeReached: false,
    sent: false,
    yielded: false,
  }),
  entry: 'registerMonitor',
  initial: 'waiting',
  states: {
    waiting: {
      description: 'No command running; the next one arrives at its time',
      always: [{ guard: 'isScriptOver', target: 'finished' }],
      on: {
        'script.wake': { actions: 'applyEvent' },
        'script.time': { actions: 'applyEvent' },
        'aio.dispatch': { target: 'running', actions: 'applyEvent' },
      },
    },
    running: {
      description: 'A command runs inside the main loop dispatch, waiting for the answer to its current call',
      always: [
        { guard: 'isYielded', target: 'yielded' },
        { guard: 'isCommandOver', target: 'waiting' },
      ],
      on: {
        'script.wake': { actions: 'applyEvent' },
        'script.time': { actions: 'applyEvent' },
        'aio.acquired': { actions: 'applyEvent' },
        'aio.poll.done': { actions: 'applyEvent' },
        'drain.begin.done': { actions: 'applyEvent' },
        'drain.end.done': { actions: 'applyEvent' },
        'drain.done': { actions: 'applyEvent' },
        'txn.result': { actions: 'applyEvent' },
      },
    },
    yielded: {
      description: 'A coroutine command yielded in bdrv_co_yield_to_drain; its drain waits for the main loop to run the bounce BH',
      on: {
        'script.wake': { actions: 'applyEvent' },
        'script.time': { actions: 'applyEvent' },
        'aio.dispatch': { target: 'running', actions: 'applyEvent' },
      },
    },
    finished: { description: 'Every scripted command ran' },
  },
});
