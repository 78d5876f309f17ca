/**
 * Invariant monitors of the transaction (docs/invariants.md: I6, I8-I12), over the trace.
 *
 * Drained sections are attributed to an action by time: a `drain begin` on a node while action
 * i runs its prepare belongs to action i, a `drain end` during its clean likewise.
 */
import type { ActorName } from '../../machines/effects.ts';
import type { TraceEvent } from '../trace/TraceEvent.ts';
import { ImageLedger, type GuestWrite, type PointInTime } from './ImageLedger.ts';
import type { TxnEvent, TxnLog, TxnTracker } from './TxnTracker.ts';
import { entries } from './entries.ts';
import type { InvariantMonitor, Report, TraceState } from './monitors.ts';


function trackerOf(state: TraceState): TxnTracker {
  return state.txns;
}

const TXN_LOG_FEEDER_READS: ReadonlySet<TraceEvent['type']> = new Set(['@trace.txn']);

/**
 * Feeds the shared transaction log; must run before the other transaction monitors (it is
 * first in `transactionMonitors()`).
 */
export class TxnLogFeeder implements InvariantMonitor {
  get reads(): ReadonlySet<TraceEvent['type']> {
    return TXN_LOG_FEEDER_READS;
  }
  readonly id = 'I8' as const;
  readonly title = 'transaction phases: prepares in order, stop at the first failure, commit or abort every started action, then clean each once';
  key(): unknown {
    return null;
  }

  observe(e: TraceEvent, state: TraceState, report: Report): void {
    if (e.type !== '@trace.txn') return;
    const t = trackerOf(state);
    const before = t.logs.get(e.txn);
    const done = (before?.events ?? []).filter((x) => x.result !== 'start');
    t.observe(e, state);
    if (e.result === 'start' || e.phase === 'transaction') {
      if (e.phase !== 'transaction' && e.result === 'start') this.checkStart(e, done, report);
      if (e.phase === 'transaction' && e.result !== 'start') this.checkEnd(e, t.logs.get(e.txn)!, report);
    }
  }

  private checkStart(e: TxnEvent, done: TxnEvent[], report: Report): void {
    const fail = (message: string) =>
      report({
        step: e.step,
        time: e.time,
        actors: [e.txn],
        message: `${e.txn}: ${message}`,
        explanation:
          'qmp_transaction prepares actions in request order and stops at the first failure; then it commits (success) or aborts ' +
          '(failure) every started action, and only after the last commit/abort does it clean every started action, once each.',
      });
    const prepares = done.filter((x) => x.phase === 'prepare');
    const failed = prepares.find((x) => x.result === 'failed');
    if (e.phase === 'prepare') {
      if (failed) fail(`prepare of action ${e.index} after action ${failed.index} failed`);
      else if (e.index !== prepares.length) fail(`prepare of action ${e.index} out of order (expected ${prepares.length})`);
      if (done.some((x) => x.phase !== 'prepare')) fail(`prepare of action ${e.index} after commit/abort/clean began`);
    } else if (e.phase === 'commit' && failed) {
      fail(`commit of action ${e.index} although action ${failed.index} failed to prepare`);
    } else if (e.phase === 'abort' && !failed) {
      fail(`abort of action ${e.index} although every prepare succeeded`);
    } else if (e.phase === 'clean') {
      const started = prepares.length;
      const resolved = done.filter((x) => x.phase === 'commit' || x.phase === 'abort').length;
      if (resolved < started) fail(`clean of action ${e.index} before every started action was committed or aborted (${resolved} of ${started})`);
      if (done.some((x) => x.phase === 'clean' && x.index === e.index)) fail(`action ${e.index} cleaned twice`);
    }
  }

  private checkEnd(e: TxnEvent, log: TxnLog, report: Report): void {
    const finished = log.events.filter((x) => x.result !== 'start');
    const started = finished.filter((x) => x.phase === 'prepare').length;
    const problems: string[] = [];
    for (let i = 0; i < started; i++) {
      const resolutions = finished.filter((x) => x.index === i && (x.phase === 'commit' || x.phase === 'abort')).length;
      const cleans = finished.filter((x) => x.index === i && x.phase === 'clean').length;
      if (resolutions !== 1) problems.push(`action ${i} was committed/aborted ${resolutions} times`);
      if (cleans !== 1) problems.push(`action ${i} was cleaned ${cleans} times`);
    }
    if (problems.length === 0) return;
    report({
      step: e.step,
      time: e.time,
      actors: [e.txn],
      message: `${e.txn}: ${problems.join('; ')}`,
      explanation: 'Every started action gets exactly one of commit or abort, and exactly one clean.',
    });
  }
}

