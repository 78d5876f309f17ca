/** Output that explains itself (issue 19, item 4): each behaviour as a new user meets it. */
import { describe, expect, it } from 'vitest';
import { main } from '../../../runtime/cli/main.ts';
import { resolveScenario } from '../../../runtime/cli/scenarioCommands.ts';
import { runScenario } from '../../../runtime/scenario/runScenario.ts';
import { INVARIANTS } from '../../../runtime/scenario/scenarioSchema.ts';
import { formatTimelineLine } from '../../../runtime/trace/formatTimeline.ts';

async function cli(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, (l) => out.push(l), (l) => err.push(l));
  return { code, out, err };
}

describe('drainlab invariants', () => {
  it('should give every invariant a name and a meaning', async () => {
    const { code, out } = await cli('invariants');
    expect(code).toBe(0);
    for (const id of INVARIANTS) expect(out.some((l) => new RegExp(`^${id} +\\S.* {2,}\\S`).test(l)), id).toBe(true);
  });

  it('should say the same as JSON', async () => {
    const { out } = await cli('invariants', '--json');
    expect(JSON.parse(out.join('\n')).map((r: { id: string }) => r.id)).toEqual([...INVARIANTS]);
  });
});

describe('run', () => {
  it('should name each invariant it reports and point at drainlab invariants', async () => {
    const { out } = await cli('run', 'two-external-snapshots');
    expect(out).toContain('ok   I10 holds (consistent cut)');
    expect(out).toContain("  (what each invariant means: 'drainlab invariants')");
  });

  it('should say with --seeds which invariant broke in how many seeds', async () => {
    const { out } = await cli('run', 'two-external-snapshots-without-drains', '--seeds', '0..2');
    expect(out).toContain('  I10 broken in 3 of 3 seeds (expected)');
  });

  it('should say with --seeds when no seed broke anything', async () => {
    const { out } = await cli('run', 'two-external-snapshots', '--seeds', '0..1');
    expect(out).toContain('  no seed broke any invariant');
  });

  it("should say 'never happened' for an event an order check never saw", () => {
    const scenario = resolveScenario('two-external-snapshots');
    const wanting = { ...scenario, expect: { ...scenario.expect, order: [['submit Wx', 'pit 7']] as [string, string][] } };
    const failed = runScenario(wanting).expectations.find((e) => e.expectation === "'submit Wx' before 'pit 7'")!;
    expect(failed.met).toBe(false);
    expect(failed.detail).toMatch(/^'submit Wx' at step \d+, 'pit 7' never happened$/);
  });

  it('should widen the actor column for long actor names instead of breaking the columns', async () => {
    const { out } = await cli('run', 'two-external-snapshots-without-drains');
    const rows = out.filter((l) => /^ +\d+ +\d+\.\d{3}ms {2}/.test(l));
    const starts = new Set(rows.map((l) => l.search(/ (drain|QMP|notifier|dispatch|write|W\w+ completed|external)/)));
    expect(rows.some((l) => l.includes('node:overlay0-file'))).toBe(true);
    expect(starts.size).toBe(1);
  });
});

describe('formatTimelineLine', () => {
  it('should pad the actor to the column it is given', () => {
    expect(formatTimelineLine({ step: 1, time: 0, actor: 'node:a', text: 'x' }, 80, 20)).toBe('    1    0.000ms  node:a               x');
  });
});

describe('replay --help', () => {
  it('should list the options and the exit codes', async () => {
    const { out } = await cli('replay', '--help');
    const text = out.join('\n');
    for (const flag of ['--json', '--trace', '--inspect']) expect(text).toContain(flag);
    expect(text).toContain('Exit codes: 0 expectations met, 1 not met, 2 bad input, 3 internal error.');
  });
});
