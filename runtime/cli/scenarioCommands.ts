/**
 * `drainlab run`, `replay`, `list` and `schema`: plain functions with typed options, so tests
 * call them directly; `main.ts` parses flags and maps failures to exit codes.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ScenarioError } from '../errors.ts';
import { loadScenarioFile, withEra, type Scenario } from '../scenario/loadScenario.ts';
import type { Era } from '../../machines/transactionMachine.ts';
import { runScenario, type ScenarioRun } from '../scenario/runScenario.ts';
import { scenarioJsonSchema } from '../scenario/scenarioSchema.ts';
import { INVARIANT_MEANINGS } from '../invariants/meanings.ts';
import type { InvariantId } from '../invariants/monitors.ts';
import { openInspectionFile, openTraceFile } from '../trace/TraceFileWriter.ts';
import { actorColumn, formatTimelineLine, timelineHeaderFor, timelineLine, wrap } from '../trace/formatTimeline.ts';

export const LIBRARY = resolve(import.meta.dirname, '../../scenarios/library');

export interface Output {
  out: (line: string) => void;
  /** Progress for long work: a bar on a terminal, plain lines otherwise. */
  progress?: (line: string, final: boolean) => void;
  isTTY?: boolean;
}

/** A scenario by file path, or by the name of a library scenario. */
export function resolveScenario(ref: string, era?: Era): Scenario {
  const scenario = findScenario(ref);
  return era === undefined ? scenario : withEra(scenario, era);
}

function findScenario(ref: string): Scenario {
  if (existsSync(ref)) return { ...loadScenarioFile(ref), ref };
  const inLibrary = join(LIBRARY, `${ref}.yaml`);
  if (existsSync(inLibrary)) return { ...loadScenarioFile(inLibrary), ref, file: join('scenarios/library', `${ref}.yaml`) };
  throw new ScenarioError(`no scenario file or library scenario named '${ref}'; 'drainlab list' shows the library`);
}

/** Says which era a run or an exploration used when `--era` chose it over the file. */
export function eraLine(scenario: Scenario): string {
  return `era: ${scenario.topology.era} (--era${scenario.eraOverride === scenario.fileEra ? ', as the file says' : `; the file says ${scenario.fileEra}`})`;
}

export interface RunOptions {
  scenario: string;
  seed?: number;
  seeds?: { from: number; to: number };
  strategy?: 'fifo' | 'random';
  json?: boolean;
  trace?: string;
  /** Write the run as XState inspection events (a JSON array). */
  inspect?: string;
  /** Run in this era instead of the file's. */
  era?: Era;
}

function both<T>(a?: (v: T) => void, b?: (v: T) => void): ((v: T) => void) | undefined {
  if (!a || !b) return a ?? b;
  return (v) => {
    a(v);
    b(v);
  };
}

export function runCommand(options: RunOptions, io: Output): number {
  const scenario = resolveScenario(options.scenario, options.era);
  if (options.seeds) return runSeeds(scenario, options, io);
  const seed = options.seed ?? scenario.seed;
  const strategy = options.strategy ?? scenario.strategy;
  const writer = options.trace ? openTraceFile(options.trace, scenario, { seed, strategy, source: 'run' }) : null;
  const inspection = options.inspect ? openInspectionFile(options.inspect, scenario, { seed, strategy, source: 'run' }) : null;
  let run: ScenarioRun | null = null;
  try {
    run = runScenario(scenario, { seed, strategy, sinks: [writer?.event, inspection?.event].filter((s) => s !== undefined), onViolation: both(writer?.violation, inspection?.violation) });
  } finally {
    writer?.finish(run);
    inspection?.finish(run);
  }
  if (options.json) io.out(JSON.stringify(report(run), null, 2));
  else printRun(run, io, writer?.path, inspection?.path);
  return run.met ? 0 : 1;
}