const ERA_ORDER_MONITOR_READS: ReadonlySet<TraceEvent['type']> = new Set(['@trace.txn']);

/** I8 order of the era: 2015 commits, aborts and cleans in request order (FIFO). */
export class EraOrderMonitor implements InvariantMonitor {
  get reads(): ReadonlySet<TraceEvent['type']> {
    return ERA_ORDER_MONITOR_READS;
  }
  readonly id = 'I8' as const;
  readonly title = 'commit/abort/clean follow the era order (2015: FIFO, now: LIFO)';
  constructor(private readonly era: '2015' | 'now' = '2015') {}
  key(): unknown {
    return null;
  }

  observe(e: TraceEvent, state: TraceState, report: Report): void {
    if (e.type !== '@trace.txn' || e.result !== 'start' || e.phase === 'prepare' || e.phase === 'transaction') return;
    const log = trackerOf(state).logs.get(e.txn);
    const previous = (log?.events ?? []).filter((x) => x.result === 'start' && x.phase === e.phase && x !== e);
    const last = previous[previous.length - 1];
    if (!last) return;
    const inOrder = this.era === '2015' ? e.index > last.index : e.index < last.index;
    if (inOrder) return;
    report({
      step: e.step,
      time: e.time,
      actors: [e.txn],
      message: `${e.txn}: ${e.phase} of action ${e.index} after action ${last.index} breaks the ${this.era === '2015' ? 'FIFO' : 'LIFO'} order`,
      explanation: `In the ${this.era} era qmp_transaction runs ${e.phase} over the started actions in ${this.era === '2015' ? 'request order' : 'reverse order'}.`,
    });
  }
}

const PAIRING_MONITOR_READS: ReadonlySet<TraceEvent['type']> = new Set(['@trace.drain', '@trace.txn']);

/** I9 pairing: each action ends in clean exactly the drained sections it began in prepare; counters return to their values. */
export class PairingMonitor implements InvariantMonitor {
  get reads(): ReadonlySet<TraceEvent['type']> {
    return PAIRING_MONITOR_READS;
  }
  readonly id = 'I9' as const;
  readonly title = 'drained_end in clean iff drained_begin in prepare; counters back to where they were';
  private readonly begun = new Map<string, number>();
  private readonly ended = new Map<string, number>();
  /**
   * now: per transaction and node, the quiesce it gained (+) or lost (-) as a parent of a
   * drained node during the actions' phases: an overlay appended above a node that an outer
   * section keeps drained stays quiesced with it after the transaction (bdrv_replace_child_noperm).
   */
  private readonly graphQuiesce = new Map<string, number>();

  key(): unknown {
    return [entries(this.begun), entries(this.ended), entries(this.graphQuiesce)];
  }

  observe(e: TraceEvent, state: TraceState, report: Report): void {
    const t = trackerOf(state);
    if (e.type === '@trace.drain' && (e.phase === 'parent.begin' || e.phase === 'parent.end') && t.current) {
      const key = `${t.current.txn}\u0000${e.node}`;
      this.graphQuiesce.set(key, (this.graphQuiesce.get(key) ?? 0) + (e.phase === 'parent.begin' ? 1 : -1));
      return;
    }
    if (e.type === '@trace.drain' && (e.phase === 'begin' || e.phase === 'end') && t.current) {
      const key = `${t.current.txn}#${t.current.index}`;
      if (e.phase === 'begin' && t.current.phase === 'prepare') this.begun.set(key, (this.begun.get(key) ?? 0) + 1);
      if (e.phase === 'end' && t.current.phase === 'clean') this.ended.set(key, (this.ended.get(key) ?? 0) + 1);
      return;
    }
    if (e.type !== '@trace.txn' || e.phase !== 'transaction' || e.result === 'start') return;
    const log = t.logs.get(e.txn);
    if (!log) return;
    const started = log.events.filter((x) => x.phase === 'prepare' && x.result === 'start').length;
    for (let i = 0; i < started; i++) {
      const key = `${e.txn}#${i}`;
      const b = this.begun.get(key) ?? 0;
      const n = this.ended.get(key) ?? 0;
      if (b !== n) {
        report({
          step: e.step,
          time: e.time,
          actors: [e.txn],
          message: `${e.txn}: action ${i} began ${b} drained section(s) in prepare but ended ${n} in clean`,
          explanation:
            'Every action keys its drained_end in clean on what prepare did (state->aio_context / state->bs): a begin without an end ' +
            'leaves the context closed to external clients for good, an end without a begin reopens it under someone else.',
        });
      }
    }
    const changed: string[] = [];
    const gained = (actor: string) => this.graphQuiesce.get(`${e.txn}\u0000${actor}`) ?? 0;
    for (const [actor, before] of log.countersAtStart) {
      const now = state.disableCount.get(actor) ?? state.quiesce.get(actor) ?? 0;
      if (now !== before + gained(actor)) changed.push(`${actor} ${before} -> ${now}`);
    }
    for (const [node, q] of state.quiesce) if (!log.countersAtStart.has(node) && q !== gained(node)) changed.push(`${node} 0 -> ${q}`);
    for (const [ctx, c] of state.disableCount) if (!log.countersAtStart.has(ctx) && c !== 0) changed.push(`${ctx} 0 -> ${c}`);
    if (changed.length) {
      report({
        step: e.step,
        time: e.time,
        actors: [e.txn],
        message: `${e.txn}: counters differ after the transaction: ${changed.join(', ')}`,
        explanation:
          'At the end of a transaction every quiesce and disable counter must be back to its value before it (in the now era, ' +
          'but for the quiesce a node took or left as the parent of a drained node when the graph changed).',
      });
    }
  }
}

