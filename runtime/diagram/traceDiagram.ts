/**
 * A run (or a counterexample) as a Mermaid `sequenceDiagram`, from its trace file's lines: the
 * actors as participants, drained sections as `rect` bands (while any shown node is drained),
 * external dispatches and external submissions highlighted, transaction phases and points in
 * time as notes, each violation as a note at its step. By default only the steps that matter
 * (the ones `run` prints in its timeline); `all` adds every delivery. The same lines give the
 * same bytes.
 */
import type { TraceEvent, TraceEventOf } from '../trace/TraceEvent.ts';
import type { TraceLine } from '../trace/TraceFile.ts';
import { labelText } from './machineDiagram.ts';

export const DIAGRAM_KINDS = ['drains', 'dispatch', 'submit', 'phases'] as const;
export type DiagramKind = (typeof DIAGRAM_KINDS)[number];

export interface TraceDiagramOptions {
  /** Only these actors (and the messages between them). */
  focus?: readonly string[];
  /** Only these kinds of steps (violations are always shown). */
  only?: readonly DiagramKind[];
  /** Every delivery too, not only the steps that matter. */
  all?: boolean;
  /** Stop after this step (a counterexample's last step). */
  until?: number;
}

const BAND = 'rect rgba(90, 140, 255, 0.14)';
const EXTERNAL = 'rect rgba(255, 90, 60, 0.28)';
const VIOLATION = 'rect rgba(220, 30, 30, 0.35)';

/** Participants in reading order: who asks (monitor, transaction, actions), who runs (contexts, loops), who does I/O. */
const ORDER = ['monitor:', 'txn:', 'ctx:', 'loop:', 'client:', 'node:', 'job:', 'host:'];

interface Item {
  step: number;
  actors: string[];
  lines: string[];
}

