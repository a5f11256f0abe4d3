/**
 * `dbop promote CLUSTER INSTANCE`: asks for a switchover from the command
 * line. It writes the annotation `database.example.com/promote=INSTANCE` on
 * the DatabaseCluster, the same declarative request a GitOps user applies
 * (and `database.example.com/promote-at` with the time, so asking again for
 * the same instance is a new request),
 * and the operator does the rest (see `databasecluster/primary.ts`). It
 * checks first that the cluster exists and that INSTANCE is one of its
 * instances, so a typo fails here rather than as a refused request.
 *
 * @module
 */
import { loadKubeConfig } from "../kube/config.ts";
import { KubeClient, Resources } from "../kube/mod.ts";
import { DatabaseClusters } from "../databasecluster/cache.ts";
import { ANNOTATIONS, FIELD_MANAGER } from "../databasecluster/names.ts";
import { ConfigError, UsageError } from "./errors.ts";

/** What `dbop promote` was given. */
export interface PromoteOptions {
  cluster: string;
  instance: string;
  namespace?: string;
  kubeconfig?: string;
  context?: string;
}

/** Writes the promote annotation; returns the line to print. */
export async function promote(options: PromoteOptions): Promise<string> {
  let loaded;
  try {
    loaded = loadKubeConfig({ kubeconfig: options.kubeconfig, context: options.context });
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  const namespace = options.namespace ?? loaded.namespace ?? "default";
  const client = new KubeClient(loaded.credentials);
  const resources = new Resources(client, { fieldManager: FIELD_MANAGER });
  try {
    const cluster = await resources.getOrUndefined(DatabaseClusters, options.cluster, {
      namespace,
    });
    if (!cluster) {
      throw new UsageError(`No DatabaseCluster "${options.cluster}" in namespace "${namespace}"`);
    }
    const replicas = Number(cluster.spec?.replicas ?? 1);
    const match = /^(.*)-(\d+)$/.exec(options.instance);
    if (!match || match[1] !== options.cluster || Number(match[2]) >= replicas) {
      throw new UsageError(
        `"${options.instance}" is not an instance of "${options.cluster}": expected ` +
          `"${options.cluster}-0" to "${options.cluster}-${replicas - 1}"`,
      );
    }
    if (cluster.status?.currentPrimary === options.instance) {
      return `"${options.instance}" is already the primary of "${namespace}/${options.cluster}"`;
    }
    // The time makes it a new request even when the annotation already names the instance.
    await resources.patch(DatabaseClusters, options.cluster, {
      metadata: {
        annotations: {
          [ANNOTATIONS.promote]: options.instance,
          [ANNOTATIONS.promoteAt]: new Date().toISOString(),
        },
      },
    }, { namespace });
    return `Asked dbop to promote "${options.instance}" in "${namespace}/${options.cluster}"; ` +
      `follow it with: kubectl get databasecluster ${options.cluster} -n ${namespace} -w`;
  } finally {
    client.close();
  }
}
