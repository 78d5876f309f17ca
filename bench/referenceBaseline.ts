/**
 * The exploration benchmark's baseline: the reference protocol written directly in plain
 * TypeScript (plain objects, no XState, no engine), explored breadth first with the same
 * visited store as drainlab's explorer (53-bit hashes, parent links). It answers "how fast
 * could a hand-written explorer of this protocol be", so drainlab's figures can be given as
 * ratios to it, measured in the same run.
 *
 * The protocol (docs/index.md and docs/model.md, at the granularity of QEMU's functions rather than drainlab's
 * messages): one AioContext shared by the main thread and the IOThread; N NBD clients with two
 * allocating writes each to qed node i mod D; the host completes requests in any order; each
 * qed node arms its need-check timer when its last allocating write finishes and a new one
 * cancels it; the timer's work is a flush issued by the driver. The main thread runs
 * qmp_transaction (2015): bdrv_drain_all, then per action drained_begin in prepare (disable the
 * external handlers, qed's drain hook, poll until the node is quiet), the point in time and the
 * overlay in commit, drained_end in clean. Whoever holds the context runs its ready work one
 * callback at a time (aio_dispatch, the completion bottom halves, timers).
 *
 * Checked: I1 (no external handler dispatched while disabled), I5 (no external request
 * submitted to a node inside its section), conservation (every write completes), the
 * consistent cut (I10: no write of the node in flight at its point in time); with `judgeI6`,
 * I6 (no driver-timer work issued on a node inside its section), left out by default as in
 * the reference scenarios (the residual gap of docs/patches/12-qed-bdrv-drain.md).
 */
import { hash53 } from '../runtime/engine/worldHash.ts';
import { StateStore } from '../runtime/explore/StateStore.ts';

export interface BaselineProtections {
  externalGating: boolean;
  nbdExternal: boolean;
  transactionDrains: boolean;
  qedDrainHook: boolean;
}

/** Where a write is: not yet sent, ready on the socket, in the host, completed by the host, done. */
const enum W {
  Unsent = 0,
  Ready = 1,
  InHost = 2,
  HostDone = 3,
  Done = 4,
}

interface State {
  /** Per write (client i's writes at 2i and 2i+1): its stage, and the node it went to (-1 before). */
  stage: number[];
  target: number[];
  /** Per drive: allocating writes in flight, timer armed, timer work in flight (0 none, 1 in host, 2 host done). */
  allocating: number[];
  timerArmed: boolean[];
  timerWork: number[];
  /** Per drive: drained (quiesce > 0), whether the overlay was appended (clients go there), and the writes its snapshot holds (bitmask). */
  drained: boolean[];
  appended: boolean[];
  snapshot: number[];
  /** The context's external-disable counter. */
  disabled: number;
  /** The main thread's program counter (see `mainStep`). */
  pc: number;
}

export interface BaselineResult {
  verdict: 'proved' | 'violated' | 'bounded';
  invariant?: string;
  states: number;
  transitions: number;
  depth: number;
  seconds: number;
  counterexampleSteps?: number;
  bytesPerState: number;
}

