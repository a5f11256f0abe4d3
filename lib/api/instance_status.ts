/**
 * The zod schema of what an instance manager's status endpoint answers: the
 * instance's PostgreSQL as it sees it (role, timeline, LSNs, lag, the WAL
 * receiver, the standbys streaming from it) and the manager's own state
 * (PostgreSQL up or not, what it waits for, the last error). The operator and
 * the instance manager share it, so both sides agree on one shape.
 *
 * @module
 */
import { z } from "zod";

const lsn = z.string().regex(/^[0-9A-F]{1,8}\/[0-9A-F]{1,8}$/);

/** Schema of one standby seen in the primary's `pg_stat_replication`. */
export const StandbyStatus = z.strictObject({
  name: z.string().describe("application_name: the standby's pod."),
  state: z.string().describe("WAL sender state: startup, catchup, streaming, backup, stopping."),
  sentLsn: lsn.nullable(),
  flushLsn: lsn.nullable(),
  replayLsn: lsn.nullable(),
  lagBytes: z.string().regex(/^[0-9]+$/).nullable().describe(
    "Bytes between the primary's current LSN and the standby's replay LSN.",
  ),
  replayLagSeconds: z.number().nullable(),
  syncState: z.string().describe("async, potential, sync or quorum."),
});

/** One standby of a primary. */
export type StandbyStatus = z.output<typeof StandbyStatus>;

/** Schema of the status endpoint's answer. */
export const InstanceStatus = z.strictObject({
  pod: z.string(),
  postgres: z.enum(["starting", "running", "stopped"]).describe(
    "starting: the manager is bootstrapping or PostgreSQL does not accept connections yet.",
  ),
  role: z.enum(["primary", "standby"]).optional(),
  timeline: z.int().min(1).optional(),
  systemIdentifier: z.string().regex(/^[0-9]+$/).optional(),
  currentLsn: lsn.optional().describe("pg_current_wal_lsn() of a primary."),
  receivedLsn: lsn.optional().describe("pg_last_wal_receive_lsn() of a standby."),
  replayedLsn: lsn.optional().describe("pg_last_wal_replay_lsn() of a standby."),
  replayLagBytes: z.string().regex(/^[0-9]+$/).optional().describe(
    "Received but not yet replayed WAL of a standby, in bytes.",
  ),
  replayLagSeconds: z.number().optional().describe(
    "Time since the last replayed transaction was committed on the primary.",
  ),
  walReceiverStreaming: z.boolean().optional(),
  pendingRestart: z.boolean().optional(),
  postmasterStartTime: z.string().optional(),
  standbys: z.array(StandbyStatus).optional(),
  waiting: z.strictObject({ reason: z.string(), message: z.string() }).optional().describe(
    "Why PostgreSQL is not started: the bootstrap decision's reason.",
  ),
  lastError: z.string().optional(),
});

/** An instance's status as its manager reports it. */
export type InstanceStatus = z.output<typeof InstanceStatus>;
