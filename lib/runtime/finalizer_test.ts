import assert from "node:assert/strict";
import { isDeepStrictEqual } from "node:util";
import type { V1ConfigMap } from "@kubernetes/client-node";
import { InvalidError, NotFoundError, resourceType } from "../kube/mod.ts";
import {
  addFinalizerPatch,
  type JsonPatchOperation,
  removeFinalizerPatch,
  withFinalizer,
} from "./finalizer.ts";

// Declared here: lib/runtime is generic and takes its kinds from the caller.
const ConfigMaps = resourceType<V1ConfigMap>("", "v1", "ConfigMap");

const OURS = "database.example.com/cleanup";
const THEIRS = "backup.example.com/protect";

function configMap(finalizers?: string[], deleting = false): V1ConfigMap {
  return {
    metadata: {
      name: "pg",
      namespace: "db",
      uid: "uid-1",
      resourceVersion: "1",
      ...(finalizers ? { finalizers } : {}),
      ...(deleting ? { deletionTimestamp: new Date(0) } : {}),
    },
  };
}

function invalid(message: string): InvalidError {
  return new InvalidError(422, { reason: "Invalid", message }, false);
}

/** Applies `ops` to `doc` like the API server's JSON Patch (only the operations the helper uses). */
function applyPatch(doc: V1ConfigMap, ops: JsonPatchOperation[]): V1ConfigMap {
  const out = structuredClone(doc) as Record<string, unknown>;
  for (const { op, path, value } of ops) {
    const keys = path.split("/").slice(1);
    const last = keys.pop()!;
    const parent = keys.reduce(
      (node, key) => (node as Record<string, unknown>)?.[key],
      out as unknown,
    );
    const container = parent as Record<string, unknown> & unknown[];
    if (op === "test") {
      const actual = container?.[last as never] ?? null;
      if (!isDeepStrictEqual(actual, value)) throw invalid(`testing value ${path} failed`);
    } else if (op === "add" && Array.isArray(container)) {
      container.splice(last === "-" ? container.length : Number(last), 0, value);
    } else if (op === "add") {
      container[last] = value;
    } else {
      container.splice(Number(last), 1);
    }
  }
  return out as V1ConfigMap;
}

/** One stored ConfigMap behind get and JSON patch; `meddle` changes it just before our next patch. */
class FakeStore {
  obj?: V1ConfigMap;
  readonly patches: JsonPatchOperation[][] = [];
  meddle: ((obj: V1ConfigMap) => V1ConfigMap)[] = [];
  #rv = 1;

  constructor(obj?: V1ConfigMap) {
    this.obj = obj && structuredClone(obj);
  }

  getOrUndefined<T>(): Promise<T | undefined> {
    return Promise.resolve(this.obj && structuredClone(this.obj) as T);
  }

