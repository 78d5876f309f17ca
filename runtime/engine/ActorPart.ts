/**
 * An actor's snapshot as a world holds it, with what the engine learnt about it: its digest, its
 * state's name, the events it accepts, and the engine's memos of the transitions and offers
 * from it. Those are caches, never content: they follow from the snapshot (the memos, from the
 * snapshot and the engine that made the part). They are fields of one class so that the
 * engine's hot paths read them with plain loads; kept on the XState snapshots themselves, whose
 * shapes differ from machine to machine, every read was a lookup by key.
 */
import type { AnyMachineSnapshot } from 'xstate';
import type { AnyEvent, Emitted } from '../../machines/effects.ts';
import { stateName } from './stateName.ts';
import type { Step } from './World.ts';
import { snapshotDigest } from './worldHash.ts';

export class ActorPart {
  private knownDigest = -1;
  private knownStateName: string | null = null;
  /** The event types the state has transitions for (selective receive; filled by the engine). */
  accepted: ReadonlySet<string> | null = null;
  /** By event object: the part the transition gives, and what the machine emitted (the owner's memo). */
  transitions: Map<AnyEvent, { next: ActorPart; emitted: readonly Emitted[] }> | null = null;
  /** The offers of the actor's environment, and the parts of the actors they read then (the owner's memo). */
  offers: { reads: readonly ActorPart[]; steps: readonly Step[] } | null = null;
  /**
   * The world hash's term for this part with an empty mailbox at actor index `emptyTermAt`
   * (see `plainTerm` in worldHash.ts; one entry: identical actors may share a part).
   */
  emptyTermAt = -1;
  emptyTerm = 0;

  constructor(
    readonly snapshot: AnyMachineSnapshot,
    /** The engine that made the part: only it may use and fill the memos. */
    readonly owner: object,
  ) {}

  /** `snapshotDigest` of the snapshot. */
  get digest(): number {
    if (this.knownDigest < 0) this.knownDigest = snapshotDigest(this.snapshot);
    return this.knownDigest;
  }

  /** `stateName` of the snapshot: `running`, or `external.enabled|loop.idle` for parallel states. */
  get stateName(): string {
    return (this.knownStateName ??= stateName(this.snapshot));
  }
}
