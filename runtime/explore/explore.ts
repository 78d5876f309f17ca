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
 * With `workers`, worker threads hold and expand the states and this thread merges their
 * answers in order (see `search` and `WorkerPool`). Two partial-order reductions: sleep sets
 * (on by default: fewer transitions, the same states) and a persistent singleton (`reduce`).
 */
import type { Topology } from '../../actors/topology.ts';
import type { World } from '../engine/World.ts';
import { NumberHasher } from '../engine/worldHash.ts';
import { InternalError } from '../errors.ts';
import { InvariantChecker, type ReportedViolation } from '../invariants/InvariantChecker.ts';
import type { InvariantId } from '../invariants/monitors.ts';
import { encodeReplayPath } from '../scheduler/ReplayPath.ts';
import { modelMapOf } from '../simulate.ts';
import type { TraceEvent } from '../trace/TraceEvent.ts';
import { Expander, type ExpandedStep, type Expansion } from './Expander.ts';
import { oldGenerationLimit, oldGenerationUsed } from './heapLimit.ts';
import { StateStore } from './StateStore.ts';
import type { HeldRef } from './exploreWorker.ts';
import { WireCodec } from './wireWorld.ts';
import { WorkerPool, type Round } from './WorkerPool.ts';
import { intersectSleep, NOTHING_ASLEEP, SleepEntries, sleepAfter, type SleepEntry } from './sleepSets.ts';
import { DEFAULT_GRANULARITY, type Granularity, type PinnedThreads } from './threadSteps.ts';


export interface ExploreOptions {
  maxDepth?: number;
  maxStates?: number;
  timeLimitSeconds?: number;
  /**
   * The old generation's bytes the search may fill before it stops, bounded (default: 90% of
   * node's limit, `--max-old-space-size`; see heapLimit.ts): past that limit V8 aborts the
   * process with a fatal error and the search's figures are lost; a bounded verdict keeps them
   * and says what to raise.
   */
  heapLimitBytes?: number;
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
   * Sleep sets (default on; see `sleepSets.ts`): a step that commutes with a sibling explored
   * before it is not taken again after that sibling. Every state is still visited at its
   * shortest depth, so the verdict, the states and the length of every counterexample are the
   * same; fewer transitions are computed. A counterexample may be another interleaving of the
   * same length.
   */
  sleepSets?: boolean;
  /**
   * Symmetry reduction (default on; see `symmetry.ts`): states that are images of each other
   * under a renaming of interchangeable clients are one state. It applies only where clients are
   * interchangeable, which needs `dispatchOrder: readiness`; the verdict is the same, and a
   * counterexample is still a shortest one (every state of an orbit lies at the same depth).
   */
  symmetry?: boolean;
  /**
   * Time abstraction (default on): past the scenario's last absolute instant, states that differ
   * only by the clocks' readings are one state (see `worldDigest`). Off, every instant is its own.
   */
  relativeTime?: boolean;
  /**
   * Stop once every expected violation has its shortest interleaving (verdict `bounded`), instead
   * of going on to prove that nothing else breaks.
   */
  stopAtExpected?: boolean;
  /**
   * Worker threads that expand states (default 1: none, all in this thread). The verdict, the
   * counterexamples, the state and transition counts are the same for every number.
   */
  workers?: number;
  /**
   * What a step of the search is (default `message`): one message, or at `thread` a macro step,
   * one step followed at once by the deliveries that continue the same QEMU thread's synchronous
   * call chain until it waits (see `threadSteps.ts`). Choice points are then only where another
   * thread or the environment can act. Sleep sets work on macro steps (two commute when they
   * touch no actor in common, see `independentInWorld`); symmetry stays on. Paths and replay
   * paths stay message-level: `replay` needs no option.
   */
  granularity?: Granularity;
  /** For specs only: each actor's own thread at `thread` granularity, instead of the one its kind gives (`pinnedThreadsOf`). */
  pinnedThreads?: PinnedThreads;
  /** For specs only (a mutation): at `thread` granularity, messages of these types continue their sender's chain even when they are for another thread. */
  takenAsLocal?: ReadonlySet<string>;
  /** Called about every 2,000 states. */
  onProgress?: (progress: ExploreProgress) => void;
  /**
   * Called as each expected violation is first found, with its shortest counterexample: a user
   * waiting for the counterexample has it then, while the exploration goes on to the verdict.
   */
  onExpectedFound?: (found: FoundAt & { invariant: string; counterexample: Counterexample }) => void;
}