export function exploreBaseline(
  n: number,
  d: number,
  protections: BaselineProtections = { externalGating: true, nbdExternal: true, transactionDrains: true, qedDrainHook: true },
  options: { maxStates?: number; judgeI6?: boolean; timeLimitSeconds?: number } = {},
): BaselineResult {
  const maxStates = options.maxStates ?? 50_000_000;
  const timeLimit = (options.timeLimitSeconds ?? Infinity) * 1000;
  const judgeI6 = options.judgeI6 ?? false;
  const started = performance.now(); // @allow-wallclock: the benchmark's own timing
  const writes = 2 * n;
  const driveOf = (w: number) => (w >> 1) % d;
  // Main program: 0 drain_all; then for each action j: 1+3j begin, 2+3j poll until quiet; then commit j; then clean j; then done.
  const PREPARE = 1;
  const COMMIT = PREPARE + 2 * d;
  const CLEAN = COMMIT + d;
  const DONE = CLEAN + d;

  const initial: State = {
    stage: new Array(writes).fill(W.Unsent),
    target: new Array(writes).fill(-1),
    allocating: new Array(d).fill(0),
    timerArmed: new Array(d).fill(false),
    timerWork: new Array(d).fill(0),
    drained: new Array(d).fill(false),
    appended: new Array(d).fill(false),
    snapshot: new Array(d).fill(-1),
    disabled: 0,
    pc: 0,
  };
  const clone = (s: State): State => ({
    stage: s.stage.slice(),
    target: s.target.slice(),
    allocating: s.allocating.slice(),
    timerArmed: s.timerArmed.slice(),
    timerWork: s.timerWork.slice(),
    drained: s.drained.slice(),
    appended: s.appended.slice(),
    snapshot: s.snapshot.slice(),
    disabled: s.disabled,
    pc: s.pc,
  });
  const key = (s: State) =>
    `${s.stage.join('')}|${s.target.join(',')}|${s.allocating.join(',')}|${s.timerArmed.map(Number).join('')}|${s.timerWork.join('')}|${s.drained.map(Number).join('')}|${s.appended.map(Number).join('')}|${s.snapshot.join(',')}|${s.disabled}|${s.pc}`;

  const quiet = (s: State, j: number) => s.allocating[j] === 0 && s.timerWork[j] === 0 && !s.stage.some((st, w) => s.target[w] === j && (st === W.InHost || st === W.HostDone));
  const allQuiet = (s: State) => s.stage.every((st) => st !== W.InHost && st !== W.HostDone) && s.timerWork.every((t) => t === 0);
  const externalAllowed = (s: State) => !protections.externalGating || !protections.nbdExternal || s.disabled === 0;
  // Node j's node id when the overlay takes over: overlays are D..2D-1 (no qed timer there).
  const nodeFor = (s: State, w: number) => (s.appended[driveOf(w)] ? d + driveOf(w) : driveOf(w));

  /** Every step from `s`: [successor, violated invariant or null]. */
  const successors = (s: State): [State, string | null][] => {
    const out: [State, string | null][] = [];
    // The guest: a client sends its next write (the socket becomes readable).
    for (let w = 0; w < writes; w++) {
      if (s.stage[w] !== W.Unsent) continue;
      const t = clone(s);
      t.stage[w] = W.Ready;
      out.push([t, null]);
    }
    // The context (whoever holds it): aio_dispatch of a readable NBD socket -> nbd_trip submits the write.
    for (let w = 0; w < writes; w++) {
      if (s.stage[w] !== W.Ready || !externalAllowed(s)) continue;
      const t = clone(s);
      const node = nodeFor(s, w);
      t.stage[w] = W.InHost;
      t.target[w] = node;
      let violated: string | null = null;
      if (protections.nbdExternal && s.disabled > 0) violated = 'I1';
      else if (node < d && s.drained[node]) violated = 'I5';
      if (node < d) {
        t.allocating[node]++;
        t.timerArmed[node] = false; // qed: a new allocating write cancels the need-check timer
      }
      out.push([t, violated]);
    }
    // The host completes a request (any order).
    for (let w = 0; w < writes; w++) {
      if (s.stage[w] !== W.InHost) continue;
      const t = clone(s);
      t.stage[w] = W.HostDone;
      out.push([t, null]);
    }
    for (let j = 0; j < d; j++) {
      if (s.timerWork[j] !== 1) continue;
      const t = clone(s);
      t.timerWork[j] = 2;
      out.push([t, null]);
    }
    // The context: the completion bottom half of a finished request.
    for (let w = 0; w < writes; w++) {
      if (s.stage[w] !== W.HostDone) continue;
      const t = clone(s);
      t.stage[w] = W.Done;
      const node = s.target[w];
      if (node < d) {
        t.allocating[node]--;
        if (t.allocating[node] === 0) t.timerArmed[node] = true; // qed_aio_complete: arm the need-check timer
      }
      out.push([t, null]);
    }
    for (let j = 0; j < d; j++) {
      if (s.timerWork[j] !== 2) continue;
      const t = clone(s);
      t.timerWork[j] = 0;
      out.push([t, null]);
    }
    // Time passes: an armed need-check timer fires; its work is a flush the driver issues.
    for (let j = 0; j < d; j++) {
      if (!s.timerArmed[j] || s.timerWork[j] !== 0) continue;
      const t = clone(s);
      t.timerArmed[j] = false;
      t.timerWork[j] = 1;
      out.push([t, judgeI6 && s.drained[j] ? 'I6' : null]);
    }
    const main = mainStep(s);
    if (main) out.push(main);
    return out;
  };

  /** The main thread's next step, when it can take one: qmp_transaction in 2015 order. */
  const mainStep = (s: State): [State, string | null] | null => {
    if (s.pc === 0) {
      // bdrv_drain_all: poll until nothing is in flight anywhere.
      if (!allQuiet(s)) return null;
      const t = clone(s);
      t.pc++;
      return [t, null];
    }
    if (s.pc < COMMIT) {
      const j = (s.pc - PREPARE) >> 1;
      const t = clone(s);
      if ((s.pc - PREPARE) % 2 === 0) {
        // drained_begin: disable the external handlers, then the qed hook (only a pending timer: run its work now).
        if (protections.transactionDrains) {
          t.drained[j] = true;
          t.disabled++;
          if (protections.qedDrainHook && t.timerArmed[j]) {
            t.timerArmed[j] = false;
            t.timerWork[j] = 1;
          }
        }
        t.pc++;
        return [t, null];
      }
      // The drain's poll loop returns once the node is quiet (so I4 holds by construction here).
      if (protections.transactionDrains && !quiet(s, j)) return null;
      t.pc++;
      return [t, null];
    }
    if (s.pc < CLEAN) {
      const j = s.pc - COMMIT;
      const t = clone(s);
      // The point in time: the writes completed on drive j; anything still in flight breaks the cut (I10).
      let held = 0;
      let cutBroken = false;
      s.stage.forEach((st, w) => {
        if (s.target[w] !== j) return;
        if (st === W.Done) held |= 1 << w;
        else if (st === W.InHost || st === W.HostDone) cutBroken = true;
      });
      t.snapshot[j] = held;
      t.appended[j] = true;
      t.pc++;
      return [t, cutBroken ? 'I10' : null];
    }
    if (s.pc < DONE) {
      const j = s.pc - CLEAN;
      const t = clone(s);
      if (protections.transactionDrains) {
        t.drained[j] = false;
        t.disabled--;
      }
      t.pc++;
      return [t, null];
    }
    return null;
  };

  const store = new StateStore();
  store.add(hash53(key(initial)), -1, 0);
  let frontier: { s: State; id: number }[] = [{ s: initial, id: 0 }];
  let transitions = 0;
  let depth = 0;
  const finish = (verdict: BaselineResult['verdict'], extra: Partial<BaselineResult> = {}): BaselineResult => ({
    verdict,
    states: store.size,
    transitions,
    depth,
    seconds: (performance.now() - started) / 1000, // @allow-wallclock
    bytesPerState: store.bytes().perState,
    ...extra,
  });
  while (frontier.length > 0) {
    const next: { s: State; id: number }[] = [];
    for (const { s, id } of frontier) {
      const steps = successors(s);
      if (steps.length === 0) {
        // A quiet end: every write done and the transaction over (conservation).
        if (s.pc !== DONE || s.stage.some((st) => st !== W.Done)) return finish('violated', { invariant: 'conservation', counterexampleSteps: depth });
        continue;
      }
      for (let i = 0; i < steps.length; i++) {
        transitions++;
        const [t, violated] = steps[i];
        const child = store.add(hash53(key(t)), id, i);
        if (violated) return finish('violated', { invariant: violated, counterexampleSteps: depth + 1 });
        if (child < 0) continue;
        next.push({ s: t, id: child });
        if (store.size >= maxStates) return finish('bounded');
        if (store.size % 4096 === 0 && performance.now() - started > timeLimit) return finish('bounded'); // @allow-wallclock
      }
    }
    frontier = next;
    depth++;
  }
  return finish('proved');
}