export function replayCommand(options: { path: string; json?: boolean; trace?: string; inspect?: string; era?: Era }, io: Output): number {
  const at = options.path.lastIndexOf('@');
  if (at <= 0) throw new ScenarioError(`replay: '${options.path}' is not a replay line; expected SCENARIO@PATH as a failed run prints it, e.g. two-external-snapshots@0*12.3.1`);
  const scenario = resolveScenario(options.path.slice(0, at), options.era);
  const writer = options.trace ? openTraceFile(options.trace, scenario, { seed: scenario.seed, strategy: 'replay', source: 'replay' }) : null;
  const inspection = options.inspect ? openInspectionFile(options.inspect, scenario, { seed: scenario.seed, strategy: 'replay', source: 'replay' }) : null;
  let run: ScenarioRun | null = null;
  try {
    run = runScenario(scenario, { replayPath: options.path.slice(at + 1), sinks: [writer?.event, inspection?.event].filter((s) => s !== undefined), onViolation: both(writer?.violation, inspection?.violation) });
  } finally {
    writer?.finish(run);
    inspection?.finish(run);
  }
  if (options.json) io.out(JSON.stringify(report(run), null, 2));
  else printRun(run, io, writer?.path, inspection?.path);
  return run.met ? 0 : 1;
}

export interface LibraryEntry {
  name: string;
  file: string;
  title: string;
  expects: 'hold' | 'violate';
  violates: string[];
}

export function libraryEntries(): LibraryEntry[] {
  if (!existsSync(LIBRARY)) return [];
  return readdirSync(LIBRARY)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => {
      const scenario = loadScenarioFile(join(LIBRARY, f));
      const violates = [...(scenario.expect.violate ?? [])];
      return { name: scenario.name, file: join('scenarios/library', f), title: scenario.title, expects: violates.length ? 'violate' : 'hold', violates };
    });
}

export function listCommand(options: { json?: boolean }, io: Output): number {
  const entries = libraryEntries();
  if (options.json) {
    io.out(JSON.stringify(entries, null, 2));
    return 0;
  }
  const width = Math.max(...entries.map((e) => e.name.length), 4);
  for (const e of entries) {
    const verdict = e.expects === 'hold' ? 'holds' : `violates ${e.violates.join(', ')}`;
    io.out(`${e.name.padEnd(width)}  ${verdict}`);
    for (const line of wrap(e.title, 76, '')) io.out(`${' '.repeat(4)}${line}`);
  }
  return 0;
}

export function schemaCommand(io: Output): number {
  io.out(JSON.stringify(scenarioJsonSchema(), null, 2));
  return 0;
}

function runSeeds(scenario: Scenario, options: RunOptions, io: Output): number {
  const { from, to } = options.seeds!;
  const failed: { seed: number; run: ScenarioRun }[] = [];
  const total = to - from + 1;
  const broken = new Map<string, number>();
  for (let seed = from; seed <= to; seed++) {
    const run = runScenario(scenario, { seed, strategy: options.strategy ?? 'random' });
    if (!run.met) failed.push({ seed, run });
    for (const id of new Set(run.result.violations.map((v) => v.invariant))) broken.set(id, (broken.get(id) ?? 0) + 1);
    const done = seed - from + 1;
    const line = io.isTTY
      ? `[${'#'.repeat(Math.round((30 * done) / total)).padEnd(30)}] ${done}/${total} seeds, ${failed.length} not met`
      : `seed ${seed}: ${run.met ? 'met' : 'NOT met'}`;
    io.progress?.(line, done === total);
  }
  const summary = {
    scenario: scenario.name,
    seeds: { from, to },
    met: total - failed.length,
    broken: Object.fromEntries(broken),
    notMet: failed.map(({ seed, run }) => ({ seed, replay: run.replay, failed: run.expectations.filter((e) => !e.met).map((e) => `${e.expectation}: ${e.detail}`) })),
  };
  if (options.json) {
    io.out(JSON.stringify(summary, null, 2));
  } else {
    io.out(`${scenario.name}: ${summary.met} of ${total} seeds met the expectations${failed.length ? `; not met: ${failed.map((f) => f.seed).join(', ')}` : ''}`);
    const expected = new Set<string>(scenario.expect.violate ?? []);
    if (broken.size === 0) io.out(`  no seed broke any invariant${expected.size ? ` (expected to break: ${[...expected].join(', ')})` : ''}`);
    for (const [id, count] of broken) io.out(`  ${id} broken in ${count} of ${total} seeds${expected.has(id) ? ' (expected)' : ''}`);
    for (const f of failed.slice(0, 5)) {
      io.out(`  seed ${f.seed}: ${f.run.expectations.filter((e) => !e.met).map((e) => e.expectation).join('; ')}`);
      io.out(`    ${f.run.replay}`);
    }
  }
  return failed.length === 0 ? 0 : 1;
}

