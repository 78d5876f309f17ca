/**
 * `drainlab view` in a real browser (Debian's chromium through playwright-core): the page is
 * driven only through the hooks viewer/README.md promises, and what it shows is checked against
 * the trace the server serves (`/api/trace/a`), never against the page's own code.
 */
import { existsSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openView, type ViewServer } from '../../runtime/viewer/openView.ts';
import { ANNOTATION_TYPES, type StatechartNode, type TraceLine } from '../../runtime/trace/TraceFile.ts';
import type { TraceEvent } from '../../runtime/trace/TraceEvent.ts';
import {
  assertNotBlank,
  CHROMIUM,
  closePage,
  currentStep,
  fetchTrace,
  hook,
  launchBrowser,
  logOf,
  nextFrame,
  openPage,
  screenshot,
  stepTo,
  waitStep,
} from './helpers/browser.ts';

// Page-side globals, for the functions that run in the browser (page.evaluate): the project's
// typecheck has no DOM lib, so these are declared here, for this module only, as far as used.
interface PageElement {
  readonly dataset: Record<string, string | undefined>;
  readonly classList: { contains(name: string): boolean };
  readonly textContent: string | null;
  value: string;
  getAttribute(name: string): string | null;
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): PageElement[] & Iterable<PageElement>;
  getBoundingClientRect(): { width: number; height: number };
  dispatchEvent(event: unknown): boolean;
  blur?(): void;
}
interface PageNode {
  readonly nodeType: number;
  readonly nodeValue: string | null;
  readonly childNodes: { forEach(f: (n: PageNode) => void): void };
}
declare const document: {
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): PageElement[] & Iterable<PageElement>;
  getElementsByTagName(name: string): { length: number };
  readonly activeElement: PageElement | null;
  readonly fonts: { ready: Promise<unknown> };
};
declare const window: Record<string, unknown>;
declare const Event: new (type: string, init?: { bubbles?: boolean }) => unknown;
declare function requestAnimationFrame(callback: () => void): number;

const HEADLINE = 'two-external-snapshots-without-drains';
const SERIES = 'two-external-snapshots';
const TEST_TIMEOUT = 60_000;

// ---------------------------------------------------------------------------------------------
// What the trace says (the expected side of every check)

type Annotation<T extends TraceLine['type']> = Extract<TraceLine, { type: T }>;

class Trace {
  readonly events: TraceEvent[];
  readonly end: Annotation<'@trace.end'>;
  readonly actors: Annotation<'@trace.actor'>[];
  readonly machines: Map<string, Annotation<'@trace.machine'>>;
  readonly violations: Annotation<'@trace.violation'>[];
  readonly images: Annotation<'@trace.image'>[];

  constructor(readonly lines: TraceLine[]) {
    this.events = lines.filter((l): l is TraceEvent => !ANNOTATION_TYPES.has(l.type));
    this.end = lines.find((l): l is Annotation<'@trace.end'> => l.type === '@trace.end')!;
    this.actors = lines.filter((l): l is Annotation<'@trace.actor'> => l.type === '@trace.actor');
    this.machines = new Map(lines.filter((l): l is Annotation<'@trace.machine'> => l.type === '@trace.machine').map((m) => [m.machine, m]));
    this.violations = lines.filter((l): l is Annotation<'@trace.violation'> => l.type === '@trace.violation');
    this.images = lines.filter((l): l is Annotation<'@trace.image'> => l.type === '@trace.image');
    if (!this.end) throw new Error('the trace has no @trace.end line');
  }

  get lastStep(): number {
    return this.end.steps;
  }

  /** Distinct steps that have an event. */
  eventSteps(filter: (e: TraceEvent) => boolean = () => true): number[] {
    return [...new Set(this.events.filter(filter).map((e) => e.step))].sort((x, y) => x - y);
  }

  stateAt(actor: string, step: number): string | undefined {
    let value: string | undefined;
    for (const e of this.events) {
      if (e.step > step) break;
      if (e.type === '@trace.state' && e.actor === actor) value = e.to;
    }
    return value;
  }

