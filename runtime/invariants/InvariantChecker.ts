/**
 * Runs every invariant monitor over a trace, one event at a time, and keeps the violations with
 * the few events that led to each. Also usable as an RxJS operator over a trace stream.
 */
import { Observable, type OperatorFunction } from 'rxjs';
import type { TraceEvent } from '../trace/TraceEvent.ts';
import { canonicalJson, hash53, NumberHasher } from '../engine/worldHash.ts';
import { deepClone } from './deepClone.ts';
import type { ImageReport } from './ImageLedger.ts';
import { ConsistentCutMonitor } from './transactionMonitors.ts';
import { defaultMonitors, TraceState, type InvariantId, type InvariantMonitor, type ModelMap, type Violation } from './monitors.ts';

export interface ReportedViolation extends Violation {
  /** The trace events just before the violation, oldest first. */
  leadingEvents: TraceEvent[];
}

const LEADING_EVENTS = 12;

/** The trace events some monitor reads; the others (deliveries, state names, polls, clock) change no judgement. */
const JUDGED = new Set<TraceEvent['type']>([
  '@trace.dispatch',
  '@trace.counter',
  '@trace.ready',
  '@trace.io.submit',
  '@trace.io.complete',
  '@trace.drain',
  '@trace.blk',
  '@trace.error',
  '@trace.txn',
  '@trace.pit',
  '@trace.artifact',
  '@trace.guest',
  '@trace.alarm',
]);

/**
 * The event types that change the shared TraceState: its own counters, and the transaction log
 * the TxnLogFeeder monitor writes (`TxnTracker`).
 */
export const STATE_WRITES: ReadonlySet<TraceEvent['type']> = new Set(['@trace.counter', '@trace.txn']);

/**
 * Each monitor's (and trace state's) key as canonical JSON, and that text's hash once asked for,
 * while it is not changed (see `observe`).
 */
const monitorKeys = new WeakMap<object, { text: string; hash: number | null }>();

export class InvariantChecker {
  /** Whether `e` can change any monitor's judgement (an explorer shares the checker across steps that cannot). */
  static judges(e: TraceEvent): boolean {
    return JUDGED.has(e.type);
  }

  /** `judges` by the event's type alone, before the event is built. */
  static judgesType(type: string): boolean {
    return JUDGED.has(type as TraceEvent['type']);
  }

  readonly violations: ReportedViolation[] = [];
  /**
   * The checkers that follow this one, by the judged events of a step (the explorer's memo, see
   * `checkerAfter` in explore.ts). Never copied: a copy is another checker.
   */
  successors: Map<number, InvariantChecker> | null = null;
  /**
   * Whether two steps' judged events leave this checker in one state in either order, by a
   * hash of the two events' hashes (the explorer's sleep sets, see `judgementsCommute` in
   * explore.ts). Never copied, like `successors`.
   */
  commutes: Map<number, boolean> | null = null;
  private cachedKey: string | null = null;
  private cachedKeyHash: number | null = null;
  private state: TraceState;
  private stateOwned = true;
  private list: InvariantMonitor[];
  /** By monitor: whether this checker may change it in place (false: shared with a copy). */
  private owned: boolean[];
  private readonly recent: TraceEvent[] = [];
  private last: { step: number; time: number } = { step: 0, time: 0 };

  constructor(
    model: ModelMap,
    monitors: readonly InvariantMonitor[] = defaultMonitors(model),
    private readonly onViolation?: (v: ReportedViolation) => void,
  ) {
    this.state = new TraceState(model);
    this.list = [...monitors];
    this.owned = this.list.map(() => true);
  }

  get monitors(): readonly InvariantMonitor[] {
    return this.list;
  }

  /**
   * Everything the monitors will judge by from here on, without step numbers; with the world's
   * hash it identifies an explorer's state (violations found so far make states distinct).
   */
  key(): string {
    if (this.cachedKey === null) {
      let monitors = '';
      for (let i = 0; i < this.list.length; i++) monitors += (i > 0 ? ',' : '') + keyOf(this.list[i]);
      this.cachedKey = `[${keyOf(this.state)},[${monitors}],${canonicalJson(this.violations.map((v) => v.invariant))}]`;
    }
    return this.cachedKey;
  }

  /**
   * `key()` hashed to 53 bits (cached like the key): from the hash of each part's text (see
   * `keyHashOfValue`), so that a checker that differs from its original in one monitor hashes
   * that monitor's text alone, not the whole key again.
   */
  keyHash(): number {
    if (this.cachedKeyHash === null) {
      const hasher = keyHasher.reset().add(keyHashOf(this.state)).add(this.list.length);
      for (let i = 0; i < this.list.length; i++) hasher.add(keyHashOf(this.list[i]));
      this.cachedKeyHash = hasher.add(hash53(canonicalJson(this.violations.map((v) => v.invariant)))).digest();
    }
    return this.cachedKeyHash;
  }

