/**
 * Statechart layout with elkjs, once per machine (every actor of a machine shares it).
 *
 * Compound states are laid out by ELK's layered algorithm with INCLUDE_CHILDREN, so transitions
 * cross container borders. Two shapes ELK draws badly are laid out here instead:
 * - parallel states: their regions side by side (regions never share edges);
 * - "mesh" states, whose children all reach each other through the same guarded `always`
 *   transitions (the transaction machines): a grid, with one note instead of n² arrows.
 */
import ELK from 'elkjs/lib/elk.bundled.js';
import type { ElkExtendedEdge, ElkNode } from 'elkjs/lib/elk-api';
import type { StatechartNode } from './traceModel.ts';

export interface Point {
  x: number;
  y: number;
}

export interface StateBox {
  path: string;
  key: string;
  type: StatechartNode['type'];
  description?: string;
  x: number;
  y: number;
  w: number;
  h: number;
  /** The parent is parallel: this is one of its regions. */
  region: boolean;
  /** Transitions that change no state (actions only), shown as a badge and in the tooltip. */
  internal: string[];
  /** The note a mesh state shows in place of its arrows. */
  note: string[];
  /** Outgoing transitions, for the tooltip. */
  outgoing: string[];
}

export interface EdgeGeom {
  from: string;
  to: string;
  points: Point[];
  label: string[];
  labelBox?: { x: number; y: number; w: number; h: number };
  eventless: boolean;
}

export interface ChartLayout {
  machine: string;
  width: number;
  height: number;
  /** Parents before children, so drawing in order nests correctly. */
  states: StateBox[];
  edges: EdgeGeom[];
  /** The initial-state markers: a dot and an arrow into the initial child. */
  inits: Point[][];
}

export type Measure = (text: string, font: 'state' | 'label') => number;

const STATE_FONT = '600 12px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
const LABEL_FONT = '10.5px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace';
const HEADER = 26;
const PAD = 12;
const LABEL_LINE = 13;
const MAX_LABEL_LINES = 3;

let ctx2d: CanvasRenderingContext2D | null | undefined;
export const canvasMeasure: Measure = (text, font) => {
  if (ctx2d === undefined) ctx2d = typeof document !== 'undefined' ? document.createElement('canvas').getContext('2d') : null;
  if (!ctx2d) return text.length * (font === 'state' ? 7.2 : 6.4);
  ctx2d.font = font === 'state' ? STATE_FONT : LABEL_FONT;
  return ctx2d.measureText(text).width;
};

export function transitionLabel(event: string, guard?: string): string {
  return `${event || 'always'}${guard ? ` [${guard}]` : ''}`;
}

interface LocalBox {
  node: StatechartNode;
  w: number;
  h: number;
  kids: { box: LocalBox; x: number; y: number }[];
  /** In this box's coordinates. */
  edges: EdgeGeom[];
  inits: Point[][];
  note: string[];
}

interface PendingEdge {
  source: string;
  target: string;
  label: string;
  eventless: boolean;
}

function parentPath(path: string): string | null {
  if (path === '') return null;
  const dot = path.lastIndexOf('.');
  return dot < 0 ? '' : path.slice(0, dot);
}

function isAncestorOrSelf(a: string, b: string): boolean {
  return a === '' || a === b || b.startsWith(`${a}.`);
}

function commonContainer(s: string, t: string): string {
  if (s === t) return parentPath(s) ?? '';
  if (isAncestorOrSelf(s, t)) return s;
  if (isAncestorOrSelf(t, s)) return t;
  let c = parentPath(s) ?? '';
  while (!isAncestorOrSelf(c, t)) c = parentPath(c) ?? '';
  return c;
}

class MachineLayouter {
  private byPath = new Map<string, StatechartNode>();
  private mesh = new Set<string>();
  private edgesByContainer = new Map<string, PendingEdge[]>();
  private elk = new ELK();

  constructor(
    private root: StatechartNode,
    private measure: Measure,
  ) {
    const visit = (n: StatechartNode) => {
      this.byPath.set(n.path, n);
      n.children.forEach(visit);
    };
    visit(root);
    for (const n of this.byPath.values()) if (this.isMesh(n)) this.mesh.add(n.path);
    for (const n of this.byPath.values()) {
      for (const t of n.transitions) {
        for (const target of t.targets) {
          if (!this.byPath.has(target)) continue;
          const container = commonContainer(n.path, target);
          let list = this.edgesByContainer.get(container);
          if (!list) this.edgesByContainer.set(container, (list = []));
          list.push({ source: n.path, target, label: transitionLabel(t.event, t.guard), eventless: t.event === '' });
        }
      }
    }
  }

