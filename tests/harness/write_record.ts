/**
 * What a writer's record says, as pure functions of it: each write is one id
 * with its outcome (`acknowledged`: the commit was confirmed; `failed`: the
 * server rejected it with an ERROR, so it did not commit; `unknown`: the
 * connection was lost or timed out before an answer, so it may or may not
 * have committed) and when it was sent and answered. From that: the outages
 * (gaps between consecutive acknowledged commits, and the one still open
 * when the writer stopped), and the comparison with the ids a table holds.
 * The safety claim checked is: every acknowledged id is present, and no
 * failed one is.
 *
 * @module
 */

/** How one write ended. */
export type WriteOutcome = "acknowledged" | "failed" | "unknown";

/** One write: its id, outcome, times (clock milliseconds) and the server or error. */
export interface WriteAttempt {
  id: number;
  outcome: WriteOutcome;
  sentAt: number;
  answeredAt: number;
  /** The address of the server the connection reached (`inet_server_addr()`). */
  server?: string;
  error?: string;
}

/** A time without acknowledged commits. */
export interface Outage {
  /** When the last commit before it was acknowledged (or the writer started). */
  from: number;
  /** When the next one was (or the writer stopped, if `open`). */
  to: number;
  ms: number;
  /** The last acknowledged id before it, if any. */
  afterId?: number;
  /** The first acknowledged id after it; none if `open`. */
  beforeId?: number;
  /** No commit was acknowledged after it, up to `to`. */
  open: boolean;
}

/** The acknowledged ids, in order. */
export function acknowledgedIds(attempts: readonly WriteAttempt[]): number[] {
  return attempts.filter((a) => a.outcome === "acknowledged").map((a) => a.id);
}

/**
 * The gaps between consecutive acknowledged commits in `attempts` (by answer time), from
 * `startedAt` to the first, and the last one up to `endedAt`, marked open; longest first.
 */
export function outages(
  attempts: readonly WriteAttempt[],
  startedAt: number,
  endedAt: number,
): Outage[] {
  const acks = attempts.filter((a) => a.outcome === "acknowledged")
    .toSorted((a, b) => a.answeredAt - b.answeredAt);
  const gaps: Outage[] = [];
  let from = startedAt;
  let afterId: number | undefined;
  for (const ack of acks) {
    gaps.push({
      from,
      to: ack.answeredAt,
      ms: ack.answeredAt - from,
      afterId,
      beforeId: ack.id,
      open: false,
    });
    from = ack.answeredAt;
    afterId = ack.id;
  }
  gaps.push({ from, to: endedAt, ms: endedAt - from, afterId, open: true });
  return gaps.toSorted((a, b) => b.ms - a.ms);
}

/** The longest outage that overlaps the interval from `from` to `to`, if any does. */
export function outageDuring(
  list: readonly Outage[],
  from: number,
  to: number,
): Outage | undefined {
  return list.filter((outage) => outage.from < to && outage.to > from)
    .reduce<Outage | undefined>(
      (longest, o) => !longest || o.ms > longest.ms ? o : longest,
      undefined,
    );
}

/** What a table holds compared with the record. */
export interface Verification {
  acknowledged: number;
  present: number;
  /** Acknowledged ids the table does not hold: lost writes. */
  missing: number[];
  /** Failed ids the table holds: a rejected write that committed after all. */
  failedPresent: number[];
  /** How many unknown ids committed after all (either way is allowed). */
  unknownPresent: number;
  unknown: number;
}

/** Compares the record with the ids a table holds. */
export function verifyRecord(
  attempts: readonly WriteAttempt[],
  present: Iterable<number>,
): Verification {
  const held = new Set(present);
  const by = (outcome: WriteOutcome) => attempts.filter((a) => a.outcome === outcome);
  return {
    acknowledged: by("acknowledged").length,
    present: held.size,
    missing: by("acknowledged").filter((a) => !held.has(a.id)).map((a) => a.id),
    failedPresent: by("failed").filter((a) => held.has(a.id)).map((a) => a.id),
    unknownPresent: by("unknown").filter((a) => held.has(a.id)).length,
    unknown: by("unknown").length,
  };
}
