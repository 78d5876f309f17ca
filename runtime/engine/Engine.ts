/**
 * The engine: one world value, one step at a time.
 *
 * Machines are driven as pure functions: `logic.transition(snapshot, event, scope)` with one
 * reused actor scope whose `actionExecutor` collects what the machine emits instead of running
 * it. The engine then carries the effects out itself: `fx.send` goes onto the wire (an RxJS
 * Subject) whose mailbox sink appends to the target's mailbox; `fx.alarm.*` edits the timer
 * heap; observations become trace events. Nothing else moves the world.
 *
 * At every world the engine lists the enabled steps in a canonical order (oldest deliverable
 * message first, then the environment's offers, then advancing the clock to the next alarm)
 * and a strategy picks one.
 */
import { Subject } from 'rxjs';
import type { AnyActorScope, AnyMachineSnapshot, AnyStateMachine } from 'xstate';
import type { ActorName, AnyEvent, Emitted } from '../../machines/effects.ts';
import { InternalError } from '../errors.ts';
import { seedRng } from '../scheduler/rng.ts';
import { encodeReplayPath } from '../scheduler/ReplayPath.ts';
import type { Strategy } from '../scheduler/strategies.ts';
import type { VirtualClock } from '../scheduler/VirtualClock.ts';
import type { TraceEvent } from '../trace/TraceEvent.ts';
import { type Mailbox, mailboxOfEnvelopes, NO_MAIL } from './Mailbox.ts';
import { type Alarm, type Envelope, type Step, UNHASHED, type World } from './World.ts';
import { ActorPart } from './ActorPart.ts';
import { keepOn, keptOn } from './partCache.ts';
import { acceptedEvents } from './stateName.ts';
import { canonicalJson, hashWorld, worldDigest } from './worldHash.ts';

export { acceptedEvents, stateName } from './stateName.ts';

/** A world as plain JSON: persisted XState snapshots plus the engine's own parts. */
export interface SerializedWorld {
  format: 'drainlab.world/1';
  step: number;
  seq: number;
  time: World['time'];
  rng: number;
  choices: number[];
  snapshots: Record<ActorName, unknown>;
  mailboxes: Record<ActorName, Envelope[]>;
  alarms: Alarm[];
}

/** What the environment may do next at an actor (guest kicks, host completions); read-only view of the world. */
export type OfferFunction = (snapshot: AnyMachineSnapshot, view: WorldView) => readonly AnyEvent[];

export interface ActorSpec {
  name: ActorName;
  /** What the actor is, for people and tools: `aio-context`, `block-node`, `external-client`, ... */
  kind: string;
  logic: AnyStateMachine;
  input: unknown;
  offers?: OfferFunction;
  /**
   * The other actors whose snapshots `offers` looks at (its own is always readable). The engine
   * holds it to that: reading any other actor is an internal error. The explorer's partial-order
   * reduction relies on it to know which steps can change what the environment may do.
   */
  offerReads?: readonly ActorName[];
}

/** A message on the wire between actors; the mailbox sink and the I/O streams read it. */
export interface Routed {
  step: number;
  from: ActorName;
  to: ActorName;
  event: AnyEvent;
}

/** What an offer function may see of the world: the snapshots its spec declares in `offerReads`. */
export interface WorldView {
  snapshot(actor: ActorName): AnyMachineSnapshot;
}

/** What the last `apply` did beyond its own actor's snapshot and mailbox head. */
export interface StepEffects {
  /**
   * The mailboxes it appended to, by actor index, in send order (repeats possible); for a clock
   * advance, the due alarms' targets.
   */
  sends: number[];
  /** It set, cleared or fired an alarm. */
  alarms: boolean;
  /** It moved the clocks or stopped/started the VM: every later step may see a different time. */
  time: boolean;
}

export interface EngineOptions {
  seed?: number;
  /**
   * Memoize transitions by (snapshot, event) identity. Pays off when many worlds share their
   * parts (exploration); a single run meets each pair once and only pays the bookkeeping.
   */
  memoize?: boolean;
  /**
   * Receives every trace event; absent means tracing is off and no trace event is built. An
   * observation a machine emitted comes with the emitted item it was made from (`source`): a
   * memoized transition hands out the same items each time, so a consumer may key on them.
   */
  onTrace?: (event: TraceEvent, source?: object) => void;
  /** Only trace events of the types this accepts are built and handed to `onTrace` (the explorer needs only what monitors judge). */
  traceOnly?: (type: string) => boolean;
  /**
   * The thread that stamps the messages the actors send as they start (`Envelope.thread`): the
   * explorer at thread granularity gives the main thread, since QEMU sets up its block graph,
   * exports and handlers there before any event loop runs (see `threadSteps.ts`). Absent: unstamped.
   */
  startingThread?: string;
}

export type EndReason = 'quiescent' | 'max-steps';

export interface RunResult {
  world: World;
  steps: number;
  endReason: EndReason;
  replayPath: string;
}

