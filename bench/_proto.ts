import { createActorSpecs } from '../actors/createSystem.ts';
import type { Topology, ClientSpec } from '../actors/topology.ts';
import { Engine } from '../runtime/engine/Engine.ts';
import { fifo, random } from '../runtime/scheduler/strategies.ts';
const N = Number(process.argv[2] ?? 1000);
const per = N / 4;
const kinds = ['virtio-blk', 'virtio-blk', 'virtio-scsi', 'nbd'] as const;
const clients: ClientSpec[] = kinds.map((kind, c) => ({
  name: `c${c}`, kind, node: `drive${c}`,
  workload: Array.from({ length: per }, (_, i) => ({ id: `c${c}r${i}`, op: i % 2 ? 'read' : 'write', after: i >= 4 ? [`c${c}r${i - 4}`] : [] })),
}));
const t: Topology = {
  contexts: [{ name: 'iothread0' }, { name: 'iothread1' }],
  nodes: [0, 1, 2, 3].flatMap((d) => [
    { name: `drive${d}`, driver: 'qcow2' as const, ctx: `iothread${d >> 1}`, file: `drive${d}-file` },
    { name: `drive${d}-file`, driver: 'file' as const, ctx: `iothread${d >> 1}` },
  ]),
  clients,
};
const e = new Engine(createActorSpecs(t), { seed: 1 });
const t0 = performance.now();
const r = e.run(process.argv[3] === 'random' ? random : fifo, { maxSteps: 10_000_000 });
console.log(r.steps, r.endReason, (performance.now() - t0) / 1000);
