/**
 * The zod schema of `DatabaseCluster.status`, written by the operator through
 * the status subresource. Conditions follow metav1.Condition exactly, so
 * `kubectl wait --for=condition=Ready` and generic tooling understand them.
 *
 * @module
 */
import { z } from "zod";
import { PHASES } from "./constants.ts";
import { CONDITION_REASON, CONDITION_TYPE } from "./patterns.ts";

const count = z.int32().min(0);

/** Schema of one entry of `status.conditions` (metav1.Condition). */
export const Condition = z.strictObject({
  type: z.string().max(316).regex(CONDITION_TYPE).describe(
    "Type of the condition: Ready, Progressing, Degraded or BackupReady.",
  ),
  status: z.enum(["True", "False", "Unknown"]).describe("Status of the condition."),
  observedGeneration: z.int().min(0).optional().describe(
    "metadata.generation the condition was set for.",
  ),
  lastTransitionTime: z.iso.datetime().describe("When the status last changed."),
  reason: z.string().min(1).max(1024).regex(CONDITION_REASON).describe(
    "Machine-readable CamelCase reason for the last transition.",
  ),
  message: z.string().max(32768).describe("Human-readable details of the last transition."),
}).describe("An observation of one aspect of the cluster.");

/** A condition in `status.conditions`. */
export type Condition = z.output<typeof Condition>;

const lsn = z.string().max(17).regex(/^[0-9A-F]{1,8}\/[0-9A-F]{1,8}$/);

/** Schema of one entry of `status.instances`. */
export const InstanceSummary = z.strictObject({
  name: z.string().max(253).describe("The instance's pod."),
  ready: z.boolean().describe("Whether the pod is Running with every container ready."),
  role: z.enum(["primary", "standby"]).optional().describe(
    "The role its instance manager reports PostgreSQL running in.",
  ),
  timeline: z.int().min(1).optional().describe("The timeline PostgreSQL is on."),
  lsn: lsn.optional().describe(
    "A primary's current WAL position; a standby's last replayed one.",
  ),
  receivedLsn: lsn.optional().describe("A standby's last WAL position received from the primary."),
  lagBytes: z.string().max(20).regex(/^[0-9]+$/).optional().describe(
    "A standby's replay lag behind the primary, in bytes, from the primary's current " +
      "position and the standby's replayed one as both were polled.",
  ),
  streaming: z.boolean().optional().describe("Whether a standby's WAL receiver is streaming."),
  pendingRestart: z.boolean().optional().describe(
    "Whether PostgreSQL reports a changed setting that needs a restart.",
  ),
  error: z.string().max(1024).optional().describe(
    "Why the instance does not run or could not be polled: what its manager waits for, its " +
      "last error, or why its status endpoint did not answer.",
  ),
}).describe("One instance as its manager last reported it to the operator.");

/** An entry of `status.instances`. */
export type InstanceSummary = z.output<typeof InstanceSummary>;

/** Schema of `status`. */
export const DatabaseClusterStatus = z.strictObject({
  phase: z.enum(Object.values(PHASES)).optional().describe(
    "Summary of the cluster's lifecycle: Pending, Creating, Running, Updating, Degraded, " +
      "Failed or Deleting.",
  ),
  replicas: count.optional().describe("Number of instances that exist (scale subresource)."),
  readyReplicas: count.optional().describe("Number of instances that are ready."),
  readyDisplay: z.string().max(32).optional().describe(
    'Ready instances out of desired, as kubectl get shows it (e.g. "2/3").',
  ),
  selector: z.string().max(1024).optional().describe(
    "Label selector of the instances' pods, as a string (scale subresource).",
  ),
  currentPrimary: z.string().max(253).optional().describe(
    "Name of the primary's pod: the instance that last confirmed it runs as the primary. " +
      "It differs from targetPrimary only while a failover or switchover is under way.",
  ),
  targetPrimary: z.string().max(253).optional().describe(
    "Name of the pod that should be the primary, written by the operator. Each instance " +
      "manager reads it to choose its role: this pod bootstraps, runs or is promoted as the " +
      "primary once it holds the cluster's primary Lease, every other pod runs as a standby " +
      "streaming from it, and a primary that is no longer the target stops.",
  ),
  promoteRequest: z.string().max(253).optional().describe(
    "The last switchover request the operator acted on: the database.example.com/promote " +
      "annotation's instance, with @ and database.example.com/promote-at when set, so each " +
      "request asks for one switchover.",
  ),
  systemIdentifier: z.string().max(20).regex(/^[0-9]+$/).optional().describe(
    "The database system identifier of the cluster, recorded by the primary's instance " +
      "manager after initdb. Once set, no instance runs initdb again, and an instance whose " +
      "data has another identifier does not start.",
  ),
  currentVersion: z.string().max(16).optional().describe(
    "The PostgreSQL version the instances run (their StatefulSet's).",
  ),
  message: z.string().max(32768).optional().describe("Human-readable summary of the state."),
  observedGeneration: z.int().min(0).optional().describe(
    "The metadata.generation this status describes.",
  ),
  conditions: z.array(Condition).max(16).optional()
    .meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"] })
    .describe("Latest observations: Ready, Progressing, Degraded, BackupReady."),
  endpoints: z.strictObject({
    rw: z.string().max(253).optional().describe("DNS name of the read-write Service (primary)."),
    ro: z.string().max(253).optional().describe("DNS name of the read-only Service (replicas)."),
  }).optional().describe("Where clients connect."),
  instances: z.array(InstanceSummary).max(100).optional()
    .meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"] })
    .describe(
      "Each instance as the operator last polled its manager's status endpoint, by pod name.",
    ),
  lastBackup: z.strictObject({
    name: z.string().max(253).describe("Name of the backup."),
    completionTime: z.iso.datetime().describe("When the backup completed."),
  }).optional().describe("The most recent successful backup."),
}).describe("Observed state of the DatabaseCluster, written by the operator.");

/** `status` as the operator writes it. */
export type DatabaseClusterStatus = z.output<typeof DatabaseClusterStatus>;
