/** The transactions' phase log, shared by the transaction monitors through the TraceState. */
import type { ActorName } from '../../machines/effects.ts';
import type { TraceEvent, TraceEventOf } from '../trace/TraceEvent.ts';

export type TxnEvent = TraceEventOf<'@trace.txn'>;

/** Per transaction: the phases each action went through, in order. */
export interface TxnLog {
  events: TxnEvent[];
  failedAt: number | null;
  running: { phase: TxnEvent['phase']; index: number } | null;
  countersAtStart: Map<string, number>;
  started: boolean;
  ended: boolean;
}

/** Keeps every transaction's phase log; shared by the transaction monitors. */
export class TxnTracker {
  readonly logs = new Map<ActorName, TxnLog>();
  /** The action whose phase runs now (transactions run one at a time in the monitor). */
  current: { txn: ActorName; phase: TxnEvent['phase']; index: number } | null = null;

  /** The phases seen, without steps: what an explorer needs to tell two histories apart. */
  key(): unknown {
    return [...this.logs].map(([txn, log]) => [txn, log.events.map((e) => `${e.phase}:${e.index}:${e.result}`), log.failedAt, [...log.countersAtStart], log.started, log.ended]).concat([this.current ? `${this.current.phase}:${this.current.index}` : null]);
  }

  observe(e: TraceEvent, state: { disableCount: Map<ActorName, number>; quiesce: Map<ActorName, number> }): void {
    if (e.type !== '@trace.txn') return;
    let log = this.logs.get(e.txn);
    if (!log) {
      log = { events: [], failedAt: null, running: null, countersAtStart: new Map(), started: false, ended: false };
      this.logs.set(e.txn, log);
    }
    if (e.phase === 'transaction') {
      if (e.result === 'start') {
        log.started = true;
        for (const [ctx, n] of state.disableCount) log.countersAtStart.set(ctx, n);
        for (const [node, n] of state.quiesce) log.countersAtStart.set(node, n);
      } else {
        log.ended = true;
      }
      return;
    }
    log.events.push(e);
    if (e.result === 'start') this.current = { txn: e.txn, phase: e.phase, index: e.index };
    else {
      this.current = null;
      if (e.phase === 'prepare' && e.result === 'failed') log.failedAt = e.index;
    }
  }
}


