/**
 * Symmetry reduction (Ip and Dill, "Better verification through symmetry", 1996): identical
 * parts of the topology are interchangeable, so a state and its image with two of them swapped
 * (names, request ids, places in every list and mailbox) behave alike, up to that renaming. The
 * explorer stores one state per orbit: each state is hashed as its canonical image.
 *
 * What is interchangeable. Clients of the same kind on the same node, with the same workload up
 * to request ids; and node trees (a root node, everything under it, the clients of any of them)
 * alike up to names, that nothing outside the tree names and that have no timers (see
 * `interchangeableTrees`). No request of theirs may be named by
 * anyone's `after` or `when` (a dependency on one would single it out), and their names must
 * not be mistakable for the machines' words (`RENAMABLE_ID`, `RENAMABLE_NODE`). And the contexts
 * must dispatch in readiness order (`dispatchOrder: readiness`): with QEMU 2015's walks of the
 * handler and BH lists the order of registration ranks clients and nodes for the whole run, no
 * state has its twin reached (`bench/symmetryProbe.ts`), and there is nothing to merge.
 *
 * Why renaming is exact. The machines never order by name, and where they walk a record keyed
 * by names they only test it or send to distinct actors, so the order of its keys (which a
 * renaming changes, and the world's hash ignores) never shows. The specs compare the states stored with the orbits of the plain search.
 *
 * The canonical image. Within each class, the members are sorted by a name-free signature (their
 * own actors' snapshots and mailboxes as if they sat in the class's first place). When the only tie is one
 * pair, both orders are tried and the image with the smaller digest is the state's; any other
 * tie keeps its topology order. Each image tried renames every snapshot that names a member
 * (JSON, then a hash) the first time it meets it, so trying more costs more than it merges:
 * trying every order of four tied clients, reference N = 4 reached depth 18 in 60 s, against 23
 * without the reduction and 26 in 30 s with pairs only. That may leave two states of
 * one orbit apart (fewer merges), never merge two states that are not images of each other:
 * every image is a true renaming of the state. The renaming the canonical image took is handed
 * on (`key`), so the monitors' judgement is hashed under the same renaming.
 */
import { SORTED_CONTEXT_LISTS } from '../../machines/effects.ts';
import { clientActor, nodeActor, type ClientSpec, type NodeSpec, type Topology } from '../../actors/topology.ts';
import { InternalError } from '../errors.ts';
import { keepOn, keptOn } from '../engine/partCache.ts';
import type { AnyMachineSnapshot } from 'xstate';
import type { Alarm, Envelope, World } from '../engine/World.ts';
import type { Mailbox } from '../engine/Mailbox.ts';
import {
  alarmText,
  canonicalJson,
  hash53,
  mailboxDigestOf,
  NumberHasher,
  renamedWorldDigest,
  snapshotDigest,
  snapshotKey,
  snapshotText,
  type WorldRenaming,
} from '../engine/worldHash.ts';
import { keyHashOfValue } from '../invariants/InvariantChecker.ts';


export interface SymmetryClasses {
  /** Interchangeable members by class (their labels, topology order), each class of two or more. */
  classes: string[][];
  /** The same classes, each member with the actors it is made of and the names it is known by. */
  members: SymmetryMember[][];
  /** Why there are none, when there are none. */
  reason: string | null;
}

/**
 * One interchangeable part of the topology: a client, or a whole node tree (a node nobody else
 * uses as its file or backing, everything under it, and the clients of any of them).
 */
export interface SymmetryMember {
  /** `nbd0` for a client; `drive1+nbd1` (the tree's root, then its clients) for a node tree. */
  label: string;
  /** Its actors, in an order shared by its class: the k-th takes the place of another member's k-th. */
  actors: readonly string[];
  /** Its names, in an order shared by its class (actor and node names, request ids). */
  tokens: readonly string[];
}

/**
 * A request id the renaming may rewrite wherever it stands as a word: it has a capital letter
 * and a digit (W0a, A1), and is not an invariant's id (I1 to I12, which the monitors' keys
 * hold). The machines' own words (state names, event types, context keys, eras) never have both,
 * so renaming an id never rewrites one of them; a client whose ids do not look like that stays
 * out of every class.
 */
