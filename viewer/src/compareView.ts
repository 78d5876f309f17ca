/**
 * The compare panel: the two runs' key events aligned row by row, the first difference called out,
 * and the guest writes with the transaction phase each side submitted them in.
 */
import { compareTraces, describeDivergence, guestWriteSummary, type AlignedRow, type Comparison, type KeyEvent } from './compare.ts';
import { el } from './dom.ts';
import { lastAtOrBefore, type TraceModel } from './traceModel.ts';

export interface Side {
  id: 'a' | 'b';
  label: string;
  model: TraceModel;
}

export class CompareView {
  readonly el: HTMLElement;
  private comparison: Comparison | null = null;
  private version = '';
  private body: HTMLElement;
  private summary: HTMLElement;
  private divergenceEl: HTMLElement;
  private onlyDiff: HTMLInputElement;
  private rowEls: HTMLElement[] = [];
  private cursorRows: { a: number; b: number } = { a: -1, b: -1 };
  private stepsOf: { a: number[]; b: number[] } = { a: [], b: [] };

  constructor(
    private sides: [Side, Side],
    private onPick: (steps: { a?: number; b?: number }) => void,
  ) {
    this.divergenceEl = el('p', { class: 'divergence', 'data-testid': 'divergence' });
    this.summary = el('div', { class: 'write-summary' });
    this.onlyDiff = el('input', { type: 'checkbox' });
    this.onlyDiff.addEventListener('change', () => this.el.classList.toggle('only-diff', this.onlyDiff.checked));
    this.body = el('div', { class: 'cmp-body' });
    const jump = el('button', { type: 'button', class: 'btn', title: 'Move both cursors to the first difference' }, 'Go to first difference');
    jump.addEventListener('click', () => {
      const c = this.comparison;
      if (c && c.divergence >= 0) this.pick(c.divergence);
    });
    this.el = el(
      'section',
      { class: 'panel compare', 'data-testid': 'compare' },
      el('h2', {}, 'Compare the two runs by their key events'),
      el('p', { class: 'muted' }, 'External dispatches, request submits and completions, drained sections, transaction phases, points in time and violations, aligned so that an event only one run has leaves a gap on the other side. The phase column says which transaction phase each event happens inside.'),
      this.summary,
      el('div', { class: 'cmp-tools' }, this.divergenceEl, jump, el('label', { class: 'check' }, this.onlyDiff, ' only rows that differ')),
      el(
        'div',
        { class: 'cmp-table' },
        el('div', { class: 'cmp-row cmp-headrow' }, el('span', { class: 'cmp-idx' }, '#'), el('span', { class: 'cmp-cell cmp-head', 'data-side-head': 'a' }, `A · ${sides[0].label}`), el('span', { class: 'cmp-cell cmp-head', 'data-side-head': 'b' }, `B · ${sides[1].label}`)),
        this.body,
      ),
    );
    this.body.addEventListener('click', (ev) => {
      const row = (ev.target as HTMLElement).closest<HTMLElement>('[data-testid=cmp-row]');
      if (row) this.pick(Number(row.dataset.index));
    });
    this.refresh();
  }

  private pick(index: number): void {
    const c = this.comparison;
    if (!c) return;
    const r = c.rows[index];
    // A gap takes the step of that side's nearest event above it, so both cursors still move.
    const nearest = (side: 'a' | 'b'): number | undefined => {
      for (let i = index; i >= 0; i--) {
        const e = c.rows[i][side];
        if (e) return e.step;
      }
      return undefined;
    };
    this.onPick({ a: r.a?.step ?? nearest('a'), b: r.b?.step ?? nearest('b') });
  }

  /** Recomputes the alignment when either trace grew. */
  refresh(): void {
    const v = `${this.sides[0].model.version}|${this.sides[1].model.version}`;
    if (v === this.version) return;
    this.version = v;
    const c = compareTraces(this.sides[0].model, this.sides[1].model);
    this.comparison = c;
    this.divergenceEl.textContent = describeDivergence(c, { a: 'A', b: 'B' });
    this.renderSummary(c);
    this.rowEls = c.rows.map((r, i) => this.row(r, i, i === c.divergence));
    this.body.replaceChildren(...this.rowEls);
    this.stepsOf = { a: [], b: [] };
    this.cursorRows = { a: -1, b: -1 };
  }

  private renderSummary(c: Comparison): void {
    const writes = guestWriteSummary(c);
    if (!writes.length) {
      this.summary.replaceChildren();
      return;
    }
    const cell = (e: KeyEvent | undefined) => {
      if (!e) return el('td', { class: 'muted' }, 'never submitted');
      const inside = e.phase !== '-';
      return el('td', { class: inside ? 'inside-phase' : 'outside-phase' }, `step ${e.step}, `, el('b', {}, inside ? `inside ${e.phase}` : 'outside any phase'), inside ? ' — inside the transaction' : '');
    };
    this.summary.replaceChildren(
      el(
        'table',
        { class: 'writes-cmp' },
        el('thead', {}, el('tr', {}, el('th', {}, 'guest write first submitted'), el('th', {}, `A · ${this.sides[0].label}`), el('th', {}, `B · ${this.sides[1].label}`))),
        el('tbody', {}, ...writes.map((w) => el('tr', { 'data-request': w.request }, el('td', {}, el('span', { class: 'write-chip' }, w.request)), cell(w.a), cell(w.b)))),
      ),
    );
  }

  private row(r: AlignedRow, i: number, divergent: boolean): HTMLElement {
    const cell = (side: 'a' | 'b', e: KeyEvent | undefined, other: KeyEvent | undefined) => {
      // A gap has no text (the CSS draws its hint), so it reads as empty to anything that reads the row.
      if (!e) return el('span', { class: 'cmp-cell gap', 'data-side': side, title: 'This run has no such event here' });
      const phaseDiffers = !!other && other.phase !== e.phase;
      return el(
        'span',
        { class: `cmp-cell kind-${e.kind}${e.external ? ' external' : ''}`, 'data-side': side, 'data-step': String(e.step), title: `step ${e.step}, phase ${e.phase}: ${e.text}` },
        el('span', { class: 'cmp-step' }, String(e.step)),
        el('span', { class: `cmp-phase${e.phase === '-' ? ' none' : ''}${phaseDiffers ? ' differs' : ''}` }, e.phase),
        el('span', { class: 'cmp-text' }, e.text),
      );
    };
    return el(
      'div',
      { class: `cmp-row${r.same ? ' same' : ' differs'}${divergent ? ' divergent' : ''}`, 'data-testid': 'cmp-row', 'data-index': String(i), ...(divergent ? { 'data-divergent': 'true' } : {}) },
      el('span', { class: 'cmp-idx' }, String(i)),
      cell('a', r.a, r.b),
      cell('b', r.b, r.a),
    );
  }

  /** Marks, per side, the last row at or before that side's cursor. */
  showCursors(steps: { a: number; b: number }): void {
    const c = this.comparison;
    if (!c) return;
    for (const side of ['a', 'b'] as const) {
      if (!this.stepsOf[side].length && c.rows.length) {
        // Row steps per side, gaps filled from above, so a binary search finds the cursor's row.
        let last = -1;
        this.stepsOf[side] = c.rows.map((r) => (last = r[side]?.step ?? last));
      }
      const idx = lastAtOrBefore(this.stepsOf[side], steps[side]);
      if (idx === this.cursorRows[side]) continue;
      this.rowEls[this.cursorRows[side]]?.classList.remove(`cursor-${side}`);
      this.rowEls[idx]?.classList.add(`cursor-${side}`);
      this.cursorRows[side] = idx;
    }
  }
}
