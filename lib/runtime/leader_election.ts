/**
 * Leader election on a `coordination.k8s.io/v1` Lease, with client-go's semantics. A candidate takes the
 * lease when it is absent, released (empty `holderIdentity`), ours, or expired; expiry is judged by the
 * candidate's own clock (the lease's `leaseDurationSeconds` after the candidate first saw the current
 * record), never by comparing remote timestamps, so clock skew between machines does not matter. Every
 * write is a create or a PUT guarded by `resourceVersion`, so of two racing candidates one gets a Conflict
 * and loses. The leader renews every `retryPeriod`; if it has not renewed for `renewDeadline` (default 10 s
 * of a 15 s lease) a timer aborts the leader signal, whatever state its requests are in, so it stops
 * before any other candidate can consider the lease expired: never two writers. It also steps down at once
 * when it sees another holder. On graceful shutdown it aborts the leader signal, waits (bounded) for the
 * work started by `onStartedLeading` to finish, then releases the lease (`holderIdentity` empty,
 * `leaseDurationSeconds` 1, like client-go's `ReleaseOnCancel`) so a successor starts at once. The pure
 * decision is {@linkcode decide} in `lease_decision.ts`; time comes from an injectable {@linkcode Clock}.
 * When that work fails while leading, the leader stops, releases the lease and `run` rejects with
 * {@linkcode LeaderWorkFailedError}: a leader that does no work must not keep the others out.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { apiVersionOf, type Resources, type ResourceType, resourceType } from "../kube/mod.ts";
import { type Clock, systemClock, type TimerId } from "./clock.ts";
import {
  decide,
  type DecideOptions,
  type LeaseObject,
  type LeaseRecord,
  type Observation,
} from "./lease_decision.ts";
import { microTime } from "./micro_time.ts";

/** The Lease kind typed with its wire shape. */
const LeaseType: ResourceType<LeaseObject> = resourceType("coordination.k8s.io", "v1", "Lease");

/** The calls the elector makes; {@linkcode Resources} provides them. */
export type LeaseClient = Pick<Resources, "getOrUndefined" | "create" | "replace">;

/** Receives the elector's log lines; the default writes to logtape category `dbop.leader_election`. */
export type ElectionLogger = (
  level: "info" | "warn" | "error",
  message: string,
  properties: Record<string, unknown>,
) => void;

/** Options of {@linkcode LeaderElector}. */
export interface LeaderElectorOptions {
  /** Namespace of the Lease. */
  namespace: string;
  /** Name of the Lease. */
  name: string;
  /** Our identity; default hostname plus a random suffix, unique per process. */
  identity?: string;
  /** Default 15 s. */
  leaseDurationMs?: number;
  /** How long the leader keeps trying to renew before it steps down; default 10 s. */
  renewDeadlineMs?: number;
  /** Pause between attempts; default 2 s. */
  retryPeriodMs?: number;
  /** Release the lease on graceful shutdown (default true). */
  releaseOnCancel?: boolean;
  /** Called on becoming leader; the signal aborts when leadership ends. The returned promise is awaited before release. */
  onStartedLeading?: (leaderSignal: AbortSignal) => void | Promise<void>;
  /** Called when leadership ends (only after `onStartedLeading`). */
  onStoppedLeading?: () => void;
  /** Called when a different holder is observed (including ourselves). */
  onNewLeader?: (identity: string) => void;
  /** Called with every change of leadership, e.g. to set `leader_election_master_status{name}`. */
  onLeaderStatus?: (isLeader: boolean) => void;
  /** Default {@linkcode systemClock}. */
  clock?: Clock;
  /** Source of jitter in [0, 1); default `Math.random`. */
  random?: () => number;
  /** Default logtape. */
  logger?: ElectionLogger;
}

/** Acquire attempts wait `retryPeriod` plus up to this fraction more, so candidates do not move in step. */
const JITTER = 0.2;

const logtape = getLogger(["dbop", "leader_election"]);
const defaultLogger: ElectionLogger = (level, message, properties) =>
  logtape[level](message, properties);

