import { describe, expect, it } from 'vitest';
import * as drainlab from '../../runtime/index.ts';

describe('runtime/index: the library API', () => {
  it('should load and run a library scenario through the public API alone', () => {
    const scenario = drainlab.loadScenarioFile('scenarios/library/two-external-snapshots-without-drains.yaml');
    const run = drainlab.runScenario(scenario, { seed: 3 });
    expect(run.met).toBe(true);
    expect(run.result.violations.map((v) => v.invariant)).toContain('I10');
  });
});