/** When a counterexample was found: seconds since the exploration began, and states stored by then. */
export interface FoundAt {
  seconds: number;
  states: number;
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
  /** The step at which the violation shows, in messages (the world step `run` and `replay` show it at). */
  step: number;
  /** The same in steps of the search: `step` at message granularity, macro steps at thread granularity. */
  macroSteps: number;
}

export interface ExploreResult {
  verdict: 'proved' | 'violated' | 'bounded';
  states: number;
  transitions: number;
  depth: number;
  seconds: number;
  /** Why exploration stopped early, for `bounded`. */
  bound?: string;
  /**
   * For each expected violation found: when, in seconds since the exploration began and in
   * states stored (the time to that verdict; the exploration goes on to prove nothing else breaks).
   */
  foundAfter?: Partial<Record<string, FoundAt>>;
  /** The shortest counterexample to an invariant expected to hold (for `violated`). */
  counterexample?: Counterexample;
  /** For each expected violation, the shortest interleaving that shows it. */
  expected: Partial<Record<string, Counterexample>>;
  /** What storing hashes only risks: the chance that two states shared a hash. */
  collisionProbability: number;
  /** Memory the stored states take (hash table and parent links), per state. */
  bytesPerState: number;
  /** Symmetry reduction: the classes of interchangeable clients it merged over, or why it had none. */
  symmetry: { on: boolean; classes: string[][]; reason: string | null };
}

/**
 * A level of the search: its states as parallel lists by place, not an object per state. A
 * level holds up to millions of states for the time it takes to expand the one before and
 * itself; the young generation's collector copies every object still alive, and expanding
 * reads the lists in order rather than chasing a pointer per state.
 */
class Level<W> {
  /** The worlds, until their round is merged (then null: see `release`). */
  readonly worlds: (W | null)[] = [];
  readonly checkers: InvariantChecker[] = [];
  readonly ids: number[] = [];
  /** The steps asleep at each state (not taken: every state they lead to is reached another way). */
  readonly sleeps: (readonly SleepEntry[])[] = [];
  /** The renaming under which each state's world was hashed (symmetry reduction; `''`: none). */
  readonly symmetryKeys: string[] = [];

  get size(): number {
    return this.ids.length;
  }

  add(world: W, checker: InvariantChecker, id: number, sleep: readonly SleepEntry[], symmetryKey: string): void {
    this.worlds.push(world);
    this.checkers.push(checker);
    this.ids.push(id);
    this.sleeps.push(sleep);
    this.symmetryKeys.push(symmetryKey);
  }

  /**
   * Lets the worlds of states `from` to `to` go once they are expanded, so that a world dies
   * when its round is merged rather than when the whole level is: a level is often larger than
   * what is allocated between two collections of the young generation.
   */
  release(from: number, to: number): void {
    this.worlds.fill(null, from, to);
  }

}

/** The states `from` (inclusive) to `to` (exclusive) of a level: a round of expansions. */
interface Batch<W> {
  level: Level<W>;
  from: number;
  to: number;
}

/** No step explored before (shared: never written to). */
const NONE_BEFORE: SleepEntry[] = [];

/** States per round (a round's answers are merged in order), and rounds handed out ahead of the merge. */
const ROUND = 256;
const AHEAD = 4;

export function explore(topology: Topology, options: ExploreOptions = {}): ExploreResult {
  const workers = options.workers ?? 1;
  if (!Number.isInteger(workers) || workers < 1) throw new InternalError(`explore: workers must be a whole number of at least 1, not ${workers}`);
  const granularity = options.granularity ?? DEFAULT_GRANULARITY;
  if (granularity !== 'message' && granularity !== 'thread') throw new InternalError(`explore: granularity must be message or thread, not ${String(granularity)}`);
  const expander = new Expander(topology, options.relativeTime !== false, options.symmetry !== false, granularity, options.pinnedThreads, options.takenAsLocal);
  if (workers === 1) {
    // Expanded when collected, so one round's successors at a time are held.
    const expanding: Expanding<World, Batch<World>> = {
      level: () => expander.newLevel(),
      submit: (batch) => batch,
      collect: ({ level, from, to }) => {
        const expansions: Expansion<World>[] = [];
        for (let place = from; place < to; place++) expansions.push(expander.expand(level.worlds[place]!, level.sleeps[place]));
        return expansions;
      },
    };
    return search<World, Batch<World>>(topology, expander, options, expanding, expander.engine.initial);
  }
  if (options.pinnedThreads || options.takenAsLocal) throw new InternalError('explore: pinnedThreads and takenAsLocal are for one thread only (specs)');
  const pool = new WorkerPool(workers, topology, options.relativeTime !== false, options.symmetry !== false, granularity);
  try {
    const initial = pool.seed(new WireCodec(expander.engine).encode(expander.engine.initial));
    return search<HeldRef, Round>(
      topology,
      expander,
      options,
      {
        level: (level) => pool.balance(level.ids),
        submit: ({ level, from, to }) =>
          pool.submit(
            level.ids.slice(from, to),
            level.sleeps.slice(from, to).map((sleep) => sleep.map((e) => e.identity)),
          ),
        collect: (round) => pool.collect(round),
        adopt: (ref, id) => pool.adopt(ref, id),
        settle: (round) => pool.settle(round),
      },
      initial,
    );
  } finally {
    pool.close();
  }
}