/** Mutable draft of the parts of the world one step changes. */
interface Draft {
  step: number;
  seq: number;
  /** By actor index. */
  mailboxes: Mailbox[];
  /** The mailbox table was copied in this step and may be edited in place. */
  mailboxesOwned: boolean;
  /** The actors' parts as the step leaves them (null while the initial world is built). */
  parts: readonly ActorPart[] | null;
  alarms: Alarm[];
  time: World['time'];
}

/** `aio.poll(blocking=true, thread=main)`: an event as one short, stable line. */
export function describeEvent(event: AnyEvent): string {
  const fields: string[] = [];
  for (const [key, value] of Object.entries(event)) {
    if (key === 'type' || key === 'replyTo') continue;
    if (value === null || typeof value === 'object') continue;
    fields.push(`${key}=${value}`);
  }
  return fields.length ? `${event.type}(${fields.join(', ')})` : event.type;
}

export function formatNs(ns: number): string {
  return `${(ns / 1e6).toFixed(3)}ms`;
}


interface Offerer {
  name: ActorName;
  index: number;
  /** The indexes of the actors whose snapshots its offers read (`ActorSpec.offerReads`). */
  readIndexes: readonly number[];
  offers: OfferFunction;
  view: OfferView;
}

/** An offerer's view of the world being listed: the snapshots it declared (`ActorSpec.offerReads`), and no others. */
class OfferView implements WorldView {
  world: World | null = null;

  constructor(
    private readonly offerer: ActorName,
    /** The declared actors, by name: their index. */
    private readonly reads: ReadonlyMap<ActorName, number>,
  ) {}

  snapshot(actor: ActorName): AnyMachineSnapshot {
    const index = this.reads.get(actor);
    if (index === undefined) throw new InternalError(`the offers of ${this.offerer} read ${actor}, which its spec does not declare in offerReads`);
    return this.world!.parts[index].snapshot;
  }
}

export class Engine {
  readonly specs: ReadonlyMap<ActorName, ActorSpec>;
  readonly actorNames: readonly ActorName[];
  /** By name: the actor's index in `actorNames` and in a world's tables. */
  readonly actorIndex: ReadonlyMap<ActorName, number>;
  /** The actors whose environment may act (guest, host, script), in canonical order, each with its view and its memo. */
  private readonly offering: readonly Offerer[];
  /** Every message between actors passes here; the mailbox sink and the I/O streams subscribe. */
  readonly wire = new Subject<Routed>();
  private readonly onTrace?: (event: TraceEvent, source?: object) => void;
  private readonly traceOnly: (type: string) => boolean;
  /** Whether deliveries are traced at all (checked before their event is described). */
  private readonly tracesDeliveries: boolean;
  private readonly memoize: boolean;
  private readonly collected: Emitted[] = [];
  private readonly scope: AnyActorScope;
  private draft: Draft | null = null;
  private initialWorld: World;

  constructor(specs: readonly ActorSpec[], options: EngineOptions = {}) {
    const byName = new Map<ActorName, ActorSpec>();
    for (const spec of specs) {
      if (byName.has(spec.name)) throw new InternalError(`two actors are named '${spec.name}'`);
      byName.set(spec.name, spec);
    }
    this.specs = byName;
    this.actorNames = specs.map((s) => s.name);
    const actorIndex = new Map(specs.map((s, i) => [s.name, i]));
    this.actorIndex = actorIndex;
    const indexOf = (offerer: ActorName, actor: ActorName) => {
      const index = actorIndex.get(actor);
      if (index === undefined) throw new InternalError(`the offers of ${offerer} declare they read '${actor}', which does not exist`);
      return index;
    };
    this.offering = specs
      .filter((s) => s.offers)
      .map((s) => {
        const reads = s.offerReads ?? [];
        return {
          name: s.name,
          index: actorIndex.get(s.name)!,
          readIndexes: reads.map((actor) => indexOf(s.name, actor)),
          offers: s.offers!,
          view: new OfferView(s.name, new Map([s.name, ...reads].map((actor) => [actor, indexOf(s.name, actor)]))),
        };
      });
    this.onTrace = options.onTrace;
    this.traceOnly = options.traceOnly ?? (() => true);
    this.tracesDeliveries = this.onTrace !== undefined && this.traceOnly('@trace.deliver');
    this.memoize = options.memoize ?? false;
    this.scope = this.createCollectingScope();
    this.wire.subscribe((routed) => this.enqueue(routed));
    this.sendingThread = options.startingThread ?? null;
    try {
      this.initialWorld = this.createInitialWorld(options.seed ?? 0);
    } finally {
      this.sendingThread = null;
    }
  }

  get initial(): World {
    return this.initialWorld;
  }

  // -------------------------------------------------------------------------------------------
  // The step function

  /** `listEnabled`'s scratch: the send order of each delivery listed so far. */
  private readonly deliverySeqs: number[] = [];

  /** The steps the scheduler may take from `world`, in canonical order. */
  enabledSteps(world: World): Step[] {
    const steps: Step[] = [];
    this.listEnabled(world, steps);
    return steps;
  }

