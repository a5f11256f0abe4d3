/**
 * The instance manager's loop, PID 1 of the PostgreSQL container. Each turn
 * asks the same questions in order and logs the answer as one line:
 *
 * 1. What does the cluster say (`status.targetPrimary`, `systemIdentifier`)
 *    and what does PGDATA hold? `decideBootstrap()` answers initdb, clone,
 *    start as primary or standby, or wait (with the reason, which the status
 *    endpoint reports).
 * 2. After initdb, or before a primary whose cluster has no identifier yet
 *    serves, the database system identifier is recorded in status first.
 * 3. PostgreSQL runs in the decided role until it exits (restarted after a
 *    backoff that grows while it keeps failing), until this pod's role in
 *    `status.targetPrimary` changes (stopped, and decided again; a primary
 *    that is no longer the target checkpoints, and its fast shutdown may take
 *    `spec.ha.switchoverDelay` before an immediate one), until a restart is
 *    asked for (`POST /restart`: fast shutdown, started again in the same
 *    role), or until SIGTERM (fast shutdown within the bound, then the
 *    manager exits).
 *
 * Alongside, the credentials follow the Secrets (`credentials.ts`): the
 * primary applies changed passwords, every instance rewrites its passfile.
 * And the configuration follows the ConfigMap and the TLS Secret
 * (`configuration.ts`): nothing starts before their files are written, and a
 * changed file is applied with a reload (`reload.ts`), never a restart; what
 * needs one is reported as `pendingRestart` and left to whoever decides the
 * order of restarts, and what PostgreSQL refuses (`rejections.ts`) is the
 * status's `lastError` and a `ConfigurationRejected` Warning event until a
 * later check finds it fixed. A reload that changes `password_encryption`
 * makes the primary set every password again, so they are hashed as
 * pg_hba.conf now asks.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { InstanceStatus } from "../api/mod.ts";
import { exponentialDelay } from "../runtime/backoff.ts";
import { type Clock, sleepWith, systemClock } from "../runtime/clock.ts";
import type { EventRecorder } from "../runtime/events.ts";
import {
  cloneStandby,
  initPrimary,
  primaryConninfo,
  writeReplicationPassfile,
} from "./bootstrap.ts";
import type { ClusterView } from "./cluster.ts";
import { ConfigFollower } from "./configuration.ts";
import {
  type Credentials,
  currentCredentials,
  HandedOverPasswords,
  passwordChanges,
} from "./credentials.ts";
import type { HandOverOutcome } from "./server.ts";
import { readLocalData, runSql } from "./commands.ts";
import type { ObjectsView } from "./objects.ts";
import type { InstanceOptions } from "./options.ts";
import { Postmaster } from "./postmaster.ts";
import { describeRejections, rejectedConfiguration } from "./rejections.ts";
import { reloadPostgres } from "./reload.ts";
import { type BootstrapAction, decideBootstrap } from "./role.ts";
import { roleGrantsSql, STATUS_QUERY } from "./sql.ts";
import { parseServerStatus } from "./status.ts";
import type { PrimaryLease } from "./lease.ts";
import type { OwnerReference } from "../runtime/types.ts";
import {
  DATABASE_CLUSTER,
  MONITORING_USERNAME,
  SWITCHOVER_DELAY_SECONDS,
} from "../api/constants.ts";
import { promoteStandby } from "./promote.ts";
import { lastRanAsStandby, RejoinLaterError, RewindError, rewindFormerPrimary } from "./rewind.ts";

const logger = getLogger(["dbop", "instance"]);

/** How long a wait for the cluster to change lasts before deciding again anyway. */
const RECHECK_MS = 10_000;
/** Waits that need a person, reported as Warning events on the cluster. */
const DATA_PROBLEMS = ["PrimaryDataLost", "SystemIdentifierMismatch"];

/** How long a former primary waits before trying again to reach the new one. */
const REJOIN_RETRY_MS = 1_000;