const RENAMABLE_ID = /^(?!I[0-9]+$)(?=.*[A-Z])(?=.*[0-9])[\w-]+$/;

/**
 * A node name the renaming may rewrite: it has a letter and a digit (drive1, disk-b2) and is not
 * one of the few machine words that do (the drivers' and eras' names, an invariant's id).
 */
const RENAMABLE_NODE = /^(?!(?:qcow2|qcow2-cache-clean|2015|I[0-9]+)$)(?=.*[A-Za-z])(?=.*[0-9])[\w-]+$/;

/** Which parts of the topology are interchangeable (see the module comment). */
export function symmetryClasses(topology: Topology): SymmetryClasses {
  if ((topology.dispatchOrder ?? 'handler-list') !== 'readiness') {
    return { classes: [], members: [], reason: 'ready handlers run in handler-list order (dispatchOrder: handler-list), which ranks the clients' };
  }
  const named = new Set<string>();
  const nameTrigger = (when: unknown) => {
    if (when && typeof when === 'object' && 'completed' in when) named.add(String((when as { completed: string }).completed));
  };
  for (const client of topology.clients) {
    for (const r of client.workload) {
      for (const id of r.after ?? []) named.add(id);
      nameTrigger(r.when);
    }
  }
  for (const command of topology.script ?? []) nameTrigger(command.when);
  // A client takes part only if nothing singles it out: no request of its is waited for, none
  // waits, and its ids are renamable.
  // A disk on a SCSI bus stays out too: the bus actor names its disks and walks them in one
  // order (detach and attach of every disk's handler), which a renaming would not follow.
  const renamable = (client: ClientSpec) =>
    client.bus === undefined && !client.workload.some((r) => named.has(r.id) || (r.after?.length ?? 0) > 0 || !RENAMABLE_ID.test(r.id));
  const trees = interchangeableTrees(topology, renamable);
  const inTrees = new Set(trees.flat().flatMap((m) => m.clients));
  const byShape = new Map<string, SymmetryMember[]>();
  for (const client of topology.clients) {
    if (inTrees.has(client.name) || !renamable(client)) continue;
    const shape = canonicalJson({ kind: client.kind, node: client.node, workload: client.workload.map((r) => ({ op: r.op, at: r.at, when: r.when })) });
    byShape.set(shape, [...(byShape.get(shape) ?? []), clientMember(client)]);
  }
  const members = [...byShape.values()].filter((c) => c.length > 1).concat(trees.map((c) => c.map((m) => m.member)));
  const classes = members.map((c) => c.map((m) => m.label));
  return {
    classes,
    members,
    reason: classes.length > 0 ? null : 'no two clients or node trees are alike (same kind, node or shape and workload, no request another one waits for, not named by a transaction or the script)',
  };
}

function clientMember(client: ClientSpec): SymmetryMember {
  return { label: client.name, actors: [clientActor(client.name)], tokens: [clientActor(client.name), ...client.workload.map((r) => r.id)] };
}

/**
 * Node trees that are images of each other: a root node (nobody's file or backing) with
 * everything under it and the clients of any of them, alike up to names (drivers, contexts,
 * options, the clients' kinds and workloads), with renamable names that nothing outside the
 * tree mentions (a transaction's action, a script command, another tree's node or client).
 */
