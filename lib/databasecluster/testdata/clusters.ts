/**
 * DatabaseClusters for the builders' and the status computer's tests: a
 * minimal valid cluster in namespace `shop` with overrides merged into its
 * spec, parsed through the API so every default is applied.
 *
 * @module
 */
import {
  type DatabaseCluster,
  type DatabaseClusterSpecInput,
  parseDatabaseCluster,
} from "../../api/mod.ts";

/** A parsed cluster `pg` in namespace `shop` with `spec` merged over a minimal spec. */
export function testCluster(
  spec: Partial<DatabaseClusterSpecInput> = {},
  metadata: Record<string, unknown> = {},
): DatabaseCluster {
  return parseDatabaseCluster({
    apiVersion: "database.example.com/v1",
    kind: "DatabaseCluster",
    metadata: { name: "pg", namespace: "shop", generation: 1, ...metadata },
    spec: { version: "16", storage: { size: "10Gi" }, ...spec },
  });
}
