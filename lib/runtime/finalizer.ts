/**
 * Finalizer handling for reconcilers, after kube-rs's `finalizer`: {@linkcode withFinalizer} hands the
 * reconciler either "apply" (the object is live) or "cleanup" (the object is being deleted) and manages
 * our finalizer around them. Guarantees:
 *
 * - `apply` runs only on an object that is not being deleted and carries our finalizer (added first if
 *   missing), so the object cannot disappear before `cleanup` has had its chance.
 * - `cleanup` runs only on an object with a `deletionTimestamp` that still carries our finalizer, and the
 *   finalizer is removed only after `cleanup` resolved. If `cleanup` throws, the finalizer stays, the
 *   object stays, and the error propagates for the controller to retry with backoff.
 * - Both may run more than once for the same state (a crash between `cleanup` and the removal, a retry,
 *   a resync), so both must be idempotent.
 * - Other controllers' finalizers are never lost: additions and removals are JSON patches guarded by
 *   `test` operations (the object's uid, and the whole finalizer list on add or our exact index on
 *   remove), so any concurrent change makes the patch fail instead of overwriting; we then re-read the
 *   object and try again, a bounded number of times.
 * - An object being deleted without our finalizer is left alone (neither callback runs), and the
 *   finalizer is never added to an object being deleted.
 *
 * @module
 */
import type { KubernetesObject } from "@kubernetes/client-node";
import { InvalidError, NotFoundError, type Resources, type ResourceType } from "../kube/mod.ts";

/** One JSON Patch (RFC 6902) operation. */
export interface JsonPatchOperation {
  op: "test" | "add" | "remove";
  path: string;
  value?: unknown;
}

/** The calls the helper makes; {@linkcode Resources} provides them. */
export type FinalizerClient = Pick<Resources, "getOrUndefined" | "patch">;

/** Options of {@linkcode withFinalizer}. */
export interface WithFinalizerOptions<T extends KubernetesObject, R> {
  /** The object's kind. */
  type: ResourceType<T>;
  /** Our finalizer, domain-qualified, e.g. `database.example.com/cleanup`. */
  finalizer: string;
  /** Reconciles a live object (which carries our finalizer). */
  apply: (obj: T) => Promise<R>;
  /** Releases what the object owns outside Kubernetes' garbage collection; must be idempotent. */
  cleanup: (obj: T) => Promise<R>;
  /**
   * Whether a cleanup result means the cleanup is finished; when not, the finalizer stays and the
   * result is returned (e.g. a requeue-after while waiting for something to go). Default: always.
   */
  cleanupDone?: (result: R) => boolean;
  /** Cancels the API calls. */
  signal?: AbortSignal;
  /** Guarded patches tried before giving up on a busy object; default 5. */
  maxAttempts?: number;
}

const QUALIFIED = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?\/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

function uidTest(obj: KubernetesObject): JsonPatchOperation[] {
  const uid = obj.metadata?.uid;
  return uid ? [{ op: "test", path: "/metadata/uid", value: uid }] : [];
}

/** The guarded patch that appends `finalizer` to `obj`'s finalizers as they are now. */
export function addFinalizerPatch(obj: KubernetesObject, finalizer: string): JsonPatchOperation[] {
  const current = obj.metadata?.finalizers ?? [];
  if (current.length === 0) {
    // A `test` for null succeeds on an absent field, which is how the API server stores an empty list.
    return [
      ...uidTest(obj),
      { op: "test", path: "/metadata/finalizers", value: null },
      { op: "add", path: "/metadata/finalizers", value: [finalizer] },
    ];
  }
  return [
    ...uidTest(obj),
    { op: "test", path: "/metadata/finalizers", value: current },
    { op: "add", path: "/metadata/finalizers/-", value: finalizer },
  ];
}

/** The guarded patch that removes `finalizer` from `obj` at the index it has now; `undefined` when absent. */
export function removeFinalizerPatch(
  obj: KubernetesObject,
  finalizer: string,
): JsonPatchOperation[] | undefined {
  const index = obj.metadata?.finalizers?.indexOf(finalizer) ?? -1;
  if (index < 0) return undefined;
  return [
    ...uidTest(obj),
    { op: "test", path: `/metadata/finalizers/${index}`, value: finalizer },
    { op: "remove", path: `/metadata/finalizers/${index}` },
  ];
}

function nameOf(obj: KubernetesObject): string {
  const { namespace, name } = obj.metadata ?? {};
  return namespace ? `${namespace}/${name}` : `${name}`;
}

/**
 * Runs `apply` or `cleanup` for `obj` with our finalizer managed around them (see the module doc).
 * Resolves with the callback's result, or `undefined` when neither ran.
 */
export async function withFinalizer<T extends KubernetesObject, R>(
  client: FinalizerClient,
  obj: T,
  options: WithFinalizerOptions<T, R>,
): Promise<R | undefined> {
  const { finalizer } = options;
  if (!QUALIFIED.test(finalizer)) {
    throw new Error(
      `Finalizer must be a domain-qualified name like "example.com/name": got "${finalizer}"`,
    );
  }
  const present = obj.metadata?.finalizers?.includes(finalizer) ?? false;
  if (obj.metadata?.deletionTimestamp) {
    if (!present) return undefined;
    const result = await options.cleanup(obj);
    if (options.cleanupDone && !options.cleanupDone(result)) return result;
    await patchUntilSettled(client, obj, options, "remove");
    return result;
  }
  const live = present ? obj : await patchUntilSettled(client, obj, options, "add");
  return live ? await options.apply(live) : undefined;
}

/**
 * Adds or removes our finalizer with guarded patches, re-reading the object after each failed guard.
 * Resolves with the object carrying the finalizer (add), or `undefined` when there is nothing left to do:
 * the object is gone or was replaced by a new one, is being deleted (add), or no longer has the
 * finalizer (remove).
 */
async function patchUntilSettled<T extends KubernetesObject>(
  client: FinalizerClient,
  obj: T,
  options: Pick<WithFinalizerOptions<T, unknown>, "type" | "finalizer" | "signal" | "maxAttempts">,
  change: "add" | "remove",
): Promise<T | undefined> {
  const { type, finalizer, signal } = options;
  const call = { namespace: obj.metadata?.namespace, signal };
  const name = obj.metadata?.name ?? "";
  let current: T | undefined = obj;
  const attempts = options.maxAttempts ?? 5;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const has = current.metadata?.finalizers?.includes(finalizer) ?? false;
    if (change === "add" && current.metadata?.deletionTimestamp) return undefined;
    if (change === "add" && has) return current;
    const patch = change === "add"
      ? addFinalizerPatch(current, finalizer)
      : removeFinalizerPatch(current, finalizer);
    if (!patch) return undefined;
    try {
      const patched = await client.patch(type, name, patch, { ...call, patchType: "json" });
      return change === "add" ? patched : undefined;
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      // A failed `test` (the object changed under us) and a refused addition both come back as 422.
      if (!(error instanceof InvalidError)) throw error;
      if (attempt === attempts) {
        throw new Error(
          `Cannot ${change} finalizer "${finalizer}" on ${type.kind} "${nameOf(obj)}": ${
            (error as Error).message
          }`,
          { cause: error },
        );
      }
    }
    current = await client.getOrUndefined(type, name, call);
    // A new object under the same name is not the one we were asked about; its own reconcile handles it.
    if (!current || current.metadata?.uid !== obj.metadata?.uid) return undefined;
  }
  return undefined;
}
