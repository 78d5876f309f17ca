/**
 * The benchmark's system: 2 IOThreads (the main context is added by createActorSpecs), 4 qcow2
 * format nodes each over its own `file` protocol node (two drives per IOThread), 4 external
 * clients (2 virtio-blk, 1 virtio-scsi, 1 nbd; one per drive) and a monitor script of drained
 * sections with `at` times.
 */
import type { ClientSpec, NodeSpec, ScriptCommand, Topology } from '../actors/topology.ts';
import type { ClientKind, WorkloadRequest } from '../machines/externalClientMachine.ts';

export const CLIENT_KINDS: readonly ClientKind[] = ['virtio-blk', 'virtio-blk', 'virtio-scsi', 'nbd'];
export const IOTHREADS = ['iothread0', 'iothread1'] as const;
export const DRIVES = 4;
/** Every request depends on the request this many places before it (same client): the far side paces itself. */
export const DEPENDENCY_DISTANCE = 4;
export const DRAIN_PAIRS = 20;

const ms = (n: number) => Math.round(n * 1_000_000);

export interface BenchWorkload {
  topology: Topology;
  requests: number;
  perClient: number;
  /** Actor names of the clients, for completion checks: `client:vblk0` ... */
  clientActors: readonly string[];
}

export function benchWorkload(requests: number): BenchWorkload {
  if (!Number.isInteger(requests) || requests <= 0 || requests % CLIENT_KINDS.length !== 0) {
    throw new Error(`bench: request count must be a positive multiple of ${CLIENT_KINDS.length}, got ${requests}`);
  }
  const perClient = requests / CLIENT_KINDS.length;
  const nodes: NodeSpec[] = [];
  for (let d = 0; d < DRIVES; d++) {
    const ctx = IOTHREADS[d >> 1];
    nodes.push({ name: `drive${d}`, driver: 'qcow2', ctx, file: `drive${d}-file` });
    nodes.push({ name: `drive${d}-file`, driver: 'file', ctx });
  }
  const names = ['vblk0', 'vblk1', 'vscsi0', 'nbd0'];
  const clients: ClientSpec[] = CLIENT_KINDS.map((kind, c) => ({
    name: names[c],
    kind,
    node: `drive${c}`,
    workload: clientWorkload(names[c], perClient),
  }));
  // drained_begin at (k+1) ms, drained_end 0.5 ms later, rotating over the 4 format nodes.
  const script: ScriptCommand[] = [];
  for (let k = 0; k < DRAIN_PAIRS; k++) {
    const node = `drive${k % DRIVES}`;
    script.push({ do: 'drained_begin', node, at: ms(k + 1) });
    script.push({ do: 'drained_end', node, at: ms(k + 1.5) });
  }
  return {
    topology: { contexts: IOTHREADS.map((name) => ({ name })), nodes, clients, script },
    requests,
    perClient,
    clientActors: clients.map((c) => `client:${c.name}`),
  };
}

function clientWorkload(client: string, count: number): WorkloadRequest[] {
  const workload: WorkloadRequest[] = [];
  for (let i = 0; i < count; i++) {
    workload.push({
      id: `${client}.${i}`,
      op: i % 2 === 0 ? 'write' : 'read',
      after: i >= DEPENDENCY_DISTANCE ? [`${client}.${i - DEPENDENCY_DISTANCE}`] : [],
    });
  }
  return workload;
}
