/**
 * Reads inspection events (InspectionEvent.ts) back into trace lines, so that `drainlab view`
 * shows an inspection file: drainlab's own exports (toInspection.ts) and streams recorded from
 * other XState apps through @statelyai/inspect.
 *
 * Every event is checked before anything is built, and each problem is reported as
 * `SOURCE: event N: message` (an array, N from 0) or `FILE:LINE: message` (NDJSON).
 *
 * - `@xstate.actor` -> `@trace.actor`, and `@trace.machine` from its definition (a config with
 *   `states`, `on`, `always`, `after`; missing parts are taken as empty).
 * - `@xstate.event` -> `@trace.deliver`: `detail` written from the event's fields.
 * - `@xstate.snapshot` -> `@trace.state` when the value changed (leaf paths joined by `|`), and
 *   `@trace.counter` for each numeric context field that changed.
 *
 * A drainlab stream (its `_version`) carries the step of every event; a stream from elsewhere has
 * none, so each of its events is a step of its own, in order, and its actors' first snapshots
 * (`@xstate.actor`) count as states too. `@trace.meta` comes from the first actor of a drainlab
 * stream, or is made up from the root id and the file; `@trace.end` closes with the last step.
 */
import { ScenarioError } from '../errors.ts';
import { DRAINLAB_INSPECTION_VERSION, DRAINLAB_KEY, type InspectionEventObject, type InspectionStateValue } from './InspectionEvent.ts';
import { eventDetail, leafPathsOf } from './toInspection.ts';
import { type StatechartNode, type StatechartTransition, TRACE_FORMAT, type TraceAnnotation, type TraceLine } from './TraceFile.ts';
import type { TraceEvent } from './TraceEvent.ts';

/** Problems past this many are summed up in one line, as readTraceFile does. */
const MAX_PROBLEMS = 20;

const EXPECTED_TYPES = `"@xstate.actor", "@xstate.event" or "@xstate.snapshot"`;

/** An inspection file's text: a JSON array of events, or NDJSON with one event a line. */
export function parseInspectionFile(text: string, file: string): TraceLine[] {
  const trimmed = text.trim();
  if (trimmed === '') throw new ScenarioError(`${file}: empty; expected inspection events as a JSON array or as NDJSON, one event a line`);
  if (trimmed.startsWith('[')) {
    let events: unknown;
    try {
      events = JSON.parse(trimmed);
    } catch (error) {
      throw new ScenarioError(`${file}: not JSON (${(error as Error).message.slice(0, 80)}); expected a JSON array of inspection events`);
    }
    if (!Array.isArray(events)) throw new ScenarioError(`${file}: expected a JSON array of inspection events`);
    return fromInspectionEvents(events, file);
  }
  const events: unknown[] = [];
  const lineNumbers: number[] = [];
  const problems: string[] = [];
  const rows = text.split('\n');
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i].trim();
    if (row === '') continue;
    try {
      events.push(JSON.parse(row));
      lineNumbers.push(i + 1);
    } catch (error) {
      problems.push(`${file}:${i + 1}: not JSON (${(error as Error).message.slice(0, 80)}); expected one inspection event as a JSON object per line`);
    }
  }
  throwProblems(problems);
  return importEvents(events, (i) => `${file}:${lineNumbers[i]}`, file);
}

/** Inspection events, already parsed; `source` names them in errors (`out.json: event 12: ...`). */
export function fromInspectionEvents(events: unknown[], source: string): TraceLine[] {
  return importEvents(events, (i) => `${source}: event ${i}`, source);
}

/** Whether a file's text looks like inspection events rather than a trace (for readers given either). */
export function isInspectionText(text: string): boolean {
  const start = text.trimStart();
  if (start.startsWith('[')) return true;
  const firstLine = start.split('\n', 1)[0];
  try {
    const first = JSON.parse(firstLine) as { type?: unknown };
    return typeof first?.type === 'string' && first.type.startsWith('@xstate.');
  } catch {
    return false;
  }
}

