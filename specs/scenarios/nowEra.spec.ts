/**
 * Today's drain (the now era): QEMU's drain tests (tests/unit/test-bdrv-drain.c,
 * test-block-iothread.c) as scenarios, DOMAIN.md section 3's four interleavings under today's
 * protections and without them, and the collateral blocking the 2015 context gate had.
 */
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { libraryEntries, resolveScenario } from '../../runtime/cli/scenarioCommands.ts';
import { explore } from '../../runtime/explore/explore.ts';
import { runScenario } from '../../runtime/scenario/runScenario.ts';
import { simulate } from '../../runtime/simulate.ts';
import type { Topology } from '../../actors/topology.ts';
import type { TraceEvent } from '../../runtime/trace/TraceEvent.ts';

vi.setConfig({ testTimeout: 120_000 });

function traceOf(name: string, era?: '2015' | 'now'): TraceEvent[] {
  const run = runScenario(resolveScenario(name, era));
  expect(run.met, `${name} meets its expectations`).toBe(true);
  return (run.result.trace ?? []) as TraceEvent[];
}

const drainsOf = (trace: readonly TraceEvent[], node: string) =>
  trace.flatMap((e) => (e.type === '@trace.drain' && e.node === node ? [`${e.phase} ${e.quiesce}`] : []));
const blkOf = (trace: readonly TraceEvent[], client: string) =>
  trace.flatMap((e) => (e.type === '@trace.blk' && e.actor === client ? [`${e.phase} ${e.quiesce}`] : []));

