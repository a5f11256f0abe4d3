/**
 * Bounded concurrency for the benchmark's own clients: a fixed number of
 * workers draining a list, or a channel that one side fills while workers
 * take from it (the floor client's queue, fed as clusters are created).
 *
 * @module
 */

/** Runs `fn` on every item with at most `concurrency` calls in flight; rejects on the first error. */
export async function forEachConcurrently<T>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      await fn(items[index], index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

/** An unbounded first-in first-out queue with async `take`; `undefined` once closed and empty. */
export class Channel<T> {
  readonly #items: T[] = [];
  readonly #waiting: ((item: T | undefined) => void)[] = [];
  #closed = false;

  /** Adds an item, handing it straight to a waiting taker if there is one. */
  push(item: T): void {
    if (this.#closed) throw new Error("Cannot push to a closed channel");
    const taker = this.#waiting.shift();
    if (taker) taker(item);
    else this.#items.push(item);
  }

  /** No more items will come; takers get `undefined` once the queue is empty. */
  close(): void {
    this.#closed = true;
    for (const taker of this.#waiting.splice(0)) taker(undefined);
  }

  /** The next item, waiting for one; `undefined` when closed and drained. */
  take(): Promise<T | undefined> {
    if (this.#items.length > 0) return Promise.resolve(this.#items.shift());
    if (this.#closed) return Promise.resolve(undefined);
    return new Promise((resolve) => this.#waiting.push(resolve));
  }
}
