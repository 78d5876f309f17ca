/**
 * `npm run bench:explore`: the explorer on the reference configuration (the library's
 * `reference-nbdN-qedD` family: N NBD clients with two allocating writes each to qed node
 * i mod D, one transaction of D external snapshots), against a plain-TypeScript explorer of
 * the same protocol (`referenceBaseline.ts`) and against Spin on the same protocol in Promela
 * (`reference.pml`, run by `spinReference.ts`), all measured in the same run.
 *
 *   npm run bench:explore                      every size (N = 1..8 with D = 1, N = 1..6 with D = 2), 60 s each
 *   npm run bench:explore -- --seconds 20      another budget per exploration
 *   npm run bench:explore -- --sizes 1x1,2x1   chosen sizes (NxD)
 *   npm run bench:explore -- --quick           sizes 1x1, 2x1 and 1x2, 10 s each
 *   npm run bench:explore -- --repeat 3        each size's explorations three times, alternately;
 *                                              the run with the median rate of each is reported
 *   npm run bench:explore -- --explorers baseline,spin   only these explorers (default: baseline,drainlab,spin)
 *
 * Every exploration runs in its own process (its peak RSS is its own), started with the young
 * generation `drainlab explore` starts with (see `bin/drainlab.js`), the baseline's too. Figures per size:
 * verdict, states, transitions, seconds and states per second of each explorer, drainlab's
 * peak RSS and bytes per stored state, the ratio drainlab / baseline of states per second, Spin's
 * verdict, states and seconds, and the time-to-verdict ratios drainlab / Spin and drainlab /
 * baseline (when both reached one). A ratio X / Y is X's speed relative to Y: Y's seconds over
 * X's (below 1: X is slower), as the states/s ratio. Then, for N = 1 and D = 1, each protection
 * off: the verdict and the length of the shortest counterexample; and qed's drain hook judged
 * by I6 alone, on and off (the residual gap, docs/patches/12-qed-bdrv-drain.md, makes I6 reachable either way).
 *
 * Spin's seconds are the wall time of the whole exploration: `spin -a`, compiling pan.c with gcc
 * (most of a second, so it dominates the small sizes) and pan's search; the "pan s" column is
 * pan's own search time. Spin's states equal the baseline's (same state, same steps); its search
 * is depth first for the sizes and breadth first (shortest counterexamples) for the protection-off
 * rows. Without `spin` or `gcc` on PATH, Spin's columns are left empty ("-").
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { REFERENCE_SIZES } from '../scenarios/reference/referenceFamily.ts';
import type { Measurement } from './exploreOne.ts';
import { spinAvailable } from './spinReference.ts';

const EXPLORERS = ['baseline', 'drainlab', 'spin'] as const;
type Explorer = (typeof EXPLORERS)[number];
const USAGE = 'Usage: npm run bench:explore -- [--seconds S] [--sizes NxD,NxD] [--repeat R] [--quick] [--explorers baseline,drainlab,spin]';

let values: { seconds?: string; sizes?: string; repeat?: string; quick?: boolean; explorers?: string; help?: boolean };
try {
  ({ values } = parseArgs({
    options: {
      seconds: { type: 'string' },
      sizes: { type: 'string' },
      repeat: { type: 'string' },
      quick: { type: 'boolean' },
      explorers: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  }));
} catch (error) {
  fail(`${(error as Error).message}\n${USAGE}`);
}
if (values.help) {
  console.log(USAGE);
  console.log('');
  console.log('  --seconds S        budget per exploration (default 60, 10 with --quick)');
  console.log('  --sizes NxD,...    sizes to measure (default: N = 1..8 with D = 1, N = 1..6 with D = 2; --quick: 1x1,2x1,1x2)');
  console.log('  --repeat R         run each size R times, the explorers alternately; show the median-rate run of each');
  console.log('  --quick            sizes 1x1, 2x1 and 1x2 at 10 s each');
  console.log('  --explorers LIST   which explorers to run, comma-separated: baseline, drainlab, spin (default all)');
  console.log('');
  console.log('Spin needs spin and gcc on PATH (apt-get install spin); without them its columns are empty.');
  process.exit(0);
}
const seconds = Number(values.seconds ?? (values.quick ? 10 : 60));
if (!Number.isFinite(seconds) || seconds <= 0) fail(`--seconds: '${values.seconds}' is not a positive number of seconds`);
const repeat = Number(values.repeat ?? 1);
if (!Number.isInteger(repeat) || repeat < 1) fail(`--repeat: '${values.repeat}' is not a whole number of runs of at least 1`);
const sizes = values.sizes !== undefined ? values.sizes.split(',').map(parseSize) : values.quick ? [{ n: 1, d: 1 }, { n: 2, d: 1 }, { n: 1, d: 2 }] : REFERENCE_SIZES;
const chosen = new Set<Explorer>(values.explorers !== undefined ? values.explorers.split(',').map(parseExplorer) : EXPLORERS);
const spinFound = chosen.has('spin') && spinAvailable();
/** The explorers this run measures: the chosen ones, without Spin when it is not installed. */
const runs = (e: Explorer) => chosen.has(e) && (e !== 'spin' || spinFound);

