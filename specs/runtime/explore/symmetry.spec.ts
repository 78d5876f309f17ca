import { describe, expect, it } from 'vitest';
import type { Topology } from '../../../actors/topology.ts';
import { resolveScenario } from '../../../runtime/cli/scenarioCommands.ts';
import { canonicalJson } from '../../../runtime/engine/worldHash.ts';
import type { World } from '../../../runtime/engine/World.ts';
import { Expander } from '../../../runtime/explore/Expander.ts';
import { SORTED_CONTEXT_LISTS } from '../../../machines/effects.ts';
import { explore as exploreAtAnyGranularity, type ExploreOptions } from '../../../runtime/explore/explore.ts';

/** These specs are about the message-level search (sleep sets, --reduce, exact shortest lengths in messages): granularity.spec.ts compares it with the default, thread granularity. */
const explore = (topology: Topology, options: ExploreOptions = {}) => exploreAtAnyGranularity(topology, { granularity: 'message', ...options });
import { Symmetry, symmetryClasses } from '../../../runtime/explore/symmetry.ts';
import { InvariantChecker } from '../../../runtime/invariants/InvariantChecker.ts';
import { runScenario } from '../../../runtime/scenario/runScenario.ts';
import { modelMapOf } from '../../../runtime/simulate.ts';

const TWINS = 'identical-clients-ready-list';
const UNGATED = 'specs/scenarios/fixtures/identical-clients-ungated.yaml';
const twins = (): Topology => resolveScenario(TWINS).topology;

/** Every state of a plain breadth-first search (no reduction): its world and its monitors' judgement. */
function allStates(topology: Topology): { world: World; checker: InvariantChecker }[] {
  const expander = new Expander(topology, false, false);
  const root = new InvariantChecker(modelMapOf(topology));
  for (const e of expander.initialEvents) root.observe(e);
  const key = (world: World, checker: InvariantChecker) => `${expander.worldHash(world)}|${checker.keyHash()}`;
  const seen = new Set([key(expander.engine.initial, root)]);
  const states = [{ world: expander.engine.initial, checker: root }];
  for (let at = 0; at < states.length; at++) {
    const { world, checker } = states[at];
    for (const step of expander.expand(world).steps) {
      const next = checker.clone();
      for (const e of step.judged) next.observe(e);
      const k = key(step.world, next);
      if (seen.has(k)) continue;
      seen.add(k);
      states.push({ world: step.world, checker: next });
    }
  }
  return states;
}

/** The world with clients `a` and `b` swapped everywhere (names, request ids), through the engine's own save and restore. */
function mirrored(expander: Expander, world: World, swaps: Record<string, string>): World {
  const pattern = new RegExp(`(?<![\\w-])(${Object.keys(swaps).join('|')})(?![\\w-])`, 'g');
  const text = JSON.stringify(expander.engine.serialize(world)).replace(pattern, (m) => swaps[m]);
  return expander.engine.restore(sortedAsMachinesKeep(JSON.parse(text)) as Parameters<Expander['engine']['restore']>[0]);
}

/** The lists machines keep sorted (`SORTED_CONTEXT_LISTS`), sorted again after the swap, as the machines would hold them. */
function sortedAsMachinesKeep(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(sortedAsMachinesKeep);
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    const inner = sortedAsMachinesKeep(v);
    out[key] = Object.hasOwn(SORTED_CONTEXT_LISTS, key) && Array.isArray(inner) ? inner.sort(SORTED_CONTEXT_LISTS[key]) : inner;
  }
  return out;
}

/** Each sampled world and its mirror image get one canonical hash, though most differ as they are. */
function expectMirrorsShareOneHash(expander: Expander, symmetry: Symmetry, sample: readonly { world: World }[], swaps: Record<string, string>): void {
  let asymmetric = 0;
  for (const { world } of sample) {
    const image = mirrored(expander, world, swaps);
    if (expander.worldHash(image) !== expander.worldHash(world)) asymmetric++;
    expect(symmetry.canonical(image).hash).toBe(symmetry.canonical(world).hash);
  }
  expect(asymmetric).toBeGreaterThan(sample.length / 2);
}

