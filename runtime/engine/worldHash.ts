/**
 * Hashing the world: two worlds that would behave the same get the same hash, whatever path led
 * to them. Counted: every actor's state and context, each mailbox's events in order (not their
 * global sequence numbers), the alarms, and the clocks. Not counted: the step number, the
 * PRNG, the choices so far. Each snapshot's, mailbox's and alarm's share is computed once and
 * memoized, so hashing a world after a step serializes only what that step made new.
 */
import type { AnyMachineSnapshot } from 'xstate';
import type { ActorPart } from './ActorPart.ts';
import type { Mailbox } from './Mailbox.ts';
import { type Alarm, type Envelope, UNHASHED, type World } from './World.ts';
import { keepOn, keptOn, stampOn } from './partCache.ts';

const nameDigests = new Map<string, number>();

/** JSON with object keys sorted, so equal values give equal text. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return primitiveJson(value);
  if (Array.isArray(value)) {
    let text = '[';
    for (let i = 0; i < value.length; i++) text += (i > 0 ? ',' : '') + canonicalJson(value[i]);
    return `${text}]`;
  }
  const keys = Object.keys(value as Record<string, unknown>);
  if (!isSorted(keys)) keys.sort();
  let text = '{';
  let first = true;
  for (const key of keys) {
    const v = (value as Record<string, unknown>)[key];
    if (v === undefined) continue;
    text += `${first ? '' : ','}${JSON.stringify(key)}:${canonicalJson(v)}`;
    first = false;
  }
  return `${text}}`;
}

function primitiveJson(value: unknown): string {
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    default:
      return JSON.stringify(value) ?? 'null';
  }
}

function isSorted(keys: readonly string[]): boolean {
  for (let i = 1; i < keys.length; i++) if (keys[i - 1] > keys[i]) return false;
  return true;
}

export function snapshotKey(snapshot: AnyMachineSnapshot): string {
  return snapshotText(snapshot.value, snapshot.context);
}

/** A snapshot's key from its state value and context (a renamed image's too, see `WorldRenaming`). */
export function snapshotText(value: unknown, context: unknown): string {
  return `${canonicalJson(value)}#${canonicalJson(context)}`;
}

