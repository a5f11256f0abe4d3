import assert from "node:assert/strict";
import { register as globalRegistry } from "prom-client";
import { FakeClock } from "./fake_clock.ts";
import {
  controllerMetrics,
  createOperatorMetrics,
  RECONCILE_TIME_BUCKETS,
  WORKQUEUE_DURATION_BUCKETS,
  workqueueMetrics,
} from "./metrics.ts";
import { WorkQueue } from "./workqueue.ts";

const CONTROLLER_RUNTIME_NAMES = [
  "controller_runtime_reconcile_total",
  "controller_runtime_reconcile_errors_total",
  "controller_runtime_terminal_reconcile_errors_total",
  "controller_runtime_reconcile_panics_total",
  "controller_runtime_reconcile_time_seconds",
  "controller_runtime_max_concurrent_reconciles",
  "controller_runtime_active_workers",
  "workqueue_depth",
  "workqueue_adds_total",
  "workqueue_queue_duration_seconds",
  "workqueue_work_duration_seconds",
  "workqueue_unfinished_work_seconds",
  "workqueue_longest_running_processor_seconds",
  "workqueue_retries_total",
  "rest_client_requests_total",
  "leader_election_master_status",
];

/** The sample lines of `text` (exposition format) whose metric name is exactly `name`. */
function samples(text: string, name: string): string[] {
  return text.split("\n").filter((line) =>
    line.startsWith(`${name}{`) || line.startsWith(`${name} `)
  );
}

Deno.test("createOperatorMetrics() declares controller-runtime's metric names", async () => {
  const metrics = createOperatorMetrics({ processMetrics: false });
  const text = await metrics.registry.metrics();
  for (const name of CONTROLLER_RUNTIME_NAMES) {
    assert.match(text, new RegExp(`^# TYPE ${name} `, "m"), name);
  }
});

Deno.test("createOperatorMetrics() exports process metrics that Deno can measure", async () => {
  const metrics = createOperatorMetrics();
  const text = await metrics.registry.metrics();
  const [rss] = samples(text, "process_resident_memory_bytes");
  assert.ok(Number(rss.split(" ")[1]) > 1_000_000, rss);
  assert.equal(samples(text, "process_cpu_seconds_total").length, 1);
  assert.equal(samples(text, "process_start_time_seconds").length, 1);
  assert.equal(samples(text, "nodejs_heap_size_used_bytes").length, 1);
  // These read /proc/self, which Deno refuses without --allow-all: they must not report fake zeros.
  assert.doesNotMatch(text, /^process_(open_fds|max_fds|virtual_memory_bytes|heap_bytes)/m);
});

Deno.test("createOperatorMetrics() gives each call its own registry and leaves the global one alone", async () => {
  const first = createOperatorMetrics();
  const second = createOperatorMetrics();
  first.leaderElectionMasterStatus.set({ name: "dbop" }, 1);
  second.leaderElectionMasterStatus.set({ name: "dbop" }, 0);
  assert.deepEqual(samples(await first.registry.metrics(), "leader_election_master_status"), [
    'leader_election_master_status{name="dbop"} 1',
  ]);
  assert.deepEqual(samples(await second.registry.metrics(), "leader_election_master_status"), [
    'leader_election_master_status{name="dbop"} 0',
  ]);
  assert.deepEqual(globalRegistry.getMetricsAsArray(), []);
});

Deno.test("createOperatorMetrics() uses controller-runtime's buckets", async () => {
  assert.equal(RECONCILE_TIME_BUCKETS.length, 40);
  assert.equal(RECONCILE_TIME_BUCKETS.at(-1), 60);
  assert.equal(WORKQUEUE_DURATION_BUCKETS.length, 12);
  assert.ok(Math.abs(WORKQUEUE_DURATION_BUCKETS[0] - 1e-8) < 1e-20);
  assert.ok(Math.abs(WORKQUEUE_DURATION_BUCKETS[11] - 1_000) < 1e-9);
  const metrics = createOperatorMetrics({ processMetrics: false });
  metrics.reconcileTime.observe({ controller: "c" }, 0.2);
  const text = await metrics.registry.metrics();
  const buckets = samples(text, "controller_runtime_reconcile_time_seconds_bucket");
  assert.equal(buckets.length, 41);
  assert.ok(
    buckets.includes('controller_runtime_reconcile_time_seconds_bucket{le="0.2",controller="c"} 1'),
  );
});

Deno.test("rest_client_requests_total carries code, method and host labels", async () => {
  const metrics = createOperatorMetrics({ processMetrics: false });
  metrics.restClientRequests.inc({ code: "200", method: "GET", host: "10.96.0.1:443" });
  const text = await metrics.registry.metrics();
  assert.deepEqual(samples(text, "rest_client_requests_total"), [
    'rest_client_requests_total{code="200",method="GET",host="10.96.0.1:443"} 1',
  ]);
});

