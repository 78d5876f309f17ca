/** `drainlab explore`'s progress: what a person waiting at the terminal is told, and when. */
import { describe, expect, it } from 'vitest';
import { exploreCommand } from '../../../runtime/cli/exploreCommand.ts';

function explored(scenario: string) {
  const out: string[] = [];
  const progress: { line: string; final: boolean; outBefore: number }[] = [];
  const code = exploreCommand({ scenario }, { out: (l) => out.push(l), progress: (line, final) => progress.push({ line, final, outBefore: out.length }) });
  return { code, out, progress };
}

describe('drainlab explore, as it goes', () => {
  it('should say each expected violation as it is found, before the verdict is printed', () => {
    const { code, out, progress } = explored('two-external-snapshots-without-drains');
    expect(code).toBe(0);
    const found = progress.filter((p) => p.line.startsWith('found '));
    expect(found.map((p) => p.line)).toEqual([expect.stringMatching(/^found I10 after [\d.]+ s \([\d,]+ states\): a shortest interleaving of \d+ steps; exploring on to the verdict$/)]);
    expect(found[0].final).toBe(true);
    expect(found[0].outBefore).toBe(0);
    const steps = /of (\d+) steps/.exec(found[0].line)![1];
    expect(out.join('\n')).toContain(`expected violation I10: shortest interleaving ${steps} steps`);
  });

  it('should say nothing of the kind when every invariant holds', () => {
    const { progress } = explored('two-external-snapshots');
    expect(progress.some((p) => p.line.startsWith('found '))).toBe(false);
  });
});
