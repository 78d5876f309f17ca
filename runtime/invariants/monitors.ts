/**
 * Invariant monitors (docs/invariants.md), checked over the trace as it is produced.
 *
 * Each monitor reads trace events one at a time (no look-ahead, no access to actors) and keeps
 * only the little state it needs, so checking costs the same on a trace of any length. A
 * violation names the invariant, the step, the actors involved, and explains itself in words.
 */
import type { ActorName } from '../../machines/effects.ts';
import type { TraceEvent, TraceEventOf } from '../trace/TraceEvent.ts';
import { transactionMonitors } from './transactionMonitors.ts';
import { TxnTracker } from './TxnTracker.ts';
import { entries } from './entries.ts';

export type InvariantId = 'I1' | 'I2' | 'I3' | 'I4' | 'I5' | 'I6' | 'I7' | 'I8' | 'I9' | 'I10' | 'I11' | 'I12' | 'conservation';

export interface Violation {
  invariant: InvariantId;
  step: number;
  time: number;
  actors: ActorName[];
  /** One line: what happened. */
  message: string;
  /** A paragraph a reader can follow: what the invariant protects and how this step broke it. */
  explanation: string;
}

/** What the monitors must know about the model that the trace does not repeat. */
export interface ModelMap {
  /** node actor -> its AioContext actor. */
  nodeContext: Readonly<Record<ActorName, ActorName>>;
  /** node actor -> its children (file, backing); absent means none. */
  nodeChildren?: Readonly<Record<ActorName, readonly ActorName[]>>;
  /** Order of commit/abort/clean: 2015 FIFO (default) or now LIFO. */
  era?: '2015' | 'now';
  /** node actor -> the devices (client actors) attached to it when the run starts. */
  nodeClients?: Readonly<Record<ActorName, readonly ActorName[]>>;
  /** Whether qed's drain hook (patches 11-12) is on: I4 then also asks that no need-check timer is left pending. */
  qedDrainHook?: boolean;
  /** How many transactions the script runs at most (its transaction commands); absent: not known. */
  transactionRuns?: number;
}

/** Counters as the trace reports them, shared by the monitors. */
export class TraceState {
  readonly disableCount = new Map<ActorName, number>();
  readonly quiesce = new Map<ActorName, number>();
  readonly inFlight = new Map<ActorName, number>();
  /** now era: each BlockBackend's quiesce counter (blk->quiesce_counter), by client actor. */
  readonly blkQuiesce = new Map<ActorName, number>();
  /** The transactions' phase log (the transaction monitors share it). */
  readonly txns = new TxnTracker();

  constructor(readonly model: ModelMap) {}

  observe(e: TraceEvent): void {
    if (e.type === '@trace.counter') {
      if (e.counter === 'externalDisableCount') this.disableCount.set(e.actor, e.value);
      else if (e.counter === 'quiesceCounter') this.quiesce.set(e.actor, e.value);
      else if (e.counter === 'inFlight') this.inFlight.set(e.actor, e.value);
      else if (e.counter === 'blkQuiesce') this.blkQuiesce.set(e.actor, e.value);
    }
  }

  key(): unknown {
    return [entries(this.disableCount), entries(this.quiesce), entries(this.inFlight), entries(this.blkQuiesce), this.txns.key()];
  }

  /** The now era: quiescing is per BlockBackend (BlockDevOps), no context is gated. */
  get now(): boolean {
    return this.model.era === 'now';
  }

  nodesOf(ctx: ActorName): ActorName[] {
    return Object.keys(this.model.nodeContext).filter((node) => this.model.nodeContext[node] === ctx);
  }

  /** The node and every node below it (2015 bdrv_requests_pending recurses into children). */
  subtree(node: ActorName): ActorName[] {
    const out = [node];
    for (let i = 0; i < out.length; i++) for (const child of this.model.nodeChildren?.[out[i]] ?? []) out.push(child);
    return out;
  }

