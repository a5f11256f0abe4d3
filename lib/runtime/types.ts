/**
 * The minimal shape of a Kubernetes object that the runtime relies on. It is structurally compatible with
 * `@kubernetes/client-node`'s `KubernetesObject` (every field optional, extra fields allowed), so the
 * generated built-in kinds and our own zod-typed kind both fit without casts.
 *
 * @module
 */

/** A reference from an object to its owner (`metadata.ownerReferences[]`). */
export interface OwnerReference {
  /** API version of the owner, e.g. `database.example.com/v1alpha1`. */
  apiVersion: string;
  /** Kind of the owner. */
  kind: string;
  /** Name of the owner. */
  name: string;
  /** UID of the owner. */
  uid: string;
  /** Whether the owner is the managing controller; at most one reference has this set. */
  controller?: boolean;
  /** Whether foreground deletion of the owner waits for this object. */
  blockOwnerDeletion?: boolean;
}

/** The part of `metadata` the runtime reads. */
export interface ObjectMeta {
  /** Object name, unique within its namespace. */
  name?: string;
  /** Namespace; absent for cluster-scoped objects. */
  namespace?: string;
  /** Unique id across the object's lifetime; a recreated object gets a new one. */
  uid?: string;
  /** Opaque version, changed on every write. */
  resourceVersion?: string;
  /** Labels. */
  labels?: { [key: string]: string };
  /** Owner references. */
  ownerReferences?: OwnerReference[];
}

/** Any Kubernetes object. */
export interface KubeObject {
  /** Group/version, e.g. `v1`. */
  apiVersion?: string;
  /** Kind, e.g. `Secret`. */
  kind?: string;
  /** Object metadata. */
  metadata?: ObjectMeta;
}
