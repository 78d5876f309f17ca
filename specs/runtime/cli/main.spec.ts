import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../../runtime/cli/main.ts';

async function cli(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, (l) => out.push(l), (l) => err.push(l));
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('drainlab demo (the headline, npm start)', () => {
  it('should show both runs side by side: where the writes landed, the images, the broken invariant', async () => {
    const { code, out } = await cli('demo');
    expect(code).toBe(0);
    expect(out).toMatch(/Wx admitted +after clean → overlay0 +in commit\(0\) → overlay0/);
    expect(out).toMatch(/Wy admitted +after clean → overlay1 +in commit\(0\) → drive1/);
    expect(out).toMatch(/snapshot of drive1 +holds \[\] +holds \[Wy\]/);
    expect(out).toMatch(/I10 consistent cut +holds +VIOLATED at step \d+/);
    expect(out).toMatch(/I1 gating +holds +holds/);
  });

  it('should fit an 80-column terminal', async () => {
    const { out } = await cli('demo');
    expect(out.split('\n').filter((l) => l.length > 80)).toEqual([]);
  });

  it('should refuse --trace without --gating, pointing at drainlab run', async () => {
    const { code, err } = await cli('demo', '--trace', 'x.ndjson');
    expect(code).toBe(2);
    expect(err).toContain("drainlab run two-external-snapshots --trace FILE");
  });
});

describe('drainlab demo --gating', () => {
  it('should exit 0 and show both runs with a verdict per invariant', async () => {
    const { code, out } = await cli('demo', '--gating');
    expect(code).toBe(0);
    expect(out).toContain('== with the series (all protections on)');
    expect(out).toContain('== external gating switched off');
    expect(out).toMatch(/I1 +holds +violated at step \d+/);
    expect(out).toMatch(/I5 +holds +violated at step \d+/);
    expect(out).toMatch(/I2 +holds +holds/);
  });

  it('should fit an 80-column terminal', async () => {
    const { out } = await cli('demo', '--gating');
    expect(out.split('\n').filter((l) => l.length > 80)).toEqual([]);
  });

  it('should print the seed and a replay path for a random run', async () => {
    const { out } = await cli('demo', '--gating', '--strategy', 'random', '--seed', '42');
    expect(out).toMatch(/seed 42, strategy random, \d+ steps, replay path [0-9.*]+/);
  });

  it('should write both traces as NDJSON with --trace', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'drainlab-'));
    const { code } = await cli('demo', '--gating', '--trace', join(dir, 'demo.ndjson'));
    expect(code).toBe(0);
    for (const suffix of ['series', 'no-gating']) {
      const lines = readFileSync(join(dir, `demo.${suffix}.ndjson`), 'utf8').trim().split('\n');
      expect(lines.length).toBeGreaterThan(100);
      for (const line of lines) expect(JSON.parse(line).type).toMatch(/^@trace\./);
    }
  });
});

describe('drainlab: bad input', () => {
  it.each([
    [['demo', '--seed', 'abc'], "drainlab: --seed: 'abc' is not a seed; expected a whole number from 0 to 4294967295"],
    [['demo', '--seed', '-1'], "drainlab: --seed: '-1' is negative; expected a whole number from 0"],
    [['run', 'event-loop-basics', '--seed', '-1'], "drainlab: --seed: '-1' is negative; expected a whole number from 0"],
    [['explore', 'event-loop-basics', '--max-states', '-3'], "drainlab: --max-states: '-3' is negative; expected a whole number from 1"],
    [['run', 'event-loop-basics', '--bogus'], "drainlab: run: unknown option '--bogus' (see 'drainlab run --help')"],
    [['run', 'event-loop-basics', '--seed'], "drainlab: run: --seed needs a value (see 'drainlab run --help')"],
    [['demo', '--seed=-1'], "drainlab: --seed: '-1' is not a seed; expected a whole number from 0 to 4294967295"],
    [['demo', '--seed'], "drainlab: demo: --seed needs a value (see 'drainlab demo --help')"],
    [['demo', '--strategy', 'lifo'], "drainlab: --strategy: 'lifo' is not a strategy; expected fifo or random"],
    [['demo', '--nope'], "drainlab: demo: unknown option '--nope' (see 'drainlab demo --help')"],
    [['explore', 'event-loop-basics', '--workers', '0'], "drainlab: --workers: '0' is not a positive whole number"],
    [['explore', 'event-loop-basics', '--workers', '65'], "drainlab: --workers: '65' is more than 64 worker threads"],
    [['explore', 'event-loop-basics', '--max-states', '1.5'], "drainlab: --max-states: '1.5' is not a positive whole number"],
    [['explode'], "drainlab: unknown command 'explode'; expected one of: run, explore, replay, list, invariants, schema, diagram, tour, view, demo (see 'drainlab --help')"],
  ])('should reject %j with exit code 2 and one clear line', async (argv, message) => {
    const { code, err } = await cli(...argv);
    expect(code).toBe(2);
    expect(err.split('\n')[0]).toBe(message);
  });

  it('should print help with exit 0 on --help, and usage with exit 2 when no command is given', async () => {
    expect((await cli('--help')).code).toBe(0);
    expect((await cli('demo', '--help')).out).toContain('Example:');
    expect((await cli()).code).toBe(2);
  });
});

