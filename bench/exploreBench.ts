/**
 * `npm run bench:explore`: the explorer on the reference configuration (the library's
 * `reference-nbdN-qedD` family: N NBD clients with two allocating writes each to qed node
 * i mod D, one transaction of D external snapshots), against a plain-TypeScript explorer of
 * the same protocol (`referenceBaseline.ts`) measured in the same run.
 *
 *   npm run bench:explore                      every size (N = 1..8 with D = 1, N = 1..6 with D = 2), 60 s each
 *   npm run bench:explore -- --seconds 20      another budget per exploration
 *   npm run bench:explore -- --sizes 1x1,2x1   chosen sizes (NxD)
 *   npm run bench:explore -- --quick           sizes 1x1, 2x1 and 1x2, 10 s each
 *   npm run bench:explore -- --repeat 3        each size's two explorations three times, alternately;
 *                                              the run with the median rate of each is reported
 *
 * Every exploration runs in its own process (its peak RSS is its own), started with the young
 * generation `drainlab explore` starts with (see `bin/drainlab.js`), the baseline's too. Figures per size:
 * verdict, states, transitions, seconds and states per second of each explorer, drainlab's
 * peak RSS and bytes per stored state, and the ratios drainlab / baseline of states per second
 * and of time to verdict (when both reached one). Then, for N = 1 and D = 1, each protection
 * off: the verdict and the length of the shortest counterexample; and qed's drain hook judged
 * by I6 alone, on and off (the residual gap, docs/patches/12-qed-bdrv-drain.md, makes I6 reachable either way).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { REFERENCE_SIZES } from '../scenarios/reference/referenceFamily.ts';
import type { Measurement } from './exploreOne.ts';

const { values } = parseArgs({
  options: { seconds: { type: 'string' }, sizes: { type: 'string' }, repeat: { type: 'string' }, quick: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
});
if (values.help) {
  console.log('Usage: npm run bench:explore -- [--seconds S] [--sizes NxD,NxD] [--repeat R] [--quick]');
  process.exit(0);
}
const seconds = Number(values.seconds ?? (values.quick ? 10 : 60));
if (!Number.isFinite(seconds) || seconds <= 0) fail(`--seconds: '${values.seconds}' is not a positive number of seconds`);
const repeat = Number(values.repeat ?? 1);
if (!Number.isInteger(repeat) || repeat < 1) fail(`--repeat: '${values.repeat}' is not a whole number of runs of at least 1`);
const sizes = values.sizes ? values.sizes.split(',').map(parseSize) : values.quick ? [{ n: 1, d: 1 }, { n: 2, d: 1 }, { n: 1, d: 2 }] : REFERENCE_SIZES;

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

const perSecond = (m: Measurement) => m.states / Math.max(m.seconds, 1e-6);
const int = (x: number) => Math.round(x).toLocaleString('en-US');
/** Three decimals, or three significant digits below 0.001 (a baseline proof of a few hundred states takes well under a millisecond). */
const ratio = (x: number) => (x >= 0.001 || x === 0 ? x.toFixed(3) : x.toPrecision(3));
/** Seconds to a tenth, or in milliseconds below a tenth of a second. */
const duration = (s: number) => (s >= 0.1 ? s.toFixed(1) : `${(s * 1000).toPrecision(2)} ms`);
const verdictOf = (m: Measurement) => (m.verdict === 'violated' ? `violated (${m.invariant}, ${m.counterexampleSteps} steps)` : m.verdict);

console.log(`Exploration benchmark: reference configuration, ${seconds} s budget per exploration, one process each (Node ${process.version}).`);
if (repeat > 1) console.log(`Each size ${repeat} times, the two explorers alternately; the run with the median rate of each is shown.`);
console.log('');
console.log('| N | D | baseline verdict | baseline states | transitions | s | states/s | drainlab verdict | drainlab states | transitions | depth | s | states/s | peak RSS MB | bytes/state | states/s ratio | time ratio |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const { n, d } of sizes) {
  const bases: Measurement[] = [];
  const labs: Measurement[] = [];
  for (let k = 0; k < repeat; k++) {
    bases.push(run('baseline', String(n), String(d)));
    labs.push(run('drainlab', String(n), String(d)));
  }
  const [base, lab] = [median(bases), median(labs)];
  const timeRatio = base.verdict !== 'bounded' && lab.verdict !== 'bounded' ? ratio(base.seconds / lab.seconds) : '-';
  console.log(
    `| ${n} | ${d} | ${verdictOf(base)} | ${int(base.states)} | ${int(base.transitions)} | ${duration(base.seconds)} | ${int(perSecond(base))} | ` +
      `${verdictOf(lab)} | ${int(lab.states)} | ${int(lab.transitions)} | ${lab.depth} | ${lab.seconds.toFixed(1)} | ${int(perSecond(lab))} | ${lab.peakRssMB} | ${lab.bytesPerState.toFixed(0)} | ` +
      `${(perSecond(lab) / perSecond(base)).toFixed(3)} | ${timeRatio} |`,
  );
}

console.log('');
console.log('N = 1, D = 1, one protection off (invariants of the reference scenarios; I6 alone for the hook):');
console.log('');
console.log('| protection off | baseline verdict | s | drainlab verdict | states | s |');
console.log('|---|---|---|---|---|---|');
const rows: [string, string[]][] = [
  ['externalGating', ['off=externalGating']],
  ['nbdExternal', ['off=nbdExternal']],
  ['transactionDrains', ['off=transactionDrains']],
  ['none (I6 judged)', ['judge=I6']],
  ['qedDrainHook (I6 judged)', ['off=qedDrainHook', 'judge=I6']],
];
for (const [label, args] of rows) {
  const base = run('baseline', '1', '1', ...args);
  const lab = run('drainlab', '1', '1', ...args);
  console.log(`| ${label} | ${verdictOf(base)} | ${duration(base.seconds)} | ${verdictOf(lab)} | ${int(lab.states)} | ${lab.seconds.toFixed(1)} |`);
}

console.log('');
const two = run('drainlab', '1', '1', 'workers=2');
const single = run('drainlab', '1', '1');
console.log(`Worker threads, N = 1, D = 1: 1 thread ${int(perSecond(single))} states/s, 2 workers ${int(perSecond(two))} states/s (${two.verdict}, ${int(two.states)} states).`);

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

function fail(message: string): never {
  console.error(`bench:explore: ${message}`);
  process.exit(2);
}