function throwProblems(problems: readonly string[]): void {
  if (problems.length === 0) return;
  const shown = problems.slice(0, MAX_PROBLEMS);
  if (problems.length > MAX_PROBLEMS) shown.push(`... and ${problems.length - MAX_PROBLEMS} more problems`);
  throw new ScenarioError(shown.join('\n'));
}

// ---------------------------------------------------------------------------------------------
// Checking

/** drainlab's step fields, read from an event of a drainlab stream. */
interface StepFields {
  step: number;
  vtime: number | undefined;
}

type Checked =
  | { type: '@xstate.actor'; sessionId: string; createdAt: string; rootId?: string; name: string; config: Record<string, unknown> | undefined; value: string | undefined; context: Record<string, unknown> | undefined }
  | { type: '@xstate.event'; sessionId: string; createdAt: string; rootId?: string; event: InspectionEventObject; sourceId: string | undefined; stamp: StepFields | undefined }
  | { type: '@xstate.snapshot'; sessionId: string; createdAt: string; rootId?: string; value: string | undefined; context: Record<string, unknown> | undefined; stamp: StepFields | undefined };

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (value === undefined) return 'missing';
  return `${typeof value} ${JSON.stringify(value).slice(0, 40)}`;
}

/** A problem in one event; thrown inside the checker and collected per event. */
class Problem extends Error {}

function need(ok: boolean, message: string): asserts ok {
  if (!ok) throw new Problem(message);
}

function optionalString(record: Record<string, unknown>, field: string, type: string): string | undefined {
  const value = record[field];
  need(value === undefined || typeof value === 'string', `${type}: "${field}" is ${describe(value)}; expected a string or no "${field}"`);
  return value as string | undefined;
}

function checkStateValue(value: unknown, where: string, type: string): InspectionStateValue {
  need(typeof value === 'string' || isRecord(value), `${type}: ${where} is ${describe(value)}; expected a state value (a string, or an object of state values)`);
  if (isRecord(value)) for (const [key, sub] of Object.entries(value)) checkStateValue(sub, `${where}.${key}`, type);
  return value as InspectionStateValue;
}

function checkContext(snapshot: Record<string, unknown>, type: string): Record<string, unknown> | undefined {
  const context = snapshot.context;
  // Logic without context (promises, callbacks) has `context: undefined`; it reads back as no counters.
  need(context === undefined || context === null || isRecord(context), `${type}: snapshot.context is ${describe(context)}; expected an object`);
  return isRecord(context) ? context : undefined;
}

function checkStepFields(holder: Record<string, unknown> | undefined, where: string, type: string): StepFields {
  const fields = holder?.[DRAINLAB_KEY];
  need(isRecord(fields), `${type} without ${where}.${DRAINLAB_KEY}; a drainlab export (_version ${DRAINLAB_INSPECTION_VERSION}) carries the step of every event there`);
  const { step, vtime } = fields;
  need(typeof step === 'number' && Number.isInteger(step) && step >= 0, `${type}: ${where}.${DRAINLAB_KEY}.step is ${describe(step)}; expected a whole number from 0`);
  need(vtime === undefined || (typeof vtime === 'number' && Number.isFinite(vtime)), `${type}: ${where}.${DRAINLAB_KEY}.vtime is ${describe(vtime)}; expected a number of ns`);
  return { step, vtime: vtime as number | undefined };
}

interface CheckState {
  drainlab: boolean;
  /** Sessions registered with a state value: state machines, whose snapshots must have one. */
  machines: Set<string>;
  stepBefore: number;
}

