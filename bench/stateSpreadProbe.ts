/**
 * Where do a scenario's states come from? `npx tsx bench/stateSpreadProbe.ts [scenario]
 * [--states N] [--depth D]` (default reference-nbd2-qed1, 60,000 worlds, no depth bound).
 *
 * The probe walks the scenario breadth first at thread granularity, as `drainlab explore` does,
 * keeping whole worlds (text keys: every snapshot, every mailbox's messages in order, the alarms;
 * clock readings and deadlines left out, so it counts fewer worlds than the explorer's states
 * before the scenario's last instant). It prints:
 *
 * - the worlds reached, and how many would remain if the order of the messages waiting in each
 *   mailbox were ignored: a bound on what any mailbox-order reduction could merge, not a sound
 *   reduction (the order is behaviour wherever the receiver takes messages one by one);
 * - per component (an actor's snapshot, an actor's mailbox): how many reached worlds have a
 *   twin that differs from them in that component alone, and one such pair. A large count for
 *   a mailbox says the same actors in the same states are told apart only by what waits for
 *   them, in which order.
 *
 * docs/explorer.md ("Where the states come from") gives its figures for the reference family.
 */
import { canonicalJson, hash53 } from '../runtime/engine/worldHash.ts';
import type { World } from '../runtime/engine/World.ts';
import { Expander } from '../runtime/explore/Expander.ts';
import { resolveScenario } from '../runtime/cli/scenarioCommands.ts';
import { ScenarioError } from '../runtime/errors.ts';

function usage(message: string): never {
  console.error(`stateSpreadProbe: ${message}\nUsage: npx tsx bench/stateSpreadProbe.ts [scenario] [--states N] [--depth D]`);
  process.exit(2);
}

function wholeNumber(flag: string, text: string | undefined): number {
  const value = Number(text);
  if (text === undefined || !Number.isInteger(value) || value <= 0) usage(`${flag} takes a positive whole number, not '${text ?? ''}'`);
  return value;
}

let name = 'reference-nbd2-qed1';
let limit = 60_000;
let maxDepth = Infinity;
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const arg = args[i];
  if (arg === '--states') limit = wholeNumber(arg, args[++i]);
  else if (arg === '--depth') maxDepth = wholeNumber(arg, args[++i]);
  else if (arg.startsWith('-')) usage(`unknown option '${arg}'`);
  else name = arg;
}

let topology;
try {
  topology = resolveScenario(name).topology;
} catch (error) {
  if (error instanceof ScenarioError) usage(error.message);
  throw error;
}
const expander = new Expander(topology, true, false, 'thread');
const engine = expander.engine;

/** A world as one text per component, in a fixed order of component names. */
const componentNames: string[] = [];
const componentIndex = new Map<string, number>();
function componentsOf(world: World): string[] {
  const saved = engine.serialize(world);
  const texts: string[] = [];
  const put = (component: string, value: unknown) => {
    let at = componentIndex.get(component);
    if (at === undefined) {
      at = componentNames.length;
      componentNames.push(component);
      componentIndex.set(component, at);
    }
    texts[at] = canonicalJson(value);
  };
  for (const [actor, snapshot] of Object.entries(saved.snapshots)) put(`snapshot ${actor}`, snapshot);
  for (const [actor, envelopes] of Object.entries(saved.mailboxes)) put(`mailbox ${actor}`, envelopes.map((e) => ({ from: e.from, event: e.event })));
  put('alarms', saved.alarms.map((a) => ({ id: a.id, clock: a.clock, target: a.target, event: a.event })));
  return texts;
}

/** Each reached world as its components' hashes; each component text once, by its hash. */
const worlds = new Map<number, number[]>();
const textOf = new Map<number, string>();
const add = (world: World): boolean => {
  const hashes = componentsOf(world).map((text) => {
    if (text === undefined) return 0;
    const hash = hash53(text);
    textOf.set(hash, text);
    return hash;
  });
  const hash = hash53(hashes.join(','));
  if (worlds.has(hash)) return false;
  worlds.set(hash, hashes);
  return true;
};
add(engine.initial);
let frontier: World[] = [engine.initial];
let depth = 0;
// A level is cut off where the limit is reached.
while (frontier.length > 0 && worlds.size < limit && depth < maxDepth) {
  const next: World[] = [];
  for (const world of frontier) {
    if (worlds.size >= limit) break;
    for (const step of expander.expand(world).steps) if (add(step.world)) next.push(step.world);
  }
  frontier = next;
  depth++;
  expander.newLevel();
}
const complete = frontier.length === 0;

// Mailboxes as multisets: the bound on what ignoring message order could merge.
const width = componentNames.length;
const mailbox = componentNames.map((component) => component.startsWith('mailbox '));
const unorderedOf = new Map<number, number>();
const unordered = new Set<number>();
const hashes = [...worlds.values()].map((h) => Array.from({ length: width }, (_, at) => h[at] ?? 0));
for (const h of hashes) {
  const sorted = h.map((hash, at) => {
    if (!mailbox[at] || hash === 0) return hash;
    let image = unorderedOf.get(hash);
    if (image === undefined) {
      const envelopes = JSON.parse(textOf.get(hash)!) as unknown[];
      image = hash53(canonicalJson(envelopes.map((e) => canonicalJson(e)).sort()));
      unorderedOf.set(hash, image);
    }
    return image;
  });
  unordered.add(hash53(sorted.join(',')));
}

const spread: { component: string; twins: number; example: string[] }[] = [];
for (let k = 0; k < width; k++) {
  const groups = new Map<string, number[]>();
  hashes.forEach((h, w) => {
    const rest = String(hash53(h.filter((_, at) => at !== k).join(',')));
    const group = groups.get(rest);
    if (group) group.push(w);
    else groups.set(rest, [w]);
  });
  let twins = 0;
  let example: string[] = [];
  for (const group of groups.values()) {
    if (group.length < 2) continue;
    twins += group.length;
    if (example.length === 0) example = group.slice(0, 2).map((w) => textOf.get(hashes[w][k]) ?? '(empty)');
  }
  if (twins > 0) spread.push({ component: componentNames[k], twins, example });
}
spread.sort((a, b) => b.twins - a.twins);

const figure = (n: number) => n.toLocaleString('en-US');
console.log(`${name}: ${figure(worlds.size)} worlds to depth ${depth}${complete ? ' (the whole space)' : ` (stopped: ${worlds.size >= limit ? `--states ${figure(limit)}` : `--depth ${maxDepth}`})`}`);
console.log(`ignoring the order of waiting messages: ${figure(unordered.size)} (${((1 - unordered.size / worlds.size) * 100).toFixed(1)}% fewer; a bound, not a sound reduction)`);
console.log('worlds with a twin that differs in one component alone:');
for (const { component, twins, example } of spread.slice(0, 10)) {
  console.log(`  ${figure(twins).padStart(9)}  ${component}`);
  // Each of the pair from a little before the first place they differ.
  let first = 0;
  while (first < example[0].length && example[0][first] === example[1][first]) first++;
  const from = Math.max(0, first - 60);
  for (const text of example) console.log(`             ${from > 0 ? '...' : ''}${text.slice(from, from + 200)}${text.length > from + 200 ? '...' : ''}`);
}