describe('symmetry: which clients are interchangeable', () => {
  it('should find none with QEMU 2015 dispatch order, and say why', () => {
    const classes = symmetryClasses({ ...twins(), dispatchOrder: 'handler-list' });
    expect(classes.classes).toEqual([]);
    expect(classes.reason).toMatch(/handler-list/);
  });

  it('should pair two clients of one node with the same workload in readiness order', () => {
    expect(symmetryClasses(twins())).toMatchObject({ classes: [['nbd0', 'nbd1']], reason: null });
    expect(symmetryClasses(twins()).members[0][1]).toEqual({ label: 'nbd1', actors: ['client:nbd1'], tokens: ['client:nbd1', 'B1'] });
  });

  it('should not pair clients whose workloads differ', () => {
    const topology = twins();
    const clients = [topology.clients[0], { ...topology.clients[1], workload: [{ ...topology.clients[1].workload[0], op: 'read' as const }] }];
    expect(symmetryClasses({ ...topology, clients }).classes).toEqual([]);
  });

  it('should not pair clients whose request ids could be mistaken for the machines\' words', () => {
    const topology = twins();
    const renamed = (id: string) => (c: Topology['clients'][number]) => ({ ...c, workload: [{ ...c.workload[0], id: `${id}${c.name === 'nbd0' ? '' : 'x'}` }] });
    expect(symmetryClasses({ ...topology, clients: topology.clients.map(renamed('idle')) }).classes).toEqual([]);
    expect(symmetryClasses({ ...topology, clients: topology.clients.map(renamed('2015')) }).classes).toEqual([]);
    expect(symmetryClasses({ ...topology, clients: topology.clients.map(renamed('W7')) }).classes).toEqual([['nbd0', 'nbd1']]);
    // An invariant's id (the monitors' keys hold them) is one of the machines' words too.
    const invariantIds = topology.clients.map((c, i) => ({ ...c, workload: [{ ...c.workload[0], id: `I${i + 1}` }] }));
    expect(symmetryClasses({ ...topology, clients: invariantIds }).classes).toEqual([]);
  });

  it('should not pair a client whose request another one waits for', () => {
    const topology = twins();
    const extra = { name: 'nbd2', kind: 'nbd' as const, node: 'drive0', workload: [{ id: 'C1', op: 'write' as const, after: ['B1'] }] };
    const third = { ...topology.clients[0], name: 'nbd3', workload: [{ id: 'D1', op: 'write' as const, after: [] }] };
    expect(symmetryClasses({ ...topology, clients: [...topology.clients, extra, third] }).classes).toEqual([['nbd0', 'nbd3']]);
  });
});

describe('symmetry: canonical images', () => {
  const topology = twins();
  const expander = new Expander(topology, false, false);
  const symmetry = new Symmetry(symmetryClasses(topology).members, expander.engine.actorNames, () => false);
  const sample = allStates(topology).filter((_, i) => i % 97 === 0);
  const swaps = { 'client:nbd0': 'client:nbd1', 'client:nbd1': 'client:nbd0', A1: 'B1', B1: 'A1' };

  it('should hash a world under the identity renaming exactly as the engine does', () => {
    for (const { world } of sample) expect(symmetry.digestUnder(world, '')).toBe(expander.worldHash(world));
  });

  it('should give a world and its mirror image (nbd0 and nbd1 swapped) one canonical hash', () => {
    expectMirrorsShareOneHash(expander, symmetry, sample, swaps);
  });

  it('should name a client only through its tokens (actor name, request ids), which the renaming covers', () => {
    const tokens = new RegExp(`(?<![\\w-])(${Object.keys(swaps).join('|')})(?![\\w-])`, 'g');
    for (const { world } of sample) {
      const text = JSON.stringify(expander.engine.serialize(world)).replace(tokens, '');
      expect(text).not.toMatch(/nbd[01]|A1|B1/);
    }
  });

  it('should rename a world as the engine would restore its mirror image', () => {
    const renaming = symmetry.renaming('1,0');
    for (const { world } of sample) {
      expect(canonicalJson(renaming.value(expander.engine.serialize(world)))).toBe(canonicalJson(expander.engine.serialize(mirrored(expander, world, swaps))));
    }
  });
});

