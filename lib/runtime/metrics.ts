/**
 * dbop's Prometheus metrics, under controller-runtime's names, labels and buckets so that dashboards and
 * alerts written for Kubebuilder operators work unchanged. {@linkcode createOperatorMetrics} makes a fresh
 * prom-client `Registry` holding every metric (plus process and runtime metrics), never touching
 * prom-client's global registry, so several managers can live in one process. {@linkcode workqueueMetrics}
 * binds the work-queue metrics to one controller, and {@linkcode controllerMetrics} records reconcile
 * outcomes the way controller-runtime does.
 *
 * @module
 */

import type { RequestObserver } from "../kube/mod.ts";
import {
  collectDefaultMetrics,
  Counter,
  exponentialBuckets,
  Gauge,
  Histogram,
  Registry,
} from "prom-client";
import type { QueueMetrics } from "./workqueue.ts";

/** Buckets of `controller_runtime_reconcile_time_seconds`, as in controller-runtime. */
// deno-fmt-ignore
export const RECONCILE_TIME_BUCKETS: readonly number[] = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0,
  1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60,
];

/** Buckets of the work-queue duration histograms: 10 ns to 1000 s by powers of ten, as in client-go. */
export const WORKQUEUE_DURATION_BUCKETS: readonly number[] = exponentialBuckets(10e-9, 10, 12);

/** The `result` label values of `controller_runtime_reconcile_total`. */
export type ReconcileOutcome = "success" | "error" | "requeue" | "requeue_after";

type QueueLabel = "name" | "controller";

/** Every metric dbop exports, registered in `registry`. */
export interface OperatorMetrics {
  /** The registry to serve on `/metrics`. */
  readonly registry: Registry;
  /** `controller_runtime_reconcile_total{controller,result}`. */
  readonly reconcileTotal: Counter<"controller" | "result">;
  /** `controller_runtime_reconcile_errors_total{controller}`. */
  readonly reconcileErrors: Counter<"controller">;
  /** `controller_runtime_terminal_reconcile_errors_total{controller}`. */
  readonly terminalReconcileErrors: Counter<"controller">;
  /** `controller_runtime_reconcile_panics_total{controller}`. */
  readonly reconcilePanics: Counter<"controller">;
  /** `controller_runtime_reconcile_time_seconds{controller}`. */
  readonly reconcileTime: Histogram<"controller">;
  /** `controller_runtime_max_concurrent_reconciles{controller}`. */
  readonly maxConcurrentReconciles: Gauge<"controller">;
  /** `controller_runtime_active_workers{controller}`. */
  readonly activeWorkers: Gauge<"controller">;
  /** `workqueue_depth{name,controller}`. */
  readonly workqueueDepth: Gauge<QueueLabel>;
  /** `workqueue_adds_total{name,controller}`. */
  readonly workqueueAdds: Counter<QueueLabel>;
  /** `workqueue_queue_duration_seconds{name,controller}`. */
  readonly workqueueQueueDuration: Histogram<QueueLabel>;
  /** `workqueue_work_duration_seconds{name,controller}`. */
  readonly workqueueWorkDuration: Histogram<QueueLabel>;
  /** `workqueue_unfinished_work_seconds{name,controller}`. */
  readonly workqueueUnfinishedWork: Gauge<QueueLabel>;
  /** `workqueue_longest_running_processor_seconds{name,controller}`. */
  readonly workqueueLongestRunningProcessor: Gauge<QueueLabel>;
  /** `workqueue_retries_total{name,controller}`. */
  readonly workqueueRetries: Counter<QueueLabel>;
  /** `rest_client_requests_total{code,method,host}`. */
  readonly restClientRequests: Counter<"code" | "method" | "host">;
  /** `leader_election_master_status{name}`: 1 while leading the lease `name`, else 0. */
  readonly leaderElectionMasterStatus: Gauge<"name">;
}

/** Options of {@linkcode createOperatorMetrics}. */
export interface OperatorMetricsOptions {
  /** Also export process and JavaScript runtime metrics (default true). */
  processMetrics?: boolean;
}

