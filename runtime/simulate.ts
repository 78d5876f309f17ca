/**
 * Runs a topology with a strategy and a seed: the engine, the trace stream, the invariant
 * monitors and the end-of-run checks, in one call.
 */
import { Subject } from 'rxjs';
import { createActorSpecs } from '../actors/createSystem.ts';
import { clientActor, ctxActor, MONITOR_ACTOR, nodeActor, type Topology } from '../actors/topology.ts';
import { completedIds, type ExternalClientContext } from '../machines/externalClientMachine.ts';
import type { MonitorContext } from '../machines/monitorMachine.ts';
import { Engine, type EndReason, type RunResult } from './engine/Engine.ts';
import { type World, snapshotOf } from './engine/World.ts';
import { InvariantChecker, type ReportedViolation } from './invariants/InvariantChecker.ts';
import type { ModelMap } from './invariants/monitors.ts';
import type { ImageReport } from './invariants/ImageLedger.ts';
import { fifo, random, replay, type Strategy } from './scheduler/strategies.ts';
import type { TraceEvent } from './trace/TraceEvent.ts';
import { VirtualClock } from './scheduler/VirtualClock.ts';

export interface SimulateOptions {
  seed?: number;
  /** `fifo` (default), `random` (seeded), or a replay path string. */
  strategy?: 'fifo' | 'random' | { replay: string };
  maxSteps?: number;
  /** Keep every trace event in memory in `result.trace` (tests, small runs). */
  collectTrace?: boolean;
  /** Extra consumers of the trace stream (an NDJSON writer, a live timeline). */
  sinks?: readonly ((e: TraceEvent) => void)[];
  /** Run the invariant monitors (default true). */
  checkInvariants?: boolean;
  /** The time seam for observers: XState actors and RxJS streams scheduled on it follow the run's REALTIME clock. */
  clock?: VirtualClock;
  /** Called as each invariant violation is found, right after the event that revealed it. */
  onViolation?: (v: ReportedViolation) => void;
}

export interface SimulationResult {
  world: World;
  engine: Engine;
  seed: number;
  strategy: string;
  steps: number;
  endReason: EndReason;
  replayPath: string;
  violations: ReportedViolation[];
  checker: InvariantChecker | null;
  /** Errors the machines reported (`@trace.error`), e.g. drained_end on a node that is not drained. */
  errors: Extract<TraceEvent, { type: '@trace.error' }>[];
  /** Each snapshot's and backup's image: the guest writes it holds. */
  images: ImageReport[];
  /** Why the run did not reach its natural end: script unfinished, workload unissued or incomplete. */
  unfinished: string[];
  trace: TraceEvent[] | null;
}

export function modelMapOf(topology: Topology): ModelMap {
  return {
    era: topology.era ?? '2015',
    qedDrainHook: topology.protections?.qedDrainHook ?? true,
    nodeClients: Object.fromEntries(topology.nodes.map((n) => [nodeActor(n.name), topology.clients.filter((c) => c.node === n.name).map((c) => clientActor(c.name))])),
    nodeContext: Object.fromEntries(topology.nodes.map((n) => [nodeActor(n.name), ctxActor(n.ctx)])),
    nodeChildren: Object.fromEntries(
      topology.nodes.map((n) => [nodeActor(n.name), [n.file, n.backing].filter((c): c is string => c !== undefined).map(nodeActor)]),
    ),
    transactionRuns: (topology.script ?? []).filter((c) => c.do === 'transaction').length,
  };
}

function pickStrategy(option: SimulateOptions['strategy']): Strategy {
  if (option === undefined || option === 'fifo') return fifo;
  if (option === 'random') return random;
  return replay(option.replay);
}

export function simulate(topology: Topology, options: SimulateOptions = {}): SimulationResult {
  const simulation = startSimulation(topology, options);
  simulation.advance(Infinity);
  return simulation.finish();
}

/** A simulation that runs a slice at a time (`drainlab view --live` follows one as it goes). */
export interface Simulation {
  /** Takes up to `steps` more steps; true once the run is over (quiet, or at maxSteps). */
  advance(steps: number): boolean;
  /** Runs the end-of-run checks and hands back the result; call once, after `advance` said true. */
  finish(): SimulationResult;
}

/** The same run as `simulate`, step for step and byte for byte, taken in slices. */
export function startSimulation(topology: Topology, options: SimulateOptions = {}): Simulation {
  const seed = options.seed ?? 0;
  const trace$ = new Subject<TraceEvent>();
  const collected: TraceEvent[] | null = options.collectTrace ? [] : null;
  const errors: SimulationResult['errors'] = [];
  const checker = options.checkInvariants === false ? null : new InvariantChecker(modelMapOf(topology), undefined, options.onViolation);
  if (collected) trace$.subscribe((e) => collected.push(e));
  if (checker) trace$.subscribe((e) => checker.observe(e));
  trace$.subscribe((e) => {
    if (e.type === '@trace.error') errors.push(e);
  });
  for (const sink of options.sinks ?? []) trace$.subscribe(sink);

  const engine = new Engine(createActorSpecs(topology), { seed, onTrace: (e) => trace$.next(e) });
  const strategy = pickStrategy(options.strategy);
  const maxSteps = options.maxSteps ?? 200_000;
  let world: World | undefined;
  let taken = 0;
  let last: RunResult | null = null;
  return {
    advance(steps) {
      if (last && (last.endReason === 'quiescent' || taken >= maxSteps)) return true;
      const slice = Math.min(steps, maxSteps - taken);
      last = engine.run(strategy, { from: world, maxSteps: slice, clock: options.clock });
      world = last.world;
      taken += last.steps;
      return last.endReason === 'quiescent' || taken >= maxSteps;
    },
    finish() {
      const run = last!;
      const endReason: EndReason = run.endReason === 'quiescent' ? 'quiescent' : 'max-steps';
      const unfinished = unfinishedWork(topology, run.world);
      if (endReason === 'max-steps') unfinished.unshift(`stopped after ${taken} steps (maxSteps) before the model went quiet`);
      else checker?.finish();
      trace$.complete();
      return {
        world: run.world,
        engine,
        seed,
        strategy: strategy.name,
        steps: taken,
        endReason,
        replayPath: run.replayPath,
        violations: checker?.violations ?? [],
        checker,
        errors,
        images: checker?.images() ?? [],
        unfinished,
        trace: collected,
      };
    },
  };
}

/** What a run that went quiet left undone: script commands, requests never completed. */
export function unfinishedWork(topology: Topology, world: World): string[] {
  const problems: string[] = [];
  const monitor = snapshotOf(world, MONITOR_ACTOR).context as MonitorContext;
  if (monitor.pc < monitor.script.length) problems.push(`${MONITOR_ACTOR}: script stopped at command ${monitor.pc + 1} of ${monitor.script.length}`);
  for (const client of topology.clients) {
    const ctx = snapshotOf(world, clientActor(client.name)).context as ExternalClientContext;
    const done = new Set(completedIds(ctx));
    const missing = ctx.workload.filter((r) => !done.has(r.id)).map((r) => r.id);
    if (missing.length > 0) problems.push(`${clientActor(client.name)}: ${missing.join(', ')} never completed`);
  }
  return problems;
}
