/**
 * Each invariant's name and its meaning in one line, for output that must explain itself
 * (`run`, `demo`, `drainlab invariants`); the monitors' titles say the same at length.
 */
import type { InvariantId } from './monitors.ts';

export const INVARIANT_MEANINGS: Record<InvariantId, { name: string; meaning: string }> = {
  I1: { name: 'gating', meaning: 'external handlers run only while external clients are enabled' },
  I2: { name: 'counters', meaning: 'disable and quiesce counters never go below 0 and move together' },
  I3: { name: 'nesting', meaning: 'nested drained sections keep external clients off until the last end' },
  I4: { name: 'quiescence', meaning: 'drained_begin returns only when nothing is pending below the node' },
  I5: { name: 'no admission', meaning: 'no external request enters a node inside its drained section' },
  I6: { name: 'no timer I/O', meaning: 'no driver-timer I/O on a node inside its drained section' },
  I7: { name: 'deferral', meaning: 'an external event that waited runs after the last enable: never lost, never early' },
  I8: { name: 'phase order', meaning: 'prepares in order, then commit or abort each, then clean each once' },
  I9: { name: 'pairing', meaning: 'each drained_begin in prepare has its drained_end in clean' },
  I10: { name: 'consistent cut', meaning: "the snapshots and backups hold a state the guest really had" },
  I11: { name: 'abort effects', meaning: 'a failed transaction leaves no job, snapshot or overlay behind' },
  I12: { name: 'progress', meaning: 'every transaction and every drained section ends' },
  conservation: { name: 'conservation', meaning: 'every request submitted completes exactly once' },
};
