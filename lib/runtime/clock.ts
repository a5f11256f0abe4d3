/**
 * Time as a dependency. Everything in the runtime that waits, times out or measures durations takes a
 * {@linkcode Clock}, so that unit tests can drive time by hand with the `FakeClock` from `fake_clock.ts`
 * instead of sleeping. {@linkcode systemClock} is the real one, backed by `Date.now()` and the global timers.
 *
 * @module
 */

/** Identifies a timer created by {@linkcode Clock.setTimeout} (the global timer type, or a fake's number). */
export type TimerId = ReturnType<typeof setTimeout> | number;

/** A source of the current time and of timers, in milliseconds. */
export interface Clock {
  /** Milliseconds since the Unix epoch (or since the fake clock's start). */
  now(): number;
  /** Calls `fn` once, `ms` milliseconds from now; a negative delay counts as zero. */
  setTimeout(fn: () => void, ms: number): TimerId;
  /** Cancels a timer; unknown or already fired timers are ignored. */
  clearTimeout(id: TimerId): void;
  /**
   * Resolves after `ms` milliseconds, or as soon as `signal` aborts (never rejects); callers check
   * `signal.aborted` afterwards to tell the two apart.
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** Implements {@linkcode Clock.sleep} on top of any clock's timers. */
export function sleepWith(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const onAbort = () => {
      clock.clearTimeout(id);
      resolve();
    };
    const id = clock.setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** The real clock: wall time and the global timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, Math.max(0, ms)),
  clearTimeout: (id) => clearTimeout(id),
  sleep: (ms, signal) => sleepWith(systemClock, ms, signal),
};
