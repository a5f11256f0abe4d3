/**
 * The controller and manager against the real API server: retries, each
 * after at least its backoff delay, until success, no retry after a
 * TerminalError, requeue-after honoured, `/readyz` false until the caches
 * sync (here: until the watched CRD exists) and true after, `/metrics` with
 * controller-runtime's names.
 *
 * @module
 */
import assert from "node:assert/strict";
import { resourceType } from "../lib/kube/mod.ts";
import { ConfigMaps } from "../lib/databasecluster/kinds.ts";
import {
  Controller,
  createOperatorMetrics,
  Manager,
  type Request,
  restClientObserver,
  TerminalError,
} from "../lib/runtime/mod.ts";
import { createNamespace, eventually, resourcesFor, testCluster } from "./harness/mod.ts";

const cluster = testCluster();

Deno.test({
  name: "a controller retries with backoff, stops on TerminalError and honours requeueAfter",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const ns = await createNamespace(cluster, "ctrl");
    const metrics = createOperatorMetrics();
    const resources = resourcesFor(cluster.kubeconfigPath, {
      observer: restClientObserver(metrics),
    });
    const stop = new AbortController();
    const manager = new Manager(resources, {
      metrics,
      metricsBindAddress: "127.0.0.1:0",
      healthProbeBindAddress: "127.0.0.1:0",
    });
    const attempts = new Map<string, number[]>();
    const inFlight = new Set<string>();
    let overlapped = false;
    const reconcile = async (req: Request) => {
      const key = req.name;
      if (inFlight.has(key)) overlapped = true;
      inFlight.add(key);
      try {
        const times = attempts.get(key) ?? [];
        times.push(performance.now());
        attempts.set(key, times);
        await new Promise((r) => setTimeout(r, 5));
        if (key === "flaky" && times.length <= 5) throw new Error(`attempt ${times.length} fails`);
        if (key === "terminal") throw new TerminalError("the user must fix this");
        if (key === "buggy" && times.length === 1) {
          // A programming error: counted as a panic, retried, and the controller keeps going.
          (undefined as unknown as { field: string }).field;
        }
        if (key === "periodic" && times.length < 3) return { requeueAfter: 500 };
        return {};
      } finally {
        inFlight.delete(key);
      }
    };
    const informer = manager.informer(ConfigMaps, { namespace: ns });
    const controller = new Controller("test", reconcile, { metrics, maxConcurrentReconciles: 3 });
    manager.add(controller.watchFor(informer));
    const running = manager.run(stop.signal);
    try {
      for (const name of ["flaky", "terminal", "periodic", "buggy"]) {
        await resources.create(ConfigMaps, { metadata: { name, namespace: ns } });
      }
      await eventually(
        "flaky to succeed on its 6th attempt",
        () => Promise.resolve((attempts.get("flaky")?.length ?? 0) >= 6 ? true : undefined),
      );
      assert.ok(
        informer.store.list().every((cm) => cm.metadata?.managedFields === undefined),
        "the manager's cache holds no managedFields",
      );
      // The exact backoff sequence is proven on a fake clock in lib/runtime/controller_test.ts. Here,
      // with real timers, a delay is only a lower bound (scheduling noise only adds to it), so each gap
      // is checked against its nominal backoff and never against another gap. A gap also holds the
      // reconcile's own 5 ms sleep, slack for the queue's 1 ms Date.now() granularity.
      const flaky = attempts.get("flaky")!;
      const gaps = flaky.slice(1).map((t, i) => t - flaky[i]);
      const shown = gaps.map((g) => g.toFixed(0)).join(", ");
      for (const [i, backoff] of [5, 10, 20, 40, 80].entries()) {
        assert.ok(gaps[i] >= backoff, `retry ${i + 1} waits at least ${backoff} ms: ${shown} ms`);
      }
      await eventually(
        "periodic to be requeued twice",
        () => Promise.resolve((attempts.get("periodic")?.length ?? 0) >= 3 ? true : undefined),
      );
      const periodic = attempts.get("periodic")!;
      assert.ok(periodic[1] - periodic[0] >= 480, "requeueAfter 500 ms is honoured");
      // Not a sleep: once nothing is waiting, delayed or in progress, no retry can come.
      await eventually(
        "the queue settled",
        () => Promise.resolve(controller.settled() || undefined),
      );
      assert.equal(attempts.get("terminal")?.length, 1, "a TerminalError is not retried");
      assert.equal(attempts.get("flaky")?.length, 6, "no retry after the success");
      assert.equal(
        attempts.get("periodic")?.length,
        3,
        "no requeue once the reconcile returns none",
      );
      assert.equal(overlapped, false, "an object is never reconciled twice at once");

      const text = await (await fetch(`http://127.0.0.1:${manager.ports.metrics}/metrics`)).text();
      const value = (line: string) => {
        const found = text.split("\n").find((l) => l.startsWith(line + " "));
        return found === undefined ? undefined : Number(found.slice(line.length + 1));
      };
      assert.equal(
        value('controller_runtime_reconcile_total{controller="test",result="error"}'),
        7,
      );
      assert.equal(value('controller_runtime_reconcile_panics_total{controller="test"}'), 1);
      assert.equal(attempts.get("buggy")?.length, 2, "a panicking reconcile is retried");
      assert.equal(
        value('controller_runtime_terminal_reconcile_errors_total{controller="test"}'),
        1,
      );
      assert.equal(
        value('controller_runtime_reconcile_total{controller="test",result="requeue_after"}'),
        2,
      );
      assert.ok(
        value('controller_runtime_reconcile_total{controller="test",result="success"}')! >= 2,
      );
      assert.equal(value('controller_runtime_max_concurrent_reconciles{controller="test"}'), 3);
      assert.ok(value('workqueue_adds_total{name="test",controller="test"}')! >= 3);
      assert.ok(value('workqueue_retries_total{name="test",controller="test"}')! >= 5);
      for (
        const name of [
          "controller_runtime_reconcile_errors_total",
          "controller_runtime_reconcile_panics_total",
          "controller_runtime_reconcile_time_seconds_bucket",
          "controller_runtime_active_workers",
          "workqueue_depth",
          "workqueue_queue_duration_seconds_bucket",
          "workqueue_work_duration_seconds_bucket",
          "workqueue_unfinished_work_seconds",
          "workqueue_longest_running_processor_seconds",
          'rest_client_requests_total{code="201",method="POST"',
          "process_cpu_seconds_total",
        ]
      ) assert.ok(text.includes(name), `/metrics has ${name}`);
    } finally {
      stop.abort();
      await running;
      resources.client.close();
      await cluster.kubectl(["delete", "namespace", ns, "--wait=false"]);
    }
  },
});