  countOf(ctx: ActorName): number {
    return this.disableCount.get(ctx) ?? 0;
  }
}

/** How a monitor hands over a violation it found. */
export type Report = (v: Omit<Violation, 'invariant'>) => void;

export interface InvariantMonitor {
  readonly id: InvariantId;
  readonly title: string;
  /**
   * The event types `observe` reacts to (changes its state or reports on); absent means every
   * type. An explorer's checker copies share a monitor until an event of one of these types
   * reaches it (copy on write), so a wrong list would let one copy change another's monitor: a
   * spec replays the library's traces and checks every monitor ignores every other type.
   */
  readonly reads?: ReadonlySet<TraceEvent['type']>;
  /** Called before the shared state takes `e` into account. */
  observe(e: TraceEvent, state: TraceState, report: Report): void;
  /** Called once when the run has ended quietly: checks that need the whole run. */
  finish?(state: TraceState, report: Report, at: { step: number; time: number }): void;
  /**
   * The monitor's state without step numbers: two histories with equal keys are judged the same
   * from here on, which is what lets an explorer merge them.
   */
  key(): unknown;
}



const GATING_MONITOR_READS: ReadonlySet<TraceEvent['type']> = new Set(['@trace.dispatch']);

/** I1 gating: every dispatch of an external handler happens while its context's disable counter is 0. */
export class GatingMonitor implements InvariantMonitor {
  get reads(): ReadonlySet<TraceEvent['type']> {
    return GATING_MONITOR_READS;
  }
  readonly id = 'I1' as const;
  readonly title = 'external handlers are dispatched only while external clients are enabled';
  key(): unknown {
    return null;
  }

  observe(e: TraceEvent, state: TraceState, report: Report): void {
    if (e.type === '@trace.dispatch' && state.now) return this.observeNow(e, state, report);
    if (e.type !== '@trace.dispatch' || !e.external) return;
    const count = state.countOf(e.actor);
    if (count === 0) return;
    report({
      step: e.step,
      time: e.time,
      actors: [e.actor, e.owner],
      message: `${e.actor} dispatched external handler ${e.id} (owner ${e.owner}) with externalDisableCount=${count}`,
      explanation:
        `aio_disable_external(${e.actor}) had been called ${count} time(s) without a matching aio_enable_external, ` +
        `so aio_poll must skip every handler registered with is_external=true (aio_node_check). ` +
        `Instead thread ${e.thread} ran ${e.id}, which lets ${e.owner} read a new request from outside the block layer ` +
        `while a drained section believes the context is closed to new I/O.`,
    });
  }

  /** now: a device's or export's handler runs only while its BlockBackend is not quiesced. */
  private observeNow(e: TraceEventOf<'@trace.dispatch'>, state: TraceState, report: Report): void {
    if (e.kind !== 'handler') return;
    const quiesce = state.blkQuiesce.get(e.owner) ?? 0;
    if (quiesce === 0) return;
    report({
      step: e.step,
      time: e.time,
      actors: [e.actor, e.owner],
      message: `${e.actor} dispatched ${e.id} of ${e.owner}, whose BlockBackend is quiesced (quiesce=${quiesce})`,
      explanation:
        `In the now era nothing is gated by the context: a drained node calls its BlockBackend's drained_begin, which calls ` +
        `the device's BlockDevOps drained_begin, and the device detaches its handler (virtio_queue_aio_detach_host_notifier; ` +
        `the NBD export stops reading). ${e.owner}'s handler still ran on thread ${e.thread}: the device did not stop taking ` +
        `new requests while its node was drained.`,
    });
  }
}

const COUNTER_SANITY_MONITOR_READS: ReadonlySet<TraceEvent['type']> = new Set(['@trace.error', '@trace.counter']);

/**
 * I2 counter sanity: counters never go negative, an enable never happens at 0, and every
 * quiesce 0->1 of a node is followed by exactly one disable of its context (1->0: one enable).
 */
