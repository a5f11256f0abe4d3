/**
 * Applying children: each desired object is server-side applied only when it
 * differs from its cached copy ({@linkcode needsApply}), so a converged cluster
 * costs no writes; optional children that are no longer wanted are deleted.
 *
 * @module
 */
import type { KubernetesObject } from "@kubernetes/client-node";
import { type Resources, type ResourceType } from "../kube/mod.ts";
import {
  ConfigMaps,
  CronJobs,
  PersistentVolumeClaims,
  PodDisruptionBudgets,
  RoleBindings,
  Roles,
  Secrets,
  ServiceAccounts,
  Services,
  StatefulSets,
} from "./kinds.ts";
import { type Children, PodMonitors } from "./cache.ts";
import { needsApply } from "./drift.ts";

const TYPES: Record<string, [ResourceType, keyof Children]> = {
  Secret: [Secrets, "secrets"],
  ConfigMap: [ConfigMaps, "configMaps"],
  Service: [Services, "services"],
  StatefulSet: [StatefulSets, "statefulSets"],
  PodDisruptionBudget: [PodDisruptionBudgets, "podDisruptionBudgets"],
  PersistentVolumeClaim: [PersistentVolumeClaims, "persistentVolumeClaims"],
  CronJob: [CronJobs, "cronJobs"],
  PodMonitor: [PodMonitors, "podMonitors"],
  ServiceAccount: [ServiceAccounts, "serviceAccounts"],
  Role: [Roles, "roles"],
  RoleBinding: [RoleBindings, "roleBindings"],
};

function typeOf(kind: string): [ResourceType, keyof Children] {
  const entry = TYPES[kind];
  if (!entry) throw new Error(`Cannot apply a child of kind "${kind}"`);
  return entry;
}

/** The resource type of a child kind dbop applies (throws for any other kind). */
export function childResourceType(kind: string): ResourceType {
  return typeOf(kind)[0];
}

function cached(children: Children, kind: string, name: string): KubernetesObject | undefined {
  const [, key] = typeOf(kind);
  return (children[key] as KubernetesObject[]).find((o) => o.metadata?.name === name);
}

/**
 * Applies the desired objects that differ from the cache; returns what the API server
 * answered for each one created and updated (so the caller sees, e.g., a StatefulSet's
 * new generation before the cache does).
 */
export async function applyChildren(
  resources: Resources,
  desired: KubernetesObject[],
  children: Children,
  signal?: AbortSignal,
): Promise<{ created: KubernetesObject[]; updated: KubernetesObject[] }> {
  const created: KubernetesObject[] = [];
  const updated: KubernetesObject[] = [];
  for (const object of desired) {
    const live = cached(children, object.kind!, object.metadata!.name!);
    if (
      !needsApply(object as Record<string, unknown>, live as Record<string, unknown> | undefined)
    ) continue;
    const applied = await resources.apply(childResourceType(object.kind!), object, { signal });
    (live ? updated : created).push(applied);
  }
  return { created, updated };
}

/** Deletes cached optional children that are no longer wanted; returns their descriptions. */
export async function deleteUnwanted(
  resources: Resources,
  unwanted: { kind: string; name: string }[],
  children: Children,
  signal?: AbortSignal,
): Promise<string[]> {
  const removed: string[] = [];
  for (const { kind, name } of unwanted) {
    const live = cached(children, kind, name);
    if (!live) continue;
    await resources.delete(childResourceType(kind), name, {
      namespace: live.metadata?.namespace,
      signal,
      preconditionUid: live.metadata?.uid,
    });
    removed.push(`${kind} "${name}"`);
  }
  return removed;
}
