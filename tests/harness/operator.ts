/**
 * The operator run in the test process (manager plus DatabaseCluster
 * controller), so tests can read its metrics registry directly. Tests of the
 * shipped binary start `mod.ts run` as a separate process instead.
 *
 * @module
 */
import { KubeClient, Resources } from "../../lib/kube/mod.ts";
import { loadKubeConfig } from "../../lib/kube/config.ts";
import { ensureCrd } from "./clusters.ts";
import { createNamespace, type TestCluster } from "./mod.ts";
import { setupDatabaseClusterController } from "../../lib/databasecluster/controller.ts";
import {
  createOperatorMetrics,
  Manager,
  type OperatorMetrics,
  restClientObserver,
} from "../../lib/runtime/mod.ts";
import { FIELD_MANAGER } from "../../lib/databasecluster/names.ts";

/** A running in-process operator. */
export interface TestOperator {
  manager: Manager;
  metrics: OperatorMetrics;
  /** Mutating requests (POST, PUT, PATCH, DELETE) the operator has sent so far. */
  writes(): Promise<number>;
  /** Reconciles finished so far, whatever their result. */
  reconciles(): Promise<number>;
  stop(): Promise<void>;
}

/** Starts the operator against `kubeconfigPath`, watching `namespaces` (all when empty). */
export function startOperator(
  kubeconfigPath: string,
  options: {
    namespaces?: string[];
    maxConcurrentReconciles?: number;
    resyncPeriodMs?: number;
    instanceStatusPeriodMs?: number;
  } = {},
): TestOperator {
  const metrics = createOperatorMetrics({ processMetrics: false });
  const resources = new Resources(
    new KubeClient(loadKubeConfig({ kubeconfig: kubeconfigPath }).credentials, {
      observer: restClientObserver(metrics),
    }),
    { fieldManager: FIELD_MANAGER },
  );
  const manager = new Manager(resources, {
    metrics,
    metricsBindAddress: "0",
    healthProbeBindAddress: "0",
  });
  setupDatabaseClusterController(manager, {
    namespaces: options.namespaces ?? [],
    maxConcurrentReconciles: options.maxConcurrentReconciles ?? 4,
    resyncPeriodMs: options.resyncPeriodMs,
    instanceStatusPeriodMs: options.instanceStatusPeriodMs,
    instance: "test-operator",
  });
  const stop = new AbortController();
  const running = manager.run(stop.signal);
  return {
    manager,
    metrics,
    async writes() {
      const values = (await metrics.restClientRequests.get()).values;
      return values
        .filter((v) => ["POST", "PUT", "PATCH", "DELETE"].includes(String(v.labels.method)))
        .reduce((sum, v) => sum + v.value, 0);
    },
    async reconciles() {
      return (await metrics.reconcileTotal.get()).values.reduce((sum, v) => sum + v.value, 0);
    },
    async stop() {
      stop.abort();
      await running;
      resources.client.close();
    },
  };
}

/**
 * A test body run with its own namespace (created first, deleted after) and an operator
 * watching only that namespace, on a cluster prepared by {@linkcode ensureCrd}.
 */
export function withOperator(
  cluster: TestCluster,
  prefix: string,
  fn: (namespace: string, operator: TestOperator) => Promise<void>,
): () => Promise<void> {
  return async () => {
    await ensureCrd(cluster);
    const ns = await createNamespace(cluster, prefix);
    const operator = startOperator(cluster.kubeconfigPath, { namespaces: [ns] });
    try {
      await fn(ns, operator);
    } finally {
      await operator.stop();
      await cluster.kubectl(["delete", "namespace", ns, "--wait=false"]);
    }
  };
}