describe('symmetry: soundness on a small configuration', () => {
  const topology = twins();
  const plain = explore(topology, { symmetry: false });
  const reduced = explore(topology, { symmetry: true });

  it('should prove the scenario with and without symmetry reduction', () => {
    expect(plain.verdict).toBe('proved');
    expect(reduced.verdict).toBe('proved');
    expect(reduced.symmetry).toEqual({ on: true, classes: [['nbd0', 'nbd1']], reason: null });
    expect(plain.symmetry.on).toBe(false);
  });

  it('should store exactly one state per orbit of the plain search (a state and its mirror image are one orbit)', () => {
    const states = allStates(topology);
    const expander = new Expander(topology, false, false);
    const symmetry = new Symmetry(symmetryClasses(topology).members, expander.engine.actorNames, () => false);
    // The orbit's name: the smaller of the state's two images (itself, and with the clients swapped).
    const image = (world: World, checker: InvariantChecker, key: string) => `${symmetry.digestUnder(world, key)}|${symmetry.checkerHash(checker, key)}`;
    const orbits = new Set(states.map(({ world, checker }) => [image(world, checker, ''), image(world, checker, '1,0')].sort()[0]));
    expect(explore(topology, { symmetry: true, relativeTime: false }).states).toBe(orbits.size);
    expect(orbits.size).toBeLessThan(states.length * 0.55);
  });

  it('should store the same states with and without sleep sets', () => {
    expect(explore(topology, { symmetry: true, sleepSets: false }).states).toBe(reduced.states);
  });

  it('should store about half the states and reach the same depth', () => {
    expect(reduced.states).toBeLessThan(plain.states * 0.55);
    expect(reduced.depth).toBe(plain.depth);
  });

  it('should find none in QEMU 2015 order, where the explorer stores every state', () => {
    const ordered = explore({ ...topology, dispatchOrder: 'handler-list' }, { symmetry: true });
    expect(ordered.symmetry.on).toBe(false);
    expect(ordered.states).toBe(explore({ ...topology, dispatchOrder: 'handler-list' }, { symmetry: false }).states);
  });
});

/**
 * The counterexamples of a protection-off fixture with and without symmetry reduction: the same
 * shortest lengths (`shortest`), replayable, the same with 1 and 2 workers.
 */
function counterexampleSpecs(fixture: string, shortest: Record<string, number>): void {
  const scenario = resolveScenario(fixture);
  const options = { expectedViolations: scenario.expect.violate };
  const plain = explore(scenario.topology, { ...options, symmetry: false });
  const reduced = explore(scenario.topology, { ...options, symmetry: true });
  const lengths = (r: typeof plain) => Object.fromEntries(Object.entries(r.expected).map(([id, ce]) => [id, ce!.step]));
  const replayPaths = (r: typeof plain) => Object.fromEntries(Object.entries(r.expected).map(([id, ce]) => [id, ce!.replayPath]));

  it('should find every expected violation at the same shortest length with and without symmetry', () => {
    expect(lengths(plain)).toEqual(shortest);
    expect(lengths(reduced)).toEqual(lengths(plain));
    expect(reduced.states).toBeLessThan(plain.states * 0.55);
  });

  it('should give counterexamples that replay to the violation at the same step', () => {
    for (const [id, ce] of Object.entries(reduced.expected)) {
      const replayed = runScenario(scenario, { replayPath: ce!.replayPath });
      expect(replayed.result.violations.some((v) => v.invariant === id && v.step === ce!.step), id).toBe(true);
    }
  });

  it('should give the same verdict, states and counterexamples with 1 and 2 workers', () => {
    const parallel = explore(scenario.topology, { ...options, symmetry: true, workers: 2 });
    expect([parallel.verdict, parallel.states, parallel.transitions]).toEqual([reduced.verdict, reduced.states, reduced.transitions]);
    expect(replayPaths(parallel)).toEqual(replayPaths(reduced));
  });
}