  counterAt(actor: string, counter: string, step: number): number | undefined {
    let value: number | undefined;
    for (const e of this.events) {
      if (e.step > step) break;
      if (e.type === '@trace.counter' && e.actor === actor && e.counter === counter) value = e.value;
    }
    return value;
  }

  /** Every state path of an actor's machine, the root '' included. */
  statePaths(actor: string): string[] {
    const info = this.actors.find((a) => a.actor === actor)!;
    const out: string[] = [];
    const walk = (node: StatechartNode) => {
      out.push(node.path);
      node.children.forEach(walk);
    };
    walk(this.machines.get(info.machine)!.root);
    return out.sort();
  }

  /** The step at which `actor` first enters `state`. */
  firstEntry(actor: string, state: string): number {
    const e = this.events.find((x) => x.type === '@trace.state' && x.actor === actor && x.to === state);
    if (!e) throw new Error(`${actor} never enters ${state}`);
    return e.step;
  }
}

/** The paths a state value makes active: each leaf, its ancestors, and the root ''. */
function activePaths(value: string | undefined): string[] {
  if (value === undefined) return [];
  const out = new Set<string>(['']);
  for (const leaf of value.split('|').filter(Boolean)) {
    const parts = leaf.split('.');
    for (let i = 1; i <= parts.length; i++) out.add(parts.slice(0, i).join('.'));
  }
  return [...out].sort();
}

// ---------------------------------------------------------------------------------------------
// What the page shows (only through the README's hooks)

interface ChartView {
  actor: string;
  states: string[];
  active: string[];
  activeByClass: string[];
}

async function charts(page: Page): Promise<ChartView[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll('[data-testid=chart]')].map((chart) => {
      const states = [...chart.querySelectorAll('[data-state]')];
      return {
        actor: chart.dataset.actor ?? '',
        states: states.map((s) => s.getAttribute('data-state') ?? '').sort(),
        active: states.filter((s) => s.getAttribute('data-active') === 'true').map((s) => s.getAttribute('data-state') ?? '').sort(),
        activeByClass: states.filter((s) => s.classList.contains('active')).map((s) => s.getAttribute('data-state') ?? '').sort(),
      };
    }),
  );
}

async function counters(page: Page): Promise<{ actor: string; counter: string; text: string }[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll('[data-testid=counter]')].map((c) => ({ actor: c.dataset.actor ?? '', counter: c.dataset.counter ?? '', text: (c.textContent ?? '').trim() })),
  );
}

async function stateElement(page: Page, actor: string, state: string): Promise<{ active: string | null; hasClass: boolean } | null> {
  return page.evaluate(
    ([a, s]) => {
      const chart = [...document.querySelectorAll('[data-testid=chart]')].find((c) => c.dataset.actor === a);
      const el = chart ? [...chart.querySelectorAll('[data-state]')].find((x) => x.getAttribute('data-state') === s) : undefined;
      return el ? { active: el.getAttribute('data-active'), hasClass: el.classList.contains('active') } : null;
    },
    [actor, state] as const,
  );
}

/** Checks that every chart lights exactly the states the trace has active at the page's step. */
async function expectChartsMatch(page: Page, trace: Trace, step: number): Promise<void> {
  expect(await currentStep(page)).toBe(step);
  for (const chart of await charts(page)) {
    const want = activePaths(trace.stateAt(chart.actor, step));
    expect(chart.active, `${chart.actor} at step ${step}: data-active states`).toEqual(want);
    expect(chart.activeByClass, `${chart.actor} at step ${step}: states with class active`).toEqual(want);
  }
  for (const c of await counters(page)) {
    const want = trace.counterAt(c.actor, c.counter, step);
    if (want !== undefined) expect(c.text, `${c.actor} ${c.counter} at step ${step}`).toBe(String(want));
  }
}

async function markers(page: Page, kind: string): Promise<{ step: string | null; invariant: string | null }[]> {
  return page.evaluate(
    (k) =>
      [...document.querySelectorAll('[data-testid=marker]')]
        .filter((m) => m.dataset.kind === k)
        .map((m) => ({ step: m.getAttribute('data-step'), invariant: m.getAttribute('data-invariant') })),
    kind,
  );
}

async function rowSteps(page: Page): Promise<number[]> {
  return page.evaluate(() => [...document.querySelectorAll('[data-testid=seq-row]')].map((r) => Number(r.dataset.step)));
}

