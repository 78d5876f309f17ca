/**
 * Bad input as a new user types it: every file flag of every command with a path that cannot be
 * written, and every flag of every command before and after the scenario name. Each gets exit 2
 * and one line that names the real problem; none is called a bug.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../../runtime/cli/main.ts';

async function cli(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, (l) => out.push(l), (l) => err.push(l));
  return { code, out, err };
}

const folder = mkdtempSync(join(tmpdir(), 'drainlab-bad-'));
const BAD_PATHS: [string, string, RegExp][] = [
  ['a missing folder', join(folder, 'missing', 'x.out'), /: no such folder$/],
  ['a folder', folder, /: it is a folder$/],
  ['a path under /proc', '/proc/x.ndjson', /: (no such folder|permission denied)$/],
];
const REPLAY = 'event-loop-basics@0';
const FILE_FLAGS: [string, string[], string, string][] = [
  ['run --trace', ['run', 'event-loop-basics', '--trace'], 'trace', ''],
  ['run --inspect', ['run', 'event-loop-basics', '--inspect'], 'inspection events', ''],
  ['replay --trace', ['replay', REPLAY, '--trace'], 'trace', ''],
  ['replay --inspect', ['replay', REPLAY, '--inspect'], 'inspection events', ''],
  ['explore --trace', ['explore', 'event-loop-basics', '--max-states', '100', '--trace'], 'trace', ''],
  ['demo --gating --trace', ['demo', '--gating', '--trace'], 'trace', '.series.ndjson'],
  ['diagram machine --out', ['diagram', 'machine', 'blockNode', '--out'], 'diagram', ''],
  ['diagram trace --out', ['diagram', 'trace', 'event-loop-basics', '--out'], 'diagram', ''],
];

describe('a file flag with a path that cannot be written', () => {
  // demo writes FILE.series.ndjson, so a folder's name is only the start of a file's: not bad input.
  const table = FILE_FLAGS.flatMap(([name, argv, what, suffix]) => BAD_PATHS.filter(([kind]) => !(suffix && kind === 'a folder')).map(([kind, path, reason]) => [`${name} with ${kind}`, [...argv, path], what, path + (kind === 'a folder' ? '' : suffix), reason] as const));
  it.each(table)('%s: exit 2, one line, before any output', async (_name, argv, what, shown, reason) => {
    const { code, out, err } = await cli([...argv]);
    expect(code).toBe(2);
    expect(err).toHaveLength(1);
    expect(err[0]).toMatch(new RegExp(`^drainlab: cannot write ${what} `));
    expect(err[0]).toMatch(reason);
    expect(err[0]).not.toMatch(/bug/i);
    if (!argv.includes('demo')) expect(err[0]).toContain(shown);
    // Nothing was run first: the problem is said before the work.
    if (argv[0] !== 'demo') expect(out).toEqual([]);
  });
});

/** Every flag that takes a value, with a bad value, for each command that has it. */
const BAD_VALUES: [string[], string, string][] = [
  [['run', 'event-loop-basics'], '--seed', "drainlab: --seed: '-1' is negative; expected a whole number from 0"],
  [['run', 'event-loop-basics'], '--strategy', "drainlab: --strategy: '-1' is not a strategy; expected fifo or random"],
  [['run', 'event-loop-basics'], '--seeds', "drainlab: --seeds: '-1' is not a seed range; expected A..B with whole numbers A <= B, e.g. 0..99"],
  [['run', 'event-loop-basics'], '--era', "drainlab: --era: '-1' is not an era; expected 2015 or now"],
  [['explore', 'event-loop-basics'], '--era', "drainlab: --era: '-1' is not an era; expected 2015 or now"],
  [['explore', 'event-loop-basics'], '--max-depth', "drainlab: --max-depth: '-1' is negative; expected a whole number from 1"],
  [['explore', 'event-loop-basics'], '--max-states', "drainlab: --max-states: '-1' is negative; expected a whole number from 1"],
  [['explore', 'event-loop-basics'], '--time-limit', "drainlab: --time-limit: '-1' is negative; expected a whole number from 1"],
  [['explore', 'event-loop-basics'], '--workers', "drainlab: --workers: '-1' is negative; expected a whole number from 1"],
  [['view', 'event-loop-basics'], '--port', "drainlab: --port: '-1' is negative; expected a whole number from 0"],
  [['view', 'event-loop-basics', '--live'], '--pace', "drainlab: --pace: '-1' is negative; expected a whole number from 1"],
  [['view', 'event-loop-basics'], '--seed', "drainlab: --seed: '-1' is negative; expected a whole number from 0"],
  [['diagram', 'trace', 'event-loop-basics'], '--seed', "drainlab: --seed: '-1' is negative; expected a whole number from 0"],
  [['diagram', 'trace', 'event-loop-basics'], '--only', "drainlab: --only: '-1' is not a list of kinds; expected some of drains,dispatch,submit,phases, e.g. --only drains,submit"],
  [['diagram', 'trace', 'event-loop-basics'], '--format', "drainlab: --format: '-1' is not a format; expected mermaid or svg"],
];

