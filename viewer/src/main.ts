/**
 * `drainlab view`: loads the session's traces, builds each trace's pane (statecharts, sequence,
 * images) and, for two traces, the comparison. Every view is driven from one cursor per trace.
 */
import './style.css';
import { CompareView } from './compareView.ts';
import { Controls } from './controls.ts';
import { el } from './dom.ts';
import { ImagesPanel } from './images.ts';
import { SequenceView } from './sequence.ts';
import { installChartDefs, StatechartCard } from './statechart.ts';
import { GROUP_ORDER, GROUP_TITLES, describeEvent, protectionsOff, TraceModel, type NavKind, type TraceEvent } from './traceModel.ts';

interface SessionTrace {
  id: string;
  label: string;
  live: boolean;
}

declare global {
  interface Window {
    __drainlab: { ready: boolean; step: number; steps: number; goto(step: number): void };
  }
}

class TracePane {
  readonly model = new TraceModel();
  step = 0;
  readonly root: HTMLElement;
  readonly sequence: SequenceView;
  readonly images: ImagesPanel;
  readonly cards: StatechartCard[] = [];
  private cardsEl: HTMLElement;
  private nowEl: HTMLElement;
  private filter: HTMLInputElement;
  private groups = new Map<string, HTMLElement>();
  followLive = true;
  ended = false;

  constructor(
    readonly info: SessionTrace,
    readonly side: 'a' | 'b',
    private app: App,
  ) {
    this.sequence = new SequenceView(this.model, (s) => this.app.goto(this, s));
    this.images = new ImagesPanel(this.model);
    this.nowEl = el('section', { class: 'panel now' });
    this.filter = el('input', { type: 'search', class: 'filter', placeholder: 'Filter actors: drive0, ctx, action…', 'aria-label': 'filter actors' });
    this.filter.addEventListener('input', () => this.applyFilter());
    this.cardsEl = el('div', { class: 'groups' });
    this.root = el(
      'div',
      { class: 'pane', 'data-side': side },
      el('div', { class: 'pane-top' }, el('section', { class: 'panel seq-panel' }, el('h2', {}, 'Sequence: one row per step, an arrow per delivery'), this.sequence.el), el('div', { class: 'side-col' }, this.nowEl, legend(), this.images.el)),
      el('section', { class: 'panel charts-panel' }, el('div', { class: 'charts-head' }, el('h2', {}, 'Statecharts at this step'), this.filter, el('span', { class: 'muted' }, 'Lit states are the ones the actor is in; hover a state for its description.')), this.cardsEl),
    );
  }

  /** Creates cards for actors seen since the last call; resolves when their charts are laid out. */
  ensureCards(): Promise<void> {
    const have = new Set(this.cards.map((c) => c.actor.name));
    const fresh: StatechartCard[] = [];
    for (const actor of this.model.actors) {
      if (have.has(actor.name)) continue;
      const card = new StatechartCard(actor, this.model.machines.get(actor.machine));
      this.cards.push(card);
      fresh.push(card);
      let group = this.groups.get(actor.group);
      if (!group) {
        group = el('div', { class: 'cards' });
        this.groups.set(actor.group, group);
        const sections = [...this.groups.keys()].sort((x, y) => GROUP_ORDER.indexOf(x as never) - GROUP_ORDER.indexOf(y as never));
        this.cardsEl.replaceChildren(...sections.map((g) => el('section', { class: 'group', 'data-group': g }, el('h3', {}, GROUP_TITLES[g as keyof typeof GROUP_TITLES] ?? g), this.groups.get(g)!)));
      }
      group.append(card.el);
      card.update(this.model, this.step);
    }
    if (fresh.length) this.applyFilter();
    return Promise.all(fresh.map((c) => c.ready)).then(() => undefined);
  }

  private applyFilter(): void {
    const f = this.filter.value.trim();
    for (const c of this.cards) c.el.hidden = !c.matches(f);
    for (const section of this.cardsEl.children) {
      const anyShown = [...section.querySelectorAll<HTMLElement>('[data-testid=chart]')].some((c) => !c.hidden);
      (section as HTMLElement).hidden = !anyShown;
    }
  }

  render(): void {
    const step = this.step;
    for (const c of this.cards) c.update(this.model, step);
    this.sequence.setStep(step);
    this.images.update(step);
    this.renderNow(step);
  }

