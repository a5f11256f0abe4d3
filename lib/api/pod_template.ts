/**
 * The parts of `spec` that reach the instances' pod template as Kubernetes
 * spells them: scheduling (node selector, tolerations, additional affinity,
 * priority class), image pulling, metadata inherited by the children, and the
 * instances' ServiceAccount's metadata (workload identity needs annotations
 * there). The shapes are Kubernetes' own, in the subset dbop passes through,
 * strict so a typo is an error rather than a field silently dropped.
 *
 * @module
 */
import { z } from "zod";
import { DATABASE_CLUSTER } from "./constants.ts";
import { DNS_SUBDOMAIN, LABEL_KEY, LABEL_VALUE } from "./patterns.ts";
import { withRule } from "./rules.ts";

const MAX_ENTRIES = 64;
const MAX_TERMS = 16;

/**
 * Label keys dbop sets on its children and selects them by; a user's inherited label may
 * not replace them (`LABELS` in `databasecluster/names.ts`, checked there by a test).
 */
export const RESERVED_LABEL_KEYS: readonly string[] = [
  "app.kubernetes.io/name",
  "app.kubernetes.io/instance",
  "app.kubernetes.io/managed-by",
  "app.kubernetes.io/component",
];

/** The key prefix of dbop's own labels and annotations. */
export const RESERVED_KEY_PREFIX = `${DATABASE_CLUSTER.group}/`;

