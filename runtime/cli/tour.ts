/**
 * `drainlab tour`: the headline told stop by stop in the terminal. The run without the drains
 * first (how Wy gets into a snapshot that Wx is missing from), then the run with the series
 * (where the same writes wait). Each stop shows what just happened, the states and counters of
 * the actors that matter, and the steps since the last stop. On a terminal a key press moves on
 * (q quits); otherwise every stop is printed in one go.
 */
import { formatNs } from '../engine/Engine.ts';
import type { TraceEvent } from '../trace/TraceEvent.ts';
import type { TraceLine } from '../trace/TraceFile.ts';
import { formatTimelineLine, timelineLine, wrap } from '../trace/formatTimeline.ts';
import { traceLinesOf } from '../viewer/openView.ts';
import type { Output } from './scenarioCommands.ts';

interface Stop {
  /** Whether this line is the stop. */
  at: (line: TraceLine) => boolean;
  title: string;
  says: string;
}

const WITHOUT = 'two-external-snapshots-without-drains';
const WITH = 'two-external-snapshots';

const isEvent = (l: TraceLine): l is TraceEvent => 'actor' in l && typeof (l as { step?: unknown }).step === 'number';
const txnStart = (phase: string, index: number) => (l: TraceLine) => l.type === '@trace.txn' && l.phase === phase && l.index === index && l.result === 'start';
const submitted = (id: string) => (l: TraceLine) => l.type === '@trace.io.submit' && l.id === id && l.via.startsWith('client:');
const guest = (phase: 'issue' | 'complete', id: string) => (l: TraceLine) => l.type === '@trace.guest' && l.phase === phase && l.id === id;

const WITHOUT_STOPS: Stop[] = [
  {
    at: (l) => l.type === '@trace.command' && l.phase === 'start',
    title: 'A QMP transaction starts',
    says: 'The monitor runs one transaction with two actions: an external snapshot of drive0 and one of drive1. Both disks are virtio-blk dataplane devices in IOThread iothread0. In this run the drained sections of patches 6-10 are switched off.',
  },
  {
    at: txnStart('prepare', 0),
    title: 'prepare(0)',
    says: 'qmp_transaction calls bdrv_drain_all once, then prepares each action in order. Preparing a snapshot creates and opens the overlay image: synchronous I/O, so QEMU spins nested aio_poll loops while it waits.',
  },
  {
    at: (l) => l.type === '@trace.pit' && l.index === 0,
    title: 'commit(0): the point in time of drive0',
    says: "commit(0) appends overlay0 on top of drive0: from now on new writes to drive0 land in overlay0, and snapshot 0 is drive0's old image. Then commit reopens drive0 read-only, which drains and polls again.",
  },
  {
    at: guest('issue', 'Wx'),
    title: 'The guest writes Wx to drive0',
    says: "The guest kicks drive0's virtqueue: its ioeventfd, a handler of iothread0 flagged external, becomes ready. Nothing keeps external handlers out of the nested polls in this run.",
  },
  {
    at: submitted('Wx'),
    title: 'Wx is admitted inside commit(0)',
    says: 'A nested aio_poll inside commit(0) dispatches the dataplane handler, which submits Wx. It lands in overlay0, after the point in time of drive0: snapshot 0 does not hold Wx.',
  },
  {
    at: guest('issue', 'Wy'),
    title: 'The guest saw Wx complete, and writes Wy to drive1',
    says: 'Wx completed, so the guest issues its next write, Wy, to the other disk. Everything a consistent pair of snapshots holds must respect that order: if Wy is in, Wx must be in too.',
  },
  {
    at: submitted('Wy'),
    title: 'Wy is admitted before drive1 is snapshotted',
    says: "The same nested loop keeps polling while it makes progress, and dispatches drive1's handler: Wy lands in drive1's own image, the one snapshot 1 will keep.",
  },
  {
    at: (l) => l.type === '@trace.pit' && l.index === 1,
    title: 'commit(1): the point in time of drive1',
    says: 'commit(1) appends overlay1: snapshot 1 is drive1 as it is now, with Wy in it.',
  },
  {
    at: (l) => l.type === '@trace.violation' && l.invariant === 'I10',
    title: 'I10 violated: the snapshots are not a consistent cut',
    says: 'Snapshot 1 holds Wy, snapshot 0 lacks Wx, though the guest issued Wy only after it saw Wx complete. No moment of the guest\'s life had this pair of disks: restoring them is restoring a state that never existed.',
  },
];

const WITH_STOPS: Stop[] = [
  {
    at: (l) => l.type === '@trace.drain' && l.phase === 'begin' && l.node === 'node:drive0',
    title: 'With the series: prepare(0) begins a drained section',
    says: "external_snapshot_prepare calls bdrv_drained_begin(drive0) (patch 7). Its quiesce counter goes 0 -> 1, and on that edge aio_disable_external(iothread0) bumps the context's counter: from now on aio_poll skips every handler flagged external in iothread0 (patches 1-5).",
  },
  {
    at: (l) => l.type === '@trace.counter' && l.counter === 'externalDisableCount' && l.value === 2,
    title: 'prepare(1) nests a second section',
    says: 'drive1 is drained too; the counter is pure nesting (2). External handlers stay off until both sections end.',
  },
  {
    at: guest('issue', 'Wx'),
    title: 'The guest writes Wx: it waits',
    says: 'The ioeventfd is ready, but every nested poll of commit(0) skips it: the handler is external and the counter is not 0. The event stays ready; it is neither lost nor run early (I7).',
  },
  {
    at: (l) => l.type === '@trace.counter' && l.counter === 'externalDisableCount' && l.value === 0,
    title: 'clean: the sections end',
    says: "external_snapshot_clean calls bdrv_drained_end for each node; the last one re-enables iothread0's external handlers. Both points in time are behind us.",
  },
  {
    at: submitted('Wx'),
    title: 'Wx is admitted after the transaction',
    says: 'The first poll after the enable dispatches the pending kick. Wx lands in overlay0; later Wy lands in overlay1. Neither snapshot holds either write: a consistent cut (I10 holds).',
  },
];

