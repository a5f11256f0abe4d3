/**
 * Start-up checks with clear messages instead of stack traces: the API
 * server answers (naming the server when it does not), the DatabaseCluster
 * CRD is served, and every permission in the rule list is granted (naming
 * the first missing one), checked with SelfSubjectAccessReviews.
 *
 * @module
 */
import { DATABASE_CLUSTER } from "../api/mod.ts";
import { NetworkError, NotFoundError, type Resources } from "../kube/mod.ts";
import type { Rule } from "../databasecluster/mod.ts";

/** A start-up problem: printed as one line, exit code 1. */
export class PreflightError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PreflightError";
  }
}

/** Checks that the API server answers; returns its version. */
export async function checkServer(resources: Resources, source: string): Promise<string> {
  try {
    const version = await resources.client.request<{ gitVersion: string }>("/version", {
      signal: AbortSignal.timeout(15_000),
    });
    return version.gitVersion;
  } catch (error) {
    const why = error instanceof NetworkError ? error.detail : (error as Error).message;
    throw new PreflightError(
      `Cannot reach the Kubernetes API server at ${resources.client.server} (from ${source}): ${why}`,
    );
  }
}

/** Checks that the DatabaseCluster API is served (the CRD is installed). */
export async function checkCrd(resources: Resources): Promise<void> {
  const { group, version, plural } = DATABASE_CLUSTER;
  try {
    const list = await resources.client.request<{ resources: { name: string }[] }>(
      `/apis/${group}/${version}`,
    );
    if (list.resources.some((r) => r.name === plural)) return;
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
  }
  throw new PreflightError(
    `The DatabaseCluster CRD is not installed (no ${plural}.${group}/${version}): ` +
      `kubectl apply -f crds/, or start dbop with --install-crds`,
  );
}

interface AccessReview {
  status?: { allowed?: boolean };
}

/**
 * Checks every verb of every rule, cluster-wide or in each of `namespaces`. A missing
 * required permission throws; a missing optional one is passed to `warn`.
 */
export async function checkPermissions(
  resources: Resources,
  rules: readonly Rule[],
  options: {
    namespaces: string[];
    leaseNamespace?: string;
    leaseRules?: readonly Rule[];
    warn?: (message: string) => void;
  },
): Promise<void> {
  const checks: { rule: Rule; namespace?: string }[] = [];
  const scopes = options.namespaces.length > 0 ? options.namespaces : [undefined];
  for (const rule of rules) for (const namespace of scopes) checks.push({ rule, namespace });
  for (const rule of options.leaseRules ?? []) {
    checks.push({ rule, namespace: options.leaseNamespace });
  }
  for (const { rule, namespace } of checks) {
    for (const resource of rule.resources) {
      for (const verb of rule.verbs) {
        const [name, subresource] = resource.split("/");
        const review = await resources.client.request<AccessReview>(
          "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
          {
            method: "POST",
            body: {
              apiVersion: "authorization.k8s.io/v1",
              kind: "SelfSubjectAccessReview",
              spec: {
                resourceAttributes: {
                  group: rule.apiGroups[0],
                  resource: name,
                  subresource,
                  verb,
                  namespace,
                },
              },
            },
          },
        );
        if (!review.status?.allowed) {
          const qualified = rule.apiGroups[0] ? `${resource}.${rule.apiGroups[0]}` : resource;
          throw new PreflightError(
            `Missing permission: cannot "${verb}" ${qualified} ${
              namespace ? `in namespace "${namespace}"` : "cluster-wide"
            } ` +
              `(needed to ${rule.why}); apply deploy/rbac or grant it`,
          );
        }
      }
    }
  }
}