  patch<T>(_type: unknown, _name: string, ops: unknown): Promise<T> {
    this.patches.push(ops as JsonPatchOperation[]);
    const meddle = this.meddle.shift();
    if (meddle && this.obj) this.obj = this.#bump(meddle(structuredClone(this.obj)));
    if (!this.obj) return Promise.reject(new NotFoundError(404, { reason: "NotFound" }, false));
    try {
      const next = applyPatch(this.obj, ops as JsonPatchOperation[]);
      const before = this.obj.metadata?.finalizers ?? [];
      const added = (next.metadata?.finalizers ?? []).some((f) => !before.includes(f));
      if (this.obj.metadata?.deletionTimestamp && added) {
        throw invalid("no new finalizers can be added if the object is being deleted");
      }
      this.obj = this.#bump(next);
      if (this.obj.metadata?.deletionTimestamp && !this.obj.metadata.finalizers?.length) {
        this.obj = undefined;
        return Promise.resolve({} as T);
      }
      return Promise.resolve(structuredClone(this.obj) as T);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #bump(obj: V1ConfigMap): V1ConfigMap {
    return { ...obj, metadata: { ...obj.metadata, resourceVersion: String(++this.#rv) } };
  }
}

function handlers(log: string[], cleanupError?: Error) {
  return {
    type: ConfigMaps,
    finalizer: OURS,
    apply: (obj: V1ConfigMap) => {
      log.push(`apply ${JSON.stringify(obj.metadata?.finalizers)}`);
      return Promise.resolve("applied");
    },
    cleanup: (obj: V1ConfigMap) => {
      log.push(`cleanup ${JSON.stringify(obj.metadata?.finalizers)}`);
      return cleanupError ? Promise.reject(cleanupError) : Promise.resolve("cleaned");
    },
  };
}

Deno.test("addFinalizerPatch() guards on the uid and the whole current finalizer list", () => {
  assert.deepEqual(addFinalizerPatch(configMap(), OURS), [
    { op: "test", path: "/metadata/uid", value: "uid-1" },
    { op: "test", path: "/metadata/finalizers", value: null },
    { op: "add", path: "/metadata/finalizers", value: [OURS] },
  ]);
  assert.deepEqual(addFinalizerPatch(configMap([THEIRS]), OURS), [
    { op: "test", path: "/metadata/uid", value: "uid-1" },
    { op: "test", path: "/metadata/finalizers", value: [THEIRS] },
    { op: "add", path: "/metadata/finalizers/-", value: OURS },
  ]);
});

Deno.test("removeFinalizerPatch() removes exactly our index after testing it", () => {
  assert.deepEqual(removeFinalizerPatch(configMap([THEIRS, OURS]), OURS), [
    { op: "test", path: "/metadata/uid", value: "uid-1" },
    { op: "test", path: "/metadata/finalizers/1", value: OURS },
    { op: "remove", path: "/metadata/finalizers/1" },
  ]);
  assert.equal(removeFinalizerPatch(configMap([THEIRS]), OURS), undefined);
});

Deno.test("withFinalizer() adds the finalizer, then applies with the patched object", async () => {
  const store = new FakeStore(configMap([THEIRS]));
  const log: string[] = [];
  const result = await withFinalizer(store, configMap([THEIRS]), handlers(log));
  assert.equal(result, "applied");
  assert.deepEqual(log, [`apply ${JSON.stringify([THEIRS, OURS])}`]);
  assert.deepEqual(store.obj?.metadata?.finalizers, [THEIRS, OURS]);
});

Deno.test("withFinalizer() only applies when the finalizer is already there", async () => {
  const store = new FakeStore(configMap([OURS]));
  const log: string[] = [];
  assert.equal(await withFinalizer(store, configMap([OURS]), handlers(log)), "applied");
  assert.equal(store.patches.length, 0);
  assert.equal(log.length, 1);
});

Deno.test("withFinalizer() cleans up a deleted object and only then removes the finalizer", async () => {
  const store = new FakeStore(configMap([OURS, THEIRS], true));
  const log: string[] = [];
  const result = await withFinalizer(store, configMap([OURS, THEIRS], true), handlers(log));
  assert.equal(result, "cleaned");
  assert.deepEqual(log, [`cleanup ${JSON.stringify([OURS, THEIRS])}`]);
  assert.deepEqual(store.obj?.metadata?.finalizers, [THEIRS]);
});

Deno.test("withFinalizer() keeps the finalizer when cleanup fails and rethrows the failure", async () => {
  const store = new FakeStore(configMap([OURS], true));
  const failure = new Error("Backup bucket unreachable");
  await assert.rejects(
    withFinalizer(store, configMap([OURS], true), handlers([], failure)),
    (error) => error === failure,
  );
  assert.equal(store.patches.length, 0);
  assert.deepEqual(store.obj?.metadata?.finalizers, [OURS]);
});

Deno.test("withFinalizer() leaves an object being deleted without our finalizer alone", async () => {
  const store = new FakeStore(configMap([THEIRS], true));
  const log: string[] = [];
  assert.equal(await withFinalizer(store, configMap([THEIRS], true), handlers(log)), undefined);
  assert.deepEqual(log, []);
  assert.equal(store.patches.length, 0);
});

Deno.test("withFinalizer() keeps a finalizer another controller added between our read and our patch", async () => {
  const store = new FakeStore(configMap());
  store.meddle.push((obj) => ({ ...obj, metadata: { ...obj.metadata, finalizers: [THEIRS] } }));
  const log: string[] = [];
  await withFinalizer(store, configMap(), handlers(log));
  assert.equal(store.patches.length, 2, "the first guard failed and we tried again");
  assert.deepEqual(store.obj?.metadata?.finalizers, [THEIRS, OURS]);
  assert.deepEqual(log, [`apply ${JSON.stringify([THEIRS, OURS])}`]);
});

Deno.test("withFinalizer() removes the right entry when the list shifted under it", async () => {
  const store = new FakeStore(configMap([THEIRS, OURS, "x.example.com/y"], true));
  store.meddle.push((obj) => ({
    ...obj,
    metadata: { ...obj.metadata, finalizers: [OURS, "x.example.com/y"] },
  }));
  await withFinalizer(store, configMap([THEIRS, OURS, "x.example.com/y"], true), handlers([]));
  assert.equal(store.patches.length, 2);
  assert.deepEqual(store.obj?.metadata?.finalizers, ["x.example.com/y"]);
});

Deno.test("withFinalizer() never strips the finalizer from a new object that took the same name", async () => {
  const store = new FakeStore(configMap([OURS], true));
  store.meddle.push(() => ({ metadata: { ...configMap([OURS]).metadata, uid: "uid-2" } }));
  await withFinalizer(store, configMap([OURS], true), handlers([]));
  assert.equal(store.obj?.metadata?.uid, "uid-2");
  assert.deepEqual(store.obj?.metadata?.finalizers, [OURS]);
});

Deno.test("withFinalizer() does not apply when the object started deleting before the finalizer got on", async () => {
  const store = new FakeStore(configMap([THEIRS]));
  store.meddle.push((obj) => ({
    ...obj,
    metadata: { ...obj.metadata, deletionTimestamp: new Date(0) },
  }));
  const log: string[] = [];
  assert.equal(await withFinalizer(store, configMap([THEIRS]), handlers(log)), undefined);
  assert.deepEqual(log, []);
  assert.deepEqual(store.obj?.metadata?.finalizers, [THEIRS]);
});

Deno.test("withFinalizer() gives up with a clear error when the object keeps changing", async () => {
  const store = new FakeStore(configMap());
  let n = 0;
  const churn = (obj: V1ConfigMap) => ({
    ...obj,
    metadata: { ...obj.metadata, finalizers: [`x.example.com/f${n++}`] },
  });
  store.meddle.push(churn, churn, churn);
  await assert.rejects(
    withFinalizer(store, configMap(), { ...handlers([]), maxAttempts: 3 }),
    /Cannot add finalizer "database.example.com\/cleanup" on ConfigMap "db\/pg": testing value/,
  );
});

Deno.test("withFinalizer() rejects a finalizer name without a domain", async () => {
  await assert.rejects(
    withFinalizer(new FakeStore(configMap()), configMap(), {
      ...handlers([]),
      finalizer: "cleanup",
    }),
    /Finalizer must be a domain-qualified name like "example.com\/name": got "cleanup"/,
  );
});
