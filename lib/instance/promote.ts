/**
 * Promoting a standby in place, as the last step of a failover or switchover
 * (the manager holds the cluster's primary Lease before it gets here):
 *
 * 1. Wait until the WAL receiver has stopped: the old primary is gone (or has
 *    shut down, sending what it had), so nothing more can arrive and this
 *    standby holds everything it will ever get from it. At most
 *    {@linkcode RECEIVER_WAIT_MS}: holding the Lease, this instance knows the
 *    old primary does not (in a switchover it released the Lease after its
 *    PostgreSQL stopped; in a takeover its manager stopped it at its own
 *    deadline), so what it wrote has been sent; a receiver still connected
 *    after that is one whose peer hangs or is cut off, and it would wait for
 *    `wal_receiver_timeout` (60 s) with nothing left to arrive.
 * 2. `pg_promote()` ends recovery: what was received is replayed first, then
 *    the server switches to a new timeline and accepts writes.
 * 3. `CHECKPOINT`, so a crash right after does not replay the promotion, and
 *    pg_rewind of the old primary against this one finds the new timeline's
 *    history on disk.
 *
 * No restart: read-only clients of this standby keep their connections.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { type Clock, sleepWith, systemClock } from "../runtime/clock.ts";
import { type LocalServer, runSql } from "./commands.ts";

const logger = getLogger(["dbop", "instance", "promote"]);

/** How often the WAL receiver is checked while waiting for it to stop. */
const RECEIVER_POLL_MS = 200;

/** How long the WAL receiver may take to stop before promoting anyway: 2 s. */
export const RECEIVER_WAIT_MS = 2_000;

/** How long pg_promote() may take to end recovery. */
const PROMOTE_WAIT_SECONDS = 60;

/** Whether a WAL receiver process runs (streaming or trying to). */
export async function walReceiverRunning(server: LocalServer): Promise<boolean> {
  const out = await runSql(server, "SELECT count(*) FROM pg_stat_wal_receiver;\n");
  return out.trim() !== "0";
}

/**
 * Promotes the local standby: see the module doc. Waits for the WAL receiver to stop, at
 * most {@linkcode RECEIVER_WAIT_MS}. Returns the new timeline.
 */
export async function promoteStandby(
  server: LocalServer,
  signal: AbortSignal,
  clock: Clock = systemClock,
): Promise<number> {
  const since = clock.now();
  let logged = false;
  while (await walReceiverRunning(server)) {
    if (clock.now() - since >= RECEIVER_WAIT_MS) {
      logger.warn(
        "The WAL receiver still runs {ms} ms on: its primary hangs or is cut off, and no " +
          "longer holds the Lease; promoting",
        { ms: Math.round(clock.now() - since) },
      );
      break;
    }
    if (!logged) logger.info("Waiting for the WAL receiver to stop before promoting");
    logged = true;
    await sleepWith(clock, RECEIVER_POLL_MS, signal);
  }
  const promoted = await runSql(
    server,
    `SELECT pg_promote(true, ${PROMOTE_WAIT_SECONDS});\n`,
    { signal },
  );
  if (promoted.trim() !== "t") {
    throw new Error(`pg_promote() did not end recovery within ${PROMOTE_WAIT_SECONDS} s`);
  }
  await runSql(server, "CHECKPOINT;\n", { signal });
  const timeline = await runSql(
    server,
    "SELECT timeline_id FROM pg_control_checkpoint();\n",
    { signal },
  );
  return Number(timeline.trim());
}
