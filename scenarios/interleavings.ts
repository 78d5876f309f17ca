/**
 * The interleavings of DOMAIN.md section 3: what the series fixed, as topologies. Each takes
 * the protection switches, so a test can run it with the series and with one protection off.
 */
import type { Topology } from '../actors/topology.ts';

const ms = (n: number) => n * 1_000_000;

/** A qcow2 drive over its file node, plus (optionally) an overlay and its file in the same context. */
function drive(name: string, ctx: string, extra: Partial<Topology['nodes'][number]> = {}): Topology['nodes'] {
  return [
    { name, driver: 'qcow2', ctx, file: `${name}-file`, ...extra },
    { name: `${name}-file`, driver: 'file', ctx },
  ];
}

/** Flushes are slow, reads and writes fast: the transaction's synchronous operations take virtual time. */
const latency = { read: ms(0.05), write: ms(0.05), flush: ms(0.5) };

/**
 * 3.1 Two external snapshots, drive0 and drive1 both dataplane in IOThread A. The guest writes
 * Wx to drive0, sees it complete, then writes Wy to drive1, while the transaction runs. Without
 * the drains, the bdrv_drain_all that starts commit(0)'s reopen admits Wx into overlay0 and Wy
 * into drive1's base: the snapshot set holds Wy but not Wx.
 */
export function twoExternalSnapshots(protections: Topology['protections'] = {}): Topology {
  return {
    contexts: [{ name: 'iothread0' }],
    nodes: [...drive('drive0', 'iothread0'), ...drive('drive1', 'iothread0'), ...drive('overlay0', 'iothread0'), ...drive('overlay1', 'iothread0')],
    clients: [
      // The transaction starts at 1 ms: prepares take until 2.2 ms, append(0) is at 2.2 ms, append(1) after
      // commit(0)'s reopen flush, at 2.7 ms. Wx is kicked between the two.
      { name: 'vblk0', kind: 'virtio-blk', node: 'drive0', workload: [{ id: 'Wx', op: 'write', after: [], at: ms(2.3) }] },
      { name: 'vblk1', kind: 'virtio-blk', node: 'drive1', workload: [{ id: 'Wy', op: 'write', after: ['Wx'] }] },
    ],
    transactions: [
      {
        name: '1',
        actions: [
          { type: 'blockdev-snapshot-sync', device: 'drive0', overlay: 'overlay0' },
          { type: 'blockdev-snapshot-sync', device: 'drive1', overlay: 'overlay1' },
        ],
      },
    ],
    script: [{ do: 'transaction', txn: '1', at: ms(1) }],
    hostLatency: latency,
    protections,
  };
}
