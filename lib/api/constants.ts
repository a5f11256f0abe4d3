/**
 * Facts about the DatabaseCluster API that several modules need: the resource
 * descriptor, the supported PostgreSQL majors, the postgresql.conf parameters
 * the operator owns, reserved role and database names, phases and condition
 * types. Each fact is stated here once; the schema, the CRD and the operator
 * import it from here.
 *
 * @module
 */

/** Group, version, kind and plural of the DatabaseCluster resource (storage version). */
export const DATABASE_CLUSTER = {
  group: "database.example.com",
  version: "v1",
  kind: "DatabaseCluster",
  plural: "databaseclusters",
  namespaced: true,
} as const;

/** `apiVersion` of a DatabaseCluster at the storage version: `database.example.com/v1`. */
export const DATABASE_CLUSTER_API_VERSION =
  `${DATABASE_CLUSTER.group}/${DATABASE_CLUSTER.version}` as const;

/** The deprecated version that is still served. */
export const DEPRECATED_VERSION = "v1beta1";

/**
 * PostgreSQL major versions that v1 accepts in `spec.version`. 13 is not among them: it has
 * been end-of-life since November 2025 and nothing here tests it, so dbop does not claim it.
 */
export const SUPPORTED_MAJORS: readonly number[] = [14, 15, 16, 17, 18];

/** The narrower majors that v1beta1 accepts (the design notes' original list, within support). */
export const V1BETA1_MAJORS: readonly number[] = SUPPORTED_MAJORS.filter((major) => major <= 15);

/**
 * postgresql.conf parameters the operator sets itself; `spec.postgresql.parameters`
 * rejects them because a user value would break networking, replication, TLS,
 * authentication, backups or logging.
 */
export const RESERVED_PARAMETERS: readonly string[] = [
  "archive_command",
  "archive_mode",
  "cluster_name",
  "config_file",
  "data_directory",
  "hba_file",
  "hot_standby",
  "ident_file",
  "listen_addresses",
  "log_destination",
  "logging_collector",
  "password_encryption",
  "port",
  "primary_conninfo",
  "primary_slot_name",
  "restore_command",
  "ssl",
  "ssl_ca_file",
  "ssl_cert_file",
  "ssl_key_file",
  "synchronous_standby_names",
  "unix_socket_directories",
  "wal_level",
];

/**
 * Default of `spec.ha.switchoverDelay`: seconds the old primary's fast shutdown may take in a
 * switchover. Here, not in the schema, because the instance manager (which must not load zod)
 * falls back to it when the cluster it reads has no value.
 */
export const SWITCHOVER_DELAY_SECONDS = 30;

/** Role the operator uses for streaming replication. */
export const REPLICATION_USERNAME = "streaming_replica";

/**
 * The role the metrics exporter connects as: a member of `pg_monitor`, with no password, over
 * the pod's local socket only (peer authentication, mapped from the `postgres` OS user).
 */
export const MONITORING_USERNAME = "dbop_monitor";

/** Role names an application owner may not take (PostgreSQL also reserves the `pg_` prefix). */
export const RESERVED_USERNAMES: readonly string[] = [
  "postgres",
  REPLICATION_USERNAME,
  MONITORING_USERNAME,
];

/** Database names that exist in every PostgreSQL cluster and so cannot be the application database. */
export const RESERVED_DATABASES: readonly string[] = ["postgres", "template0", "template1"];

/** The key of the status token in Secret `<c>-status`, which the operator and the instances share. */
export const STATUS_TOKEN_KEY = "token";

/** Application owner used when the operator generates the credentials. */
export const DEFAULT_USERNAME = "app";

/** Values of `status.phase`. */
export const PHASES = {
  pending: "Pending",
  creating: "Creating",
  running: "Running",
  updating: "Updating",
  degraded: "Degraded",
  failed: "Failed",
  deleting: "Deleting",
} as const;

/** A value of `status.phase`. */
export type Phase = (typeof PHASES)[keyof typeof PHASES];

/** Condition types the operator maintains in `status.conditions`. */
export const CONDITION_TYPES = {
  ready: "Ready",
  progressing: "Progressing",
  degraded: "Degraded",
  backupReady: "BackupReady",
} as const;

/** A condition type the operator maintains. */
export type ConditionType = (typeof CONDITION_TYPES)[keyof typeof CONDITION_TYPES];
