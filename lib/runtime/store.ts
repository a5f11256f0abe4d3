/**
 * The informer's cache: objects keyed `namespace/name` (just `name` when cluster-scoped), with secondary
 * indexes. `replace()` swaps the whole content at once after a (re)list and returns what changed, so an
 * informer that relists after a long outage emits exactly the adds, updates and deletes it missed,
 * including deletes of objects that vanished meanwhile. Indexes are named functions from an object to
 * the values it is found under; ready-made ones index by controller owner UID, by a label and by a field
 * such as `spec.version`.
 *
 * @module
 */

import type { KubeObject } from "./types.ts";

/** Maps an object to the index values it can be looked up by (none, one or several). */
export type IndexFunc<T> = (obj: T) => string[];

/** An update seen by `replace()`: the cached object and the one that replaces it. */
export interface StoreUpdate<T> {
  /** The object that was cached. */
  previous: T;
  /** The object now cached. */
  current: T;
}

/** What `replace()` changed. An object recreated under the same key (new UID) counts as deleted and added. */
export interface StoreDelta<T> {
  /** Objects that were not cached before. */
  added: T[];
  /** Objects cached before whose resourceVersion changed (or is unknown). */
  updated: StoreUpdate<T>[];
  /** Last known state of objects that are gone. */
  deleted: T[];
}

/** Options of {@linkcode Store}. */
export interface StoreOptions<T> {
  /** Named index functions, queried with `byIndex(name, value)`. */
  indexers?: Record<string, IndexFunc<T>>;
}

/** The cache key of an object: `namespace/name`, or `name` for cluster-scoped objects. */
export function objectKey(obj: KubeObject): string {
  const name = obj.metadata?.name;
  if (!name) throw new Error(`Cannot key ${obj.kind ?? "object"}: "metadata.name" is missing`);
  const namespace = obj.metadata?.namespace;
  return namespace ? `${namespace}/${name}` : name;
}

/** An in-memory, indexed object cache; see the module doc. */
export class Store<T extends KubeObject> {
  #items = new Map<string, T>();
  #indexers: Map<IndexName, IndexFunc<T>>;
  #indices: Indices;
  #resourceVersion: string | undefined;

  /** Creates an empty store with the given indexes. */
  constructor(options: StoreOptions<T> = {}) {
    this.#indexers = new Map<IndexName, IndexFunc<T>>(Object.entries(options.indexers ?? {}));
    this.#indexers.set(NAMESPACE_INDEX, (obj) => [obj.metadata?.namespace ?? ""]);
    this.#indices = this.#buildIndices(this.#items);
  }

  /** The resourceVersion passed to the last `replace()`. */
  get resourceVersion(): string | undefined {
    return this.#resourceVersion;
  }

  /** The number of cached objects. */
  get size(): number {
    return this.#items.size;
  }

  /** Atomically replaces the content with `items` (a full list) and returns the differences. */
  replace(items: readonly T[], resourceVersion: string): StoreDelta<T> {
    const next = new Map<string, T>();
    for (const obj of items) next.set(objectKey(obj), obj);
    const delta: StoreDelta<T> = { added: [], updated: [], deleted: [] };
    for (const [key, previous] of this.#items) {
      const current = next.get(key);
      if (current === undefined || isRecreated(previous, current)) delta.deleted.push(previous);
    }
    for (const [key, current] of next) {
      const previous = this.#items.get(key);
      if (previous === undefined || isRecreated(previous, current)) delta.added.push(current);
      else if (isChanged(previous, current)) delta.updated.push({ previous, current });
    }
    // Build first and swap last, so an index function that throws leaves the store as it was.
    const indices = this.#buildIndices(next);
    this.#items = next;
    this.#indices = indices;
    this.#resourceVersion = resourceVersion;
    return delta;
  }

