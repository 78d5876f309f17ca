/**
 * Scenario files: YAML in, a checked scenario out, or every problem at once as
 * `file:line:col: message`. Nothing runs until the whole file is valid.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { LineCounter, parseDocument, type YAMLError } from 'yaml';
import type { DispatchOrder, Topology, TriggerSpec } from '../../actors/topology.ts';
import type { Era } from '../../machines/transactionMachine.ts';
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
  /** The expectations for the era the scenario runs in (`expect` with that era's `eraExpect` over it). */
  expect: Expectations;
  /** The file's `expect` and `eraExpect`, for resolving again in another era. */
  baseExpect?: Expectations;
  eraExpect?: Partial<Record<Era, Expectations>>;
  /** The era `--era` chose over the file's (the topology already has it); replay lines repeat it. */
  eraOverride?: Era;
  /** With `eraOverride`: the era the file itself says. */
  fileEra?: Era;
}

export type Expectations = NonNullable<ScenarioFile['expect']>;

/** `expect` for a run in `era`: each field the era's `eraExpect` gives replaces the same field. */
export function expectationsFor(base: Expectations, byEra: Partial<Record<Era, Expectations>> | undefined, era: Era): Expectations {
  const over = byEra?.[era];
  return over ? { ...base, ...over } : base;
}

/** The scenario in another era: its topology's `era` replaced, and the choice remembered for replay lines. */
export function withEra(scenario: Scenario, era: Era): Scenario {
  const expect = expectationsFor(scenario.baseExpect ?? scenario.expect, scenario.eraExpect, era);
  return { ...scenario, expect, topology: { ...scenario.topology, era }, eraOverride: era, fileEra: scenario.fileEra ?? scenario.topology.era ?? '2015' };
}

/** The command that reruns one interleaving of the scenario (with `--era` when it overrode the file). */
export function replayCommandLine(scenario: Scenario, path: string): string {
  return `drainlab replay ${scenario.ref ?? scenario.file}@${path || '0'}${scenario.eraOverride ? ` --era ${scenario.eraOverride}` : ''}`;
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

/** Deeper than any scenario needs, well short of what the YAML parser's recursion can take. */
export const MAX_NESTING = 64;

export function parseScenario(text: string, file: string): Scenario {
  const binary = firstNonText(text);
  if (binary >= 0) throw new ScenarioError(`${file}: not a text file (a control byte at offset ${binary}); expected a YAML scenario`);
  const deep = tooDeep(text);
  if (deep) throw new ScenarioError(`${file}:${deep.line}:${deep.col}: nested more than ${MAX_NESTING} levels deep; a scenario needs a few (see scenarios/library)`);
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const cx = new CheckContext(lines);
  // What the count before parsing missed (brackets after a quote it took for a string) still ends here, in the user's terms.
  const overflow = doc.errors.find((e) => /Maximum call stack/.test(e.message));
  if (overflow) {
    const { line, col } = lines.linePos(overflow.pos[0]);
    throw new ScenarioError(`${file}:${line}:${col}: nested too deep for the YAML parser; a scenario needs a few levels (see scenarios/library)`);
  }
  if (doc.errors.length > 0) throw new ScenarioProblems(file, sortProblems(dedupe(yamlProblems(text, doc.errors, lines))));
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
    expect: expectationsFor(checked.expect ?? {}, checked.eraExpect, (checked.era as Era | undefined) ?? '2015'),
    ...(checked.eraExpect ? { baseExpect: checked.expect ?? {}, eraExpect: checked.eraExpect } : {}),
  };
}

/**
 * The YAML parser's errors in a user's words, at the place to fix: one message where the
 * parser gives two for one mistake, the opening quote rather than the end of the file.
 */
function yamlProblems(text: string, errors: readonly YAMLError[], lines: LineCounter): Problem[] {
  const problems: Problem[] = [];
  const at = (offset: number) => lines.linePos(offset);
  const firstColumnOf = (line: number) => {
    const content = text.split('\n')[line - 1] ?? '';
    return content.length - content.trimStart().length + 1;
  };
  const implicit = new Set(['BLOCK_AS_IMPLICIT_KEY', 'MULTILINE_IMPLICIT_KEY']);
  let indentationReported = false;
  for (const error of errors) {
    const start = at(error.pos[0]);
    if (implicit.has(error.code)) {
      // A key indented deeper than its siblings: the parser blames the line above it.
      if (indentationReported) continue;
      indentationReported = true;
      const line = Math.min(start.line + 1, lines.lineStarts.length);
      problems.push({ line, col: firstColumnOf(line), path: '', message: 'YAML: bad indentation: keys of the same mapping must start in the same column' });
    } else if (error.code === 'MULTIPLE_DOCS') {
      problems.push({ ...start, path: '', message: 'YAML: a scenario file holds one document; a second one starts here' });
    } else if (error.code === 'MISSING_CHAR' && /quote/.test(error.message)) {
      problems.push({ ...openingQuote(text, error.pos[0], lines), path: '', message: 'YAML: Missing closing "quote' });
    } else if (error.code === 'DUPLICATE_KEY') {
      const key = /^[^:\s]+/.exec(text.slice(error.pos[0]))?.[0] ?? '?';
      problems.push({ ...start, path: '', message: `YAML: key '${key}' appears twice in the same mapping` });
    } else {
      problems.push({ ...start, path: '', message: `YAML: ${error.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}` });
    }
  }
  return problems;
}

