import { describe, expect, it } from 'vitest';
import type { ActionSpec, Topology } from '../../actors/topology.ts';
import type { MonitorContext } from '../../machines/monitorMachine.ts';
import { simulate, type SimulationResult } from '../../runtime/simulate.ts';
import type { TraceEvent } from '../../runtime/trace/TraceEvent.ts';
import { snapshotOf } from '../../runtime/engine/World.ts';

const ms = (n: number) => n * 1_000_000;

function drive(name: string, ctx = 'iothread0', extra: Partial<Topology['nodes'][number]> = {}): Topology['nodes'] {
  return [
    { name, driver: 'qcow2', ctx, file: `${name}-file`, ...extra },
    { name: `${name}-file`, driver: 'file', ctx },
  ];
}

function txn(actions: ActionSpec[], extra: Partial<Topology> = {}): Topology {
  return {
    contexts: [{ name: 'iothread0' }, { name: 'iothread1' }],
    nodes: [...drive('drive0'), ...drive('drive1'), ...drive('overlay0'), ...drive('overlay1'), ...drive('backup0'), ...drive('other', 'iothread1')],
    clients: [],
    transactions: [{ name: '1', actions }],
    script: [{ do: 'transaction', txn: '1', at: ms(1) }],
    ...extra,
  };
}

const run = (t: Topology): SimulationResult => simulate(t, { collectTrace: true });
const replies = (r: SimulationResult) => (snapshotOf(r.world, 'monitor:qmp').context as MonitorContext).replies;
const phases = (r: SimulationResult) =>
  r.trace!.filter((e): e is Extract<TraceEvent, { type: '@trace.txn' }> => e.type === '@trace.txn' && e.result !== 'start' && e.phase !== 'transaction').map((e) => `${e.phase}:${e.index}:${e.result}`);
const drains = (r: SimulationResult, node: string) =>
  r.trace!.filter((e) => e.type === '@trace.drain' && e.node === `node:${node}` && (e.phase === 'begin' || e.phase === 'end')).map((e) => (e.type === '@trace.drain' ? `${e.phase}:${e.quiesce}` : ''));

describe('transaction: phases (qmp_transaction, 2015)', () => {
  it('should prepare, commit and clean every action in request order on success', () => {
    const r = run(txn([{ type: 'blockdev-snapshot-sync', device: 'drive0', overlay: 'overlay0' }, { type: 'blockdev-snapshot-internal-sync', device: 'drive1', name: 's1' }]));
    expect(phases(r)).toEqual(['prepare:0:ok', 'prepare:1:ok', 'commit:0:ok', 'commit:1:ok', 'clean:0:ok', 'clean:1:ok']);
    expect(replies(r)).toEqual(['ok']);
    expect(r.violations).toEqual([]);
  });

  it('should stop at an abort action in the middle: later actions never start, started ones are aborted and cleaned', () => {
    const r = run(
      txn([
        { type: 'blockdev-snapshot-sync', device: 'drive0', overlay: 'overlay0' },
        { type: 'abort' },
        { type: 'blockdev-snapshot-sync', device: 'drive1', overlay: 'overlay1' },
      ]),
    );
    expect(phases(r)).toEqual(['prepare:0:ok', 'prepare:1:failed', 'abort:0:ok', 'abort:1:ok', 'clean:0:ok', 'clean:1:ok']);
    expect(replies(r)).toEqual(['error: Transaction aborted using Abort action']);
    expect(drains(r, 'drive0')).toEqual(['begin:1', 'end:0']);
    expect(drains(r, 'drive1')).toEqual([]);
    expect(r.trace!.some((e) => e.type === '@trace.pit')).toBe(false);
    expect(r.violations).toEqual([]);
  });

  it('should take quiesce 2 -> 1 -> 0 for two actions on one node and re-enable the context only at the last', () => {
    const r = run(txn([{ type: 'blockdev-snapshot-internal-sync', device: 'drive0', name: 'a' }, { type: 'blockdev-snapshot-internal-sync', device: 'drive0', name: 'b' }]));
    expect(drains(r, 'drive0')).toEqual(['begin:1', 'begin:2', 'end:1', 'end:0']);
    const counts = r.trace!.filter((e) => e.type === '@trace.counter' && e.counter === 'externalDisableCount' && e.actor === 'ctx:iothread0').map((e) => (e.type === '@trace.counter' ? e.value : -1));
    expect(counts).toEqual([1, 0]);
    const enabledAt = r.trace!.find((e) => e.type === '@trace.counter' && e.counter === 'externalDisableCount' && e.value === 0)!.step;
    const lastEnd = r.trace!.filter((e) => e.type === '@trace.drain' && e.phase === 'end').map((e) => e.step);
    expect(enabledAt).toBeGreaterThanOrEqual(Math.max(...lastEnd));
    expect(r.violations).toEqual([]);
  });

  it('should run commit, abort and clean last-in first-out in the `now` era', () => {
    const actions: ActionSpec[] = [
      { type: 'blockdev-snapshot-internal-sync', device: 'drive0', name: 'a' },
      { type: 'blockdev-snapshot-internal-sync', device: 'drive1', name: 'b' },
    ];
    expect(phases(run(txn(actions, { era: 'now' })))).toEqual(['prepare:0:ok', 'prepare:1:ok', 'commit:1:ok', 'commit:0:ok', 'clean:1:ok', 'clean:0:ok']);
    expect(run(txn(actions, { era: 'now' })).violations).toEqual([]);
  });
});

