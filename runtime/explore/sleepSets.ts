/**
 * Sleep sets (Godefroid, "Partial-Order Methods for the Verification of Concurrent Systems",
 * ch. 5): after a state's steps a and b have both been explored and they commute, the state
 * reached by b need not take a again; a-then-b reaches what b-then-a would. Sleep sets prune
 * transitions only, never states: every reachable state is still visited, at the same depth, so
 * verdicts, state counts and shortest counterexamples are those of the full search; what goes is
 * the work of computing successors that are already known.
 *
 * Whether two steps commute is read off what each did where it was computed (its footprint):
 * the engine reports a step's sends, alarms and time effects, the monitors say whether they
 * judge its events, and offers declare which snapshots they read. Two steps with disjoint
 * footprints commute and leave each other enabled, with the same effects (conditional
 * independence), so a sleeping step's footprint stays valid along the path that carries it.
 *
 * The monitors' judgement is part of the state, so two steps whose events they both judge
 * commute only if the monitors end in one state either way. That depends on where the monitors
 * are, not on the steps alone: the explorer answers it at the state being expanded, by running
 * its checker over both orders (`JudgementsCommute`). A sleeping step's events stay the same
 * along its path (its actor's transition is untouched), so the question is asked again at each
 * state the entry passes, with that state's checker.
 */

import type { TraceEvent } from '../trace/TraceEvent.ts';

/** What a step touched, for telling whether two steps commute. */
export interface Footprint {
  /** The stepping actor (its index in the engine's actor list); -1 for the clock. */
  readonly actor: number;
  /** An environment offer (its enabledness reads `offerReads` as well as its own actor). */
  readonly offer: boolean;
  /** The mailboxes it appended to (actor indexes, ascending, no repeats). */
  readonly sends: readonly number[];
  /** It set or cleared an alarm (the timer list is one shared structure; ties go by send order). */
  readonly alarms: boolean;
  /**
   * It moved the clocks (a clock advance) or the VM's run state. Machines never read the clock;
   * only arming a timer does (timer_mod counts from now), so such a step conflicts with alarm
   * edits and with other time steps, not with the rest.
   */
  readonly time: boolean;
  /** Some monitor reads its trace events (the monitors' state is part of the explored state). */
  readonly judged: boolean;
  /**
   * A macro step's (thread granularity): every actor it delivered to or appended to, ascending.
   * Two macro steps commute when they touch no actor in common (and the rest holds): a macro
   * step's extent depends only on the actors it touches (see `threadSteps.ts`).
   */
  readonly touched?: readonly number[];
}

/**
 * A step asleep at a state: its identity (the same step at another state has the same one), its
 * footprint where it was computed, and the trace events of it that monitors judge with their
 * hash (`ExpandedStep.judgedKey`), for telling whether the monitors end the same either way.
 */
export interface SleepEntry {
  readonly identity: string;
  readonly footprint: Footprint;
  readonly judged: readonly TraceEvent[];
  readonly judgedKey: number;
}

/**
 * Sleep entries, one object per step identity, footprint and judged events, each with a serial
 * number: a frontier state's sleep set is then a list of shared entries, and equal lists are
 * one list (`settled`). Most frontier states have a sleep set, and each of its objects is one
 * more for the young generation's collector to copy while the state waits to be expanded.
 */
export class SleepEntries {
  private readonly byIdentity = new Map<string, Map<number, Interned>>();
  private serials = 0;

  /** The entry for `step` (an `ExpandedStep` or any entry), made once. */
  of(step: SleepEntry): SleepEntry {
    let variants = this.byIdentity.get(step.identity);
    if (variants === undefined) {
      if (this.byIdentity.size >= MAX_INTERNED) this.byIdentity.clear();
      variants = new Map();
      this.byIdentity.set(step.identity, variants);
    }
    // A 32-bit key, like `listOf`'s (a hit is checked field by field).
    const judgedKey = step.judgedKey;
    const key = Math.imul(footprintKey(step.footprint) ^ (judgedKey >>> 0), 0x9e3779b1) ^ Math.floor(judgedKey / 4294967296);
    const known = variants.get(key);
    if (known !== undefined && known.judgedKey === step.judgedKey && sameFootprint(known.footprint, step.footprint)) return known;
    const entry: Interned = { identity: step.identity, footprint: step.footprint, judged: step.judged, judgedKey: step.judgedKey, serial: this.serials++ };
    if (variants.size >= MAX_INTERNED) variants.clear();
    variants.set(key, entry);
    return entry;
  }

  /** Sleep lists of these entries, one per content, by a hash of their entries' serials. */
  private readonly lists = new Map<number, readonly SleepEntry[]>();

