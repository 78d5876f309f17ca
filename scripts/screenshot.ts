/**
 * Regenerates the viewer's pictures in docs/images/ from deterministic inputs (library scenarios
 * with their own seeds, a fixed window, a step chosen from the trace itself):
 *
 * - viewer-headline.png: two-external-snapshots-without-drains at the step where the guest's Wy
 *   is submitted (the first `@trace.io.submit` with id Wy), 1600x1000;
 * - viewer-compare.png: two-external-snapshots (left) against the same without the drains
 *   (right), as the page first shows them (step 0; the alignment of the two runs' key events,
 *   the first difference and where Wx and Wy were submitted on each side), 1600x1000.
 *
 *   npx tsx scripts/screenshot.ts
 *
 * Needs Debian's chromium at /usr/bin/chromium. Each picture is checked not to be blank.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { openView } from '../runtime/viewer/openView.ts';
import type { TraceLine } from '../runtime/trace/TraceFile.ts';
import { assertNotBlank, closePage, fetchTrace, launchBrowser, nextFrame, openPage, REPO, waitStep } from '../specs/viewer/helpers/browser.ts';

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

const OUT = join(REPO, 'docs/images');
const WIDTH = 1600;
const HEIGHT = 1000;

function firstSubmit(lines: readonly TraceLine[], id: string): number {
  const e = lines.find((l) => l.type === '@trace.io.submit' && l.id === id);
  if (!e || !('step' in e)) throw new Error(`the trace has no @trace.io.submit of ${id}`);
  return e.step;
}

async function picture(browser: Browser, options: { input: string; compare?: string; file: string; step: (a: TraceLine[], b: TraceLine[] | null) => number | null }): Promise<void> {
  const server = await openView({ input: options.input, compare: options.compare, port: 0 });
  try {
    const a = await fetchTrace(server.url, 'a');
    const b = options.compare ? await fetchTrace(server.url, 'b') : null;
    const step = options.step(a, b);
    const page = await openPage(browser, step === null ? server.url : `${server.url}?step=${step}`, { width: WIDTH, height: HEIGHT });
    try {
      if (step !== null) await waitStep(page, step);
      await page.evaluate(() => document.fonts.ready.then(() => undefined));
      await nextFrame(page);
      await nextFrame(page);
      const png = await page.screenshot({ animations: 'disabled', caret: 'hide' });
      const stats = assertNotBlank(png, options.file);
      const path = join(OUT, options.file);
      writeFileSync(path, png);
      console.log(`${path.slice(REPO.length + 1)}: ${step === null ? 'first view' : `step ${step}`}, ${WIDTH}x${HEIGHT}, ${stats.colours} colours`);
    } finally {
      await closePage(page);
    }
  } finally {
    await server.close();
  }
}

async function main(): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  const browser = await launchBrowser();
  try {
    await picture(browser, { input: 'two-external-snapshots-without-drains', file: 'viewer-headline.png', step: (a) => firstSubmit(a, 'Wy') });
    await picture(browser, {
      input: 'two-external-snapshots',
      compare: 'two-external-snapshots-without-drains',
      file: 'viewer-compare.png',
      step: () => null,
    });
  } finally {
    await browser.close();
  }
}

main().catch((error: unknown) => {
  console.error(`screenshot: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
