/**
 * Whether a child object needs a server-side apply: true when some field that
 * dbop sets differs from the object in the cache. Fields dbop does not set
 * (defaults, status, other managers' fields) are ignored, so a converged
 * cluster issues no writes at all. Comparison is by value, recursively; lists
 * must have the same length with each element matching.
 *
 * @module
 */

/** Whether every field of `desired` has the same value in `actual`. */
export function contains(actual: unknown, desired: unknown): boolean {
  if (desired === undefined) return true;
  if (desired === null || typeof desired !== "object") return actual === desired;
  if (Array.isArray(desired)) {
    return Array.isArray(actual) && actual.length === desired.length &&
      desired.every((item, i) => contains(actual[i], item));
  }
  if (actual === null || typeof actual !== "object" || Array.isArray(actual)) return false;
  const a = actual as Record<string, unknown>;
  return Object.entries(desired as Record<string, unknown>).every(([key, value]) =>
    contains(a[key], value)
  );
}

/** The fields of an object's metadata that a desired child sets and the cache can hold. */
function comparableMetadata(meta: Record<string, unknown> | undefined): Record<string, unknown> {
  const { name, namespace, labels, annotations, ownerReferences } = meta ?? {};
  return { name, namespace, labels, annotations, ownerReferences };
}

/** Whether `desired` (as dbop would apply it) differs from `actual` (from the cache, or absent). */
export function needsApply(
  desired: { metadata?: object } & Record<string, unknown>,
  actual: ({ metadata?: object } & Record<string, unknown>) | undefined,
): boolean {
  if (!actual) return true;
  const { metadata, apiVersion: _apiVersion, kind: _kind, ...rest } = desired;
  return !contains(actual.metadata, comparableMetadata(metadata as Record<string, unknown>)) ||
    !contains(actual, rest);
}
