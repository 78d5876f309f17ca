/**
 * Exports a trace as the inspection events @statelyai/inspect sends (InspectionEvent.ts), so a
 * run can be opened in Stately's inspector or in any tool that reads that stream.
 *
 * - `@trace.actor` -> `@xstate.actor`: `name` is the machine id, `definition` the statechart of
 *   `@trace.machine` written back as an XState config (JSON), `parentId` the actor whose name
 *   prefixes this one's (`txn:1/action:0` -> `txn:1`), `snapshot` the actor's first state.
 * - `@trace.deliver` -> `@xstate.event`: the event object is `{ type, ...fields }` with the
 *   fields read back from `detail` when that reads back exactly; `sourceId` is the sender.
 * - At the end of each step, for every actor whose state or counters changed in it, one
 *   `@xstate.snapshot`: `value` the XState state value, `context` the counters known so far.
 *
 * The export is a pure function of the trace: `sessionId` is the actor's name, `rootId`
 * `drainlab:<scenario>`, `id` `<sessionId>#<n>` (the session's n-th event), `createdAt` the
 * simulated REALTIME clock in ns (never the wall clock), `_version` DRAINLAB_INSPECTION_VERSION.
 *
 * The step is kept so that an import rebuilds the per-step view: in `event.__drainlab.step` of
 * every `@xstate.event` and in `snapshot.context.__drainlab.step` of every `@xstate.snapshot`
 * (with the VIRTUAL clock as `vtime` next to it). Violations, images and the end line have no
 * place in the stream and are left out.
 */
import {
  DRAINLAB_INSPECTION_VERSION,
  DRAINLAB_KEY,
  type DrainlabActorFields,
  type DrainlabEventFields,
  type DrainlabSnapshotFields,
  type InspectionEventObject,
  type InspectionStateValue,
  type StatelyActorEvent,
  type StatelyInspectionEvent,
} from './InspectionEvent.ts';
import type { StatechartNode, StatechartTransition, TraceAnnotation, TraceLine } from './TraceFile.ts';
import type { TraceEvent, TraceEventOf } from './TraceEvent.ts';

type Meta = Extract<TraceAnnotation, { type: '@trace.meta' }>;

/** What the export knows of one actor while it walks the trace. */
interface ActorView {
  machine: StatechartNode | undefined;
  /** `@trace.state`'s `to` so far; undefined before the first. */
  state: string | undefined;
  counters: Record<string, number>;
}

export function toInspectionEvents(lines: readonly TraceLine[]): StatelyInspectionEvent[] {
  const meta = lines.find((l): l is Meta => l.type === '@trace.meta');
  const rootId = `drainlab:${meta?.scenario ?? 'trace'}`;
  const actorNames = new Set(lines.filter((l) => l.type === '@trace.actor').map((l) => (l as { actor: string }).actor));
  const firstStates = new Map<string, string>();
  for (const l of lines) if (l.type === '@trace.state' && !firstStates.has(l.actor)) firstStates.set(l.actor, l.to);

  const out: StatelyInspectionEvent[] = [];
  const eventCounts = new Map<string, number>();
  const base = (sessionId: string, time: number) => {
    const n = eventCounts.get(sessionId) ?? 0;
    eventCounts.set(sessionId, n + 1);
    return { sessionId, rootId, createdAt: String(time), id: `${sessionId}#${n}`, _version: DRAINLAB_INSPECTION_VERSION };
  };

  const machines = new Map<string, StatechartNode>();
  const actors = new Map<string, ActorView>();
  const viewOf = (name: string): ActorView => {
    let view = actors.get(name);
    if (!view) actors.set(name, (view = { machine: undefined, state: undefined, counters: {} }));
    return view;
  };

  // Snapshots wait for the end of their step, so that each shows the step's outcome once.
  let step: number | undefined;
  const changed = new Map<string, TraceEvent>();
  const delivered = new Map<string, InspectionEventObject>();
  const flushStep = () => {
    for (const [name, last] of changed) {
      const view = viewOf(name);
      const drainlab: DrainlabSnapshotFields = { step: last.step, vtime: last.vtime };
      const cause = delivered.get(name);
      out.push({
        type: '@xstate.snapshot',
        ...base(name, last.time),
        snapshot: {
          status: 'active',
          value: stateValueOf(view.state ?? initialStateOf(view.machine), view.machine),
          context: { ...view.counters, [DRAINLAB_KEY]: drainlab },
        },
        event: cause ? structuredClone(cause) : { type: last.step === 0 ? 'xstate.init' : 'drainlab.step' },
      });
    }
    changed.clear();
    delivered.clear();
  };

  let metaGiven = false;
  for (const line of lines) {
    switch (line.type) {
      case '@trace.meta':
      case '@trace.violation':
      case '@trace.image':
      case '@trace.end':
        continue;
      case '@trace.machine':
        machines.set(line.machine, line.root);
        continue;
      case '@trace.actor': {
        const view = viewOf(line.actor);
        view.machine = machines.get(line.machine);
        const drainlab: DrainlabActorFields = { kind: line.kind };
        if (meta && !metaGiven) {
          const { type: _type, ...fields } = meta;
          drainlab.meta = fields;
          metaGiven = true;
        }
        out.push(actorEvent(line.actor, line.machine, view.machine, firstStates.get(line.actor), drainlab, actorNames, base(line.actor, 0)));
        continue;
      }
    }
    if (line.step !== step) {
      flushStep();
      step = line.step;
    }
    const view = viewOf(line.actor);
    if (line.type === '@trace.deliver') {
      const event = eventObjectOf(line, actorNames);
      delivered.set(line.actor, event);
      out.push({ type: '@xstate.event', ...base(line.actor, line.time), event, sourceId: actorNames.has(line.from) ? line.from : undefined });
    } else if (line.type === '@trace.state') {
      if (view.state !== line.to) changed.set(line.actor, line);
      view.state = line.to;
    } else if (line.type === '@trace.counter') {
      if (view.counters[line.counter] !== line.value) changed.set(line.actor, line);
      view.counters[line.counter] = line.value;
    }
  }
  flushStep();
  return out;
}

