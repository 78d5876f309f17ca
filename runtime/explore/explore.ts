/**
 * Exhaustive exploration of a scenario's interleavings, breadth first, so that the first
 * counterexample found is a shortest one.
 *
 * A state is the world and the invariant monitors' judgement so far: the engine's world hash
 * plus the monitors' step-free key, hashed together to 53 bits. Only those hashes are stored
 * (with a parent link and a choice for rebuilding paths); worlds live only in the frontier.
 * Every transition is checked as it is taken (the monitors read the trace events of that one
 * step), every state with nothing enabled is checked for the end-of-run properties.
 *
 * Not yet here (see the README): symmetry reduction, worker threads; the partial-order
 * reduction is a first, conservative one (`reduce`).
 */
import { createActorSpecs } from '../../actors/createSystem.ts';
import type { Topology } from '../../actors/topology.ts';
import { Engine } from '../engine/Engine.ts';
import type { World } from '../engine/World.ts';
import { canonicalJson, hash53 } from '../engine/worldHash.ts';
import { InvariantChecker, type ReportedViolation } from '../invariants/InvariantChecker.ts';
import type { InvariantId } from '../invariants/monitors.ts';
import { encodeReplayPath } from '../scheduler/ReplayPath.ts';
import { StateStore } from './StateStore.ts';
import { modelMapOf, unfinishedWork } from '../simulate.ts';
import type { TraceEvent } from '../trace/TraceEvent.ts';

export interface ExploreOptions {
  maxDepth?: number;
  maxStates?: number;
  timeLimitSeconds?: number;
  /** Invariants whose violation is expected (the scenario's `violate`): recorded, not stopping. */
  expectedViolations?: readonly string[];
  /** Invariants that must hold (the scenario's `hold`); default: every one not expected to be violated. Others are not judged. */
  mustHold?: readonly string[];
  /**
   * Partial-order reduction (default off): a step that only changes its own actor, is invisible
   * to every monitor and touches nothing anyone else reads is taken alone (`localStep`). The
   * verdict is the same; a counterexample found with it is valid but may carry a few such steps
   * more than a shortest one.
   */
  reduce?: boolean;
  /**
   * Time abstraction (default on): past the scenario's last absolute instant, states that differ
   * only by the clocks' readings are one state (see `worldKey`). Off, every instant is its own.
   */
  relativeTime?: boolean;
  /** Called about every 2,000 states. */
  onProgress?: (progress: ExploreProgress) => void;
}

export interface ExploreProgress {
  states: number;
  transitions: number;
  depth: number;
  queue: number;
  seconds: number;
}

export interface Counterexample {
  /** Steps from the initial world, as indexes into each state's enabled steps. */
  path: number[];
  /** The same path for `drainlab replay` (choices only where more than one step was enabled). */
  replayPath: string;
  violations: ReportedViolation[];
  unfinished: string[];
  /** The step (depth) at which the violation shows. */
  step: number;
}

export interface ExploreResult {
  verdict: 'proved' | 'violated' | 'bounded';
  states: number;
  transitions: number;
  depth: number;
  seconds: number;
  /** Why exploration stopped early, for `bounded`. */
  bound?: string;
  /** The shortest counterexample to an invariant expected to hold (for `violated`). */
  counterexample?: Counterexample;
  /** For each expected violation, the shortest interleaving that shows it. */
  expected: Partial<Record<string, Counterexample>>;
  /** What storing hashes only risks: the chance that two states shared a hash. */
  collisionProbability: number;
  /** Memory the stored states take (hash table and parent links), per state. */
  bytesPerState: number;
}

interface Successor {
  index: number;
  world: World;
  judged: TraceEvent[];
}

interface Node {
  world: World;
  checker: InvariantChecker;
  id: number;
  depth: number;
}

