/**
 * A trace file: the `@trace.*` events of a run (TraceEvent.ts) framed by a few annotation lines
 * that make the file readable on its own, by the viewer and the exporters, without the actors:
 *
 * - `@trace.meta` first: which scenario, seed, strategy, era and protections produced it;
 * - one `@trace.machine` per machine used: its statechart, taken from the machine's own
 *   definition (nested and parallel states, events, guards, descriptions);
 * - one `@trace.actor` per actor: its name, kind and machine;
 * - the events themselves, with a `@trace.violation` after the event that revealed each
 *   invariant violation;
 * - `@trace.image` per snapshot or backup (what it holds) and `@trace.end` last.
 *
 * Annotations carry no Stamp and are not TraceEvents: monitors and the engine never see them.
 */
import type { AnyStateMachine } from 'xstate';
import type { ActorSpec } from '../engine/Engine.ts';
import type { ImageReport } from '../invariants/ImageLedger.ts';
import type { ReportedViolation } from '../invariants/InvariantChecker.ts';
import type { TraceEvent } from './TraceEvent.ts';

export const TRACE_FORMAT = 'drainlab.trace/1';

/** One state of a statechart, as the viewer and the diagrams draw it. */
export interface StatechartNode {
  /** The state's key in its parent (the machine's id for the root). */
  key: string;
  /** Dot path from the root (`external.enabled`); '' for the root. Matches `@trace.state` values. */
  path: string;
  type: 'atomic' | 'compound' | 'parallel' | 'final' | 'history';
  /** The initial child's key (compound states). */
  initial?: string;
  description?: string;
  /**
   * A region whose state mirrors the context: every child has an eventless transition to every
   * sibling, guarded by this guard with the sibling as its parameter (the transaction action's
   * phase and operation regions). Those transitions are summed up by this name instead of listed.
   */
  selectedBy?: string;
  children: StatechartNode[];
  transitions: StatechartTransition[];
}

export interface StatechartTransition {
  /** The event type; '' for an eventless (`always`) transition. */
  event: string;
  guard?: string;
  /** Target state paths; empty for a transition that stays (actions only). */
  targets: string[];
  actions: string[];
}

export type TraceAnnotation =
  | {
      type: '@trace.meta';
      format: typeof TRACE_FORMAT;
      scenario: string;
      title: string;
      file?: string;
      seed: number;
      strategy: string;
      era: string;
      protections: Record<string, boolean>;
      /** What produced the file: `run`, `replay`, `explore` (a counterexample), `demo`. */
      source: string;
    }
  | { type: '@trace.machine'; machine: string; description?: string; root: StatechartNode }
  | { type: '@trace.actor'; actor: string; kind: string; machine: string }
  | { type: '@trace.violation'; step: number; time: number; invariant: string; title?: string; actors: string[]; message: string; explanation: string }
  | { type: '@trace.image'; step: number; action: string; index: number; kind: string; node: string; holds: string[] }
  | { type: '@trace.end'; steps: number; endReason: string; replay?: string; met?: boolean };

/** A line of a trace file. */
export type TraceLine = TraceEvent | TraceAnnotation;

/** The statechart of a machine, read from its own state nodes. */
export function describeMachine(machine: AnyStateMachine): StatechartNode {
  return describeNode(machine.root, '');
}

interface StateNodeLike {
  key: string;
  type: StatechartNode['type'];
  description?: string;
  states: Record<string, StateNodeLike>;
  initial?: { target: readonly StateNodeLike[] };
  transitions: Map<string, readonly TransitionLike[]>;
  always?: readonly TransitionLike[];
  path: readonly string[];
}

interface TransitionLike {
  eventType: string;
  guard?: unknown;
  target?: readonly StateNodeLike[];
  actions: readonly unknown[];
}

function describeNode(node: StateNodeLike, path: string): StatechartNode {
  const children = Object.values(node.states).map((child) => describeNode(child, path ? `${path}.${child.key}` : child.key));
  const transitions: StatechartTransition[] = [];
  for (const [, list] of node.transitions) for (const t of list) transitions.push(describeTransition(t));
  for (const t of node.always ?? []) transitions.push({ ...describeTransition(t), event: '' });
  const initialTarget = node.type === 'compound' ? node.initial?.target[0] : undefined;
  const selectedBy = mirrorGuard(node, children);
  return {
    key: node.key,
    path,
    type: node.type,
    ...(initialTarget ? { initial: initialTarget.key } : {}),
    ...(node.description ? { description: node.description } : {}),
    ...(selectedBy ? { selectedBy } : {}),
    children: selectedBy ? children.map((c) => ({ ...c, transitions: c.transitions.filter((t) => t.event !== '' || guardBase(t.guard) !== selectedBy) })) : children,
    transitions,
  };
}

