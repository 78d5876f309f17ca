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

/**
 * 3.2 drive-backup of drive0 + external snapshot of drive1, both exported by the NBD server
 * from the main context. prepare(0) starts the backup job (point in time T0 for drive0); the
 * nested polls of prepare(1) read Wx for drive0 from the NBD socket (after T0: not in the
 * backup), the client sees it complete and sends Wy for drive1, admitted before the append: in
 * snapshot1. With the series both drains close the main context from prepare(0) on.
 */
export function backupPlusSnapshotOverNbd(protections: Topology['protections'] = {}): Topology {
  return {
    contexts: [],
    nodes: [...drive('drive0', 'main'), ...drive('drive1', 'main'), ...drive('backup0', 'main'), ...drive('overlay1', 'main')],
    clients: [
      // prepare(0) runs from 1 ms (flush-free: the backup starts at once); prepare(1) flushes drive1 until 1.5 ms.
      { name: 'nbd0', kind: 'nbd', node: 'drive0', workload: [{ id: 'Wx', op: 'write', after: [], at: ms(1.1) }] },
      { name: 'nbd1', kind: 'nbd', node: 'drive1', workload: [{ id: 'Wy', op: 'write', after: ['Wx'] }] },
    ],
    transactions: [
      {
        name: '1',
        actions: [
          { type: 'drive-backup', device: 'drive0', target: 'backup0' },
          { type: 'blockdev-snapshot-sync', device: 'drive1', overlay: 'overlay1' },
        ],
      },
    ],
    script: [{ do: 'transaction', txn: '1', at: ms(1) }],
    hostLatency: latency,
    protections,
  };
}

/**
 * 3.3 Two internal snapshots (qcow2) on two dataplane drives of one IOThread. prepare(0)
 * creates snapshot0 at once; the metadata writes of that creation spin nested polls that
 * admit Wx to drive0 (after snapshot0) and then Wy to drive1 (before snapshot1).
 */
export function twoInternalSnapshots(protections: Topology['protections'] = {}): Topology {
  return {
    contexts: [{ name: 'iothread0' }],
    nodes: [...drive('drive0', 'iothread0'), ...drive('drive1', 'iothread0')],
    clients: [
      { name: 'vblk0', kind: 'virtio-blk', node: 'drive0', workload: [{ id: 'Wx', op: 'write', after: [], at: ms(1.01) }] },
      { name: 'vblk1', kind: 'virtio-blk', node: 'drive1', workload: [{ id: 'Wy', op: 'write', after: ['Wx'] }] },
    ],
    transactions: [
      {
        name: '1',
        actions: [
          { type: 'blockdev-snapshot-internal-sync', device: 'drive0', name: 'snap0' },
          { type: 'blockdev-snapshot-internal-sync', device: 'drive1', name: 'snap1' },
        ],
      },
    ],
    script: [{ do: 'transaction', txn: '1', at: ms(1) }],
    // The snapshot table write is slow enough for the guest to get two writes in.
    hostLatency: { read: ms(0.01), write: ms(0.2), flush: ms(0.5) },
    protections,
  };
}

/**
 * 3.4 qed's need-check timer inside the section. drive0 is qed; the guest's write at 0 sets
 * NEED_CHECK and, once complete, arms the timer for 5 s of guest time. The transaction starts
 * just before: without the drain hook, the timer fires in a nested poll of prepare's flush and
 * writes the header of a node the transaction believes idle. With patch 12 the hook runs that
 * work when the drain begins, and the drain waits for it.
 */
export function qedTimerInsideSection(protections: Topology['protections'] = {}): Topology {
  return {
    contexts: [{ name: 'iothread0' }],
    nodes: [
      { name: 'drive0', driver: 'qed', ctx: 'iothread0', file: 'drive0-file' },
      { name: 'drive0-file', driver: 'file', ctx: 'iothread0' },
      ...drive('overlay0', 'iothread0'),
    ],
    clients: [{ name: 'vblk0', kind: 'virtio-blk', node: 'drive0', workload: [{ id: 'W0', op: 'write', after: [] }] }],
    transactions: [{ name: '1', actions: [{ type: 'blockdev-snapshot-sync', device: 'drive0', overlay: 'overlay0' }] }],
    script: [{ do: 'transaction', txn: '1', at: ms(5000 - 0.2) }],
    hostLatency: latency,
    protections,
  };
}

/**
 * The residual gap of DOMAIN.md 2.7 (our reading, not an upstream report): an allocating write
 * still in flight when bdrv_drained_begin runs the qed hook finds no timer to cancel; when the
 * write completes during the drain's own polling it arms the timer, which fires 5 s of guest
 * time later inside the section, every protection on.
 */
export function qedResidualGap(protections: Topology['protections'] = {}): Topology {
  return {
    contexts: [{ name: 'iothread0' }],
    nodes: [
      { name: 'drive0', driver: 'qed', ctx: 'iothread0', file: 'drive0-file' },
      { name: 'drive0-file', driver: 'file', ctx: 'iothread0' },
    ],
    clients: [{ name: 'vblk0', kind: 'virtio-blk', node: 'drive0', workload: [{ id: 'W0', op: 'write', after: [], at: ms(1) }] }],
    script: [
      { do: 'drained_begin', node: 'drive0', at: ms(1.5) },
      { do: 'drained_end', node: 'drive0', at: ms(8000) },
    ],
    hostLatency: { read: ms(0.05), write: ms(1), flush: ms(0.5) },
    protections,
  };
}