  /**
   * An independent copy: the explorer gives each successor of a state its own. Copy on write:
   * the copy and this checker share every monitor and the trace state, and whichever observes
   * an event a shared part reacts to (its `reads`) copies that part first. An explorer's checkers
   * then hold a copy only of what their own events changed.
   */
  clone(): InvariantChecker {
    const copy = Object.create(InvariantChecker.prototype) as InvariantChecker;
    Object.assign(copy, this, {
      violations: [...this.violations],
      recent: [...this.recent],
      list: [...this.list],
      owned: this.list.map(() => false),
      stateOwned: false,
      successors: null,
      commutes: null,
    });
    this.owned = this.list.map(() => false);
    this.stateOwned = false;
    return copy;
  }

  observe(e: TraceEvent): void {
    this.cachedKey = null;
    this.cachedKeyHash = null;
    this.recent.push(e);
    if (this.recent.length > LEADING_EVENTS) this.recent.shift();
    this.last = { step: e.step, time: e.time };
    const stateChanges = STATE_WRITES.has(e.type);
    if (stateChanges) {
      this.ownState();
      monitorKeys.delete(this.state);
    }
    for (let i = 0; i < this.list.length; i++) {
      const reads = this.list[i].reads;
      if (reads && !reads.has(e.type)) continue;
      const monitor = this.own(i);
      monitor.observe(e, this.state, (v) => this.record(monitor.id, v));
      monitorKeys.delete(monitor);
    }
    this.state.observe(e);
  }

  /** End-of-run checks (lost requests, handlers never dispatched); call once, after a quiet end. */
  finish(): void {
    this.cachedKey = null;
    this.cachedKeyHash = null;
    this.ownState();
    monitorKeys.delete(this.state);
    for (let i = 0; i < this.list.length; i++) {
      const monitor = this.own(i);
      monitor.finish?.(this.state, (v) => this.record(monitor.id, v), this.last);
      monitorKeys.delete(monitor);
    }
  }

  /** What every image holds (snapshots and backups taken in the run), from the consistent-cut monitor. */
  images(): ImageReport[] {
    const cut = this.list.find((m): m is ConsistentCutMonitor => m instanceof ConsistentCutMonitor);
    return cut ? cut.ledger.images() : [];
  }

  /** Per invariant: held (no violation) or the first violation. */
  verdicts(): { id: InvariantId; title: string; first: ReportedViolation | null }[] {
    const seen = new Set<InvariantId>();
    return this.list
      .filter((m) => !seen.has(m.id) && seen.add(m.id))
      .map((m) => ({ id: m.id, title: m.title, first: this.violations.find((v) => v.invariant === m.id) ?? null }));
  }

  /** Monitor `i`, copied first if it is shared with another checker. */
  private own(i: number): InvariantMonitor {
    if (!this.owned[i]) {
      this.list[i] = deepClone(this.list[i]);
      this.owned[i] = true;
    }
    return this.list[i];
  }

  private ownState(): void {
    if (this.stateOwned) return;
    // The model map is never changed: the copy shares it.
    this.state = deepClone(this.state, new Map<unknown, unknown>([[this.state.model, this.state.model]]));
    this.stateOwned = true;
  }

  private record(invariant: InvariantId, v: Omit<Violation, 'invariant'>): void {
    const reported = { invariant, ...v, leadingEvents: [...this.recent] };
    this.violations.push(reported);
    this.onViolation?.(reported);
  }
}

/** A monitor's (or the trace state's) key as canonical JSON, computed once while it stays as it is. */
function keyOf(monitor: { key(): unknown }): string {
  return keptKey(monitor).text;
}

function keptKey(monitor: { key(): unknown }): { text: string; hash: number | null } {
  let key = monitorKeys.get(monitor);
  if (key === undefined) {
    key = { text: canonicalJson(monitor.key()), hash: null };
    monitorKeys.set(monitor, key);
  }
  return key;
}

/** `hash53` of a monitor's key text, kept with it. */
function keyHashOf(monitor: { key(): unknown }): number {
  const key = keptKey(monitor);
  key.hash ??= hash53(key.text);
  return key.hash;
}

const keyHasher = new NumberHasher();

/**
 * `keyHash` of a checker whose `key()`, parsed, is `value` (a renamed image's, for symmetry
 * reduction): each part written as canonical JSON again and hashed as `keyHash` hashes it, so
 * that the identity renaming gives `keyHash` exactly.
 */
export function keyHashOfValue(value: unknown): number {
  const [state, monitors, violations] = value as [unknown, unknown[], unknown];
  const hasher = keyHasher.reset().add(hash53(canonicalJson(state))).add(monitors.length);
  for (const monitor of monitors) hasher.add(hash53(canonicalJson(monitor)));
  return hasher.add(hash53(canonicalJson(violations))).digest();
}

/** `trace$.pipe(checkInvariants(model))`: emits each violation as the trace reveals it, the end-of-run ones on complete. */
export function checkInvariants(model: ModelMap): OperatorFunction<TraceEvent, ReportedViolation> {
  return (source) =>
    new Observable<ReportedViolation>((subscriber) => {
      const checker = new InvariantChecker(model, defaultMonitors(model), (v) => subscriber.next(v));
      return source.subscribe({
        next: (e) => checker.observe(e),
        error: (err) => subscriber.error(err),
        complete: () => {
          checker.finish();
          subscriber.complete();
        },
      });
    });
}