/** A server up this long has recovered: its next crash restarts it at once again. */
const HEALTHY_AFTER_MS = 60_000;

type Role = "primary" | "standby";

/** One instance of a cluster, run until its signal aborts. */
export class InstanceManager {
  #options: InstanceOptions;
  #cluster: ClusterView;
  #objects: ObjectsView | undefined;
  #events: EventRecorder | undefined;
  #clock: Clock;
  #role: Role | undefined;
  /** The credentials last used, which stand for a Secret that is gone. */
  #fallback: Credentials;
  #handedOver = new HandedOverPasswords();
  /** The end of the last password change: changes run one after another. */
  #using: Promise<void> = Promise.resolve();
  /** What PostgreSQL was last given; undefined until the primary first applied them all. */
  #applied: Credentials | undefined;
  #postmaster: Postmaster | undefined;
  #accepting = false;
  #waiting: { reason: string; message: string } | undefined;
  #lastError: string | undefined;
  #config: ConfigFollower;
  /** What PostgreSQL refused of its files at the last check; undefined when nothing. */
  #rejected: string | undefined;
  /** Asks the running PostgreSQL for a fast restart in its role; undefined when none runs. */
  #requestRestart: (() => void) | undefined;
  #primaryLease: ((owner: OwnerReference) => PrimaryLease) | undefined;
  #lease: PrimaryLease | undefined;
  /** Ends the current term of holding the primary Lease. */
  #term: AbortController | undefined;
  /** How many times PostgreSQL was restarted after exiting on its own. */
  restarts = 0;

