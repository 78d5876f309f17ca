/**
 * The trace, parsed once and indexed for lookups at any step. No DOM here: the specs run it in node.
 *
 * Lines may arrive all at once (a file) or one by one (a live run): every index is append-only,
 * because steps only grow, and derived views (bands, phases) are recomputed lazily per version.
 */
import type { StatechartNode, TraceAnnotation, TraceLine } from '../../runtime/trace/TraceFile.ts';
import type { TraceEvent, TraceEventOf } from '../../runtime/trace/TraceEvent.ts';

export type MetaLine = Extract<TraceAnnotation, { type: '@trace.meta' }>;
export type MachineLine = Extract<TraceAnnotation, { type: '@trace.machine' }>;
export type ActorLine = Extract<TraceAnnotation, { type: '@trace.actor' }>;
export type ViolationLine = Extract<TraceAnnotation, { type: '@trace.violation' }>;
export type ImageLine = Extract<TraceAnnotation, { type: '@trace.image' }>;
export type EndLine = Extract<TraceAnnotation, { type: '@trace.end' }>;
export type DeliverEvent = TraceEventOf<'@trace.deliver'>;
export type { StatechartNode, TraceEvent, TraceLine };

/** A value that changes at some steps: the value at step s is the last one set at a step <= s. */
export interface Series<T> {
  steps: number[];
  values: T[];
}

/** Index of the last entry of `sorted` that is <= x, or -1. */
export function lastAtOrBefore(sorted: readonly number[], x: number): number {
  let lo = 0;
  let hi = sorted.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] <= x) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