export class CounterSanityMonitor implements InvariantMonitor {
  get reads(): ReadonlySet<TraceEvent['type']> {
    return COUNTER_SANITY_MONITOR_READS;
  }
  readonly id = 'I2' as const;
  readonly title = 'disable and quiesce counters stay non-negative and move together';
  private readonly owedDisables = new Map<ActorName, number>();
  private readonly owedEnables = new Map<ActorName, number>();

  key(): unknown {
    return [entries(this.owedDisables), entries(this.owedEnables)];
  }

  observe(e: TraceEvent, state: TraceState, report: Report): void {
    if (e.type === '@trace.error' && /aio_enable_external|not drained/.test(e.message)) {
      report({
        step: e.step,
        time: e.time,
        actors: [e.actor],
        message: e.message,
        explanation:
          'Each bdrv_drained_end must match an earlier bdrv_drained_begin, and each aio_enable_external an earlier ' +
          'aio_disable_external; QEMU asserts on the counter. An unmatched end would re-enable external clients ' +
          'under another drained section.',
      });
      return;
    }
    if (e.type !== '@trace.counter') return;
    if (e.value < 0) {
      report({
        step: e.step,
        time: e.time,
        actors: [e.actor],
        message: `${e.actor}: ${e.counter} went negative (${e.value})`,
        explanation: 'Counters count nested sections; a negative value means more ends than begins.',
      });
    }
    // now: no context counter; each quiesce transition is the parents' business (I3 reads it).
    if (state.now) return;
    if (e.counter === 'quiesceCounter') {
      const ctx = state.model.nodeContext[e.actor];
      const previous = state.quiesce.get(e.actor) ?? 0;
      if (ctx && previous === 0 && e.value === 1) this.owedDisables.set(ctx, (this.owedDisables.get(ctx) ?? 0) + 1);
      if (ctx && previous === 1 && e.value === 0) this.owedEnables.set(ctx, (this.owedEnables.get(ctx) ?? 0) + 1);
    } else if (e.counter === 'externalDisableCount' && state.nodesOf(e.actor).length > 0) {
      // A context with no block node is driven directly (unit tests); only nodes' contexts owe their changes to quiesce.
      const previous = state.countOf(e.actor);
      const owed = e.value > previous ? this.owedDisables : this.owedEnables;
      const what = e.value > previous ? 'disable' : 'enable';
      const due = owed.get(e.actor) ?? 0;
      if (due === 0) {
        report({
          step: e.step,
          time: e.time,
          actors: [e.actor],
          message: `${e.actor}: external ${what} (count ${previous} -> ${e.value}) without a node of this context changing quiesce ${what === 'disable' ? '0->1' : '1->0'}`,
          explanation:
            'In the series only bdrv_drained_begin (quiesce 0->1) disables external clients and only bdrv_drained_end ' +
            '(quiesce 1->0) enables them, once each; any other change leaves the counter out of step with the nodes.',
        });
      } else {
        owed.set(e.actor, due - 1);
      }
    }
  }

  finish(_state: TraceState, report: Report, at: { step: number; time: number }): void {
    for (const [ctx, owed] of [...this.owedDisables, ...this.owedEnables]) {
      if (owed === 0) continue;
      report({
        ...at,
        actors: [ctx],
        message: `${ctx}: ${owed} quiesce transition(s) of its nodes never reached the context's disable counter`,
        explanation: 'Every quiesce 0->1 must be followed by one aio_disable_external and every 1->0 by one aio_enable_external.',
      });
    }
  }
}

const NESTING_MONITOR_READS: ReadonlySet<TraceEvent['type']> = new Set(['@trace.drain', '@trace.counter', '@trace.dispatch', '@trace.blk']);

/**
 * I3 nesting: quiesce(bs) = #drainBegin(bs) - #drainEnd(bs), and external stays disabled on a
 * context while any of its nodes has quiesce > 0.
 */