  private isMesh(n: StatechartNode): boolean {
    if (n.type !== 'compound' || n.children.length < 5 || n.children.some((c) => c.children.length > 0)) return false;
    const kids = new Set(n.children.map((c) => c.path));
    const pairs = new Set<string>();
    for (const c of n.children) for (const t of c.transitions) for (const target of t.targets) if (kids.has(target) && target !== c.path) pairs.add(`${c.path}>${target}`);
    const k = n.children.length;
    return pairs.size >= 0.5 * k * (k - 1);
  }

  private opaque(n: StatechartNode): boolean {
    return n.type === 'parallel' || this.mesh.has(n.path);
  }

  async layout(): Promise<LocalBox> {
    return this.local(this.root);
  }

  private async local(n: StatechartNode): Promise<LocalBox> {
    if (n.children.length === 0) return this.leaf(n);
    if (n.type === 'parallel') return this.parallel(n);
    if (this.mesh.has(n.path)) return this.meshBox(n);
    return this.runElk(n);
  }

  private leaf(n: StatechartNode): LocalBox {
    const internal = n.transitions.filter((t) => t.targets.length === 0).length;
    const w = Math.max(64, this.measure(n.key, 'state') + 26 + (internal ? 22 : 0));
    return { node: n, w: Math.ceil(w), h: 30, kids: [], edges: [], inits: [], note: [] };
  }

  private headerWidth(n: StatechartNode): number {
    const internal = n.transitions.filter((t) => t.targets.length === 0).length;
    return this.measure(n.key, 'state') + 2 * PAD + (internal ? 26 : 0);
  }

  private async parallel(n: StatechartNode): Promise<LocalBox> {
    const regions = await Promise.all(n.children.map((c) => this.local(c)));
    const gap = 14;
    let x = PAD;
    const kids: LocalBox['kids'] = [];
    let h = 0;
    for (const r of regions) {
      kids.push({ box: r, x, y: HEADER });
      x += r.w + gap;
      h = Math.max(h, r.h);
    }
    for (const k of kids) k.box.h = h; // regions share a height, so the dashed separators line up
    const w = Math.max(x - gap + PAD, this.headerWidth(n));
    return { node: n, w, h: HEADER + h + PAD, kids, edges: [], inits: [], note: [] };
  }

  private meshBox(n: StatechartNode): LocalBox {
    const labels = new Set<string>();
    for (const e of this.edgesByContainer.get(n.path) ?? []) labels.add(e.label);
    const note = [`any state → any state: ${[...labels].join(', ')}`];
    const leaves = n.children.map((c) => this.leaf(c));
    const cellW = Math.max(...leaves.map((l) => l.w));
    const cols = Math.min(leaves.length, Math.max(2, Math.round(Math.sqrt(leaves.length * 2))));
    const gapX = 22;
    const gapY = 10;
    const top = HEADER + note.length * 14 + 6;
    const kids: LocalBox['kids'] = [];
    const inits: Point[][] = [];
    leaves.forEach((l, i) => {
      const col = i % cols;
      const row = Math.floor(i / cols);
      l.w = cellW;
      const x = PAD + 12 + col * (cellW + gapX);
      const y = top + row * (l.h + gapY);
      kids.push({ box: l, x, y });
      if (n.initial === l.node.key) inits.push([{ x: x - 12, y: y + l.h / 2 }, { x, y: y + l.h / 2 }]);
    });
    const rows = Math.ceil(leaves.length / cols);
    const gridW = PAD + 12 + cols * (cellW + gapX) - gapX + PAD;
    const noteW = this.measure(note[0], 'label') + 2 * PAD;
    return { node: n, w: Math.ceil(Math.max(gridW, this.headerWidth(n), Math.min(noteW, gridW * 1.6))), h: top + rows * (30 + gapY) - gapY + PAD, kids, edges: [], inits, note };
  }

