import { describe, expect, it } from 'vitest';
import type { Topology } from '../../actors/topology.ts';
import type { Emitted } from '../../machines/effects.ts';
import type { ExternalClientContext } from '../../machines/externalClientMachine.ts';
import { callbackProbeMachine } from '../../machines/callbackProbeMachine.ts';
import { scsiBusMachine, scsiBusStep, type ScsiBusContext } from '../../machines/scsiBusMachine.ts';
import { mailboxOf } from '../../runtime/engine/World.ts';
import { Rig, SystemRig } from '../helpers/rig.ts';

const ms = (n: number) => n * 1_000_000;
const BUS = 'bus:hba0';
const A = 'client:a';
const B = 'client:b';

const idle = (drainCount = 0): ScsiBusContext => ({ name: BUS, era: 'now', disks: [A, B], drainCount, round: null });

/** The sends of a step, as `to type`. */
const sends = (emitted: readonly Emitted[]) => emitted.flatMap((e) => (e.type === 'fx.send' ? [`${e.to} ${e.event.type}`] : []));
const counts = (emitted: readonly Emitted[]) => emitted.flatMap((e) => (e.type === 'obs.counter' ? [`${e.counter}=${e.value}`] : []));

describe('scsiBusMachine: scsi_device_drained_begin/end count on the bus', () => {
  it("should detach every disk's handler on 0->1 and answer the caller only once each disk has", () => {
    const begun = scsiBusStep(idle(), { type: 'scsi.drained_begin', disk: A, replyTo: A });
    expect(counts(begun.emitted)).toEqual(['scsiBusDrainCount=1']);
    expect(sends(begun.emitted)).toEqual([`${A} scsi.notifiers.detach`, `${B} scsi.notifiers.detach`]);
    const first = scsiBusStep(begun.context, { type: 'scsi.notifiers.done', disk: A });
    expect(sends(first.emitted)).toEqual([]);
    const last = scsiBusStep(first.context, { type: 'scsi.notifiers.done', disk: B });
    expect(sends(last.emitted)).toEqual([`${A} scsi.drained.done`]);
    expect(last.context.round).toBeNull();
  });

  it('should only count a begin while the bus is already drained, and answer at once', () => {
    const nested = scsiBusStep(idle(1), { type: 'scsi.drained_begin', disk: B, replyTo: B });
    expect(nested.context.drainCount).toBe(2);
    expect(sends(nested.emitted)).toEqual([`${B} scsi.drained.done`]);
  });

  it('should only count an end that leaves the bus drained, and attach every handler on 1->0', () => {
    const inner = scsiBusStep(idle(2), { type: 'scsi.drained_end', disk: A, replyTo: A });
    expect(sends(inner.emitted)).toEqual([`${A} scsi.drained.done`]);
    const last = scsiBusStep(inner.context, { type: 'scsi.drained_end', disk: B, replyTo: B });
    expect(counts(last.emitted)).toEqual(['scsiBusDrainCount=0']);
    expect(sends(last.emitted)).toEqual([`${A} scsi.notifiers.attach`, `${B} scsi.notifiers.attach`]);
    expect(last.context.round).toEqual({ which: 'end', outstanding: 2, replyTo: B });
  });

  it('should report an end on a bus that is not drained, and still answer', () => {
    const wrong = scsiBusStep(idle(), { type: 'scsi.drained_end', disk: A, replyTo: A });
    expect(wrong.emitted.some((e) => e.type === 'obs.error')).toBe(true);
    expect(wrong.context.drainCount).toBe(0);
    expect(sends(wrong.emitted)).toEqual([`${A} scsi.drained.done`]);
  });
});