/** The transaction an action belongs to: actions are named `<txn>/action:<i>` (actors/topology.ts). */
function transactionOf(action: ActorName): ActorName {
  return action.slice(0, action.lastIndexOf('/'));
}

const CONSISTENT_CUT_MONITOR_READS: ReadonlySet<TraceEvent['type']> = new Set(['@trace.io.submit', '@trace.pit', '@trace.guest', '@trace.txn']);

/**
 * I10 atomic cut: the points in time of one transaction form a consistent cut. If the guest saw
 * Wx complete before it issued Wy, a set of images that holds Wy must hold Wx. Also no external
 * request reaches a node between its drained_begin returning and the point in time.
 */
export class ConsistentCutMonitor implements InvariantMonitor {
  get reads(): ReadonlySet<TraceEvent['type']> {
    return CONSISTENT_CUT_MONITOR_READS;
  }
  readonly id = 'I10' as const;
  readonly title = "a transaction's points in time form a consistent cut";
  /** Guest writes and points in time: what every image holds. */
  readonly ledger = new ImageLedger();
  /** Requests in the order the guest saw them complete, and for each issued request how many it had seen. */
  private readonly completionIndex = new Map<string, number>();
  private readonly seenAtIssue = new Map<string, number>();
  /** For messages only: the steps of issues and completions. */
  private readonly stepOf = new Map<string, number>();

  /** Transactions ended so far: once every one the script can run has ended, no cut is left to judge. */
  private ended = 0;
  /** Their names: their points in time are never judged again. */
  private readonly endedTxns = new Set<ActorName>();

  constructor(
    private readonly nodeClients: Readonly<Record<ActorName, readonly ActorName[]>> = {},
    /** How many transactions the script runs at most (unknown: the history is kept to the end). */
    private readonly transactionRuns = Infinity,
  ) {}

  observe(e: TraceEvent, _state: TraceState, report: Report): void {
    if (e.type === '@trace.txn' && e.phase === 'transaction' && (e.result === 'ok' || e.result === 'failed')) {
      this.ended++;
      this.endedTxns.add(e.txn);
    }
    this.ledger.observe(e);
    // Only writes are judged (checkCut reads the ledger's writes), so only writes are ordered.
    if (e.type === '@trace.guest' && e.op === 'write') {
      this.stepOf.set(`${e.phase}:${e.id}`, e.step);
      if (e.phase === 'issue') this.seenAtIssue.set(e.id, this.completionIndex.size);
      else if (!this.completionIndex.has(e.id)) this.completionIndex.set(e.id, this.completionIndex.size);
    } else if (e.type === '@trace.txn' && e.phase === 'transaction' && e.result === 'ok') {
      this.checkCut(e, report);
    }
  }

