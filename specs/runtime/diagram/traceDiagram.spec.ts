import { describe, expect, it } from 'vitest';
import { traceDiagram } from '../../../runtime/diagram/traceDiagram.ts';
import { traceLinesOf } from '../../../runtime/viewer/openView.ts';

const series = traceLinesOf('two-external-snapshots');
const withoutDrains = traceLinesOf('two-external-snapshots-without-drains');

describe('traceDiagram', () => {
  it('should draw a drained section as a band that opens at the first drained_begin and closes after the last drained_end', () => {
    const lines = traceDiagram(series).split('\n');
    const open = lines.findIndex((l) => l.includes('drained section ('));
    expect(lines[open - 1].trim()).toMatch(/^rect rgba\(90, 140, 255/);
    const inside = lines.slice(open);
    const close = inside.findIndex((l, i) => l.trim() === 'end' && !inside[i - 2]?.includes('rect rgba(255, 90, 60') && !inside[i - 2]?.includes('rect rgba(220, 30, 30'));
    expect(inside.slice(0, close).some((l) => l.includes('bdrv_drained_end (quiesce 0)'))).toBe(true);
  });

  it('should highlight an external submission and say when it is inside a drained section', () => {
    const lines = traceDiagram(withoutDrains).split('\n');
    const wx = lines.findIndex((l) => /client_vblk0->>node_overlay0: step \d+: write Wx submitted/.test(l));
    expect(wx).toBeGreaterThan(0);
    expect(lines[wx - 1].trim()).toBe('rect rgba(255, 90, 60, 0.28)');
    expect(lines[wx + 1].trim()).toBe('end');
  });

  it('should note the violation at its step', () => {
    const text = traceDiagram(withoutDrains);
    expect(text).toMatch(/Note over txn_1,node_drive1: step 454: I10 violated: /);
  });

  it('should keep only the focused actors', () => {
    const text = traceDiagram(withoutDrains, { focus: ['client:vblk1', 'node:drive1'] });
    const participants = text.split('\n').filter((l) => l.trim().startsWith('participant'));
    expect(participants).toEqual(['  participant client_vblk1 as client:vblk1', '  participant node_drive1 as node:drive1']);
  });

  it('should leave out the kinds not asked for', () => {
    const text = traceDiagram(withoutDrains, { only: ['phases'] });
    expect(text).not.toContain('dispatch');
    expect(text).toContain('commit 0');
  });

  it('should add every delivery with all', () => {
    const some = traceDiagram(withoutDrains).split('\n').length;
    const every = traceDiagram(withoutDrains, { all: true }).split('\n').length;
    expect(every).toBeGreaterThan(some + 100);
  });

  it('should be the same bytes for the same run', () => {
    expect(traceDiagram(traceLinesOf('two-external-snapshots-without-drains'))).toBe(traceDiagram(withoutDrains));
  });
});