function actorEvent(
  name: string,
  machineId: string,
  machine: StatechartNode | undefined,
  firstState: string | undefined,
  drainlab: DrainlabActorFields,
  actorNames: ReadonlySet<string>,
  base: Omit<StatelyActorEvent, 'type' | 'name' | 'snapshot' | 'definition' | 'parentId'>,
): StatelyActorEvent {
  const slash = name.lastIndexOf('/');
  const parent = slash > 0 ? name.slice(0, slash) : undefined;
  return {
    type: '@xstate.actor',
    ...base,
    name: machineId,
    snapshot: { status: 'active', value: stateValueOf(firstState ?? initialStateOf(machine), machine), context: { [DRAINLAB_KEY]: drainlab } },
    definition: machine ? JSON.stringify(machineConfigOf(machineId, machine)) : undefined,
    parentId: parent !== undefined && actorNames.has(parent) ? parent : undefined,
  };
}

// ---------------------------------------------------------------------------------------------
// Events

/**
 * `aio.poll(blocking=true, thread=main)` -> `{ type: 'aio.poll', blocking: true, thread: 'main' }`.
 * The fields are kept only when writing them out again gives the same detail; otherwise the
 * detail travels as it is, so an import always restores it.
 */
function eventObjectOf(e: TraceEventOf<'@trace.deliver'>, actorNames: ReadonlySet<string>): InspectionEventObject {
  const drainlab: DrainlabEventFields = { step: e.step, vtime: e.vtime };
  if (!actorNames.has(e.from)) drainlab.from = e.from;
  const fields = fieldsOfDetail(e.event, e.detail);
  if (!fields) drainlab.detail = e.detail;
  return { type: e.event, ...fields, [DRAINLAB_KEY]: drainlab };
}

function fieldsOfDetail(type: string, detail: string): Record<string, unknown> | null {
  if (detail === type) return {};
  if (!detail.startsWith(`${type}(`) || !detail.endsWith(')')) return null;
  const fields: Record<string, unknown> = {};
  for (const part of detail.slice(type.length + 1, -1).split(', ')) {
    const eq = part.indexOf('=');
    if (eq <= 0) return null;
    const key = part.slice(0, eq);
    if (key === 'type' || key === DRAINLAB_KEY || key in fields) return null;
    fields[key] = typedValue(part.slice(eq + 1));
  }
  return eventDetail({ type, ...fields }) === detail ? fields : null;
}

/** `true`, `false` and numbers that print back the same become JSON booleans and numbers. */
function typedValue(text: string): unknown {
  if (text === 'true') return true;
  if (text === 'false') return false;
  const n = Number(text);
  return text.trim() !== '' && Number.isFinite(n) && String(n) === text ? n : text;
}

/**
 * An event object as `@trace.deliver`'s `detail` writes it: `type(key=value, ...)`, or the type
 * alone without fields. Objects are written as JSON (drainlab's own events have none).
 */
export function eventDetail(event: InspectionEventObject): string {
  const fields: string[] = [];
  for (const [key, value] of Object.entries(event)) {
    if (key === 'type' || key === DRAINLAB_KEY || value === undefined) continue;
    fields.push(`${key}=${value !== null && typeof value === 'object' ? JSON.stringify(value) : String(value)}`);
  }
  return fields.length ? `${event.type}(${fields.join(', ')})` : event.type;
}

// ---------------------------------------------------------------------------------------------
// State values

/**
 * `external.enabled|loop.idle` -> `{ external: 'enabled', loop: 'idle' }`, `running` ->
 * `'running'`, `a.b.c` -> `{ a: { b: 'c' } }`. With the statechart, an atomic region of a
 * parallel state is `{}` as XState has it; without, a state with one active child is taken
 * as compound.
 */
