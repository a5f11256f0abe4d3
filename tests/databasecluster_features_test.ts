/**
 * Controller features beyond the basics: volume growth (expanded where the
 * StorageClass allows it, a condition where it does not), backups (a Job from
 * the CronJob completes and becomes status.lastBackup and BackupReady: the
 * API-side bookkeeping only, since kwok completes Job pods without running
 * them; tests/postgres_test.ts runs the Job's pg_dump for real), the
 * PodMonitor (created once its CRD is installed, a message before), a
 * cluster deleted while it is still being created, and the instance
 * managers' identity (ServiceAccount, Role, RoleBinding, status token
 * Secret), whose real token reaches its own cluster and nothing else.
 *
 * @module
 */
import assert from "node:assert/strict";
import { parse } from "yaml";
import type { Credentials } from "../lib/kube/mod.ts";
import { ForbiddenError, KubeClient, Resources } from "../lib/kube/mod.ts";
import { loadKubeConfig } from "../lib/kube/config.ts";
import { DatabaseClusters } from "../lib/databasecluster/cache.ts";
import { ConfigMaps, Pods, Secrets } from "../lib/databasecluster/kinds.ts";
import { INSTANCE_FIELD_MANAGER } from "../lib/instance/cluster.ts";
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
  name: "a completed backup Job becomes status.lastBackup and BackupReady with an event " +
    "(bookkeeping only: kwok completes the Job's pod without running pg_dump; " +
    "postgres_test.ts runs it for real)",
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
      const res = await cluster.kubectl(["get", "statefulset,pvc,pod", "-n", ns, "-o", "json"]);
      if (res.code !== 0) throw new Error(res.stderr);
      // What holds each leftover: its finalizers, deletion time and owners.
      const left = JSON.parse(res.stdout).items.map((o: Obj) =>
        `${o.kind}/${o.metadata.name} finalizers=${JSON.stringify(o.metadata.finalizers ?? [])} ` +
        `deleting=${o.metadata.deletionTimestamp ?? "no"} owners=${
          JSON.stringify((o.metadata.ownerReferences ?? []).map((r: Obj) => `${r.kind}/${r.name}`))
        }`
      );
      if (left.length > 0) throw new Error(`still there: ${left.join("; ")}`);
      return true;
    }, { timeoutMs: 90_000 });
  }),
});

/** Our client authenticated by a bearer token alone, trusting the test cluster's CA. */
async function resourcesWithToken(token: string, fieldManager: string): Promise<Resources> {
  const admin = loadKubeConfig({ kubeconfig: cluster.kubeconfigPath }).credentials;
  const { ca } = await admin.authenticate();
  const credentials: Credentials = {
    server: admin.server,
    authenticate: () => Promise.resolve({ headers: { Authorization: `Bearer ${token}` }, ca }),
    invalidate: () => {},
  };
  return new Resources(new KubeClient(credentials), { fieldManager });
}

async function refused(what: string, request: () => Promise<unknown>): Promise<void> {
  await assert.rejects(request, (e) => e instanceof ForbiddenError, `${what} is refused`);
}

