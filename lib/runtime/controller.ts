/**
 * A controller in the controller-runtime mould: a primary kind (`watchFor`),
 * child kinds mapped to their controlling owner (`owns`), other kinds mapped by
 * a function (`watches`), one work queue of `namespace/name` keys, and
 * `maxConcurrentReconciles` workers. The queue guarantees an object is never
 * reconciled by two workers at once.
 *
 * The reconcile contract is level-based: `reconcile({namespace, name}, ctx)`
 * reads the current state (from the informer caches) every time and returns
 * `{ requeueAfter }` or nothing; a thrown error is retried with per-object
 * exponential backoff (a 429's Retry-After is honoured), except a
 * {@linkcode TerminalError} or an API server's refusal (`isRefusal`: 400, 403,
 * 422), which the same request cannot get past: those are not retried until an
 * event or the resync enqueues the object again. A throw never stops the
 * controller; programming errors (TypeError and kin) are also counted as
 * panics. A periodic resync re-enqueues every cached primary object without
 * calling the API server.
 *
 * @module
 */
import { getLogger, type Logger } from "@logtape/logtape";
import { isRefusal, TooManyRequestsError } from "../kube/mod.ts";
import { type Clock, systemClock, type TimerId } from "./clock.ts";
import type { Informer } from "./informer.ts";
import {
  type ControllerMetrics,
  controllerMetrics,
  type OperatorMetrics,
  workqueueMetrics,
} from "./metrics.ts";
import { objectKey } from "./store.ts";
import type { KubeObject } from "./types.ts";
import { WorkQueue } from "./workqueue.ts";

/** What to reconcile. */
export interface Request {
  namespace: string;
  name: string;
}

/** What a reconcile asks for next. */
export interface ReconcileResult {
  /** Reconcile again after this many ms even if nothing changes. */
  requeueAfter?: number;
}

/** Handed to every reconcile. */
export interface ReconcileContext {
  /** Aborts when the controller stops (shutdown or lost leadership). */
  signal: AbortSignal;
  /** A logger carrying `controller`, `namespace`, `name` and `reconcileID`. */
  log: Logger;
  /** Unique per reconcile, for correlating log lines. */
  reconcileID: string;
}

/** The reconcile function. */
export type Reconciler = (
  request: Request,
  context: ReconcileContext,
) => Promise<ReconcileResult | void>;

/** An error that retrying cannot fix (the user must change something): not requeued. */
export class TerminalError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TerminalError";
  }
}

/** Options of a {@linkcode Controller}. */
export interface ControllerOptions {
  /** Workers reconciling different objects in parallel. Default 2. */
  maxConcurrentReconciles?: number;
  /** How often every cached primary object is re-enqueued. Default 10 min; 0 disables. */
  resyncPeriodMs?: number;
  /** How long shutdown waits for running reconciles. Default 10 s. */
  drainTimeoutMs?: number;
  metrics?: OperatorMetrics;
  clock?: Clock;
}

function isProgrammingError(error: unknown): boolean {
  return error instanceof TypeError || error instanceof ReferenceError ||
    error instanceof RangeError || error instanceof SyntaxError;
}

function keyOf(request: Request): string {
  return `${request.namespace}/${request.name}`;
}

