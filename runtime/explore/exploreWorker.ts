/**
 * One worker thread of the parallel explorer. It holds the worlds of the frontier states given
 * to it (by state id), expands the ones it is asked to (`Expander`), keeps their successors
 * until the explorer's thread says which became new states, and answers with each successor's
 * hash, judged events, reduction flag and footprint, never its world. Worlds cross threads only when the
 * explorer moves states between workers to even out their loads.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import type { Topology } from '../../actors/topology.ts';
import type { World } from '../engine/World.ts';
import { Expander, type Expansion } from './Expander.ts';
import type { Granularity } from './threadSteps.ts';
import { WireCodec, type WireWorld } from './wireWorld.ts';

export interface WorkerSetup {
  topology: Topology;
  relativeTime: boolean;
  /** Symmetry reduction (the explorer's option). */
  symmetry: boolean;
  /** The explorer's granularity (see `ExploreOptions.granularity`). */
  granularity: Granularity;
  /** Int32 slot 0: the answers sent so far (the explorer's thread waits on it). */
  signal: SharedArrayBuffer;
  /** Where answers go. */
  answers: MessagePort;
}

/** A successor a worker keeps: the round that made it and its place in that round. */
export interface HeldRef {
  worker: number;
  round: number;
  index: number;
}

export type WorkerRequest =
  /** Expand these held states (answered). */
  | { kind: 'expand'; round: number; ids: number[]; asleep: string[][] }
  /** A new level of the search begins. */
  | { kind: 'level' }
  /** Of a round's successors, keep these as states with these ids; forget the rest. */
  | { kind: 'adopt'; round: number; pairs: [number, number][] }
  /** Send these held states' worlds and forget them (answered). */
  | { kind: 'give'; ids: number[] }
  /** Hold these worlds as these states. */
  | { kind: 'take'; states: [number, WireWorld][] };

export type WorkerAnswer = { expansions: Expansion<number>[] } | { worlds: WireWorld[] } | { error: string };

const setup = workerData as WorkerSetup;
const expander = new Expander(setup.topology, setup.relativeTime, setup.symmetry, setup.granularity);
const codec = new WireCodec(expander.engine);
const signal = new Int32Array(setup.signal);
const held = new Map<number, World>();
const pending = new Map<number, World[]>();

function answer(message: WorkerAnswer): void {
  setup.answers.postMessage(message);
  Atomics.add(signal, 0, 1);
  Atomics.notify(signal, 0);
}

function worldOf(id: number): World {
  const world = held.get(id);
  if (!world) throw new Error(`state ${id} is not held by this worker`);
  held.delete(id);
  return world;
}

parentPort!.on('message', (request: WorkerRequest) => {
  try {
    switch (request.kind) {
      case 'expand': {
        const made: World[] = [];
        pending.set(request.round, made);
        const expansions = request.ids.map((id, i): Expansion<number> => {
          const asleep = request.asleep[i].map((identity) => ({ identity }));
          const { steps, ended, unfinished } = expander.expand(worldOf(id), asleep);
          return { ended, unfinished, steps: steps.map((s) => ({ ...s, world: made.push(s.world) - 1 })) };
        });
        answer({ expansions });
        return;
      }
      case 'adopt': {
        const made = pending.get(request.round) ?? [];
        for (const [index, id] of request.pairs) held.set(id, made[index]);
        pending.delete(request.round);
        return;
      }
      case 'level':
        expander.newLevel();
        return;
      case 'give':
        answer({ worlds: request.ids.map((id) => codec.encode(worldOf(id))) });
        return;
      case 'take':
        for (const [id, wire] of request.states) held.set(id, codec.decode(wire));
        return;
    }
  } catch (error) {
    answer({ error: error instanceof Error ? `${error.message}\n${error.stack}` : String(error) });
  }
});