/** The work started by `onStartedLeading` failed while leading; the lease has been released. */
export class LeaderWorkFailedError extends Error {}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A holder identity unique per process: the hostname (when readable) and a random suffix. */
export function processIdentity(): string {
  let host = "dbop";
  try {
    host = Deno.hostname();
  } catch {
    // Without --allow-sys=hostname the random suffix alone keeps identities unique.
  }
  return `${host}_${crypto.randomUUID().slice(0, 8)}`;
}

/** A signal that aborts `ms` from now on `clock`; `cancel()` disarms it. */
function timeoutSignal(clock: Clock, ms: number): { signal: AbortSignal; cancel: () => void } {
  const controller = new AbortController();
  const id = clock.setTimeout(() => controller.abort(new Error(`Timed out after ${ms} ms`)), ms);
  return { signal: controller.signal, cancel: () => clock.clearTimeout(id) };
}

/** Runs leader election for one Lease; see the module doc. */
export class LeaderElector {
  /** Our identity, as written to `holderIdentity`. */
  readonly identity: string;
  readonly #client: LeaseClient;
  readonly #leaseDurationMs: number;
  readonly #renewDeadlineMs: number;
  readonly #retryPeriodMs: number;
  readonly #options: LeaderElectorOptions;
  readonly #clock: Clock;
  readonly #log: ElectionLogger;
  #lease?: LeaseObject;
  #observation?: Observation;
  #lastRenewAt = 0;
  #leader?: AbortController;
  #deadline?: TimerId;
  #reportedHolder?: string;
  #expiresAt?: number;
  #running = false;

