/**
 * The zod schema of `DatabaseCluster.spec`, the one source of its TypeScript
 * type, its defaults, its validation and the CRD's schema. Every served
 * version is built by {@link databaseClusterSpecSchema}; they differ only in
 * the PostgreSQL majors `version` accepts, so they have the same fields and
 * the API server converts between them without a webhook.
 *
 * @module
 */
import { z } from "zod";
import {
  RESERVED_DATABASES,
  RESERVED_PARAMETERS,
  RESERVED_USERNAMES,
  SUPPORTED_MAJORS,
  SWITCHOVER_DELAY_SECONDS,
  V1BETA1_MAJORS,
} from "./constants.ts";
import {
  CRON_SCHEDULE,
  DNS_SUBDOMAIN,
  HTTP_PATH,
  PG_IDENTIFIER,
  PG_PARAMETER_NAME,
  QUANTITY,
  versionPattern,
  VOLUME_SIZE,
} from "./patterns.ts";
import {
  ImagePullPolicy,
  ImagePullSecrets,
  InheritedMetadata,
  Scheduling,
  ServiceAccountTemplate,
} from "./pod_template.ts";
import { celList, withRule, withTransitionRule } from "./rules.ts";

const MAX_PARAMETERS = 200;

function quoted(values: readonly string[]): string {
  return values.map((value) => `"${value}"`).join(", ");
}

function objectName(what: string) {
  return z.string().max(253).regex(DNS_SUBDOMAIN, {
    message: `Invalid ${what}: expected a DNS subdomain`,
  });
}

/**
 * Makes an object optional, defaulting to the object with all its own defaults
 * applied: the API server validates a CRD's `default` as written, so `{}` would
 * not satisfy rules that read the defaulted fields.
 */
function defaulted<S extends z.ZodType<object>>(schema: S) {
  return schema.default(() => schema.parse({}) as z.util.NoUndefined<z.output<S>>);
}

function tcpPort(fallback: number, what: string) {
  return z.int32().min(1024).max(65535).default(fallback).describe(
    `TCP port ${what} listens on (1024-65535). Defaults to ${fallback}.`,
  );
}

function volumeSchema(what: string) {
  const size = withTransitionRule(
    z.string().max(32).regex(VOLUME_SIZE, {
      message: 'Invalid size: expected a whole number of Ki, Mi, Gi or Ti such as "10Gi"',
    }).describe(
      `Size of the ${what} volume, a whole number of Ki, Mi, Gi or Ti (e.g. "10Gi"). ` +
        "It can grow (when the StorageClass allows volume expansion) but never shrink.",
    ),
    {
      rule: "!isQuantity(self) || !isQuantity(oldSelf) || " +
        "quantity(self).compareTo(quantity(oldSelf)) >= 0",
      message: "Cannot shrink storage",
      messageExpression: `'Cannot shrink storage: from "' + oldSelf + '" to "' + self + '"'`,
    },
  );
  const volume = z.strictObject({
    size,
    storageClassName: objectName("storageClassName").optional().describe(
      `StorageClass of the ${what} volume; the cluster's default class when unset. Immutable.`,
    ),
  }).describe(`The ${what} volume of each instance.`);
  return withTransitionRule(volume, {
    rule: "has(self.storageClassName) == has(oldSelf.storageClassName) && " +
      "(!has(self.storageClassName) || self.storageClassName == oldSelf.storageClassName)",
    message: "Cannot change storageClassName: volumes keep the class they were created with",
    fieldPath: ".storageClassName",
  });
}

function networkSchema() {
  return defaulted(z.strictObject({
    port: tcpPort(5432, "PostgreSQL"),
    externalAccess: z.boolean().default(false).describe(
      "Expose the primary outside the cluster through a LoadBalancer Service. Requires TLS.",
    ),
  })).describe("How clients reach the cluster.");
}

