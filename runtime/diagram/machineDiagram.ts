/**
 * A machine's statechart as a Mermaid `stateDiagram-v2`, from the same StatechartNode tree the
 * trace carries (describeMachine): nested states as composite states, parallel regions split by
 * `--`, events and guards on the arrows, the QEMU functions a state's description cites as notes.
 * The output depends only on the machine, so the same machine gives the same bytes.
 */
import type { StatechartNode, StatechartTransition } from '../trace/TraceFile.ts';

export interface MachineDiagramOptions {
  /** Notes with the QEMU functions and files each state's description names (default true). */
  notes?: boolean;
  /** Arrow direction (default TB). */
  direction?: 'TB' | 'LR';
}

/** Mermaid ids are global to a diagram: a state's id is its whole path, made safe. */
export function stateId(machine: string, path: string): string {
  return `${safe(machine)}${path ? `__${path.split('.').map(safe).join('__')}` : ''}`;
}

function safe(part: string): string {
  return part.replace(/[^A-Za-z0-9]/g, '_');
}

/** Text Mermaid reads as a label: no line breaks, no characters that end a statement or open a block. */
export function labelText(text: string): string {
  return text.replace(/[\r\n]+/g, ' ').replace(/[;#{}"<>]/g, (c) => ({ ';': ',', '#': 'no. ', '{': '(', '}': ')', '"': "'", '<': '‹', '>': '›' })[c] ?? c).trim();
}

/** QEMU names a description cites: functions (`bdrv_drained_begin`, `aio_poll`) and source files (`block/io.c`). */
export function citedQemuNames(description: string | undefined): string[] {
  if (!description) return [];
  const found = new Set<string>();
  for (const m of description.matchAll(/\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b|\b[a-z-]+\/[a-z0-9_/-]+\.[ch]\b/g)) found.add(m[0]);
  return [...found];
}

export function machineDiagram(machine: string, root: StatechartNode, options: MachineDiagramOptions = {}): string {
  const out: string[] = ['stateDiagram-v2'];
  if (options.direction === 'LR') out.push('  direction LR');
  const notes: string[] = [];
  const wantNotes = options.notes !== false;
  // The root is drawn as a composite named after the machine, so parallel roots have somewhere to put `--`.
  writeState(root, machine, 1, out, notes, wantNotes, true);
  out.push('  [*] --> ' + stateId(machine, ''));
  out.push(...notes);
  return out.join('\n') + '\n';
}

function writeState(node: StatechartNode, machine: string, depth: number, out: string[], notes: string[], wantNotes: boolean, isRoot = false): void {
  const pad = '  '.repeat(depth);
  const id = stateId(machine, node.path);
  const label = labelText(isRoot ? machine : node.key);
  if (node.children.length === 0) {
    out.push(`${pad}state "${label}" as ${id}`);
  } else {
    out.push(`${pad}state "${label}" as ${id} {`);
    if (node.type === 'parallel') {
      node.children.forEach((region, i) => {
        if (i > 0) out.push(`${pad}  --`);
        writeState(region, machine, depth + 1, out, notes, wantNotes);
      });
    } else {
      for (const child of node.children) writeState(child, machine, depth + 1, out, notes, wantNotes);
      if (node.initial) out.push(`${pad}  [*] --> ${stateId(machine, node.path ? `${node.path}.${node.initial}` : node.initial)}`);
      for (const child of node.children) for (const line of arrows(child, machine)) out.push(`${pad}  ${line}`);
      if (node.selectedBy) out.push(`${pad}  %% ${labelText(node.key)}: the state follows the context (guard ${labelText(node.selectedBy)}); any state may follow any other`);
    }
    out.push(`${pad}}`);
  }
  if (!wantNotes) return;
  const lines = noteLines(node);
  if (lines.length === 0) return;
  // Notes go at the top level: Mermaid does not take a note inside a composite state.
  notes.push(`  note right of ${id}`);
  for (const line of lines) notes.push(`    ${line}`);
  notes.push('  end note');
}

/** The arrows out of a state, one per target: the events and guards that lead there share it. */
function arrows(node: StatechartNode, machine: string): string[] {
  const labels = new Map<string, string[]>();
  for (const t of node.transitions) {
    for (const target of t.targets) {
      const list = labels.get(target) ?? [];
      const label = arrowLabel(t);
      if (!list.includes(label)) list.push(label);
      labels.set(target, list);
    }
  }
  return [...labels].map(([target, list]) => {
    const label = list.filter(Boolean).join(', ');
    return `${stateId(machine, node.path)} --> ${stateId(machine, target)}${label ? ` : ${label}` : ''}`;
  });
}

function arrowLabel(t: StatechartTransition): string {
  const guard = t.guard ? `[${labelText(t.guard)}]` : '';
  return labelText([t.event, guard].filter(Boolean).join(' '));
}

function noteLines(node: StatechartNode): string[] {
  const lines: string[] = [];
  const cited = citedQemuNames(node.description);
  if (cited.length) lines.push(labelText(`QEMU: ${cited.join(', ')}`));
  const handled = [...new Set(node.transitions.filter((t) => t.targets.length === 0 && t.event !== '').map((t) => t.event))];
  if (handled.length) lines.push(...wrapList(`handles without leaving: ${handled.map(labelText).join(', ')}`, 72));
  if (node.selectedBy) lines.push(labelText(`state picked by ${node.selectedBy} from the context`));
  return lines;
}

function wrapList(text: string, width: number): string[] {
  const words = text.split(' ');
  const lines: string[] = [];
  let line = '';
  for (const word of words) {
    if (line && line.length + word.length + 1 > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}
