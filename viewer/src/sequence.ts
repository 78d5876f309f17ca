/**
 * The sequence view: a lane per actor, a row per step (its delivery as an arrow from sender to
 * receiver), drained sections as bands on the lanes, transaction phases beside the rows.
 * Virtualised: a spacer gives the full height and only the rows near the viewport are in the DOM.
 */
import { el } from './dom.ts';
import { describeEvent, isExternalDispatch, isExternalSubmit, lastAtOrBefore, shortName, type ActorGroup, type PlacedViolation, type TraceModel } from './traceModel.ts';

export const ROW_H = 22;
const STEP_W = 48;
const PHASE_W = 84;
const MIN_LANE_W = 52;
const MAX_LANE_W = 110;
const HEAD_H = 42;
/** Lanes ordered so the busiest conversations (actions → nodes → contexts) are short arrows. */
const LANE_ORDER: ActorGroup[] = ['monitor', 'transaction', 'actions', 'jobs', 'nodes', 'host', 'contexts', 'loops', 'clients', 'other'];
const OVERSCAN = 25;
const OUTSIDE = '(outside)';

export class SequenceView {
  readonly el: HTMLElement;
  private scroller: HTMLElement;
  private spacer: HTMLElement;
  private rowsLayer: HTMLElement;
  private bandsLayer: HTMLElement;
  private header: HTMLElement;
  private lanes: string[] = [];
  private laneIndex = new Map<string, number>();
  private rendered: { first: number; last: number; version: number } = { first: -1, last: -1, version: -1 };
  private step = 0;
  private currentRow: HTMLElement | null = null;
  private bandsVersion = -1;
  private frame = 0;
  /** Scroll position and viewport height, kept from events so stepping never forces a layout. */
  private scrollTop = 0;
  private viewHeight = 600;
  private viewWidth = 1000;
  /** Lanes share the visible width, so most arrows and their labels fit without scrolling sideways. */
  private laneW = MIN_LANE_W;

  constructor(
    private model: TraceModel,
    private onPick: (step: number) => void,
  ) {
    this.header = el('div', { class: 'seq-header' });
    this.bandsLayer = el('div', { class: 'seq-bands' });
    this.rowsLayer = el('div', { class: 'seq-rows' });
    this.spacer = el('div', { class: 'seq-spacer' }, this.bandsLayer, this.rowsLayer);
    this.scroller = el('div', { class: 'seq-scroll' }, this.header, this.spacer);
    this.el = el('div', { class: 'sequence', 'data-testid': 'sequence' }, this.scroller);
    this.scroller.addEventListener('scroll', () => {
      this.scrollTop = this.scroller.scrollTop;
      if (this.frame) return;
      this.frame = requestAnimationFrame(() => {
        this.frame = 0;
        this.renderWindow();
      });
    });
    this.rowsLayer.addEventListener('click', (ev) => {
      const row = (ev.target as HTMLElement).closest<HTMLElement>('[data-testid=seq-row]');
      if (row) this.onPick(Number(row.dataset.step));
    });
    new ResizeObserver((entries) => {
      for (const e of entries) {
        this.viewHeight = e.contentRect.height || this.viewHeight;
        this.viewWidth = e.contentRect.width || this.viewWidth;
      }
      this.refresh();
    }).observe(this.scroller);
    this.refresh();
  }

  private laneX(actor: string): number {
    const i = this.laneIndex.get(actor) ?? 0;
    return STEP_W + PHASE_W + i * this.laneW + this.laneW / 2;
  }

