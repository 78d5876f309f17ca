/**
 * Built-in scenarios (the scenario file format comes with the CLI issue; until then scenarios
 * are typed values).
 */
import type { Topology } from '../actors/topology.ts';
import type { ClientKind } from '../machines/externalClientMachine.ts';

const ms = (n: number) => n * 1_000_000;

/**
 * The default demo: a guest writes through a virtio-blk dataplane notifier on an IOThread while
 * the monitor puts its node in a drained section from 1 ms to 3 ms. W2 is kicked at 2 ms,
 * inside the section: with the series it waits, ready, for the end; without external gating it
 * is dispatched at once and reaches a node that is supposed to be quiet.
 */
export function guestWritesDuringDrainedSection(protections: Topology['protections'] = {}, kind: ClientKind = 'virtio-blk'): Topology {
  return {
    contexts: [{ name: 'iothread0' }],
    nodes: [
      { name: 'drive0', driver: 'qcow2', ctx: 'iothread0', file: 'drive0-file' },
      { name: 'drive0-file', driver: 'file', ctx: 'iothread0' },
    ],
    clients: [
      {
        name: kind === 'nbd' ? 'nbd0' : kind === 'virtio-scsi' ? 'vscsi0' : 'vblk0',
        kind,
        node: 'drive0',
        workload: [
          { id: 'W1', op: 'write', after: [], at: ms(0.5) },
          { id: 'W2', op: 'write', after: ['W1'], at: ms(2) },
          { id: 'W3', op: 'write', after: ['W2'], at: ms(2.5) },
        ],
      },
    ],
    script: [
      { do: 'drained_begin', node: 'drive0', at: ms(1) },
      { do: 'drained_end', node: 'drive0', at: ms(3) },
    ],
    protections,
  };
}