function requestOf(key: string): Request {
  const slash = key.indexOf("/");
  return { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

/** Reconciles one primary kind; build with `watchFor`/`owns`/`watches`, then `run`. */
export class Controller {
  /** Name used in metrics (`controller` label) and logs. */
  readonly name: string;
  readonly #reconciler: Reconciler;
  readonly #queue: WorkQueue<string>;
  readonly #metrics?: ControllerMetrics;
  readonly #workers: number;
  readonly #resyncPeriodMs: number;
  readonly #drainTimeoutMs: number;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #primaries: Informer<KubeObject>[] = [];
  readonly #informers = new Set<Informer<KubeObject>>();

  constructor(name: string, reconciler: Reconciler, options: ControllerOptions = {}) {
    this.name = name;
    this.#reconciler = reconciler;
    this.#clock = options.clock ?? systemClock;
    this.#workers = options.maxConcurrentReconciles ?? 2;
    this.#resyncPeriodMs = options.resyncPeriodMs ?? 600_000;
    this.#drainTimeoutMs = options.drainTimeoutMs ?? 10_000;
    this.#log = getLogger(["dbop", "controller"]).with({ controller: name });
    if (options.metrics) {
      this.#metrics = controllerMetrics(options.metrics, name, {
        maxConcurrentReconciles: this.#workers,
      });
    }
    this.#queue = new WorkQueue<string>({
      clock: this.#clock,
      metrics: options.metrics ? workqueueMetrics(options.metrics, name) : undefined,
    });
  }

  /** Reconciles objects of the primary kind when they change (one informer per namespace scope). */
  watchFor<T extends KubeObject>(informer: Informer<T>): this {
    const primary = informer as unknown as Informer<KubeObject>;
    this.#primaries.push(primary);
    this.#informers.add(primary);
    informer.addHandler((event) => this.enqueue(requestFromObject(event.object)));
    return this;
  }

  /** Reconciles the controlling owner (of kind `ownerKind`) when a child changes. */
  owns<T extends KubeObject>(informer: Informer<T>, ownerKind: string): this {
    return this.watches(informer, (obj) => {
      const owner = obj.metadata?.ownerReferences?.find((ref) =>
        ref.controller && ref.kind === ownerKind
      );
      return owner && obj.metadata?.namespace
        ? [{ namespace: obj.metadata.namespace, name: owner.name! }]
        : [];
    });
  }

  /** Reconciles whatever `map` returns when an object of another kind changes. */
  watches<T extends KubeObject>(informer: Informer<T>, map: (obj: T) => Request[]): this {
    this.#informers.add(informer as unknown as Informer<KubeObject>);
    informer.addHandler((event) => {
      for (const request of map(event.object)) this.enqueue(request);
      if (event.type === "updated") {
        for (const request of map(event.previous)) this.enqueue(request);
      }
    });
    return this;
  }

  /** The informers this controller needs synced before it starts. */
  get informers(): Informer<KubeObject>[] {
    return [...this.#informers];
  }

  /** Whether its queue holds nothing waiting, delayed or in progress ({@linkcode WorkQueue.settled}). */
  settled(): boolean {
    return this.#queue.settled();
  }

  /** Adds a request to the queue (duplicates collapse). */
  enqueue(request: Request): void {
    this.#queue.add(keyOf(request));
  }

  /** Runs the workers until `signal` aborts, then drains running reconciles (bounded). */
  async run(signal: AbortSignal): Promise<void> {
    this.#log.info("Starting {workers} workers", { workers: this.#workers });
    let resync: TimerId | undefined;
    const scheduleResync = () => {
      if (this.#resyncPeriodMs <= 0 || signal.aborted) return;
      resync = this.#clock.setTimeout(() => {
        for (const informer of this.#primaries) {
          for (const obj of informer.store.list()) this.enqueue(requestFromObject(obj));
        }
        scheduleResync();
      }, this.#resyncPeriodMs);
    };
    scheduleResync();
    for (const informer of this.#primaries) {
      for (const obj of informer.store.list()) this.enqueue(requestFromObject(obj));
    }
    const workers = Array.from({ length: this.#workers }, () => this.#work(signal));
    await new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      signal.addEventListener("abort", () => resolve(), { once: true });
    });
    if (resync !== undefined) this.#clock.clearTimeout(resync);
    const drained = await this.#queue.shutDownWithDrain(this.#drainTimeoutMs);
    if (!drained) {
      this.#log.warn("Stopped with reconciles still running after {ms} ms", {
        ms: this.#drainTimeoutMs,
      });
    }
    const giveUp = new AbortController();
    await Promise.race([
      Promise.all(workers),
      this.#clock.sleep(this.#drainTimeoutMs, giveUp.signal),
    ]);
    giveUp.abort();
    this.#log.info("Stopped");
  }

  async #work(signal: AbortSignal): Promise<void> {
    while (true) {
      const key = await this.#queue.get();
      if (key === undefined) return;
      await this.#reconcileOne(key, signal);
    }
  }

  async #reconcileOne(key: string, signal: AbortSignal): Promise<void> {
    const request = requestOf(key);
    const reconcileID = crypto.randomUUID();
    const log = this.#log.with({ ...request, reconcileID });
    const started = this.#clock.now();
    this.#metrics?.activeWorkers.inc();
    try {
      const result = await this.#reconciler(request, { signal, log, reconcileID });
      this.#queue.forget(key);
      if (result?.requeueAfter !== undefined && result.requeueAfter >= 0) {
        this.#queue.addAfter(key, result.requeueAfter);
        this.#metrics?.succeeded("requeue_after");
      } else {
        this.#metrics?.succeeded("success");
      }
    } catch (error) {
      this.#onError(key, error, log);
    } finally {
      this.#metrics?.observeDuration((this.#clock.now() - started) / 1000);
      this.#metrics?.activeWorkers.dec();
      this.#queue.done(key);
    }
  }

  #onError(key: string, error: unknown, log: Logger): void {
    if (error instanceof TerminalError || isRefusal(error)) {
      this.#queue.forget(key);
      this.#metrics?.failed({ terminal: true });
      log.error("Reconcile failed and will not be retried: {error}", {
        error: (error as Error).message,
      });
      return;
    }
    this.#metrics?.failed();
    if (isProgrammingError(error)) {
      this.#metrics?.panicked();
      log.error("Reconcile crashed: {error}", { error: String((error as Error).stack ?? error) });
    } else {
      log.warn("Reconcile failed, will retry: {error}", { error: String(error) });
    }
    if (error instanceof TooManyRequestsError && error.retryAfterMs !== undefined) {
      this.#queue.addAfter(key, error.retryAfterMs);
    } else {
      this.#queue.addRateLimited(key);
    }
  }
}

function requestFromObject(obj: KubeObject): Request {
  const key = objectKey(obj);
  const slash = key.indexOf("/");
  return slash < 0 ? { namespace: "", name: key } : requestOf(key);
}
