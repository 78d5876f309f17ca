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
import type { WireWorld } from './wireWorld.ts';

interface Lane {
  worker: Worker;
  /** Where the worker's answers arrive (read synchronously). */
  answers: MessagePort;
  signal: Int32Array;
}

export class WorkerPool {
  private readonly lanes: Lane[];

  constructor(count: number, topology: Topology, relativeTime: boolean) {
    this.lanes = Array.from({ length: count }, () => {
      const shared = new SharedArrayBuffer(4);
      const { port1, port2 } = new MessageChannel();
      const setup: WorkerSetup = { topology, relativeTime, signal: shared, answers: port2 };
      const worker = new Worker(new URL('./exploreWorker.mjs', import.meta.url), { workerData: setup, transferList: [port2] });
      worker.unref();
      port1.unref();
      return { worker, answers: port1, signal: new Int32Array(shared) };
    });
  }

  get size(): number {
    return this.lanes.length;
  }

  /** Expands `states`, split into contiguous slices, one per worker; the answers in the same order. */
  expand(states: readonly WireWorld[]): Expansion<WireWorld>[] {
    const per = Math.ceil(states.length / this.lanes.length);
    const busy: Lane[] = [];
    this.lanes.forEach((lane, i) => {
      const slice = states.slice(i * per, (i + 1) * per);
      if (slice.length === 0) return;
      Atomics.store(lane.signal, 0, 0);
      lane.worker.postMessage({ states: slice } satisfies WorkerRequest);
      busy.push(lane);
    });
    const expansions: Expansion<WireWorld>[] = [];
    for (const lane of busy) {
      Atomics.wait(lane.signal, 0, 0);
      const received = receiveMessageOnPort(lane.answers) as { message: WorkerAnswer } | undefined;
      if (!received) throw new InternalError('an explorer worker signalled an answer that is not there');
      if ('error' in received.message) throw new InternalError(`an explorer worker failed: ${received.message.error}`);
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
