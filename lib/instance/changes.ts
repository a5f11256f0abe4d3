/**
 * A wake-up for whoever waits on a view that a watch keeps current: `notify()`
 * after each change, `next()` to wait for one, bounded by a timeout and a
 * signal, so a waiter also decides again now and then without any event.
 *
 * @module
 */

/** Wakes every waiter at each change. */
export class Changes {
  #waiters: (() => void)[] = [];

  /** Wakes everyone waiting now. */
  notify(): void {
    for (const wake of this.#waiters.splice(0)) wake();
  }

  /** Resolves at the next change, after `timeoutMs`, or when `signal` aborts. */
  next(signal: AbortSignal, timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      signal.addEventListener("abort", done, { once: true });
      this.#waiters.push(done);
    });
  }
}