/** The last line before `offset` with an odd number of double quotes: where the quote was opened. */
function openingQuote(text: string, offset: number, lines: LineCounter): { line: number; col: number } {
  const upTo = text.slice(0, offset).split('\n');
  for (let i = upTo.length - 1; i >= 0; i--) {
    const quotes = [...upTo[i].matchAll(/(?<!\\)"/g)];
    if (quotes.length % 2 === 1) return { line: i + 1, col: quotes[quotes.length - 1].index! + 1 };
  }
  return lines.linePos(offset);
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
  // A list that failed the schema cannot be checked against: its references are not reported.
  const failed = (path: string) => cx.problems.some((p) => p.path === path);
  const nodesKnown = !failed('nodes');
  const contextsKnown = !failed('contexts');
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

  const known = (names: Iterable<string>, what: string) => {
    const list = [...names];
    return list.length ? `${what} are ${list.join(', ')}` : `there are no ${what}`;
  };
  const nodeRef = (value: string | undefined, path: string) => {
    if (nodesKnown && value !== undefined && !nodes.has(value)) cx.reportAt(path, `${path}: no node named '${value}'; ${known(nodes.keys(), 'nodes')}`);
  };
  const ctxRef = (value: string | undefined, path: string) => {
    if (contextsKnown && value !== undefined && !contexts.has(value)) cx.reportAt(path, `${path}: no context named '${value}'; ${known(contexts, 'contexts')}`);
  };
  s.nodes.forEach((n, i) => {
    ctxRef(n.ctx, `nodes[${i}].ctx`);
    nodeRef(n.file, `nodes[${i}].file`);
    nodeRef(n.backing, `nodes[${i}].backing`);
  });
  // A child cycle would make drains recurse forever; each cycle is reported once, at its first node.
  const inReportedCycle = new Set<string>();
  s.nodes.forEach((n, i) => {
    if (n.name === undefined || inReportedCycle.has(n.name)) return;
    const seen = new Set<string>([n.name]);
    let frontier = [n.file, n.backing].filter((c): c is string => c !== undefined);
    while (frontier.length > 0) {
      if (frontier.includes(n.name)) {
        cx.reportAt(`nodes[${i}].name`, `nodes[${i}]: node '${n.name}' is its own descendant (child cycle through file/backing)`);
        for (const member of seen) inReportedCycle.add(member);
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

  // A SCSI bus is a virtio-scsi HBA: only virtio-scsi disks sit on one, and its virtqueues are
  // served by one IOThread, so every disk on it must be on a node of that context.
  const busFirst = new Map<string, { index: number; ctx: string | undefined }>();
  (s.clients ?? []).forEach((c, i) => {
    if (c.bus === undefined) return;
    const path = `clients[${i}].bus`;
    if (c.kind !== undefined && c.kind !== 'virtio-scsi') {
      cx.reportAt(path, `${path}: only a virtio-scsi disk sits on a SCSI bus; '${c.name}' is ${c.kind} (drop 'bus', or make it kind: virtio-scsi)`);
      return;
    }
    const ctx = c.node !== undefined && nodes.has(c.node) ? (nodes.get(c.node)!.ctx ?? 'main') : undefined;
    const first = busFirst.get(c.bus);
    if (!first) busFirst.set(c.bus, { index: i, ctx });
    else if (first.ctx !== undefined && ctx !== undefined && first.ctx !== ctx) {
      const other = s.clients![first.index];
      cx.reportAt(
        path,
        `${path}: bus '${c.bus}' is one virtio-scsi HBA, served by one IOThread: '${other.name}' (clients[${first.index}]) is on node '${other.node}' in context '${first.ctx}', but '${c.name}' is on node '${c.node}' in context '${ctx}'`,
      );
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
  // Requests go out in list order per client, each after its dependencies: a request waiting
  // for a later one of its own client, or a cycle through other clients, never goes out.
  const position = new Map<string, { client: number; index: number }>();
  (s.clients ?? []).forEach((c, i) => (c.requests ?? []).forEach((r, j) => r.id !== undefined && position.set(r.id, { client: i, index: j })));
  const waitsFor = (id: string): string[] => {
    const at = position.get(id);
    if (!at) return [];
    const r = s.clients![at.client].requests![at.index];
    const previous = at.index > 0 ? [s.clients![at.client].requests![at.index - 1]?.id].filter((x): x is string => x !== undefined) : [];
    return [...(r.after ?? []), ...previous];
  };
  /** The requests on a path from `from` back to `target`, or null when there is none. */
  const cycleThrough = (from: string, target: string): Set<string> | null => {
    const parent = new Map<string, string | null>([[from, null]]);
    const queue = [from];
    while (queue.length) {
      const id = queue.shift()!;
      if (id === target) {
        const members = new Set<string>([target]);
        for (let at: string | null | undefined = id; at; at = parent.get(at)) members.add(at);
        return members;
      }
      for (const next of waitsFor(id)) if (!parent.has(next)) (parent.set(next, id), queue.push(next));
    }
    return null;
  };
  const inReportedDependencyCycle = new Set<string>();
  (s.clients ?? []).forEach((c, i) =>
    (c.requests ?? []).forEach((r, j) =>
      (r.after ?? []).forEach((dep, k) => {
        const path = `clients[${i}].requests[${j}].after[${k}]`;
        const depAt = position.get(dep);
        if (!requestIds.has(dep)) cx.reportAt(path, `${path}: '${r.id}' depends on request '${dep}', which no client issues`);
        else if (dep === r.id) cx.reportAt(path, `${path}: '${r.id}' depends on itself`);
        else if (depAt && depAt.client === i && depAt.index > j) cx.reportAt(path, `${path}: '${r.id}' waits for '${dep}', which its client issues later (requests go out in list order)`);
        else if (!inReportedDependencyCycle.has(r.id)) {
          const cycle = cycleThrough(dep, r.id);
          if (cycle) {
            // One message per cycle, at its first request in the file.
            for (const id of cycle) inReportedDependencyCycle.add(id);
            cx.reportAt(path, `${path}: '${r.id}' depends on itself through '${dep}' (a dependency cycle)`);
          }
        }
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
      else if (!txns.has(when.txn)) cx.reportAt(`${path}.txn`, `${path}.txn: no transaction named '${when.txn}'; ${known(txns, 'transactions')}`);
      else if (when.index !== undefined && when.index >= (actionCount.get(when.txn) ?? 0)) cx.reportAt(`${path}.index`, `${path}.index: transaction '${when.txn}' has ${actionCount.get(when.txn)} action(s), no action ${when.index}`);
    }
  };
  (s.clients ?? []).forEach((c, i) => (c.requests ?? []).forEach((r, j) => checkTrigger(r.when, `clients[${i}].requests[${j}].when`)));
  (s.script ?? []).forEach((step, i) => checkTrigger((step as { when?: never }).when, `script[${i}].when`));
  (s.script ?? []).forEach((step, i) => {
    const st = step as { do: string; node?: string; ctx?: string; txn?: string };
    if (st.node !== undefined) nodeRef(st.node, `script[${i}].node`);
    ctxRef(st.ctx, `script[${i}].ctx`);
    if (st.txn !== undefined && !txns.has(st.txn)) cx.reportAt(`script[${i}].txn`, `script[${i}].txn: no transaction named '${st.txn}'; ${known(txns, 'transactions')}`);
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
      ...(c.bus !== undefined ? { bus: c.bus } : {}),
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
    ...(s.dispatchOrder ? { dispatchOrder: s.dispatchOrder as DispatchOrder } : {}),
    protections: s.protections ?? {},
    ...(s.hostLatency ? { hostLatency: s.hostLatency } : {}),
    ...(s.backupChunks ? { backupChunks: s.backupChunks } : {}),
  };
}

/** The offset of the first byte no text file has (NUL and other C0 controls but tab, newline, return; or an invalid UTF-8 sequence), or -1. */
function firstNonText(text: string): number {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) || c === 0xfffd) return Buffer.byteLength(text.slice(0, i));
  }
  return -1;
}

/**
 * Where flow brackets or indentation first go deeper than MAX_NESTING, counted on the text
 * before parsing: the parser recurses per level and would run out of stack first.
 */
function tooDeep(text: string): { line: number; col: number } | null {
  let depth = 0;
  let line = 1;
  let col = 0;
  let quote: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    col++;
    if (c === '\n') {
      line++;
      col = 0;
      continue;
    }
    if (quote) {
      if (c === quote) quote = null;
      continue;
    }
    if ((c === '"' || c === "'") && (i === 0 || /[\s[{,:]/.test(text[i - 1]))) quote = c;
    else if (c === '#') while (i + 1 < text.length && text[i + 1] !== '\n') i++;
    else if (c === '[' || c === '{') {
      if (++depth > MAX_NESTING) return { line, col };
    } else if (c === ']' || c === '}') depth = Math.max(0, depth - 1);
  }
  const indented = text.split('\n').findIndex((l) => /^ */.exec(l)![0].length > MAX_NESTING * 2 && l.trim() !== '');
  return indented >= 0 ? { line: indented + 1, col: MAX_NESTING * 2 + 1 } : null;
}