  /**
   * `enabledSteps` written into `into` from index 0, for a caller that lists them at every state
   * and reuses one list (entries past the count returned are left over from before).
   */
  listEnabled(world: World, into: Step[]): number {
    const deliveries = into;
    let count = 0;
    const { mailboxes, parts } = world;
    for (let i = 0; i < mailboxes.length; i++) {
      const mailbox = mailboxes[i];
      if (mailbox.size === 0) continue;
      const delivery = this.deliveryOf(i, parts[i], mailbox);
      if (delivery === null) continue;
      // Oldest message first: an insertion into the few found so far (no sort and no comparator).
      // (The seqs found so far are kept beside, so as not to reach into each step's envelope.)
      const seqs = this.deliverySeqs;
      const seq = mailbox.deliverySeq;
      let at = count++;
      while (at > 0 && seqs[at - 1] > seq) {
        deliveries[at] = deliveries[at - 1];
        seqs[at] = seqs[at - 1];
        at--;
      }
      deliveries[at] = delivery;
      seqs[at] = seq;
    }
    // Indexed loops on this path and the step's: an iterator the compiler fails to elide is an
    // allocation per loop, and these run for every state and every step explored.
    for (let k = 0; k < this.offering.length; k++) {
      const offers = this.offersOf(this.offering[k], world);
      for (let o = 0; o < offers.length; o++) deliveries[count++] = offers[o];
    }
    const advance = this.advanceOf(world);
    if (advance) deliveries[count++] = advance;
    return count;
  }

  /**
   * The clock advance from a world: a function of its alarms and its time, which a step that
   * touches neither shares with its parent, so the last one found is kept (siblings are listed
   * one after another) and handed out again for the same two.
   */
  private advanceOf(world: World): Step | null {
    if (world.alarms.length === 0) return null;
    if (world.alarms === this.advanceAlarms && world.time === this.advanceTime) return this.advance;
    this.advanceAlarms = world.alarms;
    this.advanceTime = world.time;
    this.advance = nextAdvance(world);
    return this.advance;
  }
  private advanceAlarms: readonly Alarm[] | null = null;
  private advanceTime: World['time'] | null = null;
  private advance: Step | null = null;

  /**
   * An actor's delivery: its oldest message its state accepts (selective receive), or none.
   * It depends on the snapshot and the mailbox alone, so while memoizing it is found again by
   * their identity, and the same step object comes back.
   */
  private deliveryOf(at: number, part: ActorPart, mailbox: Mailbox): Step | null {
    // Found for a part of this engine's own (another engine's machines may accept other events).
    const memoize = this.memoize && part.owner === this;
    if (memoize && mailbox.deliveryFor === part) return mailbox.delivery;
    const accepted = (part.accepted ??= acceptedEvents(part.snapshot));
    let step: Step | null = null;
    for (let e = 0; e < mailbox.size; e++) {
      const envelope = mailbox.envelopeAt(e);
      if (accepted.has(envelope.event.type)) {
        step = { kind: 'deliver', actor: this.actorNames[at], at, envelope };
        mailbox.deliverySeq = envelope.seq;
        break;
      }
    }
    if (memoize) {
      mailbox.deliveryFor = part;
      mailbox.delivery = step;
    }
    return step;
  }

  /**
   * What an actor's environment offers: a function of its snapshot and the snapshots it reads,
   * so while memoizing the same steps (and event objects, which the transition memo is keyed
   * by) come back for the same snapshots.
   */
  private offersOf(offerer: Offerer, world: World): readonly Step[] {
    const parts = world.parts;
    const part = parts[offerer.index];
    const memoize = this.memoize && part.owner === this;
    const known = memoize ? part.offers : null;
    if (known && sameReads(offerer.readIndexes, parts, known.reads)) return known.steps;
    offerer.view.world = world;
    const steps = offerer
      .offers(part.snapshot, offerer.view)
      .map((event): Step => ({ kind: 'offer', actor: offerer.name, at: offerer.index, event: memoize ? this.internEvent(event) : event }));
    offerer.view.world = null;
    if (memoize) part.offers = { reads: offerer.readIndexes.map((index) => parts[index]), steps };
    return steps;
  }

  /** The world after `step`. Pure in the world; trace events go to the sink as they happen. */
  apply(world: World, step: Step): World {
    // One effects record and one draft, reset for each step rather than made anew: the explorer
    // applies millions of steps, and what it allocates per step sets how often the collector runs.
    const effects = this.lastEffects;
    // A new list only for a step that sends (emptying one in place would drop its storage, and
    // the next push would allocate it again anyway).
    effects.sends = NOTHING_SENT;
    effects.alarms = false;
    effects.time = step.kind === 'advance';
    const draft = this.stepDraft;
    draft.step = world.step + 1;
    draft.seq = world.seq;
    draft.mailboxes = world.mailboxes as Mailbox[];
    draft.mailboxesOwned = false;
    draft.parts = world.parts;
    draft.alarms = world.alarms as Alarm[];
    draft.time = world.time;
    this.draft = draft;
    let parts = world.parts;
    try {
      if (step.kind === 'advance') {
        this.advanceClock(draft, step);
      } else {
        const actor = step.actor;
        const at = step.at;
        let event: AnyEvent;
        let from: string;
        if (step.kind === 'deliver') {
          this.removeEnvelope(draft, at, step.envelope.seq);
          event = step.envelope.event;
          from = step.envelope.from;
        } else {
          event = step.event;
          from = 'env';
        }
        const before = parts[at];
        if (this.tracesDeliveries) this.trace(draft, actor, '@trace.deliver', { event: event.type, from, detail: describeEvent(event) });
        const after = this.transition(actor, before, event);
        const emitted = this.emitted;
        if (after !== before) {
          const changed = parts.slice();
          changed[at] = after;
          parts = changed;
          draft.parts = parts;
        }
        this.traceStateChange(draft, actor, before, after);
        this.carryOut(draft, actor, emitted);
      }
    } finally {
      this.draft = null;
    }
    return {
      step: draft.step,
      seq: draft.seq,
      time: draft.time,
      actors: world.actors,
      parts,
      mailboxes: draft.mailboxes,
      alarms: draft.alarms,
      rng: world.rng,
      choices: world.choices,
      actorsHi: UNHASHED,
      actorsLo: 0,
      renamedDigests: null,
    };
  }

