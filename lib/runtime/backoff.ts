/**
 * Exponential backoff, in two shapes. {@linkcode ItemExponentialRateLimiter} is client-go's
 * `ItemExponentialFailureRateLimiter`: each work-queue item has its own failure count, the delay starts at
 * 5 ms and doubles up to 1000 s, and `forget()` resets it after a success. {@linkcode ReconnectBackoff} is
 * the watch reconnect policy of client-go's reflector and kube-rs: 800 ms doubling to 30 s with jitter,
 * starting over once the connection has stayed healthy for 2 minutes. Jitter draws from an injectable
 * `random()` so tests are deterministic.
 *
 * @module
 */

import { type Clock, systemClock } from "./clock.ts";

/** Options of {@linkcode exponentialDelay}. */
export interface ExponentialDelayOptions {
  /** Delay of attempt 0, in ms. */
  baseMs: number;
  /** Upper bound before jitter, in ms. */
  maxMs: number;
  /** Fraction (0 to 1) of the delay that jitter may take away; 0 disables jitter. */
  jitter?: number;
  /** Source of uniform numbers in [0, 1); defaults to `Math.random`. */
  random?: () => number;
}

/**
 * The delay for a zero-based `attempt`: `baseMs * 2^attempt`, capped at `maxMs`, then reduced by up to
 * `jitter` of itself so that many clients failing together spread out without ever exceeding the cap.
 */
export function exponentialDelay(attempt: number, options: ExponentialDelayOptions): number {
  const { baseMs, maxMs, jitter = 0, random = Math.random } = options;
  // Bounding the exponent keeps 2 ** n finite, so a zero base cannot turn into 0 * Infinity = NaN.
  const capped = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 1000));
  if (jitter <= 0) return capped;
  return capped * (1 - Math.min(1, jitter) * random());
}

/** Decides how long an item waits before it is retried (client-go's `RateLimiter`). */
export interface RateLimiter<T> {
  /** Records a failure of `item` and returns the delay in ms before its retry. */
  when(item: T): number;
  /** Clears the failure history of `item` (call after it succeeded). */
  forget(item: T): void;
  /** How many failures of `item` are recorded. */
  numRequeues(item: T): number;
}

/** Options of {@linkcode ItemExponentialRateLimiter}. */
export interface ItemExponentialRateLimiterOptions {
  /** First delay in ms (default 5). */
  baseMs?: number;
  /** Largest delay in ms (default 1,000,000, i.e. 1000 s). */
  maxMs?: number;
  /** Fraction of each delay that jitter may take away (default 0, as in client-go). */
  jitter?: number;
  /** Jitter source; defaults to `Math.random`. */
  random?: () => number;
}

/** Default first per-item retry delay: 5 ms, as in client-go. */
export const DEFAULT_ITEM_BASE_MS = 5;
/** Default largest per-item retry delay: 1000 s, as in client-go. */
export const DEFAULT_ITEM_MAX_MS = 1_000_000;

/** Per-item exponential backoff: 5 ms, 10 ms, 20 ms, ... up to 1000 s, reset by `forget()`. */
export class ItemExponentialRateLimiter<T> implements RateLimiter<T> {
  #failures = new Map<T, number>();
  #options: ExponentialDelayOptions;

  /** Creates a limiter; see {@linkcode ItemExponentialRateLimiterOptions} for the defaults. */
  constructor(options: ItemExponentialRateLimiterOptions = {}) {
    this.#options = {
      baseMs: options.baseMs ?? DEFAULT_ITEM_BASE_MS,
      maxMs: options.maxMs ?? DEFAULT_ITEM_MAX_MS,
      jitter: options.jitter,
      random: options.random,
    };
  }

  /** Records a failure and returns `baseMs * 2^(failures before this one)`, capped. */
  when(item: T): number {
    const failures = this.#failures.get(item) ?? 0;
    this.#failures.set(item, failures + 1);
    return exponentialDelay(failures, this.#options);
  }

  /** Forgets the failures of `item`. */
  forget(item: T): void {
    this.#failures.delete(item);
  }

  /** The number of failures recorded for `item` since it was last forgotten. */
  numRequeues(item: T): number {
    return this.#failures.get(item) ?? 0;
  }
}

/** Options of {@linkcode ReconnectBackoff}. */
export interface ReconnectBackoffOptions {
  /** First delay in ms (default 800). */
  baseMs?: number;
  /** Largest delay in ms before jitter (default 30,000). */
  maxMs?: number;
  /** Fraction of each delay that jitter may take away (default 0.5). */
  jitter?: number;
  /** How long the connection must stay healthy for the backoff to start over, in ms (default 120,000). */
  resetAfterMs?: number;
  /** Jitter source; defaults to `Math.random`. */
  random?: () => number;
  /** Time source for the reset rule; defaults to {@linkcode systemClock}. */
  clock?: Clock;
}

/**
 * Reconnect delays for a long-running connection such as a watch. Call `next()` after each failure to get
 * the delay before the next attempt, and `markHealthy()` whenever the connection proves to work (connected,
 * an event or bookmark arrived). When the failure comes after at least `resetAfterMs` of uninterrupted
 * health, the sequence starts over at `baseMs`; a connection that flaps keeps backing off.
 */
export class ReconnectBackoff {
  #attempt = 0;
  #healthySince: number | undefined;
  #resetAfterMs: number;
  #clock: Clock;
  #options: ExponentialDelayOptions;

  /** Creates a backoff; see {@linkcode ReconnectBackoffOptions} for the defaults. */
  constructor(options: ReconnectBackoffOptions = {}) {
    this.#resetAfterMs = options.resetAfterMs ?? 120_000;
    this.#clock = options.clock ?? systemClock;
    this.#options = {
      baseMs: options.baseMs ?? 800,
      maxMs: options.maxMs ?? 30_000,
      jitter: options.jitter ?? 0.5,
      random: options.random,
    };
  }

  /** Records a failure and returns the delay in ms before the next attempt. */
  next(): number {
    if (
      this.#healthySince !== undefined &&
      this.#clock.now() - this.#healthySince >= this.#resetAfterMs
    ) {
      this.#attempt = 0;
    }
    this.#healthySince = undefined;
    return exponentialDelay(this.#attempt++, this.#options);
  }

  /** Records that the connection works; the first call after a failure starts the health period. */
  markHealthy(): void {
    this.#healthySince ??= this.#clock.now();
  }

  /** Starts over at the base delay immediately. */
  reset(): void {
    this.#attempt = 0;
    this.#healthySince = undefined;
  }

  /** Failures counted since the last reset. */
  get attempts(): number {
    return this.#attempt;
  }
}
