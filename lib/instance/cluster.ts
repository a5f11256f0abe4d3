/**
 * The instance's view of its DatabaseCluster: one watch on that single object
 * (a `metadata.name` field selector, which the per-cluster Role allows with
 * `resourceNames`), keeping the latest status facts (and
 * `spec.ha.switchoverDelay`) and waking whoever waits for a change; and the one status field the instance owns,
 * `status.systemIdentifier`, written by server-side apply under its own field
 * manager so it never conflicts with the operator's.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { DATABASE_CLUSTER, DATABASE_CLUSTER_API_VERSION } from "../api/constants.ts";
import { type Resources, resourceType } from "../kube/resources.ts";
import type { KubeObject } from "../runtime/types.ts";
import { watch } from "../runtime/watcher.ts";
import { Changes } from "./changes.ts";
import type { ClusterFacts } from "./role.ts";

/** The field manager of the instance managers' writes. */
export const INSTANCE_FIELD_MANAGER = "dbop-instance";

type ClusterObject = KubeObject & {
  spec?: { ha?: { switchoverDelay?: number } };
  status?: { targetPrimary?: string; systemIdentifier?: string };
};

const DatabaseClusters = resourceType<ClusterObject>(
  DATABASE_CLUSTER.group,
  DATABASE_CLUSTER.version,
  DATABASE_CLUSTER.kind,
  { plural: DATABASE_CLUSTER.plural },
);

const logger = getLogger(["dbop", "instance", "cluster"]);

/** The latest facts of one DatabaseCluster, from a watch. */
export class ClusterView {
  #resources: Resources;
  #namespace: string;
  #name: string;
  #facts: ClusterFacts | undefined;
  #object: ClusterObject | undefined;
  #changes = new Changes();

  constructor(resources: Resources, cluster: { namespace: string; name: string }) {
    this.#resources = resources;
    this.#namespace = cluster.namespace;
    this.#name = cluster.name;
  }

  /** The facts last seen; `undefined` before the first list or after a deletion. */
  get facts(): ClusterFacts | undefined {
    return this.#facts;
  }

  /** The DatabaseCluster last seen, for events about it. */
  get object(): KubeObject | undefined {
    return this.#object;
  }

  /** Watches until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const events = watch<ClusterObject>(this.#resources, DatabaseClusters, signal, {
      namespace: this.#namespace,
      fieldSelector: `metadata.name=${this.#name}`,
      onError: (error) => logger.warn("Watching the cluster failed: {error}", { error }),
    });
    for await (const event of events) {
      if (event.type === "Listed") this.#set(event.items[0]);
      else if (event.type === "Deleted") this.#set(undefined);
      else this.#set(event.object);
    }
  }

  #set(object: ClusterObject | undefined): void {
    this.#object = object;
    const status = object?.status;
    this.#facts = object
      ? {
        targetPrimary: status?.targetPrimary,
        systemIdentifier: status?.systemIdentifier,
        switchoverDelaySeconds: object.spec?.ha?.switchoverDelay,
      }
      : undefined;
    this.#changes.notify();
  }

  /** Resolves at the next change, after `timeoutMs`, or when `signal` aborts. */
  changed(signal: AbortSignal, timeoutMs: number): Promise<void> {
    return this.#changes.next(signal, timeoutMs);
  }

  /** Records the database system identifier of a new cluster in its status. */
  async recordSystemIdentifier(systemIdentifier: string, signal: AbortSignal): Promise<void> {
    await this.#resources.apply(DatabaseClusters, {
      apiVersion: DATABASE_CLUSTER_API_VERSION,
      kind: DATABASE_CLUSTER.kind,
      metadata: { name: this.#name, namespace: this.#namespace },
      status: { systemIdentifier },
    }, { subresource: "status", signal });
  }
}