  private renderNow(step: number): void {
    const events = this.model.eventsAt(step);
    const phase = this.model.phaseAtStep(step);
    const violations = this.model.violations.filter((v) => v.step === step);
    const item = (e: TraceEvent) => el('li', { class: `ev ev-${e.type.slice(7).replace('.', '-')}${'external' in e && e.external ? ' ev-external' : ''}${e.type === '@trace.io.submit' && String(e.origin).startsWith('external') ? ' ev-external' : ''}` }, describeEvent(e));
    this.nowEl.replaceChildren(
      el('h2', {}, `Step ${step}`, el('span', { class: `phase-chip${phase === '-' ? ' none' : ''}` }, phase === '-' ? 'outside any transaction phase' : `inside ${phase}`)),
      events.length ? el('ul', { class: 'events' }, ...events.map(item)) : el('p', { class: 'muted' }, 'No event at this step.'),
      ...violations.map((v) => el('p', { class: 'violation-now' }, el('b', {}, `${v.invariant} violated. `), v.message)),
    );
  }
}

function legend(): HTMLElement {
  const item = (swatch: HTMLElement, text: string) => el('li', {}, swatch, el('span', {}, text));
  return el(
    'section',
    { class: 'panel legend' },
    el('h3', {}, 'Legend'),
    el(
      'ul',
      {},
      item(el('span', { class: 'sw sw-active' }), 'lit state: the actor is in it'),
      item(el('span', { class: 'sw sw-drained' }), 'drained section on a node (drained begin → end)'),
      item(el('span', { class: 'sw sw-extoff' }), 'external clients disabled on a context'),
      item(el('span', { class: 'marker marker-dispatch-external static' }, '⚡'), 'external dispatch (a guest/NBD handler runs)'),
      item(el('span', { class: 'marker marker-submit-external static' }, 'Wx'), 'guest request submitted to a node'),
      item(el('span', { class: 'marker marker-pit static' }, '◆ PIT'), 'point in time of a snapshot/backup'),
      item(el('span', { class: 'marker marker-violation static' }, '✖ I10'), 'invariant violation'),
      item(el('span', { class: 'sw sw-phase' }), 'transaction phase (prepare, commit, clean…)'),
    ),
  );
}

function metaBlock(pane: TracePane, app: App, withLiveStatus: boolean): HTMLElement {
  const m = pane.model;
  const meta = m.meta;
  const off = protectionsOff(meta);
  const chips = el(
    'div',
    { class: 'chips' },
    el('span', { class: 'chip' }, `seed ${meta?.seed ?? '?'}`),
    el('span', { class: 'chip' }, `strategy ${meta?.strategy ?? '?'}`),
    el('span', { class: 'chip' }, `era ${meta?.era ?? '?'}`),
    meta?.source ? el('span', { class: 'chip' }, `from ${meta.source}`) : null,
    ...(off.length ? off.map((p) => el('span', { class: 'chip chip-off', title: 'This protection is switched off in this run' }, `${p} OFF`)) : [el('span', { class: 'chip chip-on' }, 'all protections on')]),
  );
  const verdict = el('div', { class: 'verdict', 'data-testid': 'verdict' });
  if (m.violations.length) {
    verdict.append(el('span', { class: 'verdict-bad' }, `✖ ${m.violations.length} violation${m.violations.length > 1 ? 's' : ''}`));
    const list = el('ul', { class: 'violations' });
    for (const v of m.violations) {
      const b = el('button', { type: 'button', class: 'violation-link', 'data-testid': 'violation', 'data-invariant': v.invariant, 'data-step': String(v.step), title: v.explanation }, el('b', {}, v.invariant), ` at step ${v.step}: `, v.message);
      b.addEventListener('click', () => app.goto(pane, v.step, true));
      list.append(el('li', {}, b));
    }
    verdict.append(list);
  } else if (m.end) verdict.append(el('span', { class: 'verdict-good' }, `✔ every invariant held (${m.end.endReason}, ${m.end.steps} steps)`));
  else verdict.append(el('span', { class: 'muted' }, 'run in progress…'));
  const live = pane.info.live
    ? el('span', { class: `live-status ${pane.ended ? 'ended' : 'live'}`, ...(withLiveStatus ? { 'data-testid': 'live-status' } : {}) }, pane.ended ? 'ended' : 'live')
    : null;
  return el(
    'div',
    { class: `meta meta-${pane.side}` },
    el('div', { class: 'meta-title' }, app.panes.length > 1 ? el('span', { class: `side-badge side-${pane.side}` }, pane.side.toUpperCase()) : null, el('span', { class: 'scenario' }, meta?.scenario ?? pane.info.label), live),
    el('div', { class: 'title' }, meta?.title ?? ''),
    el('div', { class: 'label muted' }, pane.info.label),
    chips,
    verdict,
  );
}

