import assert from "node:assert/strict";
import { testCluster } from "../testdata/clusters.ts";
import { buildPodMonitor, wantsPodMonitor } from "./pod_monitor.ts";

const MONITORED = { monitoring: { enabled: true, podMonitor: true, path: "/stats" } };

Deno.test("buildPodMonitor() scrapes the metrics port of the instances", () => {
  const monitor = buildPodMonitor(testCluster(MONITORED), { crdInstalled: true });
  assert.equal(monitor?.apiVersion, "monitoring.coreos.com/v1");
  assert.equal(monitor?.kind, "PodMonitor");
  assert.equal(monitor?.metadata.name, "pg");
  assert.equal(monitor?.metadata.labels?.["app.kubernetes.io/component"], "monitoring");
  assert.deepEqual(monitor?.spec.podMetricsEndpoints, [{ port: "metrics", path: "/stats" }]);
  assert.deepEqual(monitor?.spec.selector.matchLabels, {
    "database.example.com/cluster": "pg",
    "app.kubernetes.io/component": "database",
  });
});

Deno.test("buildPodMonitor() builds nothing without the CRD or when not asked for", () => {
  assert.equal(wantsPodMonitor(testCluster(MONITORED)), true);
  assert.equal(buildPodMonitor(testCluster(MONITORED), { crdInstalled: false }), undefined);
  const plain = testCluster({ monitoring: { enabled: true } });
  assert.equal(wantsPodMonitor(plain), false);
  assert.equal(buildPodMonitor(plain, { crdInstalled: true }), undefined);
});
