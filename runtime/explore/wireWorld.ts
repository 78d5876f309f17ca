/**
 * Worlds between the explorer's threads. A world's snapshots go by digest, with XState's
 * persisted snapshot only the first time that side sends that digest to its peer; the receiving
 * side keeps one snapshot per digest and one event object per event text, so a world restored
 * there shares its parts with the worlds it restored before, and the engine's transition memo
 * (by identity) keeps hitting.
 */
import type { AnyMachineSnapshot } from 'xstate';
import type { AnyEvent } from '../../machines/effects.ts';
import type { Engine } from '../engine/Engine.ts';
import { mailboxOfEnvelopes } from '../engine/Mailbox.ts';
import { type Alarm, type Envelope, UNHASHED, type World } from '../engine/World.ts';
import { canonicalJson } from '../engine/worldHash.ts';
import { InternalError } from '../errors.ts';

export interface WireWorld {
  step: number;
  seq: number;
  time: World['time'];
  rng: World['rng'];
  /** Per actor, in the engine's order: [digest, persisted snapshot, or null when the peer has it]. */
  snapshots: [number, unknown][];
  /** Per actor, in the engine's order. */
  mailboxes: (readonly Envelope[])[];
  alarms: Alarm[];
}

export class WireCodec {
  private readonly snapshots = new Map<number, AnyMachineSnapshot>();
  /** Digests whose persisted snapshot this side has sent to its peer. */
  private readonly sent = new Set<number>();
  private readonly events = new Map<string, AnyEvent>();

  constructor(private readonly engine: Engine) {}

  encode(world: World): WireWorld {
    const snapshots: [number, unknown][] = [];
    this.engine.actorNames.forEach((actor, i) => {
      const { snapshot, digest } = world.parts[i];
      if (!this.snapshots.has(digest)) this.snapshots.set(digest, snapshot);
      if (this.sent.has(digest)) snapshots.push([digest, null]);
      else {
        this.sent.add(digest);
        snapshots.push([digest, this.engine.persistSnapshot(actor, snapshot)]);
      }
    });
    return {
      step: world.step,
      seq: world.seq,
      time: world.time,
      rng: world.rng,
      snapshots,
      mailboxes: world.mailboxes.map((m) => m.envelopes),
      alarms: world.alarms as Alarm[],
    };
  }

  decode(wire: WireWorld): World {
    const parts = this.engine.actorNames.map((actor, i) => {
      const [digest, data] = wire.snapshots[i];
      let snapshot = this.snapshots.get(digest);
      if (!snapshot) {
        if (data === null) throw new InternalError(`wire world: ${actor}'s snapshot ${digest} was never sent`);
        snapshot = this.engine.restoreSnapshot(actor, data);
        this.snapshots.set(digest, snapshot);
      }
      return this.engine.part(snapshot);
    });
    const mailboxes = wire.mailboxes.map((mailbox) => mailboxOfEnvelopes(mailbox.map((e) => ({ ...e, event: this.event(e.event) }))));
    return {
      step: wire.step,
      seq: wire.seq,
      time: wire.time,
      rng: wire.rng,
      actors: this.engine.actorNames,
      parts,
      mailboxes,
      alarms: wire.alarms.map((a) => ({ ...a, event: this.event(a.event) })),
      choices: [],
      actorsHi: UNHASHED,
      actorsLo: 0,
      renamedDigests: null,
    };
  }

  private event(event: AnyEvent): AnyEvent {
    const key = canonicalJson(event);
    let known = this.events.get(key);
    if (!known) {
      known = event;
      this.events.set(key, known);
    }
    return known;
  }
}

/**
 * The explorer's thread between workers: it never restores a world, it relays them. It keeps
 * every persisted snapshot a worker sent, notes which digests each worker holds, and gives a
 * world to a worker with the persisted snapshots that worker lacks.
 */
export class WireRelay {
  private readonly data = new Map<number, unknown>();
  private readonly held: Set<number>[];

  constructor(workers: number) {
    this.held = Array.from({ length: workers }, () => new Set<number>());
  }

  /** A world that came from worker `from` (or, with -1, from the explorer's own codec). */
  absorb(wire: WireWorld, from: number): void {
    for (const [digest, data] of wire.snapshots) {
      if (data !== null) this.data.set(digest, data);
      if (from >= 0) this.held[from].add(digest);
    }
  }

  /** `wire` as worker `to` needs it. */
  prepare(wire: WireWorld, to: number): WireWorld {
    const held = this.held[to];
    const snapshots = wire.snapshots.map(([digest]): [number, unknown] => {
      if (held.has(digest)) return [digest, null];
      held.add(digest);
      const data = this.data.get(digest);
      if (data === undefined) throw new InternalError(`wire relay: no persisted snapshot for digest ${digest}`);
      return [digest, data];
    });
    return { ...wire, snapshots };
  }
}