  /**
   * Runs from `world` with `strategy` until nothing is enabled or `maxSteps` steps were taken.
   * With `clock`, the VirtualClock follows the world's REALTIME clock step by step, so XState
   * actors and RxJS streams scheduled on it see the simulation's time.
   */
  run(strategy: Strategy, options: { from?: World; maxSteps?: number; clock?: VirtualClock } = {}): RunResult {
    const clock = options.clock;
    let world = options.from ?? this.initialWorld;
    const maxSteps = options.maxSteps ?? 1_000_000;
    const choices = [...world.choices];
    let rng = world.rng;
    let taken = 0;
    try {
      for (;;) {
        if (taken >= maxSteps) {
          world = { ...world, rng, choices };
          return { world, steps: taken, endReason: 'max-steps', replayPath: encodeReplayPath(choices) };
        }
        const enabled = this.enabledSteps(world);
        if (enabled.length === 0) break;
        let index = 0;
        if (enabled.length > 1) {
          [index, rng] = strategy.choose(enabled, rng, choices.length);
          choices.push(index);
        }
        world = this.apply(world, enabled[index]);
        taken++;
        if (clock && world.time.realtime > clock.nowNs()) clock.advanceTo(world.time.realtime);
      }
    } catch (error) {
      // A bug in a machine or the engine: hand back the choices that lead to it.
      if (error instanceof InternalError && error.replay === undefined) throw new InternalError(`${error.message} (at step ${world.step + 1})`, encodeReplayPath(choices));
      throw error;
    }
    world = { ...world, rng, choices };
    return { world, steps: taken, endReason: 'quiescent', replayPath: encodeReplayPath(choices) };
  }

  /** Puts an event in an actor's mailbox from outside the model (a test, a script), as one step. */
  inject(world: World, to: ActorName, event: AnyEvent, from = 'script'): World {
    const at = this.actorIndex.get(to);
    if (at === undefined) throw new InternalError(`inject: no actor named '${to}'`);
    const envelope: Envelope = { seq: world.seq, from, event };
    const mailboxes = world.mailboxes.slice();
    mailboxes[at] = mailboxes[at].append(envelope);
    return { ...world, seq: world.seq + 1, mailboxes, actorsHi: UNHASHED, actorsLo: 0, renamedDigests: null };
  }

  /** See `hashWorld`: equal for worlds that behave the same, whatever the path to them. */
  hash(world: World, relativeTime = false): string {
    return hashWorld(world, relativeTime);
  }

  /**
   * `hash` as a number (53 bits), for the explorer; with the `parent` the world was made from
   * by one step, only what that step replaced is hashed again (and with `changed`, the indexes
   * of the actors whose snapshot or mailbox the step may have replaced, only those are compared).
   */
  digest(world: World, relativeTime = false, parent?: World, changed?: readonly number[]): number {
    return worldDigest(world, relativeTime, parent, changed);
  }

  /** The world as JSON-safe data (XState's persisted snapshots; the engine owns every timer, so none is lost). */
  serialize(world: World): SerializedWorld {
    const snapshots: Record<ActorName, unknown> = {};
    const mailboxes: Record<ActorName, Envelope[]> = {};
    this.actorNames.forEach((actor, i) => {
      snapshots[actor] = this.specs.get(actor)!.logic.getPersistedSnapshot(world.parts[i].snapshot);
      if (world.mailboxes[i].size > 0) mailboxes[actor] = [...world.mailboxes[i].envelopes];
    });
    return {
      format: 'drainlab.world/1',
      step: world.step,
      seq: world.seq,
      time: world.time,
      rng: world.rng,
      choices: [...world.choices],
      snapshots,
      mailboxes,
      alarms: [...world.alarms],
    };
  }

  /** One actor's snapshot as JSON-safe data (XState's persisted snapshot). */
  persistSnapshot(actor: ActorName, snapshot: AnyMachineSnapshot): unknown {
    return this.specs.get(actor)!.logic.getPersistedSnapshot(snapshot);
  }

