/**
 * Worker threads for the explorer, used synchronously: the explorer hands each worker a slice
 * of the states to expand, then blocks (Atomics.wait) until every answer is in and takes them
 * with receiveMessageOnPort. No promise or event-loop turn is involved, so `explore` stays a
 * plain synchronous function whatever the number of workers.
 */
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import type { Topology } from '../../actors/topology.ts';
import { InternalError } from '../errors.ts';
import type { Expansion } from './Expander.ts';
import type { WorkerAnswer, WorkerRequest, WorkerSetup } from './exploreWorker.ts';
import { WireRelay, type WireWorld } from './wireWorld.ts';

interface Lane {
  worker: Worker;
  /** Where the worker's answers arrive (read synchronously). */
  answers: MessagePort;
  /** Slot 0 counts the answers the worker has sent. */
  signal: Int32Array;
  received: number;
}

/** A round handed out: which workers got a slice, in the order of the slices. */
export type Round = readonly number[];

export class WorkerPool {
  private readonly lanes: Lane[];
  private readonly relay: WireRelay;

  constructor(count: number, topology: Topology, relativeTime: boolean) {
    this.lanes = Array.from({ length: count }, () => {
      const shared = new SharedArrayBuffer(4);
      const { port1, port2 } = new MessageChannel();
      const setup: WorkerSetup = { topology, relativeTime, signal: shared, answers: port2 };
      const worker = new Worker(new URL('./exploreWorker.mjs', import.meta.url), { workerData: setup, transferList: [port2] });
      worker.unref();
      port1.unref();
      return { worker, answers: port1, signal: new Int32Array(shared), received: 0 };
    });
    this.relay = new WireRelay(count);
  }

  get size(): number {
    return this.lanes.length;
  }

  /** Takes note of a world made outside the workers (the initial one). */
  adopt(wire: WireWorld): void {
    this.relay.absorb(wire, -1);
  }

  /**
   * Hands `states` out, split into contiguous slices, one per worker, and returns at once: the
   * workers expand this round while the caller merges the one before (`collect`).
   */
  submit(states: readonly WireWorld[]): Round {
    const per = Math.ceil(states.length / this.lanes.length);
    const busy: number[] = [];
    this.lanes.forEach((lane, i) => {
      const slice = states.slice(i * per, (i + 1) * per).map((wire) => this.relay.prepare(wire, i));
      if (slice.length === 0) return;
      lane.worker.postMessage({ states: slice } satisfies WorkerRequest);
      busy.push(i);
    });
    return busy;
  }

  /** The answers of a round, in the order of its states (rounds are collected in the order submitted). */
  collect(round: Round): Expansion<WireWorld>[] {
    const expansions: Expansion<WireWorld>[] = [];
    for (const i of round) {
      const lane = this.lanes[i];
      while (Atomics.load(lane.signal, 0) <= lane.received) Atomics.wait(lane.signal, 0, lane.received);
      lane.received++;
      const received = receiveMessageOnPort(lane.answers) as { message: WorkerAnswer } | undefined;
      if (!received) throw new InternalError('an explorer worker signalled an answer that is not there');
      if ('error' in received.message) throw new InternalError(`an explorer worker failed: ${received.message.error}`);
      for (const expansion of received.message.expansions) for (const step of expansion.steps) this.relay.absorb(step.world, i);
      expansions.push(...received.message.expansions);
    }
    return expansions;
  }

  close(): void {
    for (const lane of this.lanes) {
      lane.answers.close();
      void lane.worker.terminate();
    }
  }
}