describe("today's drain, as QEMU's drain tests check it", () => {
  const trace = traceOf('now-drain-callbacks-once');

  it("should call the driver's bdrv_drain_begin once, on the quiesce 0->1, and nothing on the backing child", () => {
    expect(drainsOf(trace, 'node:drive0')).toEqual(['begin 1', 'driver.begin 1', 'begin.returned 1', 'begin 2', 'begin.returned 2', 'end 1', 'end 0']);
    expect(drainsOf(trace, 'node:base0')).toEqual([]);
  });

  it('should run the parents\' callbacks once for nested begin/begin/end/end', () => {
    expect(blkOf(trace, 'client:vblk0')).toEqual(['quiesce 1', 'resume 0']);
  });

  it('should return from drained_begin with nothing in flight on the node', () => {
    let inFlight = 0;
    const atReturn: number[] = [];
    for (const e of trace) {
      if (e.type === '@trace.counter' && e.counter === 'inFlight' && e.actor === 'node:drive0') inFlight = e.value;
      if (e.type === '@trace.drain' && e.node === 'node:drive0' && e.phase === 'begin.returned') atReturn.push(inFlight);
    }
    expect(atReturn).toEqual([0, 0]);
    // W1's need-check work ran inside the first drain, before it returned.
    const returned = trace.findIndex((e) => e.type === '@trace.drain' && e.phase === 'begin.returned');
    const needCheck = trace.findIndex((e) => e.type === '@trace.io.submit' && e.origin === 'driver-timer');
    expect(needCheck).toBeGreaterThan(0);
    expect(needCheck).toBeLessThan(returned);
  });

  it('should pause a block job while its node is drained and resume it after', () => {
    const jobTrace = traceOf('now-drain-pauses-job');
    const returned = jobTrace.filter((e) => e.type === '@trace.drain' && e.node === 'node:drive0' && e.phase === 'begin.returned').at(-1)!;
    const ended = jobTrace.filter((e) => e.type === '@trace.drain' && e.node === 'node:drive0' && e.phase === 'end').at(-1)!;
    const jobStates = jobTrace.filter((e): e is Extract<TraceEvent, { type: '@trace.state' }> => e.type === '@trace.state' && e.actor === 'job:1/0');
    expect(jobStates.some((e) => e.to === 'paused' && e.step <= returned.step)).toBe(true);
    expect(jobTrace.some((e) => e.type === '@trace.io.submit' && e.origin === 'job' && e.step > returned.step && e.step < ended.step)).toBe(false);
    expect(jobStates.some((e) => e.to === 'running' && e.step > ended.step)).toBe(true);
    expect(jobTrace.some((e) => e.type === '@trace.io.submit' && e.origin === 'job' && e.step > ended.step)).toBe(true);
  });

  it('should copy through a drained section in 2015, when drained_begin did not pause jobs', () => {
    const jobTrace = traceOf('now-drain-pauses-job', '2015');
    const returned = jobTrace.filter((e) => e.type === '@trace.drain' && e.node === 'node:drive0' && e.phase === 'begin.returned').at(-1)!;
    const ended = jobTrace.filter((e) => e.type === '@trace.drain' && e.node === 'node:drive0' && e.phase === 'end').at(-1)!;
    expect(jobTrace.some((e) => e.type === '@trace.io.submit' && e.origin === 'job' && e.step > returned.step && e.step < ended.step)).toBe(true);
  });

  it('should pause a job when its target is drained, and resume it when the target\'s section ends', () => {
    const jobTrace = traceOf('now-drain-target-pauses-job');
    const returned = jobTrace.filter((e) => e.type === '@trace.drain' && e.node === 'node:target0' && e.phase === 'begin.returned').at(-1)!;
    const ended = jobTrace.filter((e) => e.type === '@trace.drain' && e.node === 'node:target0' && e.phase === 'end').at(-1)!;
    const jobStates = jobTrace.filter((e): e is Extract<TraceEvent, { type: '@trace.state' }> => e.type === '@trace.state' && e.actor === 'job:1/0');
    // The copy loop's own requests (r<chunk>, w<chunk>); copy-before-write for the guest's write is not the loop.
    const loopRequest = (e: TraceEvent) => e.type === '@trace.io.submit' && e.origin === 'job' && /\/[rw]\d+$/.test(e.id);
    expect(jobStates.some((e) => e.to === 'paused' && e.step <= returned.step)).toBe(true);
    expect(jobTrace.some((e) => loopRequest(e) && e.step > returned.step && e.step < ended.step)).toBe(false);
    expect(jobStates.some((e) => e.to === 'running' && e.step > ended.step)).toBe(true);
    expect(jobTrace.some((e) => loopRequest(e) && e.step > ended.step)).toBe(true);
  });

  it("should copy through a drained section of the target in 2015, when the job was nobody's parent", () => {
    const jobTrace = traceOf('now-drain-target-pauses-job', '2015');
    const returned = jobTrace.filter((e) => e.type === '@trace.drain' && e.node === 'node:target0' && e.phase === 'begin.returned').at(-1)!;
    const ended = jobTrace.filter((e) => e.type === '@trace.drain' && e.node === 'node:target0' && e.phase === 'end').at(-1)!;
    expect(jobTrace.some((e) => e.type === '@trace.io.submit' && e.origin === 'job' && e.step > returned.step && e.step < ended.step)).toBe(true);
  });

  it('should quiesce an overlay appended to a drained node, and keep the device quiesced as it moves to the overlay', () => {
    const snapshots = traceOf('two-external-snapshots', 'now');
    const prepare0 = snapshots.find((e) => e.type === '@trace.txn' && e.phase === 'prepare' && e.index === 0 && e.result === 'start')!;
    const pit = snapshots.find((e) => e.type === '@trace.pit' && e.index === 0)!;
    // The overlay becomes drive0's parent just before the append: quiesced by drive0, not drained itself.
    expect(drainsOf(snapshots.filter((e) => e.step >= prepare0.step && e.step <= pit.step), 'node:overlay0')).toEqual(['parent.begin 1']);
    // From the append to the end of the drive0's section the device's BlockBackend never resumes.
    const cleanEnd = snapshots.find((e) => e.type === '@trace.txn' && e.phase === 'clean' && e.index === 0 && e.result === 'ok')!;
    const between = snapshots.filter((e) => e.type === '@trace.counter' && e.counter === 'blkQuiesce' && e.actor === 'client:vblk0' && e.step > pit.step && e.step < cleanEnd.step);
    expect(between.map((e) => (e as { value: number }).value)).toEqual([2, 1, 0]);
    expect(between.at(-1)!.step).toBeGreaterThan(snapshots.find((e) => e.type === '@trace.drain' && e.node === 'node:drive0' && e.phase === 'end' && e.quiesce === 0 && e.step > pit.step)!.step);
  });

  it('should keep a node created inside a drain_all section quiesced until the section ends', () => {
    const section = traceOf('now-drain-all-new-node');
    const opened = section.find((e) => e.type === '@trace.io.submit' && e.node === 'node:overlay0' && e.id.endsWith('/openOverlay'))!;
    const ended = section.find((e) => e.type === '@trace.command' && e.phase === 'start' && e.index === 2)!;
    let quiesce = 0;
    const whileAlive: number[] = [];
    for (const e of section) {
      if (e.type === '@trace.counter' && e.counter === 'quiesceCounter' && e.actor === 'node:overlay0') quiesce = e.value;
      if (e.step >= opened.step && e.step < ended.step) whileAlive.push(quiesce);
    }
    expect(Math.min(...whileAlive)).toBeGreaterThan(0);
    const submitted = section.find((e) => e.type === '@trace.io.submit' && e.id === 'Wx')!;
    expect(submitted).toMatchObject({ node: 'node:overlay0' });
    expect(submitted.step).toBeGreaterThan(ended.step);
  });

  it('should take the overlay out of the drained section when abort undoes the append', () => {
    const undone = traceOf('now-era-snapshot-abort');
    const abort0 = undone.find((e) => e.type === '@trace.txn' && e.phase === 'abort' && e.index === 0 && e.result === 'start')!;
    const clean0 = undone.find((e) => e.type === '@trace.txn' && e.phase === 'clean' && e.index === 0 && e.result === 'start')!;
    const overlayEnd = undone.find((e) => e.type === '@trace.drain' && e.node === 'node:overlay0' && e.phase === 'parent.end' && e.quiesce === 0 && e.step > abort0.step)!;
    expect(overlayEnd.step).toBeLessThan(clean0.step);
  });
});