  /**
   * What the cut is judged by from here on, in no order the interleaving chose, and only as far
   * as a later judgement can read it. `checkCut` reports wx missing from one image while wy is
   * in another, wx completed before wy was issued, and judges only the points in time of the
   * transaction that just ended (a transaction runs once). So a completed write matters as wx
   * only while it can still be missing from an image of a device it came through: a live point
   * in time (of a transaction not yet ended) lacks it, or a later one could (`mayBeMissedLater`).
   * Once neither holds it never matters again, so it leaves the key, and with it every "wx
   * before wy" that named it. Two histories that differ only in the order of independent
   * completions, or in the order of writes no judgement can reach, are one explorer state.
   */
  key(): unknown {
    if (this.ended >= this.transactionRuns) return 'judged';
    const live = (pit: PointInTime): boolean => !this.endedTxns.has(transactionOf(pit.action));
    const livePits = this.ledger.points.filter(live);
    const stillJudged = (wx: string): boolean => {
      const write = this.ledger.writes.get(wx);
      if (!write) return false;
      if (this.mayBeMissedLater(write)) return true;
      return livePits.some((pit) => (this.nodeClients[pit.node] ?? []).includes(write.via) && !this.ledger.holds(pit, wx));
    };
    // Sets as objects: canonical JSON sorts their keys, also after a renaming (symmetry).
    const completed: Record<string, 1> = {};
    const relevant = new Set<string>();
    for (const wx of this.completionIndex.keys()) {
      if (!stillJudged(wx)) continue;
      completed[wx] = 1;
      relevant.add(wx);
    }
    const seenBefore: Record<string, Record<string, 1>> = {};
    for (const [wy, seen] of this.seenAtIssue) {
      const before: Record<string, 1> = {};
      let any = false;
      for (const [wx, order] of this.completionIndex) {
        if (order < seen && completed[wx]) {
          before[wx] = 1;
          any = true;
        }
      }
      // A write still in flight may yet be judged as wx, by what the ledger says of it.
      if (!any && this.completionIndex.has(wy)) continue;
      seenBefore[wy] = before;
      relevant.add(wy);
    }
    return [this.ledger.key(relevant, live), completed, seenBefore];
  }

  /**
   * Whether a point in time taken later could lack this completed write: a later image of a
   * node holds every write its node absorbed before (ImageLedger.holds), so only a node the
   * device is attached to other than the one the write reached (an overlay after an append)
   * can miss it.
   */
  private mayBeMissedLater(write: GuestWrite): boolean {
    for (const [node, devices] of Object.entries(this.nodeClients)) if (node !== write.node && devices.includes(write.via)) return true;
    return false;
  }

  private checkCut(e: TxnEvent, report: Report): void {
    const pits = this.ledger.points.filter((p) => transactionOf(p.action) === e.txn);
    for (const imageY of pits) {
      for (const [wy] of this.ledger.writes) {
        if (!this.ledger.holds(imageY, wy)) continue;
        const seen = this.seenAtIssue.get(wy);
        if (seen === undefined) continue;
        for (const imageX of pits) {
          const devices = this.nodeClients[imageX.node] ?? [];
          for (const [wx, x] of this.ledger.writes) {
            if (wx === wy || !devices.includes(x.via) || this.ledger.holds(imageX, wx)) continue;
            const order = this.completionIndex.get(wx);
            if (order === undefined || order >= seen) continue;
            const doneX = this.stepOf.get(`complete:${wx}`);
            const issuedY = this.stepOf.get(`issue:${wy}`);
            report({
              step: e.step,
              time: e.time,
              actors: [e.txn, imageX.node, imageY.node],
              message: `${e.txn}: the images hold ${wy} (${imageY.kind} of ${imageY.node}) but not ${wx} (written through ${x.via}, ${imageX.kind} of ${imageX.node}), though the guest saw ${wx} complete (step ${doneX}) before issuing ${wy} (step ${issuedY})`,
              explanation:
                `A transaction promises one instant for all its images. The guest wrote ${wx}, saw it complete, and only then wrote ${wy}; ` +
                `an image set that contains ${wy} but not ${wx} is a disk state the guest never had. It happens when external requests are ` +
                `admitted between the points in time, by the nested aio_poll of a synchronous operation inside the transaction.`,
            });
            return;
          }
        }
      }
    }
  }
}

const ABORT_EFFECTS_MONITOR_READS: ReadonlySet<TraceEvent['type']> = new Set(['@trace.artifact', '@trace.txn']);

/** I11 abort effects: a failed transaction leaves no job, no internal snapshot and no overlay behind. */
export class AbortEffectsMonitor implements InvariantMonitor {
  get reads(): ReadonlySet<TraceEvent['type']> {
    return ABORT_EFFECTS_MONITOR_READS;
  }
  readonly id = 'I11' as const;
  readonly title = 'a failed transaction leaves no job, internal snapshot or overlay behind';
  private readonly live = new Map<string, { kind: string; step: number }>();

