/**
 * Worlds between the explorer's threads. A world's snapshots go as XState's persisted snapshots
 * with their digest; the receiving side keeps one snapshot per digest and one event object per
 * event text, so a world restored there shares its parts with the worlds it restored before,
 * and the engine's transition memo (by identity) keeps hitting.
 */
import type { AnyMachineSnapshot } from 'xstate';
import type { ActorName, AnyEvent } from '../../machines/effects.ts';
import type { Engine } from '../engine/Engine.ts';
import type { Alarm, Envelope, World } from '../engine/World.ts';
import { canonicalJson, snapshotDigest } from '../engine/worldHash.ts';

export interface WireWorld {
  step: number;
  seq: number;
  time: World['time'];
  rng: World['rng'];
  /** Per actor, in the engine's order: [digest, persisted snapshot]. */
  snapshots: [number, unknown][];
  mailboxes: Record<ActorName, Envelope[]>;
  alarms: Alarm[];
}

export class WireCodec {
  private readonly persisted = new WeakMap<AnyMachineSnapshot, unknown>();
  private readonly snapshots = new Map<number, AnyMachineSnapshot>();
  private readonly events = new Map<string, AnyEvent>();

  constructor(private readonly engine: Engine) {}

  encode(world: World): WireWorld {
    const snapshots: [number, unknown][] = [];
    for (const actor of this.engine.actorNames) {
      const snapshot = world.snapshots[actor];
      let data = this.persisted.get(snapshot);
      if (data === undefined) {
        data = this.engine.persistSnapshot(actor, snapshot);
        this.persisted.set(snapshot, data);
      }
      snapshots.push([snapshotDigest(snapshot), data]);
    }
    return {
      step: world.step,
      seq: world.seq,
      time: world.time,
      rng: world.rng,
      snapshots,
      mailboxes: world.mailboxes as Record<ActorName, Envelope[]>,
      alarms: world.alarms as Alarm[],
    };
  }

  decode(wire: WireWorld): World {
    const snapshots: Record<ActorName, AnyMachineSnapshot> = {};
    this.engine.actorNames.forEach((actor, i) => {
      const [digest, data] = wire.snapshots[i];
      let snapshot = this.snapshots.get(digest);
      if (!snapshot) {
        snapshot = this.engine.restoreSnapshot(actor, data);
        this.snapshots.set(digest, snapshot);
      }
      snapshots[actor] = snapshot;
    });
    const mailboxes: Record<ActorName, Envelope[]> = {};
    for (const [actor, mailbox] of Object.entries(wire.mailboxes)) mailboxes[actor] = mailbox.map((e) => ({ ...e, event: this.event(e.event) }));
    return {
      step: wire.step,
      seq: wire.seq,
      time: wire.time,
      rng: wire.rng,
      snapshots,
      mailboxes,
      alarms: wire.alarms.map((a) => ({ ...a, event: this.event(a.event) })),
      choices: [],
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