/** Index of the first entry of `sorted` that is >= x, or sorted.length. */
export function firstAtOrAfter(sorted: readonly number[], x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function valueAt<T>(series: Series<T> | undefined, step: number): T | undefined {
  if (!series) return undefined;
  const i = lastAtOrBefore(series.steps, step);
  return i < 0 ? undefined : series.values[i];
}

function pushSeries<T>(series: Series<T>, step: number, value: T): void {
  // Several changes in one step: the view at that step is the last one.
  const n = series.steps.length;
  if (n > 0 && series.steps[n - 1] === step) series.values[n - 1] = value;
  else {
    series.steps.push(step);
    series.values.push(value);
  }
}

/** Every active state path of a state value (`a.b|c.d`): the leaves, all their ancestors, and the root ''. */
export function activePaths(value: string | undefined): Set<string> {
  const out = new Set<string>();
  if (value === undefined) return out;
  out.add('');
  for (const leaf of value.split('|')) {
    if (!leaf) continue;
    const parts = leaf.split('.');
    for (let i = 1; i <= parts.length; i++) out.add(parts.slice(0, i).join('.'));
  }
  return out;
}

/** The step kinds the step controls jump between (README: next-dispatch, next-submit...). */
export type NavKind = 'dispatch' | 'submit' | 'drain' | 'phase' | 'violation';
const NAV_TYPES: Record<string, NavKind> = {
  '@trace.dispatch': 'dispatch',
  '@trace.io.submit': 'submit',
  '@trace.drain': 'drain',
  '@trace.txn': 'phase',
};

export type ActorGroup = 'contexts' | 'loops' | 'nodes' | 'clients' | 'host' | 'monitor' | 'transaction' | 'actions' | 'jobs' | 'other';
export const GROUP_ORDER: ActorGroup[] = ['contexts', 'loops', 'nodes', 'clients', 'host', 'monitor', 'transaction', 'actions', 'jobs', 'other'];
export const GROUP_TITLES: Record<ActorGroup, string> = {
  contexts: 'AioContexts',
  loops: 'Event loops (threads)',
  nodes: 'Block nodes',
  clients: 'External clients',
  host: 'Host storage',
  monitor: 'QMP monitor',
  transaction: 'Transactions',
  actions: 'Transaction actions',
  jobs: 'Block jobs',
  other: 'Other actors',
};

export function groupOf(kind: string, name: string): ActorGroup {
  const k = `${kind} ${name}`.toLowerCase();
  if (k.includes('job')) return 'jobs';
  if (k.includes('transaction-action') || /\/action:/.test(name)) return 'actions';
  if (k.includes('transaction') || name.startsWith('txn:')) return 'transaction';
  if (k.includes('context') || name.startsWith('ctx:')) return 'contexts';
  if (k.includes('loop') || name.startsWith('loop:')) return 'loops';
  if (k.includes('node') || name.startsWith('node:')) return 'nodes';
  // A virtio-scsi HBA's bus (`bus:NAME`) sits with its disks.
  if (k.includes('client') || name.startsWith('client:') || k.includes('nbd') || name.startsWith('bus:')) return 'clients';
  if (k.includes('host') || name.startsWith('host:')) return 'host';
  if (k.includes('monitor') || name.startsWith('monitor:')) return 'monitor';
  return 'other';
}

export interface ActorInfo {
  name: string;
  kind: string;
  machine: string;
  group: ActorGroup;
  /** Order in the file, for stable lanes and cards. */
  order: number;
}

/** A violation, placed after the event that revealed it (`afterEvent` = how many events came before). */
export interface PlacedViolation extends ViolationLine {
  afterEvent: number;
}

export interface Band {
  actor: string;
  kind: 'drained' | 'external-disabled';
  start: number;
  /** Inclusive; null while still open at the end of the lines so far. */
  end: number | null;
}

export interface PhaseSpan {
  txn: string;
  phase: string;
  index: number;
  start: number;
  end: number | null;
  result: 'ok' | 'failed' | 'open';
  /** `commit 0`, `prepare 1`. */
  label: string;
}

export class TraceModel {
  meta: MetaLine | undefined;
  readonly machines = new Map<string, MachineLine>();
  readonly actors: ActorInfo[] = [];
  readonly actorByName = new Map<string, ActorInfo>();
  /** Every event, in file order. */
  readonly events: TraceEvent[] = [];
  /** Distinct steps, ascending; `stepStart[i]` is the index in `events` of the first event of `steps[i]`. */
  readonly steps: number[] = [];
  readonly stepStart: number[] = [];
  /** The delivery of each step in `steps` (at most one per step in this engine), or null. */
  readonly deliveries: (DeliverEvent | null)[] = [];
  readonly states = new Map<string, Series<string>>();
  readonly counters = new Map<string, Map<string, Series<number>>>();
  readonly navSteps: Record<NavKind, number[]> = { dispatch: [], submit: [], drain: [], phase: [], violation: [] };
  readonly violations: PlacedViolation[] = [];
  readonly images: ImageLine[] = [];
  end: EndLine | undefined;
  /** Bumped on every line, so derived views know when to recompute. */
  version = 0;
  private cache = new Map<string, { version: number; value: unknown }>();

  get lastStep(): number {
    const seen = this.steps.length ? this.steps[this.steps.length - 1] : 0;
    return this.end ? Math.max(this.end.steps, seen) : seen;
  }

  addText(text: string): void {
    let from = 0;
    while (from < text.length) {
      let nl = text.indexOf('\n', from);
      if (nl < 0) nl = text.length;
      const line = text.slice(from, nl).trim();
      from = nl + 1;
      if (line) this.add(JSON.parse(line) as TraceLine);
    }
  }

  add(line: TraceLine): void {
    this.version++;
    switch (line.type) {
      case '@trace.meta':
        this.meta = line;
        return;
      case '@trace.machine':
        this.machines.set(line.machine, line);
        return;
      case '@trace.actor': {
        if (this.actorByName.has(line.actor)) return;
        const info: ActorInfo = { name: line.actor, kind: line.kind, machine: line.machine, group: groupOf(line.kind, line.actor), order: this.actors.length };
        this.actors.push(info);
        this.actorByName.set(info.name, info);
        return;
      }
      case '@trace.violation':
        this.violations.push({ ...line, afterEvent: this.events.length });
        pushUnique(this.navSteps.violation, line.step);
        return;
      case '@trace.image':
        this.images.push(line);
        return;
      case '@trace.end':
        this.end = line;
        return;
      default:
        this.addEvent(line);
    }
  }

  private addEvent(e: TraceEvent): void {
    const n = this.steps.length;
    if (n === 0 || this.steps[n - 1] !== e.step) {
      this.steps.push(e.step);
      this.stepStart.push(this.events.length);
      this.deliveries.push(null);
    }
    this.events.push(e);
    const nav = NAV_TYPES[e.type];
    if (nav) pushUnique(this.navSteps[nav], e.step);
    switch (e.type) {
      case '@trace.deliver':
        if (this.deliveries[this.deliveries.length - 1] === null) this.deliveries[this.deliveries.length - 1] = e;
        break;
      case '@trace.state': {
        let s = this.states.get(e.actor);
        if (!s) this.states.set(e.actor, (s = { steps: [], values: [] }));
        pushSeries(s, e.step, e.to);
        break;
      }
      case '@trace.counter': {
        let byName = this.counters.get(e.actor);
        if (!byName) this.counters.set(e.actor, (byName = new Map()));
        let s = byName.get(e.counter);
        if (!s) byName.set(e.counter, (s = { steps: [], values: [] }));
        pushSeries(s, e.step, e.value);
        break;
      }
    }
  }

  stateAt(actor: string, step: number): string | undefined {
    return valueAt(this.states.get(actor), step);
  }

  counterAt(actor: string, counter: string, step: number): number | undefined {
    return valueAt(this.counters.get(actor)?.get(counter), step);
  }

  counterNames(actor: string): string[] {
    return [...(this.counters.get(actor)?.keys() ?? [])];
  }

  /** The events of one step, in file order. */
  eventsAt(step: number): TraceEvent[] {
    const i = lastAtOrBefore(this.steps, step);
    if (i < 0 || this.steps[i] !== step) return [];
    const end = i + 1 < this.stepStart.length ? this.stepStart[i + 1] : this.events.length;
    return this.events.slice(this.stepStart[i], end);
  }

  /** The next step after `step` with an event of `kind`, or undefined. */
  nextOf(kind: NavKind, step: number): number | undefined {
    const list = this.navSteps[kind];
    const i = firstAtOrAfter(list, step + 1);
    return i < list.length ? list[i] : undefined;
  }

  prevOf(kind: NavKind, step: number): number | undefined {
    const list = this.navSteps[kind];
    const i = firstAtOrAfter(list, step) - 1;
    return i >= 0 ? list[i] : undefined;
  }

  /** A value derived from the lines, recomputed only when lines were added since. */
  cached<T>(key: string, compute: () => T): T {
    const hit = this.cache.get(key);
    if (hit && hit.version === this.version) return hit.value as T;
    const value = compute();
    this.cache.set(key, { version: this.version, value });
    return value;
  }

  /** Drained sections: a node from its outermost `@trace.drain` begin to the end that brings quiesce back to 0;
   *  a context while `externalDisableCount` > 0. */
  bands(): Band[] {
    return this.cached('bands', () => computeBands(this));
  }

  phases(): PhaseSpan[] {
    return this.cached('phases', () => computePhases(this.events));
  }

  /** The transaction phase open at each event (by event index): the phase label, or '-' outside any. */
  phaseOfEvents(): string[] {
    return this.cached('phaseOfEvents', () => annotatePhases(this.events));
  }

  /** The phase open at the end of `step` (for a row of the sequence view). */
  phaseAtStep(step: number): string {
    const i = lastAtOrBefore(this.steps, step);
    if (i < 0) return '-';
    const end = i + 1 < this.stepStart.length ? this.stepStart[i + 1] : this.events.length;
    return this.phaseOfEvents()[end - 1] ?? '-';
  }
}

function pushUnique(list: number[], step: number): void {
  if (list.length === 0 || list[list.length - 1] !== step) list.push(step);
}

export function parseTrace(text: string): TraceModel {
  const model = new TraceModel();
  model.addText(text);
  return model;
}

function computeBands(model: TraceModel): Band[] {
  const bands: Band[] = [];
  const openNode = new Map<string, Band>();
  for (const e of model.events) {
    if (e.type !== '@trace.drain') continue;
    if (e.phase === 'begin' && !openNode.has(e.node)) {
      const band: Band = { actor: e.node, kind: 'drained', start: e.step, end: null };
      openNode.set(e.node, band);
      bands.push(band);
    } else if (e.phase === 'end' && e.quiesce === 0) {
      const band = openNode.get(e.node);
      if (band) {
        band.end = e.step;
        openNode.delete(e.node);
      }
    }
  }
  for (const [actor, byName] of model.counters) {
    const series = byName.get('externalDisableCount');
    if (!series) continue;
    let open: Band | null = null;
    for (let i = 0; i < series.steps.length; i++) {
      const v = series.values[i];
      if (v > 0 && !open) {
        open = { actor, kind: 'external-disabled', start: series.steps[i], end: null };
        bands.push(open);
      } else if (v <= 0 && open) {
        open.end = series.steps[i];
        open = null;
      }
    }
  }
  return bands.sort((a, b) => a.start - b.start);
}

function phaseLabel(phase: string, index: number): string {
  return index >= 0 ? `${phase} ${index}` : phase;
}

/** Transaction phases from `@trace.txn` start/ok|failed pairs; the whole-transaction span (`transaction`) included. */
export function computePhases(events: readonly TraceEvent[]): PhaseSpan[] {
  const spans: PhaseSpan[] = [];
  const open = new Map<string, PhaseSpan>();
  for (const e of events) {
    if (e.type !== '@trace.txn') continue;
    const key = `${e.txn}|${e.phase}|${e.index}`;
    if (e.result === 'start') {
      const span: PhaseSpan = { txn: e.txn, phase: e.phase, index: e.index, start: e.step, end: null, result: 'open', label: phaseLabel(e.phase, e.index) };
      open.set(key, span);
      spans.push(span);
    } else {
      const span = open.get(key);
      if (span) {
        span.end = e.step;
        span.result = e.result;
        open.delete(key);
      }
    }
  }
  return spans;
}

/**
 * For each event, the innermost transaction phase (prepare/commit/abort/clean N) open at that point
 * of the file, '-' outside them. Follows line order, not steps: a phase that ends and the next that
 * starts share a step, and the events between them belong to neither.
 */
export function annotatePhases(events: readonly TraceEvent[]): string[] {
  const out: string[] = new Array(events.length);
  const stack: { key: string; label: string }[] = [];
  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    if (e.type === '@trace.txn' && e.phase !== 'transaction') {
      const key = `${e.txn}|${e.phase}|${e.index}`;
      const label = phaseLabel(e.phase, e.index);
      if (e.result === 'start') {
        stack.push({ key, label });
        out[i] = label;
      } else {
        out[i] = label;
        const at = stack.findIndex((s) => s.key === key);
        if (at >= 0) stack.splice(at, 1);
      }
      continue;
    }
    out[i] = stack.length ? stack[stack.length - 1].label : '-';
  }
  return out;
}