  constructor(client: LeaseClient, options: LeaderElectorOptions) {
    this.#client = client;
    this.#options = options;
    this.identity = options.identity ?? processIdentity();
    this.#leaseDurationMs = options.leaseDurationMs ?? 15_000;
    this.#renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.#retryPeriodMs = options.retryPeriodMs ?? 2_000;
    this.#clock = options.clock ?? systemClock;
    const log = options.logger ?? defaultLogger;
    this.#log = (level, message, properties) => {
      try {
        log(level, message, properties);
      } catch {
        // A broken logger must not break the election, which also logs from timers.
      }
    };
    const [lease, renew, retry] = [
      this.#leaseDurationMs,
      this.#renewDeadlineMs,
      this.#retryPeriodMs,
    ];
    if (!this.identity) {
      throw new Error(`Leader election for "${this.#leaseKey()}" needs an identity`);
    }
    if (!(lease > renew && renew > (1 + JITTER) * retry && retry > 0)) {
      throw new Error(
        `Invalid leader election timing for "${this.#leaseKey()}": need leaseDuration > renewDeadline > ${
          1 + JITTER
        } x retryPeriod > 0, got "${lease}", "${renew}" and "${retry}" ms`,
      );
    }
  }

  /** Whether we lead now: true from `onStartedLeading` until the leader signal aborts. */
  isLeader(): boolean {
    return this.#leader !== undefined && !this.#leader.signal.aborted;
  }

  /**
   * Campaigns until elected, leads until the lease is lost or `signal` aborts, then resolves. After a loss
   * the caller should exit (or call `run` again); after an abort the lease has been released.
   */
  async run(signal: AbortSignal): Promise<void> {
    if (this.#running) {
      throw new Error(`Leader election for "${this.#leaseKey()}" is already running`);
    }
    this.#running = true;
    this.#callback(this.#options.onLeaderStatus, false);
    try {
      if (await this.#campaign(signal)) await this.#lead(signal);
    } finally {
      this.#running = false;
    }
  }

  #leaseKey(): string {
    return `${this.#options.namespace}/${this.#options.name}`;
  }

  async #campaign(signal: AbortSignal): Promise<boolean> {
    while (!signal.aborted) {
      // Not the outer signal: a write aborted mid-flight could leave us holding a lease we do not know of.
      const timeout = timeoutSignal(this.#clock, this.#renewDeadlineMs);
      const acquired = await this.#tryAcquireOrRenew(timeout.signal).finally(timeout.cancel);
      if (acquired && signal.aborted) await this.#release();
      if (acquired) return !signal.aborted;
      const random = this.#options.random ?? Math.random;
      let pause = this.#retryPeriodMs * (1 + JITTER * random());
      // Try again the moment the holder's lease expires rather than up to a retry period later.
      if (this.#expiresAt !== undefined) {
        pause = Math.min(pause, this.#expiresAt - this.#clock.now());
      }
      await this.#clock.sleep(pause, signal);
    }
    return false;
  }

  async #lead(signal: AbortSignal): Promise<void> {
    const leader = new AbortController();
    this.#leader = leader;
    this.#armDeadline();
    this.#log("info", "Became leader of {lease} as {identity}", this.#props());
    this.#callback(this.#options.onLeaderStatus, true);
    // A leader whose work failed would otherwise keep renewing and keep every other candidate out.
    const workFailed = new AbortController();
    const work = (async () => await this.#options.onStartedLeading?.(leader.signal))().catch(
      (error) => {
        if (!leader.signal.aborted && !signal.aborted) workFailed.abort(error);
      },
    );
    const stop = AbortSignal.any([signal, leader.signal, workFailed.signal]);
    while (!stop.aborted) {
      await this.#clock.sleep(this.#retryPeriodMs, stop);
      if (!stop.aborted) await this.#tryAcquireOrRenew(leader.signal);
    }
    if (leader.signal.aborted) return;
    if (workFailed.signal.aborted) {
      const error = workFailed.signal.reason;
      this.#log("error", "The leader's work failed: {error}", { ...this.#props(), error });
      this.#stopLeading("its work failed");
      await this.#release();
      throw new LeaderWorkFailedError(
        `The leader's work on "${this.#leaseKey()}" failed: ${messageOf(error)}`,
        { cause: error },
      );
    }
    this.#stopLeading("shutting down");
    const drained = new AbortController();
    const waitMs = this.#lastRenewAt + this.#renewDeadlineMs - this.#clock.now();
    await Promise.race([work, this.#clock.sleep(waitMs, drained.signal)]);
    drained.abort();
    if (this.#options.releaseOnCancel ?? true) await this.#release();
  }

  /** Re-arms the timer that ends leadership `renewDeadline` after the last successful renew began. */
  #armDeadline(): void {
    if (this.#deadline !== undefined) this.#clock.clearTimeout(this.#deadline);
    const ms = this.#lastRenewAt + this.#renewDeadlineMs - this.#clock.now();
    this.#deadline = this.#clock.setTimeout(
      () => this.#stopLeading(`not renewed for ${this.#renewDeadlineMs} ms`),
      ms,
    );
  }

  #stopLeading(reason: string): void {
    const leader = this.#leader;
    if (!leader || leader.signal.aborted) return;
    if (this.#deadline !== undefined) this.#clock.clearTimeout(this.#deadline);
    this.#deadline = undefined;
    leader.abort(new Error(`Stopped leading "${this.#leaseKey()}": ${reason}`));
    this.#log("info", "Stopped leading {lease}: {reason}", { ...this.#props(), reason });
    this.#callback(this.#options.onLeaderStatus, false);
    this.#callback(this.#options.onStoppedLeading);
  }

  /** One attempt; true when we hold a freshly written lease. `signal` bounds the requests. */
  async #tryAcquireOrRenew(signal: AbortSignal): Promise<boolean> {
    this.#expiresAt = undefined;
    if (await this.#renewFromCopy(signal)) return true;
    if (signal.aborted) return false;
    const call = { namespace: this.#options.namespace, signal };
    try {
      const current = await this.#client.getOrUndefined(LeaseType, this.#options.name, call);
      if (signal.aborted) return false;
      const now = this.#clock.now();
      const { decision, observation } = decide(current?.spec, this.#decideOptions(now));
      this.#lease = current;
      this.#observation = observation;
      if (decision.action === "wait") {
        this.#expiresAt = decision.expiresAt;
        this.#noticeHolder(decision.holder);
        this.#stopLeading(`the lease is held by "${decision.holder}"`);
        return false;
      }
      const written = decision.action === "create"
        ? await this.#client.create(LeaseType, {
          apiVersion: apiVersionOf(LeaseType),
          kind: LeaseType.kind,
          metadata: { name: this.#options.name, namespace: this.#options.namespace },
          spec: decision.record,
        }, call)
        : await this.#client.replace(LeaseType, { ...current, spec: decision.record }, call);
      return this.#accept(written, now, signal);
    } catch (error) {
      if (!signal.aborted) {
        this.#log("warn", "Cannot acquire or renew {lease}: {error}", { ...this.#props(), error });
      }
      return false;
    }
  }

  /** client-go's fast path: the holder renews from its own copy without reading first. */
  async #renewFromCopy(signal: AbortSignal): Promise<boolean> {
    const lease = this.#lease;
    if (!lease || this.#observation?.record.holderIdentity !== this.identity) return false;
    const now = this.#clock.now();
    const { decision } = decide(lease.spec, this.#decideOptions(now));
    if (decision.action !== "update") return false;
    const call = { namespace: this.#options.namespace, signal };
    try {
      const written = await this.#client.replace(
        LeaseType,
        { ...lease, spec: decision.record },
        call,
      );
      return this.#accept(written, now, signal);
    } catch (error) {
      // Usually a Conflict: someone wrote the lease since; the caller reads it and decides afresh.
      if (!signal.aborted) {
        this.#log("info", "Renewing {lease} from our copy failed: {error}", {
          ...this.#props(),
          error,
        });
      }
      return false;
    }
  }

  #decideOptions(now: number): DecideOptions {
    return {
      identity: this.identity,
      now,
      leaseDurationMs: this.#leaseDurationMs,
      previous: this.#observation,
    };
  }

  /** Records a successful write begun at `startedAt`; a write that completes after the deadline does not count. */
  #accept(written: LeaseObject, startedAt: number, signal: AbortSignal): boolean {
    if (signal.aborted) return false;
    this.#lease = written;
    this.#observation = { record: written.spec ?? {}, observedAt: startedAt };
    this.#lastRenewAt = startedAt;
    if (this.isLeader()) this.#armDeadline();
    this.#noticeHolder(this.identity);
    return true;
  }

  #noticeHolder(holder: string): void {
    if (holder === this.#reportedHolder) return;
    this.#reportedHolder = holder;
    this.#callback(this.#options.onNewLeader, holder);
  }

  /** Gives the lease up so a successor need not wait for it to expire. */
  async #release(): Promise<void> {
    const lease = this.#lease;
    if (!lease || this.#observation?.record.holderIdentity !== this.identity) return;
    const remaining = this.#lastRenewAt + this.#leaseDurationMs - this.#clock.now();
    if (remaining <= 0) return;
    const now = microTime(this.#clock.now());
    const record: LeaseRecord = {
      holderIdentity: "",
      leaseDurationSeconds: 1,
      acquireTime: now,
      renewTime: now,
      leaseTransitions: lease.spec?.leaseTransitions ?? 0,
    };
    const timeout = timeoutSignal(this.#clock, remaining);
    try {
      this.#lease = await this.#client.replace(LeaseType, { ...lease, spec: record }, {
        namespace: this.#options.namespace,
        signal: timeout.signal,
      });
      this.#observation = { record, observedAt: this.#clock.now() };
      this.#log("info", "Released {lease}", this.#props());
    } catch (error) {
      this.#log("warn", "Cannot release {lease}: {error}", { ...this.#props(), error });
    } finally {
      timeout.cancel();
    }
  }

  /** Runs a caller's callback; a throw is logged, never let loose in the election (or in a timer). */
  #callback<A extends unknown[]>(fn: ((...args: A) => unknown) | undefined, ...args: A): void {
    try {
      fn?.apply(this.#options, args);
    } catch (error) {
      this.#log("warn", "A leader election callback failed: {error}", { ...this.#props(), error });
    }
  }

  #props(): Record<string, unknown> {
    return { lease: this.#leaseKey(), identity: this.identity };
  }
}
