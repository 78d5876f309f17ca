/**
 * `npm run bench`: engine throughput on a 10,000-request workload (2 IOThreads, 4 qcow2 nodes
 * over 4 file nodes, 4 external clients, 20 drained sections), against a raw XState baseline.
 *
 *   npm run bench                   10,000 requests, up to 5 repetitions per figure
 *   npm run bench -- --quick        1,000 requests, 2 repetitions (smoke test)
 *   npm run bench -- --seed=7       the seed of the `random` strategy (default 1)
 *   npm run bench -- --reps=3       repetitions per figure (the time budget may take fewer)
 *   npm run bench -- --full         no time budget: every repetition, no timeout on the 4x run
 *   npm run bench -- --verbose      progress on stderr (default: only when stderr is a terminal)
 *
 * Figures:
 *  1. `engine.run(strategy)` steps/s, tracing off (no onTrace) and on (every trace event
 *     JSON.stringify'd into a byte counter), median of the repetitions; engine construction is
 *     outside the timed region.
 *  2. Raw XState: the (actor, event) sequence one engine run delivered, replayed with
 *     `actor.send(event)` on live actors (`createActor(logic, { input }).start()`), which do the
 *     same transitions without routing; ratio engine/raw = raw time / engine time for the same
 *     events.
 *  3. Memory: simulate() with the trace streamed to NDJSON (NdjsonWriter, os.tmpdir()), for the
 *     workload and a 4x longer one, each in a fresh process: heap / RSS after, peak RSS. The
 *     first of these runs is also the correctness gate: every request completes, no invariant
 *     is violated, no machine reports an error; otherwise the bench exits with code 1.
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createActor, type AnyActorRef, type AnyMachineSnapshot, type AnyStateMachine } from 'xstate';
import { createActorSpecs } from '../actors/createSystem.ts';
import type { AnyEvent } from '../machines/effects.ts';
import { completedIds, type ExternalClientContext } from '../machines/externalClientMachine.ts';
import { Engine, type ActorSpec, type RunResult } from '../runtime/engine/Engine.ts';
import { type World, snapshotOf } from '../runtime/engine/World.ts';
import { fifo, random, type Strategy } from '../runtime/scheduler/strategies.ts';
import type { TraceEvent } from '../runtime/trace/TraceEvent.ts';
import type { MemoryRunResult, MemorySample } from './memoryRun.ts';
import { benchWorkload, CLIENT_KINDS, DEPENDENCY_DISTANCE, DRAIN_PAIRS, type BenchWorkload } from './workload.ts';

// ---------------------------------------------------------------------------------------------
// Options

interface Options {
  quick: boolean;
  full: boolean;
  verbose: boolean;
  seed: number;
  reps: number;
  requests: number;
  /** Per figure: no further repetition starts once this many seconds were spent on it. */
  budgetSeconds: number;
  /** The 4x memory run is stopped after this long (null: never). */
  longRunTimeoutSeconds: number | null;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      quick: { type: 'boolean', default: false },
      full: { type: 'boolean', default: false },
      verbose: { type: 'boolean', default: false },
      seed: { type: 'string' },
      reps: { type: 'string' },
    },
  });
  const int = (name: string, text: string | undefined, fallback: number, min: number) => {
    if (text === undefined) return fallback;
    const n = Number(text);
    if (!Number.isInteger(n) || n < min) throw new Error(`bench: --${name} must be an integer >= ${min}, got '${text}'`);
    return n;
  };
  const quick = values.quick ?? false;
  const full = values.full ?? false;
  return {
    quick,
    full,
    verbose: (values.verbose ?? false) || process.stderr.isTTY === true,
    seed: int('seed', values.seed, 1, 0),
    reps: int('reps', values.reps, quick ? 2 : 5, 1),
    requests: quick ? 1_000 : 10_000,
    budgetSeconds: full ? Infinity : quick ? 5 : 15,
    longRunTimeoutSeconds: full ? null : 90,
  };
}

// ---------------------------------------------------------------------------------------------
// Small helpers

