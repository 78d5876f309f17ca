/**
 * Symmetry reduction on the reference family: `npm run bench:symmetry [-- --seconds S]
 * [--sizes 2x1,3x1]`. Each size runs with the contexts dispatching in readiness order (the only
 * order in which identical clients are interchangeable), once with symmetry reduction and once
 * without, each in its own process with the same budget (default 60 s) and the young generation
 * `drainlab explore` starts with (see `bin/drainlab.js`), and prints states,
 * depth reached, states per second and peak memory for both.
 */
import { execFileSync } from 'node:child_process';
import type { Measurement } from './exploreOne.ts';

const args = process.argv.slice(2);
const option = (name: string) => {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
};
const seconds = Number(option('--seconds') ?? 60);
if (!Number.isFinite(seconds) || seconds <= 0) {
  console.error(`--seconds: '${option('--seconds')}' is not a positive number of seconds`);
  process.exit(2);
}
const sizesText = option('--sizes') ?? '2x1,3x1,4x1,4x2';
const sizes = sizesText.split(',').map((s) => {
  const m = /^(\d+)x(\d+)$/.exec(s);
  if (!m) {
    console.error(`--sizes: '${s}' is not NxD (for example 3x1)`);
    process.exit(2);
  }
  return { n: Number(m[1]), d: Number(m[2]) };
});

function run(n: number, d: number, symmetry: boolean): Measurement {
  const out = execFileSync(
    process.execPath,
    ['--max-semi-space-size=512', '--import', 'tsx', 'bench/exploreOne.ts', 'drainlab', String(n), String(d), `seconds=${seconds}`, 'dispatch=readiness', `symmetry=${symmetry ? 'on' : 'off'}`],
    { encoding: 'utf8', maxBuffer: 1 << 20 },
  );
  return JSON.parse(out.trim().split('\n').pop()!) as Measurement;
}

const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
console.log(`Reference family, dispatchOrder: readiness, ${seconds} s per exploration`);
console.log('| N | D | symmetry | verdict | states | depth | s | states/s | peak RSS MB |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const { n, d } of sizes) {
  for (const symmetry of [false, true]) {
    const m = run(n, d, symmetry);
    console.log(`| ${n} | ${d} | ${symmetry ? 'on' : 'off'} | ${m.verdict} | ${fmt(m.states)} | ${m.depth} | ${m.seconds.toFixed(1)} | ${fmt(m.states / m.seconds)} | ${m.peakRssMB} |`);
  }
}
