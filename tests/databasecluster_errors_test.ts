/**
 * How the controller takes the API server's errors, against the real control
 * plane: a refusal only the user can fix (a quota on a child's write or on a
 * volume's resize, named with the API server's message; a class that cannot
 * expand) becomes a condition and one Warning event, is not sent again while
 * nothing changed, and does not stop the other children's drift correction; a
 * transient error (a webhook that cannot be reached: a 500) is retried with
 * backoff until it passes, with nothing changed by the user; a missing
 * `existingSecret` holds back only the StatefulSet, and is watched, so creating
 * it converges the cluster at once.
 *
 * @module
 */
import assert from "node:assert/strict";
import { parse } from "yaml";
import { eventually, testCluster } from "./harness/mod.ts";
import { type TestOperator, withOperator } from "./harness/operator.ts";
import { getJson, type Obj, waitForCluster, waitForPhase } from "./harness/clusters.ts";

const cluster = testCluster();
const external = Deno.env.get("TEST_KUBECONFIG") !== undefined;

async function apply(ns: string, name: string, spec: Obj): Promise<void> {
  const doc = parse(
    await Deno.readTextFile(new URL("../deploy/samples/minimal.yaml", import.meta.url)),
  ) as Obj;
  doc.metadata = { name, namespace: ns };
  doc.spec = { ...doc.spec, ...spec };
  await cluster.kubectlOk(["apply", "-f", "-"], { stdin: JSON.stringify(doc) });
}

async function patchSpec(ns: string, name: string, spec: Obj): Promise<void> {
  await cluster.kubectlOk([
    "patch",
    "dbc",
    name,
    "-n",
    ns,
    "--type=merge",
    "-p",
    JSON.stringify({ spec }),
  ]);
}

/** Responses with HTTP `code` the operator has received so far. */
async function responses(operator: TestOperator, code: string): Promise<number> {
  const values = (await operator.metrics.restClientRequests.get()).values;
  return values.filter((v) => String(v.labels.code) === code).reduce((sum, v) => sum + v.value, 0);
}

/** Requests with HTTP `method` the operator has sent so far. */
async function requests(operator: TestOperator, method: string): Promise<number> {
  const values = (await operator.metrics.restClientRequests.get()).values;
  return values.filter((v) => v.labels.method === method).reduce((sum, v) => sum + v.value, 0);
}

/** Reconcile errors so far. */
async function reconcileErrors(operator: TestOperator): Promise<number> {
  return (await operator.metrics.reconcileErrors.get()).values.reduce((sum, v) => sum + v.value, 0);
}

/** Pokes the cluster and waits for a reconcile to end after it (call twice: one began after it). */
async function reconciledAgain(operator: TestOperator, ns: string, name: string): Promise<void> {
  const seen = await operator.reconciles();
  await cluster.kubectlOk([
    "annotate",
    "dbc",
    name,
    "-n",
    ns,
    "--overwrite",
    `dbop.test/poke=${seen}`,
  ]);
  await eventually("a reconcile after the poke", async () => {
    return (await operator.reconciles()) > seen || undefined;
  });
}

/** A ResourceQuota `storage` on the claims' requested storage, once it is in force. */
async function storageQuota(ns: string, hard: string): Promise<void> {
  await cluster.kubectlOk([
    "create",
    "quota",
    "storage",
    "-n",
    ns,
    `--hard=requests.storage=${hard}`,
  ]);
  // Admission refuses every claim while the quota's usage is not computed yet.
  await eventually("the quota's usage", async () => {
    const quota = await getJson(cluster, ["get", "quota", "storage", "-n", ns]);
    return quota.status?.used ? true : undefined;
  });
}

function readyCondition(dbc: Obj): Obj | undefined {
  return dbc.status?.conditions?.find((c: Obj) => c.type === "Ready");
}

async function eventsFor(ns: string, name: string, reason: string): Promise<Obj[]> {
  const events = await getJson(cluster, ["get", "events.events.k8s.io", "-n", ns]);
  return events.items.filter((e: Obj) => e.reason === reason && e.regarding.name === name);
}

