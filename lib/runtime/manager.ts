/**
 * The manager owns what controllers share: the informer cache (one informer
 * per kind, namespace and selector, created on demand, holding objects
 * without `managedFields`), the health and
 * metrics endpoints, leader election and shutdown. `run(signal)` starts the
 * informers, waits for their first list (with a timeout and an error naming
 * what did not sync), then runs the controllers, only while leading when
 * leader election is on. A leader that loses its lease stops its controllers
 * at once and `run` rejects, so the process exits and restarts as a follower
 * (what controller-runtime does). A leader whose controllers fail or stop
 * releases the lease and `run` rejects too, so a replica that works takes over.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { Resources, ResourceType } from "../kube/mod.ts";
import type { Controller } from "./controller.ts";
import { Informer, type InformerOptions, stripManagedFields } from "./informer.ts";
import { LeaderElector, type LeaderElectorOptions } from "./leader_election.ts";
import type { OperatorMetrics } from "./metrics.ts";
import { type EndpointServer, serveHealth, serveMetrics } from "./server.ts";
import type { KubeObject } from "./types.ts";

/** Options of a {@linkcode Manager}. */
export interface ManagerOptions {
  metrics: OperatorMetrics;
  /** `host:port`, `:port`, or `0` to disable. Default `:8080`. */
  metricsBindAddress?: string;
  /** `host:port`, `:port`, or `0` to disable. Default `:8081`. */
  healthProbeBindAddress?: string;
  /** Leader election; off when undefined. */
  leaderElection?: Omit<LeaderElectorOptions, "onStartedLeading" | "onStoppedLeading">;
  /** How long to wait for the caches' first list. Default 120 s. */
  cacheSyncTimeoutMs?: number;
}

/** Leadership was lost: the process should exit so it restarts as a follower. */
export class LeadershipLostError extends Error {}

const logger = getLogger(["dbop", "manager"]);

/** Runs informers, controllers, endpoints and leader election; see the module doc. */
export class Manager {
  /** The client every informer and controller uses. */
  readonly resources: Resources;
  /** The metrics registry served on `/metrics`. */
  readonly metrics: OperatorMetrics;
  readonly #options: ManagerOptions;
  readonly #informers = new Map<string, Informer<KubeObject>>();
  readonly #controllers: Controller[] = [];
  #health?: EndpointServer;
  #metricsServer?: EndpointServer;
  #elector?: LeaderElector;
  #informerSignal?: AbortSignal;
  #informerRuns: Promise<void>[] = [];

  constructor(resources: Resources, options: ManagerOptions) {
    this.resources = resources;
    this.metrics = options.metrics;
    this.#options = options;
  }

  /**
   * The shared informer for `type` in a namespace (all when undefined) with a label selector.
   * A `transform` runs after `managedFields` are stripped; the first caller's is kept.
   */
  informer<T extends KubeObject>(
    type: ResourceType<T>,
    options: Pick<
      InformerOptions<T>,
      "namespace" | "labelSelector" | "fieldSelector" | "indexers" | "transform"
    > = {},
  ): Informer<T> {
    const key = [
      type.group,
      type.version,
      type.plural,
      options.namespace ?? "",
      options.labelSelector ?? "",
      options.fieldSelector ?? "",
    ].join("|");
    let informer = this.#informers.get(key) as Informer<T> | undefined;
    if (!informer) {
      const transform = options.transform;
      informer = new Informer<T>(this.resources, type, {
        ...options,
        transform: transform ? (o) => transform(stripManagedFields(o)) : stripManagedFields,
      });
      this.#informers.set(key, informer as unknown as Informer<KubeObject>);
      // Informers created while running (e.g. for a CRD installed later) start at once.
      if (this.#informerSignal) this.#informerRuns.push(informer.run(this.#informerSignal));
    }
    return informer;
  }

  /** Adds a controller; its informers start with the manager. */
  add(controller: Controller): void {
    this.#controllers.push(controller);
  }

  /** Whether every informer has synced (what `/readyz` reports). */
  ready(): { ok: boolean; detail: string } {
    const pending = [...this.#informers.values()].filter((i) => !i.hasSynced());
    return pending.length === 0
      ? { ok: true, detail: "ok" }
      : { ok: false, detail: `caches not synced: ${pending.map((i) => i.description).join(", ")}` };
  }

  /** The leader elector, when leader election is on. */
  get elector(): LeaderElector | undefined {
    return this.#elector;
  }

  /**
   * Runs until `signal` aborts (resolves), leadership is lost (rejects with LeadershipLostError) or
   * the controllers fail (rejects with their error; with leader election, after releasing the lease).
   */
  async run(signal: AbortSignal): Promise<void> {
    const stopInformers = new AbortController();
    this.#startServers();
    try {
      this.#informerSignal = stopInformers.signal;
      this.#informerRuns = [...this.#informers.values()].map((i) => i.run(stopInformers.signal));
      await this.#waitForSync(signal);
      if (signal.aborted) return;
      logger.info("Caches synced: {count} informers", { count: this.#informers.size });
      if (this.#options.leaderElection) await this.#runElected(signal);
      else await this.#runControllers(signal);
      stopInformers.abort();
      await Promise.all(this.#informerRuns);
    } finally {
      stopInformers.abort();
      await Promise.all([this.#health?.shutdown(), this.#metricsServer?.shutdown()]);
    }
  }

  async #runControllers(signal: AbortSignal): Promise<void> {
    await Promise.all(this.#controllers.map((c) => c.run(signal)));
  }

  async #runElected(signal: AbortSignal): Promise<void> {
    const options = this.#options.leaderElection!;
    let led = false;
    this.#elector = new LeaderElector(this.resources, {
      ...options,
      onLeaderStatus: (leading) => {
        this.metrics.leaderElectionMasterStatus.set({ name: options.name }, leading ? 1 : 0);
        options.onLeaderStatus?.(leading);
      },
      onStartedLeading: async (leaderSignal) => {
        led = true;
        logger.info("Became leader as {identity}", { identity: this.#elector!.identity });
        await this.#runControllers(leaderSignal);
        if (!leaderSignal.aborted) throw new Error("The controllers stopped while leading");
      },
    });
    await this.#elector.run(signal);
    if (!signal.aborted && led) {
      throw new LeadershipLostError(
        `Lost leadership of lease "${options.namespace}/${options.name}": stopping`,
      );
    }
  }

  async #waitForSync(signal: AbortSignal): Promise<void> {
    const timeoutMs = this.#options.cacheSyncTimeoutMs ?? 120_000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(
          new Error(
            `Timed out after ${timeoutMs} ms waiting for caches to sync: ${this.ready().detail}`,
          ),
        );
      }, timeoutMs);
    });
    const aborted = new Promise<void>((resolve) => {
      signal.addEventListener("abort", () => resolve(), { once: true });
    });
    try {
      await Promise.race([
        Promise.all([...this.#informers.values()].map((i) => i.waitForSync())),
        timeout,
        aborted,
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  #startServers(): void {
    this.#health = serveHealth(this.#options.healthProbeBindAddress ?? ":8081", {
      ready: () => this.ready(),
    });
    this.#metricsServer = serveMetrics(
      this.#options.metricsBindAddress ?? ":8080",
      this.metrics.registry,
    );
  }

  /** The ports actually bound (for tests that bind port 0); undefined when disabled or not started. */
  get ports(): { health?: number; metrics?: number } {
    return { health: this.#health?.port, metrics: this.#metricsServer?.port };
  }
}