  /** After lines were added (live runs): new lanes, height, bands. */
  refresh(): void {
    const actors = [...this.model.actors].sort((a, b) => LANE_ORDER.indexOf(a.group) - LANE_ORDER.indexOf(b.group) || a.order - b.order).map((a) => a.name);
    const lanes = [OUTSIDE, ...actors];
    const laneW = Math.floor(Math.max(MIN_LANE_W, Math.min(MAX_LANE_W, (this.viewWidth - STEP_W - PHASE_W - 10) / lanes.length)));
    if (lanes.join('\n') !== this.lanes.join('\n') || laneW !== this.laneW) {
      this.lanes = lanes;
      this.laneW = laneW;
      this.bandsVersion = -1;
      this.laneIndex = new Map(lanes.map((l, i) => [l, i]));
      const width = STEP_W + PHASE_W + lanes.length * this.laneW + 8;
      this.spacer.style.width = `${width}px`;
      this.header.style.width = `${width}px`;
      this.header.replaceChildren(
        el('div', { class: 'seq-hcell seq-hstep', style: `width:${STEP_W}px` }, 'step'),
        el('div', { class: 'seq-hcell seq-hphase', style: `left:${STEP_W}px;width:${PHASE_W}px` }, 'txn phase'),
        ...lanes.map((l, i) => {
          const info = this.model.actorByName.get(l);
          const colon = l.indexOf(':');
          const prefix = l === OUTSIDE ? 'outside' : colon >= 0 ? l.slice(0, colon) : '';
          return el(
            'div',
            { class: `seq-hcell seq-lane-head group-${info?.group ?? 'outside'}`, style: `left:${STEP_W + PHASE_W + i * this.laneW}px;width:${this.laneW}px`, title: l === OUTSIDE ? 'Deliveries from outside the actors: env, clock' : `${l} (${info?.kind})` },
            el('span', { class: 'lane-prefix' }, prefix),
            el('span', { class: 'lane-name' }, l === OUTSIDE ? 'env clock' : shortName(l).replace(/([-/])/g, '$1\u200b')),
          );
        }),
      );
      this.spacer.style.backgroundImage = `repeating-linear-gradient(to right, transparent 0, transparent ${this.laneW / 2 - 0.5}px, #dde2e8 ${this.laneW / 2 - 0.5}px, #dde2e8 ${this.laneW / 2 + 0.5}px, transparent ${this.laneW / 2 + 0.5}px, transparent ${this.laneW}px)`;
      this.spacer.style.backgroundPosition = `${STEP_W + PHASE_W}px 0`;
      this.spacer.style.backgroundSize = `${this.laneW}px 100%`;
      this.rendered.version = -1;
    }
    this.spacer.style.height = `${this.model.steps.length * ROW_H}px`;
    if (this.bandsVersion !== this.model.version) {
      this.bandsVersion = this.model.version;
      this.renderBands();
    }
    this.renderWindow();
  }

  private rowOf(step: number): number {
    return Math.max(0, lastAtOrBefore(this.model.steps, step));
  }

  private renderBands(): void {
    const lastRow = this.model.steps.length - 1;
    const parts: HTMLElement[] = [];
    for (const b of this.model.bands()) {
      if (!this.laneIndex.has(b.actor)) continue;
      const top = this.rowOf(b.start) * ROW_H;
      const bottom = (b.end === null ? lastRow : this.rowOf(b.end)) * ROW_H + ROW_H;
      const x = this.laneX(b.actor) - this.laneW / 2 + 5;
      const label = b.kind === 'drained' ? 'drained' : 'external off';
      parts.push(
        el('div', { class: `band band-${b.kind}`, 'data-testid': 'band', 'data-actor': b.actor, 'data-kind': b.kind, style: `top:${top}px;height:${bottom - top}px;left:${x}px;width:${this.laneW - 10}px`, title: `${b.actor}: ${b.kind === 'drained' ? 'drained section' : 'external clients disabled (externalDisableCount > 0)'}, steps ${b.start}–${b.end ?? '…'}` }, el('span', { class: 'band-label' }, label)),
      );
    }
    for (const p of this.model.phases()) {
      const top = this.rowOf(p.start) * ROW_H;
      const bottom = (p.end === null ? lastRow : this.rowOf(p.end)) * ROW_H + ROW_H;
      const whole = p.phase === 'transaction';
      parts.push(
        el('div', { class: `phase-span phase-${p.phase}${p.result === 'failed' ? ' phase-failed' : ''}`, 'data-kind': 'phase', style: whole ? `top:${top}px;height:${bottom - top}px;left:${STEP_W + 2}px;width:4px` : `top:${top}px;height:${bottom - top}px;left:${STEP_W + 10}px;width:${PHASE_W - 14}px`, title: `${p.txn} ${p.label}: steps ${p.start}–${p.end ?? '…'} (${p.result})` }, whole ? null : el('span', { class: 'phase-label' }, p.label)),
      );
    }
    this.bandsLayer.replaceChildren(...parts);
  }

  private violationsByStep(): Map<number, PlacedViolation[]> {
    return this.model.cached('violationsByStep', () => {
      const m = new Map<number, PlacedViolation[]>();
      for (const v of this.model.violations) {
        const list = m.get(v.step) ?? [];
        list.push(v);
        m.set(v.step, list);
      }
      return m;
    });
  }

