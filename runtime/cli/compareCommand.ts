/**
 * `drainlab compare SCENARIO --era 2015 --era now`: the same scenario, seed and strategy run in
 * two eras, side by side in 80 columns: the transaction's phase order, where each point in time
 * was taken, where each scripted drain ran, when each external request was admitted and how long it was held back, what each
 * image holds, the QMP replies, and each invariant's verdict; then which of those differ.
 */
import type { Era } from '../../machines/transactionMachine.ts';
import { INVARIANT_MEANINGS } from '../invariants/meanings.ts';
import { INVARIANTS } from '../scenario/scenarioSchema.ts';
import { runScenario, type ScenarioRun } from '../scenario/runScenario.ts';
import type { TraceEvent } from '../trace/TraceEvent.ts';
import { wrap } from '../trace/formatTimeline.ts';
import { COLUMN, phaseAt, reply, sideBySideRow } from './sideBySide.ts';
import { resolveScenario, type Output } from './scenarioCommands.ts';

export interface CompareOptions {
  scenario: string;
  /** The two eras, in the order of the columns. */
  eras: readonly [Era, Era];
  seed?: number;
  strategy?: 'fifo' | 'random';
  json?: boolean;
}

/** One era's run, reduced to what the comparison shows (every field is text, compared as is). */
interface EraView {
  era: Era;
  met: boolean;
  unmet: string[];
  replies: string;
  phases: string;
  points: { label: string; value: string }[];
  /** Each scripted drained_begin/end: where its drain ran (in the QMP dispatch, or bounced to a main-loop BH). */
  drains: { label: string; value: string }[];
  requests: { label: string; value: string }[];
  images: { label: string; value: string }[];
  invariants: { id: string; value: string }[];
}

export function compareCommand(options: CompareOptions, io: Output): number {
  const runs = options.eras.map((era) => {
    const scenario = resolveScenario(options.scenario, era);
    return { era, run: runScenario(scenario, { seed: options.seed, strategy: options.strategy }) };
  });
  const views = runs.map(({ era, run }) => viewOf(era, run));
  const differences = differencesOf(views[0], views[1]);
  const ok = views.every((v) => v.met);
  const { scenario, result } = runs[0].run;
  if (options.json) {
    io.out(JSON.stringify({ scenario: scenario.name, seed: result.seed, strategy: result.strategy, eras: views, differences }, null, 2));
    return ok ? 0 : 1;
  }
  const [a, b] = views;
  const row = (label: string, left: string, right: string) => io.out(sideBySideRow(label, left, right));
  for (const line of wrap(`${scenario.name}: ${scenario.title}`, 80, '  ')) io.out(line);
  io.out(`seed ${result.seed}, strategy ${result.strategy}; the file says era ${scenario.fileEra ?? scenario.topology.era ?? '2015'}`);
  io.out('');
  row('', `era ${a.era}`, `era ${b.era}`);
  row('', '-'.repeat(COLUMN - 2), '-'.repeat(COLUMN - 2));
  row('expectations', a.met ? 'met' : 'NOT met', b.met ? 'met' : 'NOT met');
  row('QMP reply', a.replies, b.replies);
  const phaseLines = (view: EraView) => view.phases.split(' · ');
  const [phasesA, phasesB] = [phaseLines(a), phaseLines(b)];
  for (let i = 0; i < Math.max(phasesA.length, phasesB.length); i++) row(i === 0 ? 'phases, in order' : '', phasesA[i] ?? '', phasesB[i] ?? '');
  for (const [label, left, right] of pair(a.points, b.points)) row(label, left, right);
  // Where each drain ran matters once one bounced; otherwise every row would read the same.
  if ([...a.drains, ...b.drains].some((d) => d.value !== IN_DISPATCH)) for (const [label, left, right] of pair(a.drains, b.drains)) row(label, left, right);
  for (const [label, left, right] of pair(a.requests, b.requests)) row(label, left, right);
  for (const [label, left, right] of pair(a.images, b.images)) row(label, left, right);
  io.out('');
  for (const id of INVARIANTS) {
    const verdict = (view: EraView) => view.invariants.find((x) => x.id === id)?.value ?? 'holds';
    row(id === 'conservation' ? 'conservation' : `${id} ${INVARIANT_MEANINGS[id].name}`, verdict(a), verdict(b));
  }
  io.out('');
  const sameInvariants = INVARIANTS.filter((id) => !differences.includes(invariantLabel(id)));
  for (const line of wrap(differences.length ? `differs: ${differences.join('; ')}` : 'differs: nothing shown here', 78, '  ')) io.out(line);
  for (const line of wrap(`same verdict in both eras: ${sameInvariants.length === INVARIANTS.length ? 'every invariant' : sameInvariants.join(', ') || 'none'}`, 78, '  ')) io.out(line);
  for (const view of views) {
    if (!view.met) for (const line of wrap(`era ${view.era} does not meet: ${view.unmet.join('; ')}`, 78, '  ')) io.out(line);
  }
  return ok ? 0 : 1;
}

