/**
 * Comparing two runs by their key events, not by step numbers: the same story told by two runs
 * drifts apart in steps at once, but its external dispatches, submits, drains, transaction phases
 * and points in time line up. Pure logic (no DOM) so the specs can run it in node.
 */
import { isExternalDispatch, shortName, type TraceModel } from './traceModel.ts';

export type KeyKind = 'dispatch' | 'submit' | 'complete' | 'drain' | 'txn' | 'pit' | 'guest' | 'violation';

export interface KeyEvent {
  step: number;
  /** The transaction phase it happens inside: `commit 0`, or '-' outside any. */
  phase: string;
  kind: KeyKind;
  /** What happened, independent of when: equal keys on both sides are the same event. */
  key: string;
  text: string;
  /** Requests the event is about (guest write ids), for highlighting. */
  request?: string;
  external?: boolean;
  invariant?: string;
}

/** The key events of a trace in file order, each annotated with its transaction phase. */
export function keyEvents(model: TraceModel): KeyEvent[] {
  return model.cached('keyEvents', () => computeKeyEvents(model));
}

function computeKeyEvents(model: TraceModel): KeyEvent[] {
  const phases = model.phaseOfEvents();
  const out: KeyEvent[] = [];
  let v = 0;
  const flushViolations = (upTo: number) => {
    while (v < model.violations.length && model.violations[v].afterEvent <= upTo) {
      const x = model.violations[v++];
      out.push({ step: x.step, phase: out.length ? out[out.length - 1].phase : '-', kind: 'violation', key: `violation|${x.invariant}`, text: `${x.invariant} violated: ${x.message}`, invariant: x.invariant });
    }
  };
  model.events.forEach((e, i) => {
    flushViolations(i);
    const phase = phases[i];
    const at = (kind: KeyKind, key: string, text: string, extra: Partial<KeyEvent> = {}) => out.push({ step: e.step, phase, kind, key: `${kind}|${key}`, text, ...extra });
    switch (e.type) {
      case '@trace.dispatch':
        if (isExternalDispatch(e)) at('dispatch', `${e.owner}|${e.id}`, `external dispatch ${e.id}`, { external: true });
        break;
      case '@trace.io.submit': {
        const external = String(e.origin).startsWith('external');
        at('submit', `${e.node}|${e.id}|${e.op}|${e.origin}`, `submit ${e.id} → ${shortName(e.node)} (${e.op}${external ? ', guest' : ''})`, { request: e.id, external });
        break;
      }
      case '@trace.io.complete':
        at('complete', `${e.node}|${e.id}`, `complete ${e.id} on ${shortName(e.node)}`, { request: e.id, external: String(e.origin).startsWith('external') });
        break;
      case '@trace.drain':
        if (e.phase === 'begin' || e.phase === 'begin.returned' || e.phase === 'end') at('drain', `${e.phase}|${e.node}`, `drained ${e.phase === 'begin' ? 'begin' : e.phase === 'end' ? 'end' : 'begin returns'} ${shortName(e.node)}`);
        break;
      case '@trace.txn':
        if (e.phase !== 'transaction') at('txn', `${e.txn}|${e.phase}|${e.index}|${e.result}`, `${e.phase} ${e.index} ${e.result === 'start' ? 'starts' : e.result}`);
        else at('txn', `${e.txn}|transaction|${e.result}`, `transaction ${e.result === 'start' ? 'starts' : e.result}`);
        break;
      case '@trace.pit':
        at('pit', `${e.action}|${e.node}|${e.kind}`, `point in time: ${e.kind} of ${shortName(e.node)}`);
        break;
      case '@trace.guest':
        at('guest', `${e.phase}|${e.id}`, `guest ${e.op} ${e.id} ${e.phase === 'issue' ? 'issued' : 'completes'}`, { request: e.id, external: true });
        break;
    }
  });
  flushViolations(model.events.length);
  return out;
}

export interface AlignedRow {
  a?: KeyEvent;
  b?: KeyEvent;
  /** Both sides have the event and it happens in the same phase. */
  same: boolean;
}

/**
 * Aligns two key-event lists on their keys (a shortest edit script, Myers' O((N+M)D) diff), so an
 * event only one side has leaves a gap on the other instead of shifting every later row.
 */
export function alignKeyEvents(a: readonly KeyEvent[], b: readonly KeyEvent[]): AlignedRow[] {
  const pairs = diffPairs(
    a.map((e) => e.key),
    b.map((e) => e.key),
  );
  return pairs.map(([i, j]) => {
    const ea = i >= 0 ? a[i] : undefined;
    const eb = j >= 0 ? b[j] : undefined;
    return { ...(ea ? { a: ea } : {}), ...(eb ? { b: eb } : {}), same: !!ea && !!eb && ea.phase === eb.phase };
  });
}

/** Index pairs of an alignment: [i, j] matched, [i, -1] only in a, [-1, j] only in b. */
export function diffPairs(a: readonly string[], b: readonly string[]): [number, number][] {
  const out: [number, number][] = [];
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) {
    out.push([start, start]);
    start++;
  }
  let endA = a.length;
  let endB = b.length;
  const tail: [number, number][] = [];
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
    tail.push([endA, endB]);
  }
  out.push(...myers(a, b, start, endA, start, endB));
  tail.reverse();
  out.push(...tail);
  return out;
}

