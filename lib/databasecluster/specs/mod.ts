/**
 * Pure builders of a DatabaseCluster's children, one file per kind, each a
 * function of the parsed cluster and of explicit inputs (passwords, TLS
 * material, the live claim size, whether the PodMonitor CRD exists). They
 * do no I/O and set no ownerReference: the reconciler adds the controller
 * reference and applies them server-side as `dbop`. A builder returns
 * undefined when the spec wants no such child, which tells the reconciler to
 * delete one that exists.
 *
 * ```ts
 * import { buildStatefulSet } from "./mod.ts";
 * const statefulSet = buildStatefulSet(cluster, { claimSize: liveClaimSize });
 * ```
 *
 * @module
 */
export { buildBackupClaim, buildBackupCronJob } from "./backup.ts";
export {
  canonicalQuantity,
  CONFIG_KEYS,
  EXPORTER_IMAGE,
  PATHS,
  POSTGRES_UID,
  postgresImage,
} from "./common.ts";
export { buildConfigMap, configData } from "./config_map.ts";
export { buildInstancePodSpec, CONTAINERS } from "./instance_pod.ts";
export {
  buildInstanceRbac,
  buildInstanceRole,
  buildInstanceRoleBinding,
  buildInstanceServiceAccount,
  instanceRules,
} from "./instance_rbac.ts";
export { buildPodDisruptionBudgets } from "./pod_disruption_budget.ts";
export {
  buildPodMonitor,
  POD_MONITOR_API_VERSION,
  type PodMonitor,
  wantsPodMonitor,
} from "./pod_monitor.ts";
export { quoteConfValue, renderPgHba, renderPostgresqlConf } from "./postgresql_conf.ts";
export { renderBackupScript } from "./scripts.ts";
export {
  appCredentialsSecretName,
  buildAppSecret,
  buildReplicationSecret,
  buildStatusTokenSecret,
  buildSuperuserSecret,
  type ConnectionInfo,
  connectionUri,
  jdbcUri,
  pgpassLine,
  SUPERUSER,
} from "./secrets.ts";
export {
  buildHeadlessService,
  buildReadOnlyService,
  buildReadService,
  buildReadWriteService,
  buildServices,
} from "./services.ts";
export { buildStatefulSet, type StatefulSetOptions } from "./stateful_set.ts";
export {
  buildCaSecret,
  buildServerSecret,
  issuesCertificates,
  readCertificateAuthority,
  readServerCertificate,
  serverCertificateDnsNames,
  serverTlsSecretName,
} from "./tls_secrets.ts";