Deno.test({
  name: "a refused write is a ChangeRefused condition and one event, not sent again, and other " +
    "children are still corrected",
  ignore: external,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: withOperator(cluster, "dbc-refused", async (ns, operator) => {
    await storageQuota(ns, "2500Mi");
    const backup = (size: string) => ({
      enabled: true,
      schedule: "0 2 * * *",
      storage: { size, storageClassName: "fast-ssd" },
    });
    await apply(ns, "pg", {
      storage: { size: "1Gi", storageClassName: "fast-ssd" },
      backup: backup("1Gi"),
    });
    await waitForPhase(cluster, ns, "pg", "Running");
    // 2Gi in use: one more is over the quota.
    await patchSpec(ns, "pg", { backup: backup("2Gi") });
    const refused = await waitForCluster(
      cluster,
      ns,
      "pg",
      "Ready=False ChangeRefused",
      (dbc) => readyCondition(dbc)?.reason === "ChangeRefused",
    );
    const ready = readyCondition(refused);
    assert.equal(ready.status, "False");
    assert.match(ready.message, /PersistentVolumeClaim "pg-backups"/);
    assert.match(ready.message, /persistentvolumeclaims "pg-backups" is forbidden: exceeded quota/);

    // Drift correction goes on.
    await cluster.kubectlOk([
      "patch",
      "service",
      "pg-rw",
      "-n",
      ns,
      "--type=merge",
      "-p",
      '{"spec":{"selector":{"database.example.com/role":"replica"}}}',
    ]);
    await eventually("pg-rw's selector restored", async () => {
      const rw = await getJson(cluster, ["get", "service", "pg-rw", "-n", ns]);
      return rw.spec.selector["database.example.com/role"] === "primary" || undefined;
    });

    // No hot loop: later reconciles send the refused write no more.
    const refusedWrites = await responses(operator, "403");
    const errors = await reconcileErrors(operator);
    assert.ok(refusedWrites >= 1);
    await reconciledAgain(operator, ns, "pg");
    await reconciledAgain(operator, ns, "pg");
    assert.equal(await responses(operator, "403"), refusedWrites, "the write is not sent again");
    assert.equal(await reconcileErrors(operator), errors, "nor is the reconcile failing");
    const events = await eventsFor(ns, "pg", "ChangeRefused");
    assert.equal(events.length, 1, "one Warning event");
    assert.equal(events[0].type, "Warning");
    assert.equal(events[0].series, undefined, "emitted once");
    const pvc = await getJson(cluster, ["get", "pvc", "pg-backups", "-n", ns]);
    assert.equal(pvc.spec.resources.requests.storage, "1Gi");

    // The user fixes it (more quota) and changes the spec: the write is sent again and passes.
    await cluster.kubectlOk(["delete", "quota", "storage", "-n", ns]);
    await patchSpec(ns, "pg", { backup: backup("3Gi") });
    await eventually("pg-backups to request 3Gi", async () => {
      const claim = await getJson(cluster, ["get", "pvc", "pg-backups", "-n", ns]);
      return claim.spec.resources.requests.storage === "3Gi" || undefined;
    });
    await waitForCluster(
      cluster,
      ns,
      "pg",
      "the refusal cleared",
      (dbc) => readyCondition(dbc)?.reason !== "ChangeRefused",
    );
  }),
});

Deno.test({
  name: "a data volume resize the API server refuses names its cause, not the StorageClass",
  ignore: external,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: withOperator(cluster, "dbc-resize-refused", async (ns, operator) => {
    await storageQuota(ns, "1500Mi");
    await apply(ns, "pg", { storage: { size: "1Gi", storageClassName: "fast-ssd" } });
    await waitForPhase(cluster, ns, "pg", "Running");
    // fast-ssd allows expansion; the quota does not allow 2Gi.
    await patchSpec(ns, "pg", { storage: { size: "2Gi", storageClassName: "fast-ssd" } });
    const refused = await waitForCluster(
      cluster,
      ns,
      "pg",
      "Ready=False ChangeRefused",
      (dbc) => readyCondition(dbc)?.reason === "ChangeRefused",
    );
    assert.match(
      readyCondition(refused).message,
      /PersistentVolumeClaim "data-pg-0": persistentvolumeclaims "data-pg-0" is forbidden: exceeded quota/,
    );
    assert.ok(
      !refused.status.conditions.some((c: Obj) => c.reason === "VolumeExpansionNotSupported"),
      "the class is not blamed",
    );
    const refusedWrites = await responses(operator, "403");
    await reconciledAgain(operator, ns, "pg");
    await reconciledAgain(operator, ns, "pg");
    assert.equal(await responses(operator, "403"), refusedWrites, "the resize is not sent again");
    assert.equal((await eventsFor(ns, "pg", "ChangeRefused")).length, 1);
  }),
});

Deno.test({
  name: "a backup volume whose class cannot expand is not resized: VolumeExpansionNotSupported, " +
    "no write",
  ignore: external,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: withOperator(cluster, "dbc-backup-fixed", async (ns, operator) => {
    const backup = (size: string) => ({
      enabled: true,
      schedule: "0 2 * * *",
      storage: { size, storageClassName: "standard" },
    });
    await apply(ns, "pg", { backup: backup("1Gi") });
    await waitForPhase(cluster, ns, "pg", "Running");
    await patchSpec(ns, "pg", { backup: backup("2Gi") });
    const stuck = await waitForCluster(
      cluster,
      ns,
      "pg",
      "VolumeExpansionNotSupported",
      (dbc) => dbc.status?.conditions?.some((c: Obj) => c.reason === "VolumeExpansionNotSupported"),
    );
    const condition = stuck.status.conditions.find((c: Obj) =>
      c.reason === "VolumeExpansionNotSupported"
    );
    assert.match(
      condition.message,
      /PersistentVolumeClaim "pg-backups" to "2Gi": StorageClass "standard" does not allow volume expansion/,
    );
    await reconciledAgain(operator, ns, "pg");
    assert.equal(await responses(operator, "403"), 0, "no resize was sent to be refused");
    assert.equal(await reconcileErrors(operator), 0);
    assert.equal((await eventsFor(ns, "pg", "VolumeExpansionNotSupported")).length, 1);
    const pvc = await getJson(cluster, ["get", "pvc", "pg-backups", "-n", ns]);
    assert.equal(pvc.spec.resources.requests.storage, "1Gi");
  }),
});

