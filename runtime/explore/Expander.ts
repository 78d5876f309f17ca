/**
 * Expanding one state of the exploration: every enabled step applied, each successor with its
 * world hash, the trace events some monitor judges, and whether the partial-order reduction may
 * take it alone. It is the part of the explorer that needs the engine; the explorer's own thread
 * and its worker threads run the same code, so a state expands the same way wherever it is.
 */
import { createActorSpecs } from '../../actors/createSystem.ts';
import type { Topology } from '../../actors/topology.ts';
import { Engine } from '../engine/Engine.ts';
import type { World } from '../engine/World.ts';
import { InvariantChecker } from '../invariants/InvariantChecker.ts';
import { unfinishedWork } from '../simulate.ts';
import type { TraceEvent } from '../trace/TraceEvent.ts';

export interface ExpandedStep<W> {
  /** The step's index among the state's enabled steps. */
  index: number;
  world: W;
  /** `engine.digest` of the successor (the checker's share is added by the explorer). */
  worldHash: number;
  /** The step's trace events that some monitor reads. */
  judged: TraceEvent[];
  /**
   * A delivery the reduction may take alone: its transition only changes its own actor (no
   * send, alarm or run-state effect), emits nothing a monitor reads, and goes to an actor
   * nobody else's environment reads. Every other step commutes with it and leaves it enabled.
   */
  local: boolean;
}

export interface Expansion<W> {
  steps: ExpandedStep<W>[];
  /** For a state with nothing enabled (a quiet end): the work left undone. */
  unfinished: string[];
}

export class Expander {
  readonly engine: Engine;
  readonly initialEvents: readonly TraceEvent[];
  private buffer: TraceEvent[] = [];
  /** Actors whose state some other actor's environment reads (dependencies, triggers), or that have offers of their own. */
  private readonly shared: ReadonlySet<string>;
  /** Past this REALTIME instant the clocks are left out of the hash (see `timeHorizonOf`). */
  private readonly horizon: number;

  constructor(
    private readonly topology: Topology,
    relativeTime = true,
  ) {
    const specs = createActorSpecs(topology);
    this.engine = new Engine(specs, { onTrace: (e) => this.buffer.push(e), memoize: true });
    this.initialEvents = this.buffer;
    this.buffer = [];
    this.shared = new Set(specs.filter((s) => s.offers || s.kind === 'external-client' || s.kind === 'transaction-action').map((s) => s.name));
    this.horizon = relativeTime ? timeHorizonOf(topology) : Infinity;
  }

  worldHash(world: World, parent?: World): number {
    return this.engine.digest(world, world.time.realtime >= this.horizon, parent);
  }

  expand(world: World): Expansion<World> {
    const enabled = this.engine.enabledSteps(world);
    if (enabled.length === 0) return { steps: [], unfinished: unfinishedWork(this.topology, world) };
    const steps: ExpandedStep<World>[] = [];
    for (let index = 0; index < enabled.length; index++) {
      const step = enabled[index];
      this.buffer = [];
      const next = this.engine.apply(world, step);
      const judged = this.buffer.filter(InvariantChecker.judges);
      const local = step.kind === 'deliver' && !this.shared.has(step.actor) && this.engine.lastStepEffects === 0 && judged.length === 0;
      steps.push({ index, world: next, worldHash: this.worldHash(next, world), judged, local });
    }
    this.buffer = [];
    return { steps, unfinished: [] };
  }

  /** A new level of the search: snapshots interned for the last one may go. */
  newLevel(): void {
    this.engine.forgetInterned();
  }

  /**
   * Replays `path` (enabled-step indexes), handing each step's trace events to `observe`; the
   * world reached, and the choices a replay path records (where more than one step was enabled).
   */
  replay(path: readonly number[], observe: (e: TraceEvent) => void): { world: World; choices: number[] } {
    let world = this.engine.initial;
    const choices: number[] = [];
    for (const index of path) {
      const enabled = this.engine.enabledSteps(world);
      if (enabled.length > 1) choices.push(index);
      this.buffer = [];
      world = this.engine.apply(world, enabled[index]);
      for (const e of this.buffer) observe(e);
    }
    this.buffer = [];
    return { world, choices };
  }
}

/**
 * The last absolute instant the scenario names (a request's or a command's `at`, REALTIME ns).
 * Past it, states that differ only by the clocks' readings behave alike (see `worldDigest`).
 */
export function timeHorizonOf(topology: Topology): number {
  let horizon = 0;
  for (const client of topology.clients) for (const request of client.workload) horizon = Math.max(horizon, request.at ?? 0);
  for (const command of topology.script ?? []) horizon = Math.max(horizon, command.at ?? 0);
  return horizon;
}
