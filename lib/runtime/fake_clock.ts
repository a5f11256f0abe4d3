/**
 * A {@linkcode Clock} for tests, moved only by hand. `advance(ms)` fires every timer that falls due in that
 * span synchronously, earliest first (ties in creation order), with `now()` set to each timer's due time
 * while it runs; timers created by a callback fire in the same call when they fall due within the span.
 * `advanceAsync(ms)` does the same but lets promise continuations run between timers, for code that
 * re-arms its timers after an `await`.
 *
 * @module
 */

import { type Clock, sleepWith, type TimerId } from "./clock.ts";

interface FakeTimer {
  id: TimerId;
  due: number;
  fn: () => void;
}

/** A manually driven clock; see the module doc. */
export class FakeClock implements Clock {
  #now: number;
  #nextId = 1;
  #timers = new Map<TimerId, FakeTimer>();

  /** Creates a clock whose `now()` starts at `startMs` (default 0). */
  constructor(startMs = 0) {
    this.#now = startMs;
  }

  /** The current fake time in milliseconds. */
  now(): number {
    return this.#now;
  }

  /** Schedules `fn` at `now() + ms`; it runs only from `advance()` or `advanceAsync()`. */
  setTimeout(fn: () => void, ms: number): TimerId {
    const id = this.#nextId++;
    this.#timers.set(id, { id, due: this.#now + Math.max(0, ms), fn });
    return id;
  }

  /** Cancels a pending timer. */
  clearTimeout(id: TimerId): void {
    this.#timers.delete(id);
  }

  /** Resolves when the clock has been advanced by `ms`, or when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepWith(this, ms, signal);
  }

  /** How many timers are pending. */
  pendingTimers(): number {
    return this.#timers.size;
  }

  /** The due time of the earliest pending timer, if any. */
  nextDue(): number | undefined {
    return this.#earliest()?.due;
  }

  /** Moves time forward by `ms`, firing due timers synchronously in order. */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (let timer = this.#due(target); timer; timer = this.#due(target)) {
      this.#fire(timer);
    }
    this.#now = target;
  }

  /** Like `advance()`, but drains pending promise continuations before and after each timer. */
  async advanceAsync(ms: number): Promise<void> {
    const target = this.#now + ms;
    await flushPromises();
    for (let timer = this.#due(target); timer; timer = this.#due(target)) {
      this.#fire(timer);
      await flushPromises();
    }
    this.#now = target;
  }

  #fire(timer: FakeTimer): void {
    this.#timers.delete(timer.id);
    this.#now = Math.max(this.#now, timer.due);
    timer.fn();
  }

  #due(target: number): FakeTimer | undefined {
    const timer = this.#earliest();
    return timer && timer.due <= target ? timer : undefined;
  }

  #earliest(): FakeTimer | undefined {
    let best: FakeTimer | undefined;
    // Map iteration follows insertion order, which equals id order, so `<` keeps ties first-created.
    for (const timer of this.#timers.values()) {
      if (!best || timer.due < best.due) best = timer;
    }
    return best;
  }
}

/** Resolves after every promise continuation queued so far (and those they queue) has run. */
export function flushPromises(): Promise<void> {
  // A macrotask boundary: the microtask queue is always empty before the next task starts.
  return new Promise((resolve) => setTimeout(resolve, 0));
}