class App {
  panes: TracePane[] = [];
  active!: TracePane;
  controls: Controls;
  compare: CompareView | null = null;
  private headerEl = el('div', { class: 'metas' });
  private tabsEl = el('div', { class: 'tabs' });
  private paneHolder = el('div', { class: 'pane-holder' });
  private urlTimer = 0;
  private renderQueued = false;

  constructor(private root: HTMLElement) {
    this.controls = new Controls({
      step: () => this.active.step,
      last: () => this.active.model.lastStep,
      goto: (s) => this.goto(this.active, s),
      next: (k: NavKind, s) => this.active.model.nextOf(k, s),
      prev: (k: NavKind, s) => this.active.model.prevOf(k, s),
    });
  }

  async start(): Promise<void> {
    installChartDefs();
    window.__drainlab = { ready: false, step: 0, steps: 0, goto: (s: number) => this.goto(this.active, s) };
    const session = (await (await fetch('/api/session')).json()) as { traces: SessionTrace[] };
    const traces = session.traces.slice(0, 2);
    this.panes = traces.map((t, i) => new TracePane(t, i === 0 ? 'a' : 'b', this));
    const params = new URLSearchParams(location.search);
    this.active = this.panes.find((p) => p.side === params.get('side')) ?? this.panes[0];
    this.root.replaceChildren(
      el('header', { class: 'app-header' }, el('div', { class: 'brand' }, el('span', { class: 'logo' }, 'drainlab'), el('span', { class: 'muted' }, ' view — QEMU drained sections, step by step')), this.headerEl),
      el('div', { class: 'loading muted' }, 'Loading trace…'),
    );
    await Promise.all(this.panes.map((p) => this.load(p)));
    const requested = Number(params.get('step'));
    this.build();
    for (const p of this.panes) p.sequence.refresh();
    await Promise.all(this.panes.map((p) => p.ensureCards()));
    if (Number.isFinite(requested) && params.has('step')) this.active.step = clamp(requested, this.active.model.lastStep);
    for (const p of this.panes) {
      if (p.info.live && !params.has('step')) p.step = p.model.lastStep;
      if (p !== this.active) p.render();
    }
    this.goto(this.active, this.active.step);
    window.__drainlab.ready = true;
    document.body.dataset.ready = 'true';
  }

  private load(pane: TracePane): Promise<void> {
    if (!pane.info.live) {
      return fetch(`/api/trace/${encodeURIComponent(pane.info.id)}`)
        .then((r) => r.text())
        .then((text) => {
          pane.model.addText(text);
          pane.ended = true;
        });
    }
    // A live trace: first the header (so the charts can be laid out), then lines as they come.
    return new Promise((resolve) => {
      const source = new EventSource(`/api/live/${encodeURIComponent(pane.info.id)}`);
      let resolved = false;
      const settle = () => {
        if (!resolved) {
          resolved = true;
          resolve();
        }
      };
      source.onmessage = (ev) => {
        const wasAtEnd = pane.step >= pane.model.lastStep;
        pane.model.add(JSON.parse(ev.data));
        if (pane.followLive && wasAtEnd) pane.step = pane.model.lastStep;
        if (!resolved && pane.model.events.length > 0) settle();
        else this.queueRender();
      };
      source.addEventListener('end', () => {
        pane.ended = true;
        source.close();
        settle();
        this.queueRender();
      });
      source.onerror = () => {
        if (source.readyState === EventSource.CLOSED) {
          pane.ended = true;
          settle();
          this.queueRender();
        }
      };
    });
  }

