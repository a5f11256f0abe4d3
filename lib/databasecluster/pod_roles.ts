/**
 * Pod roles. dbop labels the primary `database.example.com/role=primary` and
 * the rest `replica`; the `-rw` and `-ro` Services select on that label.
 * While the primary changes (a failover or switchover under way) no pod is
 * labelled primary, so `-rw` sends new connections nowhere until the new
 * primary runs. A label that is already right is not written again.
 *
 * @module
 */
import type { V1Pod } from "@kubernetes/client-node";
import { type Resources } from "../kube/mod.ts";
import { Pods } from "./kinds.ts";
import { LABELS, type Role, ROLES } from "./names.ts";

/**
 * The role each pod should carry, for the pods whose label is missing or wrong; `primary`
 * undefined labels every pod a replica.
 */
export function roleChanges(
  primary: string | undefined,
  pods: readonly V1Pod[],
): { pod: V1Pod; role: Role }[] {
  return pods
    .filter((pod) => !pod.metadata?.deletionTimestamp)
    .map((pod) => ({ pod, role: pod.metadata?.name === primary ? ROLES.primary : ROLES.replica }))
    .filter(({ pod, role }) => pod.metadata?.labels?.[LABELS.role] !== role);
}

/** Writes the role labels that are missing or wrong; returns how many pods changed. */
export async function labelPodRoles(
  resources: Resources,
  primary: string | undefined,
  pods: readonly V1Pod[],
  signal?: AbortSignal,
): Promise<number> {
  const changes = roleChanges(primary, pods);
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
