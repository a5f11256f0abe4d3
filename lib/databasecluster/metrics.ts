/**
 * The design notes' cluster metrics: `database_clusters_created_total
 * {namespace,version}` (counted when dbop creates a cluster's StatefulSet),
 * `database_clusters{namespace,phase}` and `database_clusters_by_version
 * {version}`, both computed from the informer cache at scrape time, so they
 * are right when clusters change phase or go away. The per-version gauge
 * reads the cache's field index on `spec.version`.
 *
 * @module
 */
import { Counter, Gauge, type Registry } from "prom-client";
import type { Store } from "../runtime/mod.ts";
import type { KubeObject } from "../runtime/mod.ts";

/** Name of the informer index on `spec.version`. */
export const VERSION_INDEX = "spec.version";

/** The cluster metrics; see the module doc. */
export interface ClusterMetrics {
  created: Counter<"namespace" | "version">;
}

/** Registers the cluster metrics in `registry`, reading phases and versions from `stores`. */
export function registerClusterMetrics(
  registry: Registry,
  stores: () => Store<KubeObject & { status?: { phase?: string } }>[],
): ClusterMetrics {
  const created = new Counter({
    name: "database_clusters_created_total",
    help: "DatabaseClusters whose StatefulSet dbop created, by namespace and PostgreSQL version",
    labelNames: ["namespace", "version"] as const,
    registers: [registry],
  });
  new Gauge({
    name: "database_clusters",
    help: "DatabaseClusters by namespace and phase",
    labelNames: ["namespace", "phase"] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const store of stores()) {
        for (const cluster of store.list()) {
          const phase = cluster.status?.phase ?? "Pending";
          this.inc({ namespace: cluster.metadata?.namespace ?? "", phase });
        }
      }
    },
  });
  new Gauge({
    name: "database_clusters_by_version",
    help: "DatabaseClusters by requested PostgreSQL version (spec.version)",
    labelNames: ["version"] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const store of stores()) {
        for (const version of store.indexValues(VERSION_INDEX)) {
          this.inc({ version }, store.byIndex(VERSION_INDEX, version).length);
        }
      }
    },
  });
  return { created };
}