/** `node:drive0` -> `drive0`, for tight labels. */
export function shortName(actor: string): string {
  const colon = actor.indexOf(':');
  return colon >= 0 ? actor.slice(colon + 1) : actor;
}

/** One line of text for an event, for lists and tooltips. */
export function describeEvent(e: TraceEvent): string {
  switch (e.type) {
    case '@trace.deliver':
      return `${e.from} → ${e.actor}: ${e.detail || e.event}`;
    case '@trace.state':
      return `${e.actor}: ${e.from || '(start)'} → ${e.to}`;
    case '@trace.counter':
      return `${e.actor}.${e.counter} = ${e.value}`;
    case '@trace.dispatch':
      return `${e.actor} dispatches ${e.kind} ${e.id}${e.external ? ' (external)' : ''} on ${e.thread}`;
    case '@trace.poll.begin':
      return `${e.actor}: aio_poll begins (${e.blocking ? 'blocking' : 'non-blocking'}, depth ${e.depth})`;
    case '@trace.poll.end':
      return `${e.actor}: aio_poll returns (${e.progress ? 'progress' : 'no progress'}, depth ${e.depth})`;
    case '@trace.ready':
      return `${e.actor}: ${e.handler} ready${e.external ? ' (external)' : ''}`;
    case '@trace.io.submit':
      return `${e.id} submitted to ${e.node} (${e.op}, ${e.origin}, via ${e.via})`;
    case '@trace.io.complete':
      return `${e.id} completes on ${e.node}`;
    case '@trace.drain':
      return `drain ${e.phase} ${e.node} (quiesce ${e.quiesce})`;
    case '@trace.blk':
      return e.phase === 'queued' || e.phase === 'restarted'
        ? `${e.actor}: ${e.id} ${e.phase} in the BlockBackend (${shortName(e.node)})`
        : `${e.actor}: BlockBackend ${e.phase === 'quiesce' ? 'quiesced' : 'resumed'} by ${shortName(e.node)} (quiesce ${e.quiesce})`;
    case '@trace.command':
      return `QMP ${e.command} ${e.phase}`;
    case '@trace.txn':
      return `${e.txn} ${phaseLabel(e.phase, e.index)} ${e.result}${e.error ? `: ${e.error}` : ''}`;
    case '@trace.pit':
      return `point in time: ${e.kind} of ${e.node} (${e.action})`;
    case '@trace.guest':
      return `guest ${e.op} ${e.id} ${e.phase === 'issue' ? 'issued' : 'completed'} (${e.actor})`;
    case '@trace.artifact':
      return `${e.action}: ${e.kind} ${e.op}`;
    case '@trace.alarm':
      return `alarm ${e.id} ${e.phase} (${e.clock}, ${formatNs(e.deadline)})`;
    case '@trace.clock':
      return `clock → ${formatNs(e.realtime)}`;
    case '@trace.vm':
      return `VM ${e.running ? 'running' : 'stopped'}`;
    case '@trace.error':
      return `error in ${e.actor}: ${e.message}`;
  }
}