  /** Adds or replaces `obj`; returns the object it replaced, if any. */
  upsert(obj: T): T | undefined {
    const key = objectKey(obj);
    // Computed before any change, so an index function that throws leaves the store as it was.
    const values = this.#indexValues(obj);
    const previous = this.#items.get(key);
    if (previous !== undefined) this.#unindex(key, previous);
    this.#items.set(key, obj);
    addToIndices(this.#indices, key, values);
    return previous;
  }

  /** Removes the object with the key of `obj`; returns the cached object that was removed, if any. */
  remove(obj: KubeObject): T | undefined {
    const key = objectKey(obj);
    const previous = this.#items.get(key);
    if (previous === undefined) return undefined;
    this.#unindex(key, previous);
    this.#items.delete(key);
    return previous;
  }

  /** The object cached under `key` (`namespace/name` or `name`). */
  get(key: string): T | undefined {
    return this.#items.get(key);
  }

  /** Every cached object. */
  list(): T[] {
    return [...this.#items.values()];
  }

  /** Every cached key. */
  keys(): string[] {
    return [...this.#items.keys()];
  }

  /** The objects in namespace `namespace` (`""` lists the cluster-scoped ones). */
  listByNamespace(namespace: string): T[] {
    return this.#lookup(NAMESPACE_INDEX, namespace);
  }

  /** The objects that index function `indexName` maps to `value`. */
  byIndex(indexName: string, value: string): T[] {
    if (!this.#indexers.has(indexName)) {
      const known = [...this.#indexers.keys()].filter((name) => typeof name === "string");
      throw new Error(
        `Unknown index "${indexName}": known are ${
          known.map((n) => `"${n}"`).join(", ") || "none"
        }`,
      );
    }
    return this.#lookup(indexName, value);
  }

  /** The values index function `indexName` currently maps at least one object to. */
  indexValues(indexName: string): string[] {
    this.byIndex(indexName, "");
    return [...(this.#indices.get(indexName) ?? new Map()).entries()]
      .filter(([, keys]) => keys.size > 0)
      .map(([value]) => value);
  }

  #lookup(indexName: IndexName, value: string): T[] {
    const keys = this.#indices.get(indexName)?.get(value);
    if (!keys) return [];
    return [...keys].map((key) => this.#items.get(key) as T);
  }

  #buildIndices(items: Map<string, T>): Indices {
    const indices: Indices = new Map();
    for (const name of this.#indexers.keys()) indices.set(name, new Map());
    for (const [key, obj] of items) addToIndices(indices, key, this.#indexValues(obj));
    return indices;
  }

  #indexValues(obj: T): IndexValues {
    return [...this.#indexers].map(([name, fn]) => [name, fn(obj)]);
  }

  #unindex(key: string, obj: T): void {
    for (const [name, values] of this.#indexValues(obj)) {
      const index = this.#indices.get(name) as Map<string, Set<string>>;
      for (const value of values) {
        const keys = index.get(value);
        keys?.delete(key);
        if (keys?.size === 0) index.delete(value);
      }
    }
  }
}

type IndexValues = [IndexName, string[]][];
type Indices = Map<IndexName, Map<string, Set<string>>>;

function addToIndices(indices: Indices, key: string, values: IndexValues): void {
  for (const [name, indexValues] of values) {
    const index = indices.get(name) as Map<string, Set<string>>;
    for (const value of indexValues) {
      let keys = index.get(value);
      if (!keys) index.set(value, keys = new Set());
      keys.add(key);
    }
  }
}

// A symbol, so that no index name a caller picks can collide with or query the built-in one.
const NAMESPACE_INDEX = Symbol("namespace");
type IndexName = string | typeof NAMESPACE_INDEX;

function isRecreated(previous: KubeObject, current: KubeObject): boolean {
  const before = previous.metadata?.uid;
  const after = current.metadata?.uid;
  return before !== undefined && after !== undefined && before !== after;
}

function isChanged(previous: KubeObject, current: KubeObject): boolean {
  const before = previous.metadata?.resourceVersion;
  const after = current.metadata?.resourceVersion;
  return before === undefined || after === undefined || before !== after;
}

/** Indexes an object by the UID of its controller owner (the owner reference with `controller: true`). */
export function controllerOwnerIndex(obj: KubeObject): string[] {
  const owner = obj.metadata?.ownerReferences?.find((ref) => ref.controller === true);
  return owner ? [owner.uid] : [];
}

/** Makes an index of objects by the value of label `labelKey` (objects without it are not indexed). */
export function labelIndex(labelKey: string): IndexFunc<KubeObject> {
  return (obj) => {
    const value = obj.metadata?.labels?.[labelKey];
    return value === undefined ? [] : [value];
  };
}

/**
 * Makes an index of objects by the field at dotted `path`, e.g. `spec.version`. Strings, numbers and
 * booleans index as their string form, arrays of them under each element; anything else is not indexed.
 */
export function fieldIndex(path: string): IndexFunc<KubeObject> {
  const segments = path.split(".");
  return (obj) => {
    let value: unknown = obj;
    for (const segment of segments) {
      if (typeof value !== "object" || value === null) return [];
      value = (value as Record<string, unknown>)[segment];
    }
    return (Array.isArray(value) ? value : [value]).filter(isScalar).map(String);
  };
}

function isScalar(value: unknown): value is string | number | boolean {
  return typeof value === "string" || typeof value === "number" || typeof value === "boolean";
}