describe("DOMAIN.md section 3 in the now era: holds with today's protections, breaks without", () => {
  const inNow = (name: string, protections: Topology['protections'] = {}): Topology => {
    const topology = resolveScenario(name, 'now').topology;
    return { ...topology, protections: { ...topology.protections, ...protections } };
  };
  const unprotected = { deviceDrainedCallbacks: false, blockBackendQueuing: false };
  const cases: [string, Topology['protections'], string][] = [
    ['two-external-snapshots', unprotected, 'I10'],
    ['backup-and-snapshot-over-nbd', unprotected, 'I10'],
    ['two-internal-snapshots', unprotected, 'I10'],
    ['qed-timer-with-hook', { qedDrainHook: false }, 'I6'],
  ];

  it.each(cases)('should prove %s in the now era', (name) => {
    const result = explore(inNow(name), { maxStates: 500_000 });
    expect(result.counterexample?.violations.map((v) => `${v.invariant}: ${v.message}`) ?? result.counterexample?.unfinished).toBeUndefined();
    expect(result.verdict).toBe('proved');
  });

  it.each(cases)('should break %s with the now-era switch off', (name, protections, invariant) => {
    const result = explore(inNow(name, protections), { maxStates: 500_000, mustHold: [invariant] });
    expect(result.verdict).toBe('violated');
    expect(result.counterexample?.violations.map((v) => v.invariant)).toContain(invariant);
  });
});

