/**
 * Pod roles. Ordinal 0 bootstraps the primary and the others stream from it,
 * so dbop labels `<c>-0` `database.example.com/role=primary` and the rest
 * `replica`; the `-rw` and `-ro` Services select on that label. A label that
 * is already right is not written again.
 *
 * @module
 */
import type { V1Pod } from "@kubernetes/client-node";
import { type Resources } from "../../kube/mod.ts";
import { Pods } from "../kinds.ts";
import { initialPrimaryPodName, LABELS, type Role, ROLES } from "../names.ts";

/** The role each pod should carry, for the pods whose label is missing or wrong. */
export function roleChanges(cluster: string, pods: V1Pod[]): { pod: V1Pod; role: Role }[] {
  const primary = initialPrimaryPodName(cluster);
  return pods
    .filter((pod) => !pod.metadata?.deletionTimestamp)
    .map((pod) => ({ pod, role: pod.metadata?.name === primary ? ROLES.primary : ROLES.replica }))
    .filter(({ pod, role }) => pod.metadata?.labels?.[LABELS.role] !== role);
}

/** Writes the role labels that are missing or wrong; returns how many pods changed. */
export async function labelPodRoles(
  resources: Resources,
  cluster: string,
  pods: V1Pod[],
  signal?: AbortSignal,
): Promise<number> {
  const changes = roleChanges(cluster, pods);
  for (const { pod, role } of changes) {
    await resources.patch(
      Pods,
      pod.metadata!.name!,
      { metadata: { labels: { [LABELS.role]: role } } },
      { namespace: pod.metadata!.namespace, signal },
    );
  }
  return changes.length;
}
