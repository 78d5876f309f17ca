/**
 * One measurement of the exploration benchmark, in its own process so that its peak memory is
 * its own: `tsx bench/exploreOne.ts <drainlab|baseline|spin> N D [off=PROTECTION] [judge=I6]
 * [seconds=S] [states=K] [workers=W] [dispatch=readiness] [symmetry=off] [search=dfs|bfs]`.
 * Prints one line of JSON.
 *
 * `spin` runs Spin on bench/reference.pml (bench/spinReference.ts): `seconds` is the wall time
 * of spin -a, gcc and pan together, `panSeconds` pan's own search time, and `peakRssMB` pan's
 * own "total actual memory usage" (hash table, states, stack; close to pan's RSS), not this
 * node process's. `states=K` does not apply to Spin (bounded by time and -DMEMLIM only);
 * `search` chooses pan's depth-first or breadth-first search (default: breadth first when a
 * violation is expected). Without spin or gcc on PATH it prints a note and exits with 3.
 */
import { resolveScenario } from '../runtime/cli/scenarioCommands.ts';
import { explore } from '../runtime/explore/explore.ts';
import { REFERENCE_HOLDS, referenceName } from '../scenarios/reference/referenceFamily.ts';
import { exploreBaseline, type BaselineProtections } from './referenceBaseline.ts';
import { exploreSpin } from './spinReference.ts';

export interface Measurement {
  verdict: 'proved' | 'violated' | 'bounded';
  invariant: string | null;
  counterexampleSteps: number | null;
  states: number;
  transitions: number;
  depth: number;
  seconds: number;
  bytesPerState: number;
  peakRssMB: number;
  /** Spin only: pan's own search time (`seconds` also counts spin -a and gcc). */
  panSeconds?: number;
  /** Spin only: pan's search order. */
  search?: 'dfs' | 'bfs';
}

const [kind, nText, dText, ...rest] = process.argv.slice(2);
const settings = Object.fromEntries(rest.map((arg) => arg.split('=') as [string, string]));
const n = Number(nText);
const d = Number(dText);
const off = settings.off as keyof BaselineProtections | undefined;
const judgeI6 = settings.judge === 'I6';
const seconds = Number(settings.seconds ?? 60);
const maxStates = Number(settings.states ?? 20_000_000);

function measure(): Omit<Measurement, 'peakRssMB'> & { peakRssMB?: number } {
  if (kind === 'spin') {
    const protections: BaselineProtections = { externalGating: true, nbdExternal: true, transactionDrains: true, qedDrainHook: true };
    if (off) protections[off] = false;
    const search = settings.search === 'dfs' || settings.search === 'bfs' ? settings.search : undefined;
    const r = exploreSpin(n, d, protections, { judgeI6, timeLimitSeconds: seconds, search });
    if (!r) {
      console.error('exploreOne: Spin not found (spin and gcc must be on PATH; apt-get install spin)');
      process.exit(3);
    }
    return {
      verdict: r.verdict,
      invariant: r.invariant ?? null,
      counterexampleSteps: r.counterexampleSteps ?? null,
      states: r.states,
      transitions: r.transitions,
      depth: r.depth,
      seconds: r.seconds,
      bytesPerState: r.bytesPerState,
      peakRssMB: Math.round(r.memoryMB),
      panSeconds: r.panSeconds,
      search: r.search,
    };
  }
  if (kind === 'baseline') {
    const protections: BaselineProtections = { externalGating: true, nbdExternal: true, transactionDrains: true, qedDrainHook: true };
    if (off) protections[off] = false;
    let r = exploreBaseline(n, d, protections, { maxStates, judgeI6, timeLimitSeconds: seconds });
    // A run of a few milliseconds times the JIT's warm-up, not the explorer: repeat it (same
    // result) until a second has passed, and report the mean time and the states per second
    // over all repeats.
    let repeats = 1;
    let total = r.seconds;
    while (total < 1 && r.verdict !== 'bounded') {
      r = exploreBaseline(n, d, protections, { maxStates, judgeI6, timeLimitSeconds: seconds });
      total += r.seconds;
      repeats++;
    }
    r = { ...r, seconds: total / repeats };
    return { verdict: r.verdict, invariant: r.invariant ?? null, counterexampleSteps: r.counterexampleSteps ?? null, states: r.states, transitions: r.transitions, depth: r.depth, seconds: r.seconds, bytesPerState: r.bytesPerState };
  }
  const scenario = resolveScenario(referenceName(n, d));
  const protected_ = off ? { ...scenario.topology, protections: { ...scenario.topology.protections, [off]: false } } : scenario.topology;
  const topology = settings.dispatch === 'readiness' ? { ...protected_, dispatchOrder: 'readiness' as const } : protected_;
  const r = explore(topology, {
    mustHold: judgeI6 ? ['I6'] : [...REFERENCE_HOLDS],
    maxStates,
    timeLimitSeconds: seconds,
    workers: Number(settings.workers ?? 1),
    symmetry: settings.symmetry !== 'off',
    granularity: settings.granularity === 'message' ? 'message' : 'thread',
  });
  const ce = r.counterexample;
  return {
    verdict: r.verdict,
    invariant: ce ? (ce.violations[0]?.invariant ?? 'unfinished') : null,
    counterexampleSteps: ce ? ce.step : null,
    states: r.states,
    transitions: r.transitions,
    depth: r.depth,
    seconds: r.seconds,
    bytesPerState: r.bytesPerState,
  };
}

if (kind !== 'drainlab' && kind !== 'baseline' && kind !== 'spin') {
  console.error(`exploreOne: unknown explorer '${kind}'; expected drainlab, baseline or spin`);
  process.exit(2);
}
const result = measure();
console.log(JSON.stringify({ ...result, peakRssMB: result.peakRssMB ?? Math.round(process.resourceUsage().maxRSS / 1024) } satisfies Measurement));