describe('collateral blocking', () => {
  const order = (trace: readonly TraceEvent[]) => {
    const submitB1 = trace.find((e) => e.type === '@trace.io.submit' && e.id === 'B1')!.step;
    const end = trace.find((e) => e.type === '@trace.drain' && e.node === 'node:drive0' && e.phase === 'end')!.step;
    return submitB1 < end ? 'B1 inside the section' : 'B1 after drained_end';
  };
  it("should hold the neighbour device's request until drained_end in 2015", () => {
    expect(order(traceOf('collateral-blocking', '2015'))).toBe('B1 after drained_end');
  });
  it('should let the neighbour device serve during the section in the now era', () => {
    expect(order(traceOf('collateral-blocking', 'now'))).toBe('B1 inside the section');
  });
});

describe("virtio-scsi's per-bus drain counter (scsi_device_drained_begin/end)", () => {
  const DISKS = ['client:vscsi0', 'client:vscsi1'];
  const handlerOf = (client: string) => `notifier:${client}`;
  /** The disks' handlers detached and attached once the script has started, as the context took them (`remove vscsi0`, `set vscsi1`). */
  const handlerMoves = (trace: readonly TraceEvent[]) => {
    const scriptStart = trace.find((e) => e.type === '@trace.command')!.step;
    return trace.flatMap((e) =>
      e.type === '@trace.deliver' && e.step > scriptStart && e.actor === 'ctx:iothread0' && (e.event === 'aio.handler.remove' || e.event === 'aio.handler.set') && DISKS.includes(e.from)
        ? [`${e.event === 'aio.handler.remove' ? 'remove' : 'set'} ${e.from.slice('client:'.length)}`]
        : [],
    );
  };
  const busCounts = (trace: readonly TraceEvent[]) => trace.flatMap((e) => (e.type === '@trace.counter' && e.counter === 'scsiBusDrainCount' ? [e.value] : []));
  const stepOf = (trace: readonly TraceEvent[], match: (e: TraceEvent) => boolean) => trace.find(match)?.step;
  const drainPhase = (trace: readonly TraceEvent[], node: string, phase: string) => stepOf(trace, (e) => e.type === '@trace.drain' && e.node === `node:${node}` && e.phase === phase)!;
  const submitted = (trace: readonly TraceEvent[], id: string) => stepOf(trace, (e) => e.type === '@trace.io.submit' && e.id === id)!;
  const runs = new Map<string, ReturnType<typeof runScenario>>();
  /** The scenario's run in an era (once per era); each test reads its trace, so that each can fail on its own. */
  const runIn = (era: '2015' | 'now') => {
    if (!runs.has(era)) runs.set(era, runScenario(resolveScenario('now-scsi-bus-drains-once', era)));
    return runs.get(era)!;
  };
  const traceIn = (era: '2015' | 'now') => (runIn(era).result.trace ?? []) as TraceEvent[];
  let trace: TraceEvent[] = [];
  beforeAll(() => {
    trace = traceIn('now');
  });

  it('should meet its expectations in both eras', () => {
    expect(runIn('now').met).toBe(true);
    expect(runIn('2015').met).toBe(true);
  });

  it('should detach and attach the HBA once for two overlapping drains of its disks: at the first begin and the last end', () => {
    expect(handlerMoves(trace)).toEqual(['remove vscsi0', 'remove vscsi1', 'set vscsi0', 'set vscsi1']);
    const moves = trace.filter((e) => e.type === '@trace.deliver' && e.actor === 'ctx:iothread0' && DISKS.includes(e.from) && e.step > drainPhase(trace, 'drive1', 'begin'));
    const removed = moves.filter((e) => e.type === '@trace.deliver' && e.event === 'aio.handler.remove').map((e) => e.step);
    const attached = moves.filter((e) => e.type === '@trace.deliver' && e.event === 'aio.handler.set').map((e) => e.step);
    expect(Math.max(...removed)).toBeLessThan(drainPhase(trace, 'drive0', 'begin'));
    expect(Math.min(...attached)).toBeGreaterThan(drainPhase(trace, 'drive0', 'end'));
  });

  it('should count both disks on the bus: 1, 2, 1, 0', () => {
    expect(busCounts(trace)).toEqual([1, 2, 1, 0]);
  });

  it("should detach every disk's handler before the drained node polls (no window)", () => {
    const begin = drainPhase(trace, 'drive1', 'begin');
    const firstPoll = stepOf(trace, (e) => e.type === '@trace.poll.begin' && e.actor === 'ctx:iothread0' && e.step > begin)!;
    const detached = trace.filter((e) => e.type === '@trace.deliver' && e.event === 'aio.handler.remove' && DISKS.includes(e.from)).map((e) => e.step);
    expect(detached).toHaveLength(2);
    expect(Math.max(...detached)).toBeLessThan(firstPoll);
  });

  it("should hold the other disk's request in the virtqueue while only the first disk is drained, and submit it at that drain's end", () => {
    const issued = stepOf(trace, (e) => e.type === '@trace.guest' && e.phase === 'issue' && e.id === 'S1')!;
    expect(issued).toBeGreaterThan(drainPhase(trace, 'drive1', 'end'));
    expect(issued).toBeLessThan(drainPhase(trace, 'drive0', 'end'));
    expect(trace.some((e) => e.type === '@trace.io.submit' && e.node === 'node:drive1' && e.id === 'S1' && e.step < drainPhase(trace, 'drive0', 'end'))).toBe(false);
    expect(submitted(trace, 'S1')).toBeGreaterThan(drainPhase(trace, 'drive0', 'end'));
  });

  it('should let a virtio-blk device on the same node serve meanwhile', () => {
    expect(submitted(trace, 'B1')).toBeLessThan(drainPhase(trace, 'drive0', 'end'));
  });

  it('should give two detach/attach pairs without a shared bus (one HBA per disk)', () => {
    const topology = resolveScenario('now-scsi-bus-drains-once').topology;
    const ownHba = { ...topology, clients: topology.clients.map(({ bus: _bus, ...c }) => c) };
    const run = simulate(ownHba, { collectTrace: true });
    const moves = handlerMoves(run.trace!);
    expect(moves.filter((m) => m.startsWith('remove'))).toHaveLength(2);
    expect(moves.filter((m) => m.startsWith('set'))).toHaveLength(2);
    expect(busCounts(run.trace!)).toEqual([]);
    expect(submitted(run.trace!, 'S1')).toBeLessThan(drainPhase(run.trace!, 'drive0', 'end'));
  });

  it('should never call the bus when the devices forget their drained callbacks', () => {
    const topology = resolveScenario('now-scsi-bus-drains-once').topology;
    const run = simulate({ ...topology, protections: { ...topology.protections, deviceDrainedCallbacks: false } }, { collectTrace: true });
    expect(busCounts(run.trace!)).toEqual([]);
    expect(handlerMoves(run.trace!)).toEqual([]);
  });

  it('should keep the 2015 behaviour: no bus counting, the context gate holds back every device of iothread0', () => {
    const old = traceIn('2015');
    expect(busCounts(old)).toEqual([]);
    expect(handlerMoves(old)).toEqual([]);
    expect(submitted(old, 'B1')).toBeGreaterThan(drainPhase(old, 'drive0', 'end'));
    expect(submitted(old, 'S1')).toBeGreaterThan(drainPhase(old, 'drive0', 'end'));
  });

  it('should prove the scenario under the explorer in both eras', () => {
    for (const era of ['now', '2015'] as const) {
      const result = explore(resolveScenario('now-scsi-bus-drains-once', era).topology, { maxStates: 100_000 });
      expect(result.counterexample?.violations.map((v) => `${v.invariant}: ${v.message}`) ?? result.counterexample?.unfinished, era).toBeUndefined();
      expect(result.verdict, era).toBe('proved');
    }
  });
});

