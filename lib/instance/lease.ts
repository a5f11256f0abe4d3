/**
 * The primary Lease of a DatabaseCluster, the gate of promotion: a
 * `coordination.k8s.io/v1` Lease `<c>-primary` whose `holderIdentity` is the
 * pod name of the instance that runs as primary. An instance may be writable
 * only while {@linkcode PrimaryLease.held} is true, so two writable primaries
 * need two holders at once, which the rules below exclude even when the
 * operator is down or partitioned (nothing here asks it).
 *
 * Rules ({@linkcode decideLease} is the pure part):
 * - An absent Lease is created (owned by the DatabaseCluster, so it goes with
 *   it); a released one (no holder) is taken at once; ours is renewed; another
 *   holder's is taken over only once its record (resourceVersion, holder,
 *   renewTime) has been seen unchanged for a full `D_r = max(durationMs,
 *   leaseDurationSeconds of the record)` on the taker's own clock, counted from
 *   when the read that first returned it *answered*. The record's `renewTime`
 *   is written for people and never compared with a local clock: clocks differ.
 * - Every write is a create or a PUT carrying the resourceVersion it decided
 *   on, so of two takers one gets a Conflict, and a holder whose renew lands
 *   after a takeover gets one too.
 * - `held()` is true only while `now < s + D - M`, where `s` is the local time
 *   the last successful create or renew was *sent*, `D` is `durationMs` and
 *   `M` is `marginMs`. A timer on the local clock ends the term at that
 *   deadline and notifies {@linkcode LeaseLoss} (`onLost` and `lost()`),
 *   whatever state the requests are in: losing needs no failed request.
 *
 * Why two holders cannot overlap: the version a holder wrote with a request
 * sent at `s` exists only after `s`, so a taker's first sighting of it is at
 * `o >= s` and its takeover at `o + D_r >= s + D` (the holder writes its `D`,
 * rounded up to whole seconds, into the record, so `D_r >= D`; and any write
 * of the holder's in between makes the takeover a Conflict). The holder
 * stopped holding at `s + D - M`. So the taker writes at least `M` after the
 * holder fenced, provided `M` covers the holder's timer lateness (event-loop
 * delay on a busy node), the time to stop PostgreSQL, and the clocks' rate
 * difference over `D` (about 1e-4 x 6 s, under a millisecond). Clock offsets
 * do not matter: each side only measures its own intervals.
 *
 * Defaults {@linkcode DEFAULT_LEASE_DURATION_MS} 6 s,
 * {@linkcode DEFAULT_RENEW_EVERY_MS} 1 s, {@linkcode DEFAULT_FENCE_MARGIN_MS}
 * 2 s: a holder fences `D - M` = 4 s after its last successful renew was
 * sent, so it rides out about 3 s of API server trouble (two renews failing
 * in a row; the third must succeed); a taker that polls every `P` <= `R` (and wakes
 * exactly at expiry) takes over at most `R + D` = 7 s plus a round trip after
 * the holder's last renew, which leaves about 3 s of a 10 s failover for
 * promotion. `M` = 2 s is generous for an immediate shutdown (SIGQUIT) of
 * PostgreSQL plus second-long event-loop stalls on 2 busy cores, and costs
 * only API-server tolerance, not failover time. `2R <= D - M` is enforced:
 * at least two renews per hold window.
 *
 * Trusted, not enforced here: the holder identity (a pod name) is unique,
 * which the StatefulSet's at-most-one pod per name gives unless a pod is
 * force-deleted; and nobody deletes the Lease while it is held (an absent
 * Lease is created at once; the instance Role grants no delete, and garbage
 * collection removes it only after the cluster is gone). A renew that finds
 * it deleted ends the term at once. The Role's `create` on leases cannot be
 * limited by name (the name of an object being created is not part of the
 * request RBAC authorizes), so an instance could create another cluster's
 * absent primary Lease: it could not renew it, so that delays the other
 * cluster's first primary by `D` once, no more.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { AlreadyExistsError, ConflictError, NotFoundError } from "../kube/errors.ts";
import { apiVersionOf, type Resources, resourceType } from "../kube/resources.ts";
import { type Clock, systemClock, type TimerId } from "../runtime/clock.ts";
import type { LeaseObject, LeaseRecord } from "../runtime/lease_decision.ts";
import { microTime } from "../runtime/micro_time.ts";
import type { OwnerReference } from "../runtime/types.ts";

/** How long a holder's record must stay unchanged before a taker may take over: 6 s. */
export const DEFAULT_LEASE_DURATION_MS = 6_000;
/** How often the holder renews: 1 s. */
export const DEFAULT_RENEW_EVERY_MS = 1_000;
/**
 * How often a contender reads the Lease: 250 ms, so a switchover's target takes a released
 * Lease soon after the release (only while contending, one small GET each).
 */
