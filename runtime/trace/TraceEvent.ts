/**
 * The trace: the product every consumer reads (CLI, invariant monitors, exporters, viewer).
 *
 * A discriminated union of `@trace.*` events, one per delivery, state change, counter change,
 * poll, handler dispatch, request submit and completion, drain phase, alarm, clock advance and
 * error. Every event carries the step number and the virtual time (REALTIME ns, and VIRTUAL ns
 * for the guest clock) and names actors by their stable names (`ctx:iothread0`, `node:drive0`).
 */
import type { ActorName, BlkPhase, ClockType, DrainPhase, RequestOrigin, ThreadName } from '../../machines/effects.ts';

interface Stamp {
  step: number;
  /** REALTIME clock, ns. */
  time: number;
  /** VIRTUAL clock, ns (stops while the VM is stopped). */
  vtime: number;
  actor: ActorName;
}

export type TraceEvent =
  | (Stamp & { type: '@trace.deliver'; event: string; from: string; detail: string })
  | (Stamp & { type: '@trace.state'; from: string; to: string })
  | (Stamp & { type: '@trace.counter'; counter: string; value: number })
  | (Stamp & { type: '@trace.dispatch'; kind: 'bh' | 'handler' | 'timer'; id: string; owner: ActorName; external: boolean; thread: ThreadName })
  | (Stamp & { type: '@trace.poll.begin'; thread: ThreadName; blocking: boolean; depth: number })
  | (Stamp & { type: '@trace.poll.end'; thread: ThreadName; progress: boolean; depth: number })
  | (Stamp & { type: '@trace.ready'; handler: string; external: boolean })
  | (Stamp & { type: '@trace.io.submit'; node: ActorName; id: string; origin: RequestOrigin; op: string; via: string })
  | (Stamp & { type: '@trace.io.complete'; node: ActorName; id: string; origin: RequestOrigin })
  | (Stamp & { type: '@trace.drain'; phase: DrainPhase; node: ActorName; quiesce: number })
  | (Stamp & { type: '@trace.blk'; phase: BlkPhase; node: ActorName; quiesce: number; id?: string; detached?: boolean })
  | (Stamp & { type: '@trace.command'; phase: 'start' | 'yield' | 'resume' | 'end'; command: string; index: number })
  | (Stamp & { type: '@trace.txn'; txn: ActorName; phase: 'prepare' | 'commit' | 'abort' | 'clean' | 'transaction'; index: number; result: 'start' | 'ok' | 'failed'; error?: string })
  | (Stamp & { type: '@trace.pit'; action: ActorName; index: number; node: ActorName; kind: 'external-snapshot' | 'internal-snapshot' | 'backup' })
  | (Stamp & { type: '@trace.guest'; phase: 'issue' | 'complete'; id: string; op: 'read' | 'write' | 'flush' })
  | (Stamp & { type: '@trace.artifact'; action: ActorName; kind: 'internal-snapshot' | 'job' | 'overlay'; op: 'created' | 'removed' })
  | (Stamp & { type: '@trace.alarm'; phase: 'set' | 'clear' | 'fire'; id: string; clock: ClockType; deadline: number })
  | (Stamp & { type: '@trace.clock'; realtime: number; virtual: number })
  | (Stamp & { type: '@trace.vm'; running: boolean })
  | (Stamp & { type: '@trace.error'; message: string });

export type TraceEventType = TraceEvent['type'];

export type TraceEventOf<T extends TraceEventType> = Extract<TraceEvent, { type: T }>;
