/**
 * Runs every invariant monitor over a trace, one event at a time, and keeps the violations with
 * the few events that led to each. Also usable as an RxJS operator over a trace stream.
 */
import { Observable, type OperatorFunction } from 'rxjs';
import type { TraceEvent } from '../trace/TraceEvent.ts';
import { canonicalJson, hash53 } from '../engine/worldHash.ts';
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
  '@trace.error',
  '@trace.txn',
  '@trace.pit',
  '@trace.artifact',
  '@trace.guest',
  '@trace.alarm',
]);

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
  private cachedKey: string | null = null;
  private cachedKeyHash: number | null = null;
  private readonly state: TraceState;
  private readonly recent: TraceEvent[] = [];
  private last: { step: number; time: number } = { step: 0, time: 0 };

  constructor(
    model: ModelMap,
    readonly monitors: readonly InvariantMonitor[] = defaultMonitors(model),
    private readonly onViolation?: (v: ReportedViolation) => void,
  ) {
    this.state = new TraceState(model);
  }

  /**
   * Everything the monitors will judge by from here on, without step numbers; with the world's
   * hash it identifies an explorer's state (violations found so far make states distinct).
   */
  key(): string {
    this.cachedKey ??= canonicalJson([this.state.key(), this.monitors.map((m) => m.key()), this.violations.map((v) => v.invariant)]);
    return this.cachedKey;
  }

  /** `key()` hashed to 53 bits (cached like the key). */
  keyHash(): number {
    this.cachedKeyHash ??= hash53(this.key());
    return this.cachedKeyHash;
  }

  /** An independent copy: the explorer gives each successor of a state its own. */
  clone(): InvariantChecker {
    // Trace events and reported violations are never changed once made: the copy shares them
    // and copies only the arrays that hold them; the monitors' own state is copied in depth.
    const seen = new Map<unknown, unknown>([
      [this.recent, [...this.recent]],
      [this.violations, [...this.violations]],
    ]);
    return deepClone(this, seen);
  }

  observe(e: TraceEvent): void {
    this.cachedKey = null;
    this.cachedKeyHash = null;
    this.recent.push(e);
    if (this.recent.length > LEADING_EVENTS) this.recent.shift();
    this.last = { step: e.step, time: e.time };
    for (const monitor of this.monitors) monitor.observe(e, this.state, (v) => this.record(monitor.id, v));
    this.state.observe(e);
  }

  /** End-of-run checks (lost requests, handlers never dispatched); call once, after a quiet end. */
  finish(): void {
    this.cachedKey = null;
    this.cachedKeyHash = null;
    for (const monitor of this.monitors) monitor.finish?.(this.state, (v) => this.record(monitor.id, v), this.last);
  }

  /** What every image holds (snapshots and backups taken in the run), from the consistent-cut monitor. */
  images(): ImageReport[] {
    const cut = this.monitors.find((m): m is ConsistentCutMonitor => m instanceof ConsistentCutMonitor);
    return cut ? cut.ledger.images() : [];
  }

  /** Per invariant: held (no violation) or the first violation. */
  verdicts(): { id: InvariantId; title: string; first: ReportedViolation | null }[] {
    const seen = new Set<InvariantId>();
    return this.monitors
      .filter((m) => !seen.has(m.id) && seen.add(m.id))
      .map((m) => ({ id: m.id, title: m.title, first: this.violations.find((v) => v.invariant === m.id) ?? null }));
  }

  private record(invariant: InvariantId, v: Omit<Violation, 'invariant'>): void {
    const reported = { invariant, ...v, leadingEvents: [...this.recent] };
    this.violations.push(reported);
    this.onViolation?.(reported);
  }
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
