/**
 * Builder of the ConfigMap `<c>-config`: postgresql.conf, pg_hba.conf and the
 * backup script, mounted by every instance and by the backup Job; and the hash of it
 * that the StatefulSet's pod template carries, so that a change of any of these
 * files rolls the pods (a restart picks up every setting, reloadable or not).
 *
 * @module
 */
import type { V1ConfigMap } from "@kubernetes/client-node";
import type { DatabaseCluster } from "../../api/mod.ts";
import { configMapName } from "../names.ts";
import { childMetadata, clusterName, CONFIG_KEYS, contentHash } from "./common.ts";
import { renderPgHba, renderPostgresqlConf } from "./postgresql_conf.ts";
import { renderBackupScript } from "./scripts.ts";

/** The ConfigMap's data: configuration files and scripts, by file name. */
export function configData(cluster: DatabaseCluster): Record<string, string> {
  return {
    [CONFIG_KEYS.postgresqlConf]: renderPostgresqlConf(cluster),
    [CONFIG_KEYS.pgHba]: renderPgHba(cluster),
    [CONFIG_KEYS.backup]: renderBackupScript(),
  };
}

/** ConfigMap `<c>-config`. */
export function buildConfigMap(cluster: DatabaseCluster): V1ConfigMap {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: childMetadata(cluster, {
      name: configMapName(clusterName(cluster)),
      component: "config",
    }),
    data: configData(cluster),
  };
}

/**
 * Hash of what the instances read at start: the ConfigMap's data and, when given, the
 * server certificate (PostgreSQL reads its certificate at start, so a renewed one
 * must restart the pods too).
 */
export function configHash(
  cluster: DatabaseCluster,
  options: { certificate?: string } = {},
): string {
  const data = configData(cluster);
  const parts = Object.keys(data).sort().flatMap((key) => [key, data[key]]);
  if (options.certificate !== undefined) parts.push("tls.crt", options.certificate);
  return contentHash(parts);
}