Deno.test("workqueueMetrics() feeds a WorkQueue's activity into the registry", async () => {
  const metrics = createOperatorMetrics({ processMetrics: false });
  const clock = new FakeClock();
  const queue = new WorkQueue<string>({
    clock,
    metrics: workqueueMetrics(metrics, "databasecluster"),
  });
  queue.add("db/a");
  queue.add("db/b");
  queue.addAfter("db/c", 1_000);
  await queue.get();
  clock.advance(2_000);
  const text = await metrics.registry.metrics();
  const labels = '{name="databasecluster",controller="databasecluster"}';
  assert.deepEqual(samples(text, "workqueue_adds_total"), [`workqueue_adds_total${labels} 3`]);
  assert.deepEqual(samples(text, "workqueue_depth"), [`workqueue_depth${labels} 2`]);
  assert.deepEqual(samples(text, "workqueue_retries_total"), [
    `workqueue_retries_total${labels} 1`,
  ]);
  assert.deepEqual(samples(text, "workqueue_longest_running_processor_seconds"), [
    `workqueue_longest_running_processor_seconds${labels} 2`,
  ]);
  assert.deepEqual(samples(text, "workqueue_queue_duration_seconds_count"), [
    `workqueue_queue_duration_seconds_count${labels} 1`,
  ]);
  queue.done("db/a");
  const after = await metrics.registry.metrics();
  assert.deepEqual(samples(after, "workqueue_work_duration_seconds_sum"), [
    `workqueue_work_duration_seconds_sum${labels} 2`,
  ]);
  assert.deepEqual(samples(after, "workqueue_unfinished_work_seconds"), [
    `workqueue_unfinished_work_seconds${labels} 0`,
  ]);
});

Deno.test("controllerMetrics() starts every series at zero and sets max concurrent reconciles", async () => {
  const metrics = createOperatorMetrics({ processMetrics: false });
  controllerMetrics(metrics, "databasecluster", { maxConcurrentReconciles: 4 });
  const text = await metrics.registry.metrics();
  const labels = 'controller="databasecluster"';
  assert.deepEqual(samples(text, "controller_runtime_reconcile_total").sort(), [
    `controller_runtime_reconcile_total{${labels},result="error"} 0`,
    `controller_runtime_reconcile_total{${labels},result="requeue"} 0`,
    `controller_runtime_reconcile_total{${labels},result="requeue_after"} 0`,
    `controller_runtime_reconcile_total{${labels},result="success"} 0`,
  ]);
  assert.deepEqual(samples(text, "controller_runtime_reconcile_errors_total"), [
    `controller_runtime_reconcile_errors_total{${labels}} 0`,
  ]);
  assert.deepEqual(samples(text, "controller_runtime_terminal_reconcile_errors_total"), [
    `controller_runtime_terminal_reconcile_errors_total{${labels}} 0`,
  ]);
  assert.deepEqual(samples(text, "controller_runtime_reconcile_panics_total"), [
    `controller_runtime_reconcile_panics_total{${labels}} 0`,
  ]);
  assert.deepEqual(samples(text, "controller_runtime_max_concurrent_reconciles"), [
    `controller_runtime_max_concurrent_reconciles{${labels}} 4`,
  ]);
  assert.deepEqual(samples(text, "controller_runtime_active_workers"), [
    `controller_runtime_active_workers{${labels}} 0`,
  ]);
});

Deno.test("controllerMetrics() counts results, errors, terminal errors, panics and workers", async () => {
  const metrics = createOperatorMetrics({ processMetrics: false });
  const recorder = controllerMetrics(metrics, "c", { maxConcurrentReconciles: 2 });
  recorder.succeeded("success");
  recorder.succeeded("requeue_after");
  recorder.failed();
  recorder.failed({ terminal: true });
  recorder.panicked();
  recorder.observeDuration(0.3);
  recorder.activeWorkers.inc();
  recorder.activeWorkers.inc();
  recorder.activeWorkers.dec();
  const text = await metrics.registry.metrics();
  assert.deepEqual(samples(text, "controller_runtime_reconcile_total").sort(), [
    'controller_runtime_reconcile_total{controller="c",result="error"} 2',
    'controller_runtime_reconcile_total{controller="c",result="requeue"} 0',
    'controller_runtime_reconcile_total{controller="c",result="requeue_after"} 1',
    'controller_runtime_reconcile_total{controller="c",result="success"} 1',
  ]);
  assert.deepEqual(samples(text, "controller_runtime_reconcile_errors_total"), [
    'controller_runtime_reconcile_errors_total{controller="c"} 2',
  ]);
  assert.deepEqual(samples(text, "controller_runtime_terminal_reconcile_errors_total"), [
    'controller_runtime_terminal_reconcile_errors_total{controller="c"} 1',
  ]);
  assert.deepEqual(samples(text, "controller_runtime_reconcile_panics_total"), [
    'controller_runtime_reconcile_panics_total{controller="c"} 1',
  ]);
  assert.deepEqual(samples(text, "controller_runtime_reconcile_time_seconds_count"), [
    'controller_runtime_reconcile_time_seconds_count{controller="c"} 1',
  ]);
  assert.deepEqual(samples(text, "controller_runtime_active_workers"), [
    'controller_runtime_active_workers{controller="c"} 1',
  ]);
});
