import { describe, expect, it } from 'vitest';
import type { Topology } from '../../actors/topology.ts';
import type { BlockNodeContext } from '../../machines/blockNodeMachine.ts';
import type { AioContextContext } from '../../machines/aioContextMachine.ts';
import { completedIds, type ExternalClientContext } from '../../machines/externalClientMachine.ts';
import { SystemRig } from '../helpers/rig.ts';

const ms = (n: number) => n * 1_000_000;

function oneDrive(script: Topology['script'], workload: Topology['clients'][number]['workload'] = [{ id: 'W1', op: 'write', after: [] }]): Topology {
  return {
    contexts: [{ name: 'iothread0' }],
    nodes: [
      { name: 'drive0', driver: 'qcow2', ctx: 'iothread0', file: 'drive0-file' },
      { name: 'drive0-file', driver: 'file', ctx: 'iothread0' },
      { name: 'drive1', driver: 'raw', ctx: 'iothread0', file: 'drive1-file' },
      { name: 'drive1-file', driver: 'file', ctx: 'iothread0' },
    ],
    clients: [{ name: 'vblk0', kind: 'virtio-blk', node: 'drive0', workload }],
    script,
  };
}

const node = (rig: SystemRig, name: string) => rig.context<BlockNodeContext>(`node:${name}`);
const iothread = (rig: SystemRig) => rig.context<AioContextContext>('ctx:iothread0');

describe('blockNodeMachine: bdrv_drained_begin waits for the node to be quiet', () => {
  it('should not return from drained_begin while a request is in flight at the host', () => {
    const rig = new SystemRig(oneDrive([{ do: 'drained_begin', node: 'drive0', at: ms(1) }]));
    rig.offer('client:vblk0', 'far.issue', { id: 'W1' });
    expect(node(rig, 'drive0').trackedOrder).toEqual(['W1']);
    rig.advance();
    expect(rig.state('node:drive0')).toBe('draining');
    expect(rig.events('@trace.drain').map((e) => e.phase)).toEqual(['begin']);
  });

  it('should return only after the completion and its completion BH ran', () => {
    const rig = new SystemRig(oneDrive([{ do: 'drained_begin', node: 'drive0', at: ms(1) }]));
    rig.offer('client:vblk0', 'far.issue', { id: 'W1' }).advance();
    rig.offer('host:storage', 'host.complete', { id: 'W1' });
    expect(rig.state('node:drive0')).toBe('drained');
    const order = rig.trace
      .filter((e) => (e.type === '@trace.dispatch' && e.actor === 'ctx:iothread0') || e.type === '@trace.drain')
      .map((e) => (e.type === '@trace.dispatch' ? `${e.kind}:${e.id}` : e.type === '@trace.drain' ? `drain.${e.phase}` : ''));
    expect(order.slice(order.indexOf('drain.begin'))).toEqual([
      'drain.begin',
      'handler:laio:node:drive0-file',
      'bh:bh:complete:node:drive0',
      'drain.begin.returned',
    ]);
    expect(completedIds(rig.context<ExternalClientContext>('client:vblk0'))).toEqual(['W1']);
  });

  it('should disable external clients of the node’s context before its own polling starts', () => {
    const rig = new SystemRig(oneDrive([{ do: 'drained_begin', node: 'drive0', at: ms(1) }])).advance();
    const steps = rig.trace.filter((e) => e.step > 0);
    const disabled = steps.findIndex((e) => e.type === '@trace.counter' && e.counter === 'externalDisableCount' && e.value === 1);
    const firstPoll = steps.findIndex((e) => e.type === '@trace.poll.begin' && e.thread === 'main' && e.actor === 'ctx:iothread0');
    expect(disabled).toBeGreaterThan(-1);
    expect(disabled).toBeLessThan(firstPoll);
  });
});