Deno.test({
  name:
    "each cluster gets its instance ServiceAccount, Role, RoleBinding and status token, and the token reaches only its own cluster",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: withOperator(cluster, "dbc-instance-rbac", async (ns) => {
    await apply(ns, "pg", {});
    await apply(ns, "other", {});
    const dbc = await waitForPhase(cluster, ns, "pg", "Running");
    await waitForPhase(cluster, ns, "other", "Running");
    const owned = (obj: Obj, what: string) => {
      const owner = obj.metadata.ownerReferences?.find((r: Obj) => r.controller);
      assert.equal(owner?.uid, dbc.metadata.uid, `${what} is controlled by the cluster`);
      assert.equal(owner?.blockOwnerDeletion, true);
      assert.equal(obj.metadata.labels["app.kubernetes.io/managed-by"], "dbop");
      assert.equal(obj.metadata.labels["database.example.com/cluster"], "pg");
    };
    const account = await getJson(cluster, ["get", "serviceaccount", "pg-instance", "-n", ns]);
    owned(account, "ServiceAccount");
    assert.equal(account.automountServiceAccountToken, true);
    const role = await getJson(cluster, ["get", "role", "pg-instance", "-n", ns]);
    owned(role, "Role");
    const rules = (name: string) => [
      {
        apiGroups: ["database.example.com"],
        resources: ["databaseclusters"],
        resourceNames: [name],
        verbs: ["get", "list", "watch"],
      },
      {
        apiGroups: ["database.example.com"],
        resources: ["databaseclusters/status"],
        resourceNames: [name],
        verbs: ["patch"],
      },
      {
        apiGroups: [""],
        resources: ["secrets"],
        resourceNames: [
          `${name}-superuser`,
          `${name}-replication`,
          `${name}-app`,
          `${name}-status`,
          `${name}-server`,
        ],
        verbs: ["list", "watch"],
      },
      {
        apiGroups: [""],
        resources: ["configmaps"],
        resourceNames: [`${name}-config`],
        verbs: ["list", "watch"],
      },
      { apiGroups: ["events.k8s.io"], resources: ["events"], verbs: ["create", "patch"] },
      {
        apiGroups: ["coordination.k8s.io"],
        resources: ["leases"],
        resourceNames: [`${name}-primary`],
        verbs: ["get", "update"],
      },
      { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create"] },
    ];
    assert.deepEqual(role.rules, rules("pg"), "exactly the instance manager's needs");
    const binding = await getJson(cluster, ["get", "rolebinding", "pg-instance", "-n", ns]);
    owned(binding, "RoleBinding");
    assert.deepEqual(binding.roleRef, {
      apiGroup: "rbac.authorization.k8s.io",
      kind: "Role",
      name: "pg-instance",
    });
    assert.deepEqual(binding.subjects, [
      { kind: "ServiceAccount", name: "pg-instance", namespace: ns },
    ]);
    const secret = await getJson(cluster, ["get", "secret", "pg-status", "-n", ns]);
    owned(secret, "Secret");
    assert.equal(secret.type, "Opaque");
    assert.deepEqual(Object.keys(secret.data), ["token"]);
    const statusToken = atob(secret.data.token);
    assert.match(statusToken, /^[A-Za-z0-9]{40}$/, "a generated token");
    const otherSecret = await getJson(cluster, ["get", "secret", "other-status", "-n", ns]);
    assert.notEqual(atob(otherSecret.data.token), statusToken, "one token per cluster");
    const otherRole = await getJson(cluster, ["get", "role", "other-instance", "-n", ns]);
    assert.deepEqual(otherRole.rules, rules("other"));

    const token = (await cluster.kubectlOk([
      "create",
      "token",
      "pg-instance",
      "-n",
      ns,
      "--duration=10m",
    ])).trim();
    const asInstance = await resourcesWithToken(token, INSTANCE_FIELD_MANAGER);
    try {
      // What the instance manager does: get, list and watch its cluster by name, apply status.
      const own = await asInstance.get(DatabaseClusters, "pg", { namespace: ns });
      assert.equal(own.metadata?.uid, dbc.metadata.uid);
      const byName = { namespace: ns, fieldSelector: "metadata.name=pg" };
      const listed = await asInstance.list(DatabaseClusters, byName);
      assert.deepEqual(listed.items.map((i) => i.metadata?.name), ["pg"]);
      const stream = await asInstance.watch(DatabaseClusters, {
        ...byName,
        resourceVersion: listed.metadata.resourceVersion!,
        timeoutSeconds: 1,
      });
      assert.equal(stream.status, 200, "the watch is allowed");
      await stream.body?.cancel();
      await asInstance.apply(DatabaseClusters, {
        apiVersion: "database.example.com/v1",
        kind: "DatabaseCluster",
        metadata: { name: "pg", namespace: ns },
        status: { systemIdentifier: "7400000000000000001" },
      }, { subresource: "status" });
      const written = await getJson(cluster, [
        "get",
        "dbc",
        "pg",
        "-n",
        ns,
        "--show-managed-fields",
      ]);
      assert.equal(written.status.systemIdentifier, "7400000000000000001");
      assert.ok(
        written.metadata.managedFields.some((f: Obj) =>
          f.manager === INSTANCE_FIELD_MANAGER && f.subresource === "status"
        ),
        "written under the instance's field manager",
      );

      // Its credential Secrets, by name, as the instance manager follows them.
      const appSecret = await asInstance.list(Secrets, {
        namespace: ns,
        fieldSelector: "metadata.name=pg-app",
      });
      assert.deepEqual(appSecret.items.map((s) => s.metadata?.name), ["pg-app"]);
      // Its status token, by name, so its endpoint accepts a new one without a restart.
      const statusSecret = await asInstance.list(Secrets, {
        namespace: ns,
        fieldSelector: "metadata.name=pg-status",
      });
      assert.deepEqual(statusSecret.items.map((s) => s.metadata?.name), ["pg-status"]);
      // Its ConfigMap and server certificate, by name, as it keeps their files.
      const serverSecret = await asInstance.list(Secrets, {
        namespace: ns,
        fieldSelector: "metadata.name=pg-server",
      });
      assert.deepEqual(serverSecret.items.map((s) => s.metadata?.name), ["pg-server"]);
      const config = { namespace: ns, fieldSelector: "metadata.name=pg-config" };
      const configMaps = await asInstance.list(ConfigMaps, config);
      assert.deepEqual(configMaps.items.map((c) => c.metadata?.name), ["pg-config"]);
      const configStream = await asInstance.watch(ConfigMaps, {
        ...config,
        resourceVersion: configMaps.metadata.resourceVersion!,
        timeoutSeconds: 1,
      });
      assert.equal(configStream.status, 200, "the ConfigMap watch is allowed");
      await configStream.body?.cancel();

      // Anything else is refused: another cluster, the whole namespace, the spec, other
      // Secrets, pods.
      await refused(
        "get of another cluster",
        () => asInstance.get(DatabaseClusters, "other", { namespace: ns }),
      );
      await refused(
        "list of another cluster by name",
        () =>
          asInstance.list(DatabaseClusters, {
            namespace: ns,
            fieldSelector: "metadata.name=other",
          }),
      );
      await refused(
        "list of every cluster",
        () => asInstance.list(DatabaseClusters, { namespace: ns }),
      );
      await refused(
        "a watch of every cluster",
        () =>
          asInstance.watch(DatabaseClusters, {
            namespace: ns,
            resourceVersion: listed.metadata.resourceVersion!,
            timeoutSeconds: 1,
          }),
      );
      await refused("status of another cluster", () =>
        asInstance.apply(DatabaseClusters, {
          apiVersion: "database.example.com/v1",
          kind: "DatabaseCluster",
          metadata: { name: "other", namespace: ns },
          status: { systemIdentifier: "7400000000000000002" },
        }, { subresource: "status" }));
      await refused(
        "a patch of its own cluster's spec",
        () =>
          asInstance.patch(DatabaseClusters, "pg", { spec: { replicas: 3 } }, { namespace: ns }),
      );
      await refused(
        "its own status token Secret",
        () => asInstance.get(Secrets, "pg-status", { namespace: ns }),
      );
      await refused("listing Secrets", () => asInstance.list(Secrets, { namespace: ns }));
      await refused(
        "another cluster's credentials",
        () => asInstance.list(Secrets, { namespace: ns, fieldSelector: "metadata.name=other-app" }),
      );
      await refused(
        "another cluster's status token",
        () =>
          asInstance.list(Secrets, { namespace: ns, fieldSelector: "metadata.name=other-status" }),
      );
      await refused(
        "another cluster's ConfigMap",
        () =>
          asInstance.list(ConfigMaps, {
            namespace: ns,
            fieldSelector: "metadata.name=other-config",
          }),
      );
      await refused("listing ConfigMaps", () => asInstance.list(ConfigMaps, { namespace: ns }));
      await refused(
        "another cluster's certificate",
        () =>
          asInstance.list(Secrets, { namespace: ns, fieldSelector: "metadata.name=other-server" }),
      );
      await refused(
        "its CA's key",
        () => asInstance.list(Secrets, { namespace: ns, fieldSelector: "metadata.name=pg-ca" }),
      );
      await refused("listing pods", () => asInstance.list(Pods, { namespace: ns }));
    } finally {
      asInstance.client.close();
    }
    const other = await getJson(cluster, ["get", "dbc", "other", "-n", ns]);
    assert.equal(other.status.systemIdentifier, undefined, "the other cluster is untouched");
    const canI = async (...args: string[]) =>
      (await cluster.kubectl([
        "auth",
        "can-i",
        ...args,
        "-n",
        ns,
        `--as=system:serviceaccount:${ns}:pg-instance`,
      ])).stdout.trim();
    assert.equal(await canI("watch", "databaseclusters/pg"), "yes");
    assert.equal(await canI("patch", "databaseclusters/pg", "--subresource=status"), "yes");
    assert.equal(await canI("delete", "databaseclusters/pg"), "no");
    assert.equal(await canI("get", "databaseclusters/other"), "no");
    assert.equal(await canI("get", "secrets/pg-status"), "no");
    assert.equal(await canI("watch", "secrets/pg-status"), "yes");
    assert.equal(await canI("watch", "secrets/other-status"), "no");
    assert.equal(await canI("watch", "secrets/pg-app"), "yes");
    assert.equal(await canI("get", "secrets/pg-app"), "no");
    assert.equal(await canI("watch", "configmaps/pg-config"), "yes");
    assert.equal(await canI("watch", "configmaps/other-config"), "no");
    assert.equal(await canI("create", "pods"), "no");
  }),
});
