/**
 * The viewer's benchmark: how fast `drainlab view` opens and steps through a long trace in a real
 * browser (Debian's chromium, headless), and the same for the headline.
 *
 *   npx tsx bench/viewerBench.ts                 both traces, 200 random + 200 consecutive steps
 *   npx tsx bench/viewerBench.ts --samples=50    fewer steps per figure
 *
 * Traces: bench/viewer-long.yaml (two guests writing 220 dependent writes each, four drained
 * sections; 10,000+ steps) and two-external-snapshots-without-drains. Figures, per trace:
 *  - page load: navigation start to `window.__drainlab.ready` (performance.now() in the page,
 *    polled every millisecond from a script that runs before the page's own), and wall time
 *    from page.goto to ready seen by playwright;
 *  - step latency: `__drainlab.goto(n)` then the next animation frame, measured in the page;
 *    over random steps and over consecutive steps from the middle; median and p95; the
 *    synchronous part (goto's own call) too;
 *  - DOM node count after load and after the stepping.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { openView } from '../runtime/viewer/openView.ts';
import { closePage, fetchTrace, launchBrowser, openPage, REPO } from '../specs/viewer/helpers/browser.ts';

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

const { values } = parseArgs({ options: { samples: { type: 'string', default: '200' } } });
const SAMPLES = Number(values.samples);
if (!Number.isInteger(SAMPLES) || SAMPLES < 1) throw new Error(`--samples: '${values.samples}' is not a positive whole number`);

const TRACES = [
  { name: 'viewer-long', input: join(REPO, 'bench/viewer-long.yaml'), minSteps: 10_000 },
  { name: 'two-external-snapshots-without-drains', input: 'two-external-snapshots-without-drains', minSteps: 1 },
];

/** Records when `__drainlab.ready` first turns true, in the page's own clock (ms since navigation start). */
const READY_CLOCK = `(() => {
  const poll = () => {
    const d = window.__drainlab;
    if (d && d.ready === true) { window.__drainlabReadyAt = performance.now(); return; }
    setTimeout(poll, 1);
  };
  poll();
})();`;

interface Latency {
  median: number;
  p95: number;
  syncMedian: number;
  syncP95: number;
}

function quantile(sorted: number[], q: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

function summarise(samples: { total: number; sync: number }[]): Latency {
  const total = samples.map((s) => s.total).sort((a, b) => a - b);
  const sync = samples.map((s) => s.sync).sort((a, b) => a - b);
  return { median: quantile(total, 0.5), p95: quantile(total, 0.95), syncMedian: quantile(sync, 0.5), syncP95: quantile(sync, 0.95) };
}

async function stepLatency(page: Page, steps: number[]): Promise<Latency> {
  const samples = await page.evaluate(async (list) => {
    const d = (window as unknown as { __drainlab: { step: number; goto(n: number): void } }).__drainlab;
    const out: { total: number; sync: number }[] = [];
    for (const n of list) {
      const t0 = performance.now();
      d.goto(n);
      const t1 = performance.now();
      await new Promise<void>((done) => requestAnimationFrame(() => done()));
      out.push({ total: performance.now() - t0, sync: t1 - t0 });
      if (d.step !== n) throw new Error(`goto(${n}) left the page at step ${d.step}`);
    }
    return out;
  }, steps);
  return summarise(samples);
}

async function domNodes(page: Page): Promise<number> {
  return page.evaluate(() => document.getElementsByTagName('*').length);
}

function randomSteps(last: number, count: number, seed: number): number[] {
  let x = seed;
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    out.push(x % (last + 1));
  }
  return out;
}

const ms = (x: number) => `${x.toFixed(1)} ms`;

async function benchOne(browser: Browser, trace: (typeof TRACES)[number]): Promise<void> {
  const started = performance.now();
  const server = await openView({ input: trace.input, port: 0 });
  const serverMs = performance.now() - started;
  try {
    const lines = await fetchTrace(server.url);
    const end = lines.find((l) => l.type === '@trace.end');
    const steps = end && 'steps' in end ? end.steps : NaN;
    if (!(steps >= trace.minSteps)) throw new Error(`${trace.name}: ${steps} steps, fewer than ${trace.minSteps}`);
    const wall0 = performance.now();
    const page = await openPage(browser, server.url, { width: 1600, height: 1000, initScript: READY_CLOCK, timeout: 120_000 });
    const wallMs = performance.now() - wall0;
    try {
      await page.waitForFunction(() => typeof (window as unknown as { __drainlabReadyAt?: number }).__drainlabReadyAt === 'number');
      const readyAt = await page.evaluate(() => (window as unknown as { __drainlabReadyAt: number }).__drainlabReadyAt);
      const pageSteps = await page.evaluate(() => (window as unknown as { __drainlab: { steps: number } }).__drainlab.steps);
      if (pageSteps !== steps) throw new Error(`${trace.name}: the page says ${pageSteps} steps, the trace ${steps}`);
      const nodesAtLoad = await domNodes(page);
      const startStep = await page.evaluate(() => (window as unknown as { __drainlab: { step: number } }).__drainlab.step);
      // One warm-up pass, so the figures are of stepping, not of the first JIT compilation.
      await stepLatency(page, randomSteps(steps, 20, 7));
      const random = await stepLatency(page, randomSteps(steps, SAMPLES, 12345));
      const from = Math.max(0, Math.floor(steps / 2) - Math.floor(SAMPLES / 2));
      const consecutive = await stepLatency(
        page,
        Array.from({ length: Math.min(SAMPLES, steps + 1) }, (_, i) => from + i),
      );
      const nodesAfter = await domNodes(page);
      // Back where the page started: the same view should need about the same nodes (no leak).
      await stepLatency(page, [startStep]);
      const nodesBack = await domNodes(page);
      console.log(`${trace.name}: ${steps} steps, ${lines.length} trace lines (server ready in ${ms(serverMs)})`);
      console.log(`  page load, navigation to __drainlab.ready: ${ms(readyAt)} in the page, ${ms(wallMs)} wall`);
      console.log(`  step latency, ${SAMPLES} random steps, goto then next frame: median ${ms(random.median)}, p95 ${ms(random.p95)} (goto call itself: median ${ms(random.syncMedian)}, p95 ${ms(random.syncP95)})`);
      console.log(`  step latency, ${SAMPLES} consecutive steps from ${from}: median ${ms(consecutive.median)}, p95 ${ms(consecutive.p95)} (goto call itself: median ${ms(consecutive.syncMedian)}, p95 ${ms(consecutive.syncP95)})`);
      console.log(`  DOM nodes: ${nodesAtLoad} after load (step ${startStep}), ${nodesAfter} after the stepping, ${nodesBack} back at step ${startStep}`);
    } finally {
      await closePage(page);
    }
  } finally {
    await server.close();
  }
}

async function main(): Promise<void> {
  const browser = await launchBrowser();
  try {
    console.log(`viewer bench: chromium ${browser.version()}, headless, 1600x1000`);
    for (const trace of TRACES) await benchOne(browser, trace);
  } finally {
    await browser.close();
  }
}

main().catch((error: unknown) => {
  console.error(`viewer bench: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
