import { describe, expect, it } from 'vitest';
import { main } from '../../../runtime/cli/main.ts';

async function cli(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, (l) => out.push(l), (l) => err.push(l));
  return { code, out: out.join('\n'), err };
}

describe('drainlab compare', () => {
  it('should show the 2015 and now columns side by side and name what differs', async () => {
    const { code, out } = await cli('compare', 'two-external-snapshots');
    expect(code).toBe(0);
    expect(out).toMatch(/^\s+era 2015\s+era now$/m);
    expect(out).toMatch(/^point in time 0\s+in commit\(0\), [\d.]+ ms\s+in prepare\(0\), [\d.]+ ms$/m);
    expect(out).toContain('differs: phase order; point in time 0; point in time 1');
    expect(out).toContain('same verdict in both eras: every invariant');
  });

  it('should fit an 80-column terminal', async () => {
    const { out } = await cli('compare', 'two-external-snapshots-without-drains');
    for (const line of out.split('\n')) expect(line.length, line).toBeLessThanOrEqual(80);
  });

  it('should give both eras’ phase order and the differences as JSON', async () => {
    const report = JSON.parse((await cli('compare', 'two-external-snapshots', '--json')).out);
    expect(report.eras.map((e: { era: string; phases: string }) => [e.era, e.phases])).toEqual([
      ['2015', 'prepare 0 1 · commit 0 1 · clean 0 1'],
      ['now', 'prepare 0 1 · commit 1 0 · clean 1 0'],
    ]);
    // Seed 0 admits Wx after the transaction in both eras (when, inside clean(0) or after it, is the schedule's choice).
    expect(report.differences).toEqual(['phase order', 'point in time 0', 'point in time 1']);
  });

  it("should show where a coroutine command's drain ran: in its dispatch in 2015, in a main-loop BH now", async () => {
    const report = JSON.parse((await cli('compare', 'now-drain-from-a-coroutine', '--json')).out);
    expect(report.eras.map((e: { drains: { value: string }[] }) => e.drains.map((d) => d.value))).toEqual([
      ['drains in its dispatch', 'drains in its dispatch'],
      ['drains in a main-loop BH', 'drains in a main-loop BH'],
    ]);
    expect(report.differences).toEqual(['command 0 (begin)', 'command 1 (end)']);
  });

  it('should leave out the drain rows when every drain ran in its dispatch in both eras', async () => {
    const { out } = await cli('compare', 'now-scsi-bus-drains-once');
    expect(out).not.toMatch(/^command \d/m);
    expect(out).toMatch(/^B1 admitted\s+no section open \(\+0\.50 ms\)\s+inside drive0 \(\+0\.00 ms\)$/m);
  });

  it('should say which invariant moved and exit 1 when one era misses the expectations', async () => {
    const { code, out } = await cli('compare', 'two-external-snapshots-without-drains', '--json');
    const report = JSON.parse(out);
    expect(code).toBe(1);
    expect(report.differences).toContain('I10 verdict');
    expect(report.eras.map((e: { met: boolean }) => e.met)).toEqual([true, false]);
    expect(report.eras[1].unmet.join(' ')).toContain('I10 violated');
  });

  it('should put the eras in the columns in the order given', async () => {
    const report = JSON.parse((await cli('compare', 'now-era-transaction', '--era', 'now', '--era', '2015', '--json')).out);
    expect(report.eras.map((e: { era: string }) => e.era)).toEqual(['now', '2015']);
  });

  it.each([
    [['--era', 'now'], "drainlab: compare: --era given 1 time(s); expected twice (--era 2015 --era now) or not at all"],
    [['--era', 'now', '--era', 'later'], "drainlab: --era: 'later' is not an era; expected 2015 or now"],
  ])('should refuse %j with exit 2 and one line', async (flags, message) => {
    const { code, err } = await cli('compare', 'two-external-snapshots', ...flags);
    expect(code).toBe(2);
    expect(err).toEqual([message]);
  });
});