function report(run: ScenarioRun) {
  const { result, scenario } = run;
  return {
    scenario: scenario.name,
    file: scenario.file,
    title: scenario.title,
    era: scenario.topology.era ?? '2015',
    seed: result.seed,
    strategy: result.strategy,
    steps: result.steps,
    endReason: result.endReason,
    replay: run.replay,
    met: run.met,
    expectations: run.expectations,
    violations: result.violations.map(({ leadingEvents, ...v }) => ({ ...v, leadingSteps: leadingEvents.map((e) => e.step) })),
    images: result.images,
    errors: result.errors.map((e) => ({ step: e.step, actor: e.actor, message: e.message })),
  };
}

function printRun(run: ScenarioRun, io: Output, tracePath?: string, inspectPath?: string): void {
  const { result, scenario } = run;
  io.out(`${scenario.name}: ${scenario.title}`);
  if (scenario.eraOverride) io.out(eraLine(scenario));
  io.out(`seed ${result.seed}, strategy ${result.strategy}, ${result.steps} steps`);
  if (tracePath) io.out(`trace: ${tracePath}`);
  if (inspectPath) io.out(`inspection events: ${inspectPath}`);
  io.out('');
  const timeline = (result.trace ?? []).map(timelineLine).filter((l) => l !== null);
  // Long actor names (node:overlay0-file) widen the column rather than push the text out of line.
  const actorWidth = actorColumn(timeline);
  io.out(timelineHeaderFor(actorWidth));
  for (const line of timeline) io.out(formatTimelineLine(line, 80 + actorWidth - 16, actorWidth));
  if (result.images.length) {
    io.out('');
    io.out('images:');
    for (const image of result.images) io.out(`  ${image.kind} of ${image.node} (action ${image.index}, step ${image.step}): [${image.holds.join(', ')}]`);
  }
  io.out('');
  io.out('expectations:');
  for (const e of run.expectations) {
    const named = invariantOf(e.expectation);
    const label = named ? `${e.expectation} (${INVARIANT_MEANINGS[named].name})` : e.expectation;
    for (const line of wrap(`  ${e.met ? 'ok  ' : 'FAIL'} ${label}${e.met && !e.detail.startsWith('violated') ? '' : `: ${e.detail}`}`, 80, '         ')) io.out(line);
  }
  if (run.expectations.some((e) => invariantOf(e.expectation))) io.out("  (what each invariant means: 'drainlab invariants')");
  const firstFailure = run.expectations.find((e) => !e.met && e.step !== undefined);
  const violation = firstFailure ? result.violations.find((v) => v.step === firstFailure.step) : undefined;
  if (violation) {
    io.out('');
    io.out(`what led to step ${violation.step}:`);
    for (const e of violation.leadingEvents.slice(-8)) io.out(`  ${String(e.step).padStart(5)} ${e.actor.padEnd(16)} ${e.type.slice(7)}`.slice(0, 80));
    for (const line of wrap(violation.explanation, 78, '  ')) io.out(`  ${line.trimStart()}`);
  }
  io.out('');
  io.out(run.met ? 'expectations met' : 'expectations NOT met');
  if (!run.met) io.out(`replay: ${run.replay}`);
}

/** `I10 violated` -> `I10`: the invariant an expectation is about, if it is about one. */
function invariantOf(expectation: string): InvariantId | undefined {
  const m = /^(I\d+|conservation) (holds|violated)$/.exec(expectation);
  return m && m[1] in INVARIANT_MEANINGS ? (m[1] as InvariantId) : undefined;
}

/** `drainlab invariants`: each invariant's name and meaning. */
export function invariantsCommand(options: { json?: boolean }, io: Output): number {
  const rows = Object.entries(INVARIANT_MEANINGS).map(([id, m]) => ({ id, ...m }));
  if (options.json) {
    io.out(JSON.stringify(rows, null, 2));
    return 0;
  }
  for (const r of rows) io.out(`${r.id.padEnd(13)} ${r.name.padEnd(15)} ${r.meaning}`);
  io.out('');
  io.out('Each is checked on every step of every run and exploration; docs/invariants.md explains them.');
  return 0;
}
