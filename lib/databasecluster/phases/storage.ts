/**
 * Storage growth. A StatefulSet's volumeClaimTemplates are immutable, so a
 * larger `spec.storage.size` is applied to each existing data volume directly,
 * when its StorageClass allows expansion; otherwise nothing is changed and the
 * caller reports why in a condition. Shrinking never reaches here (the CRD
 * rejects it).
 *
 * @module
 */
import type { V1PersistentVolumeClaim, V1StorageClass } from "@kubernetes/client-node";
import { ForbiddenError, type Resources } from "../../kube/mod.ts";
import { PersistentVolumeClaims } from "../kinds.ts";
import { quantityBytes } from "../specs/common.ts";

/** A volume that must grow, and whether its class allows it. */
export interface Expansion {
  claim: V1PersistentVolumeClaim;
  from: string;
  to: string;
  allowed: boolean;
  storageClassName?: string;
}

/** The data volumes smaller than `size`, with whether their StorageClass allows expansion. */
export function plannedExpansions(
  claims: V1PersistentVolumeClaim[],
  size: string,
  storageClass: (name: string) => V1StorageClass | undefined,
): Expansion[] {
  const want = quantityBytes(size);
  return claims.flatMap((claim) => {
    // A volume being deleted (its instance scaled away) or not yet bound cannot be resized.
    if (claim.metadata?.deletionTimestamp || claim.status?.phase !== "Bound") return [];
    const from = claim.spec?.resources?.requests?.storage;
    if (!from || quantityBytes(String(from)) >= want) return [];
    const storageClassName = claim.spec?.storageClassName;
    const allowed = storageClassName
      ? storageClass(storageClassName)?.allowVolumeExpansion === true
      : false;
    return [{ claim, from: String(from), to: size, allowed, storageClassName }];
  });
}

/**
 * Requests `size` on each expandable volume; returns the names of the volumes changed. A
 * resize the API server refuses (its admission judges the volume, not dbop) marks that
 * expansion not allowed, so the caller reports it like a class without expansion.
 */
export async function expandVolumes(
  resources: Resources,
  expansions: Expansion[],
  size: string,
  signal?: AbortSignal,
): Promise<string[]> {
  const changed: string[] = [];
  for (const expansion of expansions.filter((e) => e.allowed)) {
    const claim = expansion.claim;
    try {
      await resources.patch(
        PersistentVolumeClaims,
        claim.metadata!.name!,
        { spec: { resources: { requests: { storage: size } } } },
        { namespace: claim.metadata!.namespace, signal },
      );
      changed.push(claim.metadata!.name!);
    } catch (error) {
      if (!(error instanceof ForbiddenError)) throw error;
      expansion.allowed = false;
    }
  }
  return changed;
}
