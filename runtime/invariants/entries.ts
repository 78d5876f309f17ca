/**
 * A Map's or Set's contents for monitors' keys, as an object keyed by member (a Set's members map
 * to 1). Canonical JSON writes an object's keys sorted, so equal contents give equal text however
 * they were built; and when symmetry reduction renames clients it renames these keys and the
 * text is sorted again, which a sorted array would not be (see `Symmetry.checkerHash`).
 */
export function entries<K, V>(m: Map<K, V> | Set<K>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (m instanceof Map) for (const [k, v] of m) out[String(k)] = v;
  else for (const k of m) out[String(k)] = 1;
  return out;
}