describe('the library in the now era, under the explorer', () => {
  const holding = libraryEntries()
    .map((e) => resolveScenario(e.name))
    .filter((s) => !s.name.startsWith('reference-') && (s.expect.violate ?? []).length === 0 && s.topology.era !== 'now');
  it.each(holding.map((s) => [s.name]))('should prove %s in the now era too', (name) => {
    const result = explore(resolveScenario(name, 'now').topology, { maxStates: 500_000 });
    expect(result.counterexample?.violations.map((v) => `${v.invariant}: ${v.message}`) ?? result.counterexample?.unfinished).toBeUndefined();
    expect(result.verdict).toBe('proved');
  });
});

describe("today's drain from a coroutine (bdrv_co_yield_to_drain)", () => {
  const stepOf = (trace: readonly TraceEvent[], match: (e: TraceEvent) => boolean) => trace.find(match)?.step ?? -1;
  const commandPhase = (index: number, phase: string) => (e: TraceEvent) => e.type === '@trace.command' && e.index === index && e.phase === phase;
  const drainPhase = (phase: string) => (e: TraceEvent) => e.type === '@trace.drain' && e.node === 'node:drive0' && e.phase === phase;

  it("should end the command's dispatch before the drain begins, and drain in a main-loop BH", () => {
    const trace = traceOf('now-drain-from-a-coroutine');
    const yielded = stepOf(trace, commandPhase(0, 'yield'));
    const dispatchEnded = stepOf(trace, (e) => e.type === '@trace.poll.end' && e.actor === 'ctx:main' && e.step >= yielded);
    const bh = trace.find((e) => e.type === '@trace.dispatch' && e.id === 'bh:co-drain:monitor:qmp' && e.step > yielded);
    const begin = stepOf(trace, drainPhase('begin'));
    expect(yielded).toBeGreaterThan(0);
    expect(dispatchEnded).toBeGreaterThan(yielded);
    expect(bh && bh.type === '@trace.dispatch' && bh.actor === 'ctx:main' && bh.thread === 'main').toBe(true);
    expect(bh!.step).toBeGreaterThan(dispatchEnded);
    expect(begin).toBeGreaterThan(bh!.step);
  });

  it('should resume the command only once drained_begin has returned with nothing in flight', () => {
    const trace = traceOf('now-drain-from-a-coroutine');
    let inFlight = 0;
    let atReturn = -1;
    for (const e of trace) {
      if (e.type === '@trace.counter' && e.counter === 'inFlight' && e.actor === 'node:drive0') inFlight = e.value;
      if (drainPhase('begin.returned')(e) && atReturn < 0) atReturn = inFlight;
    }
    expect(atReturn).toBe(0);
    expect(stepOf(trace, commandPhase(0, 'end'))).toBeGreaterThan(stepOf(trace, drainPhase('begin.returned')));
  });

  it('should bounce drained_end the same way', () => {
    const trace = traceOf('now-drain-from-a-coroutine');
    const yielded = stepOf(trace, commandPhase(1, 'yield'));
    const resumed = stepOf(trace, commandPhase(1, 'resume'));
    expect(yielded).toBeGreaterThan(0);
    expect(stepOf(trace, drainPhase('end'))).toBeGreaterThan(resumed);
    expect(resumed).toBeGreaterThan(yielded);
  });

  it('should drain in place inside the dispatch in 2015, which had no coroutine drain', () => {
    const trace = traceOf('now-drain-from-a-coroutine', '2015');
    expect(trace.some((e) => e.type === '@trace.command' && (e.phase === 'yield' || e.phase === 'resume'))).toBe(false);
    const start = stepOf(trace, commandPhase(0, 'start'));
    const begin = stepOf(trace, drainPhase('begin'));
    const dispatchEnded = stepOf(trace, (e) => e.type === '@trace.poll.end' && e.actor === 'ctx:main' && e.step >= start);
    expect(begin).toBeGreaterThan(start);
    expect(begin).toBeLessThan(dispatchEnded);
  });
});
