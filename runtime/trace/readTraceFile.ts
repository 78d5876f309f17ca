/**
 * Reads a trace file back (NDJSON, one TraceLine a line) and checks every line, so that a
 * viewer or an exporter never works on a half-understood file: each problem is reported as
 * `file:line: message`, the way scenario problems are.
 */
import { ScenarioError } from '../errors.ts';
import { ANNOTATION_TYPES, type TraceLine } from './TraceFile.ts';
import type { TraceEventType } from './TraceEvent.ts';

const EVENT_TYPES: ReadonlySet<TraceEventType> = new Set<TraceEventType>([
  '@trace.deliver',
  '@trace.state',
  '@trace.counter',
  '@trace.dispatch',
  '@trace.poll.begin',
  '@trace.poll.end',
  '@trace.ready',
  '@trace.io.submit',
  '@trace.io.complete',
  '@trace.drain',
  '@trace.blk',
  '@trace.command',
  '@trace.txn',
  '@trace.pit',
  '@trace.guest',
  '@trace.artifact',
  '@trace.alarm',
  '@trace.clock',
  '@trace.vm',
  '@trace.error',
]);

/** The fields each annotation must have, with their JSON types. */
const ANNOTATION_FIELDS: Record<string, Record<string, 'string' | 'number' | 'object' | 'array' | 'boolean'>> = {
  '@trace.meta': { format: 'string', scenario: 'string' },
  '@trace.machine': { machine: 'string', root: 'object' },
  '@trace.actor': { actor: 'string', kind: 'string', machine: 'string' },
  '@trace.violation': { step: 'number', invariant: 'string', message: 'string' },
  '@trace.image': { step: 'number', node: 'string', holds: 'array' },
  '@trace.end': { steps: 'number' },
};

/** Problems past this many are summed up in one line: a wrong file should not flood the terminal. */
const MAX_PROBLEMS = 20;

/** Parses and checks a trace file's text; throws a ScenarioError listing `file:line: message` for every problem. */
export function parseTraceFile(text: string, file: string): TraceLine[] {
  const nul = text.indexOf('\u0000');
  if (nul >= 0) throw new ScenarioError(`${file}: not a text file (a NUL byte at offset ${nul}); expected an NDJSON trace as 'drainlab run NAME --trace FILE' writes`);
  const checker = new TraceLineChecker(file);
  const lines: TraceLine[] = [];
  const problems: string[] = [];
  const rows = text.split('\n');
  for (let i = 0; i < rows.length; i++) {
    const checked = checker.check(rows[i], i + 1);
    if (checked === null) continue;
    if (typeof checked === 'string') problems.push(checked);
    else lines.push(checked);
  }
  if (problems.length > 0) {
    const shown = problems.slice(0, MAX_PROBLEMS);
    if (problems.length > MAX_PROBLEMS) shown.push(`${file}: ... and ${problems.length - MAX_PROBLEMS} more problems`);
    throw new ScenarioError(shown.join('\n'));
  }
  if (lines.length === 0) throw new ScenarioError(`${file}:1: empty trace file; expected NDJSON trace lines as 'drainlab run NAME --trace FILE' writes`);
  return lines;
}

/** Checks trace lines one at a time (a file read whole, or one followed as it grows). */
export class TraceLineChecker {
  private stepBefore = 0;

  constructor(private readonly file: string) {}

  /** The line as a TraceLine, a `file:line: message` problem, or null for a blank line. */
  check(row: string, lineNumber: number): TraceLine | string | null {
    const raw = row.trim();
    if (raw === '') return null;
    const at = `${this.file}:${lineNumber}`;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (error) {
      return `${at}: not JSON (${(error as Error).message.replace(/^.*?:\s*/, '').slice(0, 80)}); expected one trace event as a JSON object per line`;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      return `${at}: expected a JSON object (a trace event), got ${Array.isArray(value) ? 'an array' : JSON.stringify(value)?.slice(0, 40)}`;
    }
    const record = value as Record<string, unknown>;
    const type = record.type;
    if (typeof type !== 'string') return `${at}: no "type"; expected a trace event such as {"type":"@trace.deliver", ...}`;
    if (ANNOTATION_TYPES.has(type)) {
      const missing = fieldProblem(record, ANNOTATION_FIELDS[type]);
      return missing ? `${at}: ${type}: ${missing}` : (record as TraceLine);
    }
    if (!EVENT_TYPES.has(type as TraceEventType)) return `${at}: unknown event type '${type.slice(0, 60)}'; expected a @trace.* event (see runtime/trace/TraceEvent.ts)`;
    const missing = fieldProblem(record, { step: 'number', time: 'number', actor: 'string' });
    if (missing) return `${at}: ${type}: ${missing}`;
    const step = record.step as number;
    if (!Number.isInteger(step) || step < 0) return `${at}: ${type}: "step" is ${step}; expected a whole number from 0`;
    if (step < this.stepBefore) return `${at}: ${type}: step ${step} comes after step ${this.stepBefore}; a trace's steps never go back`;
    this.stepBefore = step;
    return record as TraceLine;
  }
}

function fieldProblem(record: Record<string, unknown>, fields: Record<string, string>): string | null {
  for (const [field, kind] of Object.entries(fields)) {
    const value = record[field];
    const actual = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
    if (value === undefined) return `no "${field}"; expected a ${kind}`;
    if (actual !== kind) return `"${field}" is ${actual === 'object' || actual === 'array' ? `an ${actual}` : JSON.stringify(value).slice(0, 40)}; expected a ${kind}`;
  }
  return null;
}