/** cyrb53: a fast 53-bit string hash. */
export function hash53(text: string, seed = 0): number {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

/**
 * cyrb53's mixing over a sequence of numbers (digests, small integers) instead of characters:
 * the order counts, and no text is built. `digest()` gives 53 bits.
 */
export class NumberHasher {
  private h1 = 0xdeadbeef;
  private h2 = 0x41c6ce57;

  /** Starts over, so that one hasher can serve many short digests without allocating. */
  reset(): this {
    this.h1 = 0xdeadbeef;
    this.h2 = 0x41c6ce57;
    return this;
  }

  add(n: number): this {
    const lo = n >>> 0;
    const hi = Math.floor(n / 4294967296) >>> 0;
    this.h1 = Math.imul(this.h1 ^ lo, 2654435761);
    this.h2 = Math.imul(this.h2 ^ lo, 1597334677);
    this.h1 = Math.imul(this.h1 ^ hi, 2654435761);
    this.h2 = Math.imul(this.h2 ^ hi, 1597334677);
    return this;
  }

  digest(): number {
    let { h1, h2 } = this;
    h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
    h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
    return 4294967296 * (2097151 & h2) + (h1 >>> 0);
  }
}

/*
 * Digests: a world shares every unchanged snapshot, mailbox and alarm with the world it came
 * from (they are never mutated), and a memoized transition hands out the same event objects
 * each time, so each part's digest is computed once, when first hashed, and found again by
 * identity.
 */
/** A part's digest, kept on the part (see `keepOn`). */
const DIGEST = Symbol('digest');

function digestOn<K extends object>(part: K, compute: (part: K) => number): number {
  return keptOn<number>(part, DIGEST) ?? keepOn(part, DIGEST, compute(part));
}

/** The digest cached for `key`, computed the first time. */
function cached<K>(cache: { get(key: K): number | undefined; set(key: K, value: number): unknown }, key: K, compute: (key: K) => number): number {
  let digest = cache.get(key);
  if (digest === undefined) {
    digest = compute(key);
    cache.set(key, digest);
  }
  return digest;
}

export function snapshotDigest(snapshot: AnyMachineSnapshot): number {
  return keptOn<number>(snapshot, DIGEST) ?? stampOn(snapshot, DIGEST, hash53(snapshotKey(snapshot)));
}

function eventDigest(event: object): number {
  return digestOn(event, eventContentDigest);
}

/** Module functions rather than arrows at the call: a digest found memoized allocates nothing. */
function eventContentDigest(event: object): number {
  return hash53(canonicalJson(event));
}

function nameDigest(name: string): number {
  return cached(nameDigests, name, hash53);
}

/** A mailbox's events in order, with their senders (not their global sequence numbers); `Mailbox.digest` keeps it. */
export function mailboxDigest(mailbox: Mailbox): number {
  return mailboxDigestOf(mailbox, nameDigest, eventDigest);
}

/** Reused for every mailbox digest: the sender and event digests it adds never hash a mailbox. */
const mailboxHasher = new NumberHasher();

/** A mailbox's digest from its senders' and events' digests, in order (a renamed image's too). */
export function mailboxDigestOf(mailbox: Mailbox, senderDigest: (name: string) => number, eventDigestOf: (event: object) => number): number {
  const hasher = mailboxHasher.reset();
  for (let i = 0; i < mailbox.size; i++) {
    const envelope = mailbox.envelopeAt(i);
    hasher.add(senderDigest(envelope.from)).add(eventDigestOf(envelope.event));
    // Only at thread granularity: which thread's chain a message continues is part of the state there.
    if (envelope.thread !== undefined) hasher.add(nameDigest(envelope.thread));
  }
  return hasher.digest();
}

/** An alarm without its deadline (which may be counted from now). */
function alarmDigest(alarm: Alarm): number {
  return digestOn(alarm, alarmContentDigest);
}

function alarmContentDigest(a: Alarm): number {
  return hash53(alarmText(a.id, a.clock, a.target, a.event));
}

/**
 * A 53-bit hash of the world's behaviour-relevant content: every actor's snapshot and mailbox,
 * the alarms and the clocks.
 *
 * With `relativeTime`, the clocks' readings are left out and every alarm counts from now on its
 * own clock: worlds that differ only by when they happen get one hash. That is exact when
 * nothing in the future depends on an absolute instant, which is true once REALTIME has passed
 * every absolute time the scenario names (`timeHorizonOf`): machines never read the clock,
 * every timer they arm counts from now (timer_mod with a delay), and an absolute alarm whose
 * instant has passed fires at once in either world.
 */
export function worldDigest(world: World, relativeTime = false, parent?: World, changed?: readonly number[]): number {
  actorsDigest(world, null, plainTerm, parent, changed);
  return withTimeAndAlarms(world, relativeTime, alarmDigest);
}


/**
 * How to hash a world's image under a renaming of identical components (symmetry reduction,
 * `runtime/explore/symmetry.ts`): where each actor's part goes, and the digests of the renamed
 * parts, each of them computed the way `snapshotDigest`, `mailboxDigest` and `alarmDigest`
 * compute the plain ones, so that the identity renaming gives `worldDigest` exactly.
 */
export interface WorldRenaming {
  /** The index of the actor whose place actor `index` takes in the image. */
  actorIndex(index: number): number;
  snapshotDigest(snapshot: AnyMachineSnapshot): number;
  /** A non-empty mailbox's digest (events in order, with their senders). */
  mailboxDigest(mailbox: Mailbox): number;
  alarmDigest(alarm: Alarm): number;
  /** Under this key a world keeps its actors' share of the image's digest (one key per renaming; see `World.renamedDigests`). */
  readonly actorsKey: symbol;
}

/**
 * `worldDigest` of the world's image under `renaming`, from `parent`'s (under the same
 * renaming) when the world was made from it by one step that touched only the actors `changed`.
 */
export function renamedWorldDigest(world: World, relativeTime: boolean, renaming: WorldRenaming, parent?: World, changed?: readonly number[]): number {
  const term = (index: number, part: ActorPart, mailbox: Mailbox) => renamedTerm(renaming, index, part.snapshot, mailbox);
  actorsDigest(world, renaming.actorsKey, term, parent, changed);
  return withTimeAndAlarms(world, relativeTime, (a) => renaming.alarmDigest(a));
}

/** The world's digest from its actors' share (`actorsHi`, `actorsLo`): the run state, the clocks (unless relative) and the alarms. */
function withTimeAndAlarms(world: World, relativeTime: boolean, alarmDigestOf: (alarm: Alarm) => number): number {
  const { realtime, virtual, vmRunning } = world.time;
  const hasher = worldHasher.reset();
  hasher.add(vmRunning ? 1 : 0).add(actorsHi).add(actorsLo);
  if (!relativeTime) hasher.add(realtime).add(virtual);
  hasher.add(world.alarms.length);
  const alarms = world.alarms;
  for (let i = 0; i < alarms.length; i++) {
    const a = alarms[i];
    const deadline = relativeTime ? a.deadline - (a.clock === 'realtime' ? realtime : virtual) : a.deadline;
    hasher.add(alarmDigestOf(a)).add(deadline);
  }
  return hasher.digest();
}

/** Reused for every world's digest (hashing is never re-entered). */
const worldHasher = new NumberHasher();

/**
 * `actorsDigest`'s answer, as two 32-bit halves (the low one unsigned): module variables rather
 * than an object, since every successor is hashed (hashing is never re-entered).
 */
let actorsHi = 0;
let actorsLo = 0;

/**
 * Loads the actors' share kept on the world into `actorsHi` and `actorsLo`: the plain one (`key`
 * null, in the world's own fields), or under a renaming's key. False when it is not kept yet.
 */
function loadMemo(world: World, key: symbol | null): boolean {
  if (key === null) {
    if (world.actorsHi === UNHASHED) return false;
    actorsHi = world.actorsHi;
    actorsLo = world.actorsLo >>> 0;
    return true;
  }
  const kept = world.renamedDigests?.get(key);
  if (!kept) return false;
  actorsHi = kept.hi;
  actorsLo = kept.lo;
  return true;
}

function keepMemo(world: World, key: symbol | null, hi: number, lo: number): void {
  actorsHi = hi;
  actorsLo = lo;
  if (key === null) {
    world.actorsHi = hi;
    world.actorsLo = lo | 0;
  } else {
    (world.renamedDigests ??= new Map()).set(key, { hi, lo });
  }
}

/**
 * Every actor's snapshot and mailbox, as the XOR of one well-mixed term per actor (its index,
 * its snapshot's and its mailbox's digests), so that a world made from `parent` by a step is
 * hashed from the parent's value, re-mixing only the actors whose parts the step replaced. With
 * `changed` (the indexes of the only actors the step may have touched), only those are looked at.
 */
function actorsDigest(
  world: World,
  key: symbol | null,
  term: (index: number, part: ActorPart, mailbox: Mailbox) => number,
  parent?: World,
  changed?: readonly number[],
): void {
  if (loadMemo(world, key)) return;
  const base = parent !== undefined && loadMemo(parent, key);
  let hi = base ? actorsHi : 0;
  let lo = base ? actorsLo : 0;
  const { parts, mailboxes } = world;
  const count = base && changed ? changed.length : parts.length;
  for (let k = 0; k < count; k++) {
    const i = base && changed ? changed[k] : k;
    const part = parts[i];
    const mailbox = mailboxes[i];
    if (base && parent!.parts[i] === part && parent!.mailboxes[i] === mailbox) continue;
    const now = term(i, part, mailbox);
    hi ^= Math.floor(now / 4294967296);
    lo = (lo ^ now) >>> 0;
    if (base) {
      const old = term(i, parent!.parts[i], parent!.mailboxes[i]);
      hi ^= Math.floor(old / 4294967296);
      lo = (lo ^ old) >>> 0;
    }
  }
  keepMemo(world, key, hi, lo);
}

/** Reused for every actor term (hashing is never re-entered). */
const termHasher = new NumberHasher();

/**
 * An actor's term in the world as it is. Memoized on the mailbox (or, for an empty one, on the
 * part), since hashing a world from its parent computes the parent's terms of the changed
 * actors again to take them out.
 */
function plainTerm(index: number, part: ActorPart, mailbox: Mailbox): number {
  if (mailbox.size === 0) {
    if (part.emptyTermAt !== index) {
      part.emptyTerm = termOf(index, part, mailbox);
      part.emptyTermAt = index;
    }
    return part.emptyTerm;
  }
  if (mailbox.termFor !== part || mailbox.termAt !== index) {
    mailbox.term = termOf(index, part, mailbox);
    mailbox.termFor = part;
    mailbox.termAt = index;
  }
  return mailbox.term;
}

function termOf(index: number, part: ActorPart, mailbox: Mailbox): number {
  return termHasher.reset().add(index).add(part.digest).add(mailbox.digest).digest();
}

/** An actor's term in the image under `renaming`: its part renamed, in the place of the actor it becomes. */
function renamedTerm(renaming: WorldRenaming, index: number, snapshot: AnyMachineSnapshot, mailbox: Mailbox): number {
  return termHasher
    .reset()
    .add(renaming.actorIndex(index))
    .add(renaming.snapshotDigest(snapshot))
    .add(mailbox.size > 0 ? renaming.mailboxDigest(mailbox) : 0)
    .digest();
}

/** The text an alarm's digest hashes (without its deadline). */
export function alarmText(id: string, clock: string, target: string, event: unknown): string {
  return `${id}/${clock}/${target}/${canonicalJson(event)}`;
}

/** `worldDigest` as 11 base-36 digits. */
export function hashWorld(world: World, relativeTime = false): string {
  return worldDigest(world, relativeTime).toString(36).padStart(11, '0');
}
