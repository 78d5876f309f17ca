/**
 * Symmetry reduction (Ip and Dill, "Better verification through symmetry", 1996): identical
 * clients are interchangeable, so a state and its image with two of them swapped (names,
 * request ids, places in every list and mailbox) behave alike, up to that renaming. The
 * explorer stores one state per orbit: each state is hashed as its canonical image.
 *
 * When clients are interchangeable. Same kind, same node, the same workload up to request ids,
 * no request of theirs named by anyone's `after` or `when` (a dependency on one of them would
 * single it out), and request ids that cannot be mistaken for the machines' words
 * (`RENAMABLE_ID`). And the contexts must dispatch ready handlers in readiness order
 * (`dispatchOrder: readiness`): with QEMU 2015's handler-list walk the order of registration
 * ranks the clients for the whole run, no state has its twin reached
 * (`bench/symmetryProbe.ts`), and there is nothing to merge.
 *
 * The canonical image. Within each class, the clients are sorted by a name-free signature (their
 * own snapshot and mailbox as if they sat in the class's first place). When the only tie is one
 * pair, both orders are tried and the image with the smaller digest is the state's; any other
 * tie keeps its topology order. Each image tried renames every snapshot that names a client
 * (JSON, then a hash) the first time it meets it, so trying more costs more than it merges:
 * trying every order of four tied clients, reference N = 4 reached depth 18 in 60 s, against 23
 * without the reduction and 26 in 30 s with pairs only. That may leave two states of
 * one orbit apart (fewer merges), never merge two states that are not images of each other:
 * every image is a true renaming of the state. The renaming the canonical image took is handed
 * on (`key`), so the monitors' judgement is hashed under the same renaming.
 */
import { clientActor, type Topology } from '../../actors/topology.ts';
import type { AnyMachineSnapshot } from 'xstate';
import type { Alarm, Envelope, World } from '../engine/World.ts';
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


export interface SymmetryClasses {
  /** Interchangeable clients by class (topology names, topology order), each of two or more. */
  classes: string[][];
  /** Why there are none, when there are none. */
  reason: string | null;
}

/**
 * A request id the renaming may rewrite wherever it stands as a word: it has a capital letter
 * and a digit (W0a, A1). The machines' own words (state names, event types, context keys, eras)
 * never have both, so renaming an id never rewrites one of them; a client whose ids do not look
 * like that stays out of every class.
 */
const RENAMABLE_ID = /^(?=.*[A-Z])(?=.*[0-9])[\w-]+$/;

/** Which clients of the topology are interchangeable (see the module comment). */
export function symmetryClasses(topology: Topology): SymmetryClasses {
  if ((topology.dispatchOrder ?? 'handler-list') !== 'readiness') {
    return { classes: [], reason: 'ready handlers run in handler-list order (dispatchOrder: handler-list), which ranks the clients' };
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
  const byShape = new Map<string, string[]>();
  for (const client of topology.clients) {
    if (client.workload.some((r) => named.has(r.id) || (r.after?.length ?? 0) > 0 || !RENAMABLE_ID.test(r.id))) continue;
    const shape = canonicalJson({ kind: client.kind, node: client.node, workload: client.workload.map((r) => ({ op: r.op, at: r.at, when: r.when })) });
    byShape.set(shape, [...(byShape.get(shape) ?? []), client.name]);
  }
  const classes = [...byShape.values()].filter((c) => c.length > 1);
  return { classes, reason: classes.length > 0 ? null : 'no two clients are alike (same kind, node and workload, no request another one waits for)' };
}

/** A renaming of interchangeable clients: member `arrangement[k][j]` of class k takes the place of member j. */
class Renaming implements WorldRenaming {
  private readonly snapshots = new WeakMap<AnyMachineSnapshot, number>();
  private readonly mailboxes = new WeakMap<readonly Envelope[], number>();
  private readonly alarms = new WeakMap<Alarm, number>();
  private readonly events = new WeakMap<object, number>();

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
    if (typeof value === 'string') return this.text(value);
    if (value === null || typeof value !== 'object') return value;
    if (Array.isArray(value)) return value.map((v) => this.value(v));
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) out[this.text(key)] = this.value((value as Record<string, unknown>)[key]);
    return out;
  }

  snapshotDigest(snapshot: AnyMachineSnapshot): number {
    let digest = this.snapshots.get(snapshot);
    if (digest === undefined) {
      digest = this.symmetry.snapshotMentions(snapshot)
        ? hash53(snapshotText(this.value(snapshot.value), this.value(snapshot.context)))
        : snapshotDigest(snapshot);
      this.snapshots.set(snapshot, digest);
    }
    return digest;
  }

  mailboxDigest(mailbox: readonly Envelope[]): number {
    let digest = this.mailboxes.get(mailbox);
    if (digest === undefined) {
      digest = mailboxDigestOf(
        mailbox,
        (from) => hash53(this.text(from)),
        (event) => this.eventDigest(event),
      );
      this.mailboxes.set(mailbox, digest);
    }
    return digest;
  }

  alarmDigest(alarm: Alarm): number {
    let digest = this.alarms.get(alarm);
    if (digest === undefined) {
      digest = hash53(alarmText(this.text(alarm.id), alarm.clock, this.text(alarm.target), this.value(alarm.event)));
      this.alarms.set(alarm, digest);
    }
    return digest;
  }

  private eventDigest(event: object): number {
    let digest = this.events.get(event);
    if (digest === undefined) {
      digest = hash53(canonicalJson(this.value(event)));
      this.events.set(event, digest);
    }
    return digest;
  }
}