function celString(value: string): string {
  return `'${value.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
}

/** Label or annotation keys: valid, and not dbop's own (under its prefix, or `reservedKeys`). */
function keyedMap(what: string, values: z.ZodString, reservedKeys: readonly string[]) {
  const reserved = `[${reservedKeys.map(celString).join(", ")}]`;
  let map = z.record(z.string(), values)
    .refine((value) => Object.keys(value).length <= MAX_ENTRIES, {
      message: `Too many ${what}: at most ${MAX_ENTRIES}`,
    })
    .meta({ maxProperties: MAX_ENTRIES });
  map = withRule(map, {
    rule: `self.all(k, k.size() <= 317 && k.matches(${celString(LABEL_KEY.source)}))`,
    message: `Invalid ${what} key: expected an optional DNS prefix and a name such as ` +
      '"example.com/team"',
    check: (value) => Object.keys(value).every((k) => k.length <= 317 && LABEL_KEY.test(k)),
  });
  return withRule(map, {
    rule: `self.all(k, !k.startsWith(${celString(RESERVED_KEY_PREFIX)}) && !(k in ${reserved}))`,
    message: `Cannot set ${what} dbop sets: keys under "${RESERVED_KEY_PREFIX}"` +
      reservedKeys.map((k) => `, "${k}"`).join(""),
    reason: "FieldValueForbidden",
    check: (value) =>
      Object.keys(value).every((k) =>
        !k.startsWith(RESERVED_KEY_PREFIX) && !reservedKeys.includes(k)
      ),
  });
}

function labels() {
  return keyedMap(
    "labels",
    z.string().max(63).regex(LABEL_VALUE, {
      message: "Invalid label value: at most 63 letters, digits, '-', '_' or '.'",
    }),
    RESERVED_LABEL_KEYS,
  );
}

function annotations() {
  return keyedMap("annotations", z.string().max(4096), []);
}

/** Metadata that children inherit. */
function metadataSchema(on: string) {
  return z.strictObject({
    labels: labels().optional().describe(`Labels added to ${on}.`),
    annotations: annotations().optional().describe(`Annotations added to ${on}.`),
  });
}

const stringList = (max: number) => z.array(z.string().max(316)).max(max);

const LabelSelectorRequirement = z.strictObject({
  key: z.string().max(317).regex(LABEL_KEY),
  operator: z.enum(["In", "NotIn", "Exists", "DoesNotExist"]),
  values: stringList(MAX_ENTRIES).optional(),
});

const LabelSelector = z.strictObject({
  matchLabels: z.record(z.string().max(317), z.string().max(63)).meta({
    maxProperties: MAX_ENTRIES,
  }).optional(),
  matchExpressions: z.array(LabelSelectorRequirement).max(MAX_ENTRIES).optional(),
});

const NodeSelectorRequirement = z.strictObject({
  key: z.string().max(317),
  operator: z.enum(["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"]),
  values: stringList(MAX_ENTRIES).optional(),
});

const NodeSelectorTerm = z.strictObject({
  matchExpressions: z.array(NodeSelectorRequirement).max(MAX_ENTRIES).optional(),
  matchFields: z.array(NodeSelectorRequirement).max(MAX_ENTRIES).optional(),
});

const weight = z.int32().min(1).max(100);

const NodeAffinity = z.strictObject({
  requiredDuringSchedulingIgnoredDuringExecution: z.strictObject({
    nodeSelectorTerms: z.array(NodeSelectorTerm).min(1).max(MAX_TERMS),
  }).optional(),
  preferredDuringSchedulingIgnoredDuringExecution: z.array(z.strictObject({
    weight,
    preference: NodeSelectorTerm,
  })).max(MAX_TERMS).optional(),
});

const PodAffinityTerm = z.strictObject({
  labelSelector: LabelSelector.optional(),
  namespaceSelector: LabelSelector.optional(),
  namespaces: stringList(MAX_ENTRIES).optional(),
  topologyKey: z.string().min(1).max(317),
  matchLabelKeys: stringList(MAX_ENTRIES).optional(),
  mismatchLabelKeys: stringList(MAX_ENTRIES).optional(),
});

const PodAffinity = z.strictObject({
  requiredDuringSchedulingIgnoredDuringExecution: z.array(PodAffinityTerm).max(MAX_TERMS)
    .optional(),
  preferredDuringSchedulingIgnoredDuringExecution: z.array(z.strictObject({
    weight,
    podAffinityTerm: PodAffinityTerm,
  })).max(MAX_TERMS).optional(),
});

const Toleration = z.strictObject({
  key: z.string().max(317).optional(),
  operator: z.enum(["Exists", "Equal"]).optional(),
  value: z.string().max(63).optional(),
  effect: z.enum(["NoSchedule", "PreferNoSchedule", "NoExecute"]).optional(),
  tolerationSeconds: z.int().optional(),
});

/** `spec.scheduling`: where the instances may run. */
export const Scheduling = z.strictObject({
  nodeSelector: z.record(z.string().max(317), z.string().max(63)).meta({
    maxProperties: MAX_ENTRIES,
  }).optional().describe("Node labels every instance's node must have (the pod's nodeSelector)."),
  tolerations: z.array(Toleration).max(MAX_ENTRIES).optional().describe(
    "Taints the instances tolerate (the pod's tolerations, as Kubernetes spells them).",
  ),
  affinity: z.strictObject({
    nodeAffinity: NodeAffinity.optional(),
    podAffinity: PodAffinity.optional(),
    podAntiAffinity: PodAffinity.optional(),
  }).optional().describe(
    "Affinity added to dbop's own: nodeAffinity and podAffinity as given; podAntiAffinity " +
      "terms are added to the one ha.podAntiAffinity makes (instances on different nodes).",
  ),
  priorityClassName: z.string().max(253).regex(DNS_SUBDOMAIN, {
    message: "Invalid priorityClassName: expected a DNS subdomain",
  }).optional().describe("PriorityClass of the instances' pods."),
}).optional().describe("Where the instances' pods may be scheduled.");

/** `spec.imagePullPolicy`. */
export const ImagePullPolicy = z.enum(["Always", "IfNotPresent", "Never"]).optional().describe(
  "Pull policy of the instances' images (PostgreSQL's and dbop's); Kubernetes' default " +
    "when unset (Always for a :latest tag, IfNotPresent otherwise).",
);

/** `spec.imagePullSecrets`. */
export const ImagePullSecrets = z.array(z.strictObject({
  name: z.string().max(253).regex(DNS_SUBDOMAIN, {
    message: "Invalid imagePullSecrets name: expected a DNS subdomain",
  }),
})).max(MAX_TERMS).optional().describe(
  "Secrets (in the cluster's namespace) the kubelet uses to pull the instances' images.",
);

/** `spec.inheritedMetadata`. */
export const InheritedMetadata = metadataSchema(
  "every object dbop creates for the cluster (StatefulSet, Services, Secrets, ConfigMap, " +
    "disruption budgets, backup CronJob and claim, RBAC) and to the instances' pods, not to " +
    "the data volumes' claims (the StatefulSet makes those once); a change on the pods rolls " +
    "the instances, primary last",
).optional().describe("Labels and annotations the cluster's children and instance pods inherit.");

/** `spec.serviceAccountTemplate`. */
export const ServiceAccountTemplate = z.strictObject({
  metadata: metadataSchema("the instances' ServiceAccount <cluster>-instance").describe(
    "Metadata of the ServiceAccount the instances run as, such as the annotations of " +
      "workload identity (eks.amazonaws.com/role-arn, iam.gke.io/gcp-service-account).",
  ),
}).optional().describe("The ServiceAccount the instances run as.");
