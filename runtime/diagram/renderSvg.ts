/**
 * Mermaid text to SVG with Mermaid itself, in headless Chromium (Debian's `chromium`, driven by
 * playwright-core): the real renderer, so an SVG looks as the same diagram looks on GitHub. No
 * browser is downloaded; without a Chromium, `--format svg` says how to get one.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { ScenarioError } from '../errors.ts';

const CHROMIUM_PATHS = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

/** The browser to use: `DRAINLAB_CHROMIUM`, else the first system Chromium found. */
export function chromiumPath(): string | null {
  const chosen = process.env.DRAINLAB_CHROMIUM;
  if (chosen) return existsSync(chosen) ? chosen : null;
  return CHROMIUM_PATHS.find((p) => existsSync(p)) ?? null;
}

/** Flags for a headless Chromium on a machine with no network: nothing reaches out at start. */
export const CHROMIUM_ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export async function renderMermaidSvgs(diagrams: readonly string[]): Promise<string[]> {
  const executablePath = chromiumPath();
  if (!executablePath) {
    throw new ScenarioError(
      `--format svg renders with Mermaid in Chromium, and no Chromium was found (${process.env.DRAINLAB_CHROMIUM ?? CHROMIUM_PATHS.join(', ')}); install it (apt-get install chromium) or set DRAINLAB_CHROMIUM, or use the default Mermaid text`,
    );
  }
  const { chromium } = await import('playwright-core');
  const mermaidScript = createRequire(import.meta.url).resolve('mermaid/dist/mermaid.min.js');
  const browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS });
  try {
    const page = await browser.newPage();
    await page.setContent('<!doctype html><html><body></body></html>');
    await page.addScriptTag({ path: mermaidScript });
    const svgs: string[] = [];
    for (const [i, text] of diagrams.entries()) {
      const result = await page.evaluate(
        async ({ text, id }) => {
          const m = (globalThis as unknown as { mermaid: { initialize(o: object): void; render(id: string, t: string): Promise<{ svg: string }> } }).mermaid;
          m.initialize({ startOnLoad: false, securityLevel: 'strict', deterministicIds: true, deterministicIDSeed: id, handDrawnSeed: 1 });
          try {
            return { svg: (await m.render(id, text)).svg, error: undefined };
          } catch (error) {
            return { svg: undefined, error: String((error as Error).message ?? error) };
          }
        },
        { text, id: `drainlab-${i}` },
      );
      if (result.svg === undefined) throw new ScenarioError(`Mermaid could not render diagram ${i + 1}: ${(result.error ?? 'no output').split('\n')[0]}`);
      svgs.push(result.svg);
    }
    return svgs;
  } finally {
    await browser.close();
  }
}
