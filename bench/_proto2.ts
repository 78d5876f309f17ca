import { createActorSpecs } from '../actors/createSystem.ts';
import type { Topology, ClientSpec } from '../actors/topology.ts';
import { Engine, type WorldView } from '../runtime/engine/Engine.ts';
import type { World } from '../runtime/engine/World.ts';
import { fifo, random } from '../runtime/scheduler/strategies.ts';
const N = Number(process.argv[2] ?? 1000);
const fix = process.argv[4] === 'fix';
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
let tOffers = 0;
const specs = createActorSpecs(t).map((s) => s.offers ? { ...s, offers: (snap: any, view: any) => { const a = performance.now(); const r = s.offers!(snap, view); tOffers += performance.now() - a; return r; } } : s);
const owner = new Map<string, string>();
for (const c of clients) for (const r of c.workload) owner.set(r.id, `client:${c.name}`);
const pos = new Map<string, number>();
const indexed = new Map<string, number>();
class FixedEngine extends Engine {
  override view(world: World): WorldView {
    return {
      world,
      snapshot: (actor) => world.snapshots[actor],
      completedRequests: () => ({ has(id: string) {
        const a = owner.get(id)!;
        const arr = (world.snapshots[a].context as any).completed as string[];
        let from = indexed.get(a) ?? 0;
        if (from > arr.length) from = 0;
        for (let i = from; i < arr.length; i++) pos.set(arr[i], i);
        indexed.set(a, arr.length);
        const p = pos.get(id);
        return p !== undefined && p < arr.length && arr[p] === id;
      } }) as any,
    };
  }
}
const e = fix ? new FixedEngine(specs, { seed: 1 }) : new Engine(specs, { seed: 1 });
const strat = process.argv[3] === 'random' ? random : fifo;
let w = e.initial, rng = w.rng, steps = 0, tEn = 0, tAp = 0;
const t0 = performance.now();
for (;;) {
  let a = performance.now();
  const en = e.enabledSteps(w);
  tEn += performance.now() - a;
  if (!en.length) break;
  let i = 0;
  if (en.length > 1) [i, rng] = strat.choose(en.length, rng, 0);
  a = performance.now();
  w = e.apply(w, en[i]);
  tAp += performance.now() - a;
  steps++;
}
console.log({ N, fix, steps, total: (performance.now() - t0) / 1000, enabled: tEn / 1000, offers: tOffers / 1000, apply: tAp / 1000 });
