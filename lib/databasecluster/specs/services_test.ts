import assert from "node:assert/strict";
import { testCluster } from "../testdata/clusters.ts";
import {
  buildHeadlessService,
  buildReadOnlyService,
  buildReadService,
  buildReadWriteService,
  buildServices,
} from "./services.ts";

const INSTANCES = {
  "database.example.com/cluster": "pg",
  "app.kubernetes.io/component": "database",
};

Deno.test("buildReadWriteService() selects the primary pod", () => {
  const service = buildReadWriteService(testCluster());
  assert.equal(service.metadata?.name, "pg-rw");
  assert.equal(service.spec?.type, "ClusterIP");
  assert.deepEqual(service.spec?.selector, {
    ...INSTANCES,
    "database.example.com/role": "primary",
  });
});

Deno.test("buildReadWriteService() is a LoadBalancer with externalAccess", () => {
  const cluster = testCluster({ network: { externalAccess: true } });
  assert.equal(buildReadWriteService(cluster).spec?.type, "LoadBalancer");
  assert.equal(buildReadOnlyService(cluster).spec?.type, "ClusterIP");
});

Deno.test("buildReadOnlyService() selects the replicas only", () => {
  const service = buildReadOnlyService(testCluster());
  assert.equal(service.metadata?.name, "pg-ro");
  assert.deepEqual(service.spec?.selector, {
    ...INSTANCES,
    "database.example.com/role": "replica",
  });
});

Deno.test("buildReadService() selects any instance", () => {
  const service = buildReadService(testCluster());
  assert.equal(service.metadata?.name, "pg-r");
  assert.deepEqual(service.spec?.selector, INSTANCES);
});

Deno.test("buildHeadlessService() has no cluster IP and publishes pods before they are ready", () => {
  const service = buildHeadlessService(testCluster());
  assert.equal(service.metadata?.name, "pg-headless");
  assert.equal(service.spec?.clusterIP, "None");
  assert.equal(service.spec?.publishNotReadyAddresses, true);
  assert.deepEqual(service.spec?.selector, INSTANCES);
});

Deno.test("every Service exposes the PostgreSQL port by name with an explicit protocol", () => {
  const cluster = testCluster({ network: { port: 6543 } });
  for (const service of buildServices(cluster)) {
    assert.deepEqual(service.spec?.ports, [
      { name: "postgresql", port: 6543, targetPort: "postgresql", protocol: "TCP" },
    ]);
    assert.equal(service.apiVersion, "v1");
    assert.equal(service.metadata?.namespace, "shop");
    assert.equal(service.metadata?.labels?.["app.kubernetes.io/managed-by"], "dbop");
  }
  assert.deepEqual(buildServices(cluster).map((s) => s.metadata?.name), [
    "pg-rw",
    "pg-ro",
    "pg-r",
    "pg-headless",
  ]);
});