  /**
   * The first `count` of `kept` as a list of their own: the one made before for the same
   * entries when they are all this table's (checked entry by entry), else a new one.
   */
  listOf(kept: readonly SleepEntry[], count: number): readonly SleepEntry[] {
    // A 32-bit key (a small integer: a table keyed by larger numbers hashes each one's object).
    let key = count;
    for (let i = 0; i < count; i++) {
      const serial = (kept[i] as Partial<Interned>).serial;
      if (serial === undefined) return kept.slice(0, count);
      key = Math.imul(key ^ serial, 0x9e3779b1);
      key ^= key >>> 15;
    }
    key |= 0;
    const known = this.lists.get(key);
    if (known !== undefined && known.length === count && sameEntries(known, kept)) return known;
    const list = kept.slice(0, count);
    if (this.lists.size >= MAX_INTERNED) this.lists.clear();
    this.lists.set(key, list);
    return list;
  }
}

function sameEntries(list: readonly SleepEntry[], kept: readonly SleepEntry[]): boolean {
  for (let i = 0; i < list.length; i++) if (list[i] !== kept[i]) return false;
  return true;
}

/** A `SleepEntries` entry: its serial names it in the table of sleep lists. */
interface Interned extends SleepEntry {
  readonly serial: number;
}

const MAX_INTERNED = 100_000;

function footprintKey(f: Footprint): number {
  let key = ((f.actor + 2) << 5) | (f.offer ? 16 : 0) | (f.alarms ? 8 : 0) | (f.time ? 4 : 0) | (f.judged ? 2 : 0);
  for (let i = 0; i < f.sends.length; i++) key = Math.imul(key ^ (f.sends[i] + 1), 0x9e3779b1);
  if (f.touched) for (let i = 0; i < f.touched.length; i++) key = Math.imul(key ^ (f.touched[i] + 7), 0x85ebca6b);
  return key >>> 0;
}

function sameFootprint(a: Footprint, b: Footprint): boolean {
  if (a === b) return true;
  if (a.actor !== b.actor || a.offer !== b.offer || a.alarms !== b.alarms || a.time !== b.time || a.judged !== b.judged || a.sends.length !== b.sends.length) return false;
  for (let i = 0; i < a.sends.length; i++) if (a.sends[i] !== b.sends[i]) return false;
  if ((a.touched === undefined) !== (b.touched === undefined)) return false;
  if (a.touched && b.touched) {
    if (a.touched.length !== b.touched.length) return false;
    for (let i = 0; i < a.touched.length; i++) if (a.touched[i] !== b.touched[i]) return false;
  }
  return true;
}

/**
 * Whether, at the state being expanded, the monitors judge two steps' events to the same state
 * in either order, with no violation either way (the explorer asks its checkers). Two steps
 * that commute in the world and in the monitors lead to one state either way.
 */
export type JudgementsCommute = (a: SleepEntry, b: SleepEntry) => boolean;

/**
 * Whether two steps enabled at one state commute there in the world (the monitors aside: see
 * `commute`). `offerReads[i]` holds the actors whose snapshots actor i's offers read.
 *
 * They do when they are different actors' steps, do not both append to one mailbox (the order
 * of the two messages would differ), do not both touch the timers or the clocks (an alarm is
 * armed from now, and ties between alarms go by the order they were armed), and neither changes
 * a snapshot the other's offer reads. A clock advance appends the due alarms' events to their
 * targets' mailboxes, which counts as sending there. Appending to a mailbox commutes with the
 * delivery of that mailbox's oldest acceptable message: appends go at the end, so the delivery
 * takes the same message either way and the mailbox ends the same.
 */
export function independentInWorld(a: Footprint, b: Footprint, offerReads: readonly (ReadonlySet<number> | undefined)[]): boolean {
  if (a.touched !== undefined && b.touched !== undefined) return macroStepsIndependent(a, b, a.touched, b.touched, offerReads);
  if (a.actor === b.actor) return false;
  if ((a.alarms || a.time) && (b.alarms || b.time)) return false;
  if (a.offer && offerReads[a.actor]?.has(b.actor)) return false;
  if (b.offer && offerReads[b.actor]?.has(a.actor)) return false;
  return !intersects(a.sends, b.sends);
}

/**
 * Two macro steps: no actor touched by both (an append and a delivery at one mailbox are taken
 * not to commute here, since a chain may go on to the appended message), not both at the timers
 * or clocks, and neither touches a snapshot the other's offer reads.
 */
