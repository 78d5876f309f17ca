/**
 * Statechart cards: one SVG per actor, built from its machine's layout (one template per machine,
 * cloned per actor). Stepping only toggles the `active` class of states whose lit-ness changed.
 */
import { machineLayout, type ChartLayout, type StateBox } from './layout.ts';
import { activePaths, type ActorInfo, type MachineLine, type TraceModel } from './traceModel.ts';
import { el, escapeXml } from './dom.ts';

const SVG_NS = 'http://www.w3.org/2000/svg';

/** The counters worth showing for an actor even before the trace changes them. */
const DEFAULT_COUNTERS: Partial<Record<ActorInfo['group'], string[]>> = {
  contexts: ['externalDisableCount'],
  nodes: ['quiesceCounter', 'inFlight'],
};

/** Machines too big to read at a glance start collapsed; their header still shows the state. */
const COLLAPSED_MACHINES = new Set(['transactionAction']);

const templates = new Map<string, HTMLTemplateElement>();

function tooltip(s: StateBox): string {
  const lines: string[] = [s.path || `${s.key} (machine)`];
  if (s.description) lines.push(s.description);
  if (s.outgoing.length) lines.push('', ...s.outgoing.slice(0, 12).map((t) => `• ${t}`), ...(s.outgoing.length > 12 ? [`• … ${s.outgoing.length - 12} more`] : []));
  if (s.internal.length) lines.push('', `Handled without changing state: ${s.internal.join(', ')}`);
  return lines.join('\n');
}

