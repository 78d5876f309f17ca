/**
 * The world value: the whole simulation at one instant. Immutable; a step makes a new world
 * and leaves the old one intact, so keeping a reference is a free, exact restore.
 */
import type { AnyMachineSnapshot } from 'xstate';
import type { ActorName, AnyEvent, ClockType } from '../../machines/effects.ts';
import type { RngState } from '../scheduler/rng.ts';
import { InternalError } from '../errors.ts';
import type { ActorPart } from './ActorPart.ts';
import type { Mailbox } from './Mailbox.ts';

export interface Envelope {
  /** Global send order: mailboxes deliver the oldest acceptable envelope first. */
  readonly seq: number;
  readonly from: ActorName;
  readonly event: AnyEvent;
  /**
   * The QEMU thread whose call chain sent it, stamped only by the explorer at thread granularity
   * (`Engine.sendingThread`); absent otherwise. Machines never see it.
   */
  readonly thread?: string;
  /**
   * The alarm whose firing this is (an envelope from the clock). Setting or clearing that alarm
   * again takes it back out of the mailbox: a new timer_mod or a timer_del supersedes a firing
   * not yet seen. Machines never see it, and it is no part of the hash.
   */
  readonly alarm?: string;
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
  /**
   * The actors, in the engine's canonical order: actor i's snapshot is `parts[i].snapshot` and
   * its mailbox `mailboxes[i]`. One array, shared by every world of an engine. Parts are held by
   * index rather than by name because a step copies the two tables and the explorer reads them
   * at every state: an array copy and indexed loads cost a fraction of a keyed record's.
   */
  readonly actors: readonly ActorName[];
  readonly parts: readonly ActorPart[];
  /** An empty mailbox is `NO_MAIL` (or any empty one). */
  readonly mailboxes: readonly Mailbox[];
  /** Sorted: earliest deadline first (per its clock), then by seq. */
  readonly alarms: readonly Alarm[];
  readonly rng: RngState;
  /** Choices taken so far where more than one step was enabled (the replay path). */
  readonly choices: readonly number[];
  /**
   * The hash's memo of the actors' share of this world's digest (see `worldHash.ts`), as two
   * 32-bit halves (the high one -1 until hashed; the low one as a signed 32-bit integer, so
   * that both stay small integers and a world carries no object for them). A world made from
   * another by spreading, with a part replaced, must start them at `UNHASHED`.
   */
  actorsHi: number;
  actorsLo: number;
  /** The same under renamings of interchangeable actors (symmetry reduction), by renaming. */
  renamedDigests: Map<symbol, ActorsDigest> | null;
}

/** `World.actorsHi` of a world not hashed yet. */
export const UNHASHED = -1;

/** The actors' share of a world's digest, as two 32-bit halves (see `worldHash.ts`). */
export interface ActorsDigest {
  readonly hi: number;
  readonly lo: number;
}

/** A step the scheduler may take next; `at` is the actor's index in `World.actors`. */
export type Step =
  | { readonly kind: 'deliver'; readonly actor: ActorName; readonly at: number; readonly envelope: Envelope }
  | { readonly kind: 'offer'; readonly actor: ActorName; readonly at: number; readonly event: AnyEvent }
  | { readonly kind: 'advance'; readonly realtime: number; readonly virtual: number };

const indexes = new WeakMap<readonly ActorName[], ReadonlyMap<ActorName, number>>();

/** An actor's index in the world's tables (for code that names actors; the engine's hot paths hold indexes). */
export function actorIndexIn(world: World, actor: ActorName): number {
  let byName = indexes.get(world.actors);
  if (!byName) {
    byName = new Map(world.actors.map((name, i) => [name, i]));
    indexes.set(world.actors, byName);
  }
  const index = byName.get(actor);
  if (index === undefined) throw new InternalError(`the world has no actor named '${actor}'`);
  return index;
}

export function snapshotOf(world: World, actor: ActorName): AnyMachineSnapshot {
  return world.parts[actorIndexIn(world, actor)].snapshot;
}

/** An actor's envelopes, oldest first. */
export function mailboxOf(world: World, actor: ActorName): readonly Envelope[] {
  return world.mailboxes[actorIndexIn(world, actor)].envelopes;
}