export class NestingMonitor implements InvariantMonitor {
  get reads(): ReadonlySet<TraceEvent['type']> {
    return NESTING_MONITOR_READS;
  }
  readonly id = 'I3' as const;
  readonly title = 'nested drained sections keep external clients disabled until the last end';
  private readonly depth = new Map<ActorName, number>();

  key(): unknown {
    return entries(this.depth);
  }

  observe(e: TraceEvent, state: TraceState, report: Report): void {
    if (e.type === '@trace.drain' && (e.phase === 'begin' || e.phase === 'end' || e.phase === 'parent.begin' || e.phase === 'parent.end')) {
      const depth = (this.depth.get(e.node) ?? 0) + (e.phase === 'begin' || e.phase === 'parent.begin' ? 1 : -1);
      this.depth.set(e.node, depth);
      if (depth !== e.quiesce) {
        report({
          step: e.step,
          time: e.time,
          actors: [e.node],
          message: `${e.node}: quiesce=${e.quiesce} after ${e.phase}, but begins minus ends = ${depth}`,
          explanation: 'The quiesce counter must count open drained sections exactly, so that only the last end re-enables.',
        });
      }
      return;
    }
    const closedEarly = (ctx: ActorName, what: string) => {
      const open = state.nodesOf(ctx).filter((node) => (state.quiesce.get(node) ?? 0) > 0);
      if (open.length === 0) return;
      report({
        step: e.step,
        time: e.time,
        actors: [ctx, ...open],
        message: `${ctx}: ${what} while ${open.join(', ')} still has quiesce > 0`,
        explanation:
          `External clients of ${ctx} must stay disabled for as long as any node in it is inside a drained section; ` +
          `the counter is per context, so an inner bdrv_drained_end may not reopen the context under an outer one.`,
      });
    };
    if (e.type === '@trace.blk' && e.phase === 'resume' && !e.detached && e.quiesce === 0 && (state.quiesce.get(e.node) ?? 0) > 0) {
      report({
        step: e.step,
        time: e.time,
        actors: [e.actor, e.node],
        message: `${e.actor}: BlockBackend resumed by ${e.node}, which still has quiesce=${state.quiesce.get(e.node)}`,
        explanation:
          'In the now era a node calls its parents\' drained_end only on its own quiesce 1->0 (bdrv_do_drained_end), so a ' +
          'BlockBackend stays quiesced for as long as any drained section of its node is open.',
      });
    } else if (state.now) {
      // now: no context gate; a quiesced node keeps only its own parents quiet (the check above).
    } else if (e.type === '@trace.counter' && e.counter === 'externalDisableCount' && e.value === 0) {
      closedEarly(e.actor, 'external clients re-enabled');
    } else if (e.type === '@trace.dispatch' && e.external && state.countOf(e.actor) === 0) {
      closedEarly(e.actor, `external handler ${e.id} dispatched`);
    }
  }
}

const QUIESCENCE_MONITOR_READS: ReadonlySet<TraceEvent['type']> = new Set(['@trace.alarm', '@trace.drain']);

/**
 * I4 quiescence: when bdrv_drained_begin returns, no request is pending on the node or any
 * descendant; with qed's drain hook on, no need-check timer of the node is left armed either.
 */
export class QuiescenceMonitor implements InvariantMonitor {
  get reads(): ReadonlySet<TraceEvent['type']> {
    return QUIESCENCE_MONITOR_READS;
  }
  readonly id = 'I4' as const;
  readonly title = 'drained_begin returns only when nothing is pending on the node or below it';
  /** Armed qed need-check timers, by node (read from the engine's alarm heap). */
  private readonly qedArmed = new Set<ActorName>();
  /** Nodes whose timer was armed when their drain began and has not been cancelled or run since. */
  private readonly armedAtBegin = new Set<ActorName>();

