/**
 * The exploration benchmark's third explorer: Spin (the Promela model checker) on
 * `bench/reference.pml`, the reference protocol of `referenceBaseline.ts` written in Promela
 * with the same state, choices and granularity (its state counts equal the baseline's).
 *
 * One exploration is: `spin -o2 -a -DN=.. -DD=.. [protection switches] reference.pml` in a fresh
 * temporary directory (`-o2`: keep write-only variables such as the point in time's bitmask in
 * the state vector, as the baseline keeps them), `gcc -O2 -DSAFETY -DNOCLAIM -DNOREDUCE
 * -DMEMLIM=12000 [-DBFS] -o pan pan.c`, then `./pan -m<depth> -w24`:
 *
 * - full state storage (no bitstate hashing), a hash table of 2^24 slots;
 * - `-DNOREDUCE`: no partial order reduction, so that pan explores the same interleaving graph
 *   as the baseline (every step of the model reads or writes shared variables, so the
 *   reduction would not remove states here anyway);
 * - `-DMEMLIM=12000`: at most 12000 MB, the heap the benchmark gives node; reaching it, or the
 *   time budget (pan is sent SIGINT and prints its statistics), gives the verdict 'bounded';
 * - search: depth first (pan's default), or breadth first (`-DBFS`, pan's safety-only BFS), whose
 *   counterexamples are shortest and so comparable with the baseline's. By default the search is
 *   breadth first when a violation is expected (a protection off, or I6 judged) and depth first
 *   otherwise; `search` overrides;
 * - the depth limit starts at 10,000 (the model's longest path is a few hundred steps) and is
 *   raised tenfold, and the exploration run again, whenever pan says "max search depth too small".
 *
 * `seconds` is the wall time of all of it (spin -a, gcc and pan, each a process started here);
 * `panSeconds` is pan's own "elapsed time" line (its search alone, to pan's precision) and
 * `panWallSeconds` the wall time of the pan process(es) measured here. `memoryMB` is pan's own
 * "total actual memory usage" line (hash table, stored states, search stack): at N = 4, D = 1 it
 * was within 3% of the pan process's maximum RSS measured by GNU time.
 *
 * States are pan's "states, stored" and transitions its "transitions (= stored+matched)", which
 * counts the initial state as one transition more than the baseline does. `depth` is pan's
 * "depth reached": the deepest search stack (DFS) or the last level (BFS, one less than the
 * baseline's level count). A counterexample's length (in steps, as the baseline counts them:
 * the violating step included) comes from pan's "(at depth K)", checked against the trails
 * replayed with `spin -t -p`: an assertion is violated on the step taken from depth K (K + 1
 * steps, either search); an invalid end state is reached in K steps by the breadth-first search
 * and in K + 1 by the depth-first one (whose report counts one less).
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { accessSync, closeSync, constants, copyFileSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BaselineProtections, BaselineResult } from './referenceBaseline.ts';

/** The baseline's figures (`invariant`: the assertion's name, or 'conservation' for an invalid end state; `seconds`: spin -a, gcc and pan together), and pan's own. */
export interface SpinResult extends BaselineResult {
  /** pan's own "elapsed time" (its search). */
  panSeconds: number;
  /** Wall time of the pan process(es), measured here. */
  panWallSeconds: number;
  counterexampleSteps?: number;
  /** pan's "total actual memory usage", MB. */
  memoryMB: number;
  search: 'dfs' | 'bfs';
  /** pan's report, for a reader who wants the rest. */
  panOutput: string;
}

export interface SpinOptions {
  judgeI6?: boolean;
  timeLimitSeconds?: number;
  /** Depth first or breadth first; by default breadth first when a violation is expected. */
  search?: 'dfs' | 'bfs';
  /** Another Promela file with the same switches (a variant of reference.pml, for a check); default bench/reference.pml. */
  model?: string;
}

const MODEL = fileURLToPath(new URL('./reference.pml', import.meta.url));
const MEMLIM_MB = 12000;

/** The first executable called `name` on PATH, or null. */
function onPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/** Whether Spin can run here: `spin` and `gcc` on PATH. */
export function spinAvailable(): boolean {
  return onPath('spin') !== null && onPath('gcc') !== null;
}

