/**
 * The world value: the whole simulation at one instant. Immutable; a step makes a new world
 * and leaves the old one intact, so keeping a reference is a free, exact restore.
 */
import type { AnyMachineSnapshot } from 'xstate';
import type { ActorName, AnyEvent, ClockType } from '../../machines/effects.ts';
import type { RngState } from '../scheduler/rng.ts';

export interface Envelope {
  /** Global send order: mailboxes deliver the oldest acceptable envelope first. */
  readonly seq: number;
  readonly from: ActorName;
  readonly event: AnyEvent;
}

/** An entry of the engine's timer heap: at `deadline` on `clock`, `event` goes to `target`. */
export interface Alarm {
  readonly id: string;
  readonly clock: ClockType;
  readonly deadline: number;
  readonly target: ActorName;
  readonly event: AnyEvent;
  readonly seq: number;
}

export interface WorldTime {
  /** REALTIME (host monotonic), ns. */
  readonly realtime: number;
  /** VIRTUAL (guest), ns; frozen while the VM is stopped. */
  readonly virtual: number;
  readonly vmRunning: boolean;
}

export interface World {
  readonly step: number;
  readonly seq: number;
  readonly time: WorldTime;
  readonly snapshots: Readonly<Record<ActorName, AnyMachineSnapshot>>;
  readonly mailboxes: Readonly<Record<ActorName, readonly Envelope[]>>;
  /** Sorted: earliest deadline first (per its clock), then by seq. */
  readonly alarms: readonly Alarm[];
  readonly rng: RngState;
  /** Choices taken so far where more than one step was enabled (the replay path). */
  readonly choices: readonly number[];
}

/** A step the scheduler may take next. */
export type Step =
  | { readonly kind: 'deliver'; readonly actor: ActorName; readonly envelope: Envelope }
  | { readonly kind: 'offer'; readonly actor: ActorName; readonly event: AnyEvent }
  | { readonly kind: 'advance'; readonly realtime: number; readonly virtual: number };