function viewOf(era: Era, run: ScenarioRun): EraView {
  const trace = run.result.trace ?? [];
  return {
    era,
    met: run.met,
    unmet: run.expectations.filter((e) => !e.met).map((e) => `${e.expectation}${e.detail ? ` (${e.detail})` : ''}`),
    replies: reply(run),
    phases: phaseOrder(trace),
    points: pointsInTime(trace),
    drains: scriptedDrains(trace),
    requests: externalRequests(trace),
    images: run.result.images.map((image) => ({ label: `image ${image.index} (${image.node.replace('node:', '')})`, value: `holds [${image.holds.join(', ')}]` })),
    invariants: INVARIANTS.map((id) => {
      const v = run.result.violations.find((x) => x.invariant === id);
      return { id, value: v ? `VIOLATED at step ${v.step}` : 'holds' };
    }),
  };
}

/** Every label of either side, in first-seen order, with each side's value (`-` where it has none). */
function pair(a: EraView['points'], b: EraView['points']): [string, string, string][] {
  const labels = [...new Set([...a.map((x) => x.label), ...b.map((x) => x.label)])];
  return labels.map((label) => [label, a.find((x) => x.label === label)?.value ?? '-', b.find((x) => x.label === label)?.value ?? '-']);
}

function invariantLabel(id: string): string {
  return `${id} verdict`;
}

/** What differs between the two columns, by row name. */
function differencesOf(a: EraView, b: EraView): string[] {
  const out: string[] = [];
  if (a.met !== b.met) out.push('expectations');
  if (a.replies !== b.replies) out.push('QMP reply');
  if (a.phases !== b.phases) out.push('phase order');
  for (const rows of [[a.points, b.points], [a.drains, b.drains], [a.requests, b.requests], [a.images, b.images]] as const) {
    for (const [label, left, right] of pair(rows[0], rows[1])) if (left !== right) out.push(label);
  }
  for (const id of INVARIANTS) {
    const left = a.invariants.find((x) => x.id === id)!.value;
    const right = b.invariants.find((x) => x.id === id)!.value;
    // A violation at another step is the same verdict; holding against breaking is not.
    if (left.startsWith('VIOLATED') !== right.startsWith('VIOLATED')) out.push(invariantLabel(id));
  }
  return out;
}

/** The phase callbacks in the order they started, grouped: `prepare 0 1 · commit 1 0 · clean 1 0`. */
function phaseOrder(trace: readonly TraceEvent[]): string {
  const groups: { phase: string; indexes: number[] }[] = [];
  for (const e of trace) {
    if (e.type !== '@trace.txn' || e.phase === 'transaction' || e.result !== 'start') continue;
    const last = groups[groups.length - 1];
    if (last && last.phase === e.phase) last.indexes.push(e.index);
    else groups.push({ phase: e.phase, indexes: [e.index] });
  }
  return groups.map((g) => `${g.phase} ${g.indexes.join(' ')}`).join(' · ') || 'no transaction';
}

function pointsInTime(trace: readonly TraceEvent[]): EraView['points'] {
  return trace.flatMap((e) => (e.type === '@trace.pit' ? [{ label: `point in time ${e.index}`, value: `${phaseAt(trace, e.step)}, ${ms(e.time)}` }] : []));
}

const IN_DISPATCH = 'drains in its dispatch';

/**
 * Each scripted bdrv_drained_begin/end: in the QMP dispatch, or (a coroutine command in the now
 * era) bounced to a bottom half the main loop runs after the dispatch returned
 * (bdrv_co_yield_to_drain).
 */
function scriptedDrains(trace: readonly TraceEvent[]): EraView['drains'] {
  const out: EraView['drains'] = [];
  for (const e of trace) {
    if (e.type !== '@trace.command' || e.phase !== 'start' || !e.command.startsWith('bdrv_drained_')) continue;
    const bounced = trace.some((y) => y.type === '@trace.command' && y.index === e.index && y.phase === 'yield');
    const which = e.command.startsWith('bdrv_drained_begin') ? 'begin' : 'end';
    out.push({ label: `command ${e.index} (${which})`, value: bounced ? 'drains in a main-loop BH' : IN_DISPATCH });
  }
  return out;
}

/**
 * Each request a device or export submitted: in which phase it was admitted, and how long after
 * the guest issued it (`+0.90 ms`: the time it was held back).
 */
function externalRequests(trace: readonly TraceEvent[]): EraView['requests'] {
  const issued = new Map<string, number>();
  const out: EraView['requests'] = [];
  const seen = new Set<string>();
  for (const e of trace) {
    if (e.type === '@trace.guest' && e.phase === 'issue') issued.set(e.id, e.time);
    if (e.type !== '@trace.io.submit' || !e.via.startsWith('client:') || seen.has(e.id)) continue;
    seen.add(e.id);
    const since = issued.get(e.id);
    const waited = since === undefined ? '' : ` (+${ms(e.time - since)})`;
    out.push({ label: `${e.id} admitted`, value: `${phaseAt(trace, e.step)}${waited}` });
  }
  return out;
}

function ms(ns: number): string {
  return `${(ns / 1e6).toFixed(2)} ms`;
}
