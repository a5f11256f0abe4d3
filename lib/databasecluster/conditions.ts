/**
 * metav1.Condition bookkeeping and status comparison, pure: a condition's
 * `lastTransitionTime` moves only when its `status` changes (a new reason or
 * message alone keeps it), time is an input, and {@link statusEqual} tells the
 * reconciler whether the status it computed differs from the one stored, so
 * an unchanged status is never written.
 *
 * @module
 */
import type { Condition } from "../api/mod.ts";

/** A condition as computed, before its transition time is decided. */
export interface ConditionUpdate {
  type: string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
}

/** A timestamp as the API writes it: RFC 3339 in UTC, whole seconds. */
export function formatTime(time: Date | string): string {
  const date = typeof time === "string" ? new Date(time) : time;
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/**
 * The condition to store for `update`: `lastTransitionTime` is the previous one when
 * the status did not change, else `now`.
 */
export function nextCondition(
  previous: readonly Condition[] | undefined,
  update: ConditionUpdate,
  options: { now: Date; generation?: number },
): Condition {
  const before = previous?.find((condition) => condition.type === update.type);
  const lastTransitionTime = before && before.status === update.status
    ? before.lastTransitionTime
    : formatTime(options.now);
  const condition: Condition = { ...update, lastTransitionTime };
  if (options.generation !== undefined) condition.observedGeneration = options.generation;
  return condition;
}

/** The condition of `type` in a list, if any. */
export function findCondition(
  conditions: readonly Condition[] | undefined,
  type: string,
): Condition | undefined {
  return conditions?.find((condition) => condition.type === type);
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value === null || typeof value !== "object") return value;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => [k, canonical(v)]);
  return Object.fromEntries(entries);
}

/**
 * Whether two statuses are the same: deep equality where key order and properties
 * set to undefined do not count, and list order does.
 */
export function statusEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a ?? {})) === JSON.stringify(canonical(b ?? {}));
}