function myers(a: readonly string[], b: readonly string[], a0: number, a1: number, b0: number, b1: number): [number, number][] {
  const n = a1 - a0;
  const m = b1 - b0;
  if (n === 0 && m === 0) return [];
  const max = n + m;
  const offset = max + 1;
  const v = new Int32Array(2 * max + 3);
  // Only the diagonals -d..d matter at distance d, so each round's copy is small.
  const trace: Int32Array[] = [];
  let found = -1;
  const limit = Math.min(max, MAX_EDIT_DISTANCE);
  for (let d = 0; d <= limit && found < 0; d++) {
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v[offset + k - 1] < v[offset + k + 1]) ? v[offset + k + 1] : v[offset + k - 1] + 1;
      let y = x - k;
      while (x < n && y < m && a[a0 + x] === b[b0 + y]) {
        x++;
        y++;
      }
      v[offset + k] = x;
      if (x >= n && y >= m) {
        found = d;
        break;
      }
    }
    trace.push(v.slice(offset - d - 1, offset + d + 2));
  }
  if (found < 0) return greedy(a, b, a0, a1, b0, b1);
  const get = (d: number, k: number) => trace[d][k + d + 1];
  const rev: [number, number][] = [];
  let x = n;
  let y = m;
  for (let d = found; d > 0; d--) {
    const k = x - y;
    const prevK = k === -d || (k !== d && get(d - 1, k - 1) < get(d - 1, k + 1)) ? k + 1 : k - 1;
    const prevX = get(d - 1, prevK);
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) {
      x--;
      y--;
      rev.push([a0 + x, b0 + y]);
    }
    if (x === prevX) {
      y--;
      rev.push([-1, b0 + y]);
    } else {
      x--;
      rev.push([a0 + x, -1]);
    }
  }
  while (x > 0 && y > 0) {
    x--;
    y--;
    rev.push([a0 + x, b0 + y]);
  }
  return rev.reverse();
}

/** Beyond this many differences the runs have little in common, and Myers' memory (D²) is not worth it. */
const MAX_EDIT_DISTANCE = 3000;

/** A cheap alignment for runs that share little: match equal keys in a short look-ahead, else emit both. */
function greedy(a: readonly string[], b: readonly string[], a0: number, a1: number, b0: number, b1: number): [number, number][] {
  const out: [number, number][] = [];
  let i = a0;
  let j = b0;
  while (i < a1 || j < b1) {
    if (i < a1 && j < b1 && a[i] === b[j]) out.push([i++, j++]);
    else if (j < b1 && (i >= a1 || b.slice(j, Math.min(b1, j + 50)).indexOf(a[i]) >= 0)) out.push([-1, j++]);
    else out.push([i++, -1]);
  }
  return out;
}

/** The first row where the runs tell a different story: a gap on one side, or the same event in another phase. */
export function firstDivergence(rows: readonly AlignedRow[]): number {
  return rows.findIndex((r) => !r.same);
}

export interface Comparison {
  a: KeyEvent[];
  b: KeyEvent[];
  rows: AlignedRow[];
  divergence: number;
}

export function compareTraces(a: TraceModel, b: TraceModel): Comparison {
  const ka = keyEvents(a);
  const kb = keyEvents(b);
  const rows = alignKeyEvents(ka, kb);
  return { a: ka, b: kb, rows, divergence: firstDivergence(rows) };
}

/** `row 12: a step 90 (prepare 0) "drained begin drive0", b has no such event`. */
export function describeDivergence(c: Comparison, labels: { a: string; b: string } = { a: 'a', b: 'b' }): string {
  if (c.divergence < 0) return 'The two runs tell the same story: every key event matches, in the same transaction phase.';
  const r = c.rows[c.divergence];
  const side = (e: KeyEvent | undefined, label: string) => (e ? `${label} at step ${e.step} (${e.phase}): ${e.text}` : `${label}: no such event`);
  return `First difference at row ${c.divergence}: ${side(r.a, labels.a)}; ${side(r.b, labels.b)}.`;
}

/** For each guest write, the phase it was first submitted in on each side: the headline of a drain comparison. */
export interface WriteSummary {
  request: string;
  a?: KeyEvent;
  b?: KeyEvent;
}

export function guestWriteSummary(c: Comparison): WriteSummary[] {
  const firsts = (list: KeyEvent[]) => {
    const m = new Map<string, KeyEvent>();
    for (const e of list) if (e.kind === 'submit' && e.external && e.request && !m.has(e.request)) m.set(e.request, e);
    return m;
  };
  const fa = firsts(c.a);
  const fb = firsts(c.b);
  const ids = [...new Set([...fa.keys(), ...fb.keys()])];
  return ids.map((request) => ({ request, ...(fa.get(request) ? { a: fa.get(request) } : {}), ...(fb.get(request) ? { b: fb.get(request) } : {}) }));
}
