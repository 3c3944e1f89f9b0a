/**
 * JSON with object keys sorted at every level, so the same value always hashes the same however
 * it was built. Undefined properties are left out, as JSON.stringify does; a value with a
 * `toJSON` method (a Date, a Buffer) is replaced by what that method returns, as JSON.stringify
 * does, before its keys are sorted.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') return sortKeys((toJSON as () => unknown).call(value));
    // A null prototype, so that a `__proto__` key (JSON.parse makes it an ordinary own key) stays
    // data instead of becoming the object's prototype and vanishing from the output.
    const out = Object.create(null) as Record<string, unknown>;
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}
