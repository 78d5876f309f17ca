/**
 * One worker thread of the parallel explorer: restores the states it is sent, expands them
 * (`Expander`), and sends back each successor's world, hash and judged events. The explorer's
 * thread keeps the visited store and the invariant checkers and merges the answers in the
 * order a single thread would have met them, so the result is the same for any number of
 * workers.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import type { Topology } from '../../actors/topology.ts';
import { Expander, type Expansion } from './Expander.ts';
import { WireCodec, type WireWorld } from './wireWorld.ts';

export interface WorkerSetup {
  topology: Topology;
  relativeTime: boolean;
  /** Int32 slot 0: the answers sent so far (the explorer's thread waits on it). */
  signal: SharedArrayBuffer;
  /** Where answers go. */
  answers: MessagePort;
}

export type WorkerRequest = { states: WireWorld[] };
export type WorkerAnswer = { expansions: Expansion<WireWorld>[] } | { error: string };

const setup = workerData as WorkerSetup;
const expander = new Expander(setup.topology, setup.relativeTime);
const codec = new WireCodec(expander.engine);
const signal = new Int32Array(setup.signal);

parentPort!.on('message', (request: WorkerRequest) => {
  let answer: WorkerAnswer;
  try {
    answer = {
      expansions: request.states.map((wire) => {
        const { steps, unfinished } = expander.expand(codec.decode(wire));
        return { unfinished, steps: steps.map((s) => ({ ...s, world: codec.encode(s.world) })) };
      }),
    };
  } catch (error) {
    answer = { error: error instanceof Error ? `${error.message}\n${error.stack}` : String(error) };
  }
  setup.answers.postMessage(answer);
  Atomics.add(signal, 0, 1);
  Atomics.notify(signal, 0);
});