export function traceDiagram(lines: readonly TraceLine[], options: TraceDiagramOptions = {}): string {
  const only = new Set<DiagramKind>(options.only ?? DIAGRAM_KINDS);
  const focus = options.focus ? new Set(options.focus) : null;
  const shown = (actor: string) => focus === null || focus.has(actor);
  const events = lines.filter(isEvent);
  const deliveryAt = new Map<number, TraceEventOf<'@trace.deliver'>>();
  for (const e of events) if (e.type === '@trace.deliver') deliveryAt.set(e.step, e);
  const id = participantIds();

  const out: string[] = ['sequenceDiagram'];
  const body: string[] = [];
  const used = new Set<string>();
  const drained = new Set<string>();
  let inBand = false;
  const use = (...actors: string[]) => actors.forEach((a) => used.add(a));
  const emit = (item: Item) => {
    if (!item.actors.every(shown)) return;
    use(...item.actors);
    body.push(...item.lines.map((l) => `  ${l}`));
  };
  const bandChange = (step: number) => {
    const want = drained.size > 0;
    if (want === inBand) return;
    inBand = want;
    if (want) {
      body.push(`  ${BAND}`);
      const nodes = [...drained];
      use(nodes[0]);
      body.push(`  Note over ${id(nodes[0])}: step ${step}: drained section (${nodes.map(labelText).join(', ')})`);
    } else body.push('  end');
  };

  for (const line of lines) {
    if (line.type === '@trace.violation') {
      if (options.until !== undefined && line.step > options.until) continue;
      const actors = line.actors.filter((a) => shown(a) && hasActor(lines, a));
      const over = actors.length ? actors : [...used].slice(0, 1);
      if (over.length === 0) continue;
      use(...over);
      const span = over.length > 1 ? `${id(over[0])},${id(over[over.length - 1])}` : id(over[0]);
      body.push(`  ${VIOLATION}`, `  Note over ${span}: step ${line.step}: ${line.invariant} violated: ${labelText(line.message)}`, '  end');
      continue;
    }
    if (!isEvent(line)) continue;
    const e = line;
    if (options.until !== undefined && e.step > options.until) break;
    const from = deliveryAt.get(e.step)?.from;
    switch (e.type) {
      case '@trace.deliver':
        if (options.all && isActor(e.from) && e.from !== e.actor) emit({ step: e.step, actors: [e.from, e.actor], lines: [`${id(e.from)}->>${id(e.actor)}: ${labelText(e.event)}`] });
        break;
      case '@trace.drain': {
        if (!shown(e.node)) break;
        if (e.phase === 'begin' || e.phase === 'parent.begin') drained.add(e.node);
        if ((e.phase === 'end' || e.phase === 'parent.end') && e.quiesce === 0) drained.delete(e.node);
        if (only.has('drains') && (e.phase === 'begin' || e.phase === 'end' || e.phase === 'begin.returned')) {
          const what = e.phase === 'begin' ? `bdrv_drained_begin (quiesce ${e.quiesce})` : e.phase === 'end' ? `bdrv_drained_end (quiesce ${e.quiesce})` : 'drained_begin returned: quiet';
          if (e.phase !== 'begin.returned' && from && isActor(from) && from !== e.node && shown(from)) emit({ step: e.step, actors: [from, e.node], lines: [`${id(from)}->>${id(e.node)}: ${what}`] });
          else emit({ step: e.step, actors: [e.node], lines: [`Note over ${id(e.node)}: ${what}`] });
        }
        bandChange(e.step);
        break;
      }
      case '@trace.blk':
        if (only.has('drains') && shown(e.actor)) {
          const what = e.phase === 'quiesce' || e.phase === 'resume' ? `BlockBackend ${e.phase === 'quiesce' ? 'quiesced' : 'resumed'} (quiesce ${e.quiesce})` : `${labelText(e.id ?? '')} ${e.phase} in the BlockBackend`;
          emit({ step: e.step, actors: [e.actor], lines: [`Note over ${id(e.actor)}: ${what}`] });
        }
        break;
      case '@trace.counter':
        if (only.has('drains') && e.counter === 'externalDisableCount') emit({ step: e.step, actors: [e.actor], lines: [`Note over ${id(e.actor)}: external clients ${e.value === 0 ? 'enabled' : 'disabled'} (count ${e.value})`] });
        break;
      case '@trace.dispatch':
        if (only.has('dispatch') && e.external) {
          emit({ step: e.step, actors: [e.actor, e.owner], lines: [EXTERNAL, `${id(e.actor)}->>${id(e.owner)}: step ${e.step}: dispatch ${labelText(e.id)} (external)`, 'end'] });
        }
        break;
      case '@trace.guest':
        if (only.has('submit')) emit({ step: e.step, actors: [e.actor], lines: [`Note over ${id(e.actor)}: guest ${e.phase === 'issue' ? 'issues' : 'sees complete'} ${labelText(e.id)}`] });
        break;
      case '@trace.io.submit':
        if (only.has('submit') && e.via.startsWith('client:')) {
          const external = e.origin.startsWith('external');
          const arrow = `${id(e.via)}->>${id(e.node)}: step ${e.step}: ${e.op} ${labelText(e.id)} submitted${inBand ? ' inside the drained section' : ''}`;
          emit({ step: e.step, actors: [e.via, e.node], lines: external ? [EXTERNAL, arrow, 'end'] : [arrow] });
        }
        break;
      case '@trace.io.complete':
        if (only.has('submit') && e.origin.startsWith('external') && e.actor === e.node && from && isActor(from)) {
          const client = events.find((s) => s.type === '@trace.io.submit' && s.id === e.id && s.node === e.node) as TraceEventOf<'@trace.io.submit'> | undefined;
          if (client?.via.startsWith('client:')) emit({ step: e.step, actors: [e.node, client.via], lines: [`${id(e.node)}-->>${id(client.via)}: ${labelText(e.id)} completed`] });
        }
        break;
      case '@trace.command':
        if (only.has('phases')) emit({ step: e.step, actors: [e.actor], lines: [`Note over ${id(e.actor)}: QMP ${labelText(e.command)}${e.phase === 'end' ? ' returned' : e.phase === 'yield' ? ' yields to a BH' : e.phase === 'resume' ? ' resumed in the BH' : ''}`] });
        break;
      case '@trace.txn':
        if (only.has('phases') && e.phase !== 'transaction' && e.result !== 'ok') {
          const action = `${e.txn}/action:${e.index}`;
          const text = `${e.phase} ${e.index}${e.result === 'failed' ? ` failed${e.error ? `: ${labelText(e.error)}` : ''}` : ''}`;
          if (hasActor(lines, action)) emit({ step: e.step, actors: [e.txn, action], lines: [`${id(e.txn)}->>${id(action)}: ${text}`] });
          else emit({ step: e.step, actors: [e.txn], lines: [`Note over ${id(e.txn)}: ${text}`] });
        }
        break;
      case '@trace.pit':
        if (only.has('phases')) emit({ step: e.step, actors: [e.action, e.node], lines: [`Note over ${id(e.action)},${id(e.node)}: step ${e.step}: point in time (${labelText(e.kind)} of ${labelText(e.node)})`] });
        break;
      case '@trace.error':
        emit({ step: e.step, actors: [e.actor], lines: [`Note over ${id(e.actor)}: ERROR ${labelText(e.message)}`] });
        break;
      default:
        break;
    }
  }
  if (inBand) body.push('  end');
  const participants = [...used].sort(byRole);
  for (const actor of participants) out.push(`  participant ${id(actor)} as ${labelText(actor)}`);
  return [...out, ...body].join('\n') + '\n';
}

function byRole(a: string, b: string): number {
  const rank = (x: string) => {
    const r = ORDER.findIndex((p) => x.startsWith(p));
    return r < 0 ? ORDER.length : r;
  };
  return rank(a) - rank(b) || (a.includes('/') ? 1 : 0) - (b.includes('/') ? 1 : 0) || (a < b ? -1 : a > b ? 1 : 0);
}

function isEvent(line: TraceLine): line is TraceEvent {
  return 'actor' in line && typeof (line as { step?: unknown }).step === 'number';
}

function isActor(name: string): boolean {
  return /^[a-z]+:/.test(name);
}

function hasActor(lines: readonly TraceLine[], actor: string): boolean {
  return lines.some((l) => l.type === '@trace.actor' && l.actor === actor) || !lines.some((l) => l.type === '@trace.actor');
}

/** Mermaid participant ids: letters, digits and underscores, one per actor name. */
function participantIds(): (actor: string) => string {
  const ids = new Map<string, string>();
  return (actor) => {
    let found = ids.get(actor);
    if (!found) {
      found = actor.replace(/[^A-Za-z0-9]/g, '_');
      ids.set(actor, found);
    }
    return found;
  };
}