describe('a bad flag value, before and after the scenario name', () => {
  const table = BAD_VALUES.flatMap(([argv, flag, message]) => {
    const [command, ...rest] = argv;
    const sub = command === 'diagram' ? [command, rest[0]] : [command];
    const positional = command === 'diagram' ? rest.slice(1) : rest;
    const value = ['--strategy', '--seeds', '--only', '--format', '--era'].includes(flag) ? `${flag}=-1` : `${flag} -1`;
    return [
      [`${argv.join(' ')} ${value}`, [...sub, ...positional, ...value.split(' ')], message],
      [`${sub.join(' ')} ${value} ${positional.join(' ')}`, [...sub, ...value.split(' '), ...positional], message],
    ] as const;
  });
  it.each(table)('drainlab %s', async (_line, argv, message) => {
    const { code, err } = await cli([...argv]);
    expect(err).toEqual([message]);
    expect(code).toBe(2);
  });
});

describe('an unknown flag or a flag without its value, before and after the scenario name', () => {
  const COMMANDS: string[][] = [['run'], ['explore'], ['replay'], ['view'], ['diagram', 'trace']];
  const table = COMMANDS.flatMap((sub) => {
    const input = sub[0] === 'replay' ? REPLAY : 'event-loop-basics';
    const command = sub.join(' ');
    return [
      [`${command} ${input} --bogus`, [...sub, input, '--bogus'], `drainlab: ${sub[0]}: unknown option '--bogus' (see 'drainlab ${sub[0]} --help')`],
      [`${command} --bogus ${input}`, [...sub, '--bogus', input], `drainlab: ${sub[0]}: unknown option '--bogus' (see 'drainlab ${sub[0]} --help')`],
    ] as const;
  });
  it.each(table)('drainlab %s', async (_line, argv, message) => {
    const { code, err } = await cli([...argv]);
    expect(err).toEqual([message]);
    expect(code).toBe(2);
  });

  it.each([
    [['run', 'event-loop-basics', '--seed'], "drainlab: run: --seed needs a value (see 'drainlab run --help')"],
    [['explore', 'event-loop-basics', '--max-states'], "drainlab: explore: --max-states needs a value (see 'drainlab explore --help')"],
    [['view', 'event-loop-basics', '--port'], "drainlab: view: --port needs a value (see 'drainlab view --help')"],
    [['replay', REPLAY, '--trace'], "drainlab: replay: --trace needs a value (see 'drainlab replay --help')"],
  ])('should say %j needs a value', async (argv, message) => {
    const { code, err } = await cli(argv);
    expect(err).toEqual([message]);
    expect(code).toBe(2);
  });
});