export interface TourOptions {
  /** Wait for a key between stops (default: when standard input and output are terminals). */
  interactive?: boolean;
}

export async function tourCommand(options: TourOptions, io: Output): Promise<number> {
  const interactive = options.interactive ?? (process.stdin.isTTY === true && process.stdout.isTTY === true);
  const runs: [string, string, Stop[]][] = [
    [WITHOUT, 'Part 1: the headline without the drains of patches 6-10', WITHOUT_STOPS],
    [WITH, 'Part 2: the same transaction with the series', WITH_STOPS],
  ];
  const total = WITHOUT_STOPS.length + WITH_STOPS.length;
  let shown = 0;
  io.out('drainlab tour: how QEMU keeps new I/O out of a QMP transaction');
  io.out(interactive ? '(a key moves on; q quits)' : '');
  for (const [name, heading, stops] of runs) {
    io.out('');
    io.out(`== ${heading} (drainlab run ${name})`);
    const lines = traceLinesOf(name);
    const view = new TourState();
    let next = 0;
    let since: string[] = [];
    let oneShotDrains = 0;
    for (const line of lines) {
      view.observe(line);
      if (isEvent(line)) {
        const t = timelineLine(line);
        // bdrv_drain_all's one-shot drains of every node would bury the story: counted, not listed.
        if (t && line.type === '@trace.drain' && (line.phase === 'run' || line.phase === 'run.returned')) oneShotDrains += line.phase === 'run' ? 1 : 0;
        else if (t) since.push(formatTimelineLine(t, 78));
      }
      if (next >= stops.length || !stops[next].at(line)) continue;
      const stop = stops[next++];
      shown++;
      io.out('');
      io.out(`-- stop ${shown}/${total}, step ${view.step}, ${formatNs(view.time)}: ${stop.title}`);
      for (const l of wrap(stop.says, 76, '   ')) io.out(`   ${l.trimStart()}`);
      io.out('');
      for (const l of view.table()) io.out(`   ${l}`);
      if (since.length || oneShotDrains) {
        io.out('');
        io.out('   since the last stop:');
        if (since.length > 8) io.out(`   (${since.length - 8} lines before these: drainlab run ${name})`);
        for (const l of since.slice(-8)) io.out(`   ${l}`);
        if (oneShotDrains) io.out(`   and ${oneShotDrains} one-shot drains (bdrv_drain, as bdrv_drain_all and reopen run them)`);
      }
      since = [];
      oneShotDrains = 0;
      if (interactive && !(await keyPress())) {
        io.out('');
        io.out('tour stopped. Next: docs/index.md, or drainlab view two-external-snapshots --compare two-external-snapshots-without-drains');
        return 0;
      }
    }
    if (next < stops.length) throw new Error(`tour: the run of ${name} never reached '${stops[next].title}'`);
  }
  io.out('');
  io.out('That is why every transaction action of the series takes a drained section from prepare to clean.');
  io.out('Next: docs/index.md and docs/patches/, or see it in a browser:');
  io.out('  npx drainlab view two-external-snapshots --compare two-external-snapshots-without-drains');
  return 0;
}

/** The states and counters of the actors the headline is about, as the trace has them so far. */
class TourState {
  step = 0;
  time = 0;
  private readonly states = new Map<string, string>();
  private readonly counters = new Map<string, number>();
  private readonly landed = new Map<string, string>();
  private phase = '-';

  observe(line: TraceLine): void {
    if (!isEvent(line)) return;
    this.step = line.step;
    this.time = line.time;
    if (line.type === '@trace.state') this.states.set(line.actor, line.to);
    if (line.type === '@trace.counter') this.counters.set(`${line.actor}.${line.counter}`, line.value);
    if (line.type === '@trace.io.submit' && line.via.startsWith('client:')) this.landed.set(line.id, line.node);
    if (line.type === '@trace.txn' && line.phase !== 'transaction') this.phase = line.result === 'start' ? `${line.phase} ${line.index}` : `${line.phase} ${line.index} ${line.result}`;
  }

  table(): string[] {
    const row = (actor: string, what: string) => `${actor.padEnd(16)} ${what}`;
    const counter = (name: string) => this.counters.get(name) ?? 0;
    return [
      row('txn:1', this.phase),
      row('ctx:iothread0', `${this.states.get('ctx:iothread0') ?? '?'}  externalDisableCount=${counter('ctx:iothread0.externalDisableCount')}`),
      row('node:drive0', `${this.states.get('node:drive0') ?? '?'}  quiesceCounter=${counter('node:drive0.quiesceCounter')}`),
      row('node:drive1', `${this.states.get('node:drive1') ?? '?'}  quiesceCounter=${counter('node:drive1.quiesceCounter')}`),
      row('guest writes', ['Wx', 'Wy'].map((w) => `${w} ${this.landed.has(w) ? `on ${this.landed.get(w)}` : 'not admitted'}`).join(', ')),
    ];
  }
}

/** Resolves true on a key, false on q, Escape or Ctrl-C. */
function keyPress(): Promise<boolean> {
  return new Promise((resolveKey) => {
    const stdin = process.stdin;
    stdin.setRawMode?.(true);
    stdin.resume();
    stdin.once('data', (data: Buffer) => {
      stdin.setRawMode?.(false);
      stdin.pause();
      const key = data.toString();
      resolveKey(!(key === 'q' || key === '\u0003' || key === '\u001b'));
    });
  });
}
