import assert from "node:assert/strict";
import type { V1Secret } from "@kubernetes/client-node";
import {
  controllerOwnerIndex,
  fieldIndex,
  labelIndex,
  objectKey,
  Store,
  type StoreDelta,
} from "./store.ts";
import type { KubeObject, OwnerReference } from "./types.ts";

interface Cluster extends KubeObject {
  spec?: { version?: string | number; tags?: unknown };
}

function obj(
  name: string,
  options: {
    namespace?: string;
    uid?: string;
    rv?: string;
    labels?: Record<string, string>;
    owners?: OwnerReference[];
    spec?: Cluster["spec"];
  } = {},
): Cluster {
  return {
    kind: "DatabaseCluster",
    metadata: {
      name,
      namespace: options.namespace,
      uid: options.uid ?? `uid-${name}`,
      resourceVersion: options.rv ?? "1",
      labels: options.labels,
      ownerReferences: options.owners,
    },
    spec: options.spec,
  };
}

function names(objects: KubeObject[]): string[] {
  return objects.map((o) => objectKey(o)).sort();
}

function summary(delta: StoreDelta<Cluster>) {
  return {
    added: names(delta.added),
    updated: names(delta.updated.map((u) => u.current)),
    deleted: names(delta.deleted),
  };
}

const owner = (uid: string, controller?: boolean): OwnerReference => ({
  apiVersion: "database.example.com/v1alpha1",
  kind: "DatabaseCluster",
  name: `owner-${uid}`,
  uid,
  controller,
});

Deno.test("objectKey() is namespace/name, or name for cluster-scoped objects", () => {
  assert.equal(objectKey(obj("pg", { namespace: "db" })), "db/pg");
  assert.equal(objectKey(obj("node-1")), "node-1");
});

Deno.test("objectKey() rejects an object without a name", () => {
  assert.throws(
    () => objectKey({ kind: "Secret", metadata: {} }),
    { message: 'Cannot key Secret: "metadata.name" is missing' },
  );
});

Deno.test("Store.upsert() adds and replaces, returning the previous object", () => {
  const store = new Store<Cluster>();
  assert.equal(store.upsert(obj("a", { namespace: "ns" })), undefined);
  const v2 = obj("a", { namespace: "ns", rv: "2" });
  const previous = store.upsert(v2);
  assert.equal(previous?.metadata?.resourceVersion, "1");
  assert.equal(store.get("ns/a"), v2);
  assert.equal(store.size, 1);
});

Deno.test("Store.remove() deletes by key and returns the cached object", () => {
  const store = new Store<Cluster>();
  const cached = obj("a", { namespace: "ns", rv: "5" });
  store.upsert(cached);
  assert.equal(store.remove(obj("a", { namespace: "ns", rv: "6" })), cached);
  assert.equal(store.get("ns/a"), undefined);
  assert.equal(store.remove(obj("a", { namespace: "ns" })), undefined);
});

Deno.test("Store.listByNamespace() lists one namespace and drops removed objects", () => {
  const store = new Store<Cluster>();
  store.upsert(obj("a", { namespace: "one" }));
  store.upsert(obj("b", { namespace: "one" }));
  store.upsert(obj("c", { namespace: "two" }));
  store.upsert(obj("cluster-wide"));
  assert.deepEqual(names(store.listByNamespace("one")), ["one/a", "one/b"]);
  assert.deepEqual(names(store.listByNamespace("")), ["cluster-wide"]);
  store.remove(obj("a", { namespace: "one" }));
  assert.deepEqual(names(store.listByNamespace("one")), ["one/b"]);
  assert.deepEqual(store.listByNamespace("absent"), []);
  assert.deepEqual(names(store.list()), ["cluster-wide", "one/b", "two/c"]);
  assert.deepEqual(store.keys().sort(), ["cluster-wide", "one/b", "two/c"]);
});

