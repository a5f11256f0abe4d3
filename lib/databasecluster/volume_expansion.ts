/**
 * Storage growth. A StatefulSet's volumeClaimTemplates are immutable, so a
 * larger `spec.storage.size` is applied to each existing data volume directly,
 * when its StorageClass (as cached) allows expansion; otherwise nothing is
 * sent and the caller reports why in a condition. A resize the API server
 * still refuses (a quota, a webhook) is reported with its own message, and not
 * sent again until the claim or the size changes (`refusals.ts`). Shrinking
 * never reaches here (the CRD rejects it).
 *
 * @module
 */
import type { V1PersistentVolumeClaim, V1StorageClass } from "@kubernetes/client-node";
import { isRefusal, type Resources } from "../kube/mod.ts";
import { PersistentVolumeClaims } from "./kinds.ts";
import { type ClusterRefusals, fingerprint, type Refusal } from "./refusals.ts";
import { quantityBytes } from "./specs/common.ts";

/** A volume that must grow, and why it cannot, if its class does not allow it. */
export interface Expansion {
  claim: V1PersistentVolumeClaim;
  from: string;
  to: string;
  /** E.g. `StorageClass "standard" does not allow volume expansion`; unset when it may grow. */
  blocked?: string;
}

function expansionBlock(
  name: string | undefined,
  storageClass: (name: string) => V1StorageClass | undefined,
): string | undefined {
  if (!name) return "the claim names no StorageClass";
  const found = storageClass(name);
  if (!found) return `StorageClass "${name}" does not exist`;
  return found.allowVolumeExpansion === true
    ? undefined
    : `StorageClass "${name}" does not allow volume expansion`;
}

/** The volumes smaller than `size`, with why their StorageClass cannot grow them, if so. */
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
    const blocked = expansionBlock(claim.spec?.storageClassName, storageClass);
    return [{ claim, from: String(from), to: size, ...blocked ? { blocked } : {} }];
  });
}

/**
 * Requests `size` on each volume its class lets grow; returns the names of the volumes
 * changed and the refusals that stand. Other errors throw.
 */
export async function expandVolumes(
  resources: Resources,
  expansions: Expansion[],
  size: string,
  options: { refusals: ClusterRefusals; signal?: AbortSignal },
): Promise<{ changed: string[]; refused: Refusal[] }> {
  const changed: string[] = [];
  const refused: Refusal[] = [];
  for (const { claim } of expansions.filter((e) => e.blocked === undefined)) {
    const name = claim.metadata!.name!;
    const child = `PersistentVolumeClaim "${name}"`;
    const print = await fingerprint(size, claim.metadata?.resourceVersion);
    const standing = options.refusals.standing(child, print);
    if (standing) {
      refused.push(standing);
      continue;
    }
    try {
      await resources.patch(
        PersistentVolumeClaims,
        name,
        { spec: { resources: { requests: { storage: size } } } },
        { namespace: claim.metadata!.namespace, signal: options.signal },
      );
      options.refusals.clear(child);
      changed.push(name);
    } catch (error) {
      if (!isRefusal(error)) throw error;
      refused.push(options.refusals.refused(child, print, error.message));
    }
  }
  return { changed, refused };
}