/** Creates a new registry with all of dbop's metrics in it. */
export function createOperatorMetrics(options: OperatorMetricsOptions = {}): OperatorMetrics {
  const registry = new Registry();
  if (options.processMetrics ?? true) registerProcessMetrics(registry);
  const registers = [registry];
  return {
    registry,
    ...controllerFamilies(registers),
    ...workqueueFamilies(registers),
    restClientRequests: new Counter({
      name: "rest_client_requests_total",
      help: "Number of HTTP requests, partitioned by status code, method, and host.",
      labelNames: ["code", "method", "host"] as const,
      registers,
    }),
    leaderElectionMasterStatus: new Gauge({
      name: "leader_election_master_status",
      help:
        "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 " +
        "indicates master. 'name' is the string used to identify the lease. Please make sure to group " +
        "by name.",
      labelNames: ["name"] as const,
      registers,
    }),
  };
}

function controllerFamilies(registers: Registry[]) {
  const labelNames = ["controller"] as const;
  return {
    reconcileTotal: new Counter({
      name: "controller_runtime_reconcile_total",
      help: "Total number of reconciliations per controller",
      labelNames: ["controller", "result"] as const,
      registers,
    }),
    reconcileErrors: new Counter({
      name: "controller_runtime_reconcile_errors_total",
      help: "Total number of reconciliation errors per controller",
      labelNames,
      registers,
    }),
    terminalReconcileErrors: new Counter({
      name: "controller_runtime_terminal_reconcile_errors_total",
      help: "Total number of terminal reconciliation errors per controller",
      labelNames,
      registers,
    }),
    reconcilePanics: new Counter({
      name: "controller_runtime_reconcile_panics_total",
      help: "Total number of reconciliation panics per controller",
      labelNames,
      registers,
    }),
    reconcileTime: new Histogram({
      name: "controller_runtime_reconcile_time_seconds",
      help: "Length of time per reconciliation per controller",
      labelNames,
      buckets: [...RECONCILE_TIME_BUCKETS],
      registers,
    }),
    maxConcurrentReconciles: new Gauge({
      name: "controller_runtime_max_concurrent_reconciles",
      help: "Maximum number of concurrent reconciles per controller",
      labelNames,
      registers,
    }),
    activeWorkers: new Gauge({
      name: "controller_runtime_active_workers",
      help: "Number of currently used workers per controller",
      labelNames,
      registers,
    }),
  };
}

function workqueueFamilies(registers: Registry[]) {
  // controller-runtime sets both labels to the controller name; dashboards select on either.
  const labelNames = ["name", "controller"] as const;
  return {
    workqueueDepth: new Gauge({
      name: "workqueue_depth",
      help: "Current depth of workqueue",
      labelNames,
      registers,
    }),
    workqueueAdds: new Counter({
      name: "workqueue_adds_total",
      help: "Total number of adds handled by workqueue",
      labelNames,
      registers,
    }),
    workqueueQueueDuration: new Histogram({
      name: "workqueue_queue_duration_seconds",
      help: "How long in seconds an item stays in workqueue before being requested",
      labelNames,
      buckets: [...WORKQUEUE_DURATION_BUCKETS],
      registers,
    }),
    workqueueWorkDuration: new Histogram({
      name: "workqueue_work_duration_seconds",
      help: "How long in seconds processing an item from workqueue takes.",
      labelNames,
      buckets: [...WORKQUEUE_DURATION_BUCKETS],
      registers,
    }),
    workqueueUnfinishedWork: new Gauge({
      name: "workqueue_unfinished_work_seconds",
      help:
        "How many seconds of work has been done that is in progress and hasn't been observed by " +
        "work_duration. Large values indicate stuck threads. One can deduce the number of stuck " +
        "threads by observing the rate at which this increases.",
      labelNames,
      registers,
    }),
    workqueueLongestRunningProcessor: new Gauge({
      name: "workqueue_longest_running_processor_seconds",
      help: "How many seconds has the longest running processor for workqueue been running.",
      labelNames,
      registers,
    }),
    workqueueRetries: new Counter({
      name: "workqueue_retries_total",
      help: "Total number of retries handled by workqueue",
      labelNames,
      registers,
    }),
  };
}

