/**
 * The whole DatabaseCluster object as read from the API server, and
 * {@link parseDatabaseCluster}, which validates it and applies the same
 * defaults the API server applies, so the operator works with a fully typed,
 * defaulted object and rejects anything the CRD would not have let in.
 *
 * @module
 */
import { z } from "zod";
import { DATABASE_CLUSTER, DATABASE_CLUSTER_API_VERSION } from "./constants.ts";
import { DatabaseClusterSpec } from "./spec.ts";
import { DatabaseClusterStatus } from "./status.ts";

/** The fields of metav1.ObjectMeta the operator reads; others pass through untouched. */
const ObjectMeta = z.looseObject({
  name: z.string(),
  namespace: z.string().optional(),
  uid: z.string().optional(),
  resourceVersion: z.string().optional(),
  generation: z.int().optional(),
  creationTimestamp: z.string().optional(),
  deletionTimestamp: z.string().optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  finalizers: z.array(z.string()).optional(),
});

/** Schema of a v1 DatabaseCluster object. */
export const DatabaseCluster = z.object({
  apiVersion: z.literal(DATABASE_CLUSTER_API_VERSION),
  kind: z.literal(DATABASE_CLUSTER.kind),
  metadata: ObjectMeta,
  spec: DatabaseClusterSpec,
  status: DatabaseClusterStatus.optional(),
});

/** A v1 DatabaseCluster with every default applied. */
export type DatabaseCluster = z.output<typeof DatabaseCluster>;

/** A v1 DatabaseCluster as a user may write it. */
export type DatabaseClusterInput = z.input<typeof DatabaseCluster>;

/** One problem found by {@link parseDatabaseCluster}. */
export interface FieldProblem {
  /** Dotted path of the field, e.g. `spec.storage.size`. */
  path: string;
  /** What is wrong with it. */
  message: string;
}

/** Thrown by {@link parseDatabaseCluster}; `problems` names each offending field. */
export class InvalidDatabaseClusterError extends Error {
  /** Every problem found, in schema order. */
  readonly problems: readonly FieldProblem[];

  /** Wraps the problems found in the object called `name`. */
  constructor(name: string, problems: readonly FieldProblem[]) {
    const details = problems.map((p) => `${p.path}: ${p.message}`).join("; ");
    super(`Invalid DatabaseCluster "${name}": ${details}`);
    this.name = "InvalidDatabaseClusterError";
    this.problems = problems;
  }
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.map((part, i) =>
    typeof part === "number" ? `[${part}]` : `${i === 0 ? "" : "."}${String(part)}`
  ).join("") || "<root>";
}

function displayName(obj: unknown): string {
  const metadata = (obj as { metadata?: { name?: unknown; namespace?: unknown } } | null)
    ?.metadata;
  const name = typeof metadata?.name === "string" ? metadata.name : "<unnamed>";
  return typeof metadata?.namespace === "string" ? `${metadata.namespace}/${name}` : name;
}

/** Validates an object read from the API server and applies defaults; throws {@link InvalidDatabaseClusterError}. */
export function parseDatabaseCluster(obj: unknown): DatabaseCluster {
  const result = DatabaseCluster.safeParse(obj);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => ({
    path: formatPath(issue.path),
    message: issue.message,
  }));
  throw new InvalidDatabaseClusterError(displayName(obj), problems);
}