async function images(page: Page): Promise<{ node: string; kind: string; text: string }[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll('[data-testid=image]')].map((i) => ({ node: i.dataset.node ?? '', kind: i.dataset.kind ?? '', text: (i.textContent ?? '').trim() })),
  );
}

async function text(page: Page, testid: string): Promise<string> {
  return ((await page.locator(`[data-testid=${testid}]`).first().textContent()) ?? '').trim();
}

/** The page made no errors and asked for nothing but its own server. */
function expectClean(page: Page, server: ViewServer): void {
  const log = logOf(page);
  expect(log.errors, 'errors in the page').toEqual([]);
  expect(log.failed, 'failed loads').toEqual([]);
  const origin = new URL(server.url).origin;
  const foreign = log.requests.filter((u) => !u.startsWith(origin + '/') && !u.startsWith('data:') && !u.startsWith('blob:'));
  expect(foreign, 'requests to anything but the viewer server').toEqual([]);
}

async function click(page: Page, testid: string): Promise<void> {
  await page.locator(`[data-testid=${testid}]`).click();
}

async function blur(page: Page): Promise<void> {
  await page.evaluate(() => document.activeElement?.blur?.());
}

function urlStep(page: Page): string | null {
  return new URL(page.url()).searchParams.get('step');
}

/** The URL's ?step= reaches `want` (the page may hold replaceState back briefly: browsers throttle it). */
async function expectUrlStep(page: Page, want: string): Promise<void> {
  await expect.poll(() => urlStep(page), { timeout: 2_000, interval: 25, message: 'the URL\'s ?step=' }).toBe(want);
}

/** Steps spread over a trace, deterministic. */
function sampleSteps(last: number, count: number): number[] {
  let x = 12345;
  const out = new Set<number>([0, 1, last]);
  while (out.size < count) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    out.add(x % (last + 1));
  }
  return [...out].sort((a, b) => a - b);
}

// ---------------------------------------------------------------------------------------------

let browser: Browser;
let headline: ViewServer;
let series: ViewServer;
let headlineTrace: Trace;
let seriesTrace: Trace;

beforeAll(async () => {
  browser = await launchBrowser();
  [headline, series] = await Promise.all([openView({ input: HEADLINE, port: 0 }), openView({ input: SERIES, port: 0 })]);
  headlineTrace = new Trace(await fetchTrace(headline.url));
  seriesTrace = new Trace(await fetchTrace(series.url));
}, 120_000);

afterAll(async () => {
  await Promise.all([headline?.close(), series?.close()]);
  await browser?.close();
});