describe('scsiBusMachine: one call at a time', () => {
  it("should leave another disk's call in its mailbox until every disk has answered the detach", () => {
    const rig = new Rig([
      { name: BUS, kind: 'scsi-bus', logic: scsiBusMachine, input: { name: BUS, disks: [A, B], era: 'now' } },
      // Stand-ins for the disks: they take none of the bus's messages, which stay in their mailboxes.
      { name: A, kind: 'probe', logic: callbackProbeMachine, input: { name: A, reactions: {} } },
      { name: B, kind: 'probe', logic: callbackProbeMachine, input: { name: B, reactions: {} } },
    ]);
    rig.send(BUS, { type: 'scsi.drained_begin', disk: A, replyTo: A });
    rig.send(BUS, { type: 'scsi.drained_begin', disk: B, replyTo: B });
    expect(rig.state(BUS)).toBe('switching');
    expect(rig.context<ScsiBusContext>(BUS).drainCount).toBe(1);
    expect(mailboxOf(rig.world, BUS).map((m) => m.event.type)).toEqual(['scsi.drained_begin']);
    rig.send(BUS, { type: 'scsi.notifiers.done', disk: A }).send(BUS, { type: 'scsi.notifiers.done', disk: B });
    expect(rig.state(BUS)).toBe('idle');
    expect(rig.context<ScsiBusContext>(BUS).drainCount).toBe(2);
    expect(mailboxOf(rig.world, A).map((m) => m.event.type)).toEqual(['scsi.notifiers.detach', 'scsi.drained.done']);
    expect(mailboxOf(rig.world, B).map((m) => m.event.type)).toEqual(['scsi.notifiers.detach', 'scsi.drained.done']);
  });
});

/** Two virtio-scsi disks of one HBA on drive0 and drive1, both in iothread0. */
function hba(script: Topology['script']): Topology {
  return {
    era: 'now',
    contexts: [{ name: 'iothread0' }],
    nodes: [
      { name: 'drive0', driver: 'raw', ctx: 'iothread0', file: 'drive0-file' },
      { name: 'drive0-file', driver: 'file', ctx: 'iothread0' },
      { name: 'drive1', driver: 'raw', ctx: 'iothread0', file: 'drive1-file' },
      { name: 'drive1-file', driver: 'file', ctx: 'iothread0' },
    ],
    clients: [
      { name: 'vscsi0', kind: 'virtio-scsi', node: 'drive0', bus: 'hba0', workload: [] },
      { name: 'vscsi1', kind: 'virtio-scsi', node: 'drive1', bus: 'hba0', workload: [{ id: 'S1', op: 'write', after: [], at: ms(2) }] },
    ],
    script,
  };
}

describe("scsiBusMachine in a system: a drain of one disk's node stops the whole HBA", () => {
  const disk = (rig: SystemRig, name: string) => rig.context<ExternalClientContext>(`client:${name}`);

  it("should detach both disks' handlers, and quiesce only the drained disk's BlockBackend", () => {
    const rig = new SystemRig(hba([{ do: 'drained_begin', node: 'drive0', at: ms(1) }])).advance();
    expect(rig.state('node:drive0')).toBe('drained');
    expect(rig.context<ScsiBusContext>('bus:hba0')).toMatchObject({ drainCount: 1, round: null });
    expect([disk(rig, 'vscsi0').detached, disk(rig, 'vscsi1').detached]).toEqual([true, true]);
    expect([disk(rig, 'vscsi0').blkQuiesce, disk(rig, 'vscsi1').blkQuiesce]).toEqual([1, 0]);
    expect(rig.state('client:vscsi0')).toBe('attached');
  });

  it("should keep the other disk's kick in its virtqueue until the drain ends, then submit it", () => {
    const rig = new SystemRig(
      hba([
        { do: 'drained_begin', node: 'drive0', at: ms(1) },
        { do: 'drained_end', node: 'drive0', at: ms(3) },
      ]),
    ).advance();
    rig.advance().offer('client:vscsi1', 'far.issue', { id: 'S1' });
    expect(disk(rig, 'vscsi1').progress).toBe('i');
    expect(disk(rig, 'vscsi1').ring).toEqual([0]);
    rig.advance();
    expect(rig.context<ScsiBusContext>('bus:hba0').drainCount).toBe(0);
    expect(disk(rig, 'vscsi1').detached).toBe(false);
    expect(rig.events('@trace.io.submit').map((e) => `${e.node} ${e.id}`)).toContain('node:drive1 S1');
  });
});