const one = fileURLToPath(new URL('./exploreOne.ts', import.meta.url));
function run(...args: string[]): Measurement {
  const child = spawnSync(process.execPath, ['--max-old-space-size=12000', '--max-semi-space-size=512', '--import', 'tsx', one, ...args, `seconds=${seconds}`], { encoding: 'utf8', maxBuffer: 1 << 24 });
  const line = child.stdout.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(line) as Measurement;
  } catch {
    fail(`exploreOne ${args.join(' ')} failed (exit ${child.status}):\n${child.stderr.slice(-2000)}`);
  }
}
/** One exploration of each explorer this run measures (undefined for the others). */
function runAll(...args: string[]): Partial<Record<Explorer, Measurement>> {
  const out: Partial<Record<Explorer, Measurement>> = {};
  for (const e of EXPLORERS) if (runs(e)) out[e] = run(e, ...args);
  return out;
}

const perSecond = (m: Measurement) => m.states / Math.max(m.seconds, 1e-6);
const int = (x: number) => Math.round(x).toLocaleString('en-US');
/** Three decimals, or three significant digits below 0.001 (a baseline proof of a few hundred states takes well under a millisecond). */
const ratio = (x: number) => (x >= 0.001 || x === 0 ? x.toFixed(3) : x.toPrecision(3));
/** Seconds to a tenth, or in milliseconds below a tenth of a second. */
const duration = (s: number) => (s >= 0.1 ? s.toFixed(1) : `${(s * 1000).toPrecision(2)} ms`);
/** pan's own search time; pan reports it in hundredths of a second, so 0 is "< 10 ms". */
const panDuration = (m: Measurement) => (m.panSeconds === undefined ? '-' : m.panSeconds < 0.01 ? '< 10 ms' : duration(m.panSeconds));
const verdictOf = (m: Measurement) => (m.verdict === 'violated' ? `violated (${m.invariant}, ${m.counterexampleSteps} steps)` : m.verdict);
/** A figure of a measurement, or '-' for an explorer not run. */
const cell = (m: Measurement | undefined, f: (m: Measurement) => string | number) => (m ? String(f(m)) : '-');
/** The time-to-verdict ratio x / y (x's speed relative to y: y's seconds over x's), '-' unless both reached a verdict. */
const timeRatio = (x: Measurement | undefined, y: Measurement | undefined) => (x && y && x.verdict !== 'bounded' && y.verdict !== 'bounded' ? ratio(y.seconds / x.seconds) : '-');

console.log(`Exploration benchmark: reference configuration, ${seconds} s budget per exploration, one process each (Node ${process.version}); explorers: ${[...chosen].join(', ')}.`);
if (chosen.has('spin') && !spinFound) console.log('Spin: not found (apt-get install spin); its columns are empty');
if (repeat > 1) console.log(`Each size ${repeat} times, the explorers alternately; the run with the median rate of each is shown.`);
console.log('Time ratio X/Y: Y\'s seconds / X\'s (X\'s speed relative to Y; below 1, X is slower). Spin s: spin -a + gcc + pan, wall time; pan s: pan\'s own search time.');
console.log('');
console.log(
  '| N | D | baseline verdict | baseline states | transitions | s | states/s | drainlab verdict | drainlab states | transitions | depth | s | states/s | peak RSS MB | bytes/state | states/s ratio | ' +
    'spin verdict | spin states | spin s | pan s | time ratio drainlab/spin | time ratio drainlab/baseline |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const { n, d } of sizes) {
  const all: Record<Explorer, Measurement[]> = { baseline: [], drainlab: [], spin: [] };
  for (let k = 0; k < repeat; k++) {
    const r = runAll(String(n), String(d));
    for (const e of EXPLORERS) if (r[e]) all[e].push(r[e]);
  }
  const [base, lab, spin] = EXPLORERS.map((e) => (all[e].length > 0 ? median(all[e]) : undefined));
  console.log(
    `| ${n} | ${d} | ${cell(base, verdictOf)} | ${cell(base, (m) => int(m.states))} | ${cell(base, (m) => int(m.transitions))} | ${cell(base, (m) => duration(m.seconds))} | ${cell(base, (m) => int(perSecond(m)))} | ` +
      `${cell(lab, verdictOf)} | ${cell(lab, (m) => int(m.states))} | ${cell(lab, (m) => int(m.transitions))} | ${cell(lab, (m) => m.depth)} | ${cell(lab, (m) => m.seconds.toFixed(1))} | ${cell(lab, (m) => int(perSecond(m)))} | ` +
      `${cell(lab, (m) => m.peakRssMB)} | ${cell(lab, (m) => m.bytesPerState.toFixed(0))} | ${lab && base ? (perSecond(lab) / perSecond(base)).toFixed(3) : '-'} | ` +
      `${cell(spin, verdictOf)} | ${cell(spin, (m) => int(m.states))} | ${cell(spin, (m) => duration(m.seconds))} | ${cell(spin, panDuration)} | ` +
      `${timeRatio(lab, spin)} | ${timeRatio(lab, base)} |`,
  );
  if (base && spin) warnIfDisagree(`${n}x${d}`, base, spin);
}