function interchangeableTrees(topology: Topology, renamable: (client: ClientSpec) => boolean): { member: SymmetryMember; clients: string[] }[][] {
  const nodes = new Map(topology.nodes.map((n) => [n.name, n]));
  const used = new Set(topology.nodes.flatMap((n) => [n.file, n.backing].filter((x): x is string => x !== undefined)));
  const byShape = new Map<string, { member: SymmetryMember; clients: string[] }[]>();
  for (const root of topology.nodes) {
    if (used.has(root.name)) continue;
    const tree: NodeSpec[] = [];
    const walk = (name: string | undefined) => {
      const node = name === undefined ? undefined : nodes.get(name);
      if (!node || tree.includes(node)) return;
      tree.push(node);
      walk(node.file);
      walk(node.backing);
    };
    walk(root.name);
    const names = new Set(tree.map((n) => n.name));
    const clients = topology.clients.filter((c) => names.has(c.node));
    if (clients.length === 0 || !clients.every(renamable) || !tree.every((n) => RENAMABLE_NODE.test(n.name))) continue;
    // Trees with timers (qed's need-check, housekeeping timers) are left out. The timer list no
    // longer orders by name (equal deadlines go in arming order), but the exactness of renaming
    // them is unchecked: the smallest pair of qed trees has millions of states, past what the
    // specs' orbit count can enumerate.
    if (tree.some((n) => n.driver === 'qed' || (n.timers?.length ?? 0) > 0)) continue;
    const tokens = [...tree.map((n) => n.name), ...clients.flatMap((c) => [clientActor(c.name), c.name, ...c.workload.map((r) => r.id)])];
    // Nothing outside the tree may name it: the rest of the topology must not hold its tokens.
    const rest = JSON.stringify({ ...topology, nodes: topology.nodes.filter((n) => !names.has(n.name)), clients: topology.clients.filter((c) => !clients.includes(c)) });
    if (tokens.some((t) => wholeWord(t).test(rest))) continue;
    const placeholders = new Map(tokens.map((t, i) => [t, `$${i}`]));
    const shape = canonicalJson(renameJson({ tree, clients }, (text) => text.replace(wholeWords(tokens), (t) => placeholders.get(t)!)));
    const member: SymmetryMember = {
      label: [root.name, ...clients.map((c) => c.name)].join('+'),
      actors: [...tree.map((n) => nodeActor(n.name)), ...clients.map((c) => clientActor(c.name))],
      tokens,
    };
    byShape.set(shape, [...(byShape.get(shape) ?? []), { member, clients: clients.map((c) => c.name) }]);
  }
  return [...byShape.values()].filter((c) => c.length > 1);
}

/** A pattern of the tokens as whole words (not part of a longer name: `drive1` is not in `drive1-file`). */
function wholeWords(tokens: readonly string[], flags = 'g'): RegExp {
  const alternatives = [...tokens].sort((a, b) => b.length - a.length).map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`(?<![\\w-])(?:${alternatives.join('|')})(?![\\w-])`, flags);
}

function wholeWord(token: string): RegExp {
  return wholeWords([token], '');
}

/** A JSON-like value with every string and every key passed through `rename`. */
function renameJson(value: unknown, rename: (text: string) => string): unknown {
  if (typeof value === 'string') return rename(value);
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => renameJson(v, rename));
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const renamed = renameJson((value as Record<string, unknown>)[key], rename);
    // A list a machine keeps sorted is sorted again, as the machine keeps the renamed state.
    const order = Object.hasOwn(SORTED_CONTEXT_LISTS, key) ? SORTED_CONTEXT_LISTS[key] : undefined;
    out[rename(key)] = order && Array.isArray(renamed) ? renamed.sort(order) : renamed;
  }
  return out;
}

/** A renaming of interchangeable clients: member `arrangement[k][j]` of class k takes the place of member j. */
class Renaming implements WorldRenaming {
  /** Each part's digest under this renaming, kept on the part (see `keepOn`) under this renaming's own key. */
  private readonly digestKey = Symbol('digest under a renaming');
  readonly actorsKey = Symbol('actors under a renaming');
  private readonly senders = new Map<string, number>();

  constructor(
    readonly key: string,
    private readonly tokens: ReadonlyMap<string, string>,
    private readonly indexes: Int32Array,
    private readonly symmetry: Symmetry,
  ) {}

  actorIndex(index: number): number {
    return this.indexes[index];
  }

  /** A string with every client token in it renamed (tokens are whole words: ids, actor names). */
  text(value: string): string {
    const whole = this.tokens.get(value);
    if (whole !== undefined) return whole;
    return value.replace(this.symmetry.tokenPattern, (token) => this.tokens.get(token) ?? token);
  }

  /** A JSON-like value with every string and every key renamed. */
  value(value: unknown): unknown {
    return renameJson(value, this.renameText);
  }