  key(): unknown {
    return entries(new Set(this.live.keys()));
  }

  observe(e: TraceEvent, _state: TraceState, report: Report): void {
    if (e.type === '@trace.artifact') {
      const key = `${e.action}#${e.kind}`;
      if (e.op === 'created') this.live.set(key, { kind: e.kind, step: e.step });
      else this.live.delete(key);
      return;
    }
    if (e.type !== '@trace.txn' || e.phase !== 'transaction' || e.result !== 'failed') return;
    for (const [key, artifact] of this.live) {
      if (!key.startsWith(`${e.txn}/`)) continue;
      report({
        step: e.step,
        time: e.time,
        actors: [e.txn, key.split('#')[0]],
        message: `${e.txn} failed but the ${artifact.kind} created by ${key.split('#')[0]} at step ${artifact.step} still exists`,
        explanation: 'Abort must undo prepare: cancel started jobs synchronously, delete internal snapshots, drop overlays; the graph ends as it began.',
      });
    }
  }
}

const PROGRESS_MONITOR_READS: ReadonlySet<TraceEvent['type']> = new Set([]);

/** I12 progress: every transaction answers, and every drained section it opened is closed by then. */
export class ProgressMonitor implements InvariantMonitor {
  get reads(): ReadonlySet<TraceEvent['type']> {
    return PROGRESS_MONITOR_READS;
  }
  readonly id = 'I12' as const;
  readonly title = 'every transaction ends and every drained section ends';
  key(): unknown {
    return null;
  }
  observe(): void {}
  finish(state: TraceState, report: Report, at: { step: number; time: number }): void {
    for (const [txn, log] of trackerOf(state).logs) {
      if (log.started && !log.ended) {
        report({ ...at, actors: [txn], message: `${txn} never answered`, explanation: 'A transaction must always reach clean and answer the QMP command; a drain that never terminates would stop it.' });
      }
    }
    const open = [...state.quiesce].filter(([, q]) => q > 0).map(([node]) => node);
    if (open.length && [...trackerOf(state).logs.values()].some((l) => l.ended)) {
      report({ ...at, actors: open, message: `drained sections still open at the end: ${open.join(', ')}`, explanation: 'Every drained section a transaction opens must end in its clean phase.' });
    }
  }
}

const DRIVER_TIMER_MONITOR_READS: ReadonlySet<TraceEvent['type']> = new Set(['@trace.drain', '@trace.io.submit']);

/** I6: no request issued by a driver timer on a node inside its drained section. */
export class DriverTimerMonitor implements InvariantMonitor {
  get reads(): ReadonlySet<TraceEvent['type']> {
    return DRIVER_TIMER_MONITOR_READS;
  }
  readonly id = 'I6' as const;
  readonly title = 'no driver-timer I/O on a node inside its drained section';
  private readonly openSince = new Map<ActorName, number>();
  key(): unknown {
    return entries(new Set(this.openSince.keys()));
  }

  observe(e: TraceEvent, _state: TraceState, report: Report): void {
    if (e.type === '@trace.drain') {
      if (e.phase === 'begin.returned' && e.quiesce >= 1 && !this.openSince.has(e.node)) this.openSince.set(e.node, e.step);
      if (e.phase === 'end' && e.quiesce === 0) this.openSince.delete(e.node);
      return;
    }
    if (e.type !== '@trace.io.submit' || e.origin !== 'driver-timer') return;
    const since = this.openSince.get(e.node);
    if (since === undefined) return;
    report({
      step: e.step,
      time: e.time,
      actors: [e.node],
      message: `${e.node}: driver timer request ${e.id} (${e.op}) inside the drained section quiet since step ${since}`,
      explanation:
        `qed's need-check timer fired in a nested aio_poll while ${e.node} was drained and wrote to the image the transaction believes ` +
        `idle. The series' .bdrv_drain hook (patch 12) runs the timer's work at drained_begin, so nothing is left to fire inside the section.`,
    });
  }
}

export function transactionMonitors(
  era: '2015' | 'now' = '2015',
  nodeClients: Readonly<Record<ActorName, readonly ActorName[]>> = {},
  transactionRuns?: number,
): InvariantMonitor[] {
  return [new TxnLogFeeder(), new EraOrderMonitor(era), new PairingMonitor(), new ConsistentCutMonitor(nodeClients, transactionRuns), new AbortEffectsMonitor(), new ProgressMonitor(), new DriverTimerMonitor()];
}