function tlsSchema() {
  const tls = z.strictObject({
    enabled: z.boolean().default(true).describe("Serve PostgreSQL over TLS. Defaults to true."),
    secretName: objectName("secretName").optional().describe(
      "A kubernetes.io/tls Secret with the server certificate; the operator issues a " +
        "self-signed one when unset.",
    ),
  }).describe("TLS for client connections.");
  return defaulted(withRule(tls, {
    rule: "self.enabled || !has(self.secretName)",
    message: "Cannot set secretName when TLS is disabled",
    fieldPath: ".secretName",
    reason: "FieldValueForbidden",
    check: (value) => value.enabled || value.secretName === undefined,
  }));
}

function authenticationSchema() {
  const username = withRule(
    z.string().max(63).regex(PG_IDENTIFIER, {
      message: "Invalid username: expected a lower-case PostgreSQL identifier",
    }),
    {
      rule: `!(self in ${celList(RESERVED_USERNAMES)}) && !self.startsWith('pg_')`,
      message: `Cannot use a reserved role name: ${quoted(RESERVED_USERNAMES)} or the "pg_" prefix`,
      messageExpression: `'Cannot use a reserved role name: "' + self + '"'`,
      check: (value) => !RESERVED_USERNAMES.includes(value) && !value.startsWith("pg_"),
    },
  );
  const database = withRule(
    z.string().max(63).regex(PG_IDENTIFIER, {
      message: "Invalid database: expected a lower-case PostgreSQL identifier",
    }),
    {
      rule: `!(self in ${celList(RESERVED_DATABASES)})`,
      message: `Cannot use a reserved database name: ${quoted(RESERVED_DATABASES)}`,
      messageExpression: `'Cannot use a reserved database name: "' + self + '"'`,
      check: (value) => !RESERVED_DATABASES.includes(value),
    },
  );
  const authentication = z.strictObject({
    type: z.enum(["scram-sha-256", "md5"]).default("scram-sha-256").describe(
      "Password authentication method in pg_hba.conf. Defaults to scram-sha-256.",
    ),
    username: username.optional().describe(
      'Application owner role, created with a generated password; "app" when unset. ' +
        "Must be unset with existingSecret, which supplies the username. Changing it renames " +
        "the role, which keeps what it owns and its password.",
    ),
    database: database.default("app").describe(
      'Application database, owned by the application owner. Defaults to "app". Immutable.',
    ),
    existingSecret: objectName("existingSecret").optional().describe(
      "A kubernetes.io/basic-auth Secret (keys username and password) with the application " +
        "owner's credentials, used instead of generated ones.",
    ),
  }).describe("The application owner and its database.");
  const exclusive = withRule(authentication, {
    rule: "!has(self.existingSecret) || !has(self.username)",
    message: "Cannot set both existingSecret and username: the username comes from the Secret",
    fieldPath: ".username",
    reason: "FieldValueForbidden",
    check: (value) => value.existingSecret === undefined || value.username === undefined,
  });
  // Renaming a database fails while anyone is connected to it: create a new cluster instead.
  return defaulted(withTransitionRule(exclusive, {
    rule: "self.database == oldSelf.database",
    message: "Cannot change database: the application database keeps its name",
    messageExpression:
      `'Cannot change database: the application database keeps its name "' + oldSelf.database + '"'`,
    fieldPath: ".database",
  }));
}

