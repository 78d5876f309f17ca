/**
 * `drainlab view`'s inputs made into trace sources, and the server started on them. An input is
 * a trace file (NDJSON, as `run`, `replay` and `explore --trace` write it), an XState inspection
 * file (`run --inspect`), a replay line `NAME@PATH`, or a scenario (a file or a library name).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { ScenarioError } from '../errors.ts';
import { resolveScenario } from '../cli/scenarioCommands.ts';
import { parseInspectionFile } from '../trace/fromInspection.ts';
import { parseTraceFile } from '../trace/readTraceFile.ts';
import type { TraceLine } from '../trace/TraceFile.ts';
import { TraceSource } from './TraceSource.ts';
import { startViewServer, type ViewServer } from './server.ts';

export type { ViewServer } from './server.ts';

export interface ViewOptions {
  input: string;
  /** A second input, shown side by side with the first in lockstep. */
  compare?: string;
  seed?: number;
  /** Follow the run (or the growing file) as it goes instead of loading it whole. */
  live?: boolean;
  /** With `live` and a scenario: real milliseconds between steps (default 25). */
  pace?: number;
  host?: string;
  port?: number;
}

export const DEFAULT_PACE_MS = 25;

export async function openView(options: ViewOptions): Promise<ViewServer> {
  const sources = [sourceOf('a', options.input, options), ...(options.compare === undefined ? [] : [sourceOf('b', options.compare, options)])];
  try {
    return await startViewServer({ sources, host: options.host, port: options.port });
  } catch (error) {
    for (const s of sources) s.stop();
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new ScenarioError(`view: port ${options.port} is in use; choose another with --port, or --port 0 for any free one`);
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EAI_AGAIN') throw new ScenarioError(`view: cannot listen on host '${options.host}': no such local address`);
    if (code === 'EACCES') throw new ScenarioError(`view: not allowed to listen on port ${options.port} (ports below 1024 need privileges)`);
    throw error;
  }
}

export type InputKind = 'trace' | 'inspection' | 'replay' | 'scenario';

/** What an input names, judged by the file's content where it is a file. */
export function inputKind(input: string): InputKind {
  if (existsSync(input) && statSync(input).isFile()) {
    if (/\.ya?ml$/i.test(input)) return 'scenario';
    const head = readFileSync(input, 'utf8').slice(0, 4096).trimStart();
    if (head.startsWith('[') || /^\{[^\n]*"type"\s*:\s*"@xstate\./.test(head)) return 'inspection';
    if (head.startsWith('{') || /\.ndjson$/i.test(input)) return 'trace';
    return 'scenario';
  }
  if (/\.(ndjson|json)$/i.test(input)) throw new ScenarioError(`no trace file ${input}`);
  if (input.lastIndexOf('@') > 0) return 'replay';
  return 'scenario';
}

/** An input's whole trace file (a scenario or replay line is run to its end first). */
export function traceLinesOf(input: string, options: { seed?: number } = {}): TraceLine[] {
  const source = sourceOf('a', input, { input, seed: options.seed, live: false });
  return source.lines.map((json) => JSON.parse(json) as TraceLine);
}

function sourceOf(id: string, input: string, options: ViewOptions): TraceSource {
  const pace = options.pace ?? DEFAULT_PACE_MS;
  switch (inputKind(input)) {
    case 'trace':
      if (options.live) return TraceSource.ofGrowingFile(id, basename(input), input);
      return TraceSource.ofLines(id, basename(input), parseTraceFile(readFileSync(input, 'utf8'), input));
    case 'inspection':
      return TraceSource.ofLines(id, basename(input), parseInspectionFile(readFileSync(input, 'utf8'), input));
    case 'replay': {
      const at = input.lastIndexOf('@');
      const scenario = resolveScenario(input.slice(0, at));
      const run = { replayPath: input.slice(at + 1) };
      return options.live ? TraceSource.ofLiveRun(id, input, scenario, run, pace) : TraceSource.ofRun(id, input, scenario, run);
    }
    case 'scenario': {
      const scenario = resolveScenario(input);
      const run = { seed: options.seed };
      const label = scenario.name;
      return options.live ? TraceSource.ofLiveRun(id, label, scenario, run, pace) : TraceSource.ofRun(id, label, scenario, run);
    }
  }
}