export const DEFAULT_POLL_EVERY_MS = 250;
/** How much earlier than `D` after its last renew the holder stops holding: 2 s. */
export const DEFAULT_FENCE_MARGIN_MS = 2_000;

const Leases = resourceType<LeaseObject>("coordination.k8s.io", "v1", "Lease");

/** The calls the Lease makes; {@linkcode Resources} provides them. */
export type LeaseClient = Pick<Resources, "getOrUndefined" | "create" | "replace">;

/** A version of the record as first seen, on the local clock. */
export interface Sighting {
  /** resourceVersion, holder and renewTime: any write changes it. */
  version: string;
  /** Local time at which the read that first returned this version answered, in ms. */
  observedAt: number;
  /** Its holder; empty when released. */
  holder: string;
}

/** What to do with the Lease now. */
export type LeaseDecision =
  | { action: "create" | "renew"; record: LeaseRecord }
  | { action: "take"; record: LeaseRecord; from: string }
  | { action: "wait"; holder: string; until: number };

/** Inputs of {@linkcode decideLease} besides the Lease read. */
export interface DecideLeaseInput {
  /** Our identity. */
  holder: string;
  /** Local time when the read answered, in ms. */
  now: number;
  durationMs: number;
  /** The sighting kept from the previous read or write. */
  previous?: Sighting;
}

function versionOf(lease: LeaseObject): string {
  const spec = lease.spec ?? {};
  return `${lease.metadata?.resourceVersion ?? ""}/${spec.holderIdentity ?? ""}/${
    spec.renewTime ?? ""
  }`;
}

/** The sighting of `lease` at `now`: the previous one when the version is unchanged. */
export function sight(lease: LeaseObject, now: number, previous?: Sighting): Sighting {
  const version = versionOf(lease);
  if (previous?.version === version) return previous;
  return { version, observedAt: now, holder: lease.spec?.holderIdentity ?? "" };
}

/**
 * Decides, from the Lease as read (`undefined`: absent), whether we may write it and
 * what, or until when to wait. Pure: the caller reads, writes and keeps the sighting.
 */
export function decideLease(
  current: LeaseObject | undefined,
  input: DecideLeaseInput,
): { decision: LeaseDecision; sighting?: Sighting } {
  const { holder, now } = input;
  const ours = (acquireTime: string, leaseTransitions: number): LeaseRecord => ({
    holderIdentity: holder,
    leaseDurationSeconds: Math.ceil(input.durationMs / 1000),
    acquireTime,
    renewTime: microTime(now),
    leaseTransitions,
  });
  if (!current) return { decision: { action: "create", record: ours(microTime(now), 0) } };
  const sighting = sight(current, now, input.previous);
  const spec = current.spec ?? {};
  const transitions = spec.leaseTransitions ?? 0;
  if (sighting.holder === holder) {
    const record = ours(spec.acquireTime ?? microTime(now), transitions);
    return { decision: { action: "renew", record }, sighting };
  }
  const waitMs = Math.max(input.durationMs, (spec.leaseDurationSeconds ?? 0) * 1000);
  const until = sighting.observedAt + waitMs;
  if (sighting.holder !== "" && now < until) {
    return { decision: { action: "wait", holder: sighting.holder, until }, sighting };
  }
  const record = ours(microTime(now), transitions + 1);
  return { decision: { action: "take", record, from: sighting.holder }, sighting };
}

/**
 * What is wrong with a duration, renew period and margin (ms), or `undefined`: at least two
 * renews must fit in the hold window `durationMs - marginMs`.
 */
export function leaseTimingProblem(
  durationMs: number,
  renewEveryMs: number,
  marginMs: number,
): string | undefined {
  if (renewEveryMs > 0 && marginMs >= 0 && 2 * renewEveryMs <= durationMs - marginMs) {
    return undefined;
  }
  return `need 0 < 2 x renewEveryMs <= durationMs - marginMs and marginMs >= 0, got ` +
    `durationMs "${durationMs}", renewEveryMs "${renewEveryMs}" and marginMs "${marginMs}"`;
}

