/**
 * dbop's controller runtime, the part Kubebuilder users get from
 * controller-runtime: watcher and informer (cache with indexers), work queue
 * with per-object backoff, controller, manager (cache sync, health and metrics
 * endpoints, leader election, shutdown), events, finalizers, metrics with
 * controller-runtime's names, and logging.
 *
 * @module
 */
export * from "./backoff.ts";
export * from "./clock.ts";
export * from "./controller.ts";
export * from "./events.ts";
export * from "./finalizer.ts";
export * from "./informer.ts";
export * from "./leader_election.ts";
export * from "./logging.ts";
export * from "./manager.ts";
export * from "./metrics.ts";
export * from "./server.ts";
export * from "./store.ts";
export * from "./types.ts";
export * from "./watcher.ts";
export * from "./workqueue.ts";
