/**
 * Builder of the StatefulSet `<c>`: one pod and one data volume per instance,
 * started in order (`<c>-0`, the primary, first) and updated on delete: its
 * controller replaces no pod when the template changes, dbop deletes the
 * outdated pods itself, standbys first and the primary last or after a
 * switchover (`rollout.ts`), since the controller knows nothing of roles.
 * The pod template holds no hash of the configuration or the certificate: the
 * instance managers follow the ConfigMap and the TLS Secret and reload
 * PostgreSQL, and a setting that needs a restart is reported as
 * `pendingRestart` and restarted in place (`POST /restart`), not by new pods.
 * What the template does hold needs a new pod when it changes: the image, the
 * resources, the environment (e.g. `PASSWORD_ENCRYPTION`, which initdb reads,
 * or TLS on or off).
 * The volume claim template cannot change after creation, so the reconciler
 * passes the live claim size when the StatefulSet exists (storage growth is
 * done on the claims themselves).
 *
 * @module
 */
import type { V1StatefulSet } from "@kubernetes/client-node";
import type { DatabaseCluster } from "../../api/mod.ts";
import {
  ANNOTATIONS,
  commonLabels,
  DATA_VOLUME,
  headlessServiceName,
  instanceSelector,
  statefulSetName,
} from "../names.ts";
import { canonicalQuantity, childMetadata, clusterName, mergedMetadata } from "./common.ts";
import { buildInstancePodSpec } from "./instance_pod.ts";

/** Inputs of {@link buildStatefulSet} beyond the cluster. */
export interface StatefulSetOptions {
  /**
   * Storage request in the volume claim template: the live StatefulSet's, since that
   * field is immutable; `spec.storage.size` when creating.
   */
  claimSize?: string;
  /** dbop's image, from which each pod copies the instance manager. */
  instanceImage?: string;
}

/** StatefulSet `<c>`. */
export function buildStatefulSet(
  cluster: DatabaseCluster,
  options: StatefulSetOptions = {},
): V1StatefulSet {
  const name = clusterName(cluster);
  const { storage } = cluster.spec;
  const claimSpec = {
    accessModes: ["ReadWriteOnce"],
    resources: { requests: { storage: canonicalQuantity(options.claimSize ?? storage.size) } },
    ...(storage.storageClassName ? { storageClassName: storage.storageClassName } : {}),
  };
  return {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: childMetadata(cluster, {
      name: statefulSetName(name),
      component: "database",
      annotations: { [ANNOTATIONS.version]: cluster.spec.version },
    }),
    spec: {
      replicas: cluster.spec.replicas,
      serviceName: headlessServiceName(name),
      selector: { matchLabels: instanceSelector(name) },
      podManagementPolicy: "OrderedReady",
      updateStrategy: { type: "OnDelete" },
      // A removed standby's volume holds a stale copy: scaling up again clones afresh
      // rather than resume from WAL the primary may no longer have. With
      // deletionPolicy Delete the StatefulSet owns its claims, so the garbage collector
      // also removes a claim its controller created after dbop last looked.
      persistentVolumeClaimRetentionPolicy: {
        whenDeleted: cluster.spec.deletionPolicy === "Delete" ? "Delete" : "Retain",
        whenScaled: "Delete",
      },
      template: {
        metadata: mergedMetadata(cluster.spec.inheritedMetadata, {
          labels: commonLabels(name, "database"),
        }),
        spec: buildInstancePodSpec(cluster, { instanceImage: options.instanceImage }),
      },
      volumeClaimTemplates: [{
        metadata: { name: DATA_VOLUME, labels: commonLabels(name, "database") },
        spec: claimSpec,
      }],
    },
  };
}