  key(): unknown {
    return [entries(this.qedArmed), entries(this.armedAtBegin)];
  }

  observe(e: TraceEvent, state: TraceState, report: Report): void {
    if (e.type === '@trace.alarm') {
      const match = /timer:qed-need-check:(.+)$/.exec(e.id);
      if (match && e.phase === 'set') this.qedArmed.add(match[1]);
      if (match && e.phase !== 'set') {
        this.qedArmed.delete(match[1]);
        this.armedAtBegin.delete(match[1]);
      }
      return;
    }
    // now: qed's bdrv_drain_begin runs on the quiesce 0->1 only; a nested begin does not call it.
    if (e.type === '@trace.drain' && e.phase === 'begin' && this.qedArmed.has(e.node) && (!state.now || e.quiesce === 1)) this.armedAtBegin.add(e.node);
    if (e.type !== '@trace.drain' || e.phase !== 'begin.returned') return;
    // Only work pending when the drain began counts: a timer re-armed by a write that completes
    // during the drain's own polling is the residual gap (docs/patches/12-qed-bdrv-drain.md), not a broken hook.
    if (state.model.qedDrainHook && this.armedAtBegin.has(e.node)) {
      this.armedAtBegin.delete(e.node);
      report({
        step: e.step,
        time: e.time,
        actors: [e.node],
        message: `${e.node}: drained_begin returned with qed's need-check timer, armed when the drain began, still pending`,
        explanation:
          "qed's .bdrv_drain hook cancels a pending need-check timer and runs its work during the drain, so that nothing of the " +
          'driver fires inside the section; here the timer is still armed when the section starts.',
      });
    }
    // now: children are not drained; bs->in_flight of the node itself counts (its requests to its children included).
    const busy = (state.now ? [e.node] : state.subtree(e.node)).filter((node) => (state.inFlight.get(node) ?? 0) > 0);
    if (busy.length === 0) return;
    report({
      step: e.step,
      time: e.time,
      actors: [e.node, ...busy],
      message: `${e.node}: drained_begin returned with requests in flight on ${busy.map((n) => `${n} (${state.inFlight.get(n)})`).join(', ')}`,
      explanation:
        `bdrv_drain keeps polling while bdrv_requests_pending(${e.node}) is true (it recurses into the children) or a poll made ` +
        `progress; the caller of bdrv_drained_begin relies on the node being idle when it returns, for example to take a ` +
        `point in time. Returning early hands it a node that is still writing.`,
    });
  }
}

const ADMISSION_MONITOR_READS: ReadonlySet<TraceEvent['type']> = new Set(['@trace.drain', '@trace.io.submit']);

/**
 * I5 no external admission in a section: no external request is submitted on a node between its
 * drainBegin (the call, since the disable comes before the drain's own polling) and the matching
 * drainEnd.
 */
export class AdmissionMonitor implements InvariantMonitor {
  get reads(): ReadonlySet<TraceEvent['type']> {
    return ADMISSION_MONITOR_READS;
  }
  readonly id = 'I5' as const;
  readonly title = 'no external request is admitted on a node inside its drained section';
  private readonly openSince = new Map<ActorName, number>();

  key(): unknown {
    return entries(new Set(this.openSince.keys()));
  }

