/**
 * The pure core of leader election: the Lease record as it travels on the wire, and
 * {@linkcode decide}, which says whether a candidate may write the lease now, client-go's rules without
 * the I/O. Expiry is judged by the candidate's own clock: a record belongs to its holder until it has
 * stayed unchanged for its `leaseDurationSeconds` since this candidate first saw it, whatever the
 * remote `renewTime` says, so clock skew between machines does not matter.
 *
 * @module
 */
import type { KubernetesObject } from "@kubernetes/client-node";
import { microTime } from "./micro_time.ts";

/** The Lease spec fields leader election reads and writes, as they travel on the wire. */
export interface LeaseRecord {
  /** Identity of the leader; empty or absent when nobody holds the lease. */
  holderIdentity?: string;
  /** How long after the last observed change candidates must wait before taking over. */
  leaseDurationSeconds?: number;
  /** When the current holder acquired the lease (`MicroTime`). */
  acquireTime?: string;
  /** When the holder last renewed (`MicroTime`); informative only, never compared across machines. */
  renewTime?: string;
  /** How many times the lease changed hands. */
  leaseTransitions?: number;
}

/** A Lease as the API server sends it (times are `MicroTime` strings, not client-node's `Date`s). */
export interface LeaseObject extends KubernetesObject {
  /** The lease record. */
  spec?: LeaseRecord;
}

/** What a candidate last saw of the lease record, and when it saw it change (its own clock, in ms). */
export interface Observation {
  /** The record as last read or written. */
  record: LeaseRecord;
  /** Local time at which this record was first seen. */
  observedAt: number;
}

/** What to do with the lease: write this record (create or update), or wait for the holder's lease to end. */
export type Decision =
  | { action: "create" | "update"; record: LeaseRecord }
  | { action: "wait"; holder: string; expiresAt: number };

/** Inputs of {@linkcode decide} besides the current record. */
export interface DecideOptions {
  /** Our identity. */
  identity: string;
  /** Local time now, in ms. */
  now: number;
  /** Our lease duration, written into records we take. */
  leaseDurationMs: number;
  /** The previous observation, if any. */
  previous?: Observation;
}

function sameRecord(a: LeaseRecord, b: LeaseRecord): boolean {
  return a.holderIdentity === b.holderIdentity &&
    a.leaseDurationSeconds === b.leaseDurationSeconds && a.acquireTime === b.acquireTime &&
    a.renewTime === b.renewTime && a.leaseTransitions === b.leaseTransitions;
}

/**
 * Decides, from the current record (`undefined` when the Lease does not exist), whether we may write the
 * lease, and returns the observation to keep. Pure: the caller does the I/O.
 */
export function decide(
  current: LeaseRecord | undefined,
  options: DecideOptions,
): { decision: Decision; observation?: Observation } {
  const { identity, now, previous } = options;
  const ours = (acquireTime: string, leaseTransitions: number): LeaseRecord => ({
    holderIdentity: identity,
    leaseDurationSeconds: Math.ceil(options.leaseDurationMs / 1000),
    acquireTime,
    renewTime: microTime(now),
    leaseTransitions,
  });
  if (!current) return { decision: { action: "create", record: ours(microTime(now), 0) } };
  const observation = previous && sameRecord(previous.record, current)
    ? previous
    : { record: current, observedAt: now };
  const holder = current.holderIdentity ?? "";
  const transitions = current.leaseTransitions ?? 0;
  if (holder === identity) {
    const record = ours(current.acquireTime ?? microTime(now), transitions);
    return { decision: { action: "update", record }, observation };
  }
  const seconds = current.leaseDurationSeconds ?? 0;
  const durationMs = seconds > 0 ? seconds * 1000 : options.leaseDurationMs;
  const expiresAt = observation.observedAt + durationMs;
  if (holder && expiresAt > now) {
    return { decision: { action: "wait", holder, expiresAt }, observation };
  }
  return {
    decision: { action: "update", record: ours(microTime(now), transitions + 1) },
    observation,
  };
}