Deno.test({
  name: "/readyz stays unready until every cache syncs, then reports ready",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const group = `g${crypto.randomUUID().slice(0, 6)}.test.dbop.io`;
    const widgets = resourceType(group, "v1", "Widget");
    const resources = resourcesFor(cluster.kubeconfigPath);
    const stop = new AbortController();
    const manager = new Manager(resources, {
      metrics: createOperatorMetrics({ processMetrics: false }),
      metricsBindAddress: "0",
      healthProbeBindAddress: "127.0.0.1:0",
    });
    const informer = manager.informer(widgets);
    manager.add(new Controller("widgets", () => Promise.resolve({})).watchFor(informer));
    const running = manager.run(stop.signal);
    const readyz = async () => {
      const res = await fetch(`http://127.0.0.1:${manager.ports.health}/readyz`);
      return { status: res.status, body: await res.text() };
    };
    try {
      await new Promise((r) => setTimeout(r, 1500));
      const before = await readyz();
      assert.equal(before.status, 503);
      assert.match(before.body, new RegExp(`Widget\\.${group.replaceAll(".", "\\.")}`));
      const healthz = await fetch(`http://127.0.0.1:${manager.ports.health}/healthz`);
      assert.equal(healthz.status, 200);
      await healthz.body?.cancel();
      await cluster.kubectlOk(["apply", "-f", "-"], {
        stdin: JSON.stringify({
          apiVersion: "apiextensions.k8s.io/v1",
          kind: "CustomResourceDefinition",
          metadata: { name: `widgets.${group}` },
          spec: {
            group,
            names: { kind: "Widget", plural: "widgets" },
            scope: "Namespaced",
            versions: [{
              name: "v1",
              served: true,
              storage: true,
              schema: {
                openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
              },
            }],
          },
        }),
      });
      await eventually("/readyz to turn 200", async () => {
        const now = await readyz();
        return now.status === 200 ? true : undefined;
      }, { timeoutMs: 60_000 });
    } finally {
      stop.abort();
      await running;
      resources.client.close();
      await cluster.kubectl(["delete", "crd", `widgets.${group}`, "--wait=false"]);
    }
  },
});