Deno.test("Store.replace() reports adds, changed objects and deletes, and skips unchanged ones", () => {
  const store = new Store<Cluster>();
  store.replace([obj("keep"), obj("change"), obj("vanish")], "10");
  const delta = store.replace([obj("keep"), obj("change", { rv: "2" }), obj("new")], "20");
  assert.deepEqual(summary(delta), { added: ["new"], updated: ["change"], deleted: ["vanish"] });
  assert.equal(delta.updated[0].previous.metadata?.resourceVersion, "1");
  assert.equal(delta.deleted[0].metadata?.name, "vanish");
  assert.deepEqual(names(store.list()), ["change", "keep", "new"]);
  assert.equal(store.resourceVersion, "20");
});

Deno.test("Store.replace() reports objects deleted through upserts since the last list", () => {
  const store = new Store<Cluster>();
  store.replace([obj("a")], "1");
  store.upsert(obj("from-watch"));
  const delta = store.replace([obj("a")], "2");
  assert.deepEqual(summary(delta), { added: [], updated: [], deleted: ["from-watch"] });
});

Deno.test("Store.replace() reports an object recreated under the same name as deleted and added", () => {
  const store = new Store<Cluster>();
  const old = obj("pg", { uid: "u1", rv: "5" });
  store.replace([old], "1");
  const recreated = obj("pg", { uid: "u2", rv: "9" });
  const delta = store.replace([recreated], "2");
  assert.deepEqual(delta, { added: [recreated], updated: [], deleted: [old] });
});

Deno.test("Store.replace() treats objects without resourceVersion as updated", () => {
  const store = new Store<KubeObject>();
  store.replace([{ metadata: { name: "a" } }], "1");
  const delta = store.replace([{ metadata: { name: "a" } }], "2");
  assert.equal(delta.updated.length, 1);
});

Deno.test("Store.replace() with an empty list deletes everything and clears the indexes", () => {
  const store = new Store<Cluster>({ indexers: { owner: controllerOwnerIndex } });
  store.replace([obj("a", { owners: [owner("o", true)] }), obj("b")], "1");
  const delta = store.replace([], "2");
  assert.deepEqual(names(delta.deleted), ["a", "b"]);
  assert.equal(store.size, 0);
  assert.deepEqual(store.byIndex("owner", "o"), []);
});

Deno.test("Store indexes follow upsert, remove and replace", () => {
  const store = new Store<Cluster>({ indexers: { app: labelIndex("app") } });
  store.upsert(obj("a", { labels: { app: "pg" } }));
  store.upsert(obj("b", { labels: { app: "pg" } }));
  store.upsert(obj("c", { labels: { app: "web" } }));
  assert.deepEqual(names(store.byIndex("app", "pg")), ["a", "b"]);
  store.upsert(obj("a", { labels: { app: "web" } }));
  assert.deepEqual(names(store.byIndex("app", "pg")), ["b"]);
  assert.deepEqual(names(store.byIndex("app", "web")), ["a", "c"]);
  store.remove(obj("c"));
  assert.deepEqual(names(store.byIndex("app", "web")), ["a"]);
  store.replace([obj("d", { labels: { app: "pg" } })], "7");
  assert.deepEqual(names(store.byIndex("app", "pg")), ["d"]);
  assert.deepEqual(store.byIndex("app", "web"), []);
});

Deno.test("Store is left unchanged when an index function throws", () => {
  const strict = (o: Cluster) => {
    if (o.metadata?.name === "bad") throw new Error("Bad object");
    return [o.metadata?.name ?? ""];
  };
  const store = new Store<Cluster>({ indexers: { strict } });
  store.replace([obj("a")], "1");
  assert.throws(() => store.replace([obj("b"), obj("bad")], "2"), { message: "Bad object" });
  assert.throws(() => store.upsert(obj("bad")), { message: "Bad object" });
  assert.deepEqual(names(store.list()), ["a"]);
  assert.equal(store.resourceVersion, "1");
  assert.deepEqual(names(store.byIndex("strict", "a")), ["a"]);
});