function checkEvent(value: unknown, state: CheckState): Checked {
  need(isRecord(value), `expected an inspection event (a JSON object with "type"), got ${describe(value)}`);
  const type = value.type;
  need(typeof type === 'string', `no "type"; expected ${EXPECTED_TYPES}`);
  need(!type.startsWith('@trace.'), `a drainlab trace line (${type.slice(0, 40)}), not an inspection event; 'drainlab view' reads trace files as they are`);
  need(type === '@xstate.actor' || type === '@xstate.event' || type === '@xstate.snapshot', `unknown event type '${type.slice(0, 60)}'; expected ${EXPECTED_TYPES}`);
  const sessionId = value.sessionId;
  need(typeof sessionId === 'string' && sessionId !== '', `${type}: "sessionId" is ${describe(sessionId)}; expected the actor's session id, a string`);
  const rootId = optionalString(value, 'rootId', type);
  need(typeof value.createdAt === 'string', `${type}: "createdAt" is ${describe(value.createdAt)}; expected a time as a string`);
  // @statelyai/inspect sends `id: null` for actors and snapshots, though its type says string.
  need(typeof value.id === 'string' || value.id === null, `${type}: "id" is ${describe(value.id)}; expected a string`);
  need(typeof value._version === 'string', `${type}: "_version" is ${describe(value._version)}; expected a string`);
  const head = { sessionId, createdAt: value.createdAt, ...(rootId !== undefined ? { rootId } : {}) };

  if (type === '@xstate.actor') {
    need(typeof value.name === 'string', `${type}: "name" is ${describe(value.name)}; expected the machine's id, a string`);
    optionalString(value, 'parentId', type);
    const definition = optionalString(value, 'definition', type);
    let config: Record<string, unknown> | undefined;
    if (definition !== undefined) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(definition);
      } catch (error) {
        throw new Problem(`${type}: "definition" is not JSON (${(error as Error).message.slice(0, 60)}); expected the machine config as a JSON string`);
      }
      need(isRecord(parsed), `${type}: "definition" is ${describe(parsed)} as JSON; expected a machine config object`);
      config = parsed;
    }
    const snapshot = value.snapshot;
    need(snapshot === undefined || isRecord(snapshot), `${type}: "snapshot" is ${describe(snapshot)}; expected an object`);
    const stateValue = snapshot?.value === undefined ? undefined : leafPathsOf(checkStateValue(snapshot.value, 'snapshot.value', type));
    const context = snapshot ? checkContext(snapshot, type) : undefined;
    if (state.drainlab) need(stateValue !== undefined, `${type} without a snapshot.value; expected the actor's first state`);
    if (stateValue !== undefined) state.machines.add(sessionId);
    return { type, ...head, name: value.name, config, value: stateValue, context };
  }

  if (type === '@xstate.event') {
    const event = value.event;
    need(isRecord(event) && typeof event.type === 'string', `${type}: "event" is ${isRecord(event) ? 'an object without a string "type"' : describe(event)}; expected an event object with a "type"`);
    const sourceId = optionalString(value, 'sourceId', type);
    const stamp = state.drainlab ? checkStepFields(event, 'event', type) : undefined;
    if (stamp) {
      const fields = event[DRAINLAB_KEY] as Record<string, unknown>;
      need(fields.from === undefined || typeof fields.from === 'string', `${type}: event.${DRAINLAB_KEY}.from is ${describe(fields.from)}; expected a string`);
      need(fields.detail === undefined || typeof fields.detail === 'string', `${type}: event.${DRAINLAB_KEY}.detail is ${describe(fields.detail)}; expected a string`);
    }
    checkStepOrder(stamp, state, type);
    return { type, ...head, event: event as InspectionEventObject, sourceId, stamp };
  }

  const snapshot = value.snapshot;
  need(isRecord(snapshot), `${type} without a snapshot; expected "snapshot": { status, value, context }`);
  need(snapshot.value !== undefined || !state.machines.has(sessionId), `${type} without a snapshot.value; expected the state value of ${sessionId.slice(0, 60)}`);
  const stateValue = snapshot.value === undefined ? undefined : leafPathsOf(checkStateValue(snapshot.value, 'snapshot.value', type));
  const context = checkContext(snapshot, type);
  need(isRecord(value.event) && typeof value.event.type === 'string', `${type}: "event" is ${describe(value.event)}; expected the event object that caused the snapshot`);
  const stamp = state.drainlab ? checkStepFields(context, 'snapshot.context', type) : undefined;
  checkStepOrder(stamp, state, type);
  return { type, ...head, value: stateValue, context, stamp };
}

function checkStepOrder(stamp: StepFields | undefined, state: CheckState, type: string): void {
  if (!stamp) return;
  need(stamp.step >= state.stepBefore, `${type}: step ${stamp.step} comes after step ${state.stepBefore}; a drainlab export's steps never go back`);
  state.stepBefore = stamp.step;
}