/** The guard that picks a mirror region's state, when every child reaches every sibling by it. */
function mirrorGuard(node: StateNodeLike, children: readonly StatechartNode[]): string | undefined {
  if (node.type !== 'compound' || children.length < 3) return undefined;
  let guard: string | undefined;
  for (const child of children) {
    const reached = new Set<string>();
    for (const t of child.transitions) {
      if (t.event !== '' || !t.guard || t.targets.length !== 1) continue;
      const name = guardBase(t.guard);
      guard ??= name;
      if (name === guard) reached.add(t.targets[0]);
    }
    if (reached.size !== children.length - 1) return undefined;
  }
  return guard;
}

function describeTransition(t: TransitionLike): StatechartTransition {
  const guard = guardName(t.guard);
  return {
    event: t.eventType,
    ...(guard ? { guard } : {}),
    targets: (t.target ?? []).map((s) => s.path.join('.')),
    actions: t.actions.map(nameOf).filter((a): a is string => a !== undefined),
  };
}

/** `isOperation(state=flush)` -> `isOperation`. */
function guardBase(guard: string | undefined): string | undefined {
  if (guard === undefined) return undefined;
  const open = guard.indexOf('(');
  return open < 0 ? guard : guard.slice(0, open);
}

/** A guard's name, with its parameters when it has some: `isOperation(state=flush)`. */
function guardName(ref: unknown): string | undefined {
  const name = nameOf(ref);
  const params = ref && typeof ref === 'object' ? (ref as { params?: unknown }).params : undefined;
  if (!name || !params || typeof params !== 'object') return name;
  const fields = Object.entries(params as Record<string, unknown>).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
  return `${name}(${fields.join(', ')})`;
}

/** Named implementations are strings (or `{ type }`); inline functions have no name worth showing. */
function nameOf(ref: unknown): string | undefined {
  if (typeof ref === 'string') return ref;
  if (ref && typeof ref === 'object' && typeof (ref as { type?: unknown }).type === 'string') return (ref as { type: string }).type;
  return undefined;
}

/** What `@trace.meta` says about a run. */
export interface TraceMetaInput {
  scenario: string;
  title: string;
  file?: string;
  seed: number;
  strategy: string;
  era?: string;
  protections?: Record<string, boolean>;
  source: string;
}

/** The lines a trace file starts with: meta, then each machine once, then each actor. */
export function traceHeader(meta: TraceMetaInput, specs: readonly ActorSpec[]): TraceAnnotation[] {
  const lines: TraceAnnotation[] = [
    {
      type: '@trace.meta',
      format: TRACE_FORMAT,
      scenario: meta.scenario,
      title: meta.title,
      ...(meta.file ? { file: meta.file } : {}),
      seed: meta.seed,
      strategy: meta.strategy,
      era: meta.era ?? '2015',
      protections: meta.protections ?? {},
      source: meta.source,
    },
  ];
  const seen = new Set<string>();
  for (const spec of specs) {
    const id = spec.logic.id;
    if (seen.has(id)) continue;
    seen.add(id);
    const root = describeMachine(spec.logic);
    lines.push({ type: '@trace.machine', machine: id, ...(root.description ? { description: root.description } : {}), root });
  }
  for (const spec of specs) lines.push({ type: '@trace.actor', actor: spec.name, kind: spec.kind, machine: spec.logic.id });
  return lines;
}

export function violationLine(v: ReportedViolation, title?: string): TraceAnnotation {
  return { type: '@trace.violation', step: v.step, time: v.time, invariant: v.invariant, ...(title ? { title } : {}), actors: [...v.actors], message: v.message, explanation: v.explanation };
}

export function imageLine(image: ImageReport): TraceAnnotation {
  return { type: '@trace.image', step: image.step, action: image.action, index: image.index, kind: image.kind, node: image.node, holds: [...image.holds] };
}

/** Annotation types, for readers that must tell them from events. */
export const ANNOTATION_TYPES: ReadonlySet<string> = new Set(['@trace.meta', '@trace.machine', '@trace.actor', '@trace.violation', '@trace.image', '@trace.end']);
