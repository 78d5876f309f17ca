/**
 * `drainlab explore`: every interleaving of a scenario, breadth first; a verdict (proved,
 * violated, bounded), and for a violation the shortest counterexample as a replay line, an
 * NDJSON trace and the steps that matter.
 */
import { explore, type Counterexample, type ExploreResult, type FoundAt } from '../explore/explore.ts';
import { runScenario, type ScenarioRun } from '../scenario/runScenario.ts';
import { closeSync, unlinkSync } from 'node:fs';
import { openForWriting } from '../trace/NdjsonWriter.ts';
import { openTraceFile } from '../trace/TraceFileWriter.ts';
import { formatTimelineLine, timelineHeader, timelineLine, wrap } from '../trace/formatTimeline.ts';
import { eraLine, resolveScenario, type Output } from './scenarioCommands.ts';
import { replayCommandLine, type Scenario } from '../scenario/loadScenario.ts';
import { DEFAULT_GRANULARITY, type Granularity } from '../explore/threadSteps.ts';
import type { Era } from '../../machines/transactionMachine.ts';

export interface ExploreCommandOptions {
  scenario: string;
  maxDepth?: number;
  maxStates?: number;
  timeLimit?: number;
  reduce?: boolean;
  sleepSets?: boolean;
  symmetry?: boolean;
  workers?: number;
  /** One message per step (default), or a QEMU thread's call chain until it waits (see `threadSteps.ts`). */
  granularity?: Granularity;
  json?: boolean;
  /** Where to write the counterexample's trace (NDJSON). */
  trace?: string;
  /** Explore this era instead of the file's. */
  era?: Era;
}

export function exploreCommand(options: ExploreCommandOptions, io: Output): number {
  const scenario = resolveScenario(options.scenario, options.era);
  // A trace path that cannot be written is said before the exploration, not after minutes of it.
  if (options.trace) closeSync(openForWriting(options.trace, 'trace'));
  const expectedViolations = [...(scenario.expect.violate ?? [])];
  const hold = scenario.expect.hold;
  const mustHold = hold === undefined || hold === 'all' ? undefined : [...(hold as string[])];
  const result = explore(scenario.topology, {
    mustHold,
    maxDepth: options.maxDepth,
    maxStates: options.maxStates,
    timeLimitSeconds: options.timeLimit,
    reduce: options.reduce,
    sleepSets: options.sleepSets,
    symmetry: options.symmetry,
    workers: options.workers,
    granularity: options.granularity,
    expectedViolations,
    onProgress: (p) =>
      io.progress?.(
        io.isTTY
          ? `states ${p.states}, ${Math.round(p.states / Math.max(p.seconds, 0.001))}/s, depth ${p.depth}, queue ${p.queue}`
          : `states ${p.states} (${Math.round(p.states / Math.max(p.seconds, 0.001))}/s), depth ${p.depth}, queue ${p.queue}`,
        false,
      ),
    // Said at once: the counterexample is there long before the proof that nothing else breaks.
    onExpectedFound: (found) =>
      io.progress?.(
        `found ${found.invariant} after ${foundAtText(found)}: a shortest interleaving of ${found.counterexample.step} steps; exploring on to the verdict`,
        true,
      ),
  });
  const missing = expectedViolations.filter((id) => !result.expected[id]);
  const met = result.verdict === 'proved' && missing.length === 0;
  const shown = result.counterexample ?? (missing.length === 0 ? firstExpected(result) : undefined);
  if (shown && options.trace) writeTrace(scenario, shown, options.trace);
  // The file opened to check the path holds nothing when there is no counterexample to write.
  else if (options.trace) unlinkSync(options.trace);
  if (options.json) {
    const granularity = { granularity: options.granularity ?? DEFAULT_GRANULARITY };
    io.out(JSON.stringify({ scenario: scenario.name, era: scenario.topology.era ?? '2015', met, missingViolations: missing, ...granularity, reductions: reductionsOf(options, result), ...summarize(result, scenario, options.granularity !== 'message') }, null, 2));
    return met ? 0 : 1;
  }
  io.out(`${scenario.name}: ${scenario.title}`);
  if (scenario.eraOverride) io.out(eraLine(scenario));
  io.out(`verdict: ${result.verdict}${result.bound ? ` (${result.bound})` : ''}`);
  io.out(`${result.states} states, ${result.transitions} transitions, depth ${result.depth}, ${result.seconds.toFixed(1)} s (${Math.round(result.states / Math.max(result.seconds, 0.001))} states/s)`);
  const reductions = reductionsOf(options, result);
  const symmetry = reductions.symmetry
    ? `on over ${result.symmetry.classes.map((c) => `{${c.join(', ')}}`).join(', ')}`
    : options.symmetry === false
      ? 'off (--no-symmetry)'
      : `none (${result.symmetry.reason})`;
  io.out(
    options.granularity === 'message'
      ? 'granularity: message (--granularity message: every message is a step)'
      : "granularity: thread (a step is a QEMU thread's call chain until it waits; counterexample lengths are in messages)",
  );
  io.out(`reductions: sleep sets ${reductions.sleepSets ? 'on' : 'off (--no-sleep-sets)'}, persistent singletons ${reductions.reduce ? 'on (--reduce)' : 'off'}, symmetry ${symmetry}`);
  io.out(
    `hashes only are stored (${Math.round(result.bytesPerState)} bytes per state with its parent link): the chance that two states shared one is ${result.collisionProbability.toExponential(1)}`,
  );
  for (const [id, ce] of Object.entries(result.expected)) {
    const found = result.foundAfter?.[id];
    const when = found ? `, found after ${foundAtText(found)}` : '';
    io.out(`expected violation ${id}: shortest interleaving ${ce!.step} steps${when}, replay ${replayCommandLine(scenario, ce!.replayPath)}`);
  }
  // The first shortest interleaving of each expected violation, in words (several may share one).
  const explained = new Set<string>();
  for (const ce of Object.values(result.expected)) {
    if (explained.has(ce!.replayPath)) continue;
    explained.add(ce!.replayPath);
    explain(scenario, ce!, io);
  }
  for (const id of missing) io.out(`expected violation ${id}: not found${result.verdict === 'bounded' ? ' within the bounds' : ' in any interleaving'}`);
  if (result.counterexample) explain(scenario, result.counterexample, io);
  io.out('');
  io.out(met ? 'expectations met' : 'expectations NOT met');
  return met ? 0 : 1;
}