describe('transaction: failures and the drained_begin / drained_end pairing', () => {
  it('should not call drained_end for a failure before the drain (unknown device)', () => {
    const r = run(txn([{ type: 'blockdev-snapshot-internal-sync', device: 'drive0', name: 'a' }, { type: 'blockdev-snapshot-sync', device: 'nosuch', overlay: 'overlay1' }]));
    expect(replies(r)).toEqual(["error: Device 'nosuch' not found"]);
    expect(drains(r, 'drive0')).toEqual(['begin:1', 'end:0']);
    expect(r.trace!.filter((e) => e.type === '@trace.drain' && e.phase === 'end')).toHaveLength(1);
    expect(r.violations).toEqual([]);
  });

  it('should call drained_end exactly once for a failure after the drain (snapshot name taken)', () => {
    const r = run(txn([{ type: 'blockdev-snapshot-internal-sync', device: 'drive1', name: 'taken' }], { nodes: [...drive('drive0'), ...drive('drive1', 'iothread0', { snapshots: ['taken'] })] }));
    expect(replies(r)).toEqual(["error: Snapshot with name 'taken' already exists on device 'drive1'"]);
    expect(drains(r, 'drive1')).toEqual(['begin:1', 'end:0']);
    expect(r.violations).toEqual([]);
  });

  it.each([
    [{ type: 'blockdev-snapshot-internal-sync', device: 'drive0', name: '' } as ActionSpec, 'Name is empty'],
    [{ type: 'blockdev-snapshot-sync', device: 'drive0', overlay: 'missing' } as ActionSpec, "Could not create file 'missing': No such file or directory"],
    [{ type: 'drive-backup', device: 'drive0', target: 'missing' } as ActionSpec, "Could not open 'missing': No such file or directory"],
  ])('should fail %j after the drain with QEMU’s message and still end the section', (action, message) => {
    const r = run(txn([action]));
    expect(replies(r)).toEqual([`error: ${message}`]);
    expect(drains(r, 'drive0')).toEqual(['begin:1', 'end:0']);
    expect(r.violations).toEqual([]);
  });

  it.each([
    [{ medium: false }, { type: 'blockdev-snapshot-sync', device: 'drive1', overlay: 'overlay1' } as ActionSpec, "Device 'drive1' has no medium"],
    [{ readOnly: true }, { type: 'blockdev-snapshot-internal-sync', device: 'drive1', name: 'x' } as ActionSpec, "Device 'drive1' is read only"],
    [{ driver: 'raw' as const }, { type: 'blockdev-snapshot-internal-sync', device: 'drive1', name: 'x' } as ActionSpec, "Device 'drive1' doesn't support internal snapshots"],
  ])('should check %j after the drain', (attributes, action, message) => {
    const r = run(txn([action], { nodes: [...drive('drive0'), ...drive('drive1', 'iothread0', attributes), ...drive('overlay1')] }));
    expect(replies(r)).toEqual([`error: ${message}`]);
    expect(drains(r, 'drive1')).toEqual(['begin:1', 'end:0']);
    expect(r.violations).toEqual([]);
  });

  it('should refuse blockdev-backup across two contexts before any drain', () => {
    const r = run(txn([{ type: 'blockdev-backup', device: 'drive0', target: 'other' }]));
    expect(replies(r)).toEqual(['error: Backup between two IO threads is not implemented']);
    expect(drains(r, 'drive0')).toEqual([]);
  });

  it('should cancel a started backup job synchronously when a later action fails, leaving nothing behind (I11)', () => {
    const r = run(txn([{ type: 'drive-backup', device: 'drive0', target: 'backup0' }, { type: 'abort' }], { hostLatency: { read: ms(0.1), write: ms(0.1), flush: 0 } }));
    const artifacts = r.trace!.filter((e) => e.type === '@trace.artifact').map((e) => (e.type === '@trace.artifact' ? `${e.kind}:${e.op}` : ''));
    expect(artifacts).toEqual(['job:created', 'job:removed']);
    const removed = r.trace!.find((e) => e.type === '@trace.artifact' && e.op === 'removed')!.step;
    const cleanStart = r.trace!.find((e) => e.type === '@trace.txn' && e.phase === 'clean')!.step;
    expect(removed).toBeLessThan(cleanStart);
    expect(r.violations).toEqual([]);
  });

  it('should delete an internal snapshot created in prepare when the transaction fails', () => {
    const r = run(txn([{ type: 'blockdev-snapshot-internal-sync', device: 'drive0', name: 'a' }, { type: 'abort' }]));
    const artifacts = r.trace!.filter((e) => e.type === '@trace.artifact').map((e) => (e.type === '@trace.artifact' ? `${e.kind}:${e.op}` : ''));
    expect(artifacts).toEqual(['internal-snapshot:created', 'internal-snapshot:removed']);
    expect(r.violations).toEqual([]);
  });
});

