import { describe, expect, it } from 'vitest';
import { oldGenerationLimit, oldGenerationUsed, semiSpaceMiB } from '../../../runtime/explore/heapLimit.ts';

describe('heap limit', () => {
  it("should read V8's default semi-space when no flag sets it", () => {
    expect(semiSpaceMiB([], '')).toBe(16);
  });

  it('should take the last --max-semi-space-size, the command line after NODE_OPTIONS', () => {
    expect(semiSpaceMiB(['--max-semi-space-size=512'], '--max-semi-space-size=64 --max-old-space-size=900')).toBe(512);
    expect(semiSpaceMiB(['--import', 'tsx'], '--max-semi-space-size=64')).toBe(64);
  });

  it('should see an old generation that holds something and is below its limit', () => {
    const used = oldGenerationUsed();
    expect(used).toBeGreaterThan(0);
    expect(used).toBeLessThan(oldGenerationLimit());
  });
});
