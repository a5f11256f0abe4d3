import assert from "node:assert/strict";
import { testCluster } from "../testdata/clusters.ts";
import { buildConfigMap } from "./config_map.ts";

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
  // Independent expectations (the renderers' own tests check every line).
  const data = configMap.data ?? {};
  for (const line of ["port = '5432'", "cluster_name = 'pg'", "ssl = 'on'"]) {
    assert.ok(data["postgresql.conf"].split("\n").includes(line), line);
  }
  assert.match(data["pg_hba.conf"], /^hostssl\s+all\s+all\s+all\s+scram-sha-256$/m);
  assert.match(data["pg_ident.conf"], /^monitoring\s+postgres\s+dbop_monitor$/m);
  assert.match(data["backup.sh"], /^#!\/bin\/sh\n/);
  assert.match(data["backup.sh"], /pg_dump/);
  const tuned = buildConfigMap(testCluster({ postgresql: { parameters: { work_mem: "8MB" } } }));
  assert.ok(tuned.data?.["postgresql.conf"].split("\n").includes("work_mem = '8MB'"));
});
