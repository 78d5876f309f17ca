/**
 * The step controls (README hooks): back/forward, jump, play, slider, next/prev of an event kind,
 * keyboard. They hold no trace state: they ask `host` for the current step and call `goto`.
 */
import { el, isTyping } from './dom.ts';
import type { NavKind } from './traceModel.ts';

export interface ControlsHost {
  step(): number;
  last(): number;
  goto(step: number): void;
  next(kind: NavKind, from: number): number | undefined;
  prev(kind: NavKind, from: number): number | undefined;
}

const NAV: { kind: NavKind; label: string; title: string }[] = [
  { kind: 'dispatch', label: 'dispatch', title: 'handler, BH or timer dispatch (@trace.dispatch)' },
  { kind: 'submit', label: 'submit', title: 'request submitted to a node (@trace.io.submit)' },
  { kind: 'drain', label: 'drain', title: 'drained section begin/end, drain runs (@trace.drain)' },
  { kind: 'phase', label: 'phase', title: 'transaction phase start/end (@trace.txn)' },
  { kind: 'violation', label: 'violation', title: 'invariant violation' },
];

export class Controls {
  readonly el: HTMLElement;
  private slider: HTMLInputElement;
  private input: HTMLInputElement;
  private current: HTMLElement;
  private count: HTMLElement;
  private playBtn: HTMLButtonElement;
  private speed: HTMLSelectElement;
  private timer = 0;

  constructor(private host: ControlsHost) {
    const button = (testid: string, text: string, title: string, onClick: () => void) => {
      const b = el('button', { type: 'button', class: 'btn', 'data-testid': testid, title }, text);
      b.addEventListener('click', onClick);
      return b;
    };
    this.slider = el('input', { type: 'range', min: '0', max: '0', value: '0', 'data-testid': 'slider', class: 'slider', 'aria-label': 'step' });
    this.slider.addEventListener('input', () => this.host.goto(Number(this.slider.value)));
    this.input = el('input', { type: 'number', min: '0', value: '0', 'data-testid': 'step-input', class: 'step-input', 'aria-label': 'jump to step', title: 'Type a step and press Enter' });
    this.input.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter') {
        const n = Number(this.input.value);
        if (Number.isFinite(n)) this.host.goto(Math.round(n));
      }
    });
    this.current = el('span', { 'data-testid': 'step-current', class: 'step-current' }, '0');
    this.count = el('span', { 'data-testid': 'step-count', class: 'step-count' }, '0');
    this.playBtn = button('play', '▶ Play', 'Play / pause (Space)', () => this.toggle());
    this.speed = el('select', { class: 'speed', title: 'Steps per tick (10 ticks a second)', 'aria-label': 'speed' });
    for (const s of [1, 2, 5, 10, 25, 100]) this.speed.append(el('option', { value: String(s), ...(s === 2 ? { selected: '' } : {}) }, `${s}×`));
    const nav = NAV.map(({ kind, label, title }) =>
      el(
        'span',
        { class: `nav nav-${kind}` },
        button(`prev-${kind}`, '‹', `Previous ${title}`, () => this.jump(this.host.prev(kind, this.host.step()))),
        el('span', { class: 'nav-label' }, label),
        button(`next-${kind}`, '›', `Next ${title}`, () => this.jump(this.host.next(kind, this.host.step()))),
      ),
    );
    this.el = el(
      'div',
      { class: 'controls' },
      el(
        'div',
        { class: 'controls-row' },
        button('step-start', '|◀', 'First step (Home)', () => this.host.goto(0)),
        button('step-back', '◀ −1', 'Step back (←)', () => this.host.goto(this.host.step() - 1)),
        this.playBtn,
        button('step-forward', '+1 ▶', 'Step forward (→)', () => this.host.goto(this.host.step() + 1)),
        button('step-end', '▶|', 'Last step (End)', () => this.host.goto(this.host.last())),
        this.speed,
        el('span', { class: 'step-readout' }, 'step ', this.current, ' / ', this.count),
        el('label', { class: 'jump' }, 'go to ', this.input),
        this.slider,
      ),
      el('div', { class: 'controls-row nav-row' }, el('span', { class: 'muted' }, 'jump to previous/next:'), ...nav),
    );
    document.addEventListener('keydown', (ev) => this.key(ev));
  }

  private jump(step: number | undefined): void {
    if (step !== undefined) this.host.goto(step);
  }

  private key(ev: KeyboardEvent): void {
    if (isTyping(ev.target) || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const s = this.host.step();
    if (ev.key === 'ArrowRight') this.host.goto(s + 1);
    else if (ev.key === 'ArrowLeft') this.host.goto(s - 1);
    else if (ev.key === 'Home') this.host.goto(0);
    else if (ev.key === 'End') this.host.goto(this.host.last());
    else if (ev.key === ' ' || ev.code === 'Space') this.toggle();
    else return;
    ev.preventDefault();
  }

  get playing(): boolean {
    return this.timer !== 0;
  }

  toggle(): void {
    if (this.timer) this.pause();
    else this.play();
  }

  play(): void {
    if (this.timer) return;
    if (this.host.step() >= this.host.last()) this.host.goto(0);
    this.timer = window.setInterval(() => {
      const next = this.host.step() + Number(this.speed.value);
      this.host.goto(Math.min(next, this.host.last()));
      if (next >= this.host.last()) this.pause();
    }, 100);
    this.playBtn.textContent = '❚❚ Pause';
    this.playBtn.classList.add('playing');
  }

  pause(): void {
    if (!this.timer) return;
    clearInterval(this.timer);
    this.timer = 0;
    this.playBtn.textContent = '▶ Play';
    this.playBtn.classList.remove('playing');
  }

  /** Reflects the step (called by the page after every goto, and when a live trace grows). */
  show(step: number, last: number): void {
    const s = String(step);
    if (this.slider.max !== String(last)) this.slider.max = String(last);
    if (this.slider.value !== s) this.slider.value = s;
    if (document.activeElement !== this.input) this.input.value = s;
    this.input.max = String(last);
    this.current.textContent = s;
    this.count.textContent = String(last);
  }
}