  observe(e: TraceEvent, state: TraceState, report: Report): void {
    if (e.type === '@trace.drain') {
      // now: a node quiesced as the parent of a drained node (an appended overlay) is in a section too.
      if ((e.phase === 'begin' || e.phase === 'parent.begin') && e.quiesce === 1) this.openSince.set(e.node, e.step);
      if ((e.phase === 'end' || e.phase === 'parent.end') && e.quiesce === 0) this.openSince.delete(e.node);
      return;
    }
    if (e.type !== '@trace.io.submit' || !e.origin.startsWith('external')) return;
    const since = this.openSince.get(e.node);
    if (since === undefined) return;
    report({
      step: e.step,
      time: e.time,
      actors: [e.node, e.via],
      message: `${e.node}: external request ${e.id} (${e.origin}, ${e.op}) from ${e.via} admitted inside the drained section opened at step ${since}`,
      explanation:
        `bdrv_drained_begin(${e.node}) at step ${since} promised that no new request from outside the block layer reaches the node ` +
        `until bdrv_drained_end. ${e.id} came from ${e.via}, an external client, so something let its handler run inside the ` +
        (state.now
          ? `section: the device kept its handler attached (no BlockDevOps drained_begin) and its BlockBackend did not queue the request (blk_wait_while_drained).`
          : `section: either the context's external gate is off, or the client registered its handler as internal.`),
    });
  }
}

const DEFERRAL_MONITOR_READS: ReadonlySet<TraceEvent['type']> = new Set(['@trace.ready', '@trace.counter', '@trace.dispatch', '@trace.blk']);

/**
 * I7 liveness and deferral: an external handler that became ready while disabled is neither run
 * early (before the counter is back to 0) nor lost (still ready at the end with the gate open).
 */
export class DeferralMonitor implements InvariantMonitor {
  get reads(): ReadonlySet<TraceEvent['type']> {
    return DEFERRAL_MONITOR_READS;
  }
  readonly id = 'I7' as const;
  readonly title = 'a ready external handler is dispatched after the last enable: never lost, never early';
  /** handler -> its context, and whether it became ready while disabled. */
  private readonly ready = new Map<string, { ctx: ActorName; deferred: boolean; step: number }>();
  /** now: requests waiting in a BlockBackend's queue, by `client id`, with the step they were queued at. */
  private readonly queued = new Map<string, { client: ActorName; id: string; step: number }>();

  key(): unknown {
    return [entries(new Map([...this.ready].map(([h, r]) => [h, [r.ctx, r.deferred]]))), entries(new Set(this.queued.keys()))];
  }

  observe(e: TraceEvent, state: TraceState, report: Report): void {
    if (e.type === '@trace.blk') {
      if (e.phase === 'queued') this.queued.set(`${e.actor} ${e.id}`, { client: e.actor, id: e.id ?? '', step: e.step });
      if (e.phase === 'restarted') {
        const quiesce = state.blkQuiesce.get(e.actor) ?? 0;
        if (quiesce > 0) {
          report({
            step: e.step,
            time: e.time,
            actors: [e.actor],
            message: `${e.actor}: queued request ${e.id} restarted while its BlockBackend is still quiesced (quiesce=${quiesce})`,
            explanation: 'blk_root_drained_end restarts the queued requests only when the BlockBackend\'s quiesce counter is back to 0.',
          });
        }
        this.queued.delete(`${e.actor} ${e.id}`);
      }
      return;
    }
    if (e.type === '@trace.ready' && e.external) {
      const known = this.ready.get(e.handler);
      const disabled = state.countOf(e.actor) > 0;
      this.ready.set(e.handler, { ctx: e.actor, deferred: (known?.deferred ?? false) || disabled, step: known?.step ?? e.step });
      return;
    }
    if (e.type === '@trace.counter' && e.counter === 'externalDisableCount' && e.value > 0) {
      for (const entry of this.ready.values()) if (entry.ctx === e.actor) entry.deferred = true;
      return;
    }
    if (e.type !== '@trace.dispatch' || e.kind !== 'handler' || !e.external) return;
    const entry = this.ready.get(e.id);
    this.ready.delete(e.id);
    const count = state.countOf(e.actor);
    if (entry?.deferred && count > 0) {
      report({
        step: e.step,
        time: e.time,
        actors: [e.actor, e.owner],
        message: `${e.actor}: deferred external handler ${e.id} ran early, with externalDisableCount=${count}`,
        explanation:
          `${e.id} became ready at step ${entry.step} while external clients were disabled; it must wait until the ` +
          `last aio_enable_external brings the counter back to 0.`,
      });
    }
  }

