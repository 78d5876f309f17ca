/**
 * Expanding one state of the exploration: every enabled step not asleep applied, each successor
 * with its world hash, the trace events some monitor judges, whether the persistent-singleton
 * reduction may take it alone, and its identity and footprint for the sleep sets. It is the part of the explorer that needs the engine; the explorer's own thread
 * and its worker threads run the same code, so a state expands the same way wherever it is.
 */
import { createActorSpecs } from '../../actors/createSystem.ts';
import type { Topology } from '../../actors/topology.ts';
import { Engine } from '../engine/Engine.ts';
import { keepOn, keptOn } from '../engine/partCache.ts';
import { hash53, NumberHasher } from '../engine/worldHash.ts';
import { InvariantChecker } from '../invariants/InvariantChecker.ts';
import { unfinishedWork } from '../simulate.ts';
import type { TraceEvent } from '../trace/TraceEvent.ts';
import type { Step, World } from '../engine/World.ts';
import { NOTHING_ASLEEP, type Footprint } from './sleepSets.ts';
import { Symmetry, symmetryClasses, type SymmetryClasses } from './symmetry.ts';
import { type Granularity, homeThreadsOf, pinnedThreadsOf, STARTUP, type PinnedThreads, ThreadStepper } from './threadSteps.ts';

export interface ExpandedStep<W> {
  /** The step's index among the state's enabled steps. */
  index: number;
  world: W;
  /**
   * `engine.digest` of the successor, or with symmetry reduction its canonical image's (the
   * checker's share is added by the explorer, under `symmetryKey`).
   */
  worldHash: number;
  /** The renaming of interchangeable clients that gave `worldHash` (`''`: none). */
  symmetryKey: string;
  /** The step's trace events that some monitor reads. */
  judged: TraceEvent[];
  /**
   * What those events say, as a monitor judges them (everything but where and when in the run
   * they happened): a hash over one content hash per event, in order, so that the explorer can
   * find a judgement made before from the same checker and the same events (0 when none is
   * judged).
   */
  judgedKey: number;
  /**
   * A delivery the reduction may take alone: its transition only changes its own actor (no
   * send, alarm or run-state effect), emits nothing a monitor reads, and goes to an actor
   * nobody else's environment reads. Every other step commutes with it and leaves it enabled.
   */
  local: boolean;
  /** The same step at any state where it is enabled: `deliver:<actor>`, `offer:<actor>:<event>`, `advance`. */
  identity: string;
  /** The messages it delivered: 1 at message granularity, the macro step's length at thread granularity. */
  messages: number;
  /** What it touched, for the sleep sets (see `independent`). */
  footprint: Footprint;
}

export interface Expansion<W> {
  /** The steps computed: every enabled one but those asleep. */
  steps: ExpandedStep<W>[];
  /** Nothing was enabled: the run ends here (a quiet end), not merely every step asleep. */
  ended: boolean;
  /** For a quiet end: the work left undone. */
  unfinished: string[];
}

/** A step asleep, by its identity (the explorer's sleep entries are such, so they pass as they are). */
export interface Asleep {
  readonly identity: string;
}

function isAsleep(asleep: readonly Asleep[], identity: string): boolean {
  for (let i = 0; i < asleep.length; i++) if (asleep[i].identity === identity) return true;
  return false;
}

const NO_SENDS: readonly number[] = [];
/** Interned snapshots kept from level to level (see `newLevel`). */
const INTERNED_PARTS_KEPT = 100_000;
/** Shared by every step no monitor reads: never written to. */
const NOTHING_JUDGED: TraceEvent[] = [];
const NOTHING_UNFINISHED: string[] = [];

export class Expander {
  readonly engine: Engine;
  readonly initialEvents: readonly TraceEvent[];
  /** The trace events of the step being applied: the first `buffered` (a scratch list, reused). */
  private readonly buffer: TraceEvent[] = [];
  private buffered = 0;
  /** Over the content hashes of those events, in order (see `judgedKey`). */
  private readonly contents = new NumberHasher();
  /** Actors whose state some other actor's environment reads (declared `offerReads`), or that have offers of their own. */
  private readonly shared: ReadonlySet<string>;
  /** Past this REALTIME instant the clocks are left out of the hash (see `timeHorizonOf`). */
  private readonly horizon: number;
  /** By actor index: the actors whose snapshots its offers read (see `independent`). */
  readonly offerReads: readonly (ReadonlySet<number> | undefined)[];
  /** Which clients are interchangeable (whether or not the reduction is on). */
  readonly symmetryClasses: SymmetryClasses;
  /** Symmetry reduction, when asked for and some clients are interchangeable. */
  readonly symmetry: Symmetry | null;