// ---------------------------------------------------------------------------------------------
// Building the trace

function importEvents(raw: readonly unknown[], at: (index: number) => string, source: string): TraceLine[] {
  if (raw.length === 0) throw new ScenarioError(`${source}: no inspection events; expected ${EXPECTED_TYPES} events`);
  const first = raw[0];
  const state: CheckState = { drainlab: isRecord(first) && first._version === DRAINLAB_INSPECTION_VERSION, machines: new Set(), stepBefore: 0 };
  const checked: Checked[] = [];
  const problems: string[] = [];
  raw.forEach((value, i) => {
    try {
      checked.push(checkEvent(value, state));
    } catch (error) {
      if (!(error instanceof Problem)) throw error;
      problems.push(`${at(i)}: ${error.message}`);
    }
  });
  throwProblems(problems);
  return buildTrace(checked, source, state.drainlab);
}

/** Where each event sits in the trace: its step and times. */
type Clock = (event: Checked, index: number) => { step: number; time: number; vtime: number };

/** drainlab's own: the step it carried, REALTIME from `createdAt`, VIRTUAL beside the step. */
function drainlabClock(): Clock {
  let before = { step: 0, time: 0, vtime: 0 };
  return (event) => {
    const stamp = event.type === '@xstate.actor' ? undefined : event.stamp;
    if (!stamp) return before;
    const time = Number(event.createdAt);
    const realtime = Number.isFinite(time) ? time : before.time;
    before = { step: stamp.step, time: realtime, vtime: stamp.vtime ?? realtime };
    return before;
  };
}

/** Another app's: each event its own step; `createdAt` is that app's wall-clock milliseconds, so ns from the first. */
function foreignClock(): Clock {
  let origin: number | undefined;
  let time = 0;
  return (event, index) => {
    const ms = Number(event.createdAt);
    if (event.createdAt.trim() !== '' && Number.isFinite(ms)) {
      origin ??= ms;
      time = Math.max(time, Math.round((ms - origin) * 1e6));
    }
    return { step: index, time, vtime: time };
  };
}

interface ActorTrack {
  state: string | undefined;
  counters: Map<string, number>;
}

function buildTrace(events: readonly Checked[], source: string, drainlab: boolean): TraceLine[] {
  const clock = drainlab ? drainlabClock() : foreignClock();
  const actors = new Map<string, { kind: string; machine: string }>();
  const machines = new Map<string, StatechartNode>();
  const register = (sessionId: string, machine: string, kind: string, config: Record<string, unknown> | undefined) => {
    if (actors.has(sessionId)) return;
    actors.set(sessionId, { kind, machine });
    if (!machines.has(machine)) machines.set(machine, statechartOf(config ?? {}, machine));
  };
  let drainlabMeta: Record<string, unknown> | undefined;
  for (const e of events) {
    if (e.type === '@xstate.actor') {
      const fields = e.context?.[DRAINLAB_KEY];
      const kind = isRecord(fields) && typeof fields.kind === 'string' ? fields.kind : 'xstate';
      if (isRecord(fields) && isRecord(fields.meta) && drainlabMeta === undefined) drainlabMeta = fields.meta;
      const machine = typeof e.config?.id === 'string' && e.config.id !== '' ? e.config.id : e.name;
      register(e.sessionId, machine, kind, e.config);
    } else {
      // Events may reach a session whose `@xstate.actor` was never recorded (an inspector drops the oldest).
      register(e.sessionId, e.sessionId, 'xstate', undefined);
    }
  }

  const lines: TraceLine[] = [metaOf(drainlabMeta, events, source)];
  for (const [machine, root] of machines) lines.push({ type: '@trace.machine', machine, ...(root.description ? { description: root.description } : {}), root });
  for (const [actor, { kind, machine }] of actors) lines.push({ type: '@trace.actor', actor, kind, machine });

  const tracks = new Map<string, ActorTrack>();
  let lastStep = 0;
  events.forEach((e, index) => {
    const { step, time, vtime } = clock(e, index);
    lastStep = Math.max(lastStep, step);
    const stamp = { step, time, vtime, actor: e.sessionId };
    if (e.type === '@xstate.event') {
      const fields = e.event[DRAINLAB_KEY];
      const carried = isRecord(fields) ? fields : {};
      const from = typeof carried.from === 'string' ? carried.from : (e.sourceId ?? 'env');
      const detail = typeof carried.detail === 'string' ? carried.detail : eventDetail(e.event);
      lines.push({ ...stamp, type: '@trace.deliver', event: e.event.type, from, detail });
      return;
    }
    // A drainlab export's states come from its snapshots, which carry their step; its
    // `@xstate.actor` repeats the first of them.
    if (e.type === '@xstate.actor' && drainlab) return;
    let track = tracks.get(e.sessionId);
    if (!track) tracks.set(e.sessionId, (track = { state: undefined, counters: new Map() }));
    lines.push(...changesOf(track, e.value, e.context, stamp));
  });
  lines.push({ type: '@trace.end', steps: lastStep, endReason: 'imported' });
  return lines;
}

