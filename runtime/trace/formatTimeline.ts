/**
 * A readable timeline of a trace for an 80-column terminal: commands, drained-section phases,
 * counter changes, external readiness and dispatch, requests of external clients, errors.
 * Deliveries and internal plumbing are left out; the NDJSON trace has them all.
 */
import type { TraceEvent } from './TraceEvent.ts';

export interface TimelineLine {
  step: number;
  time: number;
  actor: string;
  text: string;
}

/** The timeline lines one event contributes (zero or one). */
export function timelineLine(e: TraceEvent): TimelineLine | null {
  const line = (text: string): TimelineLine => ({ step: e.step, time: e.time, actor: e.actor, text });
  switch (e.type) {
    case '@trace.command':
      // Short enough for the timeline's column: what happened first, the functions after.
      if (e.phase === 'yield') return line(`yields: drain bounced to a main-loop BH (bdrv_co_yield_to_drain, ${e.command})`);
      if (e.phase === 'resume') return line(`BH drains, then resumes (bdrv_co_drain_bh_cb, ${e.command})`);
      return line(e.phase === 'start' ? `QMP ${e.command}` : `QMP ${e.command} returned`);
    case '@trace.drain':
      return e.phase === 'begin.returned' || e.phase === 'run.returned'
        ? line(`drain ${e.phase === 'begin.returned' ? 'begin' : 'run'} returned: quiet`)
        : line(`drain ${e.phase} (quiesce=${e.quiesce})`);
    case '@trace.blk':
      return e.phase === 'quiesce' || e.phase === 'resume'
        ? line(`BlockBackend ${e.phase === 'quiesce' ? 'quiesced' : 'resumed'} (quiesce=${e.quiesce})`)
        : line(`${e.id} ${e.phase} in the BlockBackend`);
    case '@trace.counter':
      return e.counter === 'externalDisableCount' ? line(`external clients ${e.value === 0 ? 'enabled' : 'disabled'} (count=${e.value})`) : null;
    case '@trace.ready':
      return e.external ? line(`${e.handler} ready (external)`) : null;
    case '@trace.dispatch':
      return e.external ? line(`dispatch ${e.id} [external]`) : null;
    case '@trace.io.submit':
      return e.via.startsWith('client:') ? line(`${e.op} ${e.id} submitted by ${e.via}`) : null;
    case '@trace.io.complete':
      return e.origin.startsWith('external') && e.actor === e.node && isTopLevel(e.node) ? line(`${e.id} completed`) : null;
    case '@trace.error':
      return line(`ERROR ${e.message}`);
    default:
      return null;
  }
}

// Protocol nodes are named after their format node with a `-file` suffix in the built-in scenarios.
const isTopLevel = (node: string) => !node.endsWith('-file');

/** One timeline line; `actorWidth` is the actor column's width (the longest actor name a listing shows, at least 16). */
export function formatTimelineLine(l: TimelineLine, width = 80, actorWidth = 16): string {
  const head = `${String(l.step).padStart(5)} ${(l.time / 1e6).toFixed(3).padStart(8)}ms  ${l.actor.padEnd(actorWidth)} `;
  const text = head + l.text;
  return text.length > width ? text.slice(0, width - 1) + '…' : text;
}

/** Wraps a long message to `width` columns, continuation lines indented by `indent`. */
export function wrap(text: string, width = 80, indent = '     '): string[] {
  const lines: string[] = [];
  let current = '';
  for (const word of text.split(' ')) {
    const candidate = current === '' ? word : `${current} ${word}`;
    if (candidate.length > width && current !== '') {
      lines.push(current);
      current = indent + word;
    } else {
      current = candidate;
    }
  }
  if (current !== '') lines.push(current);
  return lines;
}

export const timelineHeader = ` step     time  actor            what`;

/** The header for an actor column `actorWidth` wide. */
export function timelineHeaderFor(actorWidth: number): string {
  return ` step     time  ${'actor'.padEnd(actorWidth)} what`;
}

/** The actor column's width for these lines: the longest name, at least 16. */
export function actorColumn(lines: readonly TimelineLine[]): number {
  return Math.max(16, ...lines.map((l) => l.actor.length));
}
