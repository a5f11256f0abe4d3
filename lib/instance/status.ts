/**
 * Turns the row of `STATUS_QUERY` (sql.ts) into the instance's part of
 * {@linkcode InstanceStatus}: the role from `pg_is_in_recovery()`, the
 * timeline a standby receives (its checkpoint's lags behind after a
 * promotion upstream), replay lag in bytes, and each standby's lag from this
 * primary's current LSN.
 *
 * @module
 */
import type { InstanceStatus, StandbyStatus } from "../api/mod.ts";
import { lsnLag } from "../api/lsn.ts";

/** The row of the status query. */
interface Row {
  inRecovery: boolean;
  systemIdentifier: string;
  timeline: number;
  currentLsn: string | null;
  receivedLsn: string | null;
  replayedLsn: string | null;
  lastReplayAgeSeconds: number | null;
  walReceiverStatus: string | null;
  receiverTimeline: number | null;
  pendingRestart: boolean;
  postmasterStartTime: string;
  standbys: {
    name: string;
    state: string;
    sentLsn: string | null;
    flushLsn: string | null;
    replayLsn: string | null;
    replayLagSeconds: number | null;
    syncState: string;
  }[];
}

type Kind = "string" | "number" | "boolean";

/**
 * Checks `value` has each field of `shape` with its type (`?` after the kind: or null).
 * Hand-written rather than zod: the instance manager runs in every pod, and zod costs it
 * about 10 MiB of RSS (measured with `Deno.memoryUsage()`).
 */
function check(value: unknown, shape: Record<string, `${Kind}${"" | "?"}`>, what: string): void {
  if (typeof value !== "object" || value === null) throw new Error(`${what} is not an object`);
  for (const [field, kind] of Object.entries(shape)) {
    const actual = (value as Record<string, unknown>)[field];
    const nullable = kind.endsWith("?");
    if (nullable && actual === null) continue;
    const type: string = typeof actual;
    if (type !== kind.replace("?", "")) {
      throw new Error(`${what}.${field} is ${JSON.stringify(actual)}, not a ${kind}`);
    }
  }
}

function parseRow(text: string): Row {
  const row = JSON.parse(text);
  check(row, {
    inRecovery: "boolean",
    systemIdentifier: "string",
    timeline: "number",
    currentLsn: "string?",
    receivedLsn: "string?",
    replayedLsn: "string?",
    lastReplayAgeSeconds: "number?",
    walReceiverStatus: "string?",
    receiverTimeline: "number?",
    pendingRestart: "boolean",
    postmasterStartTime: "string",
  }, "status");
  if (!Array.isArray(row.standbys)) throw new Error("status.standbys is not an array");
  for (const standby of row.standbys) {
    check(standby, {
      name: "string",
      state: "string",
      sentLsn: "string?",
      flushLsn: "string?",
      replayLsn: "string?",
      replayLagSeconds: "number?",
      syncState: "string",
    }, "status.standbys[]");
  }
  return row;
}

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
  const row = parseRow(text);
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