describe('drainlab as a process', () => {
  const bin = join(import.meta.dirname, '../../../bin/drainlab.js');

  it('should exit 2 without a stack trace on a bad flag', () => {
    const run = spawnSync(process.execPath, [bin, 'demo', '--seed', 'x'], { encoding: 'utf8' });
    expect(run.status).toBe(2);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(run.stderr.trim()).toBe("drainlab: --seed: 'x' is not a seed; expected a whole number from 0 to 4294967295");
  });

  it('should run the demo and exit 0', () => {
    const run = spawnSync(process.execPath, [bin, 'demo'], { encoding: 'utf8' });
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('I10');
  });

  it('should pass explore’s report and exit code 0 on from the node it starts explore in', () => {
    const run = spawnSync(process.execPath, [bin, 'explore', 'drained-section-nbd'], { encoding: 'utf8' });
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('verdict: proved');
  });

  it('should pass explore’s bad-input message and exit code 2 on, without a stack trace', () => {
    const run = spawnSync(process.execPath, [bin, 'explore', 'no-such-scenario'], { encoding: 'utf8' });
    expect(run.status).toBe(2);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(run.stderr).toContain("no scenario file or library scenario named 'no-such-scenario'");
  });
});

describe('drainlab explore', () => {
  it('should exit 0 when a protection-off scenario shows every violation it expects, and explain each in words', async () => {
    const { code, out } = await cli('explore', 'drained-section-without-gating', '--granularity', 'message');
    expect(code).toBe(0);
    expect(out).toContain('verdict: proved');
    expect(out).toMatch(/expected violation I1: shortest interleaving 22 steps, found after [\d.]+ s \([\d,]+ states\), replay drainlab replay drained-section-without-gating@\S+/);
    expect(out).toContain('counterexample (22 steps): I1 at step 22');
    expect(out).toContain('why it matters: aio_disable_external(ctx:iothread0)');
    expect(out).toMatch(/hashes only are stored \(\d+ bytes per state with its parent link\)/);
    expect(out).toContain('reductions: sleep sets on, persistent singletons off');
    expect(out.trim().split('\n').at(-1)).toBe('expectations met');
  });

  it('should say when each expected violation was found, no later than the verdict', async () => {
    const report = JSON.parse((await cli('explore', 'two-external-snapshots-without-drains', '--json')).out);
    const found = report.foundAfter.I10;
    expect(found.states).toBeGreaterThan(0);
    expect(found.states).toBeLessThanOrEqual(report.states);
    expect(found.seconds).toBeLessThanOrEqual(report.seconds);
  });

  it('should explore a thread call chain per step by default, and say so', async () => {
    const { code, out } = await cli('explore', 'drained-section-without-gating');
    expect(code).toBe(0);
    expect(out).toContain("granularity: thread (a step is a QEMU thread's call chain until it waits");
    expect(out).toContain('reductions: sleep sets on, persistent singletons off');
    const steps = Number(/expected violation I1: shortest interleaving (\d+) steps, found after [^,]+, replay drainlab replay drained-section-without-gating@\S+/.exec(out)![1]);
    expect(steps).toBeGreaterThanOrEqual(22);
    expect(out.trim().split('\n').at(-1)).toBe('expectations met');
  });

  it('should exit 1 with the verdict bounded when the state budget runs out', async () => {
    const { code, out } = await cli('explore', 'two-external-snapshots', '--max-states', '50');
    expect(code).toBe(1);
    expect(out).toContain('verdict: bounded (50 states stored (--max-states))');
  });

  it('should visit the same states with --no-sleep-sets, taking more transitions', async () => {
    const asleep = JSON.parse((await cli('explore', 'drained-section-dataplane', '--json', '--granularity', 'message')).out);
    const awake = JSON.parse((await cli('explore', 'drained-section-dataplane', '--json', '--granularity', 'message', '--no-sleep-sets')).out);
    expect(awake.verdict).toBe('proved');
    const none = { reduce: false, symmetry: false, symmetryClasses: [] };
    expect([asleep.reductions, awake.reductions]).toEqual([{ sleepSets: true, ...none }, { sleepSets: false, ...none }]);
    expect(awake.states).toBe(asleep.states);
    expect(awake.transitions).toBeGreaterThan(asleep.transitions);
  });

  it('should merge mirror-image states of identical clients unless --no-symmetry, and say so', async () => {
    const merged = await cli('explore', 'identical-clients-ready-list', '--granularity', 'message');
    const whole = await cli('explore', 'identical-clients-ready-list', '--granularity', 'message', '--no-symmetry');
    expect(merged.out).toContain('symmetry on over {nbd0, nbd1}');
    expect(whole.out).toContain('symmetry off (--no-symmetry)');
    const states = (out: string) => Number(/^(\d+) states/m.exec(out)![1]);
    expect(states(merged.out)).toBeLessThan(states(whole.out) * 0.55);
    expect((await cli('explore', 'drained-section-dataplane')).out).toMatch(/symmetry none \(ready handlers run in handler-list order/);
  });

  it('should write the counterexample as NDJSON and report as JSON, the same with two workers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'drainlab-'));
    const one = await cli('explore', 'drained-section-without-gating', '--json', '--granularity', 'message', '--trace', join(dir, 'one.ndjson'));
    const two = await cli('explore', 'drained-section-without-gating', '--json', '--granularity', 'message', '--workers', '2', '--trace', join(dir, 'two.ndjson'));
    // Wall-clock times differ; the states at which each violation was found do not.
    const strip = (text: string) => {
      const report = JSON.parse(text);
      const foundAfter = Object.fromEntries(Object.entries(report.foundAfter as Record<string, { states: number }>).map(([id, f]) => [id, f.states]));
      return { ...report, seconds: 0, foundAfter };
    };
    expect(strip(two.out)).toEqual(strip(one.out));
    expect(JSON.parse(one.out).expected.I1.steps).toBe(22);
    const trace = readFileSync(join(dir, 'one.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(trace.some((e) => e.step === 22 && e.type === '@trace.dispatch')).toBe(true);
    expect(readFileSync(join(dir, 'two.ndjson'), 'utf8')).toBe(readFileSync(join(dir, 'one.ndjson'), 'utf8'));
  });
});

describe('drainlab run, explore and replay --era', () => {
  it('should run a 2015 scenario in the now era, say so, and still meet its expectations', async () => {
    const { code, out } = await cli('run', 'two-external-snapshots', '--era', 'now');
    expect(code).toBe(0);
    expect(out).toContain('era: now (--era; the file says 2015)');
    expect(out.trim().split('\n').at(-1)).toBe('expectations met');
  });

  it('should say nothing about the era when the flag is not given', async () => {
    const { out } = await cli('run', 'two-external-snapshots');
    expect(out).not.toContain('era:');
  });

  it('should report the era it ran in, in the JSON report', async () => {
    const now = JSON.parse((await cli('run', 'two-external-snapshots', '--era', 'now', '--json')).out);
    const file = JSON.parse((await cli('run', 'two-external-snapshots', '--json')).out);
    expect([now.era, file.era]).toEqual(['now', '2015']);
  });

  it('should give replay lines that carry --era, which replay to the same violation', async () => {
    const explored = JSON.parse((await cli('explore', 'qed-timer-without-hook', '--era', 'now', '--json')).out);
    expect(explored.era).toBe('now');
    const line: string = explored.expected.I6.replay;
    expect(line).toMatch(/^drainlab replay qed-timer-without-hook@\S+ --era now$/);
    const path = line.split(' ')[2];
    const replayed = JSON.parse((await cli('replay', path, '--era', 'now', '--json')).out);
    expect(replayed.violations.map((v: { invariant: string }) => v.invariant)).toContain('I6');
    expect(replayed.era).toBe('now');
  });
});
