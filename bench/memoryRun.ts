/**
 * One traced run in a fresh process, for the memory figures of bench/engineBench.ts:
 * `simulate()` (invariant monitors on) with the whole trace streamed to an NDJSON file, then
 * heap and RSS after a full GC, and the process's peak RSS.
 *
 *   node --expose-gc --import tsx bench/memoryRun.ts <requests> <seed> <fifo|random> <trace-path>
 *
 * Writes `PROGRESS {json}` lines while it runs (so a parent that stops it early still learns
 * something) and one `RESULT {json}` line at the end. The trace file is deleted before exit.
 */
import { rmSync, statSync, writeSync } from 'node:fs';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { simulate, type SimulationResult } from '../runtime/simulate.ts';
import { NdjsonWriter } from '../runtime/trace/NdjsonWriter.ts';
import type { TraceEvent } from '../runtime/trace/TraceEvent.ts';
import { benchWorkload } from './workload.ts';

export interface MemorySample {
  traceEvents: number;
  step: number;
  seconds: number;
  heapUsed: number;
  rss: number;
}

export interface MemoryRunResult {
  requests: number;
  strategy: string;
  seed: number;
  steps: number;
  endReason: string;
  seconds: number;
  traceLines: number;
  traceBytes: number;
  peakHeapSampled: number;
  peakRssSampled: number;
  /** After a full GC, before the run: the workload and the modules. */
  heapBefore: number;
  /** After a full GC with the result (final world, engine, checker) still referenced. */
  heapAfter: number;
  /** After a full GC once the result is dropped: nothing of the run is kept. */
  heapReleased: number;
  rssAfter: number;
  maxRssKb: number;
  unfinished: string[];
  violations: string[];
  errors: string[];
}

const SAMPLE_EVERY = 1 << 12;
const PROGRESS_EVERY = 1 << 16;

function getGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

function emit(tag: 'PROGRESS' | 'RESULT', value: unknown): void {
  writeSync(1, `${tag} ${JSON.stringify(value)}\n`);
}

function main(): void {
  const [requestsArg, seedArg, strategyArg, tracePath] = process.argv.slice(2);
  const requests = Number(requestsArg);
  const seed = Number(seedArg);
  if (strategyArg !== 'fifo' && strategyArg !== 'random') throw new Error(`memoryRun: strategy must be fifo or random, got '${strategyArg}'`);
  if (!tracePath) throw new Error('memoryRun: usage: memoryRun.ts <requests> <seed> <fifo|random> <trace-path>');
  const gc = getGc();
  const { topology } = benchWorkload(requests);

  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  const writer = new NdjsonWriter(tracePath);
  let events = 0;
  let peakHeap = 0;
  let peakRss = 0;
  const started = performance.now();
  const sample = (e: TraceEvent) => {
    events++;
    if ((events & (SAMPLE_EVERY - 1)) !== 0) return;
    const m = process.memoryUsage();
    if (m.heapUsed > peakHeap) peakHeap = m.heapUsed;
    if (m.rss > peakRss) peakRss = m.rss;
    if ((events & (PROGRESS_EVERY - 1)) === 0) {
      const s: MemorySample = { traceEvents: events, step: e.step, seconds: (performance.now() - started) / 1000, heapUsed: m.heapUsed, rss: m.rss };
      emit('PROGRESS', s);
    }
  };
  try {
    let result: SimulationResult | null = simulate(topology, {
      seed,
      strategy: strategyArg,
      maxSteps: 60 * requests + 10_000,
      sinks: [writer.write, sample],
    });
    const seconds = (performance.now() - started) / 1000;
    writer.close();
    const end = process.memoryUsage();
    if (end.heapUsed > peakHeap) peakHeap = end.heapUsed;
    if (end.rss > peakRss) peakRss = end.rss;
    const traceBytes = statSync(tracePath).size;
    gc();
    const after = process.memoryUsage();
    if (after.rss > peakRss) peakRss = after.rss;
    const summary = {
      strategy: result.strategy,
      steps: result.steps,
      endReason: result.endReason,
      unfinished: result.unfinished.map((u) => (u.length > 300 ? `${u.slice(0, 300)}...` : u)),
      violations: result.violations.map((v) => `${v.invariant} at step ${v.step}: ${v.message}`),
      errors: result.errors.map((e) => `step ${e.step} ${e.actor}: ${e.message}`),
    };
    result = null;
    gc();
    const released = process.memoryUsage().heapUsed;
    const out: MemoryRunResult = {
      requests,
      seed,
      ...summary,
      seconds,
      traceLines: writer.lines,
      traceBytes,
      peakHeapSampled: peakHeap,
      peakRssSampled: peakRss,
      heapBefore,
      heapAfter: after.heapUsed,
      heapReleased: released,
      rssAfter: after.rss,
      maxRssKb: process.resourceUsage().maxRSS,
    };
    emit('RESULT', out);
  } finally {
    rmSync(tracePath, { force: true });
  }
}

main();
