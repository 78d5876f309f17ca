/**
 * What each image holds, read from the trace: the guest writes every node absorbed, the points
 * in time of snapshots and backups, and for each point in time the writes its image holds.
 */
import type { ActorName } from '../../machines/effects.ts';
import type { TraceEvent, TraceEventOf } from '../trace/TraceEvent.ts';
import { entries } from './entries.ts';

export interface GuestWrite {
  id: string;
  node: ActorName;
  /** The device (client actor) it came through. */
  via: ActorName;
  step: number;
}

export interface ImageReport {
  action: ActorName;
  /** The action's index in its transaction. */
  index: number;
  kind: TraceEventOf<'@trace.pit'>['kind'];
  node: ActorName;
  step: number;
  /** Guest writes the image holds, in the order they reached the node. */
  holds: string[];
}

/** A point in time as the ledger keeps it: what the node held then, with no step numbers. */
export interface PointInTime {
  action: ActorName;
  index: number;
  kind: TraceEventOf<'@trace.pit'>['kind'];
  node: ActorName;
  /** The writes the node had absorbed at the point in time. */
  held: Set<string>;
}

export class ImageLedger {
  readonly writes = new Map<string, GuestWrite>();
  readonly points: PointInTime[] = [];
  /** For reports only (never compared): the step of each point in time and write. */
  private readonly steps = new Map<string, number>();

  observe(e: TraceEvent): void {
    if (e.type === '@trace.io.submit' && e.op === 'write' && e.origin.startsWith('external') && e.via.startsWith('client:')) {
      this.writes.set(e.id, { id: e.id, node: e.node, via: e.via, step: e.step });
    } else if (e.type === '@trace.pit') {
      const held = new Set([...this.writes.values()].filter((w) => w.node === e.node).map((w) => w.id));
      this.points.push({ action: e.action, index: e.index, kind: e.kind, node: e.node, held });
      this.steps.set(`pit:${this.points.length - 1}`, e.step);
    }
  }

  /**
   * Whether the image taken at `pit` holds write `id`: its node had absorbed the write at the
   * point in time; an external snapshot keeps everything the old node absorbs, since the device
   * moves to the overlay at the append (a write in flight then still lands in the old image).
   */
  holds(pit: PointInTime, id: string): boolean {
    if (pit.held.has(id)) return true;
    return pit.kind === 'external-snapshot' && this.writes.get(id)?.node === pit.node;
  }

  /**
   * The ledger without step numbers, as far as a judge can still read it: the writes in
   * `relevant` and the points in time `live` keeps (absent: all). Two histories with equal keys
   * hold the same images for every write and point in time a later judgement can ask about.
   */
  key(relevant?: ReadonlySet<string>, live?: (pit: PointInTime) => boolean): unknown {
    // The writes as a set (canonical JSON sorts an object's keys, also after a renaming): which
    // one reached its node first is not judged.
    const writes: Record<string, 1> = {};
    for (const w of this.writes.values()) if (!relevant || relevant.has(w.id)) writes[`${w.id}@${w.node}<${w.via}`] = 1;
    const points = live ? this.points.filter(live) : this.points;
    return [writes, points.map((p) => [p.action, p.kind, p.node, entries(relevant ? new Set([...p.held].filter((id) => relevant.has(id))) : p.held)])];
  }

  images(): ImageReport[] {
    return this.points.map((pit, i) => ({
      action: pit.action,
      index: pit.index,
      kind: pit.kind,
      node: pit.node,
      step: this.steps.get(`pit:${i}`) ?? 0,
      holds: [...this.writes.keys()].filter((id) => this.holds(pit, id)),
    }));
  }
}
