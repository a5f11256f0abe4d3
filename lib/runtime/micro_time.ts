/**
 * Kubernetes `MicroTime`: RFC 3339 with exactly six fractional digits, the format the API server
 * requires for Lease `acquireTime`/`renewTime` and Event `eventTime`/`series.lastObservedTime` (it
 * rejects the three-digit form that `Date.prototype.toISOString()` produces).
 *
 * @module
 */

/** Formats milliseconds since the epoch (fractions kept down to the microsecond) as a `MicroTime`. */
export function microTime(ms: number): string {
  const wholeMs = Math.floor(ms);
  const seconds = new Date(wholeMs).toISOString().slice(0, 19);
  const micros = Math.min(999_999, Math.floor((ms - Math.floor(ms / 1000) * 1000) * 1000));
  return `${seconds}.${String(micros).padStart(6, "0")}Z`;
}