function changesOf(track: ActorTrack, value: string | undefined, context: Record<string, unknown> | undefined, stamp: { step: number; time: number; vtime: number; actor: string }): TraceEvent[] {
  const out: TraceEvent[] = [];
  if (value !== undefined && value !== track.state) {
    out.push({ ...stamp, type: '@trace.state', from: track.state ?? '', to: value });
    track.state = value;
  }
  for (const [counter, n] of Object.entries(context ?? {})) {
    if (typeof n !== 'number' || !Number.isFinite(n) || track.counters.get(counter) === n) continue;
    out.push({ ...stamp, type: '@trace.counter', counter, value: n });
    track.counters.set(counter, n);
  }
  return out;
}

function metaOf(carried: Record<string, unknown> | undefined, events: readonly Checked[], source: string): TraceAnnotation {
  const rootId = events.find((e) => e.rootId !== undefined)?.rootId;
  const scenario = typeof carried?.scenario === 'string' ? carried.scenario : rootId?.startsWith('drainlab:') ? rootId.slice('drainlab:'.length) : (rootId ?? source);
  const text = (field: string, fallback: string) => (typeof carried?.[field] === 'string' ? (carried[field] as string) : fallback);
  const protections = isRecord(carried?.protections) ? (Object.fromEntries(Object.entries(carried.protections).filter(([, v]) => typeof v === 'boolean')) as Record<string, boolean>) : {};
  return {
    type: '@trace.meta',
    format: TRACE_FORMAT,
    scenario,
    title: text('title', `inspection events from ${source}`),
    ...(typeof carried?.file === 'string' ? { file: carried.file } : {}),
    seed: typeof carried?.seed === 'number' ? carried.seed : 0,
    strategy: text('strategy', 'inspection'),
    era: text('era', '2015'),
    protections,
    source: text('source', 'inspection'),
  };
}

// ---------------------------------------------------------------------------------------------
// Machine configs -> statecharts

const STATE_TYPES: ReadonlySet<string> = new Set(['atomic', 'compound', 'parallel', 'final', 'history']);

/**
 * The statechart of a machine config: drainlab's own (absolute `#machine.path` targets) or
 * XState's `logic.config` as @statelyai/inspect sends it (relative targets, transitions as
 * strings, objects or arrays, guards and actions as names or `{ type }`). Anything it does not
 * understand is left out rather than refused: the chart is for showing.
 */
export function statechartOf(config: Record<string, unknown>, machineId: string): StatechartNode {
  const ids = new Map<string, string>();
  collectIds(config, '', ids);
  return nodeOf(config, machineId, '', undefined, { machineId, ids });
}

interface ChartScope {
  machineId: string;
  /** Custom state ids (`id: 'x'` on a state) -> their paths. */
  ids: Map<string, string>;
}

function statesOf(config: Record<string, unknown>): [string, Record<string, unknown>][] {
  return isRecord(config.states) ? Object.entries(config.states).map(([k, v]) => [k, isRecord(v) ? v : {}]) : [];
}