function haSchema() {
  return defaulted(z.strictObject({
    enabled: z.boolean().default(true).describe(
      "Whether dbop fails over: when the primary's pod is gone or being deleted, or " +
        "PostgreSQL on it has not run as the primary, or its node has not been Ready, for " +
        "failoverDelay seconds, the most advanced running standby on a Ready node is promoted " +
        "(highest received LSN on the primary's timeline). A standby promotes only once it " +
        "holds the cluster's primary Lease, which the old primary renews while it runs. And " +
        "whether it switches over when the primary's node is cordoned (kubectl cordon or " +
        "drain), to the most advanced streaming standby on a schedulable, Ready node. Needs " +
        "replicas > 1. Defaults to true.",
    ),
    failoverDelay: z.int().min(0).max(3600).default(10).describe(
      "Seconds PostgreSQL on the primary may be down (stopped, starting, or its manager not " +
        "answering), or its node not Ready, before dbop fails over; a deleted or lost primary " +
        "pod fails over at once. " +
        "The default, 10, lets the instance manager restart a crashed PostgreSQL in place " +
        "(about a second) without a failover, which would lose the writes not yet streamed.",
    ),
    switchoverDelay: z.int().min(1).max(3600).default(SWITCHOVER_DELAY_SECONDS).describe(
      "Seconds the old primary's fast shutdown may take in a switchover (after its " +
        "CHECKPOINT) before it is stopped immediately (SIGQUIT); only then is the primary " +
        "Lease released and the target promoted, so this bounds the switchover's write outage. " +
        "A fast shutdown normally ends within a second; what prolongs it is a standby that " +
        "does not confirm the last WAL, which PostgreSQL waits for up to wal_sender_timeout " +
        "(60 s by default). The default, 30, caps that wait at half of it; an immediate " +
        "shutdown leaves the old primary to crash recovery and pg_rewind when it rejoins. " +
        "A SIGTERM of the pod meanwhile shortens the wait to the pod's stop bound.",
    ),
    synchronous: z.strictObject({
      method: z.enum(["any", "first"]).default("any").describe(
        "any: a commit waits for any `number` of the standbys (quorum); first: for the first " +
          "`number` streaming standbys in ordinal order. Defaults to any.",
      ),
      number: z.int().min(1).max(99).describe(
        "How many standbys must confirm each commit; less than replicas.",
      ),
      durability: z.enum(["required", "preferred"]).default("required").describe(
        "required: commits wait until `number` standbys confirm, however long, and a failover " +
          "promotes only when the standbys it can see must include one that confirmed every " +
          "commit (seen + number > replicas - 1). preferred: dbop lowers the number to the " +
          "standbys that stream (as last polled), down to asynchronous replication, so commits " +
          "go on; a failover may then lose what only the old primary had. Defaults to required.",
      ),
    }).optional().describe(
      "Synchronous replication: dbop sets synchronous_standby_names. Unset: asynchronous.",
    ),
    maxLagOnFailover: z.int().min(0).optional().describe(
      "Bytes of WAL a standby may lack, against the primary's last polled position, and still " +
        "be promoted by a failover. Unset: no limit.",
    ),
    primaryUpdateMethod: z.enum(["switchover", "restart"]).default("switchover").describe(
      "How a rolling update (a change of the pod template: image, resources, authentication " +
        "type, TLS on or off) replaces the primary's pod, once every standby's pod has been " +
        "replaced, one at a time, each only while every instance runs and every standby " +
        "streams within 16 MiB of the primary. switchover (default): the most advanced " +
        "replaced standby is promoted (a SwitchoverStarted event), then the old primary's pod " +
        "is replaced like a standby's. restart: the primary's pod is deleted and made anew on " +
        "its volume, a short outage; a failover happens only if it does not run as the " +
        "primary again within failoverDelay. A single instance is always restarted.",
    ),
    podAntiAffinity: z.enum(["preferred", "required"]).default("preferred").describe(
      "Spread instances over nodes: preferred (best effort) or required (an instance stays " +
        "Pending rather than share a node). Defaults to preferred.",
    ),
    pdb: z.boolean().optional().describe(
      "Create PodDisruptionBudgets so that evictions (kubectl drain) take one instance at a " +
        "time. With failover (enabled, replicas > 1) they never take the primary while it is " +
        "the primary: <c>-primary requires the primary's pod (and the target's while the " +
        "primary changes), <c> allows one other instance down (minAvailable replicas - 2), so " +
        "a drain of the primary's node waits until dbop has switched over, then evicts the " +
        "old primary as a standby. Otherwise one budget <c> over all instances, maxUnavailable " +
        "1. Defaults to true when replicas > 1.",
    ),
  })).describe("High availability.");
}