  /** The snapshot `persistSnapshot` saw. */
  restoreSnapshot(actor: ActorName, persisted: unknown): AnyMachineSnapshot {
    const spec = this.specs.get(actor);
    if (!spec) throw new InternalError(`restore: no actor named '${actor}'`);
    return spec.logic.restoreSnapshot!(persisted as never, this.scope) as AnyMachineSnapshot;
  }

  /** The exact world `serialize` saw; continuing from it gives the same steps and trace. */
  restore(data: SerializedWorld): World {
    for (const actor of Object.keys(data.mailboxes)) {
      if (!this.actorIndex.has(actor)) throw new InternalError(`restore: the saved world has mail for '${actor}', which is no actor here`);
    }
    const parts = this.actorNames.map((actor) => {
      const persisted = data.snapshots[actor];
      if (persisted === undefined) throw new InternalError(`restore: the saved world has no actor '${actor}'`);
      return this.part(this.specs.get(actor)!.logic.restoreSnapshot!(persisted as never, this.scope) as AnyMachineSnapshot);
    });
    const mailboxes = this.actorNames.map((actor) => mailboxOfEnvelopes(data.mailboxes[actor] ?? []));
    return {
      step: data.step,
      seq: data.seq,
      time: data.time,
      actors: this.actorNames,
      parts,
      mailboxes,
      alarms: data.alarms,
      rng: data.rng,
      choices: data.choices,
      actorsHi: UNHASHED,
      actorsLo: 0,
      renamedDigests: null,
    };
  }

  // -------------------------------------------------------------------------------------------
  // Carrying out effects

  private createInitialWorld(seed: number): World {
    const draft: Draft = {
      step: 0,
      seq: 0,
      mailboxes: this.actorNames.map(() => NO_MAIL),
      mailboxesOwned: true,
      parts: null,
      alarms: [],
      time: { realtime: 0, virtual: 0, vmRunning: true },
    };
    const parts: ActorPart[] = [];
    this.draft = draft;
    try {
      for (const name of this.actorNames) {
        const spec = this.specs.get(name)!;
        this.collected.length = 0;
        const snapshot = spec.logic.getInitialSnapshot(this.scope, spec.input) as AnyMachineSnapshot;
        this.assertHealthy(name, snapshot, { type: 'xstate.init' });
        const part = this.part(snapshot);
        parts.push(part);
        if (this.traced('@trace.state')) this.trace(draft, name, '@trace.state', { from: '', to: part.stateName });
        this.carryOut(draft, name, this.collected);
      }
    } finally {
      this.draft = null;
    }
    return {
      step: 0,
      seq: draft.seq,
      time: draft.time,
      actors: this.actorNames,
      parts,
      mailboxes: draft.mailboxes,
      alarms: draft.alarms,
      rng: seedRng(seed),
      choices: [],
      actorsHi: UNHASHED,
      actorsLo: 0,
      renamedDigests: null,
    };
  }

  /**
   * Machines are deterministic: the same snapshot and the same event give the same result. An
   * explorer meets the same (snapshot, event) pair in many worlds (worlds share their parts), so
   * results are memoized by identity; a hit replays the recorded effects.
   */
  private transition(actor: ActorName, part: ActorPart, event: AnyEvent): ActorPart {
    if (!this.memoize || part.owner !== this) {
      const next = this.computeTransition(actor, part.snapshot, event);
      this.emitted = this.collected;
      return next === part.snapshot ? part : this.part(next);
    }
    const hit = part.transitions?.get(event);
    if (hit) {
      // The recorded effects are carried out as they are (never copied: they are never written to).
      this.emitted = hit.emitted;
      return hit.next;
    }
    const next = this.part(this.computeTransition(actor, part.snapshot, event));
    const emitted = this.collected.map((item) => this.withInternedEvent(item));
    (part.transitions ??= new Map()).set(event, { next, emitted });
    this.emitted = emitted;
    return next;
  }

  /** What the last `transition` emitted, for `carryOut`. */
  private emitted: readonly Emitted[] = [];

  /**
   * While memoizing, one event object per content: the transition memo is keyed by identity, and
   * an equal event sent by another transition (or offered again) must find what this one found.
   */
  private internedEvents = new Map<string, AnyEvent>();
  private internEvent(event: AnyEvent): AnyEvent {
    const key = canonicalJson(event);
    const known = this.internedEvents.get(key);
    if (known) return known;
    this.internedEvents.set(key, event);
    return event;
  }

  /** An emitted send or alarm carrying the interned copy of its event. */
  private withInternedEvent(item: Emitted): Emitted {
    if (item.type !== 'fx.send' && item.type !== 'fx.alarm.set') return item;
    const event = this.internEvent(item.event);
    return event === item.event ? item : { ...item, event };
  }

  /**
   * A snapshot as a world holds it. While memoizing, one part per content (by digest): worlds
   * reached by different paths then share their parts (memory), and the memos, kept on the
   * parts, find a transition computed from an equal snapshot reached another way. The explorer
   * lets the table go between levels once it holds many parts (`forgetInterned`); a model has
   * few distinct snapshots per actor (reference N = 1: about 1,200 in all), so it is usually
   * kept whole, and a snapshot met again levels later finds its transitions computed.
   */
  private interned = new Map<number, ActorPart>();
  part(snapshot: AnyMachineSnapshot): ActorPart {
    const part = new ActorPart(snapshot, this);
    if (!this.memoize) return part;
    const known = this.interned.get(part.digest);
    if (known) return known;
    this.interned.set(part.digest, part);
    return part;
  }

