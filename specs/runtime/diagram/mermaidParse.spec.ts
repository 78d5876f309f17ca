/**
 * Every diagram drainlab writes is read by Mermaid's own parser (in headless Chromium), not by
 * a pattern: what passes here renders on GitHub and in the docs.
 */
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { diagramMachineCommand, machineTable } from '../../../runtime/cli/diagramCommand.ts';
import { libraryEntries } from '../../../runtime/cli/scenarioCommands.ts';
import { machineDiagram } from '../../../runtime/diagram/machineDiagram.ts';
import { CHROMIUM_ARGS, chromiumPath, renderMermaidSvgs } from '../../../runtime/diagram/renderSvg.ts';
import { traceDiagram } from '../../../runtime/diagram/traceDiagram.ts';
import { describeMachine } from '../../../runtime/trace/TraceFile.ts';
import { traceLinesOf } from '../../../runtime/viewer/openView.ts';

let browser: Browser;
let page: Page;

beforeAll(async () => {
  const executablePath = chromiumPath();
  if (!executablePath) throw new Error('no Chromium: these specs need Debian chromium (apt-get install chromium), which .ci/run installs');
  browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS });
  page = await browser.newPage();
  await page.setContent('<!doctype html><html><body></body></html>');
  await page.addScriptTag({ path: createRequire(import.meta.url).resolve('mermaid/dist/mermaid.min.js') });
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

/** Mermaid's verdict on a text: its diagram type, or the parser's error. */
async function parse(text: string): Promise<string> {
  return page.evaluate(async (t) => {
    const m = (globalThis as unknown as { mermaid: { parse(t: string): Promise<{ diagramType: string }> } }).mermaid;
    try {
      return (await m.parse(t)).diagramType;
    } catch (error) {
      return `error: ${String((error as Error).message ?? error)}`;
    }
  }, text);
}

describe('Mermaid parses every machine diagram', () => {
  it.each([...machineTable().keys()])('%s', async (id) => {
    expect(await parse(machineDiagram(id, describeMachine(machineTable().get(id)!)))).toBe('stateDiagram');
  });
});

describe('Mermaid parses the trace diagram of every library scenario', () => {
  it.each(libraryEntries().map((e) => e.name))('%s', async (name) => {
    const lines = traceLinesOf(name);
    expect(await parse(traceDiagram(lines))).toBe('sequence');
    expect(await parse(traceDiagram(lines, { all: true }))).toBe('sequence');
  });
});

describe('Mermaid parses what the parser must reject', () => {
  it('should tell a broken diagram from a good one (the check can fail)', async () => {
    expect(await parse('sequenceDiagram\n  participant a as x\n  a->>: broken')).toMatch(/^error: /);
  });
});

describe('diagram --format svg', () => {
  it('should render with Mermaid to an SVG that names the participants', async () => {
    const [svg] = await renderMermaidSvgs([traceDiagram(traceLinesOf('two-external-snapshots-without-drains'), { focus: ['client:vblk1', 'node:drive1'] })]);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('node:drive1');
  }, 60_000);

  it('should write the same SVG bytes for the same machine', async () => {
    const lines: string[] = [];
    await diagramMachineCommand({ name: 'blockNode', format: 'svg' }, { out: (l) => lines.push(l) });
    await diagramMachineCommand({ name: 'blockNode', format: 'svg' }, { out: (l) => lines.push(l) });
    expect(lines[0]).toContain('<svg');
    expect(lines[0]).toBe(lines[1]);
  }, 60_000);
});