export function formatNs(ns: number): string {
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(ns % 1e6 === 0 ? 0 : 2)} ms`;
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(1)} µs`;
  return `${ns} ns`;
}

export function isExternalSubmit(e: TraceEvent): e is TraceEventOf<'@trace.io.submit'> {
  return e.type === '@trace.io.submit' && String(e.origin).startsWith('external');
}

export function isExternalDispatch(e: TraceEvent): e is TraceEventOf<'@trace.dispatch'> {
  return e.type === '@trace.dispatch' && e.external;
}

/** The protections a run switched off (`transactionDrains: false`). */
export function protectionsOff(meta: MetaLine | undefined): string[] {
  if (!meta) return [];
  return Object.entries(meta.protections)
    .filter(([, on]) => !on)
    .map(([name]) => name);
}

/** Guest writes and where they landed by `step`: per request id, its issue/complete and its submits per node. */
export interface GuestWrite {
  id: string;
  op: string;
  client: string;
  issued?: number;
  completed?: number;
  submits: { node: string; step: number; completed?: number }[];
}

export function guestWrites(model: TraceModel, step: number): GuestWrite[] {
  const byId = new Map<string, GuestWrite>();
  const get = (id: string, op: string, client: string) => {
    let w = byId.get(id);
    if (!w) byId.set(id, (w = { id, op, client, submits: [] }));
    return w;
  };
  const relevant = model.cached('guestEvents', () => model.events.filter((e) => e.type === '@trace.guest' || e.type === '@trace.io.submit' || e.type === '@trace.io.complete'));
  for (const e of relevant) {
    if (e.step > step) break;
    if (e.type === '@trace.guest') {
      const w = get(e.id, e.op, e.actor);
      if (e.phase === 'issue') w.issued = e.step;
      else w.completed = e.step;
    } else if (isExternalSubmit(e)) {
      get(e.id, e.op, e.via).submits.push({ node: e.node, step: e.step });
    } else if (e.type === '@trace.io.complete' && String(e.origin).startsWith('external')) {
      const w = byId.get(e.id);
      const s = w?.submits.find((x) => x.node === e.node && x.completed === undefined);
      if (s) s.completed = e.step;
    }
  }
  return [...byId.values()];
}
