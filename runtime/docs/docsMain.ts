/**
 * `npm run docs`: regenerates the generated blocks of README.md and docs/; `--check` writes
 * nothing and exits 1 naming each page that is out of date (CI also regenerates and runs
 * `git diff --exit-code`).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ScenarioError } from '../errors.ts';
import { DOC_PATHS } from './docsPaths.ts';
import { generateDocs } from './generateDocs.ts';

const ROOT = resolve(import.meta.dirname, '../..');

async function run(check: boolean): Promise<number> {
  const pages = await generateDocs(ROOT, DOC_PATHS);
  const stale = pages.filter((p) => readFileSync(join(ROOT, p.file), 'utf8') !== p.text);
  if (check) {
    for (const p of stale) console.error(`${p.file}: out of date; run 'npm run docs'`);
    return stale.length ? 1 : 0;
  }
  for (const p of stale) writeFileSync(join(ROOT, p.file), p.text);
  console.log(`${pages.length} pages, ${stale.length} regenerated${stale.length ? `: ${stale.map((p) => p.file).join(', ')}` : ''}`);
  return 0;
}

run(process.argv.includes('--check')).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    console.error(error instanceof ScenarioError ? error.message : error);
    process.exitCode = 2;
  },
);
