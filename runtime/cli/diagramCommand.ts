/**
 * `drainlab diagram`: Mermaid text (or SVG rendered by Mermaid) of a machine's statechart or of a
 * run's sequence of messages. Diagrams read the same things the viewer reads: machines through
 * their StatechartNode tree, runs through their trace file's lines.
 */
import { closeSync, writeSync } from 'node:fs';
import { openForWriting } from '../trace/NdjsonWriter.ts';
import type { AnyStateMachine } from 'xstate';
import * as machines from '../../machines/index.ts';
import { machineDiagram } from '../diagram/machineDiagram.ts';
import { renderMermaidSvgs } from '../diagram/renderSvg.ts';
import { DIAGRAM_KINDS, traceDiagram, type DiagramKind } from '../diagram/traceDiagram.ts';
import { ScenarioError } from '../errors.ts';
import { describeMachine, type TraceLine } from '../trace/TraceFile.ts';
import { traceLinesOf } from '../viewer/openView.ts';
import type { Output } from './scenarioCommands.ts';

/** Every machine of the model by its id, in the order of `machines/index.ts`. */
export function machineTable(): Map<string, AnyStateMachine> {
  const table = new Map<string, AnyStateMachine>();
  for (const [name, value] of Object.entries(machines)) {
    if (name.endsWith('Machine') && value && typeof value === 'object' && 'root' in value) table.set((value as AnyStateMachine).id, value as AnyStateMachine);
  }
  return table;
}

export interface DiagramMachineOptions {
  name?: string;
  all?: boolean;
  format?: 'mermaid' | 'svg';
  out?: string;
}

export async function diagramMachineCommand(options: DiagramMachineOptions, io: Output): Promise<number> {
  checkOut(options.out);
  const table = machineTable();
  const wanted = options.all ? [...table.keys()] : [resolveMachine(options.name, table)];
  const texts = wanted.map((id) => machineDiagram(id, describeMachine(table.get(id)!)));
  return emit(texts, wanted, options, io);
}

export interface DiagramTraceOptions {
  input: string;
  seed?: number;
  focus?: string[];
  only?: DiagramKind[];
  all?: boolean;
  format?: 'mermaid' | 'svg';
  out?: string;
}

export async function diagramTraceCommand(options: DiagramTraceOptions, io: Output): Promise<number> {
  checkOut(options.out);
  const lines = traceLinesOf(options.input, { seed: options.seed });
  if (options.focus) checkFocus(options.focus, lines);
  const text = traceDiagram(lines, { focus: options.focus, only: options.only, all: options.all });
  return emit([text], [options.input], options, io);
}

async function emit(texts: string[], names: string[], options: { format?: 'mermaid' | 'svg'; out?: string }, io: Output): Promise<number> {
  const rendered = options.format === 'svg' ? await renderMermaidSvgs(texts) : texts;
  // Several diagrams in one text stream are told apart by a Mermaid comment line each.
  const body =
    rendered.length === 1
      ? rendered[0]
      : rendered.map((t, i) => (options.format === 'svg' ? `<!-- ${names[i]} -->\n${t}\n` : `%% ${names[i]}\n${t}`)).join(options.format === 'svg' ? '' : '\n');
  if (options.out) {
    const fd = openForWriting(options.out, 'diagram');
    try {
      writeSync(fd, body.endsWith('\n') ? body : body + '\n');
    } finally {
      closeSync(fd);
    }
    io.out(`wrote ${options.out}`);
  } else io.out(body.replace(/\n$/, ''));
  return 0;
}

function resolveMachine(name: string | undefined, table: Map<string, AnyStateMachine>): string {
  const known = [...table.keys()];
  if (name === undefined) throw new ScenarioError(`diagram machine: expected a machine name or --all; machines: ${known.join(', ')}`);
  if (table.has(name)) return name;
  // Actor kinds and file names name machines too: block-node, blockNodeMachine.
  const squashed = name.replace(/Machine$/, '').replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
  if (table.has(squashed)) return squashed;
  throw new ScenarioError(`diagram machine: no machine named '${name}'; machines: ${known.join(', ')}`);
}

function checkFocus(focus: string[], lines: readonly TraceLine[]): void {
  const actors = new Set(lines.filter((l) => l.type === '@trace.actor').map((l) => (l as { actor: string }).actor));
  if (actors.size === 0) return;
  const unknown = focus.filter((a) => !actors.has(a));
  if (unknown.length) throw new ScenarioError(`--focus: no actor named ${unknown.map((a) => `'${a}'`).join(', ')} in this run; its actors: ${[...actors].join(', ')}`);
}

export function parseOnly(raw: string): DiagramKind[] {
  const kinds = raw.split(',').map((k) => k.trim()).filter(Boolean);
  const bad = kinds.filter((k) => !(DIAGRAM_KINDS as readonly string[]).includes(k));
  if (kinds.length === 0 || bad.length) throw new ScenarioError(`--only: '${raw}' is not a list of kinds; expected some of ${DIAGRAM_KINDS.join(',')}, e.g. --only drains,submit`);
  return kinds as DiagramKind[];
}

/** A path that cannot be written is said before the diagram is made (a trace diagram runs its scenario first). */
function checkOut(path: string | undefined): void {
  if (path !== undefined) closeSync(openForWriting(path, 'diagram'));
}
