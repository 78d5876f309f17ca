/**
 * Worker threads for the explorer, used synchronously: the explorer posts requests and blocks
 * (Atomics.wait) until the answers it needs are in, taking them with receiveMessageOnPort. No
 * promise or event-loop turn is involved, so `explore` stays a plain synchronous function
 * whatever the number of workers.
 *
 * The workers hold the frontier's worlds; this side knows only which worker holds which state.
 * A round of states is expanded where they are held; their new successors stay with the worker
 * that made them; at each level, states move from the busiest workers to the idlest when the
 * loads drift apart (`balance`), and only then do worlds cross threads.
 */
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import type { Topology } from '../../actors/topology.ts';
import { InternalError } from '../errors.ts';
import type { Expansion } from './Expander.ts';
import type { Granularity } from './threadSteps.ts';
import type { HeldRef, WorkerAnswer, WorkerRequest, WorkerSetup } from './exploreWorker.ts';
import { WireRelay, type WireWorld } from './wireWorld.ts';

interface Lane {
  worker: Worker;
  /** Where the worker's answers arrive (read synchronously). */
  answers: MessagePort;
  /** Slot 0 counts the answers the worker has sent. */
  signal: Int32Array;
  received: number;
}

/** A round handed out: its number, its state ids in order, and which worker expands each. */
export interface Round {
  number: number;
  ids: readonly number[];
  workers: readonly number[];
}

export class WorkerPool {
  private readonly lanes: Lane[];
  private readonly relay: WireRelay;
  /** Which worker holds each frontier state. */
  private readonly holder = new Map<number, number>();
  /** Per round not yet settled, per worker: [index in that worker's successors, state id]. */
  private readonly adoptions = new Map<number, [number, number][][]>();
  private rounds = 0;

  constructor(count: number, topology: Topology, relativeTime: boolean, symmetry = false, granularity: Granularity = 'message') {
    this.lanes = Array.from({ length: count }, () => {
      const shared = new SharedArrayBuffer(4);
      const { port1, port2 } = new MessageChannel();
      const setup: WorkerSetup = { topology, relativeTime, symmetry, granularity, signal: shared, answers: port2 };
      const worker = new Worker(new URL('./exploreWorker.mjs', import.meta.url), { workerData: setup, transferList: [port2] });
      worker.unref();
      port1.unref();
      return { worker, answers: port1, signal: new Int32Array(shared), received: 0 };
    });
    this.relay = new WireRelay(count);
  }

  /** Gives the initial state (id 0, encoded by the explorer's own codec) to the first worker. */
  seed(initial: WireWorld): HeldRef {
    this.relay.absorb(initial, -1);
    this.post(0, { kind: 'take', states: [[0, this.relay.prepare(initial, 0)]] });
    this.holder.set(0, 0);
    return { worker: 0, round: -1, index: 0 };
  }

  /**
   * Hands a round out: each state is expanded by the worker that holds it, without the steps
   * asleep there (by identity, one list per state); returns at once.
   */
  submit(ids: readonly number[], asleep: readonly string[][]): Round {
    const number = this.rounds++;
    const workers = ids.map((id) => this.holderOf(id));
    this.lanes.forEach((_, w) => {
      const mine = ids.filter((_, i) => workers[i] === w);
      if (mine.length > 0) this.post(w, { kind: 'expand', round: number, ids: mine, asleep: asleep.filter((_, i) => workers[i] === w) });
    });
    for (const id of ids) this.holder.delete(id);
    this.adoptions.set(number, this.lanes.map(() => []));
    return { number, ids, workers };
  }