  /** At thread granularity, what runs a macro step (see `threadSteps.ts`); null at message granularity. */
  readonly threads: ThreadStepper | null;

  constructor(
    private readonly topology: Topology,
    relativeTime = true,
    symmetry = false,
    readonly granularity: Granularity = 'message',
    /** Each actor's own thread; by default `pinnedThreadsOf` the actors (a spec may give a wrong one, to see it caught). */
    pinnedThreads?: PinnedThreads,
    /** For specs only (a mutation): message types taken as local to their sender's chain (see `ThreadStepper`). */
    takenAsLocal?: ReadonlySet<string>,
  ) {
    const specs = createActorSpecs(topology);
    const pinned = granularity === 'thread' ? (pinnedThreads ?? pinnedThreadsOf(specs)) : null;
    // Only the events a monitor judges are built: the explorer reads no others.
    this.engine = new Engine(specs, {
      onTrace: (e, source) => {
        this.buffer[this.buffered++] = e;
        this.contents.add(source ? contentOfObservation(e, source) : hash53(judgedText(e)));
      },
      traceOnly: InvariantChecker.judgesType,
      memoize: true,
      // Rule 3 of threadSteps.ts: QEMU's start-up is one macro step before anything else.
      startingThread: pinned ? STARTUP : undefined,
    });
    this.initialEvents = this.takeBuffered();
    this.shared = new Set(specs.flatMap((s) => (s.offers ? [s.name, ...(s.offerReads ?? [])] : [])));
    this.horizon = relativeTime ? timeHorizonOf(topology) : Infinity;
    this.offerReads = specs.map((s) => (s.offers ? new Set((s.offerReads ?? []).map((name) => this.engine.actorIndex.get(name)!)) : undefined));
    this.alone = specs.map((_, index) => Object.freeze([index]));
    this.symmetryClasses = symmetryClasses(topology);
    this.symmetry =
      symmetry && this.symmetryClasses.classes.length > 0
        ? new Symmetry(this.symmetryClasses.members, this.engine.actorNames, (world) => world.time.realtime >= this.horizon)
        : null;
    this.threads = granularity === 'thread' ? new ThreadStepper(this.engine, pinned!, homeThreadsOf(specs), takenAsLocal) : null;
  }

  worldHash(world: World, parent?: World, changed?: readonly number[]): number {
    return this.engine.digest(world, world.time.realtime >= this.horizon, parent, changed);
  }

  /** The hash a state's world is stored under, and the renaming that gave it (see `Symmetry`). */
  stateHash(world: World, parent?: World, changed?: readonly number[]): { hash: number; key: string } {
    if (this.symmetry) return this.symmetry.canonical(world, () => this.worldHash(world, parent, changed), parent, changed);
    return { hash: this.worldHash(world, parent, changed), key: '' };
  }

  /**
   * Every enabled step but those `asleep` (by identity) applied, in the canonical order. A sleep
   * set holds a few steps at most, so a list is searched rather than a set built per state.
   */
  expand(world: World, asleep: readonly Asleep[] = NOTHING_ASLEEP): Expansion<World> {
    const enabled = this.enabled;
    const count = this.engine.listEnabled(world, enabled);
    if (count === 0) return { steps: [], ended: true, unfinished: unfinishedWork(this.topology, world) };
    if (this.threads) return this.expandMacroSteps(world, enabled.slice(0, count), asleep);
    // Sized for every step, cut to those taken: no growing as steps are added.
    const steps: ExpandedStep<World>[] = new Array(count);
    let taken = 0;
    for (let index = 0; index < count; index++) {
      const step = enabled[index];
      const identity = this.identityOf(step);
      if (asleep.length > 0 && isAsleep(asleep, identity)) continue;
      this.buffered = 0;
      this.contents.reset();
      const next = this.engine.apply(world, step);
      let judged: TraceEvent[] = NOTHING_JUDGED;
      let judgedKey = 0;
      if (this.buffered > 0) {
        judgedKey = this.contents.digest();
        judged = this.takeBuffered();
      }
      const effects = this.engine.lastEffects;
      const quiet = effects.sends.length === 0 && !effects.alarms && !effects.time;
      const local = step.kind === 'deliver' && !this.shared.has(step.actor) && quiet && judged.length === 0;
      const footprint = this.footprintOf(
        step.kind === 'advance' ? -1 : step.at,
        step.kind === 'offer',
        effects.sends.length === 0 ? NO_SENDS : this.indexesOf(effects.sends),
        effects.alarms,
        effects.time,
        judged.length > 0,
      );
      // The step touched its own actor and the mailboxes it appended to, nothing else.
      // (Each index once: an actor counted twice would cancel its own change out of the XOR.)
      const changed = this.changedBy(footprint);
      let worldHash: number;
      let symmetryKey = '';
      if (this.symmetry) {
        const canonical = this.symmetry.canonical(next, () => this.worldHash(next, world, changed), world, changed);
        worldHash = canonical.hash;
        symmetryKey = canonical.key;
      } else {
        worldHash = this.worldHash(next, world, changed);
      }
      steps[taken++] = { index, world: next, worldHash, symmetryKey, judged, judgedKey, local, identity, footprint, messages: 1 };
    }
    if (taken < steps.length) steps.length = taken;
    return { steps, ended: false, unfinished: NOTHING_UNFINISHED };
  }

