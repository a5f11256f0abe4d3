/**
 * Helpers for tests about DatabaseClusters: install the CRD, read objects as
 * JSON, wait for a phase or a condition, record every status a watch delivers.
 *
 * @module
 */
import { KubeClient, Resources } from "../../lib/kube/mod.ts";
import { loadKubeConfig } from "../../lib/kube/config.ts";
import { DatabaseClusters } from "../../lib/databasecluster/cache.ts";
import { Informer } from "../../lib/runtime/mod.ts";
import { eventually, type TestCluster } from "./mod.ts";
import { FIELD_MANAGER } from "../../lib/databasecluster/names.ts";

// deno-lint-ignore no-explicit-any
export type Obj = any;

const CRD =
  new URL("../../crds/database.example.com_databaseclusters.yaml", import.meta.url).pathname;

/**
 * Prepares a cluster for DatabaseClusters: the committed CRD (Established) and the
 * StorageClass `fast-ssd` the samples name, made with the default class's
 * provisioner and volume expansion allowed.
 */
export async function ensureCrd(cluster: TestCluster): Promise<void> {
  const classes = await getJson(cluster, ["get", "storageclass"]);
  if (!classes.items.some((c: Obj) => c.metadata.name === "fast-ssd")) {
    const fallback = classes.items.find((c: Obj) =>
      c.metadata.annotations?.["storageclass.kubernetes.io/is-default-class"] === "true"
    ) ?? classes.items[0];
    await cluster.kubectlOk(["apply", "-f", "-"], {
      stdin: JSON.stringify({
        apiVersion: "storage.k8s.io/v1",
        kind: "StorageClass",
        metadata: { name: "fast-ssd" },
        provisioner: fallback.provisioner,
        allowVolumeExpansion: true,
        volumeBindingMode: fallback.volumeBindingMode ?? "Immediate",
      }),
    });
  }
  await cluster.kubectlOk(["apply", "--server-side", "--force-conflicts", "-f", CRD]);
  // Not `kubectl wait`: it fails instead of waiting while a new CRD has no conditions yet.
  await eventually("the CRD Established", async () => {
    const crd = await getJson(cluster, ["get", "crd", "databaseclusters.database.example.com"]);
    const established = (crd.status?.conditions ?? []).some((c: Obj) =>
      c.type === "Established" && c.status === "True"
    );
    return established ? true : undefined;
  }, { timeoutMs: 60_000, intervalMs: 200 });
}

/** `kubectl get ... -o json`, parsed. */
export async function getJson(cluster: TestCluster, args: string[]): Promise<Obj> {
  return JSON.parse(await cluster.kubectlOk([...args, "-o", "json"]));
}

/** Waits until the cluster reports `phase` for its current generation; returns it. */
export async function waitForPhase(
  cluster: TestCluster,
  namespace: string,
  name: string,
  phase: string,
  timeoutMs = 90_000,
): Promise<Obj> {
  return await eventually(`DatabaseCluster "${namespace}/${name}" to be ${phase}`, async () => {
    const dbc = await getJson(cluster, ["get", "dbc", name, "-n", namespace]);
    return dbc.status?.phase === phase && dbc.status.observedGeneration === dbc.metadata.generation
      ? dbc
      : undefined;
  }, { timeoutMs, intervalMs: 250 });
}

/** Waits until `check` holds for the cluster object; returns it. */
export async function waitForCluster(
  cluster: TestCluster,
  namespace: string,
  name: string,
  what: string,
  check: (dbc: Obj) => boolean,
  timeoutMs = 90_000,
): Promise<Obj> {
  return await eventually(`DatabaseCluster "${namespace}/${name}": ${what}`, async () => {
    const dbc = await getJson(cluster, ["get", "dbc", name, "-n", namespace]);
    return check(dbc) ? dbc : undefined;
  }, { timeoutMs, intervalMs: 250 });
}

/** Installs a minimal Prometheus Operator PodMonitor CRD (schema-less), as dbop discovers it. */
export async function installPodMonitorCrd(cluster: TestCluster): Promise<void> {
  await cluster.kubectlOk(["apply", "-f", "-"], {
    stdin: JSON.stringify({
      apiVersion: "apiextensions.k8s.io/v1",
      kind: "CustomResourceDefinition",
      metadata: { name: "podmonitors.monitoring.coreos.com" },
      spec: {
        group: "monitoring.coreos.com",
        names: { kind: "PodMonitor", plural: "podmonitors", singular: "podmonitor" },
        scope: "Namespaced",
        versions: [{
          name: "v1",
          served: true,
          storage: true,
          schema: {
            openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
          },
        }],
      },
    }),
  });
}

/** Every status a DatabaseCluster's watch delivers, in order, until stopped. */
export interface StatusRecorder {
  readonly statuses: Obj[];
  stop(): Promise<void>;
}

/** Records each status of `namespace/name` as a watch delivers it, so short-lived states are seen. */
export async function recordStatuses(
  cluster: TestCluster,
  namespace: string,
  name: string,
): Promise<StatusRecorder> {
  const resources = new Resources(
    new KubeClient(loadKubeConfig({ kubeconfig: cluster.kubeconfigPath }).credentials),
    { fieldManager: FIELD_MANAGER },
  );
  const informer = new Informer(resources, DatabaseClusters, {
    namespace,
    fieldSelector: `metadata.name=${name}`,
  });
  const statuses: Obj[] = [];
  informer.addHandler((event) => {
    if (event.type !== "deleted" && event.object.status) statuses.push(event.object.status);
  });
  const stop = new AbortController();
  const running = informer.run(stop.signal);
  await informer.waitForSync();
  return {
    statuses,
    async stop() {
      stop.abort();
      await running;
      resources.client.close();
    },
  };
}
