/**
 * The controller's work queue, with client-go's semantics. An item is queued at most once (duplicates
 * collapse while it waits); `get()` hands it to exactly one worker and marks it processing; an item added
 * again while processing is held back until that worker calls `done()`, so no two workers ever hold the
 * same item. `addAfter()` schedules an add, keeping the earliest deadline per item; `addRateLimited()`
 * schedules it after the item's backoff from a {@linkcode RateLimiter}, and `forget()` resets that backoff.
 * Shutting down stops intake and hands out nothing more (queued items stay for the next leader's
 * relist to cover); `shutDownWithDrain()` also waits, bounded, for in-flight items to be done. Time comes
 * from an injectable {@linkcode Clock}. Metrics mirror client-go's `MetricsProvider`.
 *
 * @module
 */

import { ItemExponentialRateLimiter, type RateLimiter } from "./backoff.ts";
import { type Clock, systemClock, type TimerId } from "./clock.ts";

/** The queue's metric sinks, already bound to one queue (prom-client children fit as they are). */
export interface QueueMetrics {
  /** Items waiting to be handed out, including those held back while processing. */
  depth: { inc(): void; dec(): void };
  /** Adds that were not collapsed into an already waiting item. */
  adds: { inc(): void };
  /** Seconds an item waited between its add and `get()`. */
  queueDuration: { observe(seconds: number): void };
  /** Seconds between `get()` and `done()`. */
  workDuration: { observe(seconds: number): void };
  /** Summed seconds of in-flight work not yet observed by `workDuration`, updated periodically. */
  unfinishedWorkSeconds: { set(seconds: number): void };
  /** Seconds the oldest in-flight item has been processing, updated periodically. */
  longestRunningProcessorSeconds: { set(seconds: number): void };
  /** Delayed and rate-limited adds. */
  retries: { inc(): void };
}

const noop = { inc() {}, dec() {}, observe() {}, set() {} };

/** Metrics that record nothing, the default. */
export const noopQueueMetrics: QueueMetrics = {
  depth: noop,
  adds: noop,
  queueDuration: noop,
  workDuration: noop,
  unfinishedWorkSeconds: noop,
  longestRunningProcessorSeconds: noop,
  retries: noop,
};

/** Options of {@linkcode WorkQueue}. */
export interface WorkQueueOptions<T> {
  /** Time source for delays and metrics; defaults to {@linkcode systemClock}. */
  clock?: Clock;
  /** Backoff for `addRateLimited()`; defaults to 5 ms doubling to 1000 s per item. */
  rateLimiter?: RateLimiter<T>;
  /** Metric sinks; defaults to {@linkcode noopQueueMetrics}. */
  metrics?: QueueMetrics;
  /** How often the in-flight gauges are refreshed while work is in flight, in ms (default 500). */
  metricsUpdatePeriodMs?: number;
}

interface Waiter<T> {
  resolve(item: T | undefined): void;
}

/** A deduplicating, delaying, rate-limited work queue; see the module doc. Items compare with `===`. */
export class WorkQueue<T = string> {
  #queue: T[] = [];
  #dirty = new Set<T>();
  #processing = new Set<T>();
  #waiters: Waiter<T>[] = [];
  #drainWaiters: (() => void)[] = [];
  #shuttingDown = false;

  #delayed = new Map<T, number>();
  #delayTimer: TimerId | undefined;
  #delayTimerDue = Infinity;

  #addTimes = new Map<T, number>();
  #processingStarts = new Map<T, number>();
  #metricsTimer: TimerId | undefined;

  #clock: Clock;
  #limiter: RateLimiter<T>;
  #metrics: QueueMetrics;
  #metricsPeriodMs: number;

  /** Creates an empty queue. */
  constructor(options: WorkQueueOptions<T> = {}) {
    this.#clock = options.clock ?? systemClock;
    this.#limiter = options.rateLimiter ?? new ItemExponentialRateLimiter<T>();
    this.#metrics = options.metrics ?? noopQueueMetrics;
    this.#metricsPeriodMs = options.metricsUpdatePeriodMs ?? 500;
  }

