/**
 * The DatabaseCluster API (`database.example.com`): zod schemas that are the
 * single source of the TypeScript types, the defaults, the runtime validation
 * of objects read from the API server and the generated CRD.
 *
 * ```ts
 * import { parseDatabaseCluster } from "./mod.ts";
 * const cluster = parseDatabaseCluster(objectFromTheApiServer);
 * cluster.spec.network.port; // 5432 unless set: defaults are applied
 * ```
 *
 * @module
 */
export {
  CONDITION_TYPES,
  type ConditionType,
  DATABASE_CLUSTER,
  DATABASE_CLUSTER_API_VERSION,
  DEFAULT_USERNAME,
  DEPRECATED_VERSION,
  MONITORING_USERNAME,
  type Phase,
  PHASES,
  REPLICATION_USERNAME,
  RESERVED_DATABASES,
  RESERVED_PARAMETERS,
  RESERVED_USERNAMES,
  STATUS_TOKEN_KEY,
  SUPPORTED_MAJORS,
  V1BETA1_MAJORS,
} from "./constants.ts";
export { majorOf } from "./patterns.ts";
export { DatabaseClusterSpec, type DatabaseClusterSpecInput } from "./spec.ts";
export { RESERVED_KEY_PREFIX, RESERVED_LABEL_KEYS } from "./pod_template.ts";
export { Condition, DatabaseClusterStatus, InstanceSummary } from "./status.ts";
export { InstanceStatus, StandbyStatus } from "./instance_status.ts";
export { compareLsn, formatLsn, lsnLag, parseLsn } from "./lsn.ts";
export {
  DatabaseCluster,
  type DatabaseClusterInput,
  type FieldProblem,
  InvalidDatabaseClusterError,
  parseDatabaseCluster,
} from "./database_cluster.ts";
export { generatedUsername, pdbEnabled } from "./derived.ts";
export { buildCrd, CRD_PATH, renderCrdYaml } from "./crd.ts";
