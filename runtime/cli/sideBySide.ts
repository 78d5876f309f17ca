/**
 * What the two side-by-side views (the headline, `drainlab compare`) share: the column widths
 * of an 80-column layout, and the facts they read off a run.
 */
import { snapshotOf } from '../engine/World.ts';
import type { ScenarioRun } from '../scenario/runScenario.ts';
import type { TraceEvent } from '../trace/TraceEvent.ts';

export const LABEL = 24;
export const COLUMN = 27;

/** A row: the label, then one cut-to-fit cell per run. */
export function sideBySideRow(label: string, left: string, right: string): string {
  return `${label.padEnd(LABEL)}${fit(left).padEnd(COLUMN)} ${fit(right)}`;
}

function fit(text: string): string {
  return text.length > COLUMN ? `${text.slice(0, COLUMN - 1)}…` : text;
}

/** The QMP replies the monitor got, `; `-separated. */
export function reply(run: ScenarioRun): string {
  const monitor = snapshotOf(run.result.world, 'monitor:qmp').context as { replies: string[] };
  return monitor.replies.join('; ') || 'none';
}

/** Where the transaction stood at `step`: `in prepare(0)`, `during drain_all`, `after clean`. */
export function phaseAt(trace: readonly TraceEvent[], step: number): string {
  let phase = 'before the transaction';
  for (const e of trace) {
    if (e.step > step) break;
    if (e.type === '@trace.txn' && e.phase === 'transaction') phase = e.result === 'start' ? 'during drain_all' : 'after clean';
    else if (e.type === '@trace.txn' && e.result === 'start') phase = `in ${e.phase}(${e.index})`;
  }
  return phase;
}