export function explore(topology: Topology, options: ExploreOptions = {}): ExploreResult {
  const maxDepth = options.maxDepth ?? Infinity;
  const maxStates = options.maxStates ?? 1_000_000;
  const timeLimit = (options.timeLimitSeconds ?? Infinity) * 1000;
  const expectedViolations = new Set(options.expectedViolations ?? []);
  const reduce = options.reduce ?? false;
  const mustHold = options.mustHold ? new Set(options.mustHold) : null;
  const breaks = (invariant: string) => (mustHold ? mustHold.has(invariant) : !expectedViolations.has(invariant));
  const started = performance.now(); // @allow-wallclock: the --time-limit bound, never the model's time
  const elapsed = () => performance.now() - started; // @allow-wallclock

  let buffer: TraceEvent[] = [];
  const specs = createActorSpecs(topology);
  const engine = new Engine(specs, { onTrace: (e) => buffer.push(e), memoize: true });
  // Actors whose state some other actor's environment reads (dependencies, triggers), or that have offers of their own.
  const shared = new Set(specs.filter((s) => s.offers || s.kind === 'external-client' || s.kind === 'transaction-action').map((s) => s.name));
  const model = modelMapOf(topology);
  const horizon = options.relativeTime === false ? Infinity : timeHorizonOf(topology);
  const initialEvents = buffer;
  const root = new InvariantChecker(model);
  for (const e of initialEvents) root.observe(e);
  buffer = [];
  // Checkers by (parent's key, the step's judged events without steps and times): a checker's
  // key is everything its monitors judge by from there on, so equal inputs give an equal
  // judgement. Only results without a new violation are kept (they are shared, never changed).
  const judgements = new Map<string, InvariantChecker>();

  // Hashes only, with parent links and choices by state id to rebuild paths.
  const visited = new StateStore();
  visited.add(stateHash(engine, engine.initial, root, horizon), -1, 0);
  let frontier: Node[] = [{ world: engine.initial, checker: root, id: 0, depth: 0 }];
  let transitions = 0;
  let depth = 0;
  const expected: ExploreResult['expected'] = {};

  const pathTo = (id: number, last?: number): number[] => {
    const path: number[] = last === undefined ? [] : [last];
    for (let at = id; at > 0; at = visited.parent(at)) path.push(visited.step(at));
    return path.reverse();
  };
  const counterexample = (id: number, last: number | undefined, violations: ReportedViolation[], unfinished: string[]): Counterexample => {
    const path = pathTo(id, last);
    return { path, replayPath: replayPathOf(engine, path), violations: rejudge(path, violations, unfinished.length > 0), unfinished, step: path.length };
  };
  /**
   * The violations as a fresh checker reports them along `path`: a shared checker may have been
   * built on another path to the same state, so its messages could cite that path's steps.
   */
  const rejudge = (path: readonly number[], found: readonly ReportedViolation[], atQuietEnd: boolean): ReportedViolation[] => {
    const checker = new InvariantChecker(model);
    for (const e of initialEvents) checker.observe(e);
    let world = engine.initial;
    for (const index of path) {
      buffer = [];
      world = engine.apply(world, engine.enabledSteps(world)[index]);
      for (const e of buffer) if (InvariantChecker.judges(e)) checker.observe(e);
    }
    buffer = [];
    if (atQuietEnd) checker.finish();
    const wanted = new Set(found.map((v) => v.invariant));
    const again = checker.violations.filter((v) => wanted.has(v.invariant) && v.step === path.length);
    return again.length > 0 ? again : [...found];
  };
  const result = (verdict: ExploreResult['verdict'], extra: Partial<ExploreResult> = {}): ExploreResult => ({
    verdict,
    states: visited.size,
    transitions,
    depth,
    seconds: elapsed() / 1000,
    expected,
    collisionProbability: (visited.size * visited.size) / 2 ** 54,
    bytesPerState: visited.bytes().perState,
    ...extra,
  });
  /** Sorts new violations: expected ones are recorded; any other is a counterexample. */
  const judge = (before: number, checker: InvariantChecker, id: number, last: number | undefined, unfinished: string[] = []): Counterexample | null => {
    const fresh = checker.violations.slice(before);
    for (const v of fresh) {
      if (expectedViolations.has(v.invariant) && !expected[v.invariant]) expected[v.invariant] = counterexample(id, last, [v], unfinished);
    }
    const unexpected = fresh.filter((v) => breaks(v.invariant));
    if (unexpected.length > 0 || unfinished.length > 0) return counterexample(id, last, unexpected, unfinished);
    return null;
  };

  /**
   * A step that can be taken alone: a delivery whose transition only changes its own actor
   * (no send, alarm or run-state effect), emits nothing any monitor reads, to an actor nobody
   * else's enabledness depends on. Every other step commutes with it and leaves it enabled,
   * so exploring it alone loses no interleaving that matters (a persistent, invisible singleton).
   * Its successor must be new: otherwise the state is expanded in full (the cycle proviso).
   */
  const localStep = (node: Node, enabled: ReturnType<Engine['enabledSteps']>): Successor | null => {
    for (let i = 0; i < enabled.length; i++) {
      const step = enabled[i];
      if (step.kind !== 'deliver' || shared.has(step.actor)) continue;
      const successor = take(node, enabled, i);
      if (engine.lastStepEffects !== 0 || successor.judged.length > 0) continue;
      if (visited.has(stateHash(engine, successor.world, node.checker, horizon))) return null;
      return successor;
    }
    return null;
  };

  /** Applies step `i` of `node` and keeps the trace events some monitor reads. */
  const take = (node: Node, enabled: ReturnType<Engine['enabledSteps']>, i: number): Successor => {
    buffer = [];
    const world = engine.apply(node.world, enabled[i]);
    transitions++;
    return { index: i, world, judged: buffer.filter(InvariantChecker.judges) };
  };

  /** Records a successor; the result when it ends the exploration (a violation, a bound). */
  const visit = (node: Node, next: Node[], { index, world, judged }: Successor): ExploreResult | null => {
    // A step whose events no monitor reads shares its parent's checker (and its key).
    let checker = node.checker;
    const before = checker.violations.length;
    if (judged.length > 0) {
      const memoKey = `${node.checker.keyHash()}|${judged.map(judgedEventKey).join(';')}`;
      const known = judgements.get(memoKey);
      if (known) checker = known;
      else {
        checker = node.checker.clone();
        for (const e of judged) checker.observe(e);
        if (checker.violations.length === before) {
          if (judgements.size >= 200_000) judgements.clear();
          judgements.set(memoKey, checker);
        }
      }
    }
    const id = visited.add(stateHash(engine, world, checker, horizon), node.id, index);
    if (id < 0) return null;
    const found = judge(before, checker, node.id, index);
    if (found) return result('violated', { counterexample: found });
    next.push({ world, checker, id, depth: node.depth + 1 });
    if (visited.size >= maxStates) return result('bounded', { bound: `${maxStates} states stored (--max-states)` });
    if (visited.size % 2000 === 0) {
      options.onProgress?.({ states: visited.size, transitions, depth, queue: next.length, seconds: elapsed() / 1000 });
      if (elapsed() > timeLimit) return result('bounded', { bound: `time limit of ${options.timeLimitSeconds} s reached` });
    }
    return null;
  };

  while (frontier.length > 0) {
    if (depth >= maxDepth) return result('bounded', { bound: `depth ${maxDepth} reached with ${frontier.length} states still to expand` });
    const next: Node[] = [];
    for (const node of frontier) {
      const enabled = engine.enabledSteps(node.world);
      if (enabled.length === 0) {
        // A quiet end: the end-of-run checks (lost requests, handlers never run, unfinished work).
        const checker = node.checker.clone();
        const before = checker.violations.length;
        checker.finish();
        const found = judge(before, checker, node.id, undefined, unfinishedWork(topology, node.world));
        if (found) return result('violated', { counterexample: found });
        continue;
      }
      const local = reduce ? localStep(node, enabled) : null;
      if (local) {
        const ended = visit(node, next, local);
        if (ended) return ended;
        continue;
      }
      for (let i = 0; i < enabled.length; i++) {
        const ended = visit(node, next, take(node, enabled, i));
        if (ended) return ended;
      }
    }
    frontier = next;
    depth++;
  }
  return result('proved');
}