/**
 * Expanding rounds of states: `submit` hands a round out, `collect` gives its expansions in
 * order. With workers, `level` starts a level (the pool evens out its loads), `adopt` says a
 * successor became a state, and `settle` that a round is merged.
 */
interface Expanding<W, R> {
  level?(level: Level<W>): void;
  submit(batch: Batch<W>): R;
  collect(round: R): Expansion<W>[];
  adopt?(world: W, id: number): void;
  settle?(round: R): void;
}

/** The share of node's old-generation limit the search fills before it stops (the rest is V8's headroom for a collection). */
const HEAP_FILL = 0.9;

const megabytes = (bytes: number) => Math.round(bytes / 1e6).toLocaleString('en-US');

function heapBound(used: number, limit: number): string {
  return `heap ${megabytes(used)} MB, past the ${megabytes(limit)} MB this search may fill (raise node's limit with NODE_OPTIONS=--max-old-space-size=MB, or lower --max-states)`;
}

/**
 * The breadth-first search itself, over worlds of any representation `W` (the engine's worlds
 * in one thread, references to the worlds workers hold with workers). A level's states go out in rounds, the next round
 * submitted before the current one is merged; successors are merged in the order of the
 * rounds and of each state's enabled steps, exactly as one thread meets them, so the visited
 * store, the state ids and the first violation found are the same however the expansion was
 * shared out.
 */