  private readonly renameText = (text: string): string => this.text(text);

  snapshotDigest(snapshot: AnyMachineSnapshot): number {
    return this.cachedOn(snapshot, (s) =>
      this.symmetry.snapshotMentions(s) ? hash53(snapshotText(this.value(s.value), this.value(s.context))) : snapshotDigest(s),
    );
  }

  mailboxDigest(mailbox: Mailbox): number {
    return this.cachedOn(mailbox.content, () =>
      mailboxDigestOf(
        mailbox,
        (from) => this.senderDigest(from),
        (event) => this.eventDigest(event),
      ),
    );
  }

  alarmDigest(alarm: Alarm): number {
    return this.cachedOn(alarm, (a) => hash53(alarmText(this.text(a.id), a.clock, this.text(a.target), this.value(a.event))));
  }

  private eventDigest(event: object): number {
    return this.cachedOn(event, (e) => hash53(canonicalJson(this.value(e))));
  }

  private senderDigest(name: string): number {
    let digest = this.senders.get(name);
    if (digest === undefined) {
      digest = hash53(this.text(name));
      this.senders.set(name, digest);
    }
    return digest;
  }

  private cachedOn<K extends object>(part: K, compute: (part: K) => number): number {
    return keptOn<number>(part, this.digestKey) ?? keepOn(part, this.digestKey, compute(part));
  }
}

interface Member {
  /** Its actors' indexes in the engine's list, in the order its class shares. */
  actors: readonly number[];
  /** Its names, in the order its class shares. */
  tokens: readonly string[];
}

/** The canonical image's digest, and the renaming that made it (`''`: none). */
export interface Canonical {
  hash: number;
  key: string;
}

export class Symmetry {
  readonly classes: readonly string[][];
  /** Every client token of every class, as whole words. */
  readonly tokenPattern: RegExp;
  private readonly tokenTest: RegExp;
  private readonly members: readonly (readonly Member[])[];
  private readonly renamings = new Map<string, Renaming>();
  private readonly mentions = new WeakMap<AnyMachineSnapshot, boolean>();
  /** By class and member: the renaming that swaps the member with the class's first (for signatures). */
  private readonly swaps: readonly (readonly Renaming[])[];

  constructor(
    classes: readonly (readonly SymmetryMember[])[],
    private readonly actorNames: readonly string[],
    private readonly relativeTimeAt: (world: World) => boolean,
  ) {
    this.classes = classes.map((c) => c.map((m) => m.label));
    const index = new Map(actorNames.map((name, i) => [name, i]));
    this.members = classes.map((members) =>
      members.map((m) => ({
        actors: m.actors.map((actor) => {
          const i = index.get(actor);
          if (i === undefined) throw new InternalError(`symmetry: no actor named '${actor}'`);
          return i;
        }),
        tokens: m.tokens,
      })),
    );
    const all = this.members.flatMap((c) => c.flatMap((m) => m.tokens));
    this.tokenPattern = wholeWords(all);
    this.tokenTest = wholeWords(all, '');
    this.swaps = this.members.map((members, k) =>
      members.map((_, j) => this.renaming(keyOf(this.members.map((c, kk) => c.map((_, x) => (kk !== k ? x : x === 0 ? j : x === j ? 0 : x)))))),
    );
  }

  /** Whether a snapshot names any client of a class (if not, every renaming leaves it as it is). */
  snapshotMentions(snapshot: AnyMachineSnapshot): boolean {
    let mentions = this.mentions.get(snapshot);
    if (mentions === undefined) {
      mentions = this.tokenTest.test(snapshotKey(snapshot));
      this.mentions.set(snapshot, mentions);
    }
    return mentions;
  }

