import assert from "node:assert/strict";
import { testCluster } from "../testdata/clusters.ts";
import { buildConfigMap } from "./config_map.ts";
import { renderPgHba, renderPgIdent, renderPostgresqlConf } from "./postgresql_conf.ts";
import { renderBackupScript } from "./scripts.ts";

Deno.test("buildConfigMap() holds the configuration files and the backup script", () => {
  const cluster = testCluster();
  const configMap = buildConfigMap(cluster);
  assert.equal(configMap.kind, "ConfigMap");
  assert.equal(configMap.metadata?.name, "pg-config");
  assert.equal(configMap.metadata?.labels?.["app.kubernetes.io/component"], "config");
  assert.deepEqual(Object.keys(configMap.data ?? {}).sort(), [
    "backup.sh",
    "pg_hba.conf",
    "pg_ident.conf",
    "postgresql.conf",
  ]);
  assert.equal(configMap.data?.["postgresql.conf"], renderPostgresqlConf(cluster));
  assert.equal(configMap.data?.["pg_hba.conf"], renderPgHba(cluster));
  assert.equal(configMap.data?.["pg_ident.conf"], renderPgIdent());
  assert.equal(configMap.data?.["backup.sh"], renderBackupScript());
});