  /** A round's expansions in the order of its states; each successor's world is where it is kept. */
  collect(round: Round): Expansion<HeldRef>[] {
    const byWorker = new Map<number, Expansion<number>[]>();
    for (const w of new Set(round.workers)) {
      const answer = this.receive(w);
      if (!('expansions' in answer)) throw new InternalError('an explorer worker answered an expansion with something else');
      byWorker.set(w, answer.expansions);
    }
    const next = new Map<number, number>();
    return round.workers.map((w) => {
      const at = next.get(w) ?? 0;
      next.set(w, at + 1);
      const expansion = byWorker.get(w)![at];
      return { ended: expansion.ended, unfinished: expansion.unfinished, steps: expansion.steps.map((s) => ({ ...s, world: { worker: w, round: round.number, index: s.world } })) };
    });
  }

  /** A successor became state `id`: its worker keeps it. */
  adopt(ref: HeldRef, id: number): void {
    this.adoptions.get(ref.round)![ref.worker].push([ref.index, id]);
    this.holder.set(id, ref.worker);
  }

  /** A round is merged: every worker keeps what was adopted and forgets the rest. */
  settle(round: Round): void {
    const pairs = this.adoptions.get(round.number)!;
    for (const w of new Set(round.workers)) this.post(w, { kind: 'adopt', round: round.number, pairs: pairs[w] });
    this.adoptions.delete(round.number);
  }

  /**
   * Before a level: the workers hear that a level begins; when a worker holds more than a quarter above its share of `ids`, its
   * surplus (the last states it holds) moves to the workers below their share.
   */
  balance(ids: readonly number[]): void {
    const count = this.lanes.length;
    this.lanes.forEach((_, w) => this.post(w, { kind: 'level' }));
    const share = Math.ceil(ids.length / count);
    const owned: number[][] = this.lanes.map(() => []);
    for (const id of ids) owned[this.holderOf(id)].push(id);
    const surplus: [number, number[]][] = [];
    owned.forEach((mine, w) => {
      if (mine.length > share * 1.25 && mine.length - share >= 64) surplus.push([w, mine.slice(share)]);
    });
    if (surplus.length === 0) return;
    for (const [w, extra] of surplus) {
      this.post(w, { kind: 'give', ids: extra });
      const answer = this.receive(w);
      if (!('worlds' in answer)) throw new InternalError('an explorer worker answered a hand-over with something else');
      answer.worlds.forEach((wire, i) => {
        this.relay.absorb(wire, w);
        this.holder.delete(extra[i]);
      });
      owned[w] = owned[w].slice(0, share);
      const worlds = answer.worlds;
      // Fill the workers below their share, in order.
      let at = 0;
      owned.forEach((mine, to) => {
        if (to === w || at >= extra.length) return;
        const room = Math.max(0, share - mine.length);
        const given = extra.slice(at, at + room);
        if (given.length === 0) return;
        this.post(to, { kind: 'take', states: given.map((id, i) => [id, this.relay.prepare(worlds[at + i], to)]) });
        for (const id of given) this.holder.set(id, to);
        mine.push(...given);
        at += given.length;
      });
      // With share = ceil(n / count), the workers below their share always have room for it all.
      if (at < extra.length) throw new InternalError(`explorer workers: ${extra.length - at} states found no worker with room`);
    }
  }

  close(): void {
    for (const lane of this.lanes) {
      lane.answers.close();
      void lane.worker.terminate();
    }
  }

  private holderOf(id: number): number {
    const w = this.holder.get(id);
    if (w === undefined) throw new InternalError(`no explorer worker holds state ${id}`);
    return w;
  }

  private post(w: number, request: WorkerRequest): void {
    this.lanes[w].worker.postMessage(request);
  }

  /** The next answer of worker `w`, waiting for it. */
  private receive(w: number): WorkerAnswer {
    const lane = this.lanes[w];
    while (Atomics.load(lane.signal, 0) <= lane.received) Atomics.wait(lane.signal, 0, lane.received);
    lane.received++;
    const received = receiveMessageOnPort(lane.answers) as { message: WorkerAnswer } | undefined;
    if (!received) throw new InternalError('an explorer worker signalled an answer that is not there');
    if ('error' in received.message) throw new InternalError(`an explorer worker failed: ${received.message.error}`);
    return received.message;
  }
}
