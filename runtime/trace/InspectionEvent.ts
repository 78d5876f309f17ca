/**
 * The inspection events drainlab exports and imports: the shapes `@statelyai/inspect` 0.7.2
 * sends to its adapters (its `StatelyInspectionEvent`: `@xstate.actor`, `@xstate.event`,
 * `@xstate.snapshot`), written out here so that drainlab depends on neither that package nor its
 * transport. A file of these opens in Stately's inspector and in tools that read that stream.
 *
 * What the shapes have no field for (the step, the VIRTUAL clock, an actor's kind, the run's
 * meta) travels under a `__drainlab` key inside the payloads the shapes leave open: the event
 * object of `@xstate.event`, and the snapshot context of `@xstate.actor` and `@xstate.snapshot`
 * (see toInspection.ts). Other tools show it as one more field and otherwise ignore it.
 */

/** `_version` of every event drainlab exports: tells its own streams from other XState apps'. */
export const DRAINLAB_INSPECTION_VERSION = 'drainlab.inspect/1';

/** The key under which drainlab's own fields travel in an event object or a snapshot context. */
export const DRAINLAB_KEY = '__drainlab';

/** drainlab's fields in an exported `@xstate.event`'s event object. */
export interface DrainlabEventFields {
  step: number;
  /** VIRTUAL clock, ns (`createdAt` is the REALTIME clock). */
  vtime: number;
  /** The sender when it is no actor (`env`, `clock`): `sourceId` names actors only. */
  from?: string;
  /** The trace's `detail` when the event's fields cannot be read back from it unambiguously. */
  detail?: string;
}

/** drainlab's fields in an exported `@xstate.snapshot`'s context. */
export interface DrainlabSnapshotFields {
  step: number;
  vtime: number;
}

/** drainlab's fields in an exported `@xstate.actor`'s snapshot context. */
export interface DrainlabActorFields {
  /** The actor's kind (`block-node`, `transaction`), as `@trace.actor` has it. */
  kind: string;
  /** The run's `@trace.meta` without its type, on the first actor only: the stream has no place for the run itself. */
  meta?: Record<string, unknown>;
}

/** An XState state value: `'running'`, `{ external: 'enabled', loop: 'idle' }`, `{ a: {} }` for an atomic region. */
export type InspectionStateValue = string | { [key: string]: InspectionStateValue };

/** An event as XState sends it: a `type` and any fields. */
export interface InspectionEventObject {
  type: string;
  [field: string]: unknown;
}

/** What an inspection event says of an actor's snapshot (`InspectedSnapshot` in @statelyai/inspect). */
export interface InspectedSnapshot {
  status?: 'active' | 'done' | 'error' | 'stopped';
  context?: unknown;
  value?: unknown;
  output?: unknown;
}

/** Fields every inspection event has. */
export interface StatelyBaseInspectionEvent {
  /** The root actor's session; @statelyai/inspect may leave it undefined. */
  rootId: string | undefined;
  sessionId: string;
  /** A time as a decimal string (@statelyai/inspect: wall-clock milliseconds; drainlab: virtual ns). */
  createdAt: string;
  /** @statelyai/inspect types it a string but sends `null` for actor and snapshot events; drainlab always sends a string. */
  id: string;
  _version: string;
}

/** An actor came into being. */
export interface StatelyActorEvent extends StatelyBaseInspectionEvent {
  type: '@xstate.actor';
  /** The machine's id (or the session id for logic that has no config). */
  name: string;
  snapshot: InspectedSnapshot;
  /** The machine config as a JSON string. */
  definition: string | undefined;
  parentId: string | undefined;
}

/** An event was sent to the actor `sessionId`. */
export interface StatelyEventEvent extends StatelyBaseInspectionEvent {
  type: '@xstate.event';
  event: InspectionEventObject;
  /** The sender's session, undefined when the event came from outside any actor. */
  sourceId: string | undefined;
}

/** The actor `sessionId` has a new snapshot, caused by `event`. */
export interface StatelySnapshotEvent extends StatelyBaseInspectionEvent {
  type: '@xstate.snapshot';
  snapshot: InspectedSnapshot;
  event: InspectionEventObject;
}

export type StatelyInspectionEvent = StatelyActorEvent | StatelyEventEvent | StatelySnapshotEvent;

export type StatelyInspectionEventType = StatelyInspectionEvent['type'];
