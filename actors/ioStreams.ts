/**
 * The I/O streams between actors. Every message travels on the engine's wire (an RxJS Subject);
 * these are its I/O views: requests (`io.submit` to a node, `host.submit` to host storage) and
 * completions (`io.complete` back to the submitter, `host.completion` to the protocol node),
 * each carrying the request id and its origin.
 */
import { filter, map, type Observable } from 'rxjs';
import type { ActorName, RequestOrigin } from '../machines/effects.ts';
import type { Routed } from '../runtime/engine/Engine.ts';

export interface IoMessage {
  step: number;
  kind: 'request' | 'completion';
  from: ActorName;
  to: ActorName;
  id: string;
  origin: RequestOrigin;
}

const REQUESTS = new Set(['io.submit', 'host.submit']);
const COMPLETIONS = new Set(['io.complete', 'host.completion']);

function ioView(wire: Observable<Routed>, types: ReadonlySet<string>, kind: IoMessage['kind']): Observable<IoMessage> {
  return wire.pipe(
    filter((m) => types.has(m.event.type)),
    map((m) => ({ step: m.step, kind, from: m.from, to: m.to, id: m.event.id as string, origin: m.event.origin as RequestOrigin })),
  );
}

export function ioStreams(wire: Observable<Routed>): { requests$: Observable<IoMessage>; completions$: Observable<IoMessage> } {
  return { requests$: ioView(wire, REQUESTS, 'request'), completions$: ioView(wire, COMPLETIONS, 'completion') };
}

/**
 * Pairs every request with its completion on the same hop (a request from A to B is answered
 * by a completion from B to A) and reports lost, duplicated and unmatched ones.
 */
export class IoLedger {
  private readonly open = new Map<string, IoMessage>();
  readonly problems: string[] = [];
  requests = 0;
  completions = 0;

  request(m: IoMessage): void {
    this.requests++;
    const key = `${m.from}>${m.to}:${m.id}`;
    if (this.open.has(key)) this.problems.push(`step ${m.step}: ${m.id} requested twice from ${m.from} to ${m.to}`);
    this.open.set(key, m);
  }

  completion(m: IoMessage): void {
    this.completions++;
    const key = `${m.to}>${m.from}:${m.id}`;
    if (!this.open.delete(key)) this.problems.push(`step ${m.step}: ${m.id} completed from ${m.from} to ${m.to} without an open request`);
  }

  /** Requests still open: lost, once the run is over. */
  outstanding(): IoMessage[] {
    return [...this.open.values()];
  }
}
