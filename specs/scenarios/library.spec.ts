import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LIBRARY, libraryEntries, runCommand } from '../../runtime/cli/scenarioCommands.ts';
import { scenarioJsonSchema } from '../../runtime/scenario/scenarioSchema.ts';
import { loadScenarioFile } from '../../runtime/scenario/loadScenario.ts';

const entries = libraryEntries();

describe('scenario library', () => {
  it('should hold at least 15 scenarios, each with a description a teacher can read aloud', () => {
    expect(entries.length).toBeGreaterThanOrEqual(15);
    for (const e of entries) expect(loadScenarioFile(join(LIBRARY, `${e.name}.yaml`)).description.split(/\s+/).length).toBeGreaterThan(30);
  });

  it.each(entries.map((e) => [e.name, e]))('should meet its expectations: %s', (name) => {
    const lines: string[] = [];
    const code = runCommand({ scenario: name as string }, { out: (l) => lines.push(l) });
    expect(lines.filter((l) => l.includes('FAIL')), lines.join('\n')).toEqual([]);
    expect(code).toBe(0);
  });

  it('should use every action kind and every protection switch both ways', () => {
    const scenarios = entries.map((e) => loadScenarioFile(join(LIBRARY, `${e.name}.yaml`)));
    const kinds = new Set(scenarios.flatMap((s) => (s.topology.transactions ?? []).flatMap((t) => t.actions.map((a) => a.type))));
    expect([...kinds].sort()).toEqual(['abort', 'blockdev-backup', 'blockdev-snapshot-internal-sync', 'blockdev-snapshot-sync', 'drive-backup']);
    for (const sw of ['externalGating', 'nbdExternal', 'dataplaneExternal', 'transactionDrains', 'qedDrainHook'] as const) {
      const off = scenarios.filter((s) => s.topology.protections?.[sw] === false);
      const on = scenarios.filter((s) => s.topology.protections?.[sw] !== false);
      expect(off.length, `${sw} off`).toBeGreaterThan(0);
      expect(on.length, `${sw} on`).toBeGreaterThan(0);
    }
  });

  it('should have one file per entry and nothing else in the library folder', () => {
    expect(readdirSync(LIBRARY).filter((f) => f.endsWith('.yaml')).length).toBe(entries.length);
  });

  it('should ship the JSON Schema generated from the same definition that checks the files', () => {
    const committed = JSON.parse(readFileSync(join(LIBRARY, '../scenario.schema.json'), 'utf8'));
    expect(committed).toEqual(scenarioJsonSchema());
  });
});

describe('the reference configuration family', () => {
  it('should be in the library exactly as its generator writes it', async () => {
    const { REFERENCE_SIZES, referenceName, referenceScenario } = await import('../../scenarios/reference/referenceFamily.ts');
    for (const { n, d } of REFERENCE_SIZES) {
      expect(readFileSync(join(LIBRARY, `${referenceName(n, d)}.yaml`), 'utf8'), referenceName(n, d)).toBe(referenceScenario(n, d));
    }
    expect(REFERENCE_SIZES).toHaveLength(14);
  });
});