console.log('');
console.log('N = 1, D = 1, one protection off (invariants of the reference scenarios; I6 alone for the hook):');
console.log('');
console.log('| protection off | baseline verdict | s | drainlab verdict | states | s | spin verdict | spin states | spin s |');
console.log('|---|---|---|---|---|---|---|---|---|');
const rows: [string, string[]][] = [
  ['externalGating', ['off=externalGating']],
  ['nbdExternal', ['off=nbdExternal']],
  ['transactionDrains', ['off=transactionDrains']],
  ['none (I6 judged)', ['judge=I6']],
  ['qedDrainHook (I6 judged)', ['off=qedDrainHook', 'judge=I6']],
];
for (const [label, args] of rows) {
  const { baseline: base, drainlab: lab, spin } = runAll('1', '1', ...args);
  console.log(
    `| ${label} | ${cell(base, verdictOf)} | ${cell(base, (m) => duration(m.seconds))} | ${cell(lab, verdictOf)} | ${cell(lab, (m) => int(m.states))} | ${cell(lab, (m) => m.seconds.toFixed(1))} | ` +
      `${cell(spin, verdictOf)} | ${cell(spin, (m) => int(m.states))} | ${cell(spin, (m) => duration(m.seconds))} |`,
  );
  if (base && spin) warnIfDisagree(label, base, spin);
}

if (runs('drainlab')) {
  console.log('');
  const two = run('drainlab', '3', '1', 'workers=2');
  const single = run('drainlab', '3', '1');
  console.log(`Worker threads, N = 3, D = 1: 1 thread ${int(perSecond(single))} states/s, 2 workers ${int(perSecond(two))} states/s (${two.verdict}, ${int(two.states)} states).`);
  const message = run('drainlab', '1', '1', 'granularity=message');
  const thread = run('drainlab', '1', '1');
  console.log(
    `N = 1, D = 1 one message per step (--granularity message): ${verdictOf(message)}, ${int(message.states)} states in ${message.seconds.toFixed(1)} s; ` +
      `one thread's call chain per step (the default): ${verdictOf(thread)}, ${int(thread.states)} states in ${thread.seconds.toFixed(1)} s.`,
  );
}

/** Spin and the baseline explore the same protocol: a verdict, violated invariant or shortest counterexample that differs is a bug in one of them. */
function warnIfDisagree(what: string, base: Measurement, spin: Measurement): void {
  if (base.verdict === 'bounded' || spin.verdict === 'bounded') return;
  const stepsDiffer = spin.search === 'bfs' && base.counterexampleSteps !== spin.counterexampleSteps; // both breadth first: both shortest
  if (base.verdict !== spin.verdict || base.invariant !== spin.invariant || stepsDiffer) {
    console.log(`> ${what}: Spin (${verdictOf(spin)}) disagrees with the baseline (${verdictOf(base)})`);
  }
}

/** The run with the median states per second (the lower middle one of an even number). */
function median(runs: Measurement[]): Measurement {
  const sorted = [...runs].sort((a, b) => perSecond(a) - perSecond(b));
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

function parseSize(text: string): { n: number; d: number } {
  const match = /^(\d+)x(\d+)$/.exec(text);
  if (!match || Number(match[1]) < 1 || Number(match[2]) < 1) fail(`--sizes: '${text}' is not a size; expected NxD with whole numbers, e.g. 2x1`);
  return { n: Number(match[1]), d: Number(match[2]) };
}

function parseExplorer(text: string): Explorer {
  if (!(EXPLORERS as readonly string[]).includes(text)) fail(`--explorers: '${text}' is not an explorer; expected a comma-separated list of ${EXPLORERS.join(', ')}`);
  return text as Explorer;
}

function fail(message: string): never {
  console.error(`bench:explore: ${message}`);
  process.exit(2);
}