describe('transaction: a guest write kicked during prepare', () => {
  const topology = txn([{ type: 'blockdev-snapshot-sync', device: 'drive0', overlay: 'overlay0' }], {
    clients: [{ name: 'vblk0', kind: 'virtio-blk', node: 'drive0', workload: [{ id: 'W', op: 'write', after: [], at: ms(1.2) }] }],
    hostLatency: { read: ms(0.05), write: ms(0.05), flush: ms(0.5) },
  });

  it('should be neither lost nor run early: it runs after clean and lands in the new overlay', () => {
    const r = run(topology);
    const trace = r.trace!;
    const kicked = trace.find((e) => e.type === '@trace.guest' && e.phase === 'issue')!.step;
    const prepareEnd = trace.find((e) => e.type === '@trace.txn' && e.phase === 'prepare' && e.result === 'ok')!.step;
    const cleanEnd = trace.find((e) => e.type === '@trace.txn' && e.phase === 'clean' && e.result === 'ok')!.step;
    const submit = trace.find((e) => e.type === '@trace.io.submit' && e.id === 'W' && e.via === 'client:vblk0')!;
    expect(kicked).toBeLessThan(prepareEnd);
    expect(submit.step).toBeGreaterThan(cleanEnd);
    expect(submit).toMatchObject({ node: 'node:overlay0' });
    expect(r.unfinished).toEqual([]);
    expect(r.violations).toEqual([]);
  });
});

describe('transactionActionMachine: a state for every synchronous operation', () => {
  it('should pass through acquire, drainedBegin, flush, createOverlay, openOverlay, reopenReadOnly and drainedEnd', () => {
    const r = run(txn([{ type: 'blockdev-snapshot-sync', device: 'drive0', overlay: 'overlay0' }]));
    const operations = r.trace!
      .filter((e) => e.type === '@trace.state' && e.actor === 'txn:1/action:0')
      .map((e) => (e.type === '@trace.state' ? /operation\.(\w+)/.exec(e.to)?.[1] : ''))
      .filter((op, i, all) => op !== 'none' && op !== all[i - 1]);
    expect(operations).toEqual(['acquire', 'drainedBegin', 'flush', 'createOverlay', 'openOverlay', 'reopenReadOnly', 'drainedEnd']);
  });
});