  /** Lets the interned parts go if there are more than `limit` of them (the memos go with them). */
  forgetInterned(limit = 0): void {
    if (this.interned.size + this.internedEvents.size > limit) {
      this.interned = new Map();
      this.internedEvents = new Map();
    }
  }

  private computeTransition(actor: ActorName, snapshot: AnyMachineSnapshot, event: AnyEvent): AnyMachineSnapshot {
    this.collected.length = 0;
    const logic = this.specs.get(actor)!.logic;
    let next: AnyMachineSnapshot;
    try {
      next = logic.transition(snapshot, event as never, this.scope) as AnyMachineSnapshot;
    } catch (error) {
      throw new InternalError(`${actor} failed on ${describeEvent(event)}: ${error instanceof Error ? error.message : String(error)}`);
    }
    this.assertHealthy(actor, next, event);
    return next;
  }

  private assertHealthy(actor: ActorName, snapshot: AnyMachineSnapshot, event: AnyEvent): void {
    if (snapshot.status === 'error') {
      const error = snapshot.error as Error | undefined;
      throw new InternalError(`${actor} failed on ${describeEvent(event)}: ${error?.message ?? String(snapshot.error)}`);
    }
  }

  /**
   * The effects on other parts of the world (sends, alarms, time) the last `apply` carried out.
   * The explorer's partial-order reductions read it to tell which steps commute. One record,
   * rewritten by every `apply`: read it before the next step.
   */
  readonly lastEffects: StepEffects = { sends: [], alarms: false, time: false };
  /** The draft `apply` reuses (see there). */
  private readonly stepDraft: Draft = { step: 0, seq: 0, mailboxes: [], mailboxesOwned: false, parts: null, alarms: [], time: { realtime: 0, virtual: 0, vmRunning: true } };

  /** Records a send in `lastEffects`. */
  private sent(to: number): void {
    const effects = this.lastEffects;
    if (effects.sends === NOTHING_SENT) effects.sends = [to];
    else effects.sends.push(to);
  }

  private carryOut(draft: Draft, actor: ActorName, emitted: readonly Emitted[]): void {
    for (let k = 0; k < emitted.length; k++) {
      const item = emitted[k];
      switch (item.type) {
        case 'fx.send': {
          const to = this.actorIndex.get(item.to);
          if (to === undefined) {
            throw new InternalError(`${actor} sent ${describeEvent(item.event)} to '${item.to}', which does not exist`);
          }
          this.sent(to);
          this.wire.next({ step: draft.step, from: actor, to: item.to, event: item.event });
          break;
        }
        case 'fx.alarm.set': {
          this.lastEffects.alarms = true;
          const now = item.clock === 'realtime' ? draft.time.realtime : draft.time.virtual;
          this.setAlarm(draft, actor, item.id, item.clock, item.relative ? now + item.deadline : item.deadline, item.event);
          break;
        }
        case 'fx.alarm.clear':
          this.lastEffects.alarms = true;
          this.clearAlarm(draft, actor, item.id);
          break;
        case 'fx.vm':
          this.lastEffects.time = true;
          // vm_stop / vm_start: cpu_disable_ticks freezes QEMU_CLOCK_VIRTUAL, REALTIME keeps going.
          if (draft.time.vmRunning !== item.running) {
            draft.time = { ...draft.time, vmRunning: item.running };
            if (this.traced('@trace.vm')) this.trace(draft, actor, '@trace.vm', { running: item.running });
          }
          break;
        default: {
          const type = traceTypeOf(item.type);
          // A memoized transition hands out the same items at every step that replays it.
          if (this.traced(type)) this.trace(draft, actor, type, (this.memoize ? keptFieldsOf(item) : fieldsOf(item)) as never, item);
        }
      }
    }
  }

  /**
   * While set, the messages steps send are stamped with it (`Envelope.thread`): the explorer at
   * thread granularity says which QEMU thread's call chain is running. Null (never stamped) at
   * message granularity and in runs.
   */
  sendingThread: string | null = null;

  /** The wire's mailbox sink. */
  private enqueue(routed: Routed): void {
    const draft = this.draft;
    if (!draft) throw new InternalError(`a message to ${routed.to} arrived outside a step`);
    this.appendToMailbox(draft, this.actorIndex.get(routed.to)!, this.envelope(draft, routed.from, routed.event));
  }

  /** The next envelope of `draft`, stamped with the sending thread when there is one. */
  private envelope(draft: Draft, from: ActorName, event: AnyEvent): Envelope {
    return this.sendingThread === null ? { seq: draft.seq++, from, event } : { seq: draft.seq++, from, event, thread: this.sendingThread };
  }

  private appendToMailbox(draft: Draft, to: number, envelope: Envelope): void {
    this.ownMailboxes(draft);
    const before = draft.mailboxes[to];
    const after = before.append(envelope);
    draft.mailboxes[to] = after;
    const part = draft.parts?.[to];
    if (part !== undefined && this.memoize && part.owner === this) this.carryDelivery(to, part, before, after, envelope);
  }