  private renderWindow(): void {
    const n = this.model.steps.length;
    const top = this.scrollTop;
    const height = this.viewHeight;
    let first = Math.max(0, Math.floor(top / ROW_H) - OVERSCAN);
    let last = Math.min(n - 1, Math.ceil((top + height) / ROW_H) + OVERSCAN);
    const cur = this.rowOf(this.step);
    // The cursor's row always exists, even when the user scrolled away from it.
    if (cur < first) first = Math.max(0, cur);
    if (cur > last) last = Math.min(n - 1, cur);
    if (first === this.rendered.first && last === this.rendered.last && this.rendered.version === this.model.version) {
      this.markCurrent();
      return;
    }
    this.rendered = { first, last, version: this.model.version };
    const rows: HTMLElement[] = [];
    const byStep = this.violationsByStep();
    for (let i = first; i <= last; i++) rows.push(this.row(i, byStep));
    this.rowsLayer.replaceChildren(...rows);
    this.currentRow = null;
    this.markCurrent();
  }

  private row(i: number, violations: Map<number, PlacedViolation[]>): HTMLElement {
    const m = this.model;
    const step = m.steps[i];
    const d = m.deliveries[i];
    const row = el('div', { class: 'seq-row', 'data-testid': 'seq-row', 'data-step': String(step), style: `top:${i * ROW_H}px` }, el('span', { class: 'seq-step' }, String(step)));
    if (d) {
      const to = this.laneX(d.actor);
      const from = this.laneIndex.has(d.from) ? this.laneX(d.from) : this.laneX(OUTSIDE);
      const title = `step ${step}: ${d.from} → ${d.actor}\n${d.detail || d.event}`;
      if (from === to) {
        row.append(el('div', { class: 'msg msg-self', style: `left:${to}px`, title }, el('span', { class: 'msg-label' }, d.event)));
      } else {
        const left = Math.min(from, to);
        const width = Math.abs(to - from);
        row.append(el('div', { class: `msg ${to > from ? 'msg-right' : 'msg-left'}`, style: `left:${left}px;width:${width}px`, title }, el('span', { class: 'msg-label' }, d.event)));
      }
    } else {
      const events = m.eventsAt(step);
      const e = events.find((x) => x.type !== '@trace.state' && x.type !== '@trace.counter') ?? events[0];
      if (e) row.append(el('span', { class: 'seq-note', style: `left:${this.laneX(this.laneIndex.has(e.actor) ? e.actor : OUTSIDE) - this.laneW / 2 + 4}px` }, describeEvent(e)));
    }
    let externalMark = false;
    for (const e of m.eventsAt(step)) {
      if (isExternalDispatch(e)) {
        externalMark = true;
        row.append(this.marker('dispatch-external', step, this.laneX(e.owner), `external dispatch: ${e.id} (owner ${e.owner}) on ${e.thread}`, '⚡'));
      } else if (isExternalSubmit(e)) {
        externalMark = true;
        row.append(this.marker('submit-external', step, this.laneX(e.node), `guest request ${e.id} (${e.op}) submitted to ${e.node}`, e.id));
      } else if (e.type === '@trace.pit') {
        row.append(this.marker('pit', step, this.laneX(e.node), `point in time: ${e.kind} of ${e.node}`, '◆ PIT'));
      } else if (e.type === '@trace.guest') {
        row.append(this.marker('guest', step, this.laneX(e.actor), `guest ${e.op} ${e.id} ${e.phase === 'issue' ? 'issued' : 'completed'}`, `${e.id} ${e.phase === 'issue' ? 'issued' : 'done'}`));
      }
    }
    if (externalMark) row.classList.add('row-external');
    const vs = violations.get(step);
    if (vs) {
      row.classList.add('row-violation');
      for (const v of vs) {
        const mk = this.marker('violation', step, STEP_W + PHASE_W / 2, `${v.invariant} violated at step ${v.step}: ${v.message}`, `✖ ${v.invariant}`);
        mk.dataset.invariant = v.invariant;
        row.append(mk);
      }
    }
    return row;
  }

  private marker(kind: string, step: number, x: number, title: string, text: string): HTMLElement {
    return el('span', { class: `marker marker-${kind}`, 'data-testid': 'marker', 'data-kind': kind, 'data-step': String(step), style: `left:${x}px`, title }, text);
  }

  private markCurrent(): void {
    const cur = this.rowsLayer.querySelector<HTMLElement>(`[data-step="${this.model.steps[this.rowOf(this.step)]}"]`);
    if (cur === this.currentRow) return;
    this.currentRow?.classList.remove('current');
    cur?.classList.add('current');
    this.currentRow = cur;
  }

  setStep(step: number): void {
    this.step = step;
    const rowTop = this.rowOf(step) * ROW_H;
    const view = this.viewHeight;
    const top = this.scrollTop;
    if (rowTop < top + HEAD_H || rowTop + ROW_H > top + view) {
      this.scrollTop = Math.max(0, rowTop - view / 2);
      this.scroller.scrollTop = this.scrollTop;
    }
    this.renderWindow();
  }
}
