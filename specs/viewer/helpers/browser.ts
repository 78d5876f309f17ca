/**
 * Browser helpers for the viewer's specs, the screenshot script and the viewer benchmark.
 *
 * They drive Debian's chromium through playwright-core and touch the page only through the
 * hooks viewer/README.md promises: `window.__drainlab`, the `data-testid` elements and `?step=N`.
 * A missing /usr/bin/chromium is a failure with a clear message, never a skip: CI installs it.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { inflateSync } from 'node:zlib';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { TraceLine } from '../../../runtime/trace/TraceFile.ts';

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

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** The repository's root; screenshots go under its git-ignored /out/. */
export const REPO = resolve(import.meta.dirname, '../../..');
export const SCREENSHOTS = join(REPO, 'out/browser');

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: the viewer's browser specs need Debian's chromium (apt-get install chromium)`);
  }
  // headless: false, because --headless=new in the arguments is the mode we want and
  // playwright would otherwise add its own --headless flag.
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: false });
}

/** What a page did that a spec should see: uncaught errors, console errors, requests. */
export interface PageLog {
  errors: string[];
  requests: string[];
  /** Responses with a status of 400 or more: `STATUS URL`. */
  failed: string[];
}

const logs = new WeakMap<Page, PageLog>();

export function logOf(page: Page): PageLog {
  const log = logs.get(page);
  if (!log) throw new Error('page was not opened with openPage');
  return log;
}

export interface OpenOptions {
  width?: number;
  height?: number;
  /** Wait for `__drainlab.ready` (default true). */
  waitReady?: boolean;
  timeout?: number;
  /** Runs in the page before its own scripts (the benchmark's ready clock). */
  initScript?: string;
}

/** A fresh context and page at `url`, once `window.__drainlab.ready` is true. */
export async function openPage(browser: Browser, url: string, options: OpenOptions = {}): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: options.width ?? 1400, height: options.height ?? 900 }, reducedMotion: 'reduce' });
  const page = await context.newPage();
  const log: PageLog = { errors: [], requests: [], failed: [] };
  logs.set(page, log);
  page.on('pageerror', (error) => log.errors.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    // A failed load is logged with its URL below; the console's line about it names none.
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) log.errors.push(`console.error: ${message.text()}`);
  });
  page.on('request', (request) => log.requests.push(request.url()));
  page.on('response', (response) => {
    if (response.status() >= 400) log.failed.push(`${response.status()} ${response.url()}`);
  });
  page.on('requestfailed', (request) => {
    // The page closes a live trace's EventSource itself at the stream's 'end' event (else it
    // would reconnect); when that close beats the server's own end of the response, Chromium
    // reports the request as aborted. Nothing failed to load.
    if (request.failure()?.errorText === 'net::ERR_ABORTED' && new URL(request.url()).pathname.startsWith('/api/live/')) return;
    log.failed.push(`failed (${request.failure()?.errorText}) ${request.url()}`);
  });
  if (options.initScript) await page.addInitScript(options.initScript);
  await page.goto(url, { waitUntil: 'domcontentloaded', timeout: options.timeout ?? 30_000 });
  if (options.waitReady !== false) await waitReady(page, options.timeout);
  return page;
}

export async function waitReady(page: Page, timeout = 30_000): Promise<void> {
  try {
    await page.waitForFunction(() => (window as unknown as { __drainlab?: { ready?: boolean } }).__drainlab?.ready === true, undefined, { timeout, polling: 'raf' });
  } catch (error) {
    const log = logs.get(page);
    throw new Error(`window.__drainlab.ready did not turn true within ${timeout} ms at ${page.url()}${log?.errors.length ? `; page errors: ${log.errors.join(' | ')}` : ''}`, { cause: error });
  }
}

export async function closePage(page: Page): Promise<void> {
  await page.context().close();
}

/** `window.__drainlab` as the README defines it. */
export interface DrainlabHook {
  ready: boolean;
  step: number;
  steps: number;
}

export async function hook(page: Page): Promise<DrainlabHook> {
  return page.evaluate(() => {
    const d = (window as unknown as { __drainlab: DrainlabHook }).__drainlab;
    return { ready: d.ready, step: d.step, steps: d.steps };
  });
}

export async function currentStep(page: Page): Promise<number> {
  return page.evaluate(() => (window as unknown as { __drainlab: { step: number } }).__drainlab.step);
}

/** Waits until the page shows step `n`: `__drainlab.step` and the step-current text agree. */
export async function waitStep(page: Page, n: number, timeout = 10_000): Promise<void> {
  try {
    await page.waitForFunction(
      (want) => {
        const d = (window as unknown as { __drainlab?: { step: number } }).__drainlab;
        const shown = document.querySelector('[data-testid=step-current]')?.textContent?.trim();
        return d?.step === want && shown === String(want);
      },
      n,
      { timeout, polling: 'raf' },
    );
  } catch (error) {
    const state = await page.evaluate(() => ({
      step: (window as unknown as { __drainlab?: { step: number } }).__drainlab?.step,
      shown: document.querySelector('[data-testid=step-current]')?.textContent,
    }));
    throw new Error(`the page did not reach step ${n}: __drainlab.step is ${state.step}, step-current reads ${JSON.stringify(state.shown)}`, { cause: error });
  }
}

/** Goes to step `n` through the step input (type, Enter), or through `__drainlab.goto`. */
export async function stepTo(page: Page, n: number, via: 'input' | 'goto' = 'input'): Promise<void> {
  if (via === 'goto') {
    await page.evaluate((step) => (window as unknown as { __drainlab: { goto(step: number): void } }).__drainlab.goto(step), n);
  } else {
    const input = page.locator('[data-testid=step-input]');
    await input.fill(String(n));
    await input.press('Enter');
  }
  await waitStep(page, n);
}

/** One animation frame in the page, so what a step changed is laid out. */
export async function nextFrame(page: Page): Promise<void> {
  await page.evaluate(() => new Promise<void>((done) => requestAnimationFrame(() => done())));
}

/** The trace a server serves as `/api/trace/ID`, parsed. */
export async function fetchTrace(baseUrl: string, id = 'a'): Promise<TraceLine[]> {
  const response = await fetch(new URL(`/api/trace/${id}`, baseUrl));
  if (response.status !== 200) throw new Error(`/api/trace/${id} answered ${response.status}`);
  return parseNdjson(await response.text());
}

export function parseNdjson(text: string): TraceLine[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as TraceLine);
}

// ---------------------------------------------------------------------------------------------
// Screenshots

export interface BlankCheck {
  /** Share of pixels that must differ from the commonest colour (default 0.02). */
  minOtherShare?: number;
  /** How many distinct colours must appear (default 8). */
  minColours?: number;
}

/** Writes a PNG of the page (or of one element) under out/browser/ and fails if it is blank. */
export async function screenshot(page: Page, name: string, options: BlankCheck & { selector?: string; fullPage?: boolean } = {}): Promise<string> {
  const path = join(SCREENSHOTS, `${name}.png`);
  mkdirSync(dirname(path), { recursive: true });
  await nextFrame(page);
  const png = options.selector
    ? await page.locator(options.selector).first().screenshot({ animations: 'disabled' })
    : await page.screenshot({ fullPage: options.fullPage ?? false, animations: 'disabled' });
  writeFileSync(path, png);
  assertNotBlank(png, `${name}.png`, options);
  return path;
}

/** Throws unless the image has several colours, and a good share of pixels off the background. */
export function assertNotBlank(png: Buffer, what: string, options: BlankCheck = {}): PixelStats {
  const stats = pixelStats(decodePng(png));
  const minOther = options.minOtherShare ?? 0.02;
  const minColours = options.minColours ?? 8;
  if (stats.otherShare < minOther || stats.colours < minColours) {
    throw new Error(
      `${what} looks blank: ${stats.colours} colour(s), ${(stats.otherShare * 100).toFixed(2)}% of ${stats.pixels} pixels off the commonest colour #${stats.dominant} (want at least ${minColours} colours and ${(minOther * 100).toFixed(1)}%)`,
    );
  }
  return stats;
}