  /**
   * `expand` at thread granularity: each enabled step begins a macro step (`ThreadStepper.run`),
   * whose trace events all go to the monitors in order. A macro step's footprint is its first
   * step's actor, the mailboxes it appended to and every actor it touched (`Footprint.touched`):
   * sleep sets compare those.
   */
  private expandMacroSteps(world: World, enabled: readonly Step[], asleep: readonly Asleep[]): Expansion<World> {
    const threads = this.threads!;
    const steps: ExpandedStep<World>[] = [];
    const startup = threads.startupStep(enabled, enabled.length);
    for (let index = startup < 0 ? 0 : startup; index < (startup < 0 ? enabled.length : startup + 1); index++) {
      const step = enabled[index];
      const identity = this.identityOf(step);
      if (asleep.length > 0 && isAsleep(asleep, identity)) continue;
      this.buffered = 0;
      this.contents.reset();
      const macro = threads.run(world, enabled, enabled.length, index);
      let judged: TraceEvent[] = NOTHING_JUDGED;
      let judgedKey = 0;
      if (this.buffered > 0) {
        judgedKey = this.contents.digest();
        judged = this.takeBuffered();
      }
      const quiet = macro.sends.length === 0 && !macro.alarms && !macro.time;
      const local = macro.indexes.length === 1 && step.kind === 'deliver' && !this.shared.has(step.actor) && quiet && judged.length === 0;
      const footprint: Footprint = { actor: step.kind === 'advance' ? -1 : step.at, offer: step.kind === 'offer', sends: macro.sends, alarms: macro.alarms, time: macro.time, judged: judged.length > 0, touched: macro.changed };
      const next = macro.world;
      let worldHash: number;
      let symmetryKey = '';
      if (this.symmetry) {
        const canonical = this.symmetry.canonical(next, () => this.worldHash(next, world, macro.changed), world, macro.changed);
        worldHash = canonical.hash;
        symmetryKey = canonical.key;
      } else {
        worldHash = this.worldHash(next, world, macro.changed);
      }
      steps.push({ index, world: next, worldHash, symmetryKey, judged, judgedKey, local, identity, footprint, messages: macro.indexes.length });
    }
    return { steps, ended: false, unfinished: NOTHING_UNFINISHED };
  }

  /** The buffered trace events, as a list of their own (the buffer is reused). */
  private takeBuffered(): TraceEvent[] {
    const events = this.buffer.slice(0, this.buffered);
    this.buffered = 0;
    return events;
  }

  /** The enabled steps of the state being expanded (see `Engine.listEnabled`). */
  private readonly enabled: Step[] = [];
  /** By actor index: the list of that index alone (shared, never written to). */
  private readonly alone: readonly (readonly number[])[];
  /** By actor and the one actor it sent to: the two, made once (`changedBy`). */
  private readonly pairs: (readonly number[] | undefined)[][] = [];
  /** The actors a step may have changed: its own and those it sent to, each once. */
  private changedBy(footprint: Footprint): readonly number[] {
    const { actor, sends } = footprint;
    if (actor < 0 || sends.includes(actor)) return sends;
    // Most steps send to no actor or to one: lists shared by every such step.
    if (sends.length === 0) return this.alone[actor];
    if (sends.length === 1) return ((this.pairs[actor] ??= [])[sends[0]] ??= Object.freeze([actor, sends[0]]));
    return [actor, ...sends];
  }

  /**
   * By a footprint's fields (see `footprintOf`): one object for every step with those, when it
   * sent to no actor or to one. Footprints are never written to, and sleep entries keep them.
   */
  private readonly footprints: (Footprint | undefined)[] = [];
  private footprintOf(actor: number, offer: boolean, sends: readonly number[], alarms: boolean, time: boolean, judged: boolean): Footprint {
    const sentTo = sends.length === 0 ? 0 : sends === this.alone[sends[0]] ? sends[0] + 1 : -1;
    if (sentTo < 0) return { actor, offer, sends, alarms, time, judged };
    const key = (((actor + 1) * (this.alone.length + 1) + sentTo) << 4) | (offer ? 8 : 0) | (alarms ? 4 : 0) | (time ? 2 : 0) | (judged ? 1 : 0);
    return (this.footprints[key] ??= Object.freeze({ actor, offer, sends, alarms, time, judged }));
  }