Deno.test("Store.byIndex() rejects an unknown index name", () => {
  const store = new Store<Cluster>({
    indexers: { owner: controllerOwnerIndex, app: labelIndex("app") },
  });
  assert.throws(() => store.byIndex("nope", "x"), {
    message: 'Unknown index "nope": known are "owner", "app"',
  });
  assert.throws(() => new Store<Cluster>().byIndex("namespace", ""), {
    message: 'Unknown index "namespace": known are none',
  });
});

Deno.test("controllerOwnerIndex() indexes by the controller owner's UID only", () => {
  assert.deepEqual(controllerOwnerIndex(obj("a", { owners: [owner("x"), owner("y", true)] })), [
    "y",
  ]);
  assert.deepEqual(controllerOwnerIndex(obj("b", { owners: [owner("x", false)] })), []);
  assert.deepEqual(controllerOwnerIndex(obj("c")), []);
  const store = new Store<Cluster>({ indexers: { owner: controllerOwnerIndex } });
  store.upsert(obj("pod-1", { namespace: "db", owners: [owner("cluster-uid", true)] }));
  store.upsert(obj("pod-2", { namespace: "db", owners: [owner("cluster-uid")] }));
  assert.deepEqual(names(store.byIndex("owner", "cluster-uid")), ["db/pod-1"]);
});

Deno.test("labelIndex() skips objects without the label", () => {
  const byRole = labelIndex("role");
  assert.deepEqual(byRole(obj("a", { labels: { role: "primary" } })), ["primary"]);
  assert.deepEqual(byRole(obj("b", { labels: { other: "x" } })), []);
  assert.deepEqual(byRole(obj("c")), []);
});

Deno.test("fieldIndex() reads a dotted path and indexes scalars and arrays of scalars", () => {
  const byVersion = fieldIndex("spec.version");
  assert.deepEqual(byVersion(obj("a", { spec: { version: "16" } })), ["16"]);
  assert.deepEqual(byVersion(obj("b", { spec: { version: 17 } })), ["17"]);
  assert.deepEqual(byVersion(obj("c", { spec: {} })), []);
  assert.deepEqual(byVersion(obj("d")), []);
  const byTag = fieldIndex("spec.tags");
  assert.deepEqual(byTag(obj("e", { spec: { tags: ["x", 1, { no: 1 }, true] } })), [
    "x",
    "1",
    "true",
  ]);
  assert.deepEqual(byTag(obj("f", { spec: { tags: { nested: "object" } } })), []);
  const store = new Store<Cluster>({ indexers: { version: byVersion } });
  store.upsert(obj("pg-a", { spec: { version: "16" } }));
  store.upsert(obj("pg-b", { spec: { version: "17" } }));
  assert.deepEqual(names(store.byIndex("version", "16")), ["pg-a"]);
});

Deno.test("Store accepts @kubernetes/client-node objects as they are", () => {
  const store = new Store<V1Secret>({ indexers: { owner: controllerOwnerIndex } });
  const secret: V1Secret = {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "pg-app", namespace: "db", ownerReferences: [owner("c1", true)] },
    data: { password: "cGFzcw==" },
  };
  store.upsert(secret);
  assert.equal(store.byIndex("owner", "c1")[0], secret);
});

Deno.test("Store.indexValues() lists the values in use, dropping ones no object maps to", () => {
  const store = new Store<KubeObject>({ indexers: { version: fieldIndex("spec.version") } });
  const cluster = (name: string, version: string) =>
    ({ metadata: { name, namespace: "ns" }, spec: { version } }) as KubeObject;
  store.upsert(cluster("a", "16"));
  store.upsert(cluster("b", "17"));
  store.upsert(cluster("c", "17"));
  assert.deepEqual(store.indexValues("version").sort(), ["16", "17"]);
  store.upsert(cluster("a", "17"));
  assert.deepEqual(store.indexValues("version"), ["17"]);
  assert.throws(() => store.indexValues("nope"), /Unknown index "nope"/);
});