function pathD(points: { x: number; y: number }[]): string {
  return points.map((p, i) => `${i ? 'L' : 'M'}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(' ');
}

function svgMarkup(layout: ChartLayout): string {
  const parts: string[] = [];
  parts.push(`<svg xmlns="${SVG_NS}" class="chart-svg" viewBox="-2 -2 ${layout.width + 4} ${layout.height + 4}" width="${layout.width + 4}" height="${layout.height + 4}">`);
  for (const s of layout.states) {
    const kind = s.path === '' ? 'root' : s.region ? 'region' : s.type;
    const leaf = s.type === 'atomic' || s.type === 'final' || s.type === 'history';
    parts.push(`<g class="st st-${kind}" data-state="${escapeXml(s.path)}" data-active="false"><title>${escapeXml(tooltip(s))}</title>`);
    parts.push(`<rect x="${s.x}" y="${s.y}" width="${s.w}" height="${s.h}" rx="${leaf ? 8 : 6}"/>`);
    if (s.type === 'final') parts.push(`<rect class="final-inner" x="${s.x + 3}" y="${s.y + 3}" width="${s.w - 6}" height="${s.h - 6}" rx="6"/>`);
    const label = s.path === '' ? s.key : s.key;
    if (leaf) parts.push(`<text x="${s.x + s.w / 2 - (s.internal.length ? 10 : 0)}" y="${s.y + s.h / 2 + 4}" text-anchor="middle">${escapeXml(label)}</text>`);
    else parts.push(`<text class="st-head" x="${s.x + 10}" y="${s.y + 17}">${escapeXml(label)}${s.type === 'parallel' ? '<tspan class="st-kind"> ∥ parallel</tspan>' : ''}</text>`);
    if (s.internal.length) {
      const bx = leaf ? s.x + s.w - 24 : s.x + s.w - 30;
      const by = leaf ? s.y + s.h / 2 - 8 : s.y + 5;
      parts.push(`<g class="badge"><rect x="${bx}" y="${by}" width="${leaf ? 18 : 24}" height="16" rx="8"/><text x="${bx + (leaf ? 9 : 12)}" y="${by + 12}" text-anchor="middle">⟲${s.internal.length > 9 ? '' : s.internal.length}</text></g>`);
    }
    s.note.forEach((line, i) => parts.push(`<text class="st-note" x="${s.x + 10}" y="${s.y + 36 + i * 14}">${escapeXml(line)}</text>`));
    parts.push('</g>');
  }
  for (const e of layout.edges) {
    if (e.points.length < 2) continue;
    parts.push(`<g class="tr${e.eventless ? ' tr-always' : ''}"><title>${escapeXml(`${e.from} → ${e.to}\n${e.label.join('\n')}`)}</title><path d="${pathD(e.points)}" marker-end="url(#dl-arrow)"/>`);
    if (e.labelBox) {
      const shown = e.label.length > 3 ? [...e.label.slice(0, 2), `+${e.label.length - 2} more`] : e.label;
      shown.forEach((line, i) => parts.push(`<text class="tr-label" x="${e.labelBox!.x + 3}" y="${e.labelBox!.y + 11 + i * 13}">${escapeXml(line)}</text>`));
    }
    parts.push('</g>');
  }
  for (const init of layout.inits) {
    const [dot, ...rest] = init;
    parts.push(`<g class="init"><circle cx="${dot.x}" cy="${dot.y}" r="4"/>${rest.length ? `<path d="${pathD(init)}" marker-end="url(#dl-arrow)"/>` : ''}</g>`);
  }
  parts.push('</svg>');
  return parts.join('');
}

function templateFor(layout: ChartLayout): HTMLTemplateElement {
  let t = templates.get(layout.machine);
  if (!t) {
    t = document.createElement('template');
    t.innerHTML = svgMarkup(layout);
    templates.set(layout.machine, t);
  }
  return t;
}

/** The arrowhead every chart shares, defined once in the page. */
export function installChartDefs(): void {
  if (document.getElementById('dl-defs')) return;
  const holder = document.createElement('div');
  holder.innerHTML = `<svg id="dl-defs" width="0" height="0" style="position:absolute" aria-hidden="true"><defs><marker id="dl-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#5c6773"/></marker></defs></svg>`;
  document.body.appendChild(holder.firstElementChild!);
}

export class StatechartCard {
  readonly el: HTMLElement;
  private stateEls = new Map<string, Element>();
  private lit = new Set<string>();
  private lastValue: string | undefined | null = null;
  private valueEl: HTMLElement;
  private countersEl: HTMLElement;
  private counterEls = new Map<string, HTMLElement>();
  private body: HTMLElement;
  readonly ready: Promise<void>;

  constructor(
    readonly actor: ActorInfo,
    machine: MachineLine | undefined,
  ) {
    const collapsed = COLLAPSED_MACHINES.has(actor.machine);
    this.valueEl = el('span', { class: 'state-value', title: 'The state value at this step' });
    this.countersEl = el('span', { class: 'counters' });
    const toggle = el('button', { class: 'card-toggle', type: 'button', 'aria-expanded': String(!collapsed), title: 'Show or hide the statechart' }, collapsed ? '▸' : '▾');
    this.body = el('div', { class: 'card-body' });
    this.el = el(
      'section',
      { class: `card group-${actor.group}${collapsed ? ' collapsed' : ''}`, 'data-testid': 'chart', 'data-actor': actor.name, 'data-machine': actor.machine },
      el('header', { class: 'card-head' }, toggle, el('span', { class: 'actor-name' }, actor.name), el('span', { class: 'machine-name', title: machine?.description ?? '' }, actor.machine), this.valueEl, this.countersEl),
      this.body,
    );
    toggle.addEventListener('click', () => {
      const now = this.el.classList.toggle('collapsed');
      toggle.textContent = now ? '▸' : '▾';
      toggle.setAttribute('aria-expanded', String(!now));
    });
    for (const c of DEFAULT_COUNTERS[actor.group] ?? []) this.counterEl(c);
    if (!machine) {
      this.body.append(el('p', { class: 'muted' }, `No statechart for machine ${actor.machine} in the trace.`));
      this.ready = Promise.resolve();
      return;
    }
    this.ready = machineLayout(actor.machine, machine.root).then((layout) => {
      const svg = templateFor(layout).content.firstElementChild!.cloneNode(true) as SVGSVGElement;
      this.body.append(svg);
      for (const g of svg.querySelectorAll('[data-state]')) this.stateEls.set(g.getAttribute('data-state')!, g);
      const value = this.lastValue;
      this.lastValue = null;
      this.lit.clear();
      if (value !== null) this.applyValue(value);
    });
  }

  private counterEl(name: string): HTMLElement {
    let v = this.counterEls.get(name);
    if (!v) {
      v = el('span', { class: 'counter-value', 'data-testid': 'counter', 'data-actor': this.actor.name, 'data-counter': name }, '0');
      this.counterEls.set(name, v);
      this.countersEl.append(el('span', { class: 'counter', title: name }, el('span', { class: 'counter-name' }, name), v));
    }
    return v;
  }

  matches(filter: string): boolean {
    if (!filter) return true;
    const f = filter.toLowerCase();
    return this.actor.name.toLowerCase().includes(f) || this.actor.machine.toLowerCase().includes(f) || this.actor.kind.toLowerCase().includes(f);
  }

  update(model: TraceModel, step: number): void {
    this.applyValue(model.stateAt(this.actor.name, step));
    for (const name of model.counterNames(this.actor.name)) this.counterEl(name);
    for (const [name, elv] of this.counterEls) {
      const v = String(model.counterAt(this.actor.name, name, step) ?? 0);
      if (elv.textContent !== v) {
        elv.textContent = v;
        elv.parentElement!.classList.toggle('nonzero', v !== '0');
      }
    }
  }

  private applyValue(value: string | undefined): void {
    if (value === this.lastValue) return;
    this.lastValue = value;
    this.valueEl.textContent = value === undefined ? '(not started)' : value.split('|').join('  ·  ');
    if (this.stateEls.size === 0) return;
    const next = activePaths(value);
    for (const p of this.lit) if (!next.has(p)) this.setLit(p, false);
    for (const p of next) if (!this.lit.has(p)) this.setLit(p, true);
    this.lit = next;
  }

  private setLit(path: string, on: boolean): void {
    const g = this.stateEls.get(path);
    if (!g) return;
    g.classList.toggle('active', on);
    g.setAttribute('data-active', on ? 'true' : 'false');
  }
}
