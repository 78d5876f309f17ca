/**
 * The malformed-scenario corpus: every file in specs/scenarios/malformed/ is a small mistake a
 * user makes, and its leading comments say what is wrong and the exact lines the loader must
 * print (`# expect: FILE:line:col: message`, FILE standing for the path the file was loaded by).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ScenarioError } from '../../../runtime/errors.ts';
import { loadScenarioFile } from '../../../runtime/scenario/loadScenario.ts';

const folder = join(import.meta.dirname, '../../scenarios/malformed');
const files = readdirSync(folder)
  .filter((f) => f.endsWith('.yaml'))
  .sort();

/**
 * Files whose expectation is what the loader should print but does not yet: their tests are
 * `it.fails` until the loader is fixed (then take the file out of this list).
 */
const KNOWN_LOADER_BUGS = new Set<string>([]);

interface Case {
  file: string;
  path: string;
  summary: string;
  expected: string[];
}

function readCase(file: string): Case {
  const path = join(folder, file);
  const lines = readFileSync(path, 'utf8').split('\n');
  // The leading comment block: an empty file is nothing but comments.
  const firstYamlLine = lines.findIndex((l) => !l.startsWith('#'));
  const comments = firstYamlLine === -1 ? lines : lines.slice(0, firstYamlLine);
  const expected = comments
    .map((l) => /^# expect: (.*)$/.exec(l)?.[1])
    .filter((e): e is string => e !== undefined)
    .map((e) => e.replaceAll('FILE', path));
  return { file, path, summary: comments[0]?.replace(/^#\s*/, '') ?? '', expected };
}

/** The error loading the file throws, or undefined when it loads. */
function loadError(path: string): unknown {
  try {
    loadScenarioFile(path);
    return undefined;
  } catch (error) {
    return error;
  }
}

const cases = files.map(readCase);

describe('malformed scenario files', () => {
  it('should have a corpus of at least 25 files, each with its expected output', () => {
    expect(files.length).toBeGreaterThanOrEqual(25);
    expect(cases.filter((c) => c.summary === '' || c.expected.length === 0).map((c) => c.file)).toEqual([]);
  });

  it('should list only files of the corpus as known loader bugs', () => {
    expect([...KNOWN_LOADER_BUGS].filter((f) => !files.includes(f))).toEqual([]);
  });

  for (const c of cases) {
    const test = KNOWN_LOADER_BUGS.has(c.file) ? it.fails : it;
    test(`should report ${c.file}: ${c.summary}`, () => {
      const error = loadError(c.path);
      expect(error).toBeInstanceOf(ScenarioError);
      expect((error as ScenarioError).message.split('\n')).toEqual(c.expected);
    });
  }

  it('should print no stack trace, undefined or [object ...] in any message', () => {
    const bad = cases.flatMap((c) => {
      const error = loadError(c.path);
      if (!(error instanceof Error)) return [];
      const { message } = error;
      return /\n\s+at /.test(message) || /undefined|\[object/.test(message) ? [`${c.file}: ${message}`] : [];
    });
    expect(bad).toEqual([]);
  });
});