/** The metric names whose prom-client collectors read `/proc/self`, which Deno denies short of `--allow-all`. */
const PROC_METRICS = [
  "process_resident_memory_bytes",
  "process_virtual_memory_bytes",
  "process_heap_bytes",
  "process_open_fds",
  "process_max_fds",
];

/**
 * prom-client's default metrics, minus those that would read `/proc/self` (under Deno's permissions they
 * report a constant 0, which is worse than no series), plus resident memory taken from Deno itself.
 */
function registerProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry });
  for (const name of PROC_METRICS) registry.removeSingleMetric(name);
  new Gauge({
    name: "process_resident_memory_bytes",
    help: "Resident memory size in bytes.",
    registers: [registry],
    collect() {
      this.set(Deno.memoryUsage().rss);
    },
  });
}

/** Binds the work-queue metrics to controller `controller` (both `name` and `controller` labels). */
export function workqueueMetrics(metrics: OperatorMetrics, controller: string): QueueMetrics {
  const labels = { name: controller, controller };
  return {
    depth: metrics.workqueueDepth.labels(labels),
    adds: metrics.workqueueAdds.labels(labels),
    queueDuration: metrics.workqueueQueueDuration.labels(labels),
    workDuration: metrics.workqueueWorkDuration.labels(labels),
    unfinishedWorkSeconds: metrics.workqueueUnfinishedWork.labels(labels),
    longestRunningProcessorSeconds: metrics.workqueueLongestRunningProcessor.labels(labels),
    retries: metrics.workqueueRetries.labels(labels),
  };
}

/** The reconcile metrics of one controller; see {@linkcode controllerMetrics}. */
export interface ControllerMetrics {
  /** Counts a reconcile that returned normally, by its result. */
  succeeded(result: Exclude<ReconcileOutcome, "error">): void;
  /** Counts a reconcile that threw; a terminal error (no retry) is also counted as such. */
  failed(options?: { terminal?: boolean }): void;
  /** Counts a reconcile that crashed unexpectedly (a bug, not an API error). */
  panicked(): void;
  /** Records how long a reconcile took. */
  observeDuration(seconds: number): void;
  /** The number of workers currently reconciling. */
  readonly activeWorkers: { inc(): void; dec(): void };
}

/**
 * Returns the reconcile metrics of controller `controller`, first setting every series to its starting
 * value as controller-runtime does, so rates and alerts see zeros rather than missing series.
 */
export function controllerMetrics(
  metrics: OperatorMetrics,
  controller: string,
  options: { maxConcurrentReconciles: number },
): ControllerMetrics {
  const labels = { controller };
  for (const result of ["success", "error", "requeue", "requeue_after"] as const) {
    metrics.reconcileTotal.inc({ controller, result }, 0);
  }
  metrics.reconcileErrors.inc(labels, 0);
  metrics.terminalReconcileErrors.inc(labels, 0);
  metrics.reconcilePanics.inc(labels, 0);
  metrics.maxConcurrentReconciles.set(labels, options.maxConcurrentReconciles);
  metrics.activeWorkers.set(labels, 0);
  return {
    succeeded: (result) => metrics.reconcileTotal.inc({ controller, result }),
    failed: (failure = {}) => {
      if (failure.terminal) metrics.terminalReconcileErrors.inc(labels);
      metrics.reconcileErrors.inc(labels);
      metrics.reconcileTotal.inc({ controller, result: "error" });
    },
    panicked: () => metrics.reconcilePanics.inc(labels),
    observeDuration: (seconds) => metrics.reconcileTime.observe(labels, seconds),
    activeWorkers: metrics.activeWorkers.labels(labels),
  };
}

/** Counts every API request in `rest_client_requests_total{code,method,host}`. */
export function restClientObserver(metrics: OperatorMetrics): RequestObserver {
  return ({ code, method, host }) => metrics.restClientRequests.inc({ code, method, host });
}