/** A trace event as the monitors judge it: everything but where and when in the run it happened. */
function judgedEventKey(e: TraceEvent): string {
  const { step: _step, time: _time, vtime: _vtime, ...rest } = e as TraceEvent & { vtime?: number };
  return canonicalJson(rest);
}

function stateHash(engine: Engine, world: World, checker: InvariantChecker, horizon: number): number {
  return hash53(`${engine.hash(world, world.time.realtime >= horizon)}|${checker.keyHash()}`);
}

/**
 * The last absolute instant the scenario names (a request's or a command's `at`, REALTIME ns).
 * Past it, states that differ only by the clocks' readings behave alike (see `worldKey`).
 */
export function timeHorizonOf(topology: Topology): number {
  let horizon = 0;
  for (const client of topology.clients) for (const request of client.workload) horizon = Math.max(horizon, request.at ?? 0);
  for (const command of topology.script ?? []) horizon = Math.max(horizon, command.at ?? 0);
  return horizon;
}

/** The replay path of a path of enabled-step indexes: the choices where more than one step was enabled. */
function replayPathOf(engine: Engine, path: readonly number[]): string {
  const recorded: number[] = [];
  let world = engine.initial;
  for (const index of path) {
    const enabled = engine.enabledSteps(world);
    if (enabled.length > 1) recorded.push(index);
    world = engine.apply(world, enabled[index]);
  }
  return encodeReplayPath(recorded);
}

export type { InvariantId };
