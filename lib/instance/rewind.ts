/**
 * A former primary rejoining as a standby. Its data may hold WAL the new
 * primary never received (written after the last WAL the standbys got, or
 * on the old timeline after the fork), and such a server cannot stream from
 * the new timeline. `pg_rewind` against the new primary (through `-rw`, as
 * the replication role, granted the file functions pg_rewind calls, since the
 * superuser may not log in over the network) undoes that divergence by copying
 * back the blocks changed since the fork; it works because every cluster's data has checksums
 * (initdb `--data-checksums`). When it was not needed, pg_rewind finds so
 * and changes nothing. When it fails for any reason but an unreachable
 * primary, the data cannot rejoin: the caller removes it and clones afresh.
 *
 * Whether data was last a primary is read from pg_control: "in production"
 * or "in crash recovery" (a primary that stopped without a shutdown
 * checkpoint: crashed or killed) or "shut down" (a primary shut down
 * cleanly). A standby's data says "in archive recovery" or "shut down in
 * recovery". A clone not yet started shows its primary's state, with a backup_label.
 *
 * @module
 */
import { writeReplicationPassfile } from "./bootstrap.ts";
import { buildConninfo } from "./conninfo.ts";
import { CommandError, runProgram } from "./commands.ts";
import type { InstanceOptions } from "./options.ts";
import { Postmaster } from "./postmaster.ts";

/** The states of pg_control in which the data was last a primary's. */
const PRIMARY_STATES = ["in production", "in crash recovery", "shut down"];

/** pg_controldata's "Database cluster state". */
export function parseClusterState(controldata: string): string {
  const match = /^Database cluster state:\s+(.+?)\s*$/m.exec(controldata);
  if (!match) throw new Error("pg_controldata printed no database cluster state");
  return match[1];
}

/** The state of PGDATA's pg_control. */
async function readClusterState(pgdata: string): Promise<string> {
  const controldata = await runProgram("pg_controldata", ["-D", pgdata], {
    env: { LC_ALL: "C" },
  });
  return parseClusterState(controldata);
}

/**
 * Whether PGDATA last ran as a standby (its recovery not ended): to run it as the primary,
 * it must be promoted.
 */
export async function lastRanAsStandby(pgdata: string): Promise<boolean> {
  // A clone not yet started says "in production" too (pg_control is the primary's copy):
  // its backup_label and standby.signal tell it apart.
  for (const marker of ["backup_label", "standby.signal"]) {
    if (await exists(`${pgdata}/${marker}`)) return true;
  }
  return !wasPrimary(await readClusterState(pgdata));
}

/** Whether data in `state` was last a primary's. */
export function wasPrimary(state: string): boolean {
  return PRIMARY_STATES.includes(state);
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** What PostgreSQL says when another server holds the data directory. */
const DATA_IN_USE = /lock file "postmaster\.pid" already exists/;

/**
 * Not now: the new primary cannot be reached yet, or another server still holds the data
 * directory. Try again later; the data is fine.
 */
export class RejoinLaterError extends Error {}

/** pg_rewind failed: the data cannot follow the new primary. */
export class RewindError extends Error {}

/**
 * The pid of a postgres process that holds `pgdata` (its postmaster.pid names a live
 * postgres), if any: the server of a pod that was force-deleted and is still stopping.
 */
async function runningPostmaster(pgdata: string): Promise<number | undefined> {
  let pid: number;
  try {
    pid = Number((await Deno.readTextFile(`${pgdata}/postmaster.pid`)).split("\n")[0]);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  const command = await Deno.readTextFile(`/proc/${pid}/comm`).catch(() => "");
  return command.trim() === "postgres" ? pid : undefined;
}

/**
 * Completes the crash recovery of a primary that did not shut down cleanly, which pg_rewind
 * needs. pg_rewind could do it itself, in single-user mode, but that server reads PGDATA's
 * own postgresql.conf (initdb's, `wal_keep_size = 0`), and its shutdown checkpoint removes
 * the WAL pg_rewind then needs to find the last checkpoint before the fork. Here the server
 * runs with the cluster's configuration, listening on the socket only: no client can write
 * to it. A data directory another server still holds fails to start with its lock file
 * message, which tells the caller to wait.
 */
async function finishCrashRecovery(options: InstanceOptions, signal: AbortSignal): Promise<void> {
  const server = Postmaster.start({
    pgdata: options.pgdata,
    configDir: options.configDir,
    tlsDir: options.tlsDir,
    socketDir: options.socketDir,
    port: options.port,
    listen: "",
  });
  try {
    if (!await server.waitAccepting(signal)) {
      const status = await server.exited;
      throw new CommandError(
        `"postgres" failed with code ${status.code} completing the crash recovery`,
      );
    }
  } finally {
    await server.stop(options.stopTimeoutMs);
  }
}

/** How the replication role reaches the primary through `-rw`, for pg_rewind. */
function sourceConninfo(options: InstanceOptions, passfile: string): string {
  return buildConninfo({
    host: options.primaryHost,
    port: options.port,
    user: options.replication.user,
    dbname: "postgres",
    passfile,
    sslmode: options.replication.sslmode,
    sslrootcert: options.replication.sslrootcert,
    connect_timeout: 5,
  });
}

/**
 * Rewinds PGDATA to follow the primary if it was last a primary's; returns what it did.
 * Throws {@linkcode RejoinLaterError} when `-rw` does not lead to a running primary,
 * {@linkcode RewindError} when pg_rewind fails.
 */
export async function rewindFormerPrimary(
  options: InstanceOptions,
  signal: AbortSignal,
): Promise<"standby data" | "rewound"> {
  if (await lastRanAsStandby(options.pgdata)) return "standby data";
  const holder = await runningPostmaster(options.pgdata);
  if (holder !== undefined) {
    throw new RejoinLaterError(`PostgreSQL (pid ${holder}) still runs on the data directory`);
  }
  const state = await readClusterState(options.pgdata);
  const source = sourceConninfo(options, await writeReplicationPassfile(options));
  try {
    const recovery = await runProgram("psql", [
      "--no-psqlrc",
      "--no-align",
      "--tuples-only",
      `--dbname=${source}`,
      "--command=SELECT pg_is_in_recovery()",
    ], { signal });
    if (recovery.trim() !== "f") {
      throw new RejoinLaterError(`${options.primaryHost} does not lead to a primary yet`);
    }
  } catch (error) {
    if (error instanceof CommandError) {
      throw new RejoinLaterError(`Cannot reach the primary: ${error.message}`);
    }
    throw error;
  }
  try {
    if (state !== "shut down") await finishCrashRecovery(options, signal);
    await runProgram("pg_rewind", [
      `--target-pgdata=${options.pgdata}`,
      `--source-server=${source}`,
    ], { signal, env: { LC_ALL: "C" } });
  } catch (error) {
    if (!(error instanceof CommandError)) throw error;
    // Another postmaster still runs on this data (its pod force-deleted and still stopping):
    // nothing is wrong with the data, and it must not be removed under that server.
    if (DATA_IN_USE.test(error.message)) throw new RejoinLaterError(error.message);
    throw new RewindError(error.message);
  }
  return "rewound";
}
