import assert from "node:assert/strict";
import type { V1OwnerReference, V1PersistentVolumeClaim } from "@kubernetes/client-node";
import type { Resources } from "../kube/mod.ts";
import type { ClusterObject } from "./cache.ts";
import { cleanUpVolumes } from "./deletion.ts";

const cluster = {
  apiVersion: "database.example.com/v1",
  kind: "DatabaseCluster",
  metadata: { name: "pg", namespace: "shop", uid: "cluster-uid" },
} as ClusterObject;

const CLUSTER_OWNER: V1OwnerReference = {
  apiVersion: "database.example.com/v1",
  kind: "DatabaseCluster",
  name: "pg",
  uid: "cluster-uid",
};
const SET_OWNER: V1OwnerReference = {
  apiVersion: "apps/v1",
  kind: "StatefulSet",
  name: "pg",
  uid: "set-uid",
};
const OTHER_OWNER: V1OwnerReference = {
  apiVersion: "example.com/v1",
  kind: "Keeper",
  name: "k",
  uid: "keeper-uid",
};

function claim(name: string, uid: string, owners: V1OwnerReference[]): V1PersistentVolumeClaim {
  return { metadata: { name, namespace: "shop", uid, ownerReferences: owners } };
}

interface Call {
  method: "patch" | "delete";
  kind: string;
  name: string;
  body?: unknown;
  options: Record<string, unknown>;
}

function fakeResources() {
  const calls: Call[] = [];
  const resources = {
    patch(type: { kind: string }, name: string, body: unknown, options: Record<string, unknown>) {
      calls.push({ method: "patch", kind: type.kind, name, body, options });
      return Promise.resolve({});
    },
    delete(type: { kind: string }, name: string, options: Record<string, unknown>) {
      calls.push({ method: "delete", kind: type.kind, name, options });
      return Promise.resolve();
    },
  } as unknown as Resources;
  return { resources, calls };
}

Deno.test("cleanUpVolumes() with Retain detaches the cluster and StatefulSet owners and keeps others", async () => {
  const { resources, calls } = fakeResources();
  const outcome = await cleanUpVolumes(resources, cluster, [
    claim("data-pg-0", "c0", [SET_OWNER]),
    claim("pg-backups", "c1", [CLUSTER_OWNER, OTHER_OWNER]),
  ], { policy: "Retain" });
  assert.deepEqual(outcome, { retained: ["data-pg-0", "pg-backups"], deleted: [] });
  assert.deepEqual(calls, [
    {
      method: "patch",
      kind: "PersistentVolumeClaim",
      name: "data-pg-0",
      body: [
        { op: "test", path: "/metadata/uid", value: "c0" },
        { op: "replace", path: "/metadata/ownerReferences", value: [] },
      ],
      options: { namespace: "shop", patchType: "json", signal: undefined },
    },
    {
      method: "patch",
      kind: "PersistentVolumeClaim",
      name: "pg-backups",
      body: [
        { op: "test", path: "/metadata/uid", value: "c1" },
        { op: "replace", path: "/metadata/ownerReferences", value: [OTHER_OWNER] },
      ],
      options: { namespace: "shop", patchType: "json", signal: undefined },
    },
  ]);
});

Deno.test("cleanUpVolumes() with Retain writes nothing for claims already detached", async () => {
  const { resources, calls } = fakeResources();
  const outcome = await cleanUpVolumes(resources, cluster, [
    claim("data-pg-0", "c0", []),
    claim("data-pg-1", "c1", [OTHER_OWNER]),
  ], { policy: "Retain" });
  assert.deepEqual(outcome, { retained: ["data-pg-0", "data-pg-1"], deleted: [] });
  assert.deepEqual(calls, []);
});

Deno.test("cleanUpVolumes() with Delete deletes each claim guarded by its uid", async () => {
  const { resources, calls } = fakeResources();
  const outcome = await cleanUpVolumes(resources, cluster, [
    claim("data-pg-0", "c0", [SET_OWNER]),
    claim("pg-backups", "c1", []),
  ], { policy: "Delete" });
  assert.deepEqual(outcome, { retained: [], deleted: ["data-pg-0", "pg-backups"] });
  assert.deepEqual(calls, [
    {
      method: "delete",
      kind: "PersistentVolumeClaim",
      name: "data-pg-0",
      options: { namespace: "shop", signal: undefined, preconditionUid: "c0" },
    },
    {
      method: "delete",
      kind: "PersistentVolumeClaim",
      name: "pg-backups",
      options: { namespace: "shop", signal: undefined, preconditionUid: "c1" },
    },
  ]);
});