  /** The renaming of a key (`''` is the identity). */
  renaming(key: string): Renaming {
    let renaming = this.renamings.get(key);
    if (renaming === undefined) {
      const arrangement = key === '' ? this.members.map((c) => c.map((_, j) => j)) : key.split(';').map((part) => part.split(',').map(Number));
      const tokens = new Map<string, string>();
      const indexes = new Int32Array(this.actorNames.length).map((_, i) => i);
      this.members.forEach((members, k) =>
        arrangement[k].forEach((from, to) => {
          members[from].tokens.forEach((token, t) => tokens.set(token, members[to].tokens[t]));
          members[from].actors.forEach((actor, a) => (indexes[actor] = members[to].actors[a]));
        }),
      );
      renaming = new Renaming(key, tokens, indexes, this);
      this.renamings.set(key, renaming);
    }
    return renaming;
  }

  /**
   * The world's canonical image: its digest and the renaming that gives it. `plain` is the
   * world's own digest when the caller has it cheaper (the engine hashes a successor from its
   * parent's digest); it must equal `digestUnder(world, '')`.
   */
  canonical(world: World, plain?: () => number, parent?: World, changed?: readonly number[]): Canonical {
    // Per class: members sorted by signature, and where two neighbours tie.
    const sorted: number[][] = [];
    const ties: { k: number; at: number }[] = [];
    this.members.forEach((members, k) => {
      const signatures = members.map((_, j) => this.signature(world, k, j));
      const order = members.map((_, j) => j).sort((a, b) => signatures[a] - signatures[b] || a - b);
      sorted.push(order);
      for (let at = 0; at + 1 < order.length; at++) if (signatures[order[at]] === signatures[order[at + 1]]) ties.push({ k, at });
    });
    const image = (arrangement: number[][]): Canonical => {
      const key = keyOf(arrangement);
      return { hash: key === '' && plain ? plain() : this.digestUnder(world, key, parent, changed), key };
    };
    const first = image(sorted);
    if (ties.length !== 1) return first;
    // Exactly one tied pair (three equal neighbours count as two ties): its other order too.
    const { k, at } = ties[0];
    const swapped = sorted.map((order, kk) => (kk === k ? order.map((m, x) => (x === at ? order[at + 1] : x === at + 1 ? order[at] : m)) : order));
    const second = image(swapped);
    return second.hash < first.hash ? second : first;
  }

  private readonly checkerHashes = new WeakMap<object, Map<string, number>>();

  /**
   * The monitors' judgement hashed under the renaming `key` (their key is canonical JSON, so it
   * is renamed as a value, written out again with its keys sorted, and hashed part by part as
   * `keyHash` hashes it: see `keyHashOfValue`).
   */
  checkerHash(checker: { key(): string; keyHash(): number }, key: string): number {
    if (key === '') return checker.keyHash();
    let byKey = this.checkerHashes.get(checker);
    if (byKey === undefined) {
      byKey = new Map();
      this.checkerHashes.set(checker, byKey);
    }
    let hash = byKey.get(key);
    if (hash === undefined) {
      hash = keyHashOfValue(this.renaming(key).value(JSON.parse(checker.key())));
      byKey.set(key, hash);
    }
    return hash;
  }

  /**
   * The digest of the world's image under the renaming `key`; from `parent`'s image under the
   * same renaming, when it has one, if the world was made from it by a step that touched only
   * the actors `changed`.
   */
  digestUnder(world: World, key: string, parent?: World, changed?: readonly number[]): number {
    return renamedWorldDigest(world, this.relativeTimeAt(world), this.renaming(key), parent, changed);
  }

  /** Member j of class k's own snapshots and mailboxes as if it sat in the class's first place. */
  private signature(world: World, k: number, j: number): number {
    const renaming = this.swaps[k][j];
    signatureHasher.reset();
    for (const index of this.members[k][j].actors) {
      const mailbox = world.mailboxes[index];
      signatureHasher.add(renaming.snapshotDigest(world.parts[index].snapshot)).add(mailbox.size > 0 ? renaming.mailboxDigest(mailbox) : 0);
    }
    return signatureHasher.digest();
  }
}

/** An arrangement's key: `''` for the identity. */
function keyOf(arrangement: readonly (readonly number[])[]): string {
  if (arrangement.every((order) => order.every((from, to) => from === to))) return '';
  return arrangement.map((order) => order.join(',')).join(';');
}

/** Reused for every signature (hashing is never re-entered). */
const signatureHasher = new NumberHasher();
