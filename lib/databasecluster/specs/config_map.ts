/**
 * Builder of the ConfigMap `<c>-config`: postgresql.conf, pg_hba.conf and the
 * backup script. The instance managers watch it and write its files into their
 * pods, reloading PostgreSQL when they change (no pod is replaced); the backup
 * Job mounts it for backup.sh.
 *
 * @module
 */
import type { V1ConfigMap } from "@kubernetes/client-node";
import type { DatabaseCluster } from "../../api/mod.ts";
import { configMapName } from "../names.ts";
import { childMetadata, clusterName, CONFIG_KEYS } from "./common.ts";
import { renderPgHba, renderPgIdent, renderPostgresqlConf } from "./postgresql_conf.ts";
import { renderBackupScript } from "./scripts.ts";

/** The ConfigMap's data: configuration files and scripts, by file name. */
export function configData(cluster: DatabaseCluster): Record<string, string> {
  return {
    [CONFIG_KEYS.postgresqlConf]: renderPostgresqlConf(cluster),
    [CONFIG_KEYS.pgHba]: renderPgHba(cluster),
    [CONFIG_KEYS.pgIdent]: renderPgIdent(),
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