  /** Queues `item` unless it is already waiting; held back until `done()` if it is being processed. */
  add(item: T): void {
    if (this.#shuttingDown || this.#dirty.has(item)) return;
    this.#metrics.adds.inc();
    if (!this.#addTimes.has(item)) {
      this.#metrics.depth.inc();
      this.#addTimes.set(item, this.#clock.now());
    }
    this.#dirty.add(item);
    if (this.#processing.has(item)) return;
    this.#queue.push(item);
    this.#dispatch();
  }

  /** Adds `item` after `ms`; of several pending delays for one item the earliest wins. */
  addAfter(item: T, ms: number): void {
    if (this.#shuttingDown) return;
    this.#metrics.retries.inc();
    if (ms <= 0) {
      this.add(item);
      return;
    }
    const readyAt = this.#clock.now() + ms;
    const pending = this.#delayed.get(item);
    if (pending !== undefined && pending <= readyAt) return;
    this.#delayed.set(item, readyAt);
    if (readyAt < this.#delayTimerDue) this.#armDelayTimer(readyAt);
  }

  /** Adds `item` after its next backoff delay from the rate limiter. */
  addRateLimited(item: T): void {
    if (this.#shuttingDown) return;
    this.addAfter(item, this.#limiter.when(item));
  }

  /** Resets the backoff of `item` (after it succeeded); does not remove it from the queue. */
  forget(item: T): void {
    this.#limiter.forget(item);
  }

  /** How many times `item` was rate-limited since it was last forgotten. */
  numRequeues(item: T): number {
    return this.#limiter.numRequeues(item);
  }

  /**
   * Resolves with the next item, now marked processing (call `done()` when finished), or with `undefined`
   * once the queue shuts down or `signal` aborts. Waiting workers are served first come, first served.
   */
  get(signal?: AbortSignal): Promise<T | undefined> {
    if (this.#shuttingDown || signal?.aborted) return Promise.resolve(undefined);
    if (this.#queue.length > 0) return Promise.resolve(this.#take());
    return new Promise((resolve) => {
      const onAbort = () => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        resolve(undefined);
      };
      const waiter: Waiter<T> = {
        resolve: (item) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(item);
        },
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  /** Marks `item` finished; if it was added again meanwhile, it is queued now. */
  done(item: T): void {
    const started = this.#processingStarts.get(item);
    if (started !== undefined) {
      this.#metrics.workDuration.observe((this.#clock.now() - started) / 1000);
      this.#processingStarts.delete(item);
    }
    this.#processing.delete(item);
    if (this.#dirty.has(item) && !this.#shuttingDown) {
      this.#queue.push(item);
      this.#dispatch();
    }
    if (this.#processing.size === 0) this.#onIdle();
  }

  /** The number of items waiting to be handed out (not counting delayed or held-back ones). */
  len(): number {
    return this.#queue.length;
  }

  /**
   * Whether nothing can be handed out any more without a new `add`: no item waiting, delayed
   * or being processed. Tests observe it before asserting that something did not happen.
   */
  settled(): boolean {
    return this.#queue.length === 0 && this.#processing.size === 0 && this.#delayed.size === 0;
  }

  /** Whether `shutDown()` was called. */
  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  /** Stops intake, drops pending delays and resolves every waiting `get()` with `undefined`. */
  shutDown(): void {
    this.#shuttingDown = true;
    this.#delayed.clear();
    this.#armDelayTimer(Infinity);
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter.resolve(undefined);
  }

  /**
   * Shuts down, then waits until every in-flight item is `done()`; resolves `true` when drained, `false`
   * if `timeoutMs` passed first.
   */
  shutDownWithDrain(timeoutMs: number): Promise<boolean> {
    this.shutDown();
    if (this.#processing.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const drained = () => {
        this.#clock.clearTimeout(timer);
        resolve(true);
      };
      const timer = this.#clock.setTimeout(() => {
        this.#drainWaiters = this.#drainWaiters.filter((w) => w !== drained);
        resolve(false);
      }, timeoutMs);
      this.#drainWaiters.push(drained);
    });
  }

  #take(): T {
    const item = this.#queue.shift() as T;
    const now = this.#clock.now();
    this.#metrics.depth.dec();
    const added = this.#addTimes.get(item);
    if (added !== undefined) {
      this.#metrics.queueDuration.observe((now - added) / 1000);
      this.#addTimes.delete(item);
    }
    this.#processingStarts.set(item, now);
    this.#processing.add(item);
    this.#dirty.delete(item);
    this.#startMetricsTimer();
    return item;
  }

  #dispatch(): void {
    while (this.#waiters.length > 0 && this.#queue.length > 0) {
      const waiter = this.#waiters.shift() as Waiter<T>;
      waiter.resolve(this.#take());
    }
  }

  #armDelayTimer(due: number): void {
    if (this.#delayTimer !== undefined) this.#clock.clearTimeout(this.#delayTimer);
    this.#delayTimer = undefined;
    this.#delayTimerDue = due;
    if (due === Infinity) return;
    this.#delayTimer = this.#clock.setTimeout(() => this.#onDelayTimer(), due - this.#clock.now());
  }

  #onDelayTimer(): void {
    this.#delayTimer = undefined;
    const now = this.#clock.now();
    const ready = [...this.#delayed].filter(([, at]) => at <= now).sort((a, b) => a[1] - b[1]);
    for (const [item] of ready) {
      this.#delayed.delete(item);
      this.add(item);
    }
    let next = Infinity;
    for (const at of this.#delayed.values()) next = Math.min(next, at);
    this.#armDelayTimer(next);
  }

  #startMetricsTimer(): void {
    // With no-op metrics there is nothing to refresh, so idle processes and tests keep no timer.
    if (this.#metricsTimer !== undefined || this.#metrics === noopQueueMetrics) return;
    this.#metricsTimer = this.#clock.setTimeout(() => {
      this.#metricsTimer = undefined;
      this.#updateInFlightGauges();
      if (this.#processing.size > 0) this.#startMetricsTimer();
    }, this.#metricsPeriodMs);
  }

  #updateInFlightGauges(): void {
    const now = this.#clock.now();
    let total = 0;
    let longest = 0;
    for (const started of this.#processingStarts.values()) {
      total += now - started;
      longest = Math.max(longest, now - started);
    }
    this.#metrics.unfinishedWorkSeconds.set(total / 1000);
    this.#metrics.longestRunningProcessorSeconds.set(longest / 1000);
  }

  #onIdle(): void {
    if (this.#metricsTimer !== undefined) {
      this.#clock.clearTimeout(this.#metricsTimer);
      this.#metricsTimer = undefined;
    }
    this.#updateInFlightGauges();
    const drainWaiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const drained of drainWaiters) drained();
  }
}
