/**
 * What each image holds, read from the trace: the guest writes every node absorbed, the points
 * in time of snapshots and backups, and for each point in time the writes its image holds.
 */
import type { ActorName } from '../../machines/effects.ts';
import type { TraceEvent, TraceEventOf } from '../trace/TraceEvent.ts';

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

export class ImageLedger {
  readonly writes = new Map<string, GuestWrite>();
  readonly points: TraceEventOf<'@trace.pit'>[] = [];

  observe(e: TraceEvent): void {
    if (e.type === '@trace.io.submit' && e.op === 'write' && e.origin.startsWith('external') && e.via.startsWith('client:')) {
      this.writes.set(e.id, { id: e.id, node: e.node, via: e.via, step: e.step });
    } else if (e.type === '@trace.pit') {
      this.points.push(e);
    }
  }

  /**
   * Whether the image taken at `pit` holds write `id`: its node absorbed the write before the
   * point in time; an external snapshot keeps everything the old node absorbed, since the device
   * moves to the overlay at the append.
   */
  holds(pit: TraceEventOf<'@trace.pit'>, id: string): boolean {
    const w = this.writes.get(id);
    return w !== undefined && w.node === pit.node && (pit.kind === 'external-snapshot' || w.step < pit.step);
  }

  /** Writes each node absorbed, by node. */
  absorbed(): Record<ActorName, string[]> {
    const byNode: Record<ActorName, string[]> = {};
    for (const w of this.writes.values()) (byNode[w.node] ??= []).push(w.id);
    return byNode;
  }

  images(): ImageReport[] {
    return this.points.map((pit) => ({
      action: pit.action,
      index: pit.index,
      kind: pit.kind,
      node: pit.node,
      step: pit.step,
      holds: [...this.writes.keys()].filter((id) => this.holds(pit, id)),
    }));
  }
}
