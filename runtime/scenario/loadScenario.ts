/**
 * Scenario files: YAML in, a checked scenario out, or every problem at once as
 * `file:line:col: message`. Nothing runs until the whole file is valid.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import type { Topology, TriggerSpec } from '../../actors/topology.ts';
import { ScenarioError } from '../errors.ts';
import { CheckContext, type Problem } from './schema.ts';
import { scenarioSchema, type ScenarioFile } from './scenarioSchema.ts';

export interface Scenario {
  name: string;
  file: string;
  /** How the user named it (a library name or a path): replay lines use it. */
  ref?: string;
  title: string;
  description: string;
  seed: number;
  strategy: 'fifo' | 'random';
  topology: Topology;
  expect: NonNullable<ScenarioFile['expect']>;
}

/** A scenario file's problems, each `file:line:col: message`, sorted by position. */
export class ScenarioProblems extends ScenarioError {
  constructor(
    readonly file: string,
    readonly problems: Problem[],
  ) {
    super(problems.map((p) => `${file}:${p.line}:${p.col}: ${p.message}`).join('\n'));
  }
}

export function loadScenarioFile(file: string): Scenario {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ScenarioError(`${file}: cannot read the scenario file (${code === 'ENOENT' ? 'no such file' : code ?? String(error)})`);
  }
  return parseScenario(text, file);
}

export function parseScenario(text: string, file: string): Scenario {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const cx = new CheckContext(lines);
  if (doc.errors.length > 0) {
    for (const error of doc.errors) {
      const { line, col } = lines.linePos(error.pos[0]);
      cx.problems.push({ line, col, path: '', message: `YAML: ${error.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}` });
    }
    throw new ScenarioProblems(file, cx.problems);
  }
  const checked = scenarioSchema.check(doc.contents as never, '', cx, 0);
  if (checked) checkReferences(checked, cx);
  if (cx.problems.length > 0 || !checked) throw new ScenarioProblems(file, sortProblems(dedupe(cx.problems)));
  return {
    name: basename(file).replace(/\.ya?ml$/, ''),
    file,
    title: checked.title,
    description: checked.description,
    seed: checked.seed ?? 0,
    strategy: (checked.strategy as 'fifo' | 'random' | undefined) ?? 'fifo',
    topology: toTopology(checked),
    expect: checked.expect ?? {},
  };
}