  private async runElk(n: StatechartNode): Promise<LocalBox> {
    const opaqueBoxes = new Map<string, LocalBox>();
    const elkEdges: { container: ElkNode; edge: ElkExtendedEdge; geom: EdgeGeom }[] = [];
    let edgeId = 0;
    const idOf = (path: string) => `s:${path}`;

    // The node in this run that stands for `path`: itself, or the first opaque ancestor below `container`.
    const representative = (container: string, path: string): string => {
      const chain: string[] = [];
      for (let p: string | null = path; p !== null && p !== container; p = parentPath(p)) chain.push(p);
      chain.reverse();
      for (const p of chain) if (this.opaque(this.byPath.get(p)!)) return p;
      return path;
    };

    const build = async (node: StatechartNode, isRoot: boolean): Promise<ElkNode> => {
      if (!isRoot && (node.children.length === 0 || this.opaque(node))) {
        const box = await this.local(node);
        if (node.children.length > 0) opaqueBoxes.set(node.path, box);
        return { id: idOf(node.path), width: box.w, height: box.h };
      }
      const children = await Promise.all(node.children.map((c) => build(c, false)));
      const elkNode: ElkNode = {
        id: idOf(node.path),
        layoutOptions: { 'elk.padding': `[top=${HEADER + 4},left=${PAD},bottom=${PAD},right=${PAD}]`, 'elk.nodeSize.minimum': `(${Math.ceil(this.headerWidth(node))}, 40)`, 'elk.nodeSize.constraints': 'MINIMUM_SIZE' },
        children,
        edges: [],
      };
      if (node.initial) {
        const initial = node.children.find((c) => c.key === node.initial);
        if (initial) {
          children.push({ id: `init:${node.path}`, width: 10, height: 10 });
          const geom: EdgeGeom = { from: `init:${node.path}`, to: initial.path, points: [], label: [], eventless: false };
          const edge: ElkExtendedEdge = { id: `e${edgeId++}`, sources: [`init:${node.path}`], targets: [idOf(initial.path)] };
          elkNode.edges!.push(edge);
          elkEdges.push({ container: elkNode, edge, geom });
        }
      }
      const grouped = new Map<string, { s: string; t: string; labels: string[]; eventless: boolean }>();
      for (const pe of this.edgesByContainer.get(node.path) ?? []) {
        const s = representative(node.path, pe.source);
        const t = representative(node.path, pe.target);
        if (s === t && pe.source !== pe.target) continue;
        const key = `${s}>${t}`;
        let g = grouped.get(key);
        if (!g) grouped.set(key, (g = { s, t, labels: [], eventless: true }));
        if (!g.labels.includes(pe.label)) g.labels.push(pe.label);
        g.eventless &&= pe.eventless;
      }
      for (const g of grouped.values()) {
        const lines = g.labels.length > MAX_LABEL_LINES ? [...g.labels.slice(0, MAX_LABEL_LINES - 1), `+${g.labels.length - MAX_LABEL_LINES + 1} more`] : g.labels;
        const lw = Math.ceil(Math.max(...lines.map((l) => this.measure(l, 'label')))) + 6;
        const lh = lines.length * LABEL_LINE + 2;
        const edge: ElkExtendedEdge = { id: `e${edgeId++}`, sources: [idOf(g.s)], targets: [idOf(g.t)], labels: [{ text: lines.join('\n'), width: lw, height: lh }] };
        elkNode.edges!.push(edge);
        elkEdges.push({ container: elkNode, edge, geom: { from: g.s, to: g.t, points: [], label: g.labels, eventless: g.eventless } });
      }
      return elkNode;
    };

    const graph = await build(n, true);
    graph.layoutOptions = {
      ...graph.layoutOptions,
      'elk.algorithm': 'layered',
      'elk.direction': 'RIGHT',
      'elk.hierarchyHandling': 'INCLUDE_CHILDREN',
      'elk.edgeRouting': 'ORTHOGONAL',
      'elk.layered.spacing.nodeNodeBetweenLayers': '34',
      'elk.spacing.nodeNode': '16',
      'elk.spacing.edgeNode': '10',
      'elk.spacing.edgeEdge': '8',
      'elk.spacing.edgeLabel': '3',
      'elk.layered.spacing.edgeNodeBetweenLayers': '12',
      'elk.edgeLabels.placement': 'CENTER',
      'elk.layered.mergeEdges': 'false',
      'elk.layered.nodePlacement.strategy': 'NETWORK_SIMPLEX',
      'elk.json.edgeCoords': 'ROOT',
      'elk.json.shapeCoords': 'PARENT',
    };
    const out = await this.elk.layout(graph);

    const toBox = (elkNode: ElkNode, node: StatechartNode): LocalBox => {
      const kids: LocalBox['kids'] = [];
      const inits: Point[][] = [];
      for (const child of elkNode.children ?? []) {
        if (child.id.startsWith('init:')) continue;
        const path = child.id.slice(2);
        const state = this.byPath.get(path)!;
        const box = opaqueBoxes.get(path) ?? (state.children.length ? toBox(child, state) : this.leaf(state));
        box.w = child.width ?? box.w;
        box.h = child.height ?? box.h;
        kids.push({ box, x: child.x ?? 0, y: child.y ?? 0 });
      }
      return { node, w: elkNode.width ?? 0, h: elkNode.height ?? 0, kids, edges: [], inits, note: [] };
    };
    const box = toBox(out, n);
    // Edge coordinates come relative to the root (edgeCoords ROOT); the init dots are nodes whose
    // absolute positions we find by walking the parents.
    const absolute = new Map<string, Point>();
    const walk = (node: ElkNode, ox: number, oy: number) => {
      for (const c of node.children ?? []) {
        const x = ox + (c.x ?? 0);
        const y = oy + (c.y ?? 0);
        absolute.set(c.id, { x, y });
        walk(c, x, y);
      }
    };
    walk(out, 0, 0);
    const edgesOut = new Map<string, ElkExtendedEdge>();
    const collect = (node: ElkNode) => {
      for (const e of node.edges ?? []) edgesOut.set(e.id, e);
      for (const c of node.children ?? []) collect(c);
    };
    collect(out);
    for (const { edge, geom } of elkEdges) {
      const laid = edgesOut.get(edge.id);
      const section = laid?.sections?.[0];
      if (!section) continue;
      geom.points = [section.startPoint, ...(section.bendPoints ?? []), section.endPoint].map((p) => ({ x: p.x, y: p.y }));
      if (geom.from.startsWith('init:')) {
        const dot = absolute.get(geom.from);
        if (dot) box.inits.push([{ x: dot.x + 5, y: dot.y + 5 }, ...geom.points.slice(1)]);
        continue;
      }
      const label = laid?.labels?.[0];
      if (label) geom.labelBox = { x: label.x ?? 0, y: label.y ?? 0, w: label.width ?? 0, h: label.height ?? 0 };
      box.edges.push(geom);
    }
    return box;
  }
}

