/**
 * Would symmetry reduction merge anything? `npx tsx bench/symmetryProbe.ts [scenario] [states]`
 * (default reference-nbd2-qed1, 60,000 states).
 *
 * Symmetry reduction stores one state per orbit under a permutation of identical components.
 * It pays only when a state and its image under the permutation are both reachable. This probe
 * walks the scenario breadth first (whole worlds, text keys; states equal up to send sequence
 * numbers are one), swaps the first two clients symmetry reduction would take as interchangeable
 * (`symmetryClasses`), with their request ids, in every state (`Symmetry`'s renaming), and
 * counts the states whose image is another state it reached. With the 2015 dispatch order
 * (`handler-list`) there are none: the handler list orders the clients. With `dispatchOrder:
 * readiness` most states have their twin, and `drainlab explore` (symmetry reduction is on by
 * default) stores one state per pair.
 */
import { canonicalJson, hash53 } from '../runtime/engine/worldHash.ts';
import type { World } from '../runtime/engine/World.ts';
import { Expander } from '../runtime/explore/Expander.ts';
import { resolveScenario } from '../runtime/cli/scenarioCommands.ts';
import { Symmetry, symmetryClasses } from '../runtime/explore/symmetry.ts';

const name = process.argv[2] ?? 'reference-nbd2-qed1';
const limit = Number(process.argv[3] ?? 60_000);
if (!Number.isInteger(limit) || limit <= 0) {
  console.error(`states: '${process.argv[3]}' is not a positive whole number`);
  process.exit(2);
}
const topology = resolveScenario(name).topology;
// The clients symmetry reduction would take as interchangeable in readiness order (in the
// 2015 order it takes none: that is what this probe shows), and the renaming that swaps the
// first two of them.
const [pair] = symmetryClasses({ ...topology, dispatchOrder: 'readiness' }).members;
if (!pair) {
  console.log(`${name}: no two clients look identical; nothing to swap`);
  process.exit(0);
}
const [a, b] = pair;

const expander = new Expander(topology);
const engine = expander.engine;
const swap = new Symmetry([[a, b]], engine.actorNames, () => false).renaming('1,0');
function key(world: World): string {
  const saved = engine.serialize(world);
  const snapshots = saved.snapshots;
  const mailboxes = Object.fromEntries(Object.entries(saved.mailboxes).map(([actor, m]) => [actor, m.map((e) => ({ from: e.from, event: e.event }))]));
  const alarms = saved.alarms.map((x) => ({ id: x.id, clock: x.clock, deadline: x.deadline, target: x.target, event: x.event }));
  return canonicalJson({ snapshots, mailboxes, alarms, time: saved.time });
}
// Renaming changes object keys too (the snapshots and mailboxes are keyed by actor name), so the
// image is renamed as a value and written out again with its keys sorted.
function permute(text: string): string {
  return canonicalJson(swap.value(JSON.parse(text)));
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
  `${name} (dispatch order: ${topology.dispatchOrder ?? 'handler-list'}), swapping ${a.label} and ${b.label}: ${seen.size.toLocaleString('en-US')} states, ` +
    `${fixed} mapped to themselves, ${twins.toLocaleString('en-US')} whose image is another state reached`,
);
