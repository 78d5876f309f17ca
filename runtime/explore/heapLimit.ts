/**
 * How full node's old generation is, so that a long search stops, bounded, before V8 aborts the
 * process ("JavaScript heap out of memory": a native stack trace, and the search's figures lost).
 *
 * V8's `heap_size_limit` is the old generation's limit plus three semi-spaces of the young
 * generation, and the explorer runs with large semi-spaces (bin/drainlab.js), so the limit that
 * matters is the old generation's: `heap_size_limit` less three times the largest semi-space,
 * read from node's flags as V8 read them.
 */
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';

/** V8's largest semi-space on 64-bit machines when no flag sets it, in MiB. */
const DEFAULT_SEMI_SPACE_MIB = 16;
const MIB = 1024 * 1024;
const YOUNG_SPACES = new Set(['new_space', 'new_large_object_space']);

/** The last `--max-semi-space-size` in node's options (NODE_OPTIONS first, then the command line, as node reads them). */
export function semiSpaceMiB(execArgv: readonly string[], nodeOptions: string): number {
  let size = DEFAULT_SEMI_SPACE_MIB;
  for (const option of [...nodeOptions.split(/\s+/), ...execArgv]) {
    const match = /^--max-semi-space-size=(\d+)$/.exec(option);
    if (match) size = Number(match[1]);
  }
  return size;
}

/** The old generation's limit in bytes. */
export function oldGenerationLimit(): number {
  return getHeapStatistics().heap_size_limit - 3 * semiSpaceMiB(process.execArgv, process.env.NODE_OPTIONS ?? '') * MIB;
}

/** The bytes the old generation (every space but the young ones) holds now, garbage not yet collected included. */
export function oldGenerationUsed(): number {
  let used = 0;
  for (const space of getHeapSpaceStatistics()) if (!YOUNG_SPACES.has(space.space_name)) used += space.space_used_size;
  return used;
}