/** Why a term of holding ended. */
export interface LeaseLoss {
  /**
   * `expired`: not renewed in time (local deadline); `taken`: another holder was found;
   * `deleted`: the Lease is gone; `released`: by {@linkcode PrimaryLease.release};
   * `stopped`: the signal given to `acquire` aborted.
   */
  reason: "expired" | "taken" | "deleted" | "released" | "stopped";
  /** Local time of the notification. */
  at: number;
  /** Local send time of the last successful create or renew. */
  renewedAt: number;
  /** When `held()` turned or would have turned false: `renewedAt + D - M`. */
  deadline: number;
}

/** Options of {@linkcode PrimaryLease}. */
export interface PrimaryLeaseOptions {
  /** The cluster's namespace. */
  namespace: string;
  /** The Lease: `primaryLeaseName(cluster)`. */
  name: string;
  /** Our identity: the pod name. */
  holder: string;
  /** Set on the Lease when we create it: the DatabaseCluster, so it is deleted with it. */
  owner: OwnerReference;
  /** Default {@linkcode DEFAULT_LEASE_DURATION_MS}. */
  durationMs?: number;
  /** Default {@linkcode DEFAULT_RENEW_EVERY_MS}. */
  renewEveryMs?: number;
  /** Default {@linkcode DEFAULT_POLL_EVERY_MS}. */
  pollEveryMs?: number;
  /** Default {@linkcode DEFAULT_FENCE_MARGIN_MS}. */
  marginMs?: number;
  /** Default {@linkcode systemClock}. */
  clock?: Clock;
  /** Called synchronously (from the deadline timer, if that is what ends it) when a term ends. */
  onLost?: (loss: LeaseLoss) => void;
}

interface Term {
  renewedAt: number;
  timer?: TimerId;
  stop: AbortController;
  ended: PromiseWithResolvers<LeaseLoss>;
  over: boolean;
  renewing?: Promise<void>;
  detach: () => void;
}

const logger = getLogger(["dbop", "instance", "lease"]);

/** Holds the primary Lease for one instance; see the module doc. */
export class PrimaryLease {
  readonly #client: LeaseClient;
  readonly #options: PrimaryLeaseOptions;
  readonly #clock: Clock;
  readonly #durationMs: number;
  readonly #renewEveryMs: number;
  readonly #pollEveryMs: number;
  readonly #marginMs: number;
  #copy?: LeaseObject;
  #sighting?: Sighting;
  #term?: Term;
  #lastLoss?: LeaseLoss;
  #acquiring = false;

  constructor(client: LeaseClient, options: PrimaryLeaseOptions) {
    this.#client = client;
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#durationMs = options.durationMs ?? DEFAULT_LEASE_DURATION_MS;
    this.#renewEveryMs = options.renewEveryMs ?? DEFAULT_RENEW_EVERY_MS;
    this.#pollEveryMs = options.pollEveryMs ?? DEFAULT_POLL_EVERY_MS;
    this.#marginMs = options.marginMs ?? DEFAULT_FENCE_MARGIN_MS;
    const problem = leaseTimingProblem(this.#durationMs, this.#renewEveryMs, this.#marginMs);
    if (problem) throw new Error(`Invalid timing of Lease "${this.#key}": ${problem}`);
    if (!options.holder) throw new Error(`Lease "${this.#key}" needs a holder identity`);
  }

  get #key(): string {
    return `${this.#options.namespace}/${this.#options.name}`;
  }

  /** Whether we hold the Lease now: `now < renewedAt + durationMs - marginMs` of this term. */
  held(): boolean {
    const term = this.#term;
    return term !== undefined && !term.over && this.#clock.now() < this.#deadline(term);
  }

  /** Local send time of the last successful create or renew of the current (or last) term. */
  renewedAt(): number | undefined {
    return this.#term?.renewedAt;
  }

  /** The version of the record last read or written, and since when (local ms) it is unchanged. */
  observed(): Sighting | undefined {
    return this.#sighting;
  }