  /**
   * The delivery memo of a mailbox just appended to (see `deliveryOf`), found while the step's
   * objects are at hand rather than when the world is expanded, a level later: the same
   * delivery as before if there was one for this part (an append goes behind the message it
   * takes), else the new message if the part accepts it.
   */
  private carryDelivery(at: number, part: ActorPart, before: Mailbox, after: Mailbox, envelope: Envelope): void {
    if (before.deliveryFor === part && before.delivery !== null) {
      after.deliveryFor = part;
      after.delivery = before.delivery;
      after.deliverySeq = before.deliverySeq;
      return;
    }
    // Nothing in the mailbox was acceptable (or it was empty): only the new message may be.
    if (before.deliveryFor !== part && before.size > 0) return;
    const accepted = (part.accepted ??= acceptedEvents(part.snapshot));
    after.deliveryFor = part;
    if (accepted.has(envelope.event.type)) {
      after.delivery = { kind: 'deliver', actor: this.actorNames[at], at, envelope };
      after.deliverySeq = envelope.seq;
    } else {
      after.delivery = null;
    }
  }

  private removeEnvelope(draft: Draft, at: number, seq: number): void {
    this.ownMailboxes(draft);
    draft.mailboxes[at] = draft.mailboxes[at].without(seq);
  }

  /** Copy-on-write: the first change in a step copies the mailbox table once. */
  private ownMailboxes(draft: Draft): void {
    if (!draft.mailboxesOwned) {
      draft.mailboxes = draft.mailboxes.slice();
      draft.mailboxesOwned = true;
    }
  }

  private setAlarm(draft: Draft, actor: ActorName, id: string, clock: Alarm['clock'], deadline: number, event: AnyEvent): void {
    this.takeBackFiring(draft, actor, id);
    const alarms = draft.alarms.filter((a) => a.id !== id);
    const now = clock === 'realtime' ? draft.time.realtime : draft.time.virtual;
    const tracesAlarms = this.traced('@trace.alarm');
    if (tracesAlarms) this.trace(draft, actor, '@trace.alarm', { phase: 'set', id, clock, deadline });
    if (deadline <= now) {
      // Already due: the alarm goes off at once.
      draft.alarms = alarms;
      if (tracesAlarms) this.trace(draft, actor, '@trace.alarm', { phase: 'fire', id, clock, deadline });
      this.appendToMailbox(draft, this.actorIndex.get(actor)!, this.alarmEnvelope(draft, event, id));
      return;
    }
    const alarm: Alarm = { id, clock, deadline, target: actor, event, seq: draft.seq++ };
    alarms.push(alarm);
    alarms.sort(compareAlarms);
    draft.alarms = alarms;
  }

  private clearAlarm(draft: Draft, actor: ActorName, id: string): void {
    this.takeBackFiring(draft, actor, id);
    const existing = draft.alarms.find((a) => a.id === id);
    if (!existing) return;
    draft.alarms = draft.alarms.filter((a) => a.id !== id);
    if (this.traced('@trace.alarm')) this.trace(draft, actor, '@trace.alarm', { phase: 'clear', id, clock: existing.clock, deadline: existing.deadline });
  }

  private advanceClock(draft: Draft, step: Extract<Step, { kind: 'advance' }>): void {
    draft.time = { ...draft.time, realtime: step.realtime, virtual: step.virtual };
    if (this.traced('@trace.clock')) this.trace(draft, 'clock', '@trace.clock', { realtime: step.realtime, virtual: step.virtual });
    const due: Alarm[] = [];
    const rest: Alarm[] = [];
    for (const alarm of draft.alarms) (isDue(alarm, draft.time) ? due : rest).push(alarm);
    draft.alarms = rest;
    if (due.length > 0) this.lastEffects.alarms = true;
    for (const alarm of due) {
      const target = this.actorIndex.get(alarm.target)!;
      this.sent(target);
      if (this.traced('@trace.alarm')) this.trace(draft, alarm.target, '@trace.alarm', { phase: 'fire', id: alarm.id, clock: alarm.clock, deadline: alarm.deadline });
      this.appendToMailbox(draft, target, this.alarmEnvelope(draft, alarm.event, alarm.id));
    }
  }

  /** A firing of alarm `id`, tagged so that setting or clearing the alarm again takes it back. */
  private alarmEnvelope(draft: Draft, event: AnyEvent, id: string): Envelope {
    const envelope = this.envelope(draft, 'clock', event);
    return { ...envelope, alarm: id };
  }