describe('blockNodeMachine: nested drained sections', () => {
  it('should keep the context disabled until the last end of nested sections on one node', () => {
    const script: Topology['script'] = [
      { do: 'drained_begin', node: 'drive0', at: ms(1) },
      { do: 'drained_begin', node: 'drive0', at: ms(2) },
      { do: 'drained_end', node: 'drive0', at: ms(3) },
      { do: 'drained_end', node: 'drive0', at: ms(4) },
    ];
    const rig = new SystemRig(oneDrive(script, []));
    const timeline: [number, string, number][] = [];
    for (let i = 0; i < 4; i++) {
      rig.advance();
      timeline.push([node(rig, 'drive0').quiesceCounter, rig.state('node:drive0') as string, iothread(rig).externalDisableCount]);
    }
    expect(timeline).toEqual([
      [1, 'drained', 1],
      [2, 'drained', 1],
      [1, 'drained', 1],
      [0, 'running', 0],
    ]);
    expect(rig.checker.violations).toEqual([]);
  });

  it('should keep the context disabled until the last of two nodes in it ends its section', () => {
    const script: Topology['script'] = [
      { do: 'drained_begin', node: 'drive0', at: ms(1) },
      { do: 'drained_begin', node: 'drive1', at: ms(2) },
      { do: 'drained_end', node: 'drive0', at: ms(3) },
      { do: 'drained_end', node: 'drive1', at: ms(4) },
    ];
    const rig = new SystemRig(oneDrive(script, []));
    const counts: number[] = [];
    for (let i = 0; i < 4; i++) counts.push(rig.advance() && iothread(rig).externalDisableCount);
    expect(counts).toEqual([1, 2, 1, 0]);
    expect(rig.checker.violations).toEqual([]);
  });

  it('should report drained_end on a node that is not drained as an error naming the node', () => {
    const rig = new SystemRig(oneDrive([{ do: 'drained_end', node: 'drive0', at: ms(1) }], [])).advance();
    expect(rig.events('@trace.error').map((e) => e.message)).toEqual(['Cannot end drain on node:drive0: not drained (quiesceCounter=0)']);
    expect(node(rig, 'drive0').quiesceCounter).toBe(0);
    expect(rig.state('monitor:qmp')).toBe('finished');
    expect(rig.checker.violations.map((v) => v.invariant)).toEqual(['I2']);
  });
});

describe('blockNodeMachine: what still runs inside a drained section', () => {
  it('should let internal completions run and hold back a guest kick until the end', () => {
    const script: Topology['script'] = [
      { do: 'drained_begin', node: 'drive0', at: ms(1) },
      { do: 'drained_end', node: 'drive0', at: ms(3) },
    ];
    const rig = new SystemRig(oneDrive(script, [{ id: 'W1', op: 'write', after: [], at: ms(2) }]));
    rig.advance().advance();
    rig.offer('client:vblk0', 'far.issue', { id: 'W1' });
    expect(iothread(rig).handlers['notifier:client:vblk0'].ready).toBe(true);
    expect(node(rig, 'drive0').trackedOrder).toEqual([]);
    rig.advance();
    expect(node(rig, 'drive0').trackedOrder).toEqual(['W1']);
    rig.offer('host:storage', 'host.complete', { id: 'W1' });
    expect(completedIds(rig.context<ExternalClientContext>('client:vblk0'))).toEqual(['W1']);
    expect(rig.checker.violations).toEqual([]);
  });
});

describe('blockNodeMachine: bdrv_drain and bdrv_drain_all', () => {
  it('should wait for in-flight requests in a one-shot drain without touching the quiesce counter', () => {
    const rig = new SystemRig(oneDrive([{ do: 'drain', node: 'drive0', at: ms(1) }]));
    rig.offer('client:vblk0', 'far.issue', { id: 'W1' }).advance();
    expect(rig.state('node:drive0')).toBe('draining');
    rig.offer('host:storage', 'host.complete', { id: 'W1' });
    expect(rig.state('node:drive0')).toBe('running');
    expect(rig.events('@trace.drain').map((e) => `${e.phase}:${e.quiesce}`)).toEqual(['run:0', 'run.returned:0']);
    expect(iothread(rig).externalDisableCount).toBe(0);
  });

  it('should drain every node with bdrv_drain_all', () => {
    const rig = new SystemRig(oneDrive([{ do: 'drain_all', at: ms(1) }], [])).advance();
    expect(rig.events('@trace.drain').filter((e) => e.phase === 'run.returned').map((e) => e.node)).toEqual([
      'node:drive0',
      'node:drive0-file',
      'node:drive1',
      'node:drive1-file',
    ]);
    expect(rig.state('monitor:qmp')).toBe('finished');
  });
});
