/**
 * Valid and invalid `spec`s shared by the zod unit tests (lib/api/spec_test.ts)
 * and the API-server tests (tests/api_test.ts), so both are held to the same
 * cases: zod must reject each invalid spec at `field`, and the API server must
 * reject it naming `spec.<field>`.
 *
 * @module
 */

/** The smallest valid spec. */
export const MINIMAL = { version: "17", storage: { size: "1Gi" } };

/** An invalid spec: what is wrong, the spec, and the spec-relative path of the offending field. */
export interface InvalidCase {
  what: string;
  spec: Record<string, unknown>;
  field: string;
}

function bad(what: string, extra: Record<string, unknown>, field: string): InvalidCase {
  return { what, spec: { ...MINIMAL, ...extra }, field };
}

const auth = (authentication: Record<string, unknown>) => ({ security: { authentication } });
const parameters = (values: Record<string, unknown>) => ({ postgresql: { parameters: values } });

/** Specs that each break exactly one rule that can be judged without an older object. */
export const INVALID_SPECS: InvalidCase[] = [
  bad("replicas below 1", { replicas: 0 }, "replicas"),
  bad("replicas above 100", { replicas: 101 }, "replicas"),
  bad("replicas a string", { replicas: "3" }, "replicas"),
  bad("replicas a fraction", { replicas: 1.5 }, "replicas"),
  bad(
    "synchronous standbys not fewer than replicas",
    { replicas: 2, ha: { synchronous: { number: 2 } } },
    "ha.synchronous.number",
  ),
  { what: "version missing", spec: { storage: { size: "1Gi" } }, field: "version" },
  bad("version unsupported", { version: "12" }, "version"),
  bad("version a number", { version: 16 }, "version"),
  bad("version with a patch level", { version: "16.4.1" }, "version"),
  bad("image with a space", { image: "postgres 17" }, "image"),
  { what: "storage missing", spec: { version: "17" }, field: "storage" },
  bad("size in decimal units", { storage: { size: "10G" } }, "storage.size"),
  bad("size zero", { storage: { size: "0Gi" } }, "storage.size"),
  bad(
    "storage class not a DNS name",
    { storage: { size: "1Gi", storageClassName: "Fast_SSD" } },
    "storage.storageClassName",
  ),
  bad("unknown field", { replica: 3 }, "replica"),
  bad("unknown nested field", { storage: { size: "1Gi", class: "ssd" } }, "storage.class"),
  bad("port below 1024", { network: { port: 80 } }, "network.port"),
  bad("port a string", { network: { port: "5432" } }, "network.port"),
  bad(
    "external access without TLS",
    { network: { externalAccess: true }, security: { tls: { enabled: false } } },
    "network.externalAccess",
  ),
  bad(
    "TLS secret while TLS is off",
    { security: { tls: { enabled: false, secretName: "tls" } } },
    "security.tls.secretName",
  ),
  bad("unknown authentication type", auth({ type: "password" }), "security.authentication.type"),
  bad("superuser as owner", auth({ username: "postgres" }), "security.authentication.username"),
  bad("pg_ owner", auth({ username: "pg_app" }), "security.authentication.username"),
  bad("upper-case owner", auth({ username: "App" }), "security.authentication.username"),
  bad(
    "existingSecret with username",
    auth({ existingSecret: "creds", username: "app" }),
    "security.authentication.username",
  ),
  bad("template database", auth({ database: "template1" }), "security.authentication.database"),
  bad("unknown anti-affinity", { ha: { podAntiAffinity: "always" } }, "ha.podAntiAffinity"),
  bad("HA flag a string", { ha: { enabled: "yes" } }, "ha.enabled"),
  bad(
    "metrics on the PostgreSQL port",
    { monitoring: { enabled: true, port: 5432 } },
    "monitoring.port",
  ),
  bad(
    "PodMonitor without monitoring",
    { monitoring: { podMonitor: true } },
    "monitoring.podMonitor",
  ),
  bad("metrics path without slash", { monitoring: { path: "metrics" } }, "monitoring.path"),
  bad(
    "backup without schedule",
    { backup: { enabled: true, storage: { size: "1Gi" } } },
    "backup.schedule",
  ),
  bad(
    "backup without storage",
    { backup: { enabled: true, schedule: "0 2 * * *" } },
    "backup.storage",
  ),
  bad("six-field schedule", { backup: { schedule: "0 0 2 * * *" } }, "backup.schedule"),
  bad("minute 61 in schedule", { backup: { schedule: "61 * * * *" } }, "backup.schedule"),
  bad("retention zero", { backup: { retention: 0 } }, "backup.retention"),
  bad(
    "reserved parameter listen_addresses",
    parameters({ listen_addresses: "*" }),
    "postgresql.parameters",
  ),
  bad(
    "reserved parameter hot_standby",
    parameters({ hot_standby: "off" }),
    "postgresql.parameters",
  ),
  bad("upper-case parameter name", parameters({ Port: "6000" }), "postgresql.parameters"),
  bad(
    "parameter value a number",
    parameters({ max_connections: 100 }),
    "postgresql.parameters.max_connections",
  ),
  bad("negative CPU", { resources: { requests: { cpu: -1 } } }, "resources.requests.cpu"),
  bad(
    "memory in a bad unit",
    { resources: { limits: { memory: "8GB" } } },
    "resources.limits.memory",
  ),
  bad("unknown deletion policy", { deletionPolicy: "Orphan" }, "deletionPolicy"),
  bad(
    "inherited label dbop selects by",
    { inheritedMetadata: { labels: { "app.kubernetes.io/instance": "other" } } },
    "inheritedMetadata.labels",
  ),
  bad(
    "inherited annotation under dbop's prefix",
    { inheritedMetadata: { annotations: { "database.example.com/promote": "pg-1" } } },
    "inheritedMetadata.annotations",
  ),
  bad(
    "inherited label key with a space",
    { inheritedMetadata: { labels: { "my team": "db" } } },
    "inheritedMetadata.labels",
  ),
  bad(
    "inherited label value with a space",
    { inheritedMetadata: { labels: { team: "data base" } } },
    "inheritedMetadata.labels.team",
  ),
  bad(
    "toleration with an unknown operator",
    { scheduling: { tolerations: [{ key: "dedicated", operator: "Is" }] } },
    "scheduling.tolerations.0.operator",
  ),
  bad(
    "node affinity without terms",
    {
      scheduling: {
        affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: {} } },
      },
    },
    "scheduling.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution." +
      "nodeSelectorTerms",
  ),
  bad("priority class not a DNS name", {
    scheduling: { priorityClassName: "High_Priority" },
  }, "scheduling.priorityClassName"),
  bad("unknown pull policy", { imagePullPolicy: "Sometimes" }, "imagePullPolicy"),
  bad(
    "pull secret without a name",
    { imagePullSecrets: [{}] },
    "imagePullSecrets.0.name",
  ),
  bad(
    "service account template without metadata",
    { serviceAccountTemplate: {} },
    "serviceAccountTemplate.metadata",
  ),
];