  /**
   * Resolves when the current term ends; when none is in progress, at once with how the
   * last one ended (`stopped` at `-Infinity` if there never was one).
   */
  lost(): Promise<LeaseLoss> {
    const term = this.#term;
    if (term && !term.over) return term.ended.promise;
    const never: LeaseLoss = {
      reason: "stopped",
      at: -Infinity,
      renewedAt: -Infinity,
      deadline: -Infinity,
    };
    return Promise.resolve(this.#lastLoss ?? never);
  }

  /**
   * Resolves once we hold the Lease (at once when we already do), then renews it in the
   * background until {@linkcode release} or until `signal` aborts (which ends the term
   * as `stopped`). Rejects with the signal's reason when it aborts first.
   */
  async acquire(signal: AbortSignal): Promise<void> {
    const term = this.#term;
    if (term && !term.over) {
      if (this.held()) return;
      // Past its deadline with the timer not yet run: end it first, so its loss is not
      // reported during the next term.
      this.#end(term, "expired");
    }
    if (this.#acquiring) throw new Error(`Lease "${this.#key}" is already being acquired`);
    this.#acquiring = true;
    try {
      for (;;) {
        signal.throwIfAborted();
        const wakeAt = await this.#tryAcquire(signal);
        if (wakeAt === undefined) return;
        const pause = Math.min(this.#pollEveryMs, wakeAt - this.#clock.now());
        await this.#clock.sleep(pause, signal);
      }
    } finally {
      this.#acquiring = false;
    }
  }

  /** One attempt: `undefined` once held, else the local time to try again at. */
  async #tryAcquire(signal: AbortSignal): Promise<number | undefined> {
    const timeout = this.#timeout(this.#durationMs - this.#marginMs, signal);
    const call = { namespace: this.#options.namespace, signal: timeout.signal };
    try {
      const current = await this.#client.getOrUndefined(Leases, this.#options.name, call);
      const now = this.#clock.now();
      const { decision, sighting } = decideLease(current, {
        holder: this.#options.holder,
        now,
        durationMs: this.#durationMs,
        previous: this.#sighting,
      });
      if (decision.action === "wait") {
        if (sighting?.holder !== this.#sighting?.holder) {
          logger.info(
            "Lease {lease} is held by {holder}: waiting {ms} ms for it to stay unchanged",
            {
              lease: this.#key,
              holder: decision.holder,
              ms: decision.until - now,
            },
          );
        }
        this.#sighting = sighting;
        return decision.until;
      }
      const sentAt = this.#clock.now();
      const written = decision.action === "create"
        ? await this.#client.create(Leases, this.#newLease(decision.record), call)
        : await this.#client.replace(Leases, { ...current, spec: decision.record }, call);
      this.#accept(written, sentAt);
      signal.throwIfAborted();
      // Answered too late to hold: the next attempt reads it as ours and renews it.
      if (this.#clock.now() >= sentAt + this.#durationMs - this.#marginMs) return sentAt;
      this.#begin(sentAt, signal);
      logger.info("Acquired {lease} as {holder} ({how})", {
        lease: this.#key,
        holder: this.#options.holder,
        how: decision.action === "take"
          ? (decision.from ? `taken over from ${decision.from}` : "it was released")
          : decision.action === "create"
          ? "created"
          : "it was ours",
        unchangedForMs: sighting ? sentAt - sighting.observedAt : undefined,
      });
      return undefined;
    } catch (error) {
      signal.throwIfAborted();
      // Someone wrote between our read and write: read again at once.
      if (error instanceof ConflictError || error instanceof AlreadyExistsError) {
        return this.#clock.now();
      }
      logger.warn("Cannot acquire {lease}: {error}", { lease: this.#key, error });
      return this.#clock.now() + this.#renewEveryMs;
    } finally {
      timeout.cancel();
    }
  }

  #newLease(spec: LeaseRecord): LeaseObject {
    const { name, namespace, owner } = this.#options;
    return {
      apiVersion: apiVersionOf(Leases),
      kind: Leases.kind,
      // No blockOwnerDeletion: that would need update of the cluster's finalizers.
      metadata: { name, namespace, ownerReferences: [owner] },
      spec,
    };
  }

  #accept(written: LeaseObject, sentAt: number): void {
    this.#copy = written;
    this.#sighting = sight(written, sentAt);
  }

  #deadline(term: Term): number {
    return term.renewedAt + this.#durationMs - this.#marginMs;
  }

  #begin(renewedAt: number, signal: AbortSignal): void {
    const onAbort = () => this.#end(term, "stopped");
    const term: Term = {
      renewedAt,
      stop: new AbortController(),
      ended: Promise.withResolvers(),
      over: false,
      detach: () => signal.removeEventListener("abort", onAbort),
    };
    this.#term = term;
    this.#arm(term);
    signal.addEventListener("abort", onAbort, { once: true });
    term.renewing = this.#renewLoop(term);
  }

  /** (Re)arms the timer that ends the term at its deadline on the local clock. */
  #arm(term: Term): void {
    if (term.timer !== undefined) this.#clock.clearTimeout(term.timer);
    const ms = this.#deadline(term) - this.#clock.now();
    term.timer = this.#clock.setTimeout(() => this.#end(term, "expired"), ms);
  }

  #end(term: Term, reason: LeaseLoss["reason"]): void {
    if (term.over) return;
    term.over = true;
    if (term.timer !== undefined) this.#clock.clearTimeout(term.timer);
    term.stop.abort();
    term.detach();
    const loss = {
      reason,
      at: this.#clock.now(),
      renewedAt: term.renewedAt,
      deadline: this.#deadline(term),
    };
    this.#lastLoss = loss;
    logger[reason === "released" || reason === "stopped" ? "info" : "warn"](
      "Lost {lease} ({reason}) {sinceRenewMs} ms after the last renew was sent",
      { lease: this.#key, reason, sinceRenewMs: loss.at - loss.renewedAt },
    );
    try {
      this.#options.onLost?.(loss);
    } catch (error) {
      logger.error("The lost-lease callback failed: {error}", { error });
    }
    term.ended.resolve(loss);
  }

  async #renewLoop(term: Term): Promise<void> {
    let attemptAt = term.renewedAt;
    while (!term.over) {
      await this.#clock.sleep(attemptAt + this.#renewEveryMs - this.#clock.now(), term.stop.signal);
      if (term.over) return;
      attemptAt = this.#clock.now();
      await this.#renew(term);
    }
  }

