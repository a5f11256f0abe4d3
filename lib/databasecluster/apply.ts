/**
 * Applying children: each desired object is server-side applied only when it
 * differs from its cached copy ({@linkcode needsApply}), so a converged cluster
 * costs no writes; optional children that are no longer wanted are deleted. A
 * child the API server refuses (`refusals.ts`) does not stop the others, except
 * that the StatefulSet waits while a Secret, ConfigMap or RBAC object its pods
 * use is refused (they would start with what that write was to change).
 *
 * @module
 */
import type { KubernetesObject } from "@kubernetes/client-node";
import { isRefusal, type Resources, type ResourceType } from "../kube/mod.ts";
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
import { type ClusterRefusals, fingerprint, type Refusal } from "./refusals.ts";

/** The kinds the StatefulSet's pods read: while one is refused, the StatefulSet is not applied. */
const POD_INPUTS = new Set(["Secret", "ConfigMap", "ServiceAccount", "Role", "RoleBinding"]);

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
 * new generation before the cache does), and the refusals that stand. A refused write is
 * not sent again until it or its live object changes (`refusals`); any other error throws.
 */
export async function applyChildren(
  resources: Resources,
  desired: KubernetesObject[],
  children: Children,
  options: { refusals: ClusterRefusals; signal?: AbortSignal },
): Promise<{ created: KubernetesObject[]; updated: KubernetesObject[]; refused: Refusal[] }> {
  const { refusals, signal } = options;
  const created: KubernetesObject[] = [];
  const updated: KubernetesObject[] = [];
  const refused: Refusal[] = [];
  let podInputRefused = false;
  for (const object of desired) {
    const child = `${object.kind} "${object.metadata!.name}"`;
    const live = cached(children, object.kind!, object.metadata!.name!);
    if (
      !needsApply(object as Record<string, unknown>, live as Record<string, unknown> | undefined)
    ) {
      refusals.clear(child);
      continue;
    }
    if (object.kind === "StatefulSet" && podInputRefused) continue;
    const print = await fingerprint(object, live?.metadata?.resourceVersion);
    let refusal = refusals.standing(child, print);
    if (!refusal) {
      try {
        const applied = await resources.apply(childResourceType(object.kind!), object, { signal });
        refusals.clear(child);
        (live ? updated : created).push(applied);
        continue;
      } catch (error) {
        if (!isRefusal(error)) throw error;
        refusal = refusals.refused(child, print, error.message);
      }
    }
    refused.push(refusal);
    if (POD_INPUTS.has(object.kind!)) podInputRefused = true;
  }
  return { created, updated, refused };
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
