/**
 * What an instance should do before PostgreSQL runs, as one pure function of
 * what it knows: the cluster's status (which pod is the target primary,
 * whether the cluster was ever bootstrapped and with which database system
 * identifier) and its own data directory. The rules that keep data safe:
 *
 * - initdb only for the target primary of a cluster never bootstrapped
 *   (no `status.systemIdentifier`): an empty volume never becomes an empty
 *   primary of a cluster that has data somewhere.
 * - An instance whose data has another system identifier than the cluster's
 *   never starts: it is not a copy of this cluster's database.
 * - A standby without data clones; one with data streams.
 *
 * @module
 */

/** The cluster's facts an instance decides on, from `status`. */
export interface ClusterFacts {
  /** The pod that should be primary (`status.targetPrimary`). */
  targetPrimary?: string;
  /** The database system identifier recorded at bootstrap (`status.systemIdentifier`). */
  systemIdentifier?: string;
  /** How long a switchover's fast shutdown may take (`spec.ha.switchoverDelay`), in seconds. */
  switchoverDelaySeconds?: number;
}

/** What the instance finds in its data directory. */
export interface LocalData {
  /** PGDATA holds a database (PG_VERSION exists). */
  exists: boolean;
  /** Its system identifier, from pg_controldata. */
  systemIdentifier?: string;
}

/** What to do next. */
export type BootstrapAction =
  | { action: "initdb" }
  | { action: "clone" }
  | { action: "start"; role: "primary" | "standby" }
  | { action: "wait"; reason: string; message: string };

/** Decides what `pod` does before PostgreSQL starts. */
export function decideBootstrap(
  pod: string,
  facts: { cluster: ClusterFacts; local: LocalData },
): BootstrapAction {
  const { cluster, local } = facts;
  const primary = cluster.targetPrimary;
  if (primary === undefined) {
    return {
      action: "wait",
      reason: "NoTargetPrimary",
      message: "status.targetPrimary is not set",
    };
  }
  const isPrimary = primary === pod;
  if (!local.exists) {
    if (!isPrimary) return { action: "clone" };
    if (cluster.systemIdentifier === undefined) return { action: "initdb" };
    return {
      action: "wait",
      reason: "PrimaryDataLost",
      message: `"${pod}" is the target primary but its data directory is empty; the cluster ` +
        `holds database "${cluster.systemIdentifier}", so it is not initialised again`,
    };
  }
  if (
    cluster.systemIdentifier !== undefined &&
    local.systemIdentifier !== cluster.systemIdentifier
  ) {
    return {
      action: "wait",
      reason: "SystemIdentifierMismatch",
      message: `The data directory holds database "${local.systemIdentifier ?? "unknown"}", ` +
        `not the cluster's "${cluster.systemIdentifier}"`,
    };
  }
  return { action: "start", role: isPrimary ? "primary" : "standby" };
}
