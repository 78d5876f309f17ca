import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '../../..');
const bin = join(root, 'bin/drainlab.js');
const wrong = join(root, 'specs/scenarios/fixtures/expects-wrongly.yaml');

function drainlab(...args: string[]) {
  const run = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd: root });
  return { code: run.status, out: run.stdout, err: run.stderr };
}

describe('drainlab run (as a process)', () => {
  it('should exit 0 when a library scenario meets its expectations', () => {
    const { code, out } = drainlab('run', 'drained-section-dataplane');
    expect(code).toBe(0);
    expect(out).toContain('expectations met');
  });

  it('should exit 1 naming the expectation, the step and what led there, with a replay line', () => {
    const { code, out } = drainlab('run', wrong);
    expect(code).toBe(1);
    expect(out).toMatch(/FAIL I10 holds \(consistent cut\): violated at step \d+/);
    expect(out).toMatch(/what led to step \d+:/);
    expect(out).toMatch(/^replay: drainlab replay .+@[0-9.*]+$/m);
  });

  it('should reproduce the same violation at the same step from the printed replay line', () => {
    const first = drainlab('run', wrong, '--json');
    const report = JSON.parse(first.out);
    const replayArg = (report.replay as string).replace(/^drainlab replay /, '');
    const again = JSON.parse(drainlab('replay', replayArg, '--json').out);
    expect(again.violations.map((v: { invariant: string; step: number }) => `${v.invariant}@${v.step}`)).toEqual(
      report.violations.map((v: { invariant: string; step: number }) => `${v.invariant}@${v.step}`),
    );
    expect(again.violations.length).toBeGreaterThan(0);
  });

  it('should print a JSON report that parses, with every expectation', () => {
    const { code, out } = drainlab('run', 'two-external-snapshots', '--json');
    expect(code).toBe(0);
    const report = JSON.parse(out);
    expect(report).toMatchObject({ scenario: 'two-external-snapshots', met: true, strategy: 'random', seed: 0 });
    expect(report.expectations.length).toBeGreaterThan(10);
    expect(report.images).toHaveLength(2);
  });

  it('should run a range of seeds and summarize', () => {
    const { code, out, err } = drainlab('run', 'two-external-snapshots-without-drains', '--seeds', '0..4');
    expect(code).toBe(0);
    expect(out).toContain('5 of 5 seeds met the expectations');
    expect(err.trim().split('\n')).toEqual(['seed 0: met', 'seed 1: met', 'seed 2: met', 'seed 3: met', 'seed 4: met']);
  });

  it('should write the trace as NDJSON', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'drainlab-')), 'run.ndjson');
    expect(drainlab('run', 'event-loop-basics', '--trace', file).code).toBe(0);
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines.length).toBeGreaterThan(50);
    for (const line of lines) expect(JSON.parse(line).type).toMatch(/^@trace\./);
  });
});

describe('drainlab list (as a process)', () => {
  it('should list the library as JSON, each with its expected verdict', () => {
    const { code, out } = drainlab('list', '--json');
    expect(code).toBe(0);
    const entries = JSON.parse(out) as { name: string; expects: string; violates: string[] }[];
    expect(entries.length).toBeGreaterThanOrEqual(15);
    expect(entries.find((e) => e.name === 'two-external-snapshots-without-drains')).toMatchObject({ expects: 'violate', violates: ['I10'] });
    expect(entries.find((e) => e.name === 'two-external-snapshots')).toMatchObject({ expects: 'hold', violates: [] });
  });
});

describe('drainlab: bad input (as a process)', () => {
  it.each([
    [['run'], "drainlab: run: expected a scenario file or library name (see 'drainlab run --help')"],
    [['run', 'no-such-scenario'], "drainlab: no scenario file or library scenario named 'no-such-scenario'; 'drainlab list' shows the library"],
    [['run', 'event-loop-basics', '--seeds', '5..1'], "drainlab: --seeds: '5..1' is not a seed range; expected A..B with whole numbers A <= B, e.g. 0..99"],
    [['run', 'event-loop-basics', '--seed', '1', '--seeds', '1..2'], 'drainlab: run: give --seed or --seeds, not both'],
    [['replay', 'nothing-here'], "drainlab: replay: 'nothing-here' is not a replay line; expected SCENARIO@PATH as a failed run prints it, e.g. two-external-snapshots@0*12.3.1"],
    [['replay', 'event-loop-basics@0*2.x'], "drainlab: replay path: token 2 'x' is not a choice; expected INDEX or INDEX*COUNT, e.g. 0*12.3.1"],
    [['list', 'extra'], "drainlab: list: unexpected argument 'extra' (see 'drainlab list --help')"],
  ])('should reject %j with exit 2 and one clear line, no stack trace', (args, message) => {
    const { code, err } = drainlab(...args);
    expect(code).toBe(2);
    expect(err.trim()).toBe(message);
  });

  it('should report a malformed scenario file as file:line:col lines with exit 2', () => {
    const { code, err } = drainlab('run', join(root, 'specs/scenarios/fixtures/two-mistakes.yaml'));
    expect(code).toBe(2);
    expect(err.trim().split('\n')).toEqual([
      `drainlab: ${join(root, 'specs/scenarios/fixtures/two-mistakes.yaml')}:4:29: nodes[0].driver: 'qcw2' is not a driver; expected one of file, raw, qcow2, qed, iscsi, curl, nbd`,
      `${join(root, 'specs/scenarios/fixtures/two-mistakes.yaml')}:5:1: colour: unknown key 'colour'; expected one of title, description, era, dispatchOrder, seed, strategy, protections, hostLatency, backupChunks, contexts, nodes, clients, transactions, script, expect, eraExpect`,
    ]);
  });
});
