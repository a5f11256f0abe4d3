/**
 * The fleet under test: N DatabaseClusters made from `deploy/samples/minimal.yaml`
 * (one instance, 1Gi) pinned to a minor version so it can be bumped, and the
 * benchmark's own writes (create, merge patch, namespaces), sent as the admin
 * with field manager `dbop-bench` so they never mix with dbop's.
 *
 * @module
 */
import { parse } from "yaml";
import { resourcePath, type Resources } from "../lib/kube/mod.ts";
import { Namespaces } from "../lib/databasecluster/kinds.ts";
import { type ClusterObject, DatabaseClusters } from "../lib/databasecluster/cache.ts";
import { forEachConcurrently } from "./pool.ts";

/** The version every cluster starts with, and the minor bump of the fleet scenario. */
export const VERSIONS = { base: "17.5", bumped: "17.6" } as const;

/** How many creates the benchmark keeps in flight ("all at once", as `kubectl apply` would not). */
export const CREATE_CONCURRENCY = 16;

const MANAGER = "dbop-bench";
const SAMPLE = new URL("../deploy/samples/minimal.yaml", import.meta.url);

/**
 * Clusters per namespace. The controller manager's endpoint controllers match every pod
 * event against every Service of the pod's namespace: 1000 clusters (5000 Services) in one
 * namespace made them the limit of both dbop and the floor. The test control plane no longer
 * runs them (its pod IPs are loopback); the spread keeps runs comparable with earlier ones.
 */
export const CLUSTERS_PER_NAMESPACE = 50;

/** Names `pg-0000`, `pg-0001`, ... */
export function clusterNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `pg-${String(i).padStart(4, "0")}`);
}

const FLEET_NAME = /^pg-(\d+)$/;

/** The namespace of a fleet cluster: `<prefix>-0` for the first 50, `<prefix>-1` after, ... */
export function fleetNamespace(prefix: string, name: string): string {
  const index = FLEET_NAME.exec(name)?.[1];
  if (index === undefined) throw new Error(`Not a fleet cluster name: "${name}"`);
  return `${prefix}-${Math.floor(Number(index) / CLUSTERS_PER_NAMESPACE)}`;
}

/** Whether `namespace/name` is a cluster of the fleet named by `prefix`. */
export function inFleet(prefix: string, namespace: string | undefined, name: string): boolean {
  return FLEET_NAME.test(name) && namespace === fleetNamespace(prefix, name);
}

/** Every namespace of a fleet of `count` clusters. */
export function fleetNamespaces(prefix: string, count: number): string[] {
  const shards = Math.ceil(count / CLUSTERS_PER_NAMESPACE);
  return Array.from({ length: shards }, (_, i) => `${prefix}-${i}`);
}

/** The sample cluster named `name` in `namespace`, at the base version. */
export async function clusterManifest(namespace: string, name: string): Promise<ClusterObject> {
  const sample = parse(await Deno.readTextFile(SAMPLE)) as ClusterObject;
  return {
    ...sample,
    metadata: { name, namespace },
    spec: { ...sample.spec, version: VERSIONS.base },
  };
}

/**
 * Creates the clusters, each in the namespace `namespaceOf` names, with
 * {@linkcode CREATE_CONCURRENCY} in flight; `onCreated` gets each as stored.
 */
export async function createClusters(
  admin: Resources,
  namespaceOf: (name: string) => string,
  names: readonly string[],
  onCreated: (created: ClusterObject, at: number) => void | Promise<void>,
): Promise<void> {
  const template = await clusterManifest("", "x");
  await forEachConcurrently(names, CREATE_CONCURRENCY, async (name) => {
    const namespace = namespaceOf(name);
    const created = await admin.client.request<ClusterObject>(
      resourcePath(DatabaseClusters, { namespace }),
      {
        method: "POST",
        body: { ...template, metadata: { name, namespace } },
        query: { fieldManager: MANAGER },
      },
    );
    await onCreated(created, Date.now());
  });
}

/** Merge-patches a cluster's spec. */
export async function patchClusterSpec(
  admin: Resources,
  namespace: string,
  name: string,
  spec: Record<string, unknown>,
): Promise<void> {
  await admin.client.request(resourcePath(DatabaseClusters, { namespace, name }), {
    method: "PATCH",
    body: { spec },
    contentType: "application/merge-patch+json",
    query: { fieldManager: MANAGER },
  });
}

/** Creates a namespace. */
export async function createNamespace(admin: Resources, name: string): Promise<void> {
  await admin.client.request(resourcePath(Namespaces), {
    method: "POST",
    body: { apiVersion: "v1", kind: "Namespace", metadata: { name } },
    query: { fieldManager: MANAGER },
  });
}

/** Deletes a namespace and waits until it is gone; returns how long that took (ms). */
export async function deleteNamespace(
  admin: Resources,
  name: string,
  timeoutMs: number,
): Promise<number> {
  const started = Date.now();
  await admin.delete(Namespaces, name);
  while (await admin.getOrUndefined(Namespaces, name)) {
    if (Date.now() - started > timeoutMs) {
      throw new Error(`Namespace "${name}" still exists after ${Math.round(timeoutMs / 1000)} s`);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return Date.now() - started;
}