  constructor(
    options: InstanceOptions,
    cluster: ClusterView,
    deps: {
      clock?: Clock;
      objects?: ObjectsView;
      events?: EventRecorder;
      /** The cluster's primary Lease for this pod, given the cluster to own it. */
      primaryLease?: (owner: OwnerReference) => PrimaryLease;
    } = {},
  ) {
    // A copy: the passwords in it follow the Secrets.
    this.#options = structuredClone(options);
    this.#cluster = cluster;
    this.#objects = deps.objects;
    this.#config = new ConfigFollower(options, deps.objects);
    this.#events = deps.events;
    this.#clock = deps.clock ?? systemClock;
    this.#primaryLease = deps.primaryLease;
    this.#fallback = {
      superuser: options.superuserPassword,
      replication: options.replication.password,
      app: options.app && { user: options.app.user, password: options.app.password },
    };
  }

  /** Sends `signal` to PostgreSQL when it runs (SIGHUP: reload the configuration). */
  forward(signal: Deno.Signal): void {
    this.#postmaster?.kill(signal);
  }

  /**
   * Asks for a fast restart of PostgreSQL in its current role (the pod stays); false
   * when PostgreSQL does not run, so there is nothing to restart.
   */
  restart(): boolean {
    if (!this.#postmaster?.running || this.#requestRestart === undefined) return false;
    this.#requestRestart();
    return true;
  }

  /** Whether PostgreSQL accepts connections (the readiness probe). */
  ready(): boolean {
    return this.#accepting && (this.#postmaster?.running ?? false);
  }

  /** The status endpoint's answer. */
  async status(): Promise<InstanceStatus> {
    const status: InstanceStatus = {
      pod: this.#options.pod,
      postgres: this.#postmaster?.running ? (this.#accepting ? "running" : "starting") : "stopped",
    };
    if (this.#waiting) status.waiting = this.#waiting;
    if (this.ready()) {
      try {
        Object.assign(status, parseServerStatus(await runSql(this.#options, STATUS_QUERY)));
        await this.#clearFixedRejection();
      } catch (error) {
        status.lastError = `Cannot query PostgreSQL: ${(error as Error).message}`;
      }
    }
    const lastError = this.#rejected ?? this.#lastError ?? this.#config.error;
    if (lastError && !status.lastError) status.lastError = lastError;
    return status;
  }

  /** Runs the instance until `signal` aborts, then stops PostgreSQL within the bound. */
  async run(signal: AbortSignal): Promise<void> {
    const following = Promise.all([
      this.#followCredentials(signal),
      this.#config.follow(signal, async (written) => {
        try {
          await this.#reload(written);
        } catch (error) {
          this.#lastError = `Cannot reload PostgreSQL: ${(error as Error).message}`;
          logger.warn("{error}", { error: this.#lastError });
        }
      }),
    ]);
    while (!signal.aborted) {
      const role = await this.#bootstrap(signal);
      if (role === undefined) break;
      await this.#supervise(role, signal);
    }
    await following;
  }

  /** Keeps the passwords in use equal to the Secrets' until `signal` aborts. */
  async #followCredentials(signal: AbortSignal): Promise<void> {
    const objects = this.#objects;
    if (!objects) return;
    while (!signal.aborted) {
      await this.#use(this.#wantedCredentials(objects));
      await objects.changed(signal, this.#applied ? RECHECK_MS : 1_000);
    }
  }

  #wantedCredentials(objects: ObjectsView): Credentials {
    const names = this.#options.secrets;
    const data = (name: string | undefined) =>
      name ? this.#handedOver.overlay(name, objects.secret(name)) : undefined;
    return currentCredentials(this.#fallback, {
      superuser: data(names.superuser),
      replication: data(names.replication),
      app: data(names.app),
    });
  }

  /** Has PostgreSQL reread the files just `written`; the primary re-hashes passwords if asked. */
  async #reload(written: string[]): Promise<void> {
    const postmaster = this.#postmaster;
    const files = written.map((path) => path.slice(path.lastIndexOf("/") + 1)).join(", ");
    // Not running: the next start reads them.
    if (!postmaster?.running) return;
    const started = performance.now();
    const reloaded = await reloadPostgres(this.#options, postmaster, {
      accepting: this.ready(),
      clock: this.#clock,
    });
    if (reloaded === undefined) {
      logger.info("Sent SIGHUP to PostgreSQL for {files}", { files });
      return;
    }
    const { before, after } = reloaded;
    const rejected = await this.#checkConfiguration();
    const facts = {
      files,
      ms: Math.round(performance.now() - started),
      pending: after.pendingRestart.join(", ") || "none",
      rejected,
    };
    if (rejected) {
      logger.warn(
        "{rejected} (reloaded for {files} in {ms} ms); settings waiting for a restart: {pending}",
        facts,
      );
    } else {
      logger.info(
        "Reloaded PostgreSQL for {files} in {ms} ms; settings waiting for a restart: {pending}",
        facts,
      );
    }
    if (before.passwordEncryption !== after.passwordEncryption && this.#objects) {
      this.#applied = undefined;
      await this.#use(this.#wantedCredentials(this.#objects));
    }
  }

  /**
   * Asks PostgreSQL what it refuses of its files now (`rejections.ts`); a problem not
   * reported before is a Warning event on the cluster, once.
   */
  async #checkConfiguration(): Promise<string | undefined> {
    const rejected = describeRejections(await rejectedConfiguration(this.#options));
    const cluster = this.#cluster.object;
    if (rejected !== undefined && rejected !== this.#rejected && cluster) {
      this.#events?.record(cluster, {
        type: "Warning",
        reason: "ConfigurationRejected",
        action: "Reload",
        note: `${this.#options.pod}: ${rejected}`,
      });
    }
    if (rejected === undefined) this.#clearRejection();
    else this.#rejected = rejected;
    return rejected;
  }

  /**
   * Forgets a reported rejection that the files on disk no longer have: the fix may have
   * come while PostgreSQL was down or starting, with no reload to check it. Only clears:
   * between a file's write and its reload, a new restart-only setting looks refused.
   */
  async #clearFixedRejection(): Promise<void> {
    if (this.#rejected === undefined) return;
    const rejections = await rejectedConfiguration(this.#options);
    if (describeRejections(rejections) === undefined) this.#clearRejection();
  }

  #clearRejection(): void {
    if (this.#rejected !== undefined) {
      logger.info("PostgreSQL takes its configuration files as written again");
    }
    this.#rejected = undefined;
  }

  /**
   * Applies the password of credential Secret `secret` that the operator is about to write
   * (`POST /passwords`): answers once PostgreSQL has it, so no client that reads the new
   * Secret is refused.
   */
  async handOver(secret: string, password: string): Promise<HandOverOutcome> {
    const names = this.#options.secrets;
    const objects = this.#objects;
    const field = secret === names.superuser
      ? "superuser"
      : secret === names.replication
      ? "replication"
      : secret === names.app
      ? "app"
      : undefined;
    if (objects === undefined || field === undefined) {
      return { applied: false, status: 422, reason: `"${secret}" is not a credential Secret here` };
    }
    if (this.#role !== "primary" || !this.ready()) {
      return { applied: false, status: 409, reason: "Not a running primary" };
    }
    this.#handedOver.add(secret, password, objects.secret(secret));
    await this.#use(this.#wantedCredentials(objects));
    const applied = field === "app" ? this.#applied?.app?.password : this.#applied?.[field];
    if (applied !== password) {
      return {
        applied: false,
        status: 500,
        reason: this.#lastError ?? "The password was not applied",
      };
    }
    logger.info("Applied the new password of Secret {secret} before the Secret holds it", {
      secret,
    });
    return { applied: true };
  }

  /** Uses `wanted` from now on, and gives PostgreSQL what changed when this is the primary. */
  #use(wanted: Credentials): Promise<void> {
    const run = this.#using.then(() => this.#useNow(wanted));
    this.#using = run.catch(() => {});
    return run;
  }

  async #useNow(wanted: Credentials): Promise<void> {
    this.#fallback = structuredClone(wanted);
    const options = this.#options;
    const replicationChanged = wanted.replication !== options.replication.password;
    options.superuserPassword = wanted.superuser;
    options.replication.password = wanted.replication;
    if (options.app && wanted.app) options.app.password = wanted.app.password;
    if (replicationChanged && this.#role === "standby") await writeReplicationPassfile(options);
    if (this.#role !== "primary" || !this.ready()) return;
    const changes = passwordChanges(
      { superuser: "postgres", replication: options.replication.user },
      wanted,
      this.#applied,
    );
    if (changes.length === 0) return;
    // First use as the primary: the roles' grants too, for clusters bootstrapped before them.
    const grants = this.#applied === undefined
      ? [roleGrantsSql(options.replication.user, MONITORING_USERNAME)]
      : [];
    try {
      await runSql(
        options,
        ["SET log_statement = 'none';", ...changes, ...grants].join("\n") + "\n",
      );
      logger.info("Applied {count} password(s) from the Secrets", { count: changes.length });
      this.#applied = structuredClone(wanted);
    } catch (error) {
      this.#lastError = `Cannot apply the passwords: ${(error as Error).message}`;
      logger.warn("{error}", { error: this.#lastError });
    }
  }

  /** Decides and acts until the instance can start; `undefined` when `signal` aborted. */
  async #bootstrap(signal: AbortSignal): Promise<Role | undefined> {
    let failures = 0;
    while (!signal.aborted) {
      const facts = this.#cluster.facts;
      if (facts === undefined) {
        this.#wait({ reason: "NoCluster", message: "The DatabaseCluster is not seen yet" });
        await this.#cluster.changed(signal, RECHECK_MS);
        continue;
      }
      if (!this.#config.written) {
        this.#wait({ reason: "NoConfiguration", message: this.#config.missing });
        await this.#config.firstWrite(signal, RECHECK_MS);
        continue;
      }
      const local = await readLocalData(this.#options.pgdata);
      const decision: BootstrapAction = decideBootstrap(this.#options.pod, {
        cluster: facts,
        local,
      });
      logger.info("Bootstrap decision {action}", {
        action: decision.action,
        reason: decision.action === "wait" ? decision.reason : undefined,
        targetPrimary: facts.targetPrimary,
        clusterSystemIdentifier: facts.systemIdentifier,
        localSystemIdentifier: local.systemIdentifier,
      });
      try {
        switch (decision.action) {
          case "wait":
            this.#wait(decision);
            await this.#cluster.changed(signal, RECHECK_MS);
            continue;
          case "initdb": {
            this.#waiting = undefined;
            const id = await initPrimary(this.#options, signal);
            logger.info("Created database {systemIdentifier}", { systemIdentifier: id });
            continue;
          }
          case "clone":
            this.#waiting = undefined;
            logger.info("Cloning from {host}", { host: this.#options.primaryHost });
            await cloneStandby(this.#options, signal);
            logger.info("Cloned from {host}", { host: this.#options.primaryHost });
            continue;
          case "start":
            if (decision.role === "primary" && facts.systemIdentifier === undefined) {
              await this.#cluster.recordSystemIdentifier(local.systemIdentifier!, signal);
              logger.info("Recorded system identifier {id}", { id: local.systemIdentifier });
            }
            if (decision.role === "standby" && !await this.#rejoin(signal)) continue;
            this.#waiting = undefined;
            this.#lastError = undefined;
            return decision.role;
        }
      } catch (error) {
        if (signal.aborted) break;
        failures++;
        this.#lastError = `${decision.action} failed: ${(error as Error).message}`;
        const delay = exponentialDelay(failures - 1, { baseMs: 1_000, maxMs: 30_000 });
        logger.warn("{action} failed, retrying in {delay} ms: {error}", {
          action: decision.action,
          delay,
          error: (error as Error).message,
        });
        await sleepWith(this.#clock, delay, signal).catch(() => {});
      }
    }
    return undefined;
  }

  /**
   * Makes data that was last a primary's follow the new primary (`rewind.ts`); true when
   * the data can start as a standby now. When pg_rewind fails the data is removed, so the
   * next decision clones; when the primary cannot be reached yet, it waits a moment.
   */
  async #rejoin(signal: AbortSignal): Promise<boolean> {
    try {
      const outcome = await rewindFormerPrimary(this.#options, signal);
      if (outcome === "rewound") logger.info("Rewound the former primary's data to rejoin");
      return true;
    } catch (error) {
      if (error instanceof RejoinLaterError) {
        this.#wait({ reason: "RejoinWaiting", message: error.message });
        await sleepWith(this.#clock, REJOIN_RETRY_MS, signal).catch(() => {});
        return false;
      }
      if (!(error instanceof RewindError)) throw error;
      logger.warn("pg_rewind failed, cloning afresh: {error}", { error: error.message });
      const cluster = this.#cluster.object;
      if (cluster) {
        this.#events?.record(cluster, {
          type: "Warning",
          reason: "RewindFailed",
          action: "Rejoin",
          note: `${this.#options.pod}: pg_rewind failed, so it clones afresh: ${error.message}`,
        });
      }
      await Deno.remove(this.#options.pgdata, { recursive: true });
      return false;
    }
  }

  #wait(waiting: { reason: string; message: string }): void {
    if (this.#waiting?.reason !== waiting.reason) {
      logger.info("Waiting: {reason}: {detail}", {
        reason: waiting.reason,
        detail: waiting.message,
      });
      // What a person must look at: data that is gone, or that belongs to another database.
      const cluster = this.#cluster.object;
      if (cluster && DATA_PROBLEMS.includes(waiting.reason)) {
        this.#events?.record(cluster, {
          type: "Warning",
          reason: waiting.reason,
          action: "Bootstrap",
          note: `${this.#options.pod}: ${waiting.message}`,
        });
      }
    }
    this.#waiting = { reason: waiting.reason, message: waiting.message };
  }

  /**
   * Runs PostgreSQL in `role` until the role changes or `signal` aborts. A standby that
   * becomes the target is promoted in place (`promote.ts`); a primary that is no longer
   * the target checkpoints and stops, and rejoins as a standby through `#bootstrap`.
   */
  async #supervise(initial: Role, signal: AbortSignal): Promise<void> {
    let role = initial;
    let failures = 0;
    const isTarget = () => this.#cluster.facts?.targetPrimary === this.#options.pod;
    const roleChanged = () => {
      const target = this.#cluster.facts?.targetPrimary;
      return target !== undefined && isTarget() !== (role === "primary");
    };
    this.#role = role;
    let postmaster: Postmaster | undefined;
    let started = 0;
    let why = "shutting down";
    /** How long the last fast shutdown may take before an immediate one. */
    let fastMs = this.#options.stopTimeoutMs;
    while (!signal.aborted) {
      if (postmaster === undefined) {
        if (roleChanged()) {
          why = "the target primary changed";
          break;
        }
        if (role === "primary" && !await this.#holdLease(signal, isTarget)) continue;
        // Data last a standby's ends its recovery by promotion, on a new timeline; started
        // as a primary directly, it would go on writing the old timeline, which the former
        // primary may have written further: two histories under one timeline.
        const promoting = role === "primary" && await lastRanAsStandby(this.#options.pgdata);
        postmaster = await this.#start(promoting ? "standby" : role, { stream: !promoting });
        started = this.#clock.now();
        if (promoting) {
          if (!await postmaster.waitAccepting(signal) || !await this.#promote(signal)) {
            await postmaster.stop(this.#options.stopTimeoutMs);
            postmaster = undefined;
            await sleepWith(this.#clock, REJOIN_RETRY_MS, signal).catch(() => {});
            continue;
          }
          this.#accepting = true;
        }
      }
      const running = postmaster;
      const changes = new AbortController();
      const watchRole = (async () => {
        while (!changes.signal.aborted && !roleChanged()) {
          await this.#cluster.changed(changes.signal, RECHECK_MS);
        }
      })();
      if (!this.#accepting) {
        running.waitAccepting(changes.signal).then((accepting) => {
          if (!accepting || running !== this.#postmaster) return;
          this.#accepting = true;
          logger.info("PostgreSQL accepts connections as {role}", { role });
        });
      }
      const abort = new Promise<void>((resolve) =>
        signal.addEventListener("abort", () => resolve(), { once: true })
      );
      const restart = Promise.withResolvers<void>();
      this.#requestRestart = restart.resolve;
      const ended = await Promise.race([
        running.exited.then((status) => ({ exited: status })),
        watchRole.then(() => ({ roleChanged: true })),
        abort.then(() => ({ aborted: true })),
        restart.promise.then(() => ({ restart: true })),
        ...(role === "primary" ? [this.#leaseLost(changes.signal)] : []),
      ]);
      this.#requestRestart = undefined;
      changes.abort();
      if ("fenced" in ended) {
        // Another instance may be promoted from now on: no write may succeed here any more.
        running.kill("SIGQUIT");
        const outcome = await running.stop(0);
        this.#accepting = false;
        postmaster = undefined;
        this.#lastError = `Stopped accepting writes: ${ended.fenced}`;
        logger.warn("Fenced: {error} ({outcome} shutdown)", { error: this.#lastError, outcome });
        this.#recordEvent("Warning", "Fenced", this.#lastError);
        await this.#endTerm(false);
        continue;
      }
      if ("restart" in ended) {
        const outcome = await running.stop(this.#options.stopTimeoutMs);
        this.#accepting = false;
        postmaster = undefined;
        logger.info("Restarting PostgreSQL as {role}, as asked: {outcome} shutdown", {
          role,
          outcome,
        });
        continue;
      }
      if ("exited" in ended) {
        this.#accepting = false;
        postmaster = undefined;
        this.restarts++;
        failures = this.#clock.now() - started >= HEALTHY_AFTER_MS ? 1 : failures + 1;
        const delay = exponentialDelay(failures - 1, { baseMs: 500, maxMs: 30_000 });
        this.#lastError = `PostgreSQL exited with code ${ended.exited.code}` +
          (ended.exited.signal ? ` (signal ${ended.exited.signal})` : "");
        logger.warn("{error}; restarting in {delay} ms", { error: this.#lastError, delay });
        await sleepWith(this.#clock, delay, signal).catch(() => {});
        continue;
      }
      if ("aborted" in ended) break;
      why = "the target primary changed";
      if (
        role === "standby" && this.#accepting && await this.#holdLease(signal, isTarget) &&
        await this.#promote(signal)
      ) {
        role = "primary";
        this.#role = role;
        continue;
      }
      if (role === "primary" && this.#accepting) {
        // A checkpoint now leaves the shutdown checkpoint little to write: the switchover's
        // write outage is the shutdown, and the standbys receive everything before it ends.
        await runSql(this.#options, "CHECKPOINT;\n", { signal }).catch((error) => {
          logger.warn("CHECKPOINT before stopping failed: {error}", { error: error.message });
        });
      }
      // The switchover waits for this shutdown: spec.ha.switchoverDelay bounds it, not the pod.
      if (role === "primary") {
        fastMs = (this.#cluster.facts?.switchoverDelaySeconds ?? SWITCHOVER_DELAY_SECONDS) * 1000;
      }
      break;
    }
    if (postmaster?.running) {
      const stopping = performance.now();
      const outcome = await postmaster.stop(fastMs, {
        hurry: signal,
        hurryMs: this.#options.stopTimeoutMs,
      });
      logger.info("Stopped PostgreSQL ({why}): {outcome} shutdown in {ms} ms (bound {bound} ms)", {
        why,
        outcome,
        ms: Math.round(performance.now() - stopping),
        bound: fastMs,
      });
    }
    this.#accepting = false;
    this.#role = undefined;
    // Only once PostgreSQL is down: the next primary may take over at once.
    await this.#endTerm(true);
  }

  /**
   * Holds the cluster's primary Lease before PostgreSQL runs as the primary: at once when
   * it is free or ours, after a full lease duration when another holder stopped renewing.
   * False when this pod stopped being the target or `signal` aborted first.
   */
  async #holdLease(signal: AbortSignal, isTarget: () => boolean): Promise<boolean> {
    const cluster = this.#cluster.object;
    if (this.#primaryLease === undefined) return true;
    if (cluster?.metadata?.uid === undefined) {
      await this.#cluster.changed(signal, RECHECK_MS);
      return false;
    }
    this.#lease ??= this.#primaryLease({
      apiVersion: cluster.apiVersion ?? `${DATABASE_CLUSTER.group}/${DATABASE_CLUSTER.version}`,
      kind: cluster.kind ?? DATABASE_CLUSTER.kind,
      name: cluster.metadata.name!,
      uid: cluster.metadata.uid,
    });
    if (this.#lease.held()) return true;
    // Aborting this ends the term, so it must outlive the wait: only a shutdown or the role
    // changing abort it while waiting, and after that only #endTerm, once PostgreSQL is down.
    const term = new AbortController();
    const stopWaiting = new AbortController();
    const abortWaiting = () => term.abort();
    signal.addEventListener("abort", abortWaiting, { once: true });
    stopWaiting.signal.addEventListener("abort", abortWaiting, { once: true });
    const watch = (async () => {
      while (!stopWaiting.signal.aborted && isTarget()) {
        await this.#cluster.changed(stopWaiting.signal, RECHECK_MS);
      }
      stopWaiting.abort();
    })();
    const holder = this.#lease.observed()?.holder;
    this.#wait({
      reason: "WaitingForPrimaryLease",
      message: holder && holder !== this.#options.pod
        ? `Waiting for the primary Lease, held by "${holder}"`
        : "Waiting for the primary Lease",
    });
    const started = performance.now();
    try {
      await this.#lease.acquire(term.signal);
    } catch (error) {
      if (term.signal.aborted) return false;
      throw error;
    } finally {
      signal.removeEventListener("abort", abortWaiting);
      stopWaiting.signal.removeEventListener("abort", abortWaiting);
      stopWaiting.abort();
      await watch;
    }
    this.#term = term;
    this.#waiting = undefined;
    logger.info("Holds the primary Lease (waited {ms} ms)", {
      ms: Math.round(performance.now() - started),
    });
    return true;
  }

  /**
   * Resolves `{ fenced }` when the term of holding the Lease ends other than by #endTerm
   * (expired, taken, deleted), and never once `signal` aborted.
   */
  async #leaseLost(signal: AbortSignal): Promise<{ fenced: string }> {
    const lease = this.#lease;
    const term = this.#term;
    if (!lease || !term) return await new Promise<never>(() => {});
    const loss = await lease.lost();
    if (signal.aborted || this.#term !== term) return await new Promise<never>(() => {});
    return { fenced: `the primary Lease was ${loss.reason}` };
  }

  /** Ends the term of holding the primary Lease; releases it first when `release`. */
  async #endTerm(release: boolean): Promise<void> {
    const term = this.#term;
    this.#term = undefined;
    if (release && this.#lease?.held()) await this.#lease.release();
    term?.abort();
  }

  #recordEvent(type: "Normal" | "Warning", reason: string, note: string): void {
    const cluster = this.#cluster.object;
    if (!cluster) return;
    this.#events?.record(cluster, {
      type,
      reason,
      action: "Supervise",
      note: `${this.#options.pod}: ${note}`,
    });
  }

  /** Promotes the running standby in place; false (logged) when that failed. */
  async #promote(signal: AbortSignal): Promise<boolean> {
    const started = performance.now();
    logger.info("Promoting: this instance is the target primary now");
    try {
      const timeline = await promoteStandby(this.#options, signal, this.#clock);
      logger.info("Promoted to primary on timeline {timeline} in {ms} ms", {
        timeline,
        ms: Math.round(performance.now() - started),
      });
      return true;
    } catch (error) {
      if (signal.aborted) return false;
      this.#lastError = `Promotion failed: ${(error as Error).message}`;
      logger.warn("{error}; starting again as the primary", { error: this.#lastError });
      return false;
    }
  }

  /** Starts PostgreSQL in `role`; a standby streams from `-rw` unless `stream` is false. */
  async #start(role: Role, options: { stream?: boolean } = {}): Promise<Postmaster> {
    const { pgdata } = this.#options;
    const settings: Record<string, string> = {};
    if (role === "primary") {
      // Without standby.signal a data directory starts as a primary: the role decides, not disk.
      await Deno.remove(`${pgdata}/standby.signal`).catch(() => {});
    } else {
      await Deno.writeTextFile(`${pgdata}/standby.signal`, "");
      if (options.stream ?? true) {
        const passfile = await writeReplicationPassfile(this.#options);
        settings.primary_conninfo = primaryConninfo(this.#options, passfile);
      }
    }
    logger.info("Starting PostgreSQL as {role}", { role });
    this.#postmaster = Postmaster.start({
      pgdata,
      configDir: this.#options.configDir,
      tlsDir: this.#options.tlsDir,
      socketDir: this.#options.socketDir,
      port: this.#options.port,
      listen: this.#options.podIp,
      settings,
    });
    return this.#postmaster;
  }
}