  finish(state: TraceState, report: Report, at: { step: number; time: number }): void {
    for (const [handler, entry] of this.ready) {
      if (state.countOf(entry.ctx) > 0) continue;
      report({
        ...at,
        actors: [entry.ctx],
        message: `${entry.ctx}: external handler ${handler}, ready since step ${entry.step}, was never dispatched although external clients are enabled`,
        explanation:
          'An external event that arrives while the context is disabled must stay ready and run at the first poll after ' +
          'the last enable (test-aio test_aio_external_client); here it was lost.',
      });
    }
    for (const { client, id, step } of this.queued.values()) {
      report({
        ...at,
        actors: [client],
        message: `${client}: request ${id}, queued in the BlockBackend at step ${step}, was never restarted`,
        explanation: 'A request that waits in blk_wait_while_drained must go on once the drained section ends (blk_root_drained_end); here it was lost.',
      });
    }
  }
}

const CONSERVATION_MONITOR_READS: ReadonlySet<TraceEvent['type']> = new Set(['@trace.io.submit', '@trace.io.complete']);

/**
 * A driver's own background request is named by its role (qed's need-check flush), so the same
 * id comes back each time the work runs again; it still may not be submitted while it is open.
 */
function reusesIds(origin: string): boolean {
  return origin === 'driver-timer';
}

/**
 * No request is lost or duplicated: per node, each id is submitted once and completed once,
 * after its submit (a driver's background request once per run).
 */
export class ConservationMonitor implements InvariantMonitor {
  get reads(): ReadonlySet<TraceEvent['type']> {
    return CONSERVATION_MONITOR_READS;
  }
  readonly id = 'conservation' as const;
  readonly title = 'every request submitted completes exactly once';
  private readonly open = new Map<string, { step: number; node: ActorName; id: string }>();
  private readonly closed = new Set<string>();

  key(): unknown {
    return [entries(new Set(this.open.keys())), entries(this.closed)];
  }

  observe(e: TraceEvent, _state: TraceState, report: Report): void {
    if (e.type !== '@trace.io.submit' && e.type !== '@trace.io.complete') return;
    const key = `${e.node}\u0000${e.id}`;
    if (e.type === '@trace.io.submit') {
      if (this.open.has(key) || (this.closed.has(key) && !reusesIds(e.origin))) {
        report({ step: e.step, time: e.time, actors: [e.node], message: `${e.node}: request ${e.id} submitted twice`, explanation: 'A request id names one request; a second submit duplicates it.' });
      }
      this.open.set(key, { step: e.step, node: e.node, id: e.id });
      return;
    }
    if (!this.open.has(key)) {
      report({
        step: e.step,
        time: e.time,
        actors: [e.node],
        message: `${e.node}: request ${e.id} completed ${this.closed.has(key) ? 'twice' : 'without being submitted'}`,
        explanation: 'Each request completes exactly once, after it was submitted.',
      });
      return;
    }
    this.open.delete(key);
    if (reusesIds(e.origin)) return;
    this.closed.add(key);
  }

  finish(_state: TraceState, report: Report, at: { step: number; time: number }): void {
    for (const { step, node, id } of this.open.values()) {
      report({ ...at, actors: [node], message: `${node}: request ${id}, submitted at step ${step}, never completed`, explanation: 'The run ended with the request still in flight: it was lost.' });
    }
  }
}

export function defaultMonitors(model: ModelMap = { nodeContext: {} }): InvariantMonitor[] {
  return [...coreMonitors(), ...transactionMonitors(model.era, model.nodeClients, model.transactionRuns)];
}

function coreMonitors(): InvariantMonitor[] {
  return [new GatingMonitor(), new CounterSanityMonitor(), new NestingMonitor(), new QuiescenceMonitor(), new AdmissionMonitor(), new DeferralMonitor(), new ConservationMonitor()];
}
