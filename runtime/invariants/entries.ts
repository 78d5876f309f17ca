/** A Map's or Set's contents in a stable order, for monitors' keys. */
export const entries = <K, V>(m: Map<K, V> | Set<K>) => [...m].sort((a, b) => (String(a) < String(b) ? -1 : 1));