export function stateValueOf(leafPaths: string, machine?: StatechartNode): InspectionStateValue {
  const tree = new Map<string, PathTree>();
  for (const path of leafPaths.split('|')) {
    if (path === '') continue;
    let level = tree;
    for (const key of path.split('.')) {
      let next = level.get(key);
      if (!next) level.set(key, (next = new Map()));
      level = next;
    }
  }
  return valueOfTree(tree, machine);
}

type PathTree = Map<string, PathTree>;

function valueOfTree(tree: PathTree, node: StatechartNode | undefined): InspectionStateValue {
  const parallel = node ? node.type === 'parallel' : tree.size > 1;
  if (!parallel && tree.size === 1) {
    const [[key, sub]] = tree;
    if (sub.size === 0) return key;
    return { [key]: valueOfTree(sub, childOf(node, key)) };
  }
  const value: Record<string, InspectionStateValue> = {};
  for (const [key, sub] of tree) value[key] = sub.size === 0 ? {} : valueOfTree(sub, childOf(node, key));
  return value;
}

function childOf(node: StatechartNode | undefined, key: string): StatechartNode | undefined {
  return node?.children.find((c) => c.key === key);
}

/** `{ external: 'enabled', loop: 'idle' }` -> `external.enabled|loop.idle`, as `@trace.state` writes it. */
export function leafPathsOf(value: InspectionStateValue): string {
  if (typeof value === 'string') return value;
  const parts: string[] = [];
  for (const [key, sub] of Object.entries(value)) {
    const inner = leafPathsOf(sub);
    if (inner === '') parts.push(key);
    else for (const leaf of inner.split('|')) parts.push(`${key}.${leaf}`);
  }
  return parts.join('|');
}

/** The leaf paths a machine starts in: each compound state's initial child, every region of a parallel one. */
export function initialStateOf(machine: StatechartNode | undefined): string {
  if (!machine) return '';
  const leaves: string[] = [];
  const enter = (node: StatechartNode) => {
    const children = node.type === 'parallel' ? node.children : node.children.filter((c) => c.key === (node.initial ?? node.children[0]?.key));
    if (children.length === 0) {
      if (node.path !== '') leaves.push(node.path);
    } else for (const child of children) enter(child);
  };
  enter(machine);
  return leaves.join('|');
}

// ---------------------------------------------------------------------------------------------
// Machine configs

/** A machine config as XState takes it, as far as the statechart tells; `logic.config` has this shape. */
export interface MachineConfigJson {
  id?: string;
  type?: 'parallel' | 'final' | 'history';
  initial?: string;
  description?: string;
  meta?: Record<string, unknown>;
  states?: Record<string, MachineConfigJson>;
  on?: Record<string, TransitionConfigJson[]>;
  always?: TransitionConfigJson[];
}

export interface TransitionConfigJson {
  /** Absolute targets, `#machine.path`: unambiguous wherever the transition sits. */
  target?: string[];
  guard?: string;
  actions?: string[];
}

export function machineConfigOf(machineId: string, root: StatechartNode): MachineConfigJson {
  return { id: machineId, ...stateConfigOf(root, machineId) };
}

function stateConfigOf(node: StatechartNode, machineId: string): MachineConfigJson {
  const config: MachineConfigJson = {};
  // XState infers atomic and compound from `states`; only the other types are written.
  if (node.type === 'parallel' || node.type === 'final' || node.type === 'history') config.type = node.type;
  if (node.initial !== undefined) config.initial = node.initial;
  if (node.description !== undefined) config.description = node.description;
  // What the statechart says beyond XState's vocabulary (`selectedBy`) rides in `meta`, the
  // config's place for data of one's own, so that an import restores the chart as it was.
  const { key: _key, path: _path, type: _type, initial: _initial, description: _description, children: _children, transitions: _transitions, ...own } = node;
  if (Object.keys(own).length > 0) config.meta = { [DRAINLAB_KEY]: own };
  if (node.children.length > 0) config.states = Object.fromEntries(node.children.map((c) => [c.key, stateConfigOf(c, machineId)]));
  const on: Record<string, TransitionConfigJson[]> = {};
  const always: TransitionConfigJson[] = [];
  for (const t of node.transitions) {
    if (t.event === '') always.push(transitionConfigOf(t, machineId));
    else (on[t.event] ??= []).push(transitionConfigOf(t, machineId));
  }
  if (Object.keys(on).length > 0) config.on = on;
  if (always.length > 0) config.always = always;
  return config;
}

function transitionConfigOf(t: StatechartTransition, machineId: string): TransitionConfigJson {
  return {
    ...(t.targets.length > 0 ? { target: t.targets.map((path) => (path === '' ? `#${machineId}` : `#${machineId}.${path}`)) } : {}),
    ...(t.guard !== undefined ? { guard: t.guard } : {}),
    ...(t.actions.length > 0 ? { actions: [...t.actions] } : {}),
  };
}
