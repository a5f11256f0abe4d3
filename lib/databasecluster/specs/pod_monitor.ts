/**
 * Builder of the Prometheus Operator PodMonitor `<c>`, wanted when
 * `monitoring.podMonitor` is set and the `monitoring.coreos.com` CRD is
 * installed (the reconciler discovers that and passes it in; without it the
 * status says so, and the exporter's `metrics` port can still be scraped).
 *
 * @module
 */
import type { V1ObjectMeta } from "@kubernetes/client-node";
import type { DatabaseCluster } from "../../api/mod.ts";
import { instanceSelector, METRICS_PORT_NAME, podMonitorName } from "../names.ts";
import { childMetadata, clusterName } from "./common.ts";

/** API group and version of the PodMonitor kind. */
export const POD_MONITOR_API_VERSION = "monitoring.coreos.com/v1";

/** The fields of a PodMonitor dbop sets (the kind is not in client-node). */
export interface PodMonitor {
  apiVersion: typeof POD_MONITOR_API_VERSION;
  kind: "PodMonitor";
  metadata: V1ObjectMeta;
  spec: {
    selector: { matchLabels: Record<string, string> };
    podMetricsEndpoints: { port: string; path: string }[];
  };
}

/** Whether the cluster asks for a PodMonitor (whether one can be created depends on the CRD). */
export function wantsPodMonitor(cluster: DatabaseCluster): boolean {
  return cluster.spec.monitoring.enabled && cluster.spec.monitoring.podMonitor;
}

/** PodMonitor `<c>`, or undefined when not wanted or when the CRD is absent. */
export function buildPodMonitor(
  cluster: DatabaseCluster,
  options: { crdInstalled: boolean },
): PodMonitor | undefined {
  if (!wantsPodMonitor(cluster) || !options.crdInstalled) return undefined;
  const name = clusterName(cluster);
  return {
    apiVersion: POD_MONITOR_API_VERSION,
    kind: "PodMonitor",
    metadata: childMetadata(cluster, { name: podMonitorName(name), component: "monitoring" }),
    spec: {
      selector: { matchLabels: instanceSelector(name) },
      podMetricsEndpoints: [{ port: METRICS_PORT_NAME, path: cluster.spec.monitoring.path }],
    },
  };
}