  /** One renew, bounded by the term's deadline; a conflict is read again once. */
  async #renew(term: Term): Promise<void> {
    const timeout = this.#timeout(this.#deadline(term) - this.#clock.now(), term.stop.signal);
    const call = { namespace: this.#options.namespace, signal: timeout.signal };
    try {
      for (let attempt = 0; attempt < 2 && !term.over; attempt++) {
        const sentAt = this.#clock.now();
        const { decision } = decideLease(this.#copy, {
          holder: this.#options.holder,
          now: sentAt,
          durationMs: this.#durationMs,
        });
        if (decision.action !== "renew") return this.#end(term, "taken");
        try {
          const written = await this.#client.replace(Leases, {
            ...this.#copy,
            spec: decision.record,
          }, call);
          this.#accept(written, sentAt);
          if (term.over) return;
          // held() has turned false already (the timer runs late): never true again this term.
          if (this.#clock.now() >= this.#deadline(term)) return this.#end(term, "expired");
          term.renewedAt = sentAt;
          this.#arm(term);
          return;
        } catch (error) {
          if (!(error instanceof ConflictError)) throw error;
          const current = await this.#client.getOrUndefined(Leases, this.#options.name, call);
          if (!current) return this.#end(term, "deleted");
          this.#copy = current;
          this.#sighting = sight(current, this.#clock.now(), this.#sighting);
        }
      }
    } catch (error) {
      if (timeout.signal.aborted) return;
      if (error instanceof NotFoundError) return this.#end(term, "deleted");
      logger.warn("Cannot renew {lease}: {error}", { lease: this.#key, error });
    } finally {
      timeout.cancel();
    }
  }

  /**
   * Ends the term (`held()` is false before the request goes out) and clears the holder
   * if the Lease is still ours, guarded by its resourceVersion, so a successor takes it at
   * once. True when it was ours and now has no holder.
   */
  async release(): Promise<boolean> {
    const term = this.#term;
    if (term) {
      this.#end(term, "released");
      await term.renewing;
    }
    const timeout = this.#timeout(this.#durationMs);
    const call = { namespace: this.#options.namespace, signal: timeout.signal };
    try {
      for (let attempt = 0; attempt < 3; attempt++) {
        const copy = this.#copy;
        if (copy?.spec?.holderIdentity !== this.#options.holder) return false;
        const spec = { ...copy.spec, holderIdentity: "", renewTime: microTime(this.#clock.now()) };
        try {
          const written = await this.#client.replace(Leases, { ...copy, spec }, call);
          this.#accept(written, this.#clock.now());
          logger.info("Released {lease}", { lease: this.#key });
          return true;
        } catch (error) {
          if (!(error instanceof ConflictError)) throw error;
          this.#copy = await this.#client.getOrUndefined(Leases, this.#options.name, call);
        }
      }
      return false;
    } catch (error) {
      logger.warn("Cannot release {lease}: {error}", { lease: this.#key, error });
      return false;
    } finally {
      timeout.cancel();
    }
  }

  /** A signal that aborts with `parent` or `ms` from now on our clock. */
  #timeout(ms: number, parent?: AbortSignal): { signal: AbortSignal; cancel: () => void } {
    const controller = new AbortController();
    const id = this.#clock.setTimeout(
      () => controller.abort(new Error(`Timed out after ${Math.round(ms)} ms`)),
      ms,
    );
    return {
      signal: parent ? AbortSignal.any([parent, controller.signal]) : controller.signal,
      cancel: () => this.#clock.clearTimeout(id),
    };
  }
}