describe('monitor: one command at a time', () => {
  it('should take no other command while a transaction runs', () => {
    const r = run(
      txn([{ type: 'blockdev-snapshot-sync', device: 'drive0', overlay: 'overlay0' }], {
        script: [
          { do: 'transaction', txn: '1', at: ms(1) },
          { do: 'drained_begin', node: 'drive1', at: ms(1.1) },
          { do: 'drained_end', node: 'drive1', at: ms(1.2) },
        ],
        hostLatency: { read: ms(0.05), write: ms(0.05), flush: ms(0.5) },
      }),
    );
    const commands = r.trace!.filter((e) => e.type === '@trace.command').map((e) => (e.type === '@trace.command' ? `${e.phase} ${e.command}` : ''));
    expect(commands).toEqual([
      'start transaction txn:1',
      'end transaction txn:1',
      'start bdrv_drained_begin(node:drive1)',
      'end bdrv_drained_begin(node:drive1)',
      'start bdrv_drained_end(node:drive1)',
      'end bdrv_drained_end(node:drive1)',
    ]);
  });
});

describe('driver timers that do no block I/O (qcow2, iscsi, curl)', () => {
  it('should fire inside a drained section without submitting any request', () => {
    const timers = [
      { kind: 'qcow2-cache-clean' as const, interval: ms(0.3), firings: 3 },
      { kind: 'iscsi-nop' as const, interval: ms(0.4), firings: 2 },
      { kind: 'iscsi-event' as const, interval: ms(0.5), firings: 2 },
      { kind: 'curl-multi' as const, interval: ms(0.2), firings: 4 },
    ];
    const r = run({
      contexts: [{ name: 'iothread0' }],
      nodes: drive('drive0', 'iothread0', { timers }),
      clients: [],
      script: [
        { do: 'drained_begin', node: 'drive0', at: ms(0.1) },
        { do: 'drained_end', node: 'drive0', at: ms(2) },
      ],
    });
    const fired = r.trace!.filter((e) => e.type === '@trace.dispatch' && e.kind === 'timer').map((e) => (e.type === '@trace.dispatch' ? e.id.split(':')[1] : ''));
    expect(fired.sort()).toEqual(['curl-multi', 'curl-multi', 'curl-multi', 'curl-multi', 'iscsi-event', 'iscsi-event', 'iscsi-nop', 'iscsi-nop', 'qcow2-cache-clean', 'qcow2-cache-clean', 'qcow2-cache-clean']);
    expect(r.trace!.some((e) => e.type === '@trace.io.submit')).toBe(false);
    expect(r.violations).toEqual([]);
  });
});

describe('backupJobMachine: copy-before-write', () => {
  // 4 chunks of 0.5 ms reads and writes: the loop is on chunk 1 at 2 ms. W2 hits chunk 3, W3 chunk 0 (chunkOf).
  const topology = txn([{ type: 'drive-backup', device: 'drive0', target: 'backup0' }], {
    clients: [
      {
        name: 'vblk0',
        kind: 'virtio-blk',
        node: 'drive0',
        workload: [
          { id: 'W2', op: 'write', after: [], at: ms(2) },
          { id: 'W3', op: 'write', after: ['W2'] },
        ],
      },
    ],
    backupChunks: 4,
    hostLatency: { read: ms(0.5), write: ms(0.5), flush: 0 },
  });
  const submits = (r: SimulationResult) =>
    r.trace!.filter((e) => e.type === '@trace.io.submit' && e.node === 'node:drive0-file').map((e) => (e.type === '@trace.io.submit' ? e.id : ''));

  it('should copy the old data of a chunk not yet copied before the guest write reaches the disk', () => {
    const order = submits(run(topology));
    expect(order.indexOf('job:1/0/cow-r:W2')).toBeGreaterThan(-1);
    expect(order.indexOf('job:1/0/cow-r:W2')).toBeLessThan(order.indexOf('W2'));
  });

  it('should let a write to a chunk the loop already copied through without a copy, and skip copied chunks in the loop', () => {
    const r = run(topology);
    const order = submits(r);
    expect(order.some((id) => id.includes('cow-r:W3'))).toBe(false);
    expect(order.filter((id) => /job:1\/0\/r\d/.test(id))).toEqual(['job:1/0/r0', 'job:1/0/r1', 'job:1/0/r2']);
    expect(r.unfinished).toEqual([]);
    expect(r.violations).toEqual([]);
  });
});
