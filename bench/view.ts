/**
 * The benchmark's eyes: informers (dbop's own runtime) on the DatabaseClusters
 * and StatefulSets of a fleet's namespaces, and trackers that record the first moment
 * a condition holds for each cluster. Every watch event pokes the trackers of
 * the cluster it concerns, so a time is taken when the change arrives, not
 * when someone polls.
 *
 * @module
 */
import type { V1StatefulSet } from "@kubernetes/client-node";
import { type Resources } from "../lib/kube/mod.ts";
import { StatefulSets } from "../lib/databasecluster/kinds.ts";
import { type ClusterObject, DatabaseClusters } from "../lib/databasecluster/cache.ts";
import { LABELS } from "../lib/databasecluster/names.ts";
import { Informer } from "../lib/runtime/mod.ts";
import { fleetNamespace, inFleet } from "./fleet.ts";

/** Records, per cluster name, when `check` first held. */
export class Tracker {
  /** First time (ms since the epoch) the check held, per cluster. */
  readonly times = new Map<string, number>();
  readonly #check: (name: string) => boolean;
  readonly #close: () => void;

  constructor(check: (name: string) => boolean, close: () => void) {
    this.#check = check;
    this.#close = close;
  }

  /** Evaluates the check for `name` (if not yet met) and records the time if it holds. */
  poke(name: string): void {
    if (!this.times.has(name) && this.#check(name)) this.times.set(name, Date.now());
  }

  /** Waits until the check has held for every name; `progress` is told the count every 10 s. */
  async waitFor(
    names: readonly string[],
    options: {
      what: string;
      timeoutMs: number;
      progress?: (done: number) => void;
      /** Called while waiting; throwing ends the wait (e.g. the process under test died). */
      abortIf?: () => Promise<void>;
    },
  ): Promise<void> {
    const deadline = Date.now() + options.timeoutMs;
    let nextReport = Date.now() + 10_000;
    for (;;) {
      for (const name of names) this.poke(name);
      const done = names.filter((n) => this.times.has(n)).length;
      if (done === names.length) return;
      if (Date.now() > deadline) {
        throw new Error(
          `Timed out waiting for ${options.what}: ${done}/${names.length} after ${
            Math.round(options.timeoutMs / 1000)
          } s`,
        );
      }
      await options.abortIf?.();
      if (Date.now() >= nextReport) {
        options.progress?.(done);
        nextReport += 10_000;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Stops being poked. */
  close(): void {
    this.#close();
  }
}

/** A fleet's DatabaseClusters and their StatefulSets, kept current by watches. */
export class FleetView {
  /** The fleet's namespaces are `<prefix>-0`, `<prefix>-1`, ... (see fleet.ts). */
  readonly prefix: string;
  readonly #clusters: Informer<ClusterObject>;
  readonly #statefulSets: Informer<V1StatefulSet>;
  readonly #trackers = new Set<Tracker>();
  readonly #stop = new AbortController();
  #runs: Promise<void>[] = [];

  constructor(resources: Resources, prefix: string) {
    this.prefix = prefix;
    this.#clusters = new Informer(resources, DatabaseClusters);
    this.#statefulSets = new Informer(resources, StatefulSets);
    this.#clusters.addHandler((e) =>
      this.#poke(e.object.metadata?.namespace, e.object.metadata?.name)
    );
    this.#statefulSets.addHandler((e) =>
      this.#poke(
        e.object.metadata?.namespace,
        e.object.metadata?.labels?.[LABELS.cluster] ?? e.object.metadata?.name,
      )
    );
  }

  #poke(namespace: string | undefined, name: string | undefined): void {
    if (name === undefined || !inFleet(this.prefix, namespace, name)) return;
    for (const tracker of this.#trackers) tracker.poke(name);
  }

  /** The namespace of the fleet's cluster `name`. */
  namespaceOf(name: string): string {
    return fleetNamespace(this.prefix, name);
  }

  /** Starts watching and waits for the first lists. */
  async start(): Promise<void> {
    this.#runs = [this.#clusters.run(this.#stop.signal), this.#statefulSets.run(this.#stop.signal)];
    await Promise.all([this.#clusters.waitForSync(), this.#statefulSets.waitForSync()]);
  }

  /** The cached DatabaseCluster. */
  cluster(name: string): ClusterObject | undefined {
    return this.#clusters.store.get(`${this.namespaceOf(name)}/${name}`);
  }

  /** The cached StatefulSet of a cluster (same name). */
  statefulSet(name: string): V1StatefulSet | undefined {
    return this.#statefulSets.store.get(`${this.namespaceOf(name)}/${name}`);
  }

  /** A tracker of `check`, poked by every event of a cluster from now on. */
  track(check: (name: string) => boolean): Tracker {
    const tracker: Tracker = new Tracker(check, () => this.#trackers.delete(tracker));
    this.#trackers.add(tracker);
    return tracker;
  }

  /** Stops the watches. */
  async stop(): Promise<void> {
    this.#stop.abort();
    await Promise.all(this.#runs);
  }
}