function monitoringSchema() {
  const monitoring = z.strictObject({
    enabled: z.boolean().default(false).describe("Run a metrics exporter next to each instance."),
    port: tcpPort(9187, "the metrics exporter"),
    path: z.string().max(256).regex(HTTP_PATH, { message: 'Invalid path: expected "/..."' })
      .default("/metrics").describe('HTTP path of the metrics. Defaults to "/metrics".'),
    podMonitor: z.boolean().default(false).describe(
      "Create a Prometheus Operator PodMonitor (when that CRD is installed).",
    ),
  }).describe("Prometheus metrics.");
  return defaulted(withRule(monitoring, {
    rule: "!self.podMonitor || self.enabled",
    message: "Cannot create a PodMonitor when monitoring is disabled",
    fieldPath: ".podMonitor",
    reason: "FieldValueForbidden",
    check: (value) => !value.podMonitor || value.enabled,
  }));
}

function backupSchema() {
  let backup = z.strictObject({
    enabled: z.boolean().default(false).describe("Take scheduled base backups."),
    schedule: z.string().max(256).regex(CRON_SCHEDULE, {
      message: 'Invalid schedule: expected five cron fields such as "0 2 * * *"',
    }).optional().describe(
      'When to back up, as five cron fields (minute hour day-of-month month day-of-week), e.g. "0 2 * * *". Required when enabled.',
    ),
    retention: z.int32().min(1).max(1000).default(7).describe(
      "Number of backups to keep (at least 1). Defaults to 7.",
    ),
    storage: volumeSchema("backup").optional(),
  }).describe("Scheduled backups.");
  backup = withRule(backup, {
    rule: "!self.enabled || has(self.schedule)",
    message: "Cannot enable backup without a schedule",
    fieldPath: ".schedule",
    reason: "FieldValueRequired",
    check: (value) => !value.enabled || value.schedule !== undefined,
  });
  return defaulted(withRule(backup, {
    rule: "!self.enabled || has(self.storage)",
    message: "Cannot enable backup without storage",
    fieldPath: ".storage",
    reason: "FieldValueRequired",
    check: (value) => !value.enabled || value.storage !== undefined,
  }));
}

function parametersSchema() {
  const reserved = celList(RESERVED_PARAMETERS);
  const names = `'${PG_PARAMETER_NAME.source.replaceAll("\\", "\\\\")}'`;
  let parameters = z.record(z.string(), z.string().max(1024))
    .refine((value) => Object.keys(value).length <= MAX_PARAMETERS, {
      message: `Too many parameters: at most ${MAX_PARAMETERS}`,
    })
    .meta({ maxProperties: MAX_PARAMETERS })
    .describe(
      "postgresql.conf settings as strings (e.g. shared_buffers: 256MB). Parameters the operator " +
        `manages are rejected: ${RESERVED_PARAMETERS.join(", ")}.`,
    );
  parameters = withRule(parameters, {
    rule: `self.all(k, k.matches(${names}))`,
    message: 'Invalid parameter name: expected a lower-case name such as "shared_buffers"',
    check: (value) => Object.keys(value).every((key) => PG_PARAMETER_NAME.test(key)),
  });
  return withRule(parameters, {
    rule: `self.all(k, !(k in ${reserved}))`,
    // A messageExpression naming the offending keys is too costly for the API server's
    // estimator (map keys have no length bound), so the message lists them all.
    message: `Cannot set parameters the operator manages: ${quoted(RESERVED_PARAMETERS)}`,
    reason: "FieldValueForbidden",
    check: (value) => Object.keys(value).every((key) => !RESERVED_PARAMETERS.includes(key)),
  });
}

function resourcesSchema() {
  const quantity = z.union([z.int().min(0), z.string().max(64).regex(QUANTITY)]);
  const list = (which: string) =>
    z.strictObject({
      cpu: quantity.optional(),
      memory: quantity.optional(),
      "ephemeral-storage": quantity.optional(),
      "hugepages-2Mi": quantity.optional(),
      "hugepages-1Gi": quantity.optional(),
    }).optional().describe(`Compute resources ${which} for the PostgreSQL container.`);
  return z.strictObject({ requests: list("requested"), limits: list("allowed at most") })
    .optional().describe("CPU and memory of the PostgreSQL container of each instance.");
}