function macroStepsIndependent(a: Footprint, b: Footprint, ta: readonly number[], tb: readonly number[], offerReads: readonly (ReadonlySet<number> | undefined)[]): boolean {
  if (a.actor === b.actor) return false;
  if ((a.alarms || a.time) && (b.alarms || b.time)) return false;
  if (intersects(ta, tb)) return false;
  if (a.offer && readsAny(offerReads[a.actor], tb)) return false;
  if (b.offer && readsAny(offerReads[b.actor], ta)) return false;
  return true;
}

function readsAny(reads: ReadonlySet<number> | undefined, actors: readonly number[]): boolean {
  if (!reads) return false;
  for (const actor of actors) if (reads.has(actor)) return true;
  return false;
}

/**
 * Whether two steps commute at the state being expanded: in the world (`independentInWorld`)
 * and, when monitors judge both, in the monitors as `judgementsCommute` finds (without it, two
 * judged steps are taken not to: the order of their events could change a judgement).
 */
export function commute(
  a: SleepEntry,
  b: SleepEntry,
  offerReads: readonly (ReadonlySet<number> | undefined)[],
  judgementsCommute?: JudgementsCommute,
): boolean {
  if (!independentInWorld(a.footprint, b.footprint, offerReads)) return false;
  if (!(a.footprint.judged && b.footprint.judged)) return true;
  return judgementsCommute !== undefined && judgementsCommute(a, b);
}

function intersects(a: readonly number[], b: readonly number[]): boolean {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) return true;
    if (a[i] < b[j]) i++;
    else j++;
  }
  return false;
}

/**
 * The sleep set a successor inherits: of the state's sleeping steps and of the steps explored
 * before this one, those that commute with this one (see `commute`).
 */
export function sleepAfter(
  asleep: readonly SleepEntry[],
  exploredBefore: readonly SleepEntry[],
  taken: SleepEntry,
  offerReads: readonly (ReadonlySet<number> | undefined)[],
  judgementsCommute?: JudgementsCommute,
  entries?: SleepEntries,
): readonly SleepEntry[] {
  const kept = keptScratch;
  let count = 0;
  for (let i = 0; i < asleep.length; i++) if (commute(asleep[i], taken, offerReads, judgementsCommute)) kept[count++] = asleep[i];
  const everyAsleep = count === asleep.length;
  for (let i = 0; i < exploredBefore.length; i++) if (commute(exploredBefore[i], taken, offerReads, judgementsCommute)) kept[count++] = exploredBefore[i];
  return settled(kept, count, everyAsleep && count === asleep.length ? asleep : null, entries);
}

/**
 * Where `sleepAfter` and `intersectSleep` gather the entries they keep. A frontier state holds
 * its sleep set until it is expanded, a level later, so the list it gets is made to measure (a
 * list grown by pushing holds room for 17), and a state whose sleep set equals a list it was
 * given shares that list (sleep sets are never written to).
 */
const keptScratch: SleepEntry[] = [];
function settled(kept: SleepEntry[], count: number, same: readonly SleepEntry[] | null, entries: SleepEntries | undefined): readonly SleepEntry[] {
  if (count === 0) return NOTHING_ASLEEP;
  const list = same ?? (entries ? entries.listOf(kept, count) : kept.slice(0, count));
  // The scratch keeps no entry alive past this call.
  kept.fill(NO_ENTRY, 0, count);
  return list;
}

const NO_ENTRY = Object.freeze({ identity: '', footprint: { actor: -1, offer: false, sends: [], alarms: false, time: false, judged: false }, judged: [], judgedKey: 0 }) as SleepEntry;

/** The sleep set of a state with nothing asleep (shared by all of them: never written to). */
export const NOTHING_ASLEEP: readonly SleepEntry[] = Object.freeze([]);

/**
 * A state reached again at its own depth, by another shortest path: only the steps asleep on
 * both paths may stay asleep (Godefroid's state-matching rule; arrivals by longer paths are
 * ignored, since every state is first expanded at its shortest depth).
 */
export function intersectSleep(a: readonly SleepEntry[], b: readonly SleepEntry[], entries?: SleepEntries): readonly SleepEntry[] {
  if (a.length === 0 || b.length === 0) return NOTHING_ASLEEP;
  // A sleep set holds a few steps: a nested search costs less than building a set.
  const kept = keptScratch;
  let count = 0;
  for (let i = 0; i < a.length; i++) if (holds(b, a[i].identity)) kept[count++] = a[i];
  return settled(kept, count, count === a.length ? a : null, entries);
}

function holds(entries: readonly SleepEntry[], identity: string): boolean {
  for (let i = 0; i < entries.length; i++) if (entries[i].identity === identity) return true;
  return false;
}