export interface DecodedPng {
  width: number;
  height: number;
  /** RGBA, 8 bits a channel, row after row. */
  rgba: Uint8Array;
}

/** A minimal PNG decoder: 8-bit greyscale, grey+alpha, RGB or RGBA, not interlaced (what chromium writes). */
export function decodePng(png: Buffer): DecodedPng {
  const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  if (png.length < 8 || !png.subarray(0, 8).equals(SIGNATURE)) throw new Error('not a PNG file');
  let offset = 8;
  let width = 0;
  let height = 0;
  let colourType = -1;
  const idat: Buffer[] = [];
  while (offset + 8 <= png.length) {
    const length = png.readUInt32BE(offset);
    const type = png.toString('latin1', offset + 4, offset + 8);
    const data = png.subarray(offset + 8, offset + 8 + length);
    offset += 12 + length;
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      const bitDepth = data[8];
      colourType = data[9];
      if (bitDepth !== 8) throw new Error(`PNG bit depth ${bitDepth} is not supported`);
      if (data[12] !== 0) throw new Error('interlaced PNGs are not supported');
    } else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') break;
  }
  const channels = { 0: 1, 2: 3, 4: 2, 6: 4 }[colourType as 0 | 2 | 4 | 6];
  if (!channels || width === 0 || height === 0) throw new Error(`PNG colour type ${colourType} (${width}x${height}) is not supported`);
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  if (raw.length < height * (stride + 1)) throw new Error('PNG image data is truncated');
  const pixels = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const out = y * stride;
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? pixels[out + x - channels] : 0;
      const b = y > 0 ? pixels[out - stride + x] : 0;
      const c = x >= channels && y > 0 ? pixels[out - stride + x - channels] : 0;
      let value = line[x];
      switch (filter) {
        case 0:
          break;
        case 1:
          value += a;
          break;
        case 2:
          value += b;
          break;
        case 3:
          value += (a + b) >> 1;
          break;
        case 4: {
          const p = a + b - c;
          const pa = Math.abs(p - a);
          const pb = Math.abs(p - b);
          const pc = Math.abs(p - c);
          value += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          break;
        }
        default:
          throw new Error(`PNG filter ${filter} on row ${y} is not valid`);
      }
      pixels[out + x] = value & 0xff;
    }
  }
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0, j = 0; i < width * height; i++, j += channels) {
    const grey = channels <= 2;
    rgba[i * 4] = pixels[j];
    rgba[i * 4 + 1] = grey ? pixels[j] : pixels[j + 1];
    rgba[i * 4 + 2] = grey ? pixels[j] : pixels[j + 2];
    rgba[i * 4 + 3] = channels === 4 ? pixels[j + 3] : channels === 2 ? pixels[j + 1] : 255;
  }
  return { width, height, rgba };
}

export interface PixelStats {
  pixels: number;
  colours: number;
  /** The commonest colour, RRGGBBAA. */
  dominant: string;
  /** Share of pixels of another colour than the commonest. */
  otherShare: number;
}

export function pixelStats(image: DecodedPng): PixelStats {
  const counts = new Map<number, number>();
  const view = new DataView(image.rgba.buffer, image.rgba.byteOffset, image.rgba.byteLength);
  const pixels = image.width * image.height;
  for (let i = 0; i < pixels; i++) {
    const colour = view.getUint32(i * 4);
    counts.set(colour, (counts.get(colour) ?? 0) + 1);
  }
  let dominant = 0;
  let most = 0;
  for (const [colour, count] of counts) {
    if (count > most) {
      most = count;
      dominant = colour;
    }
  }
  return { pixels, colours: counts.size, dominant: dominant.toString(16).padStart(8, '0'), otherShare: (pixels - most) / pixels };
}