/** Which reductions ran, so that two reports can be compared. */
function reductionsOf(options: ExploreCommandOptions, result: ExploreResult): { sleepSets: boolean; reduce: boolean; symmetry: boolean; symmetryClasses: string[][] } {
  return { sleepSets: options.sleepSets !== false, reduce: options.reduce === true, symmetry: result.symmetry.on, symmetryClasses: result.symmetry.on ? result.symmetry.classes : [] };
}

function firstExpected(result: ExploreResult): Counterexample | undefined {
  return Object.values(result.expected)[0];
}

/** `1.2 s (8,611 states)`: when a counterexample was found. */
function foundAtText(found: FoundAt): string {
  return `${found.seconds.toFixed(1)} s (${found.states.toLocaleString('en-US')} states)`;
}

function summarize(result: ExploreResult, scenario: Scenario, macroSteps = false) {
  const describe = (ce: Counterexample) => ({
    steps: ce.step,
    ...(macroSteps ? { macroSteps: ce.macroSteps } : {}),
    replay: replayCommandLine(scenario, ce.replayPath),
    violations: ce.violations.map((v) => ({ invariant: v.invariant, step: v.step, message: v.message })),
    unfinished: ce.unfinished,
  });
  return {
    verdict: result.verdict,
    bound: result.bound ?? null,
    states: result.states,
    transitions: result.transitions,
    depth: result.depth,
    seconds: result.seconds,
    collisionProbability: result.collisionProbability,
    bytesPerState: Math.round(result.bytesPerState),
    counterexample: result.counterexample ? describe(result.counterexample) : null,
    expected: Object.fromEntries(Object.entries(result.expected).map(([id, ce]) => [id, describe(ce!)])),
    // Wall-clock time, apart from the counterexamples so that their reports stay comparable across runs.
    foundAfter: result.foundAfter ?? {},
  };
}

/** The counterexample in words: the timeline of its replay, up to the step where it breaks. */
function explain(scenario: Scenario, ce: Counterexample, io: Output): void {
  io.out('');
  const what = ce.violations.length ? ce.violations.map((v) => `${v.invariant} at step ${v.step}`).join(', ') : ce.unfinished.join('; ');
  io.out(`counterexample (${ce.step} steps): ${what}`);
  io.out(`replay: ${replayCommandLine(scenario, ce.replayPath)}`);
  const run = runScenario(scenario, { replayPath: ce.replayPath });
  io.out(timelineHeader);
  for (const e of run.result.trace ?? []) {
    if (e.step > ce.step) break;
    const line = timelineLine(e);
    if (line) io.out(formatTimelineLine(line));
  }
  for (const v of ce.violations) {
    for (const line of wrap(`  ${v.invariant}: ${v.message}`, 80, '    ')) io.out(line);
    if (v.explanation) for (const line of wrap(`    why it matters: ${v.explanation}`, 80, '    ')) io.out(line);
  }
}

function writeTrace(scenario: Scenario, ce: Counterexample, path: string): void {
  const writer = openTraceFile(path, scenario, { seed: scenario.seed, strategy: 'replay', source: 'explore' });
  let run: ScenarioRun | null = null;
  try {
    run = runScenario(scenario, { replayPath: ce.replayPath, sinks: [writer.event], onViolation: writer.violation });
  } finally {
    writer.finish(run);
  }
}