const MB = 1024 * 1024;
const now = () => performance.now();
const log = { verbose: false, progress: (line: string) => (log.verbose ? process.stderr.write(`  .. ${line}\n`) : true) };

function exposeGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}
const gc = exposeGc();

let peakRssSampled = 0;
function sampleRss(): void {
  const rss = process.memoryUsage.rss();
  if (rss > peakRssSampled) peakRssSampled = rss;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Runs `once` up to `reps` times; stops early (after at least one) once the next would exceed the budget. */
function repeat<T extends { seconds: number }>(label: string, reps: number, budgetSeconds: number, once: () => T): T[] {
  const results: T[] = [];
  let spent = 0;
  for (let i = 0; i < reps; i++) {
    if (i > 0 && spent + results[results.length - 1].seconds > budgetSeconds) break;
    gc();
    sampleRss();
    const r = once();
    sampleRss();
    results.push(r);
    spent += r.seconds;
    log.progress(`${label}: repetition ${i + 1}/${reps} took ${r.seconds.toFixed(2)} s`);
  }
  return results;
}

const fmtInt = (n: number) => Math.round(n).toLocaleString('en-US');
const fmtS = (s: number) => (s < 10 ? s.toFixed(3) : s.toFixed(2));
const fmtMB = (bytes: number) => (bytes / MB).toFixed(1);

function table(header: string[], rows: string[][], rightAlign: readonly number[] = []): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (rightAlign.includes(i) ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

class BenchFailure extends Error {}

// ---------------------------------------------------------------------------------------------
// Checks

/** Every client saw every one of its requests complete, and the run went quiet on its own. */
function checkRun(label: string, run: Pick<RunResult, 'endReason' | 'steps'>, world: World, workload: BenchWorkload): void {
  if (run.endReason !== 'quiescent') throw new BenchFailure(`${label}: stopped after ${run.steps} steps (${run.endReason}) before the model went quiet`);
  for (const actor of workload.clientActors) {
    const completed = completedIds(snapshotOf(world, actor).context as ExternalClientContext).length;
    if (completed !== workload.perClient) {
      throw new BenchFailure(`${label}: ${actor} completed ${completed} of ${workload.perClient} requests`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// 1. Engine timings (engine.run)

interface EngineRep {
  seconds: number;
  constructMs: number;
  steps: number;
  traceEvents: number;
  traceChars: number;
}

function engineRep(specs: readonly ActorSpec[], strategy: Strategy, tracing: boolean, seed: number, maxSteps: number, workload: BenchWorkload): EngineRep {
  let traceEvents = 0;
  let traceChars = 0;
  const onTrace = tracing
    ? (e: TraceEvent) => {
        traceChars += JSON.stringify(e).length + 1;
        if ((++traceEvents & 0xffff) === 0) sampleRss();
      }
    : undefined;
  const c0 = now();
  const engine = new Engine(specs, { seed, onTrace });
  const c1 = now();
  const t0 = now();
  const run = engine.run(strategy, { maxSteps });
  const t1 = now();
  checkRun(`engine.run(${strategy.name}, tracing ${tracing ? 'on' : 'off'})`, run, run.world, workload);
  return { seconds: (t1 - t0) / 1000, constructMs: c1 - c0, steps: run.steps, traceEvents, traceChars };
}

// ---------------------------------------------------------------------------------------------
// 2. Recording one run's deliveries (with a cost breakdown), and the raw XState replay

interface Recording {
  actors: string[];
  events: AnyEvent[];
  steps: number;
  advances: number;
  finalWorld: World;
  breakdown: { total: number; enabledSteps: number; offers: number; apply: number; transition: number };
}

/** Wraps specs so offers and machine transitions are timed (for the breakdown only). */
function timedSpecs(specs: readonly ActorSpec[], acc: { offers: number; transition: number }): ActorSpec[] {
  return specs.map((spec) => {
    const logic = spec.logic;
    const timedLogic = Object.create(logic, {
      transition: {
        value: (snapshot: AnyMachineSnapshot, event: AnyEvent, scope: unknown) => {
          const t = now();
          try {
            return logic.transition(snapshot, event as never, scope as never);
          } finally {
            acc.transition += now() - t;
          }
        },
      },
    }) as AnyStateMachine;
    const offers = spec.offers;
    return {
      ...spec,
      logic: timedLogic,
      offers: offers
        ? (snapshot, view) => {
            const t = now();
            try {
              return offers(snapshot, view);
            } finally {
              acc.offers += now() - t;
            }
          }
        : undefined,
    };
  });
}

/** One run driven step by step: enabledSteps, the strategy's pick, apply; every delivered (actor, event) recorded. */
function record(specs: readonly ActorSpec[], strategy: Strategy, seed: number, maxSteps: number, workload: BenchWorkload): Recording {
  const acc = { offers: 0, transition: 0 };
  const engine = new Engine(timedSpecs(specs, acc), { seed });
  const actors: string[] = [];
  const events: AnyEvent[] = [];
  let world = engine.initial;
  let rng = world.rng;
  let choices = 0;
  let steps = 0;
  let advances = 0;
  let enabledTime = 0;
  let applyTime = 0;
  const t0 = now();
  for (; steps < maxSteps; steps++) {
    const a = now();
    const enabled = engine.enabledSteps(world);
    const b = now();
    enabledTime += b - a;
    if (enabled.length === 0) break;
    let index = 0;
    if (enabled.length > 1) [index, rng] = strategy.choose(enabled, rng, choices++);
    const step = enabled[index];
    if (step.kind === 'deliver') {
      actors.push(step.actor);
      events.push(step.envelope.event);
    } else if (step.kind === 'offer') {
      actors.push(step.actor);
      events.push(step.event);
    } else {
      advances++;
    }
    const c = now();
    world = engine.apply(world, step);
    applyTime += now() - c;
  }
  const total = now() - t0;
  checkRun(`recording run (${strategy.name})`, { endReason: steps < maxSteps ? 'quiescent' : 'max-steps', steps }, world, workload);
  return {
    actors,
    events,
    steps,
    advances,
    finalWorld: world,
    breakdown: {
      total: total / 1000,
      enabledSteps: enabledTime / 1000,
      offers: acc.offers / 1000,
      apply: applyTime / 1000,
      transition: acc.transition / 1000,
    },
  };
}

interface RawRep {
  seconds: number;
  actors: Map<string, AnyActorRef>;
}

function rawRep(specs: readonly ActorSpec[], recording: Recording): RawRep {
  const live = new Map<string, AnyActorRef>();
  for (const spec of specs) live.set(spec.name, createActor(spec.logic, { input: spec.input as never }).start());
  const targets = recording.actors.map((name) => live.get(name)!);
  const events = recording.events;
  gc();
  const t0 = now();
  for (let i = 0; i < targets.length; i++) targets[i].send(events[i]);
  const t1 = now();
  return { seconds: (t1 - t0) / 1000, actors: live };
}

/** The live actors ended where the engine's actors ended (same value and context). */
function sameFinalState(live: Map<string, AnyActorRef>, world: World): string | null {
  for (const [name, actor] of live) {
    const snap = actor.getSnapshot() as AnyMachineSnapshot;
    if (snap.status === 'error') return `${name} failed: ${String(snap.error)}`;
    const mine = snapshotOf(world, name);
    if (JSON.stringify(snap.value) !== JSON.stringify(mine.value)) return `${name}: state ${JSON.stringify(snap.value)} vs engine ${JSON.stringify(mine.value)}`;
    if (JSON.stringify(snap.context) !== JSON.stringify(mine.context)) return `${name}: context differs from the engine's`;
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// 3. Memory runs (child processes)

interface MemoryOutcome {
  requests: number;
  result: MemoryRunResult | null;
  lastSample: MemorySample | null;
  timedOut: boolean;
  failure: string | null;
}

const benchDir = fileURLToPath(new URL('.', import.meta.url));
const repoRoot = fileURLToPath(new URL('..', import.meta.url));

function memoryRun(requests: number, seed: number, timeoutSeconds: number | null): MemoryOutcome {
  const tracePath = join(tmpdir(), `drainlab-bench-${process.pid}-${requests}.ndjson`);
  try {
    const child = spawnSync(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', join(benchDir, 'memoryRun.ts'), String(requests), String(seed), 'random', tracePath],
      { cwd: repoRoot, encoding: 'utf8', timeout: timeoutSeconds === null ? undefined : timeoutSeconds * 1000, maxBuffer: 64 * MB },
    );
    let result: MemoryRunResult | null = null;
    let lastSample: MemorySample | null = null;
    for (const line of (child.stdout ?? '').split('\n')) {
      if (line.startsWith('RESULT ')) result = JSON.parse(line.slice(7)) as MemoryRunResult;
      else if (line.startsWith('PROGRESS ')) lastSample = JSON.parse(line.slice(9)) as MemorySample;
    }
    const timedOut = (child.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT';
    let failure: string | null = null;
    if (!result && !timedOut) {
      const why = child.error ? String(child.error) : `exit code ${child.status}${child.signal ? `, signal ${child.signal}` : ''}`;
      failure = `memory run (${requests} requests) failed: ${why}\n${(child.stderr ?? '').trim()}`;
    }
    return { requests, result, lastSample, timedOut, failure };
  } finally {
    rmSync(tracePath, { force: true });
  }
}

function gateProblems(r: MemoryRunResult, workload: BenchWorkload): string[] {
  const problems: string[] = [];
  if (r.endReason !== 'quiescent') problems.push(`simulate stopped after ${r.steps} steps (${r.endReason})`);
  for (const u of r.unfinished) problems.push(`unfinished: ${u}`);
  for (const v of r.violations) problems.push(`violation: ${v}`);
  for (const e of r.errors) problems.push(`machine error: ${e}`);
  if (r.requests !== workload.requests) problems.push(`ran ${r.requests} requests, expected ${workload.requests}`);
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Main

function main(): number {
  let options: Options;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\nusage: npm run bench -- [--quick] [--seed=N] [--reps=N] [--full] [--verbose]\n`);
    return 2;
  }
  log.verbose = options.verbose;
  const benchStart = now();
  const out = (line = '') => process.stdout.write(`${line}\n`);
  const workload = benchWorkload(options.requests);
  const specs = createActorSpecs(workload.topology);
  const maxSteps = 60 * workload.requests + 10_000;
  const strategies: Strategy[] = [random, fifo];
  const kinds = CLIENT_KINDS.reduce<Record<string, number>>((acc, k) => ({ ...acc, [k]: (acc[k] ?? 0) + 1 }), {});

  out(
    `drainlab engine benchmark (node ${process.version}, ${fmtInt(workload.requests)} requests: 2 IOThreads, 4 nodes, 4 clients)` +
      (options.quick ? ' [--quick]' : ''),
  );
  out(
    `workload: ${Object.entries(kinds).map(([k, n]) => `${n} ${k}`).join(' + ')} clients x ${fmtInt(workload.perClient)} requests ` +
      `(write/read alternating, each after the one ${DEPENDENCY_DISTANCE} before it); 4 qcow2 nodes over 4 file nodes; ` +
      `${DRAIN_PAIRS} drained_begin/drained_end pairs at 1..${DRAIN_PAIRS + 0.5} ms; ${specs.length} actors`,
  );
  out(`random strategy seed: ${options.seed}; repetitions: up to ${options.reps} per figure` + (options.full ? '' : `, fewer once a figure has taken ${options.budgetSeconds} s`));
  out();

  // Correctness gate (and the first memory figure): simulate() with invariants, trace streamed to NDJSON.
  log.progress(`simulate(random, seed ${options.seed}) with NDJSON trace and invariants, ${workload.requests} requests (child process)`);
  const gate = memoryRun(workload.requests, options.seed, null);
  if (gate.failure || !gate.result) throw new BenchFailure(gate.failure ?? 'memory run produced no result');
  const problems = gateProblems(gate.result, workload);
  if (problems.length > 0) {
    out(`FAILED: simulate(random, seed ${options.seed}) on the ${workload.requests}-request workload:`);
    for (const p of problems.slice(0, 20)) out(`  ${p}`);
    if (problems.length > 20) out(`  ... and ${problems.length - 20} more`);
    return 1;
  }
  out(
    `check: simulate(random, seed ${options.seed}): ${fmtInt(gate.result.steps)} steps, quiescent, every request completed, ` +
      `unfinished 0, violations 0, machine errors 0 -- OK`,
  );
  out();

  // JIT warm-up on a small workload, so the first timed repetition is not also the compiler's.
  const warm = benchWorkload(Math.min(1_000, workload.requests));
  const warmSpecs = createActorSpecs(warm.topology);
  const w0 = now();
  for (const strategy of strategies) {
    for (const tracing of [false, true]) engineRep(warmSpecs, strategy, tracing, options.seed, 60 * warm.requests + 10_000, warm);
  }
  log.progress(`warm-up (${warm.requests} requests, each strategy, tracing off and on) took ${((now() - w0) / 1000).toFixed(2)} s`);

  // 1. engine.run timings.
  const timing = new Map<string, { reps: EngineRep[]; median: number }>();
  const timingRows: string[][] = [];
  const constructMs: number[] = [];
  for (const strategy of strategies) {
    for (const tracing of [false, true]) {
      const label = `engine.run(${strategy.name}, tracing ${tracing ? 'on' : 'off'})`;
      const reps = repeat(label, options.reps, options.budgetSeconds, () => engineRep(specs, strategy, tracing, options.seed, maxSteps, workload));
      const steps = reps[0].steps;
      if (reps.some((r) => r.steps !== steps)) throw new BenchFailure(`${label}: repetitions took different numbers of steps (not deterministic)`);
      const med = median(reps.map((r) => r.seconds));
      constructMs.push(...reps.map((r) => r.constructMs));
      timing.set(`${strategy.name}/${tracing}`, { reps, median: med });
      timingRows.push([
        strategy.name,
        tracing ? 'on' : 'off',
        String(reps.length),
        fmtInt(steps),
        fmtS(med),
        fmtS(Math.min(...reps.map((r) => r.seconds))),
        fmtInt(steps / med),
        tracing ? fmtInt(reps[0].traceEvents) : '-',
        tracing ? fmtMB(reps[0].traceChars) : '-',
      ]);
    }
  }
  out('engine.run() throughput (median of repetitions; tracing on = every trace event JSON.stringify-ed into a byte counter)');
  for (const l of table(['strategy', 'tracing', 'reps', 'steps', 'median s', 'min s', 'steps/s', 'trace events', 'trace MB'], timingRows, [2, 3, 4, 5, 6, 7, 8])) out(l);
  out(`engine construction (not timed above): median ${median(constructMs).toFixed(2)} ms`);
  out();

  // 2. Raw XState baseline, per strategy, over the deliveries of one recorded run.
  const recordings = new Map<string, Recording>();
  const rawRows: string[][] = [];
  const ratioRows: string[][] = [];
  const ratios: number[] = [];
  for (const strategy of strategies) {
    log.progress(`recording the deliveries of one ${strategy.name} run`);
    const rec = record(specs, strategy, options.seed, maxSteps, workload);
    const engineSteps = timing.get(`${strategy.name}/false`)!.reps[0].steps;
    if (rec.steps !== engineSteps) throw new BenchFailure(`recording run (${strategy.name}) took ${rec.steps} steps, engine.run took ${engineSteps}`);
    recordings.set(strategy.name, rec);
    const reps = repeat(`raw actor.send loop (${strategy.name})`, options.reps, options.budgetSeconds, () => rawRep(specs, rec));
    const mismatch = sameFinalState(reps[reps.length - 1].actors, rec.finalWorld);
    if (mismatch) throw new BenchFailure(`raw replay (${strategy.name}) did not end where the engine ended: ${mismatch}`);
    const rawMed = median(reps.map((r) => r.seconds));
    rawRows.push([strategy.name, fmtInt(rec.events.length), String(reps.length), fmtS(rawMed), fmtS(Math.min(...reps.map((r) => r.seconds))), fmtInt(rec.events.length / rawMed), 'yes']);
    const row = [strategy.name];
    for (const tracing of [false, true]) {
      const engineMed = timing.get(`${strategy.name}/${tracing}`)!.median;
      const ratio = rawMed / engineMed;
      ratios.push(ratio);
      row.push(fmtInt(rec.events.length / engineMed), ratio.toFixed(2));
    }
    ratioRows.push(row);
  }
  out('raw xstate actor.send loop (live actors from createActor(logic, { input }), the same (actor, event) sequence the engine delivered)');
  for (const l of table(['strategy', 'events', 'reps', 'median s', 'min s', 'events/s', 'same final state as engine'], rawRows, [1, 2, 3, 4, 5])) out(l);
  out();
  out('ratio engine/raw (engine events/s / raw events/s, same events; target >= 0.50)');
  for (const l of table(['strategy', 'engine events/s off', 'ratio off', 'engine events/s on', 'ratio on'], ratioRows, [1, 2, 3, 4])) out(l);
  const worst = Math.min(...ratios);
  out(`target engine >= 0.5 x raw: ${worst >= 0.5 ? 'met' : 'NOT met'} (lowest ratio ${worst.toFixed(2)})`);
  out();

  // Cost breakdown of the recording runs.
  const breakdownRows: string[][] = [];
  for (const strategy of strategies) {
    const rec = recordings.get(strategy.name)!;
    const b = rec.breakdown;
    const pct = (x: number) => `${((100 * x) / b.total).toFixed(0)}%`;
    breakdownRows.push([
      strategy.name,
      fmtS(b.total),
      `${fmtS(b.enabledSteps)} (${pct(b.enabledSteps)})`,
      `${fmtS(b.offers)} (${pct(b.offers)})`,
      `${fmtS(b.apply)} (${pct(b.apply)})`,
      `${fmtS(b.transition)} (${pct(b.transition)})`,
      `${((1e6 * b.total) / rec.steps).toFixed(1)}`,
    ]);
  }
  out('cost breakdown (the recording run: own loop over enabledSteps + apply with timers, tracing off; seconds)');
  for (const l of table(['strategy', 'total', 'enabledSteps', '..of which offers', 'apply', '..of which logic.transition', 'us/step'], breakdownRows, [1, 2, 3, 4, 5, 6])) out(l);
  out();

  // 3. Memory: the gate run above, and a 4x longer one.
  const longRequests = workload.requests * 4;
  log.progress(`simulate(random) with NDJSON trace, ${longRequests} requests (child process${options.longRunTimeoutSeconds ? `, timeout ${options.longRunTimeoutSeconds} s` : ''})`);
  const long = memoryRun(longRequests, options.seed, options.longRunTimeoutSeconds);
  if (long.failure) throw new BenchFailure(long.failure);
  if (long.result) {
    const longProblems = gateProblems(long.result, benchWorkload(longRequests));
    if (longProblems.length > 0) {
      out(`FAILED: simulate(random, seed ${options.seed}) on the ${longRequests}-request workload:`);
      for (const p of longProblems.slice(0, 20)) out(`  ${p}`);
      return 1;
    }
  }
  sampleRss();
  const memRows: string[][] = [];
  for (const m of [gate, long]) {
    const r = m.result;
    if (r) {
      memRows.push([
        fmtInt(r.requests),
        fmtInt(r.steps),
        fmtS(r.seconds),
        fmtInt(r.traceLines),
        fmtMB(r.traceBytes),
        fmtMB(r.heapBefore),
        fmtMB(r.peakHeapSampled),
        fmtMB(r.heapAfter),
        fmtMB(r.heapReleased),
        fmtMB(r.rssAfter),
        fmtMB(r.maxRssKb * 1024),
      ]);
    } else {
      const s = m.lastSample;
      memRows.push([
        fmtInt(m.requests),
        s ? `>${fmtInt(s.step)}` : '?',
        `>${options.longRunTimeoutSeconds}`,
        s ? `>${fmtInt(s.traceEvents)}` : '?',
        '?',
        '?',
        s ? `(${fmtMB(s.heapUsed)} at ${s.seconds.toFixed(0)} s)` : '?',
        '?',
        '?',
        s ? `(${fmtMB(s.rss)} at ${s.seconds.toFixed(0)} s)` : '?',
        '?',
      ]);
    }
  }
  out(`memory (simulate(random, seed ${options.seed}) with invariants, trace streamed to NDJSON in ${tmpdir()} and deleted; fresh process each; MB)`);
  out('  heap before = workload built, before the run; after = after the run, full GC, result still referenced; released = result dropped, full GC');
  const memHeader = ['requests', 'steps', 'seconds', 'trace lines', 'trace MB', 'heap before', 'peak heap', 'heap after', 'heap released', 'RSS after', 'peak RSS (maxRSS)'];
  for (const l of table(memHeader, memRows, memHeader.map((_, i) => i))) out(l);
  if (long.timedOut) {
    out(
      `the ${fmtInt(longRequests)}-request run was stopped after ${options.longRunTimeoutSeconds} s (engine time grows faster than linearly); ` +
        `its heap/RSS are from the last sample taken while running (before GC); run with --full to let it finish`,
    );
  } else if (gate.result && long.result) {
    const g = gate.result;
    const l = long.result;
    const x = (a: number, b: number) => `x${(a / b).toFixed(2)}`;
    out(
      `4x the requests: trace ${x(l.traceBytes, g.traceBytes)}, heap after ${x(l.heapAfter, g.heapAfter)} ` +
        `(${fmtMB(g.heapAfter - g.heapBefore)} -> ${fmtMB(l.heapAfter - l.heapBefore)} MB kept by the result: final world with its replay choices, engine, checker), ` +
        `heap released ${x(l.heapReleased, g.heapReleased)}, peak RSS ${x(l.maxRssKb, g.maxRssKb)}`,
    );
  }
  sampleRss();
  const timingMaxRss = process.resourceUsage().maxRSS * 1024;
  const summary = [
    `peak RSS: ${fmtMB(timingMaxRss)} MB (timing process), ${fmtMB(gate.result.maxRssKb * 1024)} MB (${fmtInt(workload.requests)}-request traced run)` +
      (long.result ? `, ${fmtMB(long.result.maxRssKb * 1024)} MB (${fmtInt(longRequests)}-request traced run)` : ''),
  ];
  summary.push(`heap after ${fmtInt(workload.requests)}-request traced run: ${fmtMB(gate.result.heapAfter)} MB`);
  summary.push(
    long.result
      ? `after ${fmtInt(longRequests)}: ${fmtMB(long.result.heapAfter)} MB`
      : `after ${fmtInt(longRequests)}: not finished (${long.lastSample ? `${fmtMB(long.lastSample.heapUsed)} MB while running` : 'no sample'})`,
  );
  out(summary.join('; '));
  out();
  out(
    `peak RSS of the timing process: sampled ${fmtMB(peakRssSampled)} MB, maxRSS ${fmtMB(process.resourceUsage().maxRSS * 1024)} MB ` +
      `(holds ${fmtInt([...recordings.values()].reduce((n, r) => n + r.events.length, 0))} recorded events)`,
  );
  out(`bench wall time: ${((now() - benchStart) / 1000).toFixed(1)} s`);
  return 0;
}

try {
  process.exitCode = main();
} catch (error) {
  if (error instanceof BenchFailure) {
    process.stdout.write(`FAILED: ${error.message}\n`);
    process.exitCode = 1;
  } else {
    throw error;
  }
}
