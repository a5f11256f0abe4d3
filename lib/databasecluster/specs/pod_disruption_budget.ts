/**
 * Builders of the PodDisruptionBudgets, wanted when `ha.pdb` says so (by
 * default when there is more than one instance). Evictions (`kubectl drain`)
 * take at most one instance at a time, and, when dbop can move the primary
 * (`ha.enabled`, more than one instance), never the primary while it is the
 * primary, as CloudNativePG's two budgets do:
 *
 * - `<c>-primary` selects the primary's pod by name (`status.currentPrimary`,
 *   and `status.targetPrimary` while the primary changes) with every one of
 *   them required: a drain waits while dbop switches over (a cordoned node
 *   asks for it, see `primary.ts`), and once the new primary runs, the old
 *   one is a standby like the others.
 * - `<c>` selects every other instance, with `minAvailable: replicas - 2`:
 *   one standby at a time, none while the primary changes (two are excluded).
 *
 * By name rather than by the role label: no pod is labelled primary while
 * the primary changes, and the old primary must stay protected until the new
 * one runs. Once applied, the two selectors never overlap. Between the two
 * applies they may: the eviction API refuses a pod with two budgets, so an
 * overlap is safe and a pod in neither is not. So the budget that takes a pod
 * in is applied first ({@linkcode buildPodDisruptionBudgets}).
 *
 * Without failover or with one instance nothing would move the primary off a
 * drained node, so a budget that forbids evicting it would block the drain
 * forever: then there is one budget `<c>` over all instances with
 * `maxUnavailable: 1`, which with one instance does not stop its eviction
 * (blocking drains outright would be worse than the restart).
 *
 * @module
 */
import type { V1PodDisruptionBudget, V1PodDisruptionBudgetSpec } from "@kubernetes/client-node";
import { type DatabaseCluster, pdbEnabled } from "../../api/mod.ts";
import {
  initialPrimaryPodName,
  instanceSelector,
  POD_NAME_LABEL,
  podDisruptionBudgetName,
  primaryPodDisruptionBudgetName,
} from "../names.ts";
import { childMetadata, clusterName } from "./common.ts";

/** Whether dbop moves the primary before a drain evicts it (see the module doc). */
function switchesOverOnDrain(cluster: DatabaseCluster): boolean {
  return cluster.spec.ha.enabled && cluster.spec.replicas > 1;
}

/** The primary's pod, and the target's while the primary changes. */
function primaryPods(cluster: DatabaseCluster): string[] {
  const { currentPrimary, targetPrimary } = cluster.status ?? {};
  const names = [currentPrimary, targetPrimary].filter((n): n is string => n !== undefined);
  return names.length === 0 ? [initialPrimaryPodName(clusterName(cluster))] : [...new Set(names)];
}

function budget(
  cluster: DatabaseCluster,
  name: string,
  spec: V1PodDisruptionBudgetSpec,
): V1PodDisruptionBudget {
  return {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: childMetadata(cluster, { name, component: "database" }),
    spec: {
      ...spec,
      // A pod that is not ready (crash-looping, say) may be evicted even when the budget
      // is spent: keeping it does not protect availability and would block drains.
      unhealthyPodEvictionPolicy: "AlwaysAllow",
    },
  };
}

/** A budget by its name, and the budget itself when it is wanted. */
export interface NamedBudget {
  name: string;
  budget?: V1PodDisruptionBudget;
}

/**
 * Both budgets in the order to apply them. While the primary changes, `<c>-primary` takes in
 * the target first; once it has changed, `<c>` takes back the old primary first.
 */
export function buildPodDisruptionBudgets(cluster: DatabaseCluster): NamedBudget[] {
  const name = clusterName(cluster);
  const primary = {
    name: primaryPodDisruptionBudgetName(name),
    budget: buildPrimaryPodDisruptionBudget(cluster),
  };
  const instances = {
    name: podDisruptionBudgetName(name),
    budget: buildPodDisruptionBudget(cluster),
  };
  const { currentPrimary, targetPrimary } = cluster.status ?? {};
  return currentPrimary !== targetPrimary ? [primary, instances] : [instances, primary];
}

/** PodDisruptionBudget `<c>`, or undefined when none is wanted. */
export function buildPodDisruptionBudget(
  cluster: DatabaseCluster,
): V1PodDisruptionBudget | undefined {
  if (!pdbEnabled(cluster.spec)) return undefined;
  const name = clusterName(cluster);
  const matchLabels = instanceSelector(name);
  if (!switchesOverOnDrain(cluster)) {
    return budget(cluster, podDisruptionBudgetName(name), {
      maxUnavailable: 1,
      selector: { matchLabels },
    });
  }
  // An integer minAvailable counts the selected pods only; maxUnavailable would count the
  // StatefulSet's replicas, the primary's included, and never allow an eviction.
  return budget(cluster, podDisruptionBudgetName(name), {
    minAvailable: cluster.spec.replicas - 2,
    selector: {
      matchLabels,
      matchExpressions: [{ key: POD_NAME_LABEL, operator: "NotIn", values: primaryPods(cluster) }],
    },
  });
}

/** PodDisruptionBudget `<c>-primary`, or undefined when none is wanted. */
export function buildPrimaryPodDisruptionBudget(
  cluster: DatabaseCluster,
): V1PodDisruptionBudget | undefined {
  if (!pdbEnabled(cluster.spec) || !switchesOverOnDrain(cluster)) return undefined;
  const name = clusterName(cluster);
  const primaries = primaryPods(cluster);
  return budget(cluster, primaryPodDisruptionBudgetName(name), {
    minAvailable: primaries.length,
    selector: {
      matchLabels: instanceSelector(name),
      matchExpressions: [{ key: POD_NAME_LABEL, operator: "In", values: primaries }],
    },
  });
}
