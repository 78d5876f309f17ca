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

/** Without a transaction: which scripted drained sections were open at `step` (`inside drive0`, `no section open`). */
function sectionAt(trace: readonly TraceEvent[], step: number): string {
  const open = new Map<string, number>();
  for (const e of trace) {
    if (e.step > step) break;
    if (e.type === '@trace.drain' && (e.phase === 'begin' || e.phase === 'end')) open.set(e.node, e.quiesce);
  }
  const nodes = [...open].filter(([, quiesce]) => quiesce > 0).map(([node]) => node.replace(/^node:/, ''));
  return nodes.length === 0 ? 'no section open' : `inside ${nodes.join(', ')}`;
}

/** Where the transaction stood at `step`: `in prepare(0)`, `during drain_all`, `after clean`. */
export function phaseAt(trace: readonly TraceEvent[], step: number): string {
  if (!trace.some((e) => e.type === '@trace.txn')) return sectionAt(trace, step);
  let phase = 'before the transaction';
  for (const e of trace) {
    if (e.step > step) break;
    if (e.type === '@trace.txn' && e.phase === 'transaction') phase = e.result === 'start' ? 'during drain_all' : 'after clean';
    else if (e.type === '@trace.txn' && e.result === 'start') phase = `in ${e.phase}(${e.index})`;
  }
  return phase;
}
