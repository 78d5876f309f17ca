/**
 * What the viewer shows: a trace as NDJSON lines, either complete (a file, a finished run) or
 * growing (a scenario run step by step, or a file another process is writing), with listeners
 * told of each new line and of the end.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import type { Scenario } from '../scenario/loadScenario.ts';
import { startScenario } from '../scenario/runScenario.ts';
import { TraceLineChecker } from '../trace/readTraceFile.ts';
import type { TraceLine } from '../trace/TraceFile.ts';
import { traceFileLines } from '../trace/TraceFileWriter.ts';

export interface TraceListener {
  line(json: string): void;
  end(): void;
}

export class TraceSource {
  /** The lines so far, each one JSON text. */
  readonly lines: string[] = [];
  ended = false;
  /** A problem that stopped a followed file (shown to the page as the end). */
  problem: string | null = null;
  private readonly listeners = new Set<TraceListener>();
  private stopper: (() => void) | null = null;

  constructor(
    readonly id: string,
    readonly label: string,
    readonly live: boolean,
  ) {}

  push(line: TraceLine | string): void {
    const json = typeof line === 'string' ? line : JSON.stringify(line);
    this.lines.push(json);
    for (const l of this.listeners) l.line(json);
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    for (const l of this.listeners) l.end();
    this.listeners.clear();
  }

  /** Sends every line so far, then each new one; returns the unsubscribe. */
  follow(listener: TraceListener): () => void {
    for (const json of this.lines) listener.line(json);
    if (this.ended) {
      listener.end();
      return () => {};
    }
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Stops whatever feeds a live source (a paced run, a followed file). */
  stop(): void {
    this.stopper?.();
    this.stopper = null;
  }

  /** A complete trace. */
  static ofLines(id: string, label: string, lines: readonly TraceLine[]): TraceSource {
    const source = new TraceSource(id, label, false);
    for (const line of lines) source.push(line);
    source.end();
    return source;
  }

  /** Runs a scenario to the end at once and keeps its trace file's lines. */
  static ofRun(id: string, label: string, scenario: Scenario, run: { seed?: number; replayPath?: string }): TraceSource {
    const source = new TraceSource(id, label, false);
    const progress = beginRun(scenario, run, source);
    while (!progress.advance(Infinity));
    progress.finish();
    return source;
  }

  /**
   * Runs a scenario a step every `paceMs` of real time, so a person can watch it happen. The
   * pacing is the server's: the run's steps and trace are those of `drainlab run`.
   */
  static ofLiveRun(id: string, label: string, scenario: Scenario, run: { seed?: number; replayPath?: string }, paceMs: number): TraceSource {
    const source = new TraceSource(id, label, true);
    const progress = beginRun(scenario, run, source);
    let timer: NodeJS.Timeout | null = null;
    const tick = () => {
      if (progress.advance(1)) {
        progress.finish();
        timer = null;
        return;
      }
      timer = setTimeout(tick, paceMs); // @allow-wallclock: the server paces a person's view; the run's steps never read it
    };
    timer = setTimeout(tick, paceMs); // @allow-wallclock: as above
    source.stopper = () => {
      if (timer) clearTimeout(timer);
    };
    return source;
  }

  /**
   * Follows a trace file another process is writing (`drainlab run NAME --trace FILE`): new
   * complete lines are checked and sent as they appear, until the `@trace.end` line.
   */
  static ofGrowingFile(id: string, label: string, file: string, pollMs = 100): TraceSource {
    const source = new TraceSource(id, label, true);
    const checker = new TraceLineChecker(file);
    let offset = 0;
    let lineNumber = 0;
    let partial = '';
    let timer: NodeJS.Timeout | null = null;
    const readMore = () => {
      let size: number;
      try {
        size = statSync(file).size;
      } catch {
        size = offset;
      }
      if (size > offset) {
        const fd = openSync(file, 'r');
        try {
          const buffer = Buffer.alloc(size - offset);
          readSync(fd, buffer, 0, buffer.length, offset);
          offset = size;
          partial += buffer.toString('utf8');
        } finally {
          closeSync(fd);
        }
        const rows = partial.split('\n');
        partial = rows.pop() ?? '';
        for (const row of rows) {
          const checked = checker.check(row, ++lineNumber);
          if (checked === null) continue;
          if (typeof checked === 'string') {
            source.problem = checked;
            source.end();
            return;
          }
          source.push(checked);
          if (checked.type === '@trace.end') {
            source.end();
            return;
          }
        }
      }
      timer = setTimeout(readMore, pollMs); // @allow-wallclock: polling a file another process writes
    };
    readMore();
    source.stopper = () => {
      if (timer) clearTimeout(timer);
    };
    return source;
  }
}

function beginRun(scenario: Scenario, run: { seed?: number; replayPath?: string }, source: TraceSource) {
  const seed = run.seed ?? scenario.seed;
  const strategy = run.replayPath !== undefined ? 'replay' : scenario.strategy;
  const lines = traceFileLines(scenario, { seed, strategy, source: run.replayPath !== undefined ? 'replay' : 'run' }, (line) => source.push(line));
  const progress = startScenario(scenario, { seed, replayPath: run.replayPath, sinks: [lines.event], onViolation: lines.violation });
  return {
    advance: (steps: number) => progress.advance(steps),
    finish: () => {
      lines.end(progress.finish());
      source.end();
    },
  };
}