Deno.test({
  name: "a transient error (an unreachable webhook's 500) is retried with backoff until it passes",
  ignore: external,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: withOperator(cluster, "dbc-transient", async (ns, operator) => {
    await apply(ns, "pg", {});
    await waitForPhase(cluster, ns, "pg", "Running");
    const webhook = `dbop-test-unreachable-${ns}`;
    await cluster.kubectlOk(["apply", "-f", "-"], {
      stdin: JSON.stringify({
        apiVersion: "admissionregistration.k8s.io/v1",
        kind: "ValidatingWebhookConfiguration",
        metadata: { name: webhook },
        webhooks: [{
          name: "unreachable.dbop.test",
          // Nothing listens on port 1: the API server answers 500 to each Service creation.
          clientConfig: { url: "https://127.0.0.1:1/" },
          rules: [{
            apiGroups: [""],
            apiVersions: ["v1"],
            operations: ["CREATE"],
            resources: ["services"],
          }],
          namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": ns } },
          failurePolicy: "Fail",
          sideEffects: "None",
          admissionReviewVersions: ["v1"],
          timeoutSeconds: 1,
        }],
      }),
    });
    try {
      const errors = await reconcileErrors(operator);
      await cluster.kubectlOk(["delete", "service", "pg-ro", "-n", ns]);
      await eventually(
        "two failed reconciles",
        async () => (await reconcileErrors(operator)) >= errors + 2 || undefined,
      );
      assert.ok((await responses(operator, "500")) >= 2, "the creation was tried again");
      const dbc = await getJson(cluster, ["get", "dbc", "pg", "-n", ns]);
      assert.notEqual(readyCondition(dbc)?.reason, "ChangeRefused", "not taken for a refusal");
      assert.equal((await eventsFor(ns, "pg", "ChangeRefused")).length, 0);
    } finally {
      await cluster.kubectlOk(["delete", "validatingwebhookconfiguration", webhook]);
    }
    // Nothing else changes: the retry alone brings the Service back.
    await eventually("pg-ro recreated", async () => {
      const res = await cluster.kubectl(["get", "service", "pg-ro", "-n", ns]);
      return res.code === 0 || undefined;
    });
    await waitForPhase(cluster, ns, "pg", "Running");
  }),
});

Deno.test({
  name: "a missing existingSecret holds back only the StatefulSet, and is watched by name: " +
    "creating it converges the cluster at once",
  ignore: external,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: withOperator(cluster, "dbc-user-secret", async (ns, operator) => {
    await apply(ns, "pg", { security: { authentication: { existingSecret: "pg-credentials" } } });
    const waiting = await waitForCluster(
      cluster,
      ns,
      "pg",
      "Ready=False SecretNotFound",
      (dbc) => readyCondition(dbc)?.reason === "SecretNotFound",
    );
    assert.match(readyCondition(waiting).message, /Secret "pg-credentials" named by/);
    // Only what needs the Secret waits: the Services are there and kept, the StatefulSet not.
    await cluster.kubectlOk([
      "patch",
      "service",
      "pg-rw",
      "-n",
      ns,
      "--type=merge",
      "-p",
      '{"spec":{"selector":{"database.example.com/role":"replica"}}}',
    ]);
    await eventually("pg-rw's selector restored", async () => {
      const rw = await getJson(cluster, ["get", "service", "pg-rw", "-n", ns]);
      return rw.spec.selector["database.example.com/role"] === "primary" || undefined;
    });
    const sts = await cluster.kubectl(["get", "statefulset", "pg", "-n", ns]);
    assert.notEqual(sts.code, 0, "no StatefulSet without the Secret");
    assert.equal((await eventsFor(ns, "pg", "SecretNotFound")).length, 1);
    await cluster.kubectlOk([
      "create",
      "secret",
      "generic",
      "pg-credentials",
      "--type=kubernetes.io/basic-auth",
      "--from-literal=username=app",
      "--from-literal=password=not-a-real-password",
      "-n",
      ns,
    ]);
    // The resync is 10 minutes away: only the watch can bring this in time.
    await waitForPhase(cluster, ns, "pg", "Running");
    // The reconciler reads the Secret from that watch, not from the API server.
    const reads = await requests(operator, "GET");
    await reconciledAgain(operator, ns, "pg");
    await reconciledAgain(operator, ns, "pg");
    assert.equal(await requests(operator, "GET"), reads, "no read per reconcile");
  }),
});
