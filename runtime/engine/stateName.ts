/**
 * What a snapshot's state configuration says, computed once per snapshot or per state.
 */
import type { AnyMachineSnapshot } from 'xstate';
import { keptOn, stampOn } from './partCache.ts';

const acceptedByState = new WeakMap<object, Map<string, ReadonlySet<string>>>();
/** A snapshot's flattened state name, kept on the snapshot (see `keepOn`). */
const STATE_NAME = Symbol('stateName');

/**
 * The event types the snapshot's active states have transitions for (selective receive).
 * It depends only on the machine and the state configuration, so it is computed once per
 * (machine, state) and shared by every snapshot in that state.
 */
export function acceptedEvents(snapshot: AnyMachineSnapshot): ReadonlySet<string> {
  let byState = acceptedByState.get(snapshot.machine);
  if (!byState) {
    byState = new Map();
    acceptedByState.set(snapshot.machine, byState);
  }
  const key = stateName(snapshot);
  let accepted = byState.get(key);
  if (!accepted) {
    const types = new Set<string>();
    for (const node of snapshot._nodes) for (const type of node.ownEvents) types.add(type);
    accepted = types;
    byState.set(key, accepted);
  }
  return accepted;
}

/** `running`, or `external.enabled|loop.idle` for parallel states. */
export function stateName(snapshot: AnyMachineSnapshot): string {
  return keptOn<string>(snapshot, STATE_NAME) ?? stampOn(snapshot, STATE_NAME, flattenStateValue(snapshot.value));
}

function flattenStateValue(value: unknown): string {
  if (typeof value === 'string') return value;
  const parts: string[] = [];
  for (const [key, sub] of Object.entries(value as Record<string, unknown>)) {
    const inner = flattenStateValue(sub);
    parts.push(inner === '' ? key : `${key}.${inner}`);
  }
  return parts.join('|');
}
