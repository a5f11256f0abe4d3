/**
 * Deletion (the finalizer's cleanup). The garbage collector removes every
 * child that carries the cluster as owner; the data is the exception, chosen
 * by `deletionPolicy`:
 * - `Retain` (default): the data and backup volumes lose their owner
 *   reference to the cluster so the garbage collector keeps them, and an event
 *   says which volumes remain.
 * - `Delete`: the volumes are deleted.
 * StatefulSet data volumes have no owner by default (the StatefulSet's
 * retention policy may give them one), so both owner kinds are detached.
 * Idempotent: a second run finds nothing left to change.
 *
 * @module
 */
import type { V1PersistentVolumeClaim } from "@kubernetes/client-node";
import { type Resources } from "../kube/mod.ts";
import { PersistentVolumeClaims } from "./kinds.ts";
import type { ClusterObject } from "./cache.ts";

/** What the cleanup did, for the event. */
export interface DeletionOutcome {
  retained: string[];
  deleted: string[];
}

/** Detaches or deletes the cluster's volumes according to `policy`. */
export async function cleanUpVolumes(
  resources: Resources,
  cluster: ClusterObject,
  claims: V1PersistentVolumeClaim[],
  options: { policy: "Retain" | "Delete"; signal?: AbortSignal },
): Promise<DeletionOutcome> {
  const outcome: DeletionOutcome = { retained: [], deleted: [] };
  const namespace = cluster.metadata!.namespace!;
  for (const claim of claims) {
    const name = claim.metadata!.name!;
    if (options.policy === "Delete") {
      await resources.delete(PersistentVolumeClaims, name, {
        namespace,
        signal: options.signal,
        preconditionUid: claim.metadata!.uid,
      });
      outcome.deleted.push(name);
      continue;
    }
    const owners = claim.metadata?.ownerReferences ?? [];
    const kept = owners.filter((ref) =>
      ref.uid !== cluster.metadata?.uid && ref.kind !== "StatefulSet"
    );
    if (kept.length !== owners.length) {
      // A JSON patch guarded by uid: the claim must be the one we looked at.
      await resources.patch(PersistentVolumeClaims, name, [
        { op: "test", path: "/metadata/uid", value: claim.metadata!.uid },
        { op: "replace", path: "/metadata/ownerReferences", value: kept },
      ], { namespace, patchType: "json", signal: options.signal });
    }
    outcome.retained.push(name);
  }
  return outcome;
}