/** Valid specs near the edges of the rules. */
export const VALID_SPECS: { what: string; spec: Record<string, unknown> }[] = [
  { what: "minimal", spec: MINIMAL },
  {
    what: "edge values",
    spec: {
      replicas: 100,
      version: "14.21",
      storage: { size: "1Ki" },
      network: { port: 65535 },
      monitoring: { enabled: true, port: 1024, path: "/" },
      backup: { schedule: "*/5 1-3 1,15 JAN-MAR MON-FRI", retention: 1000 },
    },
  },
  {
    what: "TLS off without external access",
    spec: { ...MINIMAL, security: { tls: { enabled: false } } },
  },
  {
    what: "existingSecret without username",
    spec: { ...MINIMAL, ...auth({ type: "md5", existingSecret: "creds", database: "_db1" }) },
  },
  {
    what: "backup configured but disabled",
    spec: { ...MINIMAL, backup: { schedule: "0 3 * * SUN" } },
  },
  {
    what: "quantities as numbers and strings",
    spec: {
      ...MINIMAL,
      resources: { requests: { cpu: 0, memory: "512Mi" }, limits: { cpu: "1.5", memory: "1e9" } },
    },
  },
  {
    what: "extension parameters",
    spec: {
      ...MINIMAL,
      ...parameters({ "pg_stat_statements.max": "10000", shared_buffers: "1GB" }),
    },
  },
  {
    what: "scheduling, pull and inherited metadata",
    spec: {
      ...MINIMAL,
      scheduling: {
        nodeSelector: { "node.kubernetes.io/pool": "db" },
        tolerations: [{ key: "dedicated", operator: "Equal", value: "db", effect: "NoSchedule" }],
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [{
                matchExpressions: [{ key: "disk", operator: "In", values: ["ssd"] }],
              }],
            },
          },
          podAntiAffinity: {
            preferredDuringSchedulingIgnoredDuringExecution: [{
              weight: 50,
              podAffinityTerm: {
                labelSelector: { matchLabels: { app: "cache" } },
                topologyKey: "kubernetes.io/hostname",
              },
            }],
          },
        },
        priorityClassName: "databases",
      },
      imagePullPolicy: "IfNotPresent",
      imagePullSecrets: [{ name: "registry" }],
      inheritedMetadata: {
        labels: { "example.com/team": "payments", empty: "" },
        annotations: { "example.com/owner": "payments@example.com" },
      },
      serviceAccountTemplate: {
        metadata: { annotations: { "eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/db" } },
      },
    },
  },
];