describe('the browser', () => {
  it(`is Debian's chromium at ${CHROMIUM} (CI installs it; without it these specs fail, they do not skip)`, () => {
    expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium`).toBe(true);
    expect(browser.version()).toMatch(/^\d+\./);
  });
});

describe('the blank-screenshot check', () => {
  it('fails on a blank page and passes on a page with content', { timeout: TEST_TIMEOUT }, async () => {
    const context = await browser.newContext({ viewport: { width: 800, height: 600 } });
    try {
      const page = await context.newPage();
      await page.goto('about:blank');
      expect(() => assertNotBlank(Buffer.from([0x89, 0x50, 0x4e, 0x47]), 'truncated')).toThrow(/not a PNG/);
      const blank = await page.screenshot();
      expect(() => assertNotBlank(blank, 'about:blank')).toThrow(/looks blank/);
      await page.setContent('<p style="font: 14px sans-serif">Loading...</p>');
      const loading = await page.screenshot();
      expect(() => assertNotBlank(loading, 'a page that only says Loading')).toThrow(/looks blank/);
      await page.setContent('<div style="display:grid;grid-template-columns:repeat(8,100px);gap:0">' + Array.from({ length: 48 }, (_, i) => `<div style="height:100px;background:hsl(${i * 7},60%,50%)"></div>`).join('') + '</div>');
      expect(assertNotBlank(await page.screenshot(), 'colour grid').colours).toBeGreaterThan(8);
    } finally {
      await context.close();
    }
  });
});

describe('the headline trace (two external snapshots without the drains)', () => {
  it('loads, and shows every actor\'s chart with one element per state of its machine', { timeout: TEST_TIMEOUT }, async () => {
    const page = await openPage(browser, headline.url);
    try {
      const h = await hook(page);
      expect(h.ready).toBe(true);
      expect(h.steps).toBe(headlineTrace.lastStep);
      expect(await text(page, 'step-count')).toBe(String(headlineTrace.lastStep));
      const shown = await charts(page);
      const actors = headlineTrace.actors.map((a) => a.actor).sort();
      expect(actors.length).toBeGreaterThan(5);
      expect(shown.map((c) => c.actor).sort()).toEqual(actors);
      for (const chart of shown) expect(chart.states, `${chart.actor}: its states`).toEqual(headlineTrace.statePaths(chart.actor));
      // Each chart is drawn: it has a size on the page.
      const sizes = await page.evaluate(() => [...document.querySelectorAll('[data-testid=chart]')].map((c) => ({ actor: c.dataset.actor, w: c.getBoundingClientRect().width, h: c.getBoundingClientRect().height })));
      for (const s of sizes) expect(s.w * s.h, `${s.actor}: drawn`).toBeGreaterThan(100);
      await screenshot(page, 'statecharts', { fullPage: true });
      expectClean(page, headline);
    } finally {
      await closePage(page);
    }
  });

  it('at steps across the run, every chart lights exactly the states the trace has active', { timeout: TEST_TIMEOUT }, async () => {
    const page = await openPage(browser, headline.url);
    try {
      const steps = [...sampleSteps(headlineTrace.lastStep, 10), headlineTrace.violations[0].step];
      for (const step of steps) {
        await stepTo(page, step, 'goto');
        await nextFrame(page);
        await expectChartsMatch(page, headlineTrace, step);
      }
      expectClean(page, headline);
    } finally {
      await closePage(page);
    }
  });

  it('a violation marker appears exactly at the step of the trace\'s @trace.violation, and at no other step', { timeout: TEST_TIMEOUT }, async () => {
    expect(headlineTrace.violations.map((v) => v.invariant)).toEqual(['I10']);
    const violationStep = headlineTrace.violations[0].step;
    const page = await openPage(browser, headline.url);
    try {
      await stepTo(page, violationStep);
      await nextFrame(page);
      const here = await markers(page, 'violation');
      expect(here.length).toBeGreaterThan(0);
      for (const m of here) expect(m).toEqual({ step: String(violationStep), invariant: 'I10' });
      expect(await rowSteps(page)).toContain(violationStep);
      await screenshot(page, 'sequence', { selector: '[data-testid=sequence]', minOtherShare: 0.01 });
      // Sweep the whole run (the sequence is virtualised): every row is seen once at least, and
      // every violation marker seen anywhere is at the violation's step.
      const seen = await sweepSequence(page, headlineTrace);
      expect(seen.violationSteps).toEqual([violationStep]);
      expect(seen.invariants).toEqual(['I10']);
      expectClean(page, headline);
    } finally {
      await closePage(page);
    }
  });

  it('the images panel: nothing before the first point in time; at the last step drive1\'s snapshot holds Wy and drive0\'s nothing', { timeout: TEST_TIMEOUT }, async () => {
    const page = await openPage(browser, headline.url);
    try {
      const byNode = new Map(headlineTrace.images.map((i) => [i.node, i]));
      const drive0 = byNode.get('node:drive0')!;
      const drive1 = byNode.get('node:drive1')!;
      expect(drive0.holds).toEqual([]);
      expect(drive1.holds).toEqual(['Wy']);
      expect(drive0.step).toBeLessThan(drive1.step);

      await stepTo(page, 0);
      expect(await images(page)).toEqual([]);
      await stepTo(page, drive0.step);
      expect((await images(page)).map((i) => i.node)).toEqual(['node:drive0']);
      await stepTo(page, drive1.step - 1);
      expect((await images(page)).map((i) => i.node)).toEqual(['node:drive0']);

      await stepTo(page, headlineTrace.lastStep);
      await nextFrame(page);
      const shown = await images(page);
      expect(shown.map((i) => i.node).sort()).toEqual(['node:drive0', 'node:drive1']);
      for (const i of shown) expect(i.kind).toBe('external-snapshot');
      const d0 = shown.find((i) => i.node === 'node:drive0')!;
      const d1 = shown.find((i) => i.node === 'node:drive1')!;
      expect(d1.text).toMatch(/\bWy\b/);
      expect(d1.text).not.toMatch(/\bWx\b/);
      expect(d0.text).not.toMatch(/\bW[xy]\b/);
      await screenshot(page, 'images', { selector: '[data-testid=images]', minOtherShare: 0.01 });
      expectClean(page, headline);
    } finally {
      await closePage(page);
    }
  });
});

interface Sweep {
  violationSteps: number[];
  invariants: string[];
}

/** Steps through the run so that every sequence row is rendered at some point; collects violation markers. */
async function sweepSequence(page: Page, trace: Trace): Promise<Sweep> {
  const rows = new Set<number>();
  const violationSteps = new Set<number>();
  const invariants = new Set<string>();
  let step = 0;
  const last = trace.lastStep;
  for (;;) {
    await stepTo(page, step, 'goto');
    await nextFrame(page);
    const here = await rowSteps(page);
    here.forEach((s) => rows.add(s));
    for (const m of await markers(page, 'violation')) {
      violationSteps.add(Number(m.step));
      invariants.add(m.invariant ?? '');
    }
    if (step >= last) break;
    // Move on to the last row this window showed (at least one step): windows overlap.
    const furthest = Math.max(...here.filter((s) => s > step), step + 1);
    step = Math.min(last, Math.max(step + 1, Math.floor((step + furthest) / 2) + 1));
  }
  const missing = trace.eventSteps().filter((s) => !rows.has(s));
  expect(missing, 'sequence rows never rendered during the sweep').toEqual([]);
  return { violationSteps: [...violationSteps].sort((a, b) => a - b), invariants: [...invariants].sort() };
}

describe('two external snapshots with the series', () => {
  it('stepping to where node:drive0 enters drained lights its drained state; one step back unlights it', { timeout: TEST_TIMEOUT }, async () => {
    const drained = seriesTrace.firstEntry('node:drive0', 'drained');
    expect(drained).toBeGreaterThan(0);
    const before = seriesTrace.stateAt('node:drive0', drained - 1);
    expect(before).not.toBe('drained');
    const page = await openPage(browser, series.url);
    try {
      await stepTo(page, drained);
      await nextFrame(page);
      expect(await page.locator('[data-testid=chart][data-actor="node:drive0"] [data-state=drained]').getAttribute('data-active')).toBe('true');
      expect(await stateElement(page, 'node:drive0', 'drained')).toEqual({ active: 'true', hasClass: true });
      const counter = page.locator('[data-testid=counter][data-actor="node:drive0"][data-counter=quiesceCounter]');
      expect(((await counter.textContent()) ?? '').trim()).toBe(String(seriesTrace.counterAt('node:drive0', 'quiesceCounter', drained)));
      await expectChartsMatch(page, seriesTrace, drained);

      await stepTo(page, drained - 1);
      await nextFrame(page);
      const off = await stateElement(page, 'node:drive0', 'drained');
      expect(off?.active).not.toBe('true');
      expect(off?.hasClass).toBe(false);
      expect(await stateElement(page, 'node:drive0', before!)).toEqual({ active: 'true', hasClass: true });
      await expectChartsMatch(page, seriesTrace, drained - 1);
      expectClean(page, series);
    } finally {
      await closePage(page);
    }
  });

  it('has no violation marker at any step', { timeout: TEST_TIMEOUT }, async () => {
    expect(seriesTrace.violations).toEqual([]);
    const page = await openPage(browser, series.url);
    try {
      const seen = await sweepSequence(page, seriesTrace);
      expect(seen.violationSteps).toEqual([]);
      expectClean(page, series);
    } finally {
      await closePage(page);
    }
  });

  it('?step=N shows step N, and stepping keeps the URL current', { timeout: TEST_TIMEOUT }, async () => {
    const drained = seriesTrace.firstEntry('node:drive0', 'drained');
    const page = await openPage(browser, `${series.url}?step=${drained}`);
    try {
      await waitStep(page, drained);
      expect(await stateElement(page, 'node:drive0', 'drained')).toEqual({ active: 'true', hasClass: true });
      await expectChartsMatch(page, seriesTrace, drained);
      await click(page, 'step-back');
      await waitStep(page, drained - 1);
      await expectUrlStep(page, String(drained - 1));
      expect((await stateElement(page, 'node:drive0', 'drained'))?.active).not.toBe('true');
      await stepTo(page, 42);
      await expectUrlStep(page, '42');
      await page.reload();
      await page.waitForFunction(() => (window as unknown as { __drainlab?: { ready?: boolean } }).__drainlab?.ready === true);
      await waitStep(page, 42);
      await expectChartsMatch(page, seriesTrace, 42);
      expectClean(page, series);
    } finally {
      await closePage(page);
    }
  });
});

describe('the step controls', () => {
  it('forward, back, the slider and the step input move one step, jump, and agree with each other', { timeout: TEST_TIMEOUT }, async () => {
    const page = await openPage(browser, headline.url);
    const last = headlineTrace.lastStep;
    try {
      const slider = page.locator('[data-testid=slider]');
      expect(await slider.getAttribute('type')).toBe('range');
      expect(Number(await slider.getAttribute('max'))).toBe(last);
      expect(Number((await slider.getAttribute('min')) ?? '0')).toBe(0);

      await stepTo(page, 100);
      await click(page, 'step-forward');
      await waitStep(page, 101);
      await expectUrlStep(page, '101');
      expect(await slider.inputValue()).toBe('101');
      await click(page, 'step-forward');
      await waitStep(page, 102);
      await click(page, 'step-back');
      await click(page, 'step-back');
      await waitStep(page, 100);
      await expectUrlStep(page, '100');
      await expectChartsMatch(page, headlineTrace, 100);

      // The slider, as a user drags it: value set, input and change events.
      await slider.evaluate((el: PageElement, v) => {
        el.value = String(v);
        el.dispatchEvent(new Event('input', { bubbles: true }));
        el.dispatchEvent(new Event('change', { bubbles: true }));
      }, 250);
      await waitStep(page, 250);
      await expectUrlStep(page, '250');
      await expectChartsMatch(page, headlineTrace, 250);

      // At the ends, back and forward stay in range.
      await stepTo(page, 0);
      await click(page, 'step-back');
      await nextFrame(page);
      expect(await currentStep(page)).toBe(0);
      await stepTo(page, last);
      await click(page, 'step-forward');
      await nextFrame(page);
      expect(await currentStep(page)).toBe(last);
      expectClean(page, headline);
    } finally {
      await closePage(page);
    }
  });

  it('keys: ArrowRight and ArrowLeft step, Home and End jump, Space plays then pauses', { timeout: TEST_TIMEOUT }, async () => {
    const page = await openPage(browser, headline.url);
    try {
      await stepTo(page, 200);
      await blur(page);
      await page.keyboard.press('ArrowRight');
      await waitStep(page, 201);
      await page.keyboard.press('ArrowRight');
      await waitStep(page, 202);
      await page.keyboard.press('ArrowLeft');
      await waitStep(page, 201);
      await page.keyboard.press('End');
      await waitStep(page, headlineTrace.lastStep);
      await page.keyboard.press('Home');
      await waitStep(page, 0);

      await page.keyboard.press('Space');
      await page.waitForFunction(() => (window as unknown as { __drainlab: { step: number } }).__drainlab.step >= 3, undefined, { timeout: 10_000 });
      await page.keyboard.press('Space');
      await nextFrame(page);
      const paused = await currentStep(page);
      await page.waitForTimeout(600);
      expect(await currentStep(page)).toBe(paused);
      expect(paused).toBeGreaterThanOrEqual(3);
      expect(paused).toBeLessThan(headlineTrace.lastStep);
      expect(await text(page, 'step-current')).toBe(String(paused));
      await expectUrlStep(page, String(paused));
      expectClean(page, headline);
    } finally {
      await closePage(page);
    }
  });

  it('the play button plays, then pauses', { timeout: TEST_TIMEOUT }, async () => {
    const page = await openPage(browser, headline.url);
    try {
      await stepTo(page, 10);
      await click(page, 'play');
      await page.waitForFunction(() => (window as unknown as { __drainlab: { step: number } }).__drainlab.step >= 13, undefined, { timeout: 10_000 });
      await click(page, 'play');
      await nextFrame(page);
      const paused = await currentStep(page);
      await page.waitForTimeout(600);
      expect(await currentStep(page)).toBe(paused);
      expectClean(page, headline);
    } finally {
      await closePage(page);
    }
  });

  it('next- and prev- buttons jump to the nearest step of their kind', { timeout: TEST_TIMEOUT }, async () => {
    const page = await openPage(browser, headline.url);
    const t = headlineTrace;
    const violation = t.violations[0].step;
    const kinds: [string, number[]][] = [
      ['violation', [violation]],
      ['dispatch', t.eventSteps((e) => e.type === '@trace.dispatch')],
      ['submit', t.eventSteps((e) => e.type === '@trace.io.submit')],
      ['drain', t.eventSteps((e) => e.type === '@trace.drain')],
      ['phase', t.eventSteps((e) => e.type === '@trace.txn')],
    ];
    try {
      await stepTo(page, 0);
      await click(page, 'next-violation');
      await waitStep(page, violation);
      await expectUrlStep(page, String(violation));
      expect((await markers(page, 'violation')).map((m) => m.step)).toContain(String(violation));
      await stepTo(page, t.lastStep);
      await click(page, 'prev-violation');
      await waitStep(page, violation);

      for (const [kind, steps] of kinds) {
        expect(steps.length, `${kind}: the trace has some`).toBeGreaterThan(0);
        for (const from of [0, Math.floor(t.lastStep / 3), steps[Math.floor(steps.length / 2)]]) {
          const next = steps.find((s) => s > from);
          if (next !== undefined) {
            await stepTo(page, from, 'goto');
            await click(page, `next-${kind}`);
            await waitStep(page, next);
          }
          const prev = [...steps].reverse().find((s) => s < from);
          if (prev !== undefined) {
            await stepTo(page, from, 'goto');
            await click(page, `prev-${kind}`);
            await waitStep(page, prev);
          }
        }
      }
      expectClean(page, headline);
    } finally {
      await closePage(page);
    }
  });
});

describe('compare: with the series (a) and without the drains (b)', () => {
  let compare: ViewServer;
  let a: Trace;
  let b: Trace;

  beforeAll(async () => {
    compare = await openView({ input: SERIES, compare: HEADLINE, port: 0 });
    a = new Trace(await fetchTrace(compare.url, 'a'));
    b = new Trace(await fetchTrace(compare.url, 'b'));
  }, 60_000);

  afterAll(async () => {
    await compare?.close();
  });

  /** The step range of `commit 0` in a trace. */
  function commit0(t: Trace): [number, number] {
    const txn = t.events.filter((e): e is Extract<TraceEvent, { type: '@trace.txn' }> => e.type === '@trace.txn' && e.phase === 'commit' && e.index === 0);
    return [txn.find((e) => e.result === 'start')!.step, txn.find((e) => e.result !== 'start')!.step];
  }

  function wxSubmits(t: Trace): number[] {
    return t.events.filter((e) => e.type === '@trace.io.submit' && e.id === 'Wx').map((e) => e.step);
  }

  it('the traces say it: Wx is submitted during commit 0 only without the drains', () => {
    const [aFrom, aTo] = commit0(a);
    const [bFrom, bTo] = commit0(b);
    expect(wxSubmits(a).some((s) => s >= aFrom && s <= aTo)).toBe(false);
    expect(wxSubmits(b).some((s) => s >= bFrom && s <= bTo)).toBe(true);
  });

  it('a row where Wx is submitted during commit 0 exists only on side b, and the first divergent row is marked', { timeout: TEST_TIMEOUT }, async () => {
    const page = await openPage(browser, compare.url, { width: 1600, height: 1000 });
    try {
      await expect.poll(() => page.locator('[data-testid=compare]').count()).toBe(1);
      const rows = await page.evaluate(() => {
        // Text nodes joined with spaces: a cell's parts (step, phase, event) stay words.
        const words = (el: PageElement | null): string => {
          if (!el) return '';
          const out: string[] = [];
          const walk = (node: PageNode) => {
            if (node.nodeType === 3) out.push(node.nodeValue ?? '');
            else node.childNodes.forEach(walk);
          };
          walk(el as unknown as PageNode);
          return out.join(' ').replace(/\s+/g, ' ').trim();
        };
        return [...document.querySelectorAll('[data-testid=cmp-row]')].map((r) => ({
          index: Number(r.dataset.index),
          divergent: r.getAttribute('data-divergent') === 'true',
          text: words(r),
          a: words(r.querySelector('[data-side=a]')),
          b: words(r.querySelector('[data-side=b]')),
          cells: r.querySelectorAll('[data-side=a]').length + r.querySelectorAll('[data-side=b]').length,
        }));
      });
      expect(rows.length).toBeGreaterThan(10);
      for (const r of rows) expect(r.cells, `row ${r.index}: one cell a side`).toBe(2);
      const submitsWx = (cell: string) => /\bsubmit\b/i.test(cell) && /\bWx\b/.test(cell);
      const inCommit0 = (row: { text: string }) => /\bcommit 0\b/.test(row.text);
      const bOnly = rows.filter((r) => submitsWx(r.b) && inCommit0(r) && !submitsWx(r.a));
      expect(bOnly.length, `rows: ${JSON.stringify(rows.filter((r) => /Wx/.test(r.text)))}`).toBeGreaterThan(0);
      for (const r of bOnly) expect(r.a, `row ${r.index}: side a has no Wx there`).not.toMatch(/\bWx\b/);
      expect(rows.filter((r) => submitsWx(r.a) && /\bcommit 0\b/.test(r.a)), 'side a has no Wx submit in commit 0').toEqual([]);

      const divergent = rows.filter((r) => r.divergent);
      expect(divergent).toHaveLength(1);
      const first = divergent[0];
      expect(first.a).not.toBe(first.b);
      // Every row before it tells the same story on both sides.
      for (const r of rows.filter((x) => x.index < first.index)) {
        expect(r.a, `row ${r.index}`).not.toBe('');
        expect(r.b, `row ${r.index}`).not.toBe('');
      }
      expect(first.index).toBeLessThanOrEqual(bOnly[0].index);
      const divergence = await text(page, 'divergence');
      expect(divergence).not.toBe('');
      expect(divergence).toMatch(new RegExp(`\\b${first.index}\\b|\\b${first.index + 1}\\b`));
      await screenshot(page, 'compare');
      expectClean(page, compare);
    } finally {
      await closePage(page);
    }
  });
});

describe('live', () => {
  it('step-count grows while live-status reads live, and the status ends as ended', { timeout: 90_000 }, async () => {
    const live = await openView({ input: HEADLINE, live: true, pace: 20, port: 0 });
    try {
      const session = (await (await fetch(new URL('/api/session', live.url))).json()) as { traces: { id: string; live: boolean }[] };
      expect(session.traces).toEqual([expect.objectContaining({ id: 'a', live: true })]);
      const page = await openPage(browser, live.url, { timeout: 60_000 });
      try {
        const count = async () => Number(await text(page, 'step-count'));
        expect(await text(page, 'live-status')).toBe('live');
        const first = await count();
        await page.waitForTimeout(1_500);
        const second = await count();
        expect(await text(page, 'live-status')).toBe('live');
        expect(second).toBeGreaterThan(first);
        await screenshot(page, 'live');
        await page.waitForFunction(() => document.querySelector('[data-testid=live-status]')?.textContent?.trim() === 'ended', undefined, { timeout: 60_000 });
        const full = new Trace(await fetchTrace(live.url));
        expect(full.lastStep).toBe(headlineTrace.lastStep);
        await expect.poll(count).toBe(full.lastStep);
        expect((await hook(page)).steps).toBe(full.lastStep);
        await stepTo(page, full.lastStep);
        await nextFrame(page);
        await expectChartsMatch(page, full, full.lastStep);
        expect((await images(page)).find((i) => i.node === 'node:drive1')?.text).toMatch(/\bWy\b/);
        expectClean(page, live);
      } finally {
        await closePage(page);
      }
    } finally {
      await live.close();
    }
  });
});