/** Lays out a machine's statechart; coordinates are absolute in the chart. */
export async function layoutMachine(machine: string, root: StatechartNode, measure: Measure = canvasMeasure): Promise<ChartLayout> {
  const box = await new MachineLayouter(root, measure).layout();
  const states: StateBox[] = [];
  const edges: EdgeGeom[] = [];
  const inits: Point[][] = [];
  const flatten = (b: LocalBox, x: number, y: number, region: boolean) => {
    const n = b.node;
    const outgoing = n.transitions.filter((t) => t.targets.length > 0).map((t) => `${transitionLabel(t.event, t.guard)} → ${t.targets.join(', ')}`);
    const internal = n.transitions.filter((t) => t.targets.length === 0).map((t) => transitionLabel(t.event, t.guard));
    states.push({ path: n.path, key: n.key, type: n.type, ...(n.description ? { description: n.description } : {}), x, y, w: b.w, h: b.h, region, internal: [...new Set(internal)], note: b.note, outgoing });
    for (const e of b.edges) edges.push({ ...e, points: e.points.map((p) => ({ x: p.x + x, y: p.y + y })), ...(e.labelBox ? { labelBox: { ...e.labelBox, x: e.labelBox.x + x, y: e.labelBox.y + y } } : {}) });
    for (const i of b.inits) inits.push(i.map((p) => ({ x: p.x + x, y: p.y + y })));
    for (const k of b.kids) flatten(k.box, x + k.x, y + k.y, n.type === 'parallel');
  };
  flatten(box, 0, 0, false);
  return { machine, width: Math.ceil(box.w), height: Math.ceil(box.h), states, edges, inits };
}

const layouts = new Map<string, Promise<ChartLayout>>();

/** One layout per machine, shared by every actor of that machine. */
export function machineLayout(machine: string, root: StatechartNode): Promise<ChartLayout> {
  let p = layouts.get(machine);
  if (!p) layouts.set(machine, (p = layoutMachine(machine, root)));
  return p;
}
