/**
 * Turns the row of `STATUS_QUERY` (sql.ts) into the instance's part of
 * {@linkcode InstanceStatus}: the role from `pg_is_in_recovery()`, the
 * timeline a standby receives (its checkpoint's lags behind after a
 * promotion upstream), replay lag in bytes, and each standby's lag from this
 * primary's current LSN.
 *
 * @module
 */
import { z } from "zod";
import type { InstanceStatus, StandbyStatus } from "../api/mod.ts";
import { lsnLag } from "./lsn.ts";

const nullableLsn = z.string().nullable();

const Row = z.object({
  inRecovery: z.boolean(),
  systemIdentifier: z.string(),
  timeline: z.int(),
  currentLsn: nullableLsn,
  receivedLsn: nullableLsn,
  replayedLsn: nullableLsn,
  lastReplayAgeSeconds: z.number().nullable(),
  walReceiverStatus: z.string().nullable(),
  receiverTimeline: z.int().nullable(),
  pendingRestart: z.boolean(),
  postmasterStartTime: z.string(),
  standbys: z.array(z.object({
    name: z.string(),
    state: z.string(),
    sentLsn: nullableLsn,
    flushLsn: nullableLsn,
    replayLsn: nullableLsn,
    replayLagSeconds: z.number().nullable(),
    syncState: z.string(),
  })),
});

/** What the server reports, as the status endpoint's fields. */
export type ServerStatus = Pick<
  InstanceStatus,
  | "role"
  | "timeline"
  | "systemIdentifier"
  | "currentLsn"
  | "receivedLsn"
  | "replayedLsn"
  | "replayLagBytes"
  | "replayLagSeconds"
  | "walReceiverStreaming"
  | "pendingRestart"
  | "postmasterStartTime"
  | "standbys"
>;

/** Parses the JSON text psql printed for `STATUS_QUERY` (sql.ts). */
export function parseServerStatus(text: string): ServerStatus {
  const row = Row.parse(JSON.parse(text));
  const status: ServerStatus = {
    role: row.inRecovery ? "standby" : "primary",
    timeline: row.inRecovery && row.receiverTimeline !== null ? row.receiverTimeline : row.timeline,
    systemIdentifier: row.systemIdentifier,
    pendingRestart: row.pendingRestart,
    postmasterStartTime: row.postmasterStartTime,
  };
  if (row.inRecovery) {
    if (row.receivedLsn !== null) status.receivedLsn = row.receivedLsn;
    if (row.replayedLsn !== null) status.replayedLsn = row.replayedLsn;
    if (row.receivedLsn !== null && row.replayedLsn !== null) {
      status.replayLagBytes = String(lsnLag(row.receivedLsn, row.replayedLsn));
    }
    if (row.lastReplayAgeSeconds !== null) status.replayLagSeconds = row.lastReplayAgeSeconds;
    status.walReceiverStreaming = row.walReceiverStatus === "streaming";
    return status;
  }
  const current = row.currentLsn!;
  status.currentLsn = current;
  status.standbys = row.standbys.map((standby): StandbyStatus => ({
    ...standby,
    lagBytes: standby.replayLsn === null ? null : String(lsnLag(current, standby.replayLsn)),
  }));
  return status;
}
