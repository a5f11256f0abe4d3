/**
 * An informer: a {@linkcode watch} feeding a {@linkcode Store}, with handlers
 * told about every add, update and delete. After a relist the store is swapped
 * atomically and the differences are reported, so objects deleted while the
 * watch was down still produce delete events. Scoped by namespace and label or
 * field selectors so the cache holds only what dbop manages, and each object
 * passes through an optional `transform` before it is stored (the manager's
 * strips `managedFields`, as controller-runtime's `TransformStripManagedFields`).
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { kindOf, type Resources, type ResourceType } from "../kube/mod.ts";
import { type IndexFunc, Store } from "./store.ts";
import type { KubeObject } from "./types.ts";
import { watch, type WatcherOptions } from "./watcher.ts";

/** A change seen by an informer. */
export type InformerEvent<T> =
  | { type: "added"; object: T }
  | { type: "updated"; object: T; previous: T }
  | { type: "deleted"; object: T };

/** Receives informer events; must not throw (errors are logged). */
export type InformerHandler<T> = (event: InformerEvent<T>) => void;

/** Options of an {@linkcode Informer}. */
export interface InformerOptions<T> extends WatcherOptions {
  indexers?: Record<string, IndexFunc<T>>;
  /** Applied to every object before it is stored and handed to handlers; may mutate it. */
  transform?: (object: T) => T;
}

/**
 * Drops `metadata.managedFields`: server-side apply's bookkeeping is often the largest part
 * of a small object, and nothing reads it from a cache.
 */
export function stripManagedFields<T extends KubeObject>(object: T): T {
  // The runtime's ObjectMeta names only what it reads; built-in kinds carry the field anyway.
  const metadata = object.metadata as { managedFields?: unknown } | undefined;
  if (metadata?.managedFields !== undefined) delete metadata.managedFields;
  return object;
}

const logger = getLogger(["dbop", "informer"]);

/** Keeps a local cache of one resource type in sync with the API server. */
export class Informer<T extends KubeObject> {
  /** The resource type watched. */
  readonly type: ResourceType<T>;
  /** The cache; read it, never write it. */
  readonly store: Store<T>;
  /** The namespace this informer is limited to, if any. */
  readonly namespace?: string;
  readonly #resources: Resources;
  readonly #options: InformerOptions<T>;
  readonly #handlers: InformerHandler<T>[] = [];
  readonly #synced = Promise.withResolvers<void>();
  #hasSynced = false;

  constructor(resources: Resources, type: ResourceType<T>, options: InformerOptions<T> = {}) {
    this.type = type;
    this.#resources = resources;
    this.#options = options;
    this.namespace = options.namespace;
    this.store = new Store<T>({ indexers: options.indexers });
  }

  /** A readable name for logs and errors, e.g. `StatefulSet.apps in "ns"`. */
  get description(): string {
    const scope = this.namespace ? ` in "${this.namespace}"` : "";
    const selector = this.#options.labelSelector ? ` (${this.#options.labelSelector})` : "";
    return `${kindOf(this.type)}${scope}${selector}`;
  }

  /** Registers a handler; existing cache entries are not replayed. */
  addHandler(handler: InformerHandler<T>): void {
    this.#handlers.push(handler);
  }

  /** Whether the first list has been stored. */
  hasSynced(): boolean {
    return this.#hasSynced;
  }

  /** Resolves once the first list has been stored. */
  waitForSync(): Promise<void> {
    return this.#synced.promise;
  }

  /** Runs until `signal` aborts; never stops on an error (the watcher retries). */
  async run(signal: AbortSignal): Promise<void> {
    const transform = this.#options.transform ?? ((object: T) => object);
    for await (const event of watch<T>(this.#resources, this.type, signal, this.#options)) {
      if (event.type === "Listed") {
        const delta = this.store.replace(event.items.map(transform), event.resourceVersion);
        for (const object of delta.deleted) this.#emit({ type: "deleted", object });
        for (const object of delta.added) this.#emit({ type: "added", object });
        for (const { previous, current } of delta.updated) {
          this.#emit({ type: "updated", object: current, previous });
        }
        if (!this.#hasSynced) {
          this.#hasSynced = true;
          this.#synced.resolve();
        }
      } else if (event.type === "Deleted") {
        const previous = this.store.remove(event.object);
        this.#emit({ type: "deleted", object: previous ?? transform(event.object) });
      } else {
        const object = transform(event.object);
        const previous = this.store.upsert(object);
        this.#emit(previous ? { type: "updated", object, previous } : { type: "added", object });
      }
    }
  }

  #emit(event: InformerEvent<T>): void {
    for (const handler of this.#handlers) {
      try {
        handler(event);
      } catch (error) {
        logger.error("Informer handler for {kind} threw: {error}", {
          kind: this.description,
          error: String(error),
        });
      }
    }
  }
}