function search<W, R>(topology: Topology, expander: Expander, options: ExploreOptions, expanding: Expanding<W, R>, initial: W): ExploreResult {
  const maxDepth = options.maxDepth ?? Infinity;
  const maxStates = options.maxStates ?? 1_000_000;
  const timeLimit = (options.timeLimitSeconds ?? Infinity) * 1000;
  const heapLimit = options.heapLimitBytes ?? HEAP_FILL * oldGenerationLimit();
  const expectedViolations = new Set(options.expectedViolations ?? []);
  const reduce = options.reduce ?? false;
  const sleepSets = options.sleepSets ?? true;
  const mustHold = options.mustHold ? new Set(options.mustHold) : null;
  const breaks = (invariant: string) => (mustHold ? mustHold.has(invariant) : !expectedViolations.has(invariant));
  const started = performance.now(); // @allow-wallclock: the --time-limit bound, never the model's time
  const elapsed = () => performance.now() - started; // @allow-wallclock
  const engine = expander.engine;
  const model = modelMapOf(topology);
  const root = new InvariantChecker(model);
  for (const e of expander.initialEvents) root.observe(e);
  // Checkers by a hash of (parent's key hash, the hash of the step's judged events, see
  // `ExpandedStep.judgedKey`): a checker's key is everything its monitors judge by from there
  // on, so equal inputs give an equal judgement. Hashes, like the store's states: two inputs
  // that shared one would share a judgement, with a chance of the same order as two states
  // sharing a hash. Only results without a new violation are kept (shared, never changed).
  const judgements = new Map<number, InvariantChecker>();
  const sleepEntries = new SleepEntries();
  // The checkers that got a table of successors (or of steps that commute) in this level:
  // emptied when it ends, or every checker ever made would stay reachable from the root through
  // those tables.
  let withMemos: InvariantChecker[] = [];

  // Hashes only, with parent links and choices by state id to rebuild paths.
  const visited = new StateStore();
  /** A state's stored hash: its world's (canonical) hash and the monitors' key under the same renaming. */
  const stateHash = (worldHash: number, symmetryKey: string, checker: InvariantChecker): number =>
    stateHasher
      .reset()
      .add(worldHash)
      .add(expander.symmetry ? expander.symmetry.checkerHash(checker, symmetryKey) : checker.keyHash())
      .digest();
  const start = expander.stateHash(engine.initial);
  visited.add(stateHash(start.hash, start.key, root), -1, 0);
  let frontier = new Level<W>();
  frontier.add(initial, root, 0, NOTHING_ASLEEP, start.key);
  // The next level's state with id `id` is at place `id - nextStart` while the level is being
  // found (ids are given in the order states join it): a state reached again at that depth keeps
  // asleep only what is asleep on both paths (see `intersectSleep`).
  let nextStart = visited.size;
  let transitions = 0;
  let depth = 0;
  const expected: ExploreResult['expected'] = {};
  let expectedFound = 0;
  const foundAfter: Partial<Record<string, FoundAt>> = {};

  const pathTo = (id: number, last?: number): number[] => {
    const path: number[] = last === undefined ? [] : [last];
    for (let at = id; at > 0; at = visited.parent(at)) path.push(visited.step(at));
    return path.reverse();
  };
  /**
   * The counterexample ending at state `id` (and step `last`), replayed once: for its replay
   * path, and for its violations as a fresh checker reports them along it (a shared checker may
   * have been built on another path to the same state, so its messages could cite that path's
   * steps).
   */
  const counterexample = (id: number, last: number | undefined, found: ReportedViolation[], unfinished: string[]): Counterexample => {
    const path = pathTo(id, last);
    const checker = new InvariantChecker(model);
    for (const e of expander.initialEvents) checker.observe(e);
    const { world, choices, lastStepFrom } = expander.replay(path, (e) => InvariantChecker.judges(e) && checker.observe(e));
    if (unfinished.length > 0) checker.finish();
    const wanted = new Set(found.map((v) => v.invariant));
    // A macro step delivers several messages: the violation shows at one of the last one's.
    const lastStep = (v: ReportedViolation) => (last === undefined ? v.step === world.step : v.step > lastStepFrom && v.step <= world.step);
    const again = checker.violations.filter((v) => wanted.has(v.invariant) && lastStep(v));
    const step = again.length > 0 && last !== undefined ? Math.min(...again.map((v) => v.step)) : world.step;
    return { path, replayPath: encodeReplayPath(choices), violations: again.length > 0 ? again : found, unfinished, step, macroSteps: path.length };
  };
  const result = (verdict: ExploreResult['verdict'], extra: Partial<ExploreResult> = {}): ExploreResult => ({
    verdict,
    states: visited.size,
    transitions,
    depth,
    seconds: elapsed() / 1000,
    expected,
    foundAfter,
    collisionProbability: (visited.size * visited.size) / 2 ** 54,
    bytesPerState: visited.bytes().perState,
    symmetry: { on: expander.symmetry !== null, classes: expander.symmetryClasses.classes, reason: expander.symmetryClasses.reason },
    ...extra,
  });
  /** Sorts new violations: expected ones are recorded; any other is a counterexample. */
  const judge = (before: number, checker: InvariantChecker, id: number, last: number | undefined, unfinished: string[] = []): Counterexample | null => {
    if (checker.violations.length === before && unfinished.length === 0) return null;
    const fresh = checker.violations.slice(before);
    for (const v of fresh) {
      if (expectedViolations.has(v.invariant) && !expected[v.invariant]) {
        expected[v.invariant] = counterexample(id, last, [v], unfinished);
        foundAfter[v.invariant] = { seconds: elapsed() / 1000, states: visited.size };
        expectedFound++;
        options.onExpectedFound?.({ invariant: v.invariant, counterexample: expected[v.invariant]!, ...foundAfter[v.invariant]! });
      }
    }
    const unexpected = fresh.filter((v) => breaks(v.invariant));
    if (unexpected.length > 0 || unfinished.length > 0) return counterexample(id, last, unexpected, unfinished);
    return null;
  };

  /** The checker after a step: its parent's when no monitor reads the step's events. */
  const checkerAfter = (parent: InvariantChecker, judged: readonly TraceEvent[], judgedKey: number): InvariantChecker => {
    if (judged.length === 0) return parent;
    // First the judgements made after this very checker (a small table on it, hot), then the
    // ones made after any checker with its key.
    const mine = parent.successors?.get(judgedKey);
    if (mine) return mine;
    const memoKey = judgementHasher.reset().add(parent.keyHash()).add(judgedKey).digest();
    let checker = judgements.get(memoKey);
    if (!checker) {
      checker = parent.clone();
      for (const e of judged) checker.observe(e);
      if (checker.violations.length !== parent.violations.length) return checker;
      remember(judgements, memoKey, checker);
    }
    (parent.successors ??= tableOn(parent)).set(judgedKey, checker);
    return checker;
  };

  /** A new memo table for a checker, which is registered to lose its tables when the level ends. */
  const tableOn = <V>(checker: InvariantChecker): Map<number, V> => {
    withMemos.push(checker);
    return new Map<number, V>();
  };

  /**
   * Whether two steps' judged events leave the monitors of the state being merged (its checker,
   * `commutingAt`) in one state in either order, with no new violation either way. Both orders
   * go through `checkerAfter`, so the checkers they make are those the search meets when it
   * takes either order; the answer is kept by the checker's key hash and the two events' hashes.
   */
  let commutingAt: InvariantChecker = root;
  const commuting = new Map<number, boolean>();
  const judgementsCommute = (a: SleepEntry, b: SleepEntry): boolean => {
    const checker = commutingAt;
    const first = Math.min(a.judgedKey, b.judgedKey);
    const pairKey = commutingHasher.reset().add(first).add(first === a.judgedKey ? b.judgedKey : a.judgedKey).digest();
    // First the answers found at this very checker (a small table on it, hot), then those found
    // at any checker with its key.
    const mine = checker.commutes?.get(pairKey);
    if (mine !== undefined) return mine;
    const memoKey = commutingHasher.reset().add(checker.keyHash()).add(pairKey).digest();
    let answer = commuting.get(memoKey);
    if (answer === undefined) {
      const ab = judgedWithoutViolation(judgedWithoutViolation(checker, a), b);
      const ba = judgedWithoutViolation(judgedWithoutViolation(checker, b), a);
      answer = ab !== null && ba !== null && ab.keyHash() === ba.keyHash();
      remember(commuting, memoKey, answer);
    }
    (checker.commutes ??= tableOn(checker)).set(pairKey, answer);
    return answer;
  };
  /** The checker after `step`'s judged events, or null if they break an invariant (or `checker` is null). */
  const judgedWithoutViolation = (checker: InvariantChecker | null, step: SleepEntry): InvariantChecker | null => {
    if (checker === null) return null;
    const after = checkerAfter(checker, step.judged, step.judgedKey);
    return after.violations.length === checker.violations.length ? after : null;
  };

  /** Records a successor of the state at `place` in `level`; the result when it ends the exploration (a violation, a bound). */
  const visit = (level: Level<W>, place: number, next: Level<W>, step: ExpandedStep<W>, sleep: readonly SleepEntry[]): ExploreResult | null => {
    const parentChecker = level.checkers[place];
    const parentId = level.ids[place];
    const checker = checkerAfter(parentChecker, step.judged, step.judgedKey);
    const hash = stateHash(step.worldHash, step.symmetryKey, checker);
    const id = visited.add(hash, parentId, step.index);
    if (id < 0) {
      if (!sleepSets) return null;
      const earlier = visited.idOf(hash);
      if (earlier < nextStart) return null;
      const again = earlier - nextStart;
      // The same world keeps asleep what sleeps on both paths. A twin under another renaming
      // names its steps by other clients: it is woken in full rather than translated (sound,
      // since a smaller sleep set only explores more).
      const asleep = next.sleeps[again];
      if (asleep.length > 0) next.sleeps[again] = next.symmetryKeys[again] === step.symmetryKey ? intersectSleep(asleep, sleep, sleepEntries) : NOTHING_ASLEEP;
      return null;
    }
    const found = judge(parentChecker.violations.length, checker, parentId, step.index);
    if (found) return result('violated', { counterexample: found });
    if (options.stopAtExpected && expectedViolations.size > 0 && expectedFound === expectedViolations.size) {
      return result('bounded', { bound: 'every expected violation found (stopAtExpected)' });
    }
    expanding.adopt?.(step.world, id);
    next.add(step.world, checker, id, sleep, step.symmetryKey);
    if (visited.size >= maxStates) return result('bounded', { bound: `${maxStates} states stored (--max-states)` });
    if (visited.size % 2000 === 0) {
      options.onProgress?.({ states: visited.size, transitions, depth, queue: next.size, seconds: elapsed() / 1000 });
      if (elapsed() > timeLimit) return result('bounded', { bound: `time limit of ${options.timeLimitSeconds} s reached` });
      const heapUsed = oldGenerationUsed();
      if (heapUsed > heapLimit) return result('bounded', { bound: heapBound(heapUsed, heapLimit) });
    }
    return null;
  };

  /**
   * The partial-order reduction's choice: the first local step (see `ExpandedStep.local`)
   * whose successor is new. A local step commutes with every other step and stays enabled, so
   * taking it alone loses no interleaving that matters (a persistent, invisible singleton);
   * when its successor was seen already the state is expanded in full (the cycle proviso).
   */
  const reducedStep = (checker: InvariantChecker, steps: readonly ExpandedStep<W>[]): ExpandedStep<W> | null => {
    const local = steps.find((s) => s.local);
    if (!local || visited.has(stateHash(local.worldHash, local.symmetryKey, checker))) return null;
    return local;
  };

  /** Merges the successors of the state at `place` in `level`; the result when the exploration ends there. */
  const merge = (level: Level<W>, place: number, expansion: Expansion<W>, next: Level<W>): ExploreResult | null => {
    transitions += expansion.steps.length;
    if (expansion.ended) {
      // A quiet end: the end-of-run checks (lost requests, handlers never run, unfinished work).
      const checker = level.checkers[place].clone();
      const before = checker.violations.length;
      checker.finish();
      const found = judge(before, checker, level.ids[place], undefined, expansion.unfinished);
      return found ? result('violated', { counterexample: found }) : null;
    }
    const asleep = level.sleeps[place];
    const alone = reduce ? reducedStep(level.checkers[place], expansion.steps) : null;
    const explored = alone ? [alone] : expansion.steps;
    commutingAt = level.checkers[place];
    // Most states have one step to explore: a list of the steps before only when one follows.
    let before: SleepEntry[] = NONE_BEFORE;
    for (let k = 0; k < explored.length; k++) {
      const step = explored[k];
      const sleep = sleepSets ? sleepAfter(asleep, before, step, expander.offerReads, judgementsCommute, sleepEntries) : NOTHING_ASLEEP;
      const ended = visit(level, place, next, step, sleep);
      if (ended) return ended;
      if (sleepSets && k + 1 < explored.length) {
        if (before === NONE_BEFORE) before = [];
        before.push(sleepEntries.of(step));
      }
    }
    return null;
  };

  while (frontier.size > 0) {
    if (depth >= maxDepth) return result('bounded', { bound: `depth ${maxDepth} reached with ${frontier.size} states still to expand` });
    const level = frontier;
    const next = new Level<W>();
    expanding.level?.(level);
    // Up to AHEAD rounds are out at once, so every worker has work queued while this thread
    // merges; they are merged strictly in order.
    const inFlight: { batch: Batch<W>; round: R }[] = [];
    let from = 0;
    const handOut = () => {
      while (inFlight.length < AHEAD && from < level.size) {
        const batch = { level, from, to: Math.min(from + ROUND, level.size) };
        from = batch.to;
        inFlight.push({ batch, round: expanding.submit(batch) });
      }
    };
    handOut();
    while (inFlight.length > 0) {
      const { batch, round } = inFlight.shift()!;
      handOut();
      const expansions = expanding.collect(round);
      for (let place = batch.from; place < batch.to; place++) {
        const ended = merge(level, place, expansions[place - batch.from], next);
        if (ended) return ended;
      }
      level.release(batch.from, batch.to);
      expanding.settle?.(round);
    }
    frontier = next;
    nextStart = visited.size;
    for (const checker of withMemos) {
      checker.successors = null;
      checker.commutes = null;
    }
    withMemos = [];
    depth++;
  }
  return result('proved');
}

/** Entries kept in the explorer's tables of judgements (by checker key) before they are emptied. */
const MEMO_LIMIT = 200_000;

/** `table.set(key, value)`, the table emptied first once it holds `MEMO_LIMIT` entries. */
function remember<V>(table: Map<number, V>, key: number, value: V): void {
  if (table.size >= MEMO_LIMIT) table.clear();
  table.set(key, value);
}

const stateHasher = new NumberHasher();
const judgementHasher = new NumberHasher();
const commutingHasher = new NumberHasher();


export type { InvariantId };
