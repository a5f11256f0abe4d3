/**
 * EventRecorder against the real control plane: the Event's fields as the API server stores them, the
 * server's acceptance of our MicroTime and note limits, and aggregation of a hot loop into one Event
 * with a series count written in a handful of requests.
 *
 * @module
 */
import assert from "node:assert/strict";
import { KubeClient, Resources } from "../lib/kube/mod.ts";
import { loadKubeConfig } from "../lib/kube/config.ts";
import { ConfigMaps } from "../lib/databasecluster/kinds.ts";
import { type EventObject, EventRecorder } from "../lib/runtime/events.ts";
import { createNamespace, eventually, testCluster } from "./harness/mod.ts";
import { FIELD_MANAGER } from "../lib/databasecluster/names.ts";

const cluster = testCluster();
const CONTROLLER = "database.example.com/dbop";

function report(line: string): void {
  Deno.stderr.writeSync(new TextEncoder().encode(`[events] ${line}\n`));
}

/** A recorder on its own client, counting the writes it sends. */
function newRecorder() {
  const writes: string[] = [];
  const { credentials } = loadKubeConfig({ kubeconfig: cluster.kubeconfigPath });
  const client = new KubeClient(credentials, {
    observer: ({ method, code }) => {
      if (method !== "GET") writes.push(`${method} ${code}`);
    },
  });
  const logs: string[] = [];
  const recorder = new EventRecorder(new Resources(client, { fieldManager: FIELD_MANAGER }), {
    reportingController: CONTROLLER,
    reportingInstance: "dbop-test-0",
    logger: (message, properties) => logs.push(`${message} ${JSON.stringify(properties)}`),
  });
  return { recorder, writes, logs, client };
}

async function configMap(ns: string, name: string) {
  const { credentials } = loadKubeConfig({ kubeconfig: cluster.kubeconfigPath });
  const client = new KubeClient(credentials);
  try {
    return await new Resources(client, { fieldManager: FIELD_MANAGER }).create(ConfigMaps, {
      metadata: { name, namespace: ns },
      data: { "postgresql.conf": "max_connections = 100" },
    });
  } finally {
    client.close();
  }
}

async function eventsWithReason(ns: string, reason: string): Promise<EventObject[]> {
  const out = await cluster.kubectlOk(["get", "events.v1.events.k8s.io", "-n", ns, "-o", "json"]);
  return (JSON.parse(out).items as EventObject[]).filter((e) => e.reason === reason);
}

Deno.test("EventRecorder writes an events.k8s.io/v1 Event about a ConfigMap that kubectl shows with every field", async () => {
  const ns = await createNamespace(cluster, "events-fields");
  const { recorder, logs, client } = newRecorder();
  try {
    const cm = await configMap(ns, "pg-main-config");
    recorder.record(cm, {
      type: "Warning",
      reason: "ConfigInvalid",
      action: "Reconcile",
      note: `max_connections is too low: ${"x".repeat(3000)}`,
    });
    await recorder.flush();
    assert.deepEqual(logs, []);
    const [event] = await eventsWithReason(ns, "ConfigInvalid");
    assert.ok(event, "the Event exists");
    assert.deepEqual(event.regarding, {
      apiVersion: "v1",
      kind: "ConfigMap",
      name: "pg-main-config",
      namespace: ns,
      uid: cm.metadata!.uid,
      resourceVersion: cm.metadata!.resourceVersion,
    });
    assert.equal(event.metadata!.namespace, ns);
    assert.equal(event.reportingController, CONTROLLER);
    assert.equal(event.reportingInstance, "dbop-test-0");
    assert.equal(event.type, "Warning");
    assert.equal(event.action, "Reconcile");
    assert.match(event.eventTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    assert.equal(new TextEncoder().encode(event.note).length, 1024, "note cut to 1 KiB");
    assert.ok(event.note!.startsWith("max_connections is too low: xxx"));
    assert.equal(event.series, undefined);
    // The same Event through the core/v1 API that `kubectl describe` uses.
    const described = await cluster.kubectlOk([
      "describe",
      "configmap",
      "pg-main-config",
      "-n",
      ns,
    ]);
    assert.match(described, /Warning\s+ConfigInvalid/);
  } finally {
    client.close();
    await cluster.kubectl(["delete", "namespace", ns, "--wait=false"]);
  }
});

Deno.test("EventRecorder turns 50 quick repeats into one Event with series.count 50 in a few writes", async () => {
  const ns = await createNamespace(cluster, "events-series");
  const { recorder, writes, logs, client } = newRecorder();
  try {
    const cm = await configMap(ns, "pg-main-config");
    const info = {
      type: "Normal",
      reason: "Reconciled",
      action: "Reconcile",
      note: "configuration applied",
    } as const;
    const started = Date.now();
    recorder.record(cm, info);
    await eventually("the first Event", async () => {
      return (await eventsWithReason(ns, "Reconciled")).length === 1 ? true : undefined;
    }, { timeoutMs: 10_000, intervalMs: 100 });
    for (let i = 1; i < 50; i++) recorder.record(cm, info);
    const events = await eventually("series.count 50", async () => {
      const found = await eventsWithReason(ns, "Reconciled");
      return found[0]?.series?.count === 50 ? found : undefined;
    }, { timeoutMs: 20_000, intervalMs: 200 });
    report(
      `50 occurrences -> ${events.length} Event, ${writes.length} writes (${
        writes.join(", ")
      }), count 50 visible after ${Date.now() - started} ms`,
    );
    assert.equal(events.length, 1);
    assert.match(events[0].series!.lastObservedTime, /\.\d{6}Z$/);
    // One create, then one series patch once the 5 s write interval allows it.
    assert.deepEqual(writes, ["POST 201", "PATCH 200"]);
    assert.deepEqual(logs, []);
  } finally {
    await recorder.flush();
    client.close();
    await cluster.kubectl(["delete", "namespace", ns, "--wait=false"]);
  }
});
