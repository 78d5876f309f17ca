/**
 * The docs are part of the product: every generated block is up to date, and every drainlab
 * command a page shows in a shell block really runs (a doc example that stops working fails).
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { main } from '../../runtime/cli/main.ts';
import { describe, expect, it, vi } from 'vitest';
import { commandArguments, generateDocs } from '../../runtime/docs/generateDocs.ts';
import { DOC_PATHS } from '../../runtime/docs/docsPaths.ts';
import { openView } from '../../runtime/viewer/openView.ts';

vi.setConfig({ testTimeout: 300_000 });

const ROOT = resolve(import.meta.dirname, '../..');
const pages = await generateDocs(ROOT, DOC_PATHS);

/** `npx drainlab ...` lines of the ```sh blocks of a page (comments after `#` dropped). */
function shownCommands(text: string): string[] {
  const commands: string[] = [];
  for (const block of text.matchAll(/```sh\n([\s\S]*?)```/g)) {
    for (const raw of block[1].split('\n')) {
      // A shell's redirection or pipe is not part of the drainlab command.
      const line = raw.replace(/\s+#.*$/, '').replace(/\s[>|].*$/, '').trim();
      if (/^(npx )?drainlab\s/.test(line)) commands.push(line.replace(/^npx /, ''));
    }
  }
  return commands;
}

/** Explorations shown in the docs are run with a small budget: the example must work, not finish a proof. */
function bounded(args: string[]): string[] {
  if (args[1] !== 'explore') return args;
  const kept = args.filter((a, i) => !['--max-states', '--time-limit'].includes(a) && !['--max-states', '--time-limit'].includes(args[i - 1]));
  return [...kept, '--max-states', '20000'];
}

/** Files a shown command writes, or reads after another wrote them, live in a scratch folder, not in the checkout. */
const scratch = mkdtempSync(join(tmpdir(), 'drainlab-docs-'));
function inScratch(args: string[]): string[] {
  return args.map((a, i) => {
    if (['--trace', '--inspect', '--out'].includes(args[i - 1])) return join(scratch, basename(a));
    return existsSync(join(scratch, a)) ? join(scratch, a) : a;
  });
}

describe('docs', () => {
  it('should find the pages', () => {
    expect(pages.map((p) => p.file)).toContain('README.md');
    expect(pages.length).toBeGreaterThan(1);
  });

  it.each(pages.map((p) => p.file))('should have %s up to date with its generated blocks (npm run docs)', (file) => {
    expect(readFileSync(join(ROOT, file), 'utf8')).toBe(pages.find((p) => p.file === file)!.text);
  });

  const shown = [...new Set(pages.flatMap((p) => shownCommands(p.text)))];
  it('should show drainlab commands', () => {
    expect(shown.length).toBeGreaterThan(5);
  });

  it.each(shown)('should run `%s` as shown', async (line) => {
    const args = inScratch(commandArguments(line));
    if (args[1] === 'view') {
      // The viewer serves until stopped: the example must start, then it is closed.
      const input = args[2];
      const compare = args.indexOf('--compare') > 0 ? args[args.indexOf('--compare') + 1] : undefined;
      const server = await openView({ input, compare, live: args.includes('--live'), port: 0 });
      await server.close();
      return;
    }
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(bounded(args).slice(1), (l) => out.push(l), (l) => err.push(l));
    expect(err.filter((l) => !/^states \d+/.test(l)), line).toEqual([]);
    expect([0, 1], line).toContain(code);
  });
});