/** The reference protocol with N clients and D drives explored by Spin, or null when spin or gcc is not on PATH. */
export function exploreSpin(
  n: number,
  d: number,
  protections: BaselineProtections = { externalGating: true, nbdExternal: true, transactionDrains: true, qedDrainHook: true },
  options: SpinOptions = {},
): SpinResult | null {
  if (!spinAvailable()) return null;
  const judgeI6 = options.judgeI6 ?? false;
  const violationExpected = judgeI6 || Object.values(protections).some((on) => !on);
  const search = options.search ?? (violationExpected ? 'bfs' : 'dfs');
  const budgetMs = (options.timeLimitSeconds ?? Infinity) * 1000;
  const started = performance.now(); // @allow-wallclock: the benchmark's own timing
  const dir = mkdtempSync(join(tmpdir(), 'drainlab-spin-'));
  try {
    // The model is copied so that pan's trail file (named after the model) is written in the temporary directory.
    copyFileSync(options.model ?? MODEL, join(dir, 'reference.pml'));
    const defines = [
      `-DN=${n}`,
      `-DD=${d}`,
      `-DEXTERNAL_GATING=${Number(protections.externalGating)}`,
      `-DNBD_EXTERNAL=${Number(protections.nbdExternal)}`,
      `-DTRANSACTION_DRAINS=${Number(protections.transactionDrains)}`,
      `-DQED_DRAIN_HOOK=${Number(protections.qedDrainHook)}`,
      `-DJUDGE_I6=${Number(judgeI6)}`,
    ];
    check('spin -a', spawnSync('spin', ['-o2', '-a', ...defines, 'reference.pml'], { cwd: dir, encoding: 'utf8' }));
    const gccFlags = ['-O2', '-w', '-DSAFETY', '-DNOCLAIM', '-DNOREDUCE', `-DMEMLIM=${MEMLIM_MB}`, ...(search === 'bfs' ? ['-DBFS'] : [])];
    check('gcc', spawnSync('gcc', [...gccFlags, '-o', 'pan', 'pan.c'], { cwd: dir, encoding: 'utf8' }));

    let depthLimit = 10_000;
    let panWallMs = 0;
    for (;;) {
      const left = budgetMs - (performance.now() - started); // @allow-wallclock
      const panStarted = performance.now(); // @allow-wallclock
      // pan writes to a file, not a pipe: at the budget spawnSync sends SIGINT, on which pan
      // prints its statistics and exits, but it also closes its pipes (pan would die of SIGPIPE).
      const outPath = join(dir, 'pan.out');
      const fd = openSync(outPath, 'w');
      let pan: SpawnSyncReturns<Buffer>;
      try {
        pan = spawnSync('./pan', [`-m${depthLimit}`, '-w24'], {
          cwd: dir,
          stdio: ['ignore', fd, fd],
          ...(Number.isFinite(left) ? { timeout: Math.max(1000, Math.round(left)), killSignal: 'SIGINT' as const } : {}),
        });
      } finally {
        closeSync(fd);
      }
      panWallMs += performance.now() - panStarted; // @allow-wallclock
      const out = readFileSync(outPath, 'utf8');
      if (pan.signal) throw new Error(`spin: ./pan was killed by ${pan.signal}:\n${out.slice(-2000)}`);
      if (pan.error && (pan.error as NodeJS.ErrnoException).code !== 'ETIMEDOUT') throw new Error(`spin: ./pan failed to run: ${pan.error.message}`);
      const interrupted = /^Interrupted$/m.test(out);
      if (/error: max search depth too small/.test(out) && !interrupted) {
        depthLimit *= 10;
        continue;
      }
      if (/VECTORSZ/.test(out)) throw new Error(`spin: the state vector is larger than pan's VECTORSZ:\n${out}`);
      return parse(out, search, interrupted, (performance.now() - started) / 1000, panWallMs / 1000); // @allow-wallclock
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function check(what: string, result: SpawnSyncReturns<string>): void {
  if (result.error) throw new Error(`spin: ${what} failed to run: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`spin: ${what} exited with ${result.status}:\n${result.stdout}${result.stderr}`);
}

function parse(out: string, search: 'dfs' | 'bfs', interrupted: boolean, seconds: number, panWallSeconds: number): SpinResult {
  const number = (pattern: RegExp): number | undefined => {
    const match = pattern.exec(out);
    return match ? Number(match[1]) : undefined;
  };
  // pan prints its counts with %9.8g: from 10^8 on in e-notation, to eight digits.
  const G = '(\\d+(?:\\.\\d*)?(?:e[+-]?\\d+)?)';
  const errors = number(/errors: (\d+)/);
  const states = number(new RegExp(`${G} states, stored`));
  const transitions = number(new RegExp(`${G} transitions \\(= stored\\+matched\\)`));
  if (errors === undefined || states === undefined || transitions === undefined) throw new Error(`spin: pan's output has no statistics:\n${out}`);
  const depth = number(/depth reached (\d+)/) ?? 0;
  const memoryMB = number(/([\d.]+)\s+total actual memory usage/) ?? 0;
  const stored = /state-vector as stored = (\d+) byte \+ (\d+) byte overhead/.exec(out);
  const equivalentMB = number(/([\d.]+)\s+equivalent memory usage for states/) ?? 0;
  const bytesPerState = stored ? Number(stored[1]) + Number(stored[2]) : (equivalentMB * 1048576) / Math.max(states, 1);
  const base = { states, transitions, depth, seconds, panSeconds: number(/pan: elapsed time ([\d.e+-]+) seconds/) ?? panWallSeconds, panWallSeconds, memoryMB, bytesPerState, search, panOutput: out };
  if (errors > 0) {
    const assertion = /pan:\d+: assertion violated \((I\d+)\|\|.*\(at depth (\d+)\)/.exec(out);
    if (assertion) return { verdict: 'violated', invariant: assertion[1], counterexampleSteps: Number(assertion[2]) + 1, ...base };
    const end = /pan:\d+: invalid end state \(at depth (\d+)\)/.exec(out);
    if (end) return { verdict: 'violated', invariant: 'conservation', counterexampleSteps: Number(end[1]) + (search === 'dfs' ? 1 : 0), ...base };
    const other = /pan:\d+: (.*)/.exec(out);
    return { verdict: 'violated', invariant: other ? other[1] : 'unknown', ...base };
  }
  if (interrupted || /reached -DMEMLIM bound|out of memory/.test(out)) return { verdict: 'bounded', ...base };
  return { verdict: 'proved', ...base };
}
