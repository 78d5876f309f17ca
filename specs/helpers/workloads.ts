/** Topologies shared by the runtime specs. */
import type { Topology } from '../../actors/topology.ts';
import type { WorkloadRequest } from '../../machines/externalClientMachine.ts';

const ms = (n: number) => n * 1_000_000;

function chain(prefix: string, count: number, spacingMs: number): WorkloadRequest[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `${prefix}${i + 1}`,
    op: i % 3 === 2 ? ('read' as const) : ('write' as const),
    after: i >= 2 ? [`${prefix}${i - 1}`] : [],
    at: ms(i * spacingMs),
  }));
}

/** Two IOThreads, two drives each behind a protocol node, an NBD export and a dataplane guest, drained sections on both. */
export function randomWorkload(protections: Topology['protections'] = {}): Topology {
  return {
    contexts: [{ name: 'iothread0' }, { name: 'iothread1' }],
    nodes: [
      { name: 'drive0', driver: 'qcow2', ctx: 'iothread0', file: 'drive0-file' },
      { name: 'drive0-file', driver: 'file', ctx: 'iothread0' },
      { name: 'drive1', driver: 'raw', ctx: 'iothread1', file: 'drive1-file' },
      { name: 'drive1-file', driver: 'file', ctx: 'iothread1' },
    ],
    clients: [
      { name: 'vblk0', kind: 'virtio-blk', node: 'drive0', workload: chain('V', 6, 0.4) },
      { name: 'nbd0', kind: 'nbd', node: 'drive1', workload: chain('N', 6, 0.3) },
      { name: 'vscsi0', kind: 'virtio-scsi', node: 'drive1', workload: chain('S', 4, 0.5) },
    ],
    script: [
      { do: 'drained_begin', node: 'drive0', at: ms(0.5) },
      { do: 'drained_begin', node: 'drive1', at: ms(0.7) },
      { do: 'drained_end', node: 'drive0', at: ms(1.2) },
      { do: 'drain_all', at: ms(1.3) },
      { do: 'drained_end', node: 'drive1', at: ms(1.6) },
      { do: 'drained_begin', node: 'drive0', at: ms(2) },
      { do: 'drained_end', node: 'drive0', at: ms(2.2) },
    ],
    protections,
  };
}