describe('symmetry: counterexamples stay shortest and replayable', () => {
  counterexampleSpecs(UNGATED, { I1: 20, I5: 22, I7: 20 });
});

describe('symmetry: interchangeable node trees', () => {
  const EXPORTS = 'identical-exports-ready-list';
  const TREES = 'specs/scenarios/fixtures/identical-trees.yaml';
  const TREES_UNGATED = 'specs/scenarios/fixtures/identical-trees-ungated.yaml';
  const exports = (): Topology => resolveScenario(EXPORTS).topology;

  it('should pair two node trees alike up to names, each with its children and its clients', () => {
    const found = symmetryClasses(exports());
    expect(found.classes).toEqual([['drive1+nbd1', 'drive2+nbd2']]);
    expect(found.members[0][1]).toEqual({
      label: 'drive2+nbd2',
      actors: ['node:drive2', 'node:drive2-file', 'client:nbd2'],
      tokens: ['drive2', 'drive2-file', 'client:nbd2', 'nbd2', 'D1'],
    });
  });

  it('should not pair a tree that the script names', () => {
    const topology = exports();
    const script = [...topology.script!, { do: 'drain' as const, node: 'drive2' }];
    expect(symmetryClasses({ ...topology, script }).classes).toEqual([]);
  });

  it('should not pair trees whose nodes or workloads differ', () => {
    const topology = exports();
    const cached = topology.nodes.map((n) => (n.name === 'drive2-file' ? { ...n, readOnly: true } : n));
    expect(symmetryClasses({ ...topology, nodes: cached }).classes).toEqual([]);
    const reads = topology.clients.map((c) => (c.name === 'nbd2' ? { ...c, workload: [{ ...c.workload[0], op: 'read' as const }] } : c));
    expect(symmetryClasses({ ...topology, clients: reads }).classes).toEqual([]);
  });

  it('should not pair trees with timers (renaming them is not checked to be exact)', () => {
    const topology = exports();
    const qed = topology.nodes.map((n) => (n.name === 'drive1' || n.name === 'drive2' ? { ...n, driver: 'qed' as const } : n));
    expect(symmetryClasses({ ...topology, nodes: qed }).classes).toEqual([]);
  });

  it('should not pair trees whose node names could be mistaken for the machines\' words', () => {
    const topology = exports();
    const rename = (text: string) => text.replace(/\bdrive1\b/g, 'qcow2').replace(/\bdrive2\b/g, 'alpha');
    const renamed = JSON.parse(rename(JSON.stringify(topology))) as Topology;
    expect(symmetryClasses(renamed).classes).toEqual([]);
  });

  describe('on the small configuration', () => {
    const topology = resolveScenario(TREES).topology;
    const expander = new Expander(topology, false, false);
    const symmetry = new Symmetry(symmetryClasses(topology).members, expander.engine.actorNames, () => false);
    const states = allStates(topology);
    const swaps = { drive1: 'drive2', drive2: 'drive1', 'client:nbd1': 'client:nbd2', 'client:nbd2': 'client:nbd1', nbd1: 'nbd2', nbd2: 'nbd1', C1: 'D1', D1: 'C1' };

    it('should give a world and its mirror image (the trees swapped) one canonical hash', () => {
      expectMirrorsShareOneHash(expander, symmetry, states.filter((_, i) => i % 211 === 0), swaps);
    });

    it('should store exactly one state per orbit of the plain search', () => {
      const image = (world: World, checker: InvariantChecker, key: string) => `${symmetry.digestUnder(world, key)}|${symmetry.checkerHash(checker, key)}`;
      const orbits = new Set(states.map(({ world, checker }) => [image(world, checker, ''), image(world, checker, '1,0')].sort()[0]));
      expect(explore(topology, { symmetry: true, relativeTime: false }).states).toBe(orbits.size);
      expect(orbits.size).toBeLessThan(states.length * 0.55);
    });
  });

  describe('counterexamples without external gating', () => {
    counterexampleSpecs(TREES_UNGATED, { I1: 24, I7: 24 });
  });
});
