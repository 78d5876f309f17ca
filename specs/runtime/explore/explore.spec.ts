import { describe, expect, it } from 'vitest';
import { explore as exploreAtAnyGranularity, type ExploreOptions } from '../../../runtime/explore/explore.ts';
import type { Topology } from '../../../actors/topology.ts';

/** These specs are about the message-level search (sleep sets, --reduce, exact shortest lengths in messages): granularity.spec.ts compares it with the default, thread granularity. */
const explore = (topology: Topology, options: ExploreOptions = {}) => exploreAtAnyGranularity(topology, { granularity: 'message', ...options });
import { runScenario } from '../../../runtime/scenario/runScenario.ts';
import { simulate } from '../../../runtime/simulate.ts';
import { resolveScenario } from '../../../runtime/cli/scenarioCommands.ts';
import { libraryTopology } from '../../helpers/library.ts';
import { createActorSpecs } from '../../../actors/createSystem.ts';
import { Engine } from '../../../runtime/engine/Engine.ts';
import { InvariantChecker } from '../../../runtime/invariants/InvariantChecker.ts';
import { modelMapOf } from '../../../runtime/simulate.ts';
import type { TraceEvent } from '../../../runtime/trace/TraceEvent.ts';

describe('explore: proving', () => {
  it.each(['event-loop-basics', 'drained-section-dataplane'])('should prove %s: every interleaving holds every invariant', (name) => {
    const result = explore(libraryTopology(name));
    expect(result.verdict).toBe('proved');
    expect(result.counterexample).toBeUndefined();
    expect(result.states).toBeGreaterThan(100);
  });

  it('should say bounded, with what was covered, when the state budget runs out', () => {
    const result = explore(libraryTopology('drained-section-dataplane'), { maxStates: 500 });
    expect(result.verdict).toBe('bounded');
    expect(result.bound).toBe('500 states stored (--max-states)');
    expect(result.states).toBe(500);
  });

  it("should say bounded, naming the heap and what to raise, when the heap passes its limit (rather than let V8 abort the process)", () => {
    const result = explore(libraryTopology('drained-section-dataplane'), { maxStates: 100_000, heapLimitBytes: 1 });
    expect(result.verdict).toBe('bounded');
    expect(result.bound).toMatch(/^heap [\d,]+ MB, past the 0 MB this search may fill \(raise node's limit with NODE_OPTIONS=--max-old-space-size=MB, or lower --max-states\)$/);
    expect(result.states).toBe(2000);
  });

  it('should leave a search that stays under the default heap limit unbounded', () => {
    const result = explore(libraryTopology('drained-section-dataplane'), { maxStates: 100_000 });
    expect(result.verdict).toBe('proved');
  });
});

describe('explore: counterexamples', () => {
  const scenario = resolveScenario('drained-section-without-gating');
  const result = explore(scenario.topology, { expectedViolations: scenario.expect.violate });

  it('should find every expected violation of a protection-off scenario and nothing else', () => {
    expect(result.verdict).toBe('proved');
    expect(Object.keys(result.expected).sort()).toEqual(['I1', 'I5', 'I7']);
  });

  it('should reproduce the violation at the same step when its replay path is replayed', () => {
    const ce = result.expected.I1!;
    const replayed = runScenario(scenario, { replayPath: ce.replayPath });
    expect(replayed.result.violations.find((v) => v.invariant === 'I1')?.step).toBe(ce.step);
  });

  it('should find a shortest counterexample: no interleaving one step shorter shows it', () => {
    const ce = result.expected.I1!;
    const shorter = explore(scenario.topology, { expectedViolations: scenario.expect.violate, maxDepth: ce.step - 1 });
    expect(shorter.expected.I1).toBeUndefined();
    const exact = explore(scenario.topology, { expectedViolations: scenario.expect.violate, maxDepth: ce.step });
    expect(exact.expected.I1?.step).toBe(ce.step);
  });

  it('should judge only the invariants a scenario says must hold', () => {
    const result = explore(libraryTopology('drained-section-dataplane', { externalGating: false }), { mustHold: ['I2', 'I3', 'conservation'] });
    expect(result.verdict).toBe('proved');
  });

  it('should stop at the first violation of an invariant expected to hold, with the counterexample', () => {
    const unexpected = explore(libraryTopology('drained-section-dataplane', { externalGating: false }));
    expect(unexpected.verdict).toBe('violated');
    expect(unexpected.counterexample!.violations.map((v) => v.invariant)).toContain('I1');
    const replayed = simulate(libraryTopology('drained-section-dataplane', { externalGating: false }), { strategy: { replay: unexpected.counterexample!.replayPath } });
    expect(replayed.violations.find((v) => v.invariant === 'I1')?.step).toBe(unexpected.counterexample!.step);
  });
});

describe('explore: the partial-order reduction', () => {
  it.each(['event-loop-basics', 'drained-section-dataplane', 'nested-drained-sections', 'abort-in-the-middle', 'drained-section-without-gating'])(
    'should give the same verdict and find the same violations with and without it, in fewer states: %s',
    (name) => {
      const scenario = resolveScenario(name);
      const options = { expectedViolations: scenario.expect.violate ?? [] };
      const full = explore(scenario.topology, options);
      const reduced = explore(scenario.topology, { ...options, reduce: true });
      expect(reduced.verdict).toBe(full.verdict);
      expect(Object.keys(reduced.expected).sort()).toEqual(Object.keys(full.expected).sort());
      expect(reduced.states).toBeLessThan(full.states);
    },
  );

  it('should give a counterexample that still replays to the violation', () => {
    const scenario = resolveScenario('drained-section-without-gating');
    const reduced = explore(scenario.topology, { expectedViolations: scenario.expect.violate, reduce: true });
    const ce = reduced.expected.I5!;
    const replayed = runScenario(scenario, { replayPath: ce.replayPath });
    expect(replayed.result.violations.find((v) => v.invariant === 'I5')?.step).toBe(ce.step);
  });
});

describe('explore: sleep sets', () => {
  it.each(['event-loop-basics', 'drained-section-dataplane', 'nested-drained-sections', 'two-external-snapshots', 'qed-timer-with-hook', 'drained-section-without-gating', 'kick-when-commit-begins'])(
    'should visit exactly the states of the search without them, in fewer transitions: %s',
    (name) => {
      const scenario = resolveScenario(name);
      const options = { expectedViolations: scenario.expect.violate ?? [], mustHold: scenario.expect.hold === 'all' ? undefined : (scenario.expect.hold as string[] | undefined) };
      const full = explore(scenario.topology, { ...options, sleepSets: false });
      const asleep = explore(scenario.topology, options);
      expect(asleep.verdict).toBe(full.verdict);
      expect(asleep.states).toBe(full.states);
      expect(asleep.depth).toBe(full.depth);
      expect(asleep.transitions).toBeLessThan(full.transitions);
    },
  );

  it.each(['drained-section-without-gating', 'qed-timer-without-hook'])('should find every expected violation at the same shortest step: %s', (name) => {
    const scenario = resolveScenario(name);
    const options = { expectedViolations: scenario.expect.violate ?? [], stopAtExpected: true };
    const steps = (r: ReturnType<typeof explore>) => Object.fromEntries(Object.entries(r.expected).map(([id, ce]) => [id, ce!.step]));
    expect(steps(explore(scenario.topology, options))).toEqual(steps(explore(scenario.topology, { ...options, sleepSets: false })));
  });

  it('should stop at the same shortest counterexample length when a protection is off', () => {
    const topology = libraryTopology('drained-section-dataplane', { externalGating: false });
    const full = explore(topology, { sleepSets: false });
    const asleep = explore(topology);
    expect(asleep.verdict).toBe('violated');
    expect(asleep.counterexample!.step).toBe(full.counterexample!.step);
    expect(asleep.counterexample!.violations.map((v) => v.invariant)).toEqual(full.counterexample!.violations.map((v) => v.invariant));
  });
});

describe('explore: time abstraction', () => {
  it.each(['vm-stop-freezes-qed-timer', 'event-loop-basics', 'drained-section-without-gating'])(
    'should reach the same verdict and violations in no more states with the clocks left out of %s',
    (name) => {
      const scenario = resolveScenario(name);
      const options = { expectedViolations: scenario.expect.violate, mustHold: scenario.expect.hold === 'all' ? undefined : (scenario.expect.hold as string[] | undefined), maxStates: 100_000 };
      const absolute = explore(scenario.topology, { ...options, relativeTime: false });
      const relative = explore(scenario.topology, options);
      expect(absolute.verdict).not.toBe('bounded');
      expect(relative.verdict).toBe(absolute.verdict);
      expect(Object.keys(relative.expected).sort()).toEqual(Object.keys(absolute.expected).sort());
      expect(relative.counterexample?.violations.map((v) => v.invariant)).toEqual(absolute.counterexample?.violations.map((v) => v.invariant));
      expect(relative.states).toBeLessThanOrEqual(absolute.states);
    },
  );
});

describe('explore: worker threads', () => {
  const outline = (r: ReturnType<typeof explore>) => ({
    verdict: r.verdict,
    states: r.states,
    transitions: r.transitions,
    depth: r.depth,
    counterexample: r.counterexample && { path: r.counterexample.path, replayPath: r.counterexample.replayPath, violations: r.counterexample.violations.map((v) => [v.invariant, v.step, v.message]) },
    expected: Object.fromEntries(Object.entries(r.expected).map(([id, ce]) => [id, ce!.path])),
  });

  it('should give the same verdict, counterexample and counts with 1 and 2 workers when a protection is off', () => {
    const topology = libraryTopology('drained-section-dataplane', { externalGating: false });
    const one = explore(topology);
    const two = explore(topology, { workers: 2 });
    expect(one.verdict).toBe('violated');
    expect(outline(two)).toEqual(outline(one));
  });

  it('should give the same proof and expected violations with 1 and 2 workers', () => {
    const scenario = resolveScenario('drained-section-without-gating');
    const options = { expectedViolations: scenario.expect.violate };
    const one = explore(scenario.topology, options);
    const two = explore(scenario.topology, { ...options, workers: 2 });
    expect(one.verdict).toBe('proved');
    expect(outline(two)).toEqual(outline(one));
  });

  it('should stop at the same state budget with 1 and 3 workers, and with the reduction', () => {
    const topology = libraryTopology('two-external-snapshots');
    const one = explore(topology, { maxStates: 5000, reduce: true });
    const three = explore(topology, { maxStates: 5000, reduce: true, workers: 3 });
    expect(one.verdict).toBe('bounded');
    expect(outline(three)).toEqual(outline(one));
  });
});

describe('explore: against a naive breadth-first search', () => {
  /**
   * The shortest interleaving to each invariant's first violation, by the plainest search there
   * is: every world kept whole, the full hash of world and checker as text, a fresh checker
   * copy on every step, no memo, no time abstraction. The explorer's memos, digests, store and
   * time abstraction must not change the lengths it finds.
   */
  function naiveShortest(topology: ReturnType<typeof libraryTopology>, invariants: readonly string[], maxDepth: number): Record<string, number> {
    return naiveSearch(topology, invariants, maxDepth).found;
  }

  function naiveSearch(topology: ReturnType<typeof libraryTopology>, invariants: readonly string[], maxDepth: number): { found: Record<string, number>; states: number } {
    let buffer: TraceEvent[] = [];
    const engine = new Engine(createActorSpecs(topology), { onTrace: (e) => buffer.push(e) });
    const root = new InvariantChecker(modelMapOf(topology));
    for (const e of buffer) root.observe(e);
    const found: Record<string, number> = {};
    const seen = new Set<string>([`${engine.hash(engine.initial)}|${root.key()}`]);
    let frontier = [{ world: engine.initial, checker: root }];
    for (let depth = 1; depth <= maxDepth && frontier.length > 0; depth++) {
      const next: typeof frontier = [];
      for (const { world, checker } of frontier) {
        for (const step of engine.enabledSteps(world)) {
          buffer = [];
          const after = engine.apply(world, step);
          const judged = checker.clone();
          const before = judged.violations.length;
          for (const e of buffer) judged.observe(e);
          for (const v of judged.violations.slice(before)) if (invariants.includes(v.invariant) && !(v.invariant in found)) found[v.invariant] = depth;
          const key = `${engine.hash(after)}|${judged.key()}`;
          if (seen.has(key)) continue;
          seen.add(key);
          next.push({ world: after, checker: judged });
        }
      }
      frontier = next;
    }
    return { found, states: seen.size };
  }

  it.each(['event-loop-basics', 'nested-drained-sections', 'now-era-transaction'])('should store exactly as many states as the naive search in %s (clocks kept)', (name) => {
    const topology = libraryTopology(name);
    const naive = naiveSearch(topology, [], Infinity);
    const explored = explore(topology, { relativeTime: false });
    expect(explored.verdict).toBe('proved');
    expect(explored.states).toBe(naive.states);
  });

  it('should find the same shortest lengths for I1, I5 and I7 without gating (22, 24 and 22 steps)', () => {
    const scenario = resolveScenario('drained-section-without-gating');
    const explored = explore(scenario.topology, { expectedViolations: scenario.expect.violate });
    const naive = naiveShortest(scenario.topology, ['I1', 'I5', 'I7'], 24);
    expect(naive).toEqual({ I1: 22, I5: 24, I7: 22 });
    expect(Object.fromEntries(Object.entries(explored.expected).map(([id, ce]) => [id, ce!.step]))).toEqual(naive);
  });
});

describe('explore: a shortest counterexample counted by hand', () => {
  /**
   * Without external gating, I1 needs exactly these 22 steps (each `[actor, sender, event]`;
   * a clock step is `['clock', ns]`). A mailbox gives up its oldest acceptable message first,
   * so registrations sent at start-up come before what follows them in the same mailbox.
   */
  const HAND: readonly (readonly [string, string | number, string?])[] = [
    ['ctx:main', 'loop:main', 'aio.poll'], // the main loop's poll: it will dispatch the QMP command
    ['ctx:iothread0', 'loop:iothread0', 'aio.poll'], // oldest in the IOThread context's mailbox: before the registrations
    ['ctx:iothread0', 'node:drive0', 'aio.bh.new'], // drive0's completion BH, sent before the client registered
    ['ctx:iothread0', 'node:drive0-file', 'aio.handler.set'], // the file node's AIO handler, likewise
    ['ctx:iothread0', 'node:drive0-file', 'aio.bh.new'], // and its completion BH
    ['ctx:iothread0', 'client:vblk0', 'aio.handler.set'], // the guest's notifier, registered external
    ['ctx:main', 'monitor:qmp', 'aio.handler.set'], // the QMP socket's handler in the main context
    ['clock', 500_000], // time reaches W1's `at` (0.5 ms)
    ['client:vblk0', 'clock', 'far.tick'], // so the guest may send W1
    ['clock', 1_000_000], // time reaches the command's `at` (1 ms)
    ['monitor:qmp', 'clock', 'script.wake'], // bdrv_drained_begin arrives on the QMP socket
    ['ctx:main', 'monitor:qmp', 'aio.handler.notify'], // the socket is readable
    ['monitor:qmp', 'ctx:main', 'aio.dispatch'], // the main loop dispatches the command
    ['ctx:iothread0', 'monitor:qmp', 'aio.acquire'], // aio_context_acquire(iothread0)
    ['monitor:qmp', 'ctx:iothread0', 'aio.acquired'],
    ['node:drive0', 'monitor:qmp', 'drain.begin'], // bdrv_drained_begin(drive0)
    ['ctx:iothread0', 'node:drive0', 'aio.external.disable'], // aio_disable_external: count 1
    ['node:drive0-file', 'node:drive0', 'drain.hook'], // the drain asks its child's driver first
    ['client:vblk0', 'env', 'far.issue'], // the guest sends W1
    ['node:drive0', 'node:drive0-file', 'drain.hook.done'],
    ['ctx:iothread0', 'client:vblk0', 'aio.handler.notify'], // the virtqueue kick: the notifier is ready
    ['ctx:iothread0', 'node:drive0', 'aio.poll'], // the drain's poll dispatches the external notifier: I1
  ];

  it('should find I1 without gating in exactly the 22 steps counted by hand', () => {
    const scenario = resolveScenario('drained-section-without-gating');
    const ce = explore(scenario.topology, { expectedViolations: scenario.expect.violate }).expected.I1!;
    expect(ce.step).toBe(HAND.length);
    const trace = runScenario(scenario, { replayPath: ce.replayPath }).result.trace ?? [];
    const taken = trace
      .filter((e) => e.step >= 1 && e.step <= ce.step && (e.type === '@trace.deliver' || e.type === '@trace.clock'))
      .map((e) => (e.type === '@trace.clock' ? ['clock', (e as unknown as { realtime: number }).realtime] : [e.actor, (e as unknown as { from: string }).from, (e as unknown as { event: string }).event]));
    const sorted = (xs: readonly (readonly unknown[])[]) => xs.map((x) => JSON.stringify(x)).sort();
    expect(sorted(taken)).toEqual(sorted(HAND));
  });
});
