/**
 * `npm start` / `drainlab demo`: the headline scenario (two external snapshots on one
 * IOThread while the guest writes Wx, then Wy) with the series and without its drains, side by
 * side in 80 columns: where each write landed, what each snapshot holds, which invariant broke
 * and where.
 */
import { INVARIANTS } from '../scenario/scenarioSchema.ts';
import { INVARIANT_MEANINGS } from '../invariants/meanings.ts';
import { runScenario, type ScenarioRun } from '../scenario/runScenario.ts';
import type { TraceEvent } from '../trace/TraceEvent.ts';
import { wrap } from '../trace/formatTimeline.ts';
import { resolveScenario, type Output } from './scenarioCommands.ts';
import { COLUMN, phaseAt, reply, sideBySideRow } from './sideBySide.ts';

const WITH = 'two-external-snapshots';
const WITHOUT = 'two-external-snapshots-without-drains';

export function runHeadline(options: { seed?: number; strategy?: 'fifo' | 'random' }, io: Output): number {
  const runs = [WITH, WITHOUT].map((name) => runScenario(resolveScenario(name), { seed: options.seed, strategy: options.strategy }));
  const [series, without] = runs;
  const row = (label: string, a: string, b: string) => io.out(sideBySideRow(label, a, b));
  io.out('Two external snapshots of drive0 and drive1 (one IOThread, dataplane disks).');
  io.out('The guest writes Wx to drive0, waits for it, then writes Wy to drive1,');
  io.out('while one QMP transaction snapshots both disks.');
  io.out('');
  row('', 'with the series', 'without the drains (6-10)');
  row('', '-'.repeat(COLUMN - 2), '-'.repeat(COLUMN - 2));
  for (const id of ['Wx', 'Wy']) {
    row(`${id} kicked by the guest`, when(series, 'issue', id), when(without, 'issue', id));
    row(`${id} admitted`, admitted(series, id), admitted(without, id));
  }
  for (const index of [0, 1]) {
    const image = (run: ScenarioRun) => run.result.images.find((i) => i.index === index);
    const node = image(series)?.node.replace('node:', '') ?? `action ${index}`;
    row(`snapshot of ${node}`, holds(image(series)), holds(image(without)));
  }
  row('QMP reply', reply(series), reply(without));
  io.out('');
  for (const id of INVARIANTS) {
    const verdict = (run: ScenarioRun) => {
      const v = run.result.violations.find((x) => x.invariant === id);
      return v ? `VIOLATED at step ${v.step}` : 'holds';
    };
    row(id === 'conservation' ? 'conservation' : `${id} ${INVARIANT_MEANINGS[id].name}`, verdict(series), verdict(without));
  }
  const broken = without.result.violations[0];
  io.out('');
  if (broken) {
    io.out(`Without the drains, ${broken.invariant} breaks at step ${broken.step}:`);
    for (const line of wrap(broken.message, 78, '  ')) io.out(`  ${line.trimStart()}`);
  }
  io.out('');
  io.out(`Replay either run: ${series.replay.length > 60 ? `drainlab run ${WITH}` : series.replay}`);
  io.out(`                   drainlab run ${WITHOUT}`);
  const ok = series.met && without.met;
  if (!ok) io.out('UNEXPECTED: a run did not meet its expectations (drainlab run shows which).');
  return ok ? 0 : 1;
}

function trace(run: ScenarioRun): readonly TraceEvent[] {
  return run.result.trace ?? [];
}

function when(run: ScenarioRun, phase: 'issue' | 'complete', id: string): string {
  const e = trace(run).find((x) => x.type === '@trace.guest' && x.phase === phase && x.id === id);
  return e ? `at ${(e.time / 1e6).toFixed(2)} ms` : 'never';
}

/** Where a write reached a node, and in which phase of the transaction. */
function admitted(run: ScenarioRun, id: string): string {
  const events = trace(run);
  const submit = events.find((x) => x.type === '@trace.io.submit' && x.id === id && x.via.startsWith('client:'));
  if (!submit || submit.type !== '@trace.io.submit') return 'never';
  return `${phaseAt(events, submit.step)} → ${submit.node.replace('node:', '')}`;
}

function holds(image: ScenarioRun['result']['images'][number] | undefined): string {
  return image ? `holds [${image.holds.join(', ')}]` : 'not taken';
}
