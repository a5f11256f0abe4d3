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
 *    `status.targetPrimary` changes (stopped, and decided again), or until
 *    SIGTERM (fast shutdown within the bound, then the manager exits).
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { InstanceStatus } from "../api/mod.ts";
import { exponentialDelay } from "../runtime/backoff.ts";
import { type Clock, sleepWith, systemClock } from "../runtime/clock.ts";
import {
  cloneStandby,
  initPrimary,
  primaryConninfo,
  writeReplicationPassfile,
} from "./bootstrap.ts";
import type { ClusterView } from "./cluster.ts";
import { readLocalData, runSql } from "./commands.ts";
import type { InstanceOptions } from "./options.ts";
import { Postmaster } from "./postmaster.ts";
import { type BootstrapAction, decideBootstrap } from "./role.ts";
import { STATUS_QUERY } from "./sql.ts";
import { parseServerStatus } from "./status.ts";

const logger = getLogger(["dbop", "instance"]);

/** How long a wait for the cluster to change lasts before deciding again anyway. */
const RECHECK_MS = 10_000;
/** A server up this long has recovered: its next crash restarts it at once again. */
const HEALTHY_AFTER_MS = 60_000;

type Role = "primary" | "standby";

/** One instance of a cluster, run until its signal aborts. */
export class InstanceManager {
  #options: InstanceOptions;
  #cluster: ClusterView;
  #clock: Clock;
  #postmaster: Postmaster | undefined;
  #accepting = false;
  #waiting: { reason: string; message: string } | undefined;
  #lastError: string | undefined;
  /** How many times PostgreSQL was restarted after exiting on its own. */
  restarts = 0;

  constructor(options: InstanceOptions, cluster: ClusterView, deps: { clock?: Clock } = {}) {
    this.#options = options;
    this.#cluster = cluster;
    this.#clock = deps.clock ?? systemClock;
  }

  /** Sends `signal` to PostgreSQL when it runs (SIGHUP: reload the configuration). */
  forward(signal: Deno.Signal): void {
    this.#postmaster?.kill(signal);
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
      } catch (error) {
        status.lastError = `Cannot query PostgreSQL: ${(error as Error).message}`;
      }
    }
    if (this.#lastError && !status.lastError) status.lastError = this.#lastError;
    return status;
  }

  /** Runs the instance until `signal` aborts, then stops PostgreSQL within the bound. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const role = await this.#bootstrap(signal);
      if (role === undefined) break;
      await this.#supervise(role, signal);
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

  #wait(waiting: { reason: string; message: string }): void {
    if (this.#waiting?.reason !== waiting.reason) {
      logger.info("Waiting: {reason}: {detail}", {
        reason: waiting.reason,
        detail: waiting.message,
      });
    }
    this.#waiting = { reason: waiting.reason, message: waiting.message };
  }

  /** Runs PostgreSQL in `role` until the role changes or `signal` aborts. */
  async #supervise(role: Role, signal: AbortSignal): Promise<void> {
    let failures = 0;
    const roleChanged = () => {
      const target = this.#cluster.facts?.targetPrimary;
      return target !== undefined && (target === this.#options.pod) !== (role === "primary");
    };
    while (!signal.aborted && !roleChanged()) {
      const postmaster = await this.#start(role);
      const started = this.#clock.now();
      const changes = new AbortController();
      const watchRole = (async () => {
        while (!changes.signal.aborted && !roleChanged()) {
          await this.#cluster.changed(changes.signal, RECHECK_MS);
        }
      })();
      postmaster.waitAccepting(changes.signal).then((accepting) => {
        this.#accepting = accepting;
        if (accepting) logger.info("PostgreSQL accepts connections as {role}", { role });
      });
      const abort = new Promise<void>((resolve) =>
        signal.addEventListener("abort", () => resolve(), { once: true })
      );
      const ended = await Promise.race([
        postmaster.exited.then((status) => ({ exited: status })),
        watchRole.then(() => ({ roleChanged: true })),
        abort.then(() => ({ aborted: true })),
      ]);
      changes.abort();
      if ("exited" in ended) {
        this.#accepting = false;
        this.restarts++;
        failures = this.#clock.now() - started >= HEALTHY_AFTER_MS ? 1 : failures + 1;
        const delay = exponentialDelay(failures - 1, { baseMs: 500, maxMs: 30_000 });
        this.#lastError = `PostgreSQL exited with code ${ended.exited.code}` +
          (ended.exited.signal ? ` (signal ${ended.exited.signal})` : "");
        logger.warn("{error}; restarting in {delay} ms", { error: this.#lastError, delay });
        await sleepWith(this.#clock, delay, signal).catch(() => {});
        continue;
      }
      const why = "aborted" in ended ? "shutting down" : "the target primary changed";
      const outcome = await postmaster.stop(this.#options.stopTimeoutMs);
      this.#accepting = false;
      logger.info("Stopped PostgreSQL ({why}): {outcome} shutdown", { why, outcome });
      return;
    }
  }

  async #start(role: Role): Promise<Postmaster> {
    const { pgdata } = this.#options;
    const settings: Record<string, string> = {};
    if (role === "primary") {
      // Without standby.signal a data directory starts as a primary: the role decides, not disk.
      await Deno.remove(`${pgdata}/standby.signal`).catch(() => {});
    } else {
      await Deno.writeTextFile(`${pgdata}/standby.signal`, "");
      const passfile = await writeReplicationPassfile(this.#options);
      settings.primary_conninfo = primaryConninfo(this.#options, passfile);
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
