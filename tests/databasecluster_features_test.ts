/**
 * Controller features beyond the basics: volume growth (expanded where the
 * StorageClass allows it, a condition where it does not), backups (a Job from
 * the CronJob completes and becomes status.lastBackup and BackupReady), the
 * PodMonitor (created once its CRD is installed, a message before), and a
 * cluster deleted while it is still being created.
 *
 * @module
 */
import assert from "node:assert/strict";
import { parse } from "yaml";
import { eventually, testCluster } from "./harness/mod.ts";
import { withOperator } from "./harness/operator.ts";
import {
  getJson,
  installPodMonitorCrd,
  type Obj,
  waitForCluster,
  waitForPhase,
} from "./harness/clusters.ts";

const cluster = testCluster();

async function apply(ns: string, name: string, spec: Obj): Promise<void> {
  const doc = parse(
    await Deno.readTextFile(new URL("../deploy/samples/minimal.yaml", import.meta.url)),
  ) as Obj;
  doc.metadata = { name, namespace: ns };
  doc.spec = { ...doc.spec, ...spec };
  await cluster.kubectlOk(["apply", "-f", "-"], { stdin: JSON.stringify(doc) });
}

Deno.test({
  name: "growing storage expands volumes whose class allows it and explains when it does not",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: withOperator(cluster, "dbc-storage", async (ns) => {
    await apply(ns, "grow", { storage: { size: "1Gi", storageClassName: "fast-ssd" } });
    await apply(ns, "fixed", { storage: { size: "1Gi", storageClassName: "standard" } });
    await waitForPhase(cluster, ns, "grow", "Running");
    await waitForPhase(cluster, ns, "fixed", "Running");
    for (const name of ["grow", "fixed"]) {
      await cluster.kubectlOk([
        "patch",
        "dbc",
        name,
        "-n",
        ns,
        "--type=merge",
        "-p",
        '{"spec":{"storage":{"size":"2Gi"}}}',
      ]);
    }
    await eventually("data-grow-0 to request 2Gi", async () => {
      const pvc = await getJson(cluster, ["get", "pvc", "data-grow-0", "-n", ns]);
      return pvc.spec.resources.requests.storage === "2Gi" ? true : undefined;
    });
    const fixed = await waitForCluster(
      cluster,
      ns,
      "fixed",
      "VolumeExpansionNotSupported",
      (dbc) => dbc.status?.conditions?.some((c: Obj) => c.reason === "VolumeExpansionNotSupported"),
    );
    const condition = fixed.status.conditions.find((c: Obj) =>
      c.reason === "VolumeExpansionNotSupported"
    );
    assert.match(condition.message, /StorageClass "standard" does not allow volume expansion/);
    const pvc = await getJson(cluster, ["get", "pvc", "data-fixed-0", "-n", ns]);
    assert.equal(pvc.spec.resources.requests.storage, "1Gi", "the fixed volume is left alone");
    const sts = await getJson(cluster, ["get", "statefulset", "grow", "-n", ns]);
    assert.equal(
      sts.spec.volumeClaimTemplates[0].spec.resources.requests.storage,
      "1Gi",
      "the immutable claim template is not touched",
    );
  }),
});

Deno.test({
  name: "a completed backup Job becomes status.lastBackup and BackupReady with an event",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: withOperator(cluster, "dbc-backup", async (ns) => {
    await apply(ns, "pg", {
      backup: { enabled: true, schedule: "0 2 * * *", retention: 3, storage: { size: "1Gi" } },
    });
    const running = await waitForPhase(cluster, ns, "pg", "Running");
    const waiting = running.status.conditions.find((c: Obj) => c.type === "BackupReady");
    assert.equal(waiting.status, "Unknown");
    await cluster.kubectlOk([
      "create",
      "job",
      "pg-backup-manual",
      "--from=cronjob/pg-backup",
      "-n",
      ns,
    ]);
    const done = await waitForCluster(
      cluster,
      ns,
      "pg",
      "BackupReady=True",
      (dbc) =>
        dbc.status?.conditions?.some((c: Obj) => c.type === "BackupReady" && c.status === "True"),
      120_000,
    );
    assert.equal(done.status.lastBackup.name, "pg-backup-manual");
    assert.ok(done.status.lastBackup.completionTime);
    const events = await getJson(cluster, ["get", "events.events.k8s.io", "-n", ns]);
    assert.ok(
      events.items.some((e: Obj) => e.reason === "BackupSucceeded" && e.regarding.name === "pg"),
    );
  }),
});

Deno.test({
  name: "a PodMonitor appears once its CRD is installed; before that the status says why not",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: withOperator(cluster, "dbc-monitor", async (ns) => {
    await cluster.kubectl([
      "delete",
      "crd",
      "podmonitors.monitoring.coreos.com",
      "--ignore-not-found",
    ]);
    await apply(ns, "pg", { monitoring: { enabled: true, podMonitor: true } });
    const before = await waitForPhase(cluster, ns, "pg", "Running");
    assert.match(
      before.status.message,
      /PodMonitor not created: the monitoring.coreos.com CRD is not installed/,
    );
    const sts = await getJson(cluster, ["get", "statefulset", "pg", "-n", ns]);
    const ports = sts.spec.template.spec.containers.flatMap((c: Obj) => c.ports ?? []);
    assert.ok(ports.some((p: Obj) => p.name === "metrics" && p.containerPort === 9187));
    await installPodMonitorCrd(cluster);
    try {
      const monitor = await eventually("the PodMonitor", async () => {
        const res = await cluster.kubectl([
          "get",
          "podmonitors.monitoring.coreos.com",
          "pg",
          "-n",
          ns,
          "-o",
          "json",
        ]);
        return res.code === 0 ? JSON.parse(res.stdout) : undefined;
      }, { timeoutMs: 60_000 });
      assert.equal(monitor.metadata.ownerReferences[0].kind, "DatabaseCluster");
      assert.equal(monitor.spec.podMetricsEndpoints[0].port, "metrics");
      await waitForCluster(
        cluster,
        ns,
        "pg",
        "the notice gone",
        (dbc) => !/PodMonitor not created/.test(dbc.status?.message ?? ""),
      );
    } finally {
      await cluster.kubectl(["delete", "crd", "podmonitors.monitoring.coreos.com", "--wait=false"]);
    }
  }),
});

Deno.test({
  name: "a cluster deleted while it is still being created goes away cleanly",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: withOperator(cluster, "dbc-early-delete", async (ns) => {
    await apply(ns, "brief", { replicas: 3, deletionPolicy: "Delete" });
    await eventually("the finalizer", async () => {
      const dbc = await getJson(cluster, ["get", "dbc", "brief", "-n", ns]);
      return dbc.metadata.finalizers?.length ? true : undefined;
    });
    await cluster.kubectlOk(["delete", "dbc", "brief", "-n", ns, "--timeout=60s"]);
    await eventually("children gone", async () => {
      const res = await cluster.kubectl(["get", "statefulset,pvc", "-n", ns, "-o", "name"]);
      const left = res.stdout.trim();
      if (res.code !== 0 || left !== "") throw new Error(`still there: ${left || res.stderr}`);
      return true;
    }, { timeoutMs: 90_000 });
  }),
});