function collectIds(config: Record<string, unknown>, path: string, ids: Map<string, string>): void {
  for (const [key, child] of statesOf(config)) {
    const childPath = path ? `${path}.${key}` : key;
    if (typeof child.id === 'string') ids.set(child.id, childPath);
    collectIds(child, childPath, ids);
  }
}

function nodeOf(config: Record<string, unknown>, key: string, path: string, parentPath: string | undefined, scope: ChartScope): StatechartNode {
  const children = statesOf(config).map(([k, child]) => nodeOf(child, k, path ? `${path}.${k}` : k, path, scope));
  const type = typeof config.type === 'string' && STATE_TYPES.has(config.type) ? (config.type as StatechartNode['type']) : children.length > 0 ? 'compound' : 'atomic';
  const initial = typeof config.initial === 'string' ? config.initial : isRecord(config.initial) && typeof config.initial.target === 'string' ? config.initial.target : undefined;
  const transitions: StatechartTransition[] = [];
  const here = { path, parentPath, scope };
  if (isRecord(config.on)) for (const [event, t] of Object.entries(config.on)) transitions.push(...transitionsOf(event, t, here));
  if (isRecord(config.after)) {
    const stateId = typeof config.id === 'string' ? config.id : path ? `${scope.machineId}.${path}` : scope.machineId;
    for (const [delay, t] of Object.entries(config.after)) transitions.push(...transitionsOf(`xstate.after.${delay}.${stateId}`, t, here));
  }
  transitions.push(...transitionsOf('', config.always, here));
  return {
    key,
    path,
    type,
    ...(type === 'compound' && initial !== undefined ? { initial: initial.replace(/^\./, '') } : {}),
    ...(typeof config.description === 'string' ? { description: config.description } : {}),
    ...ownFieldsOf(config),
    children,
    transitions,
  };
}

/** The statechart fields a drainlab export keeps in `meta.__drainlab` (toInspection.ts); a foreign config has none. */
function ownFieldsOf(config: Record<string, unknown>): Pick<StatechartNode, 'selectedBy'> {
  const own = isRecord(config.meta) ? config.meta[DRAINLAB_KEY] : undefined;
  return isRecord(own) && typeof own.selectedBy === 'string' ? { selectedBy: own.selectedBy } : {};
}

function transitionsOf(event: string, spec: unknown, here: { path: string; parentPath: string | undefined; scope: ChartScope }): StatechartTransition[] {
  if (spec === undefined || spec === null) return [];
  const list = Array.isArray(spec) ? spec : [spec];
  return list.flatMap((item): StatechartTransition[] => {
    const t = typeof item === 'string' ? { target: item } : isRecord(item) ? item : null;
    if (!t) return [];
    const targets = (Array.isArray(t.target) ? t.target : t.target === undefined ? [] : [t.target]).filter((x): x is string => typeof x === 'string');
    // `cond` is XState 4's name for a guard.
    const guard = nameOf(t.guard ?? t.cond);
    const actions = (Array.isArray(t.actions) ? t.actions : t.actions === undefined ? [] : [t.actions]).map(nameOf).filter((a): a is string => a !== undefined);
    return [{ event, ...(guard !== undefined ? { guard } : {}), targets: targets.map((target) => resolveTarget(target, here)), actions }];
  });
}

function nameOf(ref: unknown): string | undefined {
  if (typeof ref === 'string' && ref !== '') return ref;
  if (isRecord(ref) && typeof ref.type === 'string' && ref.type !== '') return ref.type;
  return undefined;
}

/** A target as a path from the root: `#machine.a.b`, `#customId.b`, `.child`, `sibling`. */
function resolveTarget(target: string, here: { path: string; parentPath: string | undefined; scope: ChartScope }): string {
  const join = (a: string, b: string) => (a && b ? `${a}.${b}` : a || b);
  if (target.startsWith('#')) {
    const [id, ...rest] = target.slice(1).split('.');
    const base = id === here.scope.machineId ? '' : here.scope.ids.get(id);
    return base === undefined ? target.slice(1) : join(base, rest.join('.'));
  }
  if (target.startsWith('.')) return join(here.path, target.slice(1));
  // A plain key names a sibling; on the root, which has none, a child.
  return join(here.parentPath ?? here.path, target);
}
