/**
 * Caches kept on the objects they describe (a snapshot's digest, a mailbox's delivery, ...),
 * under a symbol: a WeakMap entry per object made the collector trace an ephemeron for each of
 * millions of objects, which cost more than the lookups.
 *
 * The property is not enumerable, so a copy made by spreading (`{ ...part }`), `Object.assign`
 * or XState's `getPersistedSnapshot` never inherits a value that describes its original: an
 * event forwarded with one field changed must not keep the digest of the event it came from.
 */
export function keepOn<T>(part: object, key: symbol, value: T): T {
  Object.defineProperty(part, key, { value, writable: true, configurable: true, enumerable: false });
  return value;
}

/** The value `keepOn` left on `part` under `key`, if any. */
export function keptOn<T>(part: object, key: symbol): T | undefined {
  return (part as Record<symbol, T | undefined>)[key];
}

/**
 * `keepOn` for objects no copy is ever made of by spreading: arrays (a copy of an array copies
 * its elements only) and XState snapshots (XState builds every snapshot field by field; a
 * persisted snapshot, which does copy the value, is never hashed or memoized, and restoring one
 * builds a new snapshot). A plain store, several times cheaper than `defineProperty`, for the
 * parts made at nearly every step.
 */
export function stampOn<T>(part: readonly unknown[] | { readonly machine: unknown }, key: symbol, value: T): T {
  (part as unknown as Record<symbol, T>)[key] = value;
  return value;
}
