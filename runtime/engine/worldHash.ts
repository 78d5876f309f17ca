/**
 * Hashing the world: two worlds that would behave the same get the same hash, whatever path led
 * to them. Counted: every actor's state and context, each mailbox's events in order (not their
 * global sequence numbers), the alarms, and the clocks. Not counted: the step number, the
 * PRNG, the choices so far. Each snapshot's share is computed once and memoized, so hashing a
 * world after a step re-serializes only the actors that step changed.
 */
import type { AnyMachineSnapshot } from 'xstate';
import type { Alarm, Envelope, World } from './World.ts';

const snapshotDigests = new WeakMap<AnyMachineSnapshot, string>();
const mailboxDigests = new WeakMap<readonly Envelope[], string>();
const envelopeKeys = new WeakMap<Envelope, string>();
const alarmDigests = new WeakMap<Alarm, string>();

/** JSON with object keys sorted, so equal values give equal text. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(value as Record<string, unknown>).sort();
  const parts: string[] = [];
  for (const key of keys) {
    const v = (value as Record<string, unknown>)[key];
    if (v === undefined) continue;
    parts.push(`${JSON.stringify(key)}:${canonicalJson(v)}`);
  }
  return `{${parts.join(',')}}`;
}

export function snapshotKey(snapshot: AnyMachineSnapshot): string {
  return `${canonicalJson(snapshot.value)}#${canonicalJson(snapshot.context)}`;
}

/*
 * Digests: a world shares every unchanged snapshot, mailbox and alarm with the world it came
 * from (they are never mutated), so each one's share of the key is computed once, when first
 * hashed, and found again by identity.
 */
export function snapshotDigest(snapshot: AnyMachineSnapshot): string {
  let digest = snapshotDigests.get(snapshot);
  if (digest === undefined) {
    digest = hash53(snapshotKey(snapshot)).toString(36);
    snapshotDigests.set(snapshot, digest);
  }
  return digest;
}

function mailboxDigest(mailbox: readonly Envelope[]): string {
  let digest = mailboxDigests.get(mailbox);
  if (digest === undefined) {
    digest = hash53(mailbox.map(envelopeKey).join(';')).toString(36);
    mailboxDigests.set(mailbox, digest);
  }
  return digest;
}

function envelopeKey(envelope: Envelope): string {
  let key = envelopeKeys.get(envelope);
  if (key === undefined) {
    key = `${envelope.from}:${canonicalJson(envelope.event)}`;
    envelopeKeys.set(envelope, key);
  }
  return key;
}

/** An alarm without its deadline (which may be counted from now). */
function alarmDigest(alarm: Alarm): string {
  let digest = alarmDigests.get(alarm);
  if (digest === undefined) {
    digest = `${alarm.id}/${alarm.clock}/${alarm.target}/${hash53(canonicalJson(alarm.event)).toString(36)}`;
    alarmDigests.set(alarm, digest);
  }
  return digest;
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
 * The world's behaviour-relevant content as one canonical string (the input of `hashWorld`).
 *
 * With `relativeTime`, the clocks' readings are left out and every alarm counts from now on its
 * own clock: worlds that differ only by when they happen get one key. That is exact when nothing
 * in the future depends on an absolute instant, which is true once REALTIME has passed every
 * absolute time the scenario names (`timeHorizonOf`): machines never read the clock, every
 * timer they arm counts from now (timer_mod with a delay), and an absolute alarm whose instant
 * has passed fires at once in either world.
 */
export function worldKey(world: World, actorNames: readonly string[], relativeTime = false): string {
  const { realtime, virtual, vmRunning } = world.time;
  const parts: string[] = [relativeTime ? `r/${vmRunning ? 1 : 0}` : `t${realtime}/${virtual}/${vmRunning ? 1 : 0}`];
  for (const actor of actorNames) {
    parts.push(snapshotDigest(world.snapshots[actor]));
    const mailbox = world.mailboxes[actor];
    if (mailbox && mailbox.length > 0) parts.push(`>${mailboxDigest(mailbox)}`);
  }
  for (const a of world.alarms) {
    const deadline = relativeTime ? a.deadline - (a.clock === 'realtime' ? realtime : virtual) : a.deadline;
    parts.push(`@${alarmDigest(a)}/${deadline}`);
  }
  return parts.join('\n');
}

/** A 53-bit hash of the world, as 11 base-36 digits. */
export function hashWorld(world: World, actorNames: readonly string[], relativeTime = false): string {
  return hash53(worldKey(world, actorNames, relativeTime)).toString(36).padStart(11, '0');
}