function versionSchema(majors: readonly number[]) {
  // The downgrade rule needs status.currentVersion, so it lives on the root (crd.ts).
  return z.string().max(16).regex(versionPattern(majors), {
    message: `Unsupported version: expected a major in ${majors.join(", ")}, as "16" or "16.4"`,
  }).describe(
    `PostgreSQL version, a major (${majors.join(", ")}) optionally with a minor: "16" or ` +
      '"16.4". Upgrading the major is allowed; downgrading it is not, except back to the ' +
      "major the instances still run (status.currentVersion), which reverts a refused upgrade.",
  );
}

function specShape(majors: readonly number[]) {
  return z.strictObject({
    replicas: z.int32().min(1).max(100).default(1).describe(
      "Number of PostgreSQL instances (1-100): one primary, the rest streaming replicas. Defaults to 1.",
    ),
    version: versionSchema(majors),
    image: z.string().min(1).max(512).regex(/^\S+$/, { message: "Invalid image: no spaces" })
      .optional().describe("Container image overriding the one chosen from version."),
    storage: volumeSchema("data"),
    network: networkSchema(),
    security: defaulted(
      z.strictObject({
        tls: tlsSchema(),
        authentication: authenticationSchema(),
        enableSuperuserAccess: z.boolean().default(false).describe(
          "Whether the superuser postgres may log in over the network with the password of " +
            "Secret <cluster>-superuser. Off (the default): only over the local socket inside " +
            "the instances' pods; dbop itself needs no more.",
        ),
      }),
    ).describe("TLS and credentials."),
    ha: haSchema(),
    monitoring: monitoringSchema(),
    backup: backupSchema(),
    postgresql: defaulted(z.strictObject({ parameters: parametersSchema().optional() }))
      .describe("PostgreSQL configuration."),
    resources: resourcesSchema(),
    scheduling: Scheduling,
    imagePullPolicy: ImagePullPolicy,
    imagePullSecrets: ImagePullSecrets,
    inheritedMetadata: InheritedMetadata,
    serviceAccountTemplate: ServiceAccountTemplate,
    deletionPolicy: z.enum(["Retain", "Delete"]).default("Retain").describe(
      "What happens to volumes and backups when the cluster is deleted: Retain (default) keeps " +
        "them, Delete removes them.",
    ),
  }).describe("Desired state of the DatabaseCluster.");
}

/** Builds the spec schema of a served version; `majors` are the PostgreSQL majors it accepts. */
export function databaseClusterSpecSchema(
  majors: readonly number[],
): ReturnType<typeof specShape> {
  const withSynchronous = withRule(specShape(majors), {
    rule: "!has(self.ha.synchronous) || self.ha.synchronous.number < self.replicas",
    message: "ha.synchronous.number must be less than replicas: the primary does not count",
    fieldPath: ".ha.synchronous.number",
    check: (spec) =>
      spec.ha.synchronous === undefined || spec.ha.synchronous.number < spec.replicas,
  });
  const withPorts = withRule(withSynchronous, {
    rule: "!self.monitoring.enabled || self.monitoring.port != self.network.port",
    message: "Cannot use the PostgreSQL port for metrics",
    fieldPath: ".monitoring.port",
    check: (value) => !value.monitoring.enabled || value.monitoring.port !== value.network.port,
  });
  return withRule(withPorts, {
    rule: "!self.network.externalAccess || self.security.tls.enabled",
    message: "Cannot expose the primary without TLS: enable security.tls or disable externalAccess",
    fieldPath: ".network.externalAccess",
    reason: "FieldValueForbidden",
    check: (value) => !value.network.externalAccess || value.security.tls.enabled,
  });
}

/** Schema of `spec` in v1, the storage version. */
export const DatabaseClusterSpec = databaseClusterSpecSchema(SUPPORTED_MAJORS);

/** Schema of `spec` in the deprecated v1beta1: v1 with fewer majors. */
export const DatabaseClusterSpecV1beta1 = databaseClusterSpecSchema(V1BETA1_MAJORS);

/** `spec` as stored, with every default applied. */
export type DatabaseClusterSpec = z.output<typeof DatabaseClusterSpec>;

/** `spec` as a user may write it, defaults optional. */
export type DatabaseClusterSpecInput = z.input<typeof DatabaseClusterSpec>;