  /** Live lines arrive fast: redraw at most once a frame. */
  private queueRender(): void {
    if (this.renderQueued || !this.active) return;
    this.renderQueued = true;
    requestAnimationFrame(() => {
      this.renderQueued = false;
      if (!this.paneHolder.isConnected) return;
      this.renderHeader();
      for (const p of this.panes) {
        p.sequence.refresh();
        void p.ensureCards();
      }
      this.compare?.refresh();
      this.goto(this.active, this.active.step);
    });
  }

  private build(): void {
    this.renderHeader();
    const parts: HTMLElement[] = [];
    if (this.panes.length === 2) {
      const [a, b] = this.panes;
      this.compare = new CompareView(
        [
          { id: 'a', label: a.info.label, model: a.model },
          { id: 'b', label: b.info.label, model: b.model },
        ],
        (steps) => {
          if (steps.a !== undefined) this.setStep(a, steps.a);
          if (steps.b !== undefined) this.setStep(b, steps.b);
          this.goto(this.active, this.active.step);
        },
      );
      parts.push(this.compare.el);
      this.renderTabs();
      parts.push(this.tabsEl);
    }
    const loading = this.root.querySelector('.loading');
    loading?.remove();
    this.paneHolder.replaceChildren(this.active.root);
    this.root.append(...parts, el('div', { class: 'sticky-controls' }, this.controls.el), this.paneHolder);
  }

  private renderTabs(): void {
    this.tabsEl.replaceChildren(
      el('span', { class: 'muted' }, 'Details of run:'),
      ...this.panes.map((p) => {
        const b = el('button', { type: 'button', class: `tab${p === this.active ? ' selected' : ''}`, 'data-testid': `tab-${p.side}`, 'aria-pressed': String(p === this.active) }, el('span', { class: `side-badge side-${p.side}` }, p.side.toUpperCase()), ` ${p.info.label} `, el('span', { class: 'muted' }, `(step ${p.step})`));
        b.addEventListener('click', () => this.activate(p));
        return b;
      }),
    );
  }

  private renderHeader(): void {
    this.headerEl.replaceChildren(...this.panes.map((p, i) => metaBlock(p, this, this.panes.findIndex((x) => x.info.live) === i)));
  }

  activate(pane: TracePane): void {
    if (pane === this.active) return;
    this.controls.pause();
    this.active = pane;
    this.paneHolder.replaceChildren(pane.root);
    this.goto(pane, pane.step);
  }

  private setStep(pane: TracePane, step: number): void {
    pane.step = clamp(step, pane.model.lastStep);
    if (pane !== this.active) pane.render();
  }

  goto(pane: TracePane, step: number, focus = false): void {
    if (focus && pane !== this.active) this.activate(pane);
    const s = clamp(step, pane.model.lastStep);
    pane.step = s;
    pane.followLive = s >= pane.model.lastStep;
    if (pane !== this.active) {
      pane.render();
      return;
    }
    pane.render();
    this.controls.show(s, pane.model.lastStep);
    if (this.compare) {
      this.compare.showCursors({ a: this.panes[0].step, b: this.panes[1].step });
      this.renderTabs();
    }
    window.__drainlab.step = s;
    window.__drainlab.steps = pane.model.lastStep;
    this.queueUrl();
  }

  /** history.replaceState is throttled by browsers: write at once, then at most every 150 ms. */
  private queueUrl(): void {
    if (this.urlTimer) {
      this.urlDirty = true;
      return;
    }
    this.writeUrl();
    this.urlTimer = window.setTimeout(() => {
      this.urlTimer = 0;
      if (this.urlDirty) {
        this.urlDirty = false;
        this.queueUrl();
      }
    }, 150);
  }

  private urlDirty = false;

  private writeUrl(): void {
    const params = new URLSearchParams(location.search);
    params.set('step', String(this.active.step));
    if (this.panes.length > 1) params.set('side', this.active.side);
    history.replaceState(null, '', `${location.pathname}?${params}`);
  }
}

function clamp(step: number, last: number): number {
  if (!Number.isFinite(step)) return 0;
  return Math.max(0, Math.min(last, Math.round(step)));
}

const mount = document.getElementById('app') ?? document.body;
new App(mount).start().catch((error: unknown) => {
  mount.append(el('pre', { class: 'fatal' }, `The viewer could not load the trace:\n${error instanceof Error ? (error.stack ?? error.message) : String(error)}`));
});
