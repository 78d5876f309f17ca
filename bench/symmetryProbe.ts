/**
 * Would symmetry reduction merge anything? `npx tsx bench/symmetryProbe.ts [scenario] [states]`
 * (default reference-nbd2-qed1, 60,000 states).
 *
 * Symmetry reduction stores one state per orbit under a permutation of identical components.
 * It pays only when a state and its image under the permutation are both reachable. This probe
 * walks the scenario breadth first (whole worlds, text keys; states equal up to send sequence
 * numbers are one), swaps the first two clients that look identical (same kind, node and
 * workload up to request ids), along with their request ids, in every state's text, and counts the
 * states whose image is another state it reached. With the 2015 dispatch order (`handler-list`)
 * there are none: the handler list orders the clients. With `dispatchOrder: readiness` most
 * states have their twin; `drainlab explore --symmetry` stores one state per pair.
 */
import { canonicalJson, hash53 } from '../runtime/engine/worldHash.ts';
import type { World } from '../runtime/engine/World.ts';
import { Expander } from '../runtime/explore/Expander.ts';
import { resolveScenario } from '../runtime/cli/scenarioCommands.ts';
import { clientActor } from '../actors/topology.ts';

const name = process.argv[2] ?? 'reference-nbd2-qed1';
const limit = Number(process.argv[3] ?? 60_000);
if (!Number.isInteger(limit) || limit <= 0) {
  console.error(`states: '${process.argv[3]}' is not a positive whole number`);
  process.exit(2);
}
const topology = resolveScenario(name).topology;
const shape = (c: (typeof topology.clients)[number]) =>
  canonicalJson({ kind: c.kind, node: c.node, workload: c.workload.map((r) => ({ ...r, id: undefined, after: r.after?.length })) });
const pair = topology.clients.flatMap((a, i) => topology.clients.slice(i + 1).filter((b) => shape(a) === shape(b)).map((b) => [a, b] as const))[0];
if (!pair) {
  console.log(`${name}: no two clients look identical; nothing to swap`);
  process.exit(0);
}
const [a, b] = pair;
const swaps = new Map<string, string>();
const swap = (x: string, y: string) => (swaps.set(x, y), swaps.set(y, x));
swap(clientActor(a.name), clientActor(b.name));
a.workload.forEach((r, i) => swap(r.id, b.workload[i].id));
const pattern = new RegExp(`(?<![\\w-])(${[...swaps.keys()].map((k) => k.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})(?![\\w-])`, 'g');

const expander = new Expander(topology);
const engine = expander.engine;
function key(world: World): string {
  const saved = engine.serialize(world);
  const snapshots = saved.snapshots;
  const mailboxes = Object.fromEntries(Object.entries(saved.mailboxes).map(([actor, m]) => [actor, m.map((e) => ({ from: e.from, event: e.event }))]));
  const alarms = saved.alarms.map((x) => ({ id: x.id, clock: x.clock, deadline: x.deadline, target: x.target, event: x.event }));
  return canonicalJson({ snapshots, mailboxes, alarms, time: saved.time });
}
// Renaming changes object keys too (the snapshots and mailboxes are keyed by actor name), so the
// image is parsed back and re-canonicalized (keys sorted) before it is compared as text.
function permute(text: string): string {
  return canonicalJson(JSON.parse(text.replace(pattern, (m) => swaps.get(m)!)));
}

const seen = new Map<number, string>();
const add = (world: World) => {
  const text = key(world);
  const h = hash53(text);
  if (seen.has(h)) return false;
  seen.set(h, text);
  return true;
};
add(engine.initial);
let frontier = [engine.initial];
while (frontier.length > 0 && seen.size < limit) {
  const next: World[] = [];
  for (const world of frontier) for (const step of expander.expand(world).steps) if (add(step.world)) next.push(step.world);
  frontier = next;
}
let fixed = 0;
let twins = 0;
for (const text of seen.values()) {
  const image = permute(text);
  if (image === text) fixed++;
  else if (seen.has(hash53(image))) twins++;
}
console.log(
  `${name} (dispatch order: ${topology.dispatchOrder ?? 'handler-list'}), swapping ${a.name} and ${b.name}: ${seen.size.toLocaleString('en-US')} states, ` +
    `${fixed} mapped to themselves, ${twins.toLocaleString('en-US')} whose image is another state reached`,
);
