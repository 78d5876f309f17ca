/**
 * Writes a whole trace file for one run (TraceFile.ts): the header before the first event, each
 * violation right after the event that revealed it, the images and the end line when the run is
 * over. Streams like NdjsonWriter, so memory stays flat however long the run.
 */
import { createActorSpecs } from '../../actors/createSystem.ts';
import { allProtections } from '../../actors/topology.ts';
import type { ReportedViolation } from '../invariants/InvariantChecker.ts';
import type { Scenario } from '../scenario/loadScenario.ts';
import type { ScenarioRun } from '../scenario/runScenario.ts';
import { closeSync, writeSync } from 'node:fs';
import { NdjsonWriter, openForWriting } from './NdjsonWriter.ts';
import { toInspectionEvents } from './toInspection.ts';
import { imageLine, traceHeader, type TraceLine, violationLine } from './TraceFile.ts';
import type { TraceEvent } from './TraceEvent.ts';

/** What the end of a trace file says about its run (a ScenarioRun is one). */
export interface RunSummary {
  result: Pick<ScenarioRun['result'], 'images' | 'steps' | 'endReason'>;
  replay?: string;
  met?: boolean;
}

export interface TraceFileRun {
  /** The trace sink: pass to `runScenario(..., { sinks: [file.event] })`. */
  readonly event: (e: TraceEvent) => void;
  /** Pass as `onViolation`. */
  readonly violation: (v: ReportedViolation) => void;
  /** Writes images and the end line, and closes the file. */
  finish(run: RunSummary | null): void;
  readonly path: string;
}

/** Every line goes to `emit` (a file, a live stream, a list in a test). */
export function traceFileLines(scenario: Pick<Scenario, 'name' | 'title' | 'file' | 'topology'>, options: { seed: number; strategy: string; source: string }, emit: (line: TraceLine) => void) {
  const header = traceHeader(
    {
      scenario: scenario.name,
      title: scenario.title,
      file: scenario.file,
      seed: options.seed,
      strategy: options.strategy,
      era: scenario.topology.era ?? '2015',
      protections: { ...allProtections, ...scenario.topology.protections },
      source: options.source,
    },
    createActorSpecs(scenario.topology),
  );
  for (const line of header) emit(line);
  let pending: ReportedViolation[] = [];
  const flushViolations = () => {
    for (const v of pending) emit(violationLine(v));
    pending = [];
  };
  return {
    event: (e: TraceEvent) => {
      // A monitor judges an event before the sinks see it: the violation goes after its event.
      emit(e);
      flushViolations();
    },
    violation: (v: ReportedViolation) => {
      pending.push(v);
    },
    end: (run: RunSummary | null) => {
      flushViolations();
      if (!run) return;
      for (const image of run.result.images) emit(imageLine(image));
      emit({ type: '@trace.end', steps: run.result.steps, endReason: run.result.endReason, replay: run.replay, met: run.met });
    },
  };
}

export function openTraceFile(path: string, scenario: Pick<Scenario, 'name' | 'title' | 'file' | 'topology'>, options: TraceFileOptions): TraceFileRun {
  const writer = new NdjsonWriter(path);
  return fileRun(path, traceFileLines(scenario, options, writer.write), () => writer.close());
}

/**
 * The run as XState inspection events (`@xstate.actor`, `@xstate.event`, `@xstate.snapshot`),
 * one JSON array, for tools built on XState's inspection API. The trace is kept in memory until
 * the run ends: inspection files are for runs, not explorations.
 */
export function openInspectionFile(path: string, scenario: Scenario, options: TraceFileOptions): TraceFileRun {
  // Opened now, so that a path that cannot be written is said before the run, not after it.
  closeSync(openForWriting(path, 'inspection events'));
  const collected: TraceLine[] = [];
  return fileRun(path, traceFileLines(scenario, options, (line) => collected.push(line)), () => {
    const fd = openForWriting(path, 'inspection events');
    try {
      writeSync(fd, JSON.stringify(toInspectionEvents(collected), null, 1) + '\n');
    } finally {
      closeSync(fd);
    }
  });
}

type TraceFileOptions = { seed: number; strategy: string; source: string };

function fileRun(path: string, lines: ReturnType<typeof traceFileLines>, close: () => void): TraceFileRun {
  return {
    path,
    event: lines.event,
    violation: lines.violation,
    finish(run) {
      lines.end(run);
      close();
    },
  };
}