function dedupe(problems: Problem[]): Problem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.line}:${p.col}:${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function sortProblems(problems: Problem[]): Problem[] {
  return [...problems].sort((a, b) => a.line - b.line || a.col - b.col);
}

/** The checks a schema cannot make: names that must exist, ids that must be unique, no cycles. */
function checkReferences(file: ScenarioFile, cx: CheckContext): void {
  // The value may be partial (parts that failed the schema are missing): read it defensively.
  const s = { ...file, nodes: file.nodes ?? [] };
  const contexts = new Set(['main', ...(s.contexts ?? [])]);
  const nodes = new Map(s.nodes.filter((n) => n.name !== undefined).map((n) => [n.name, n]));
  const unique = (values: (string | undefined)[], what: string, pathOf: (i: number) => string) => {
    const seen = new Map<string, number>();
    values.forEach((v, i) => {
      if (v === undefined) return;
      if (seen.has(v)) cx.reportAt(pathOf(i), `${pathOf(i)}: ${what} '${v}' is already defined (${pathOf(seen.get(v)!)})`);
      else seen.set(v, i);
    });
  };
  unique(s.contexts ?? [], 'context', (i) => `contexts[${i}]`);
  unique(s.nodes.map((n) => n.name), 'node', (i) => `nodes[${i}].name`);
  unique((s.clients ?? []).map((c) => c.name), 'client', (i) => `clients[${i}].name`);
  unique((s.transactions ?? []).map((x) => x.name), 'transaction', (i) => `transactions[${i}].name`);

  const nodeRef = (value: string | undefined, path: string) => {
    if (value !== undefined && !nodes.has(value)) cx.reportAt(path, `${path}: no node named '${value}'; nodes are ${[...nodes.keys()].join(', ')}`);
  };
  s.nodes.forEach((n, i) => {
    if (n.ctx !== undefined && !contexts.has(n.ctx)) cx.reportAt(`nodes[${i}].ctx`, `nodes[${i}].ctx: no context named '${n.ctx}'; contexts are ${[...contexts].join(', ')}`);
    nodeRef(n.file, `nodes[${i}].file`);
    nodeRef(n.backing, `nodes[${i}].backing`);
  });
  // A child cycle would make drains recurse forever.
  s.nodes.forEach((n, i) => {
    const seen = new Set<string>([n.name]);
    let frontier = [n.file, n.backing].filter((c): c is string => c !== undefined);
    while (frontier.length > 0) {
      if (frontier.includes(n.name)) {
        cx.reportAt(`nodes[${i}].name`, `nodes[${i}]: node '${n.name}' is its own descendant (child cycle through file/backing)`);
        return;
      }
      const next: string[] = [];
      for (const c of frontier) {
        if (seen.has(c)) continue;
        seen.add(c);
        const child = nodes.get(c);
        if (child) next.push(...[child.file, child.backing].filter((x): x is string => x !== undefined));
      }
      frontier = next;
    }
  });

  const requestIds = new Map<string, string>();
  (s.clients ?? []).forEach((c, i) => {
    nodeRef(c.node, `clients[${i}].node`);
    (c.requests ?? []).forEach((r, j) => {
      const path = `clients[${i}].requests[${j}].id`;
      if (r.id === undefined) return;
      if (requestIds.has(r.id)) cx.reportAt(path, `${path}: request '${r.id}' is already defined (${requestIds.get(r.id)})`);
      else requestIds.set(r.id, path);
    });
  });
  (s.clients ?? []).forEach((c, i) =>
    (c.requests ?? []).forEach((r, j) =>
      (r.after ?? []).forEach((dep, k) => {
        const path = `clients[${i}].requests[${j}].after[${k}]`;
        if (!requestIds.has(dep)) cx.reportAt(path, `${path}: '${r.id}' depends on request '${dep}', which no client issues`);
        else if (dep === r.id) cx.reportAt(path, `${path}: '${r.id}' depends on itself`);
      }),
    ),
  );

  const txns = new Set((s.transactions ?? []).map((x) => x.name));
  const actionCount = new Map((s.transactions ?? []).map((x) => [x.name, (x.actions ?? []).length]));
  const checkTrigger = (when: { completed?: string; txn?: string; phase?: string; index?: number } | undefined, path: string) => {
    if (!when) return;
    const waitsForRequest = when.completed !== undefined;
    const waitsForPhase = when.txn !== undefined || when.phase !== undefined || when.index !== undefined;
    if (waitsForRequest === waitsForPhase) {
      cx.reportAt(path, `${path}: expected either { completed: REQUEST } or { txn: NAME, phase: PHASE, index?: N }`);
      return;
    }
    if (waitsForRequest && !requestIds.has(when.completed!)) cx.reportAt(`${path}.completed`, `${path}.completed: no client issues a request '${when.completed}'`);
    if (waitsForPhase) {
      if (when.txn === undefined || when.phase === undefined) cx.reportAt(path, `${path}: a phase condition needs both txn and phase`);
      else if (!txns.has(when.txn)) cx.reportAt(`${path}.txn`, `${path}.txn: no transaction named '${when.txn}'`);
      else if (when.index !== undefined && when.index >= (actionCount.get(when.txn) ?? 0)) cx.reportAt(`${path}.index`, `${path}.index: transaction '${when.txn}' has ${actionCount.get(when.txn)} action(s), no action ${when.index}`);
    }
  };
  (s.clients ?? []).forEach((c, i) => (c.requests ?? []).forEach((r, j) => checkTrigger(r.when, `clients[${i}].requests[${j}].when`)));
  (s.script ?? []).forEach((step, i) => checkTrigger((step as { when?: never }).when, `script[${i}].when`));
  (s.script ?? []).forEach((step, i) => {
    const st = step as { do: string; node?: string; ctx?: string; txn?: string };
    if (st.node !== undefined) nodeRef(st.node, `script[${i}].node`);
    if (st.ctx !== undefined && !contexts.has(st.ctx)) cx.reportAt(`script[${i}].ctx`, `script[${i}].ctx: no context named '${st.ctx}'; contexts are ${[...contexts].join(', ')}`);
    if (st.txn !== undefined && !txns.has(st.txn)) cx.reportAt(`script[${i}].txn`, `script[${i}].txn: no transaction named '${st.txn}'`);
  });
}

function toTopology(s: ScenarioFile): Topology {
  return {
    contexts: (s.contexts ?? []).map((name) => ({ name })),
    nodes: s.nodes.map((n) => ({
      name: n.name,
      driver: n.driver as Topology['nodes'][number]['driver'],
      ctx: n.ctx ?? 'main',
      ...(n.file ? { file: n.file } : {}),
      ...(n.backing ? { backing: n.backing } : {}),
      ...(n.medium !== undefined ? { medium: n.medium } : {}),
      ...(n.readOnly !== undefined ? { readOnly: n.readOnly } : {}),
      ...(n.snapshots ? { snapshots: n.snapshots } : {}),
      ...(n.timers ? { timers: n.timers as never } : {}),
    })),
    clients: (s.clients ?? []).map((c) => ({
      name: c.name,
      kind: c.kind as 'nbd' | 'virtio-blk' | 'virtio-scsi',
      node: c.node,
      workload: (c.requests ?? []).map((r) => ({
        id: r.id,
        op: r.op as 'read' | 'write' | 'flush',
        after: r.after ?? [],
        ...(r.at !== undefined ? { at: r.at } : {}),
        ...(r.when ? { when: r.when as TriggerSpec } : {}),
      })),
    })),
    transactions: (s.transactions ?? []).map((x) => ({ name: x.name, actions: x.actions as never })),
    script: (s.script ?? []) as never,
    era: (s.era as '2015' | 'now' | undefined) ?? '2015',
    protections: s.protections ?? {},
    ...(s.hostLatency ? { hostLatency: s.hostLatency } : {}),
    ...(s.backupChunks ? { backupChunks: s.backupChunks } : {}),
  };
}