  /** The actor indexes sent to, ascending, each once (a step sends to one or two mailboxes: no Set). */
  private indexesOf(sends: readonly number[]): readonly number[] {
    // Most steps send to one actor: its shared one-element list then.
    if (sends.length === 1) return this.alone[sends[0]];
    const indexes: number[] = [];
    for (const index of sends) {
      let at = indexes.length;
      while (at > 0 && indexes[at - 1] > index) at--;
      if (indexes[at - 1] !== index) indexes.splice(at, 0, index);
    }
    return indexes;
  }

  /** By actor index: its delivery's identity (made once). */
  private readonly deliveryIdentities: string[] = [];
  /** The engine hands out the same offer event objects for the same snapshots (its offer memo). */
  private readonly offerIdentities = new WeakMap<object, string>();
  /**
   * A step's identity, the same wherever it is enabled: a delivery is its actor's (an actor takes
   * its oldest acceptable message, so the actor's snapshot and mailbox say which), an offer is
   * its actor's and its event's, and there is one clock advance.
   */
  private identityOf(step: Step): string {
    switch (step.kind) {
      case 'deliver':
        return (this.deliveryIdentities[step.at] ??= `deliver:${step.actor}`);
      case 'offer':
        // Offers build their events the same way each time, so plain JSON names them; text that
        // differed for equal events would only keep a step awake, never put a wrong one to sleep.
        let identity = this.offerIdentities.get(step.event);
        if (identity === undefined) {
          identity = `offer:${step.actor}:${JSON.stringify(step.event)}`;
          this.offerIdentities.set(step.event, identity);
        }
        return identity;
      case 'advance':
        return 'advance';
    }
  }

  /**
   * A new level of the search: the interned snapshots may go, if there are so many that keeping
   * them (and their memos) would cost more memory than recomputing their transitions costs time.
   */
  newLevel(): void {
    this.engine.forgetInterned(INTERNED_PARTS_KEPT);
  }

  /**
   * Replays `path` (enabled-step indexes), handing each step's trace events to `observe`; the
   * world reached, and the choices a replay path records (where more than one step was enabled).
   */
  replay(path: readonly number[], observe: (e: TraceEvent) => void): { world: World; choices: number[]; lastStepFrom: number } {
    let world = this.engine.initial;
    const choices: number[] = [];
    // The world step before the path's last (macro) step: its violations show after this one.
    let lastStepFrom = 0;
    for (const index of path) {
      const enabled = this.engine.enabledSteps(world);
      lastStepFrom = world.step;
      this.buffered = 0;
      if (this.threads) {
        // The macro step's messages as the choices `run` and `replay` take, one per message
        // wherever more than one step was enabled: a thread-granularity path replays unchanged.
        const macro = this.threads.run(world, enabled, enabled.length, index);
        macro.indexes.forEach((at, k) => {
          if (macro.enabledCounts[k] > 1) choices.push(at);
        });
        world = macro.world;
      } else {
        if (enabled.length > 1) choices.push(index);
        world = this.engine.apply(world, enabled[index]);
      }
      for (const e of this.takeBuffered()) observe(e);
    }
    return { world, choices, lastStepFrom };
  }
}

/**
 * A trace event as the monitors judge it: everything but where and when in the run it happened.
 * Plain JSON: the engine builds each kind of event with its fields in one order, and text that
 * differs for equal events would only miss the explorer's memo, never share a wrong judgement.
 */
function judgedText(e: TraceEvent): string {
  const { step: _step, time: _time, vtime: _vtime, ...rest } = e as TraceEvent & { vtime?: number };
  return JSON.stringify(rest);
}

/**
 * An observation's content hash, kept on the item the machine emitted (a memoized transition
 * hands out the same items, and an item belongs to one actor's transition), so that its text is
 * written once rather than at every step that replays the transition.
 */
const CONTENT = Symbol('judged content');
function contentOfObservation(e: TraceEvent, source: object): number {
  return keptOn<number>(source, CONTENT) ?? keepOn(source, CONTENT, hash53(judgedText(e)));
}

/**
 * The last absolute instant the scenario names (a request's or a command's `at`, REALTIME ns).
 * Past it, states that differ only by the clocks' readings behave alike (see `worldDigest`).
 */
export function timeHorizonOf(topology: Topology): number {
  let horizon = 0;
  for (const client of topology.clients) for (const request of client.workload) horizon = Math.max(horizon, request.at ?? 0);
  for (const command of topology.script ?? []) horizon = Math.max(horizon, command.at ?? 0);
  return horizon;
}