interface Member {
  /** The client's actor index in the engine's list. */
  actor: number;
  /** Its names, in a fixed order shared by its class: actor name, then request ids in program order. */
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
    classes: readonly string[][],
    topology: Topology,
    private readonly actorNames: readonly string[],
    private readonly relativeTimeAt: (world: World) => boolean,
  ) {
    this.classes = classes;
    const index = new Map(actorNames.map((name, i) => [name, i]));
    const clients = new Map(topology.clients.map((c) => [c.name, c]));
    this.members = classes.map((names) =>
      names.map((name) => ({ actor: index.get(clientActor(name))!, tokens: [clientActor(name), ...clients.get(name)!.workload.map((r) => r.id)] })),
    );
    const all = this.members.flatMap((c) => c.flatMap((m) => m.tokens));
    const alternatives = [...all].sort((a, b) => b.length - a.length).map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    const source = `(?<![\\w-])(?:${alternatives.join('|')})(?![\\w-])`;
    this.tokenPattern = new RegExp(source, 'g');
    this.tokenTest = new RegExp(source);
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
          indexes[members[from].actor] = members[to].actor;
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
  canonical(world: World, plain?: () => number): Canonical {
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
      return { hash: key === '' && plain ? plain() : this.digestUnder(world, key), key };
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
   * is renamed as a value and written out again with its keys sorted).
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
      hash = hash53(canonicalJson(this.renaming(key).value(JSON.parse(checker.key()))));
      byKey.set(key, hash);
    }
    return hash;
  }

  /** The digest of the world's image under the renaming `key`. */
  digestUnder(world: World, key: string): number {
    return renamedWorldDigest(world, this.actorNames, this.relativeTimeAt(world), this.renaming(key));
  }

  /** Member j of class k's own snapshot and mailbox as if it sat in the class's first place. */
  private signature(world: World, k: number, j: number): number {
    const members = this.members[k];
    const renaming = this.swaps[k][j];
    const actor = this.actorNames[members[j].actor];
    const mailbox = world.mailboxes[actor];
    return signatureHasher
      .reset()
      .add(renaming.snapshotDigest(world.snapshots[actor]))
      .add(mailbox && mailbox.length > 0 ? renaming.mailboxDigest(mailbox) : 0)
      .digest();
  }
}

/** An arrangement's key: `''` for the identity. */
function keyOf(arrangement: readonly (readonly number[])[]): string {
  if (arrangement.every((order) => order.every((from, to) => from === to))) return '';
  return arrangement.map((order) => order.join(',')).join(';');
}

/** Reused for every signature (hashing is never re-entered). */
const signatureHasher = new NumberHasher();