  /**
   * An alarm set or cleared again supersedes its firing not yet delivered (QEMU's timer_mod and
   * timer_del act on the timer list, and aio_poll runs a timer only if its current deadline has
   * passed): the firing leaves the mailbox. Otherwise the machine would have to tell a stale
   * firing from a fresh one, and a count of armings would tell apart states that behave alike.
   */
  private takeBackFiring(draft: Draft, actor: ActorName, id: string): void {
    const at = this.actorIndex.get(actor)!;
    let mailbox = draft.mailboxes[at];
    for (let i = mailbox.size - 1; i >= 0; i--) {
      const envelope = mailbox.envelopeAt(i);
      if (envelope.alarm !== id) continue;
      mailbox = mailbox.without(envelope.seq);
      this.ownMailboxes(draft);
      draft.mailboxes[at] = mailbox;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Trace

  /**
   * Whether trace events of `type` are wanted. Callers ask before building an event's fields,
   * so that a step whose events nobody reads builds none (the explorer reads a few types only).
   */
  private traced(type: string): boolean {
    return this.onTrace !== undefined && this.traceOnly(type);
  }

  /** Hands a trace event to the sink; the caller has checked `traced(type)`. */
  private trace(draft: Draft, actor: ActorName, type: string, fields: Omit<TraceEvent, 'step' | 'time' | 'vtime' | 'actor' | 'type'>, source?: object): void {
    this.onTrace!({ step: draft.step, time: draft.time.realtime, vtime: draft.time.virtual, actor, type, ...fields } as TraceEvent, source);
  }

  private traceStateChange(draft: Draft, actor: ActorName, before: ActorPart, after: ActorPart): void {
    if (!this.onTrace || before === after) return;
    const from = before.stateName;
    const to = after.stateName;
    if (from !== to && this.traced('@trace.state')) this.trace(draft, actor, '@trace.state', { from, to });
  }

  private createCollectingScope(): AnyActorScope {
    const collected = this.collected;
    const system = {
      _sendInspectionEvent: () => {},
      _bookId: () => 'x:0',
      _register: () => {},
      _unregister: () => {},
      _set: () => {},
      get: () => undefined,
      getAll: () => ({}),
      inspect: () => ({ unsubscribe() {} }),
      scheduler: { schedule() {}, cancel() {}, cancelAll() {} },
      _clock: { setTimeout: () => 0, clearTimeout: () => {} }, // inert: machines use no delays (@allow-wallclock: names only, no timer)
      _logger: () => {},
    };
    const self = { id: 'engine', sessionId: 'engine', system, send: () => {}, getSnapshot: () => undefined };
    return {
      self,
      id: 'engine',
      sessionId: 'engine',
      logger: () => {},
      defer: () => {},
      emit: () => {},
      stopChild: () => {},
      system,
      actionExecutor: (action: { type: string; params?: { event?: Emitted } }) => {
        if (action.type === 'xstate.emit' && action.params?.event) collected.push(action.params.event);
      },
    } as unknown as AnyActorScope;
  }
}

const traceTypes = new Map<string, string>();
/** `obs.dispatch` -> `@trace.dispatch`, made once per type. */
/** An observation's fields but its type, for its trace event. */
function fieldsOf(item: Emitted): object {
  const { type: _type, ...rest } = item;
  return rest;
}

/** Where an observation keeps `fieldsOf` it (see `keptFieldsOf`). */
const FIELDS = Symbol('fields');

/**
 * `fieldsOf`, made once per item and kept on it (an object rest pattern builds its copy through
 * a slow path), for items a memoized transition hands out again and again.
 */
function keptFieldsOf(item: Emitted): object {
  return keptOn<object>(item, FIELDS) ?? keepOn(item, FIELDS, Object.freeze(fieldsOf(item)));
}

function traceTypeOf(observation: string): string {
  let type = traceTypes.get(observation);
  if (type === undefined) {
    type = `@trace.${observation.slice(4)}`;
    traceTypes.set(observation, type);
  }
  return type;
}

/** Whether the world's parts at `indexes` are those an offer memo was made for (a loop: no closure per listing). */
function sameReads(indexes: readonly number[], parts: readonly ActorPart[], reads: readonly ActorPart[]): boolean {
  for (let i = 0; i < indexes.length; i++) if (parts[indexes[i]] !== reads[i]) return false;
  return true;
}

/** `StepEffects.sends` of a step that sent nothing (shared: `sent` replaces it rather than writing to it). */
const NOTHING_SENT: number[] = [];

function compareAlarms(a: Alarm, b: Alarm): number {
  return a.deadline - b.deadline || a.seq - b.seq;
}

function isDue(alarm: Alarm, time: World['time']): boolean {
  return alarm.deadline <= (alarm.clock === 'realtime' ? time.realtime : time.virtual);
}

/**
 * Advancing the clock: both clocks move together while the VM runs; only REALTIME moves while
 * it is stopped, so a VIRTUAL alarm is then out of reach.
 */
function nextAdvance(world: World): Step | null {
  let best: number | null = null;
  for (let i = 0; i < world.alarms.length; i++) {
    const alarm = world.alarms[i];
    if (alarm.clock === 'virtual' && !world.time.vmRunning) continue;
    const now = alarm.clock === 'realtime' ? world.time.realtime : world.time.virtual;
    const delta = alarm.deadline - now;
    if (best === null || delta < best) best = delta;
  }
  if (best === null) return null;
  return {
    kind: 'advance',
    realtime: world.time.realtime + best,
    virtual: world.time.virtual + (world.time.vmRunning ? best : 0),
  };
}
