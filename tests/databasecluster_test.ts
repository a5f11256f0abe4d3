/**
 * The DatabaseCluster controller against the real control plane (kwok makes
 * pods Ready): the samples converge with every child named, labelled and
 * owned as promised, status and events follow; scale, minor upgrade, refused
 * major upgrade, drift correction (the instances' Role, RoleBinding,
 * ServiceAccount and status token included) and both deletion policies.
 *
 * @module
 */
import assert from "node:assert/strict";
import { isDeepStrictEqual } from "node:util";
import { parse } from "yaml";
import { createNamespace, eventually, testCluster } from "./harness/mod.ts";
import { startOperator, withOperator } from "./harness/operator.ts";
import {
  ensureCrd,
  getJson,
  type Obj,
  recordStatuses,
  waitForCluster,
  waitForPhase,
} from "./harness/clusters.ts";

const cluster = testCluster();
const SAMPLES = new URL("../deploy/samples/", import.meta.url);

async function sample(file: string, namespace: string): Promise<Obj> {
  const doc = parse(await Deno.readTextFile(new URL(file, SAMPLES))) as Obj;
  doc.metadata.namespace = namespace;
  return doc;
}

const LABEL_KEYS = [
  "app.kubernetes.io/name",
  "app.kubernetes.io/instance",
  "app.kubernetes.io/managed-by",
  "app.kubernetes.io/component",
  "database.example.com/cluster",
];

Deno.test({
  name: "the samples converge with every child named, labelled and owned as promised",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await ensureCrd(cluster);
    const ns = await createNamespace(cluster, "dbc-samples");
    const operator = startOperator(cluster.kubeconfigPath, { namespaces: [ns] });
    try {
      await cluster.kubectlOk([
        "create",
        "secret",
        "generic",
        "orders-app-credentials",
        "--type=kubernetes.io/basic-auth",
        "--from-literal=username=orders",
        "--from-literal=password=not-a-real-password",
        "-n",
        ns,
      ]);
      for (const file of ["minimal.yaml", "production.yaml", "design_notes.yaml"]) {
        await cluster.kubectlOk(["apply", "-f", "-"], {
          stdin: JSON.stringify(await sample(file, ns)),
        });
      }
      const names = (await getJson(cluster, ["get", "dbc", "-n", ns])).items.map((i: Obj) =>
        i.metadata.name
      );
      for (const name of names) {
        const dbc = await waitForPhase(cluster, ns, name, "Running", 120_000);
        const ready = dbc.status.conditions.find((c: Obj) => c.type === "Ready");
        assert.equal(ready.status, "True", `${name} Ready`);
        assert.equal(dbc.status.observedGeneration, dbc.metadata.generation);
        assert.equal(dbc.status.readyReplicas, dbc.spec.replicas);
        assert.equal(dbc.status.currentPrimary, `${name}-0`);
        assert.equal(dbc.status.endpoints.rw, `${name}-rw.${ns}.svc`);
        const uid = dbc.metadata.uid;
        const expected = [
          ["statefulset", name],
          ["service", `${name}-rw`],
          ["service", `${name}-ro`],
          ["service", `${name}-r`],
          ["service", `${name}-headless`],
          ["secret", `${name}-superuser`],
          ["configmap", `${name}-config`],
          ["secret", `${name}-status`],
          ["serviceaccount", `${name}-instance`],
          ["role", `${name}-instance`],
          ["rolebinding", `${name}-instance`],
        ];
        if (!dbc.spec.security?.authentication?.existingSecret) {
          expected.push(["secret", `${name}-app`]);
        }
        if (dbc.spec.security.tls.enabled) {
          expected.push(["secret", `${name}-ca`], ["secret", `${name}-server`]);
        }
        if (dbc.spec.replicas > 1) expected.push(["poddisruptionbudget", name]);
        if (dbc.spec.backup.enabled) {
          expected.push(["cronjob", `${name}-backup`], ["pvc", `${name}-backups`]);
        }
        for (const [kind, child] of expected) {
          const obj = await getJson(cluster, ["get", kind, child, "-n", ns]);
          for (const key of LABEL_KEYS) {
            assert.ok(obj.metadata.labels?.[key], `${kind}/${child} has label ${key}`);
          }
          assert.equal(obj.metadata.labels["database.example.com/cluster"], name);
          const owner = obj.metadata.ownerReferences?.find((r: Obj) => r.controller);
          assert.equal(owner?.uid, uid, `${kind}/${child} is controlled by the cluster`);
        }
        const sts = await getJson(cluster, ["get", "statefulset", name, "-n", ns]);
        assert.equal(sts.spec.replicas, dbc.spec.replicas);
        assert.equal(sts.spec.serviceName, `${name}-headless`);
        assert.equal(sts.spec.volumeClaimTemplates[0].metadata.name, "data");
        const image = sts.spec.template.spec.containers[0].image;
        assert.equal(image, dbc.spec.image ?? `postgres:${dbc.spec.version}`);
        const rw = await getJson(cluster, ["get", "service", `${name}-rw`, "-n", ns]);
        assert.equal(rw.spec.selector["database.example.com/role"], "primary");
        assert.equal(rw.spec.type, dbc.spec.network.externalAccess ? "LoadBalancer" : "ClusterIP");
        const primary = await getJson(cluster, ["get", "pod", `${name}-0`, "-n", ns]);
        assert.equal(primary.metadata.labels["database.example.com/role"], "primary");
        assert.ok(dbc.metadata.finalizers.includes("database.example.com/cleanup"));
      }
      const events = await getJson(cluster, ["get", "events.events.k8s.io", "-n", ns]);
      const reasons = new Set(
        events.items.filter((e: Obj) => e.regarding.kind === "DatabaseCluster").map((e: Obj) =>
          e.reason
        ),
      );
      for (const reason of ["Created", "Ready"]) assert.ok(reasons.has(reason), `event ${reason}`);
      const text = await operator.manager.metrics.registry.metrics();
      assert.match(
        text,
        new RegExp(`database_clusters\\{namespace="${ns}",phase="Running"\\} ${names.length}`),
      );
      assert.match(text, /database_clusters_created_total\{namespace="[^"]+",version="[^"]+"\} 1/);
      assert.match(text, /database_clusters_by_version\{version="[^"]+"\} \d/);
    } finally {
      await operator.stop();
      await cluster.kubectl(["delete", "dbc", "--all", "-n", ns, "--wait=false"]);
      await cluster.kubectl(["delete", "namespace", ns, "--wait=false"]);
    }
  },
});

async function minimalCluster(ns: string, name: string, spec: Obj = {}): Promise<void> {
  const doc = await sample("minimal.yaml", ns);
  doc.metadata.name = name;
  doc.spec = { ...doc.spec, ...spec };
  await cluster.kubectlOk(["apply", "-f", "-"], { stdin: JSON.stringify(doc) });
}

async function reasonsFor(ns: string, name: string): Promise<string[]> {
  const events = await getJson(cluster, ["get", "events.events.k8s.io", "-n", ns]);
  return events.items
    .filter((e: Obj) => e.regarding.kind === "DatabaseCluster" && e.regarding.name === name)
    .map((e: Obj) => e.reason);
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

Deno.test({
  name: "scaling 1 -> 3 -> 2 follows spec.replicas with a disruption budget and events",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: withOperator(cluster, "dbc-scale", async (ns) => {
    await minimalCluster(ns, "pg");
    await waitForPhase(cluster, ns, "pg", "Running");
    assert.equal(
      (await cluster.kubectl(["get", "pdb", "pg", "-n", ns])).code,
      1,
      "no PDB for one instance",
    );
    await patchSpec(ns, "pg", { replicas: 3 });
    const three = await waitForPhase(cluster, ns, "pg", "Running", 120_000);
    assert.equal(three.status.readyReplicas, 3);
    assert.equal(three.status.readyDisplay, "3/3");
    const pdb = await getJson(cluster, ["get", "pdb", "pg", "-n", ns]);
    // With failover, <c> covers the standbys (one down at a time) and <c>-primary the primary.
    assert.equal(pdb.spec.minAvailable, 1);
    const primaryPdb = await getJson(cluster, ["get", "pdb", "pg-primary", "-n", ns]);
    assert.equal(primaryPdb.spec.minAvailable, 1);
    const replica = await getJson(cluster, ["get", "pod", "pg-2", "-n", ns]);
    assert.equal(replica.metadata.labels["database.example.com/role"], "replica");
    const ro = await getJson(cluster, ["get", "service", "pg-ro", "-n", ns]);
    assert.equal(ro.spec.selector["database.example.com/role"], "replica");
    await patchSpec(ns, "pg", { replicas: 2 });
    await waitForCluster(
      cluster,
      ns,
      "pg",
      "2 ready instances",
      (dbc) =>
        dbc.status?.readyReplicas === 2 && dbc.status.replicas === 2 &&
        dbc.status.phase === "Running",
    );
    await eventually(
      "pod pg-2 gone",
      async () => (await cluster.kubectl(["get", "pod", "pg-2", "-n", ns])).code !== 0 || undefined,
    );
    const reasons = await reasonsFor(ns, "pg");
    assert.ok(reasons.includes("ScaledUp"), `ScaledUp in ${reasons}`);
    assert.ok(reasons.includes("ScaledDown"), `ScaledDown in ${reasons}`);
  }),
});

Deno.test({
  name: "a minor version change rolls the StatefulSet; a major one is refused and changes nothing",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: withOperator(cluster, "dbc-version", async (ns, operator) => {
    await minimalCluster(ns, "pg", { version: "16.3" });
    const { metadata } = await waitForPhase(cluster, ns, "pg", "Running");
    const recorder = await recordStatuses(cluster, ns, "pg");
    try {
      await patchSpec(ns, "pg", { version: "16.4" });
      await eventually("Running for the new spec", () => {
        const last = recorder.statuses.at(-1);
        const done = last?.observedGeneration > metadata.generation && last.phase === "Running";
        return Promise.resolve(done ? true : undefined);
      });
    } finally {
      await recorder.stop();
    }
    // The first status for the new spec must say the rollout is under way, not Ready.
    const first = recorder.statuses.find((s: Obj) => s.observedGeneration > metadata.generation);
    assert.equal(first.phase, "Updating");
    const ready = first.conditions.find((c: Obj) => c.type === "Ready");
    assert.deepEqual([ready.status, ready.reason], ["False", "RollingUpdate"]);
    const sts = await getJson(cluster, ["get", "statefulset", "pg", "-n", ns]);
    assert.equal(sts.spec.template.spec.containers[0].image, "postgres:16.4");
    await eventually("the pod to run the new image", async () => {
      const pod = await getJson(cluster, ["get", "pod", "pg-0", "-n", ns]);
      return pod.spec.containers[0].image === "postgres:16.4" && pod.status.phase === "Running"
        ? true
        : undefined;
    });
    const before = sts.metadata.resourceVersion;
    await patchSpec(ns, "pg", { version: "17" });
    const blocked = await waitForCluster(
      cluster,
      ns,
      "pg",
      "UpgradeBlocked",
      (dbc) =>
        dbc.status?.conditions?.some((c: Obj) =>
          c.type === "Ready" && c.reason === "UpgradeBlocked"
        ),
    );
    const refused = blocked.status.conditions.find((c: Obj) => c.type === "Ready");
    assert.equal(refused.status, "False");
    assert.match(refused.message, /from "16.4" to "17"/);
    // Not a sleep: a reconcile that finished after the refusal was seen has had its chance to write.
    const seen = await operator.reconciles();
    await cluster.kubectlOk(["annotate", "dbc", "pg", "-n", ns, "dbop.test/poke=1"]);
    await eventually(
      "a reconcile after the refusal",
      async () => (await operator.reconciles()) > seen || undefined,
    );
    const after = await getJson(cluster, ["get", "statefulset", "pg", "-n", ns]);
    assert.equal(after.metadata.resourceVersion, before, "the StatefulSet is untouched");
    assert.ok((await reasonsFor(ns, "pg")).includes("UpgradeBlocked"));
    await patchSpec(ns, "pg", { version: "16.4" });
    await waitForPhase(cluster, ns, "pg", "Running");
  }),
});

Deno.test({
  name: "drift is corrected: hand edits are restored and deleted children recreated",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: withOperator(cluster, "dbc-drift", async (ns) => {
    await minimalCluster(ns, "pg");
    await waitForPhase(cluster, ns, "pg", "Running");
    const original = (await getJson(cluster, ["get", "secret", "pg-app", "-n", ns])).data;
    await cluster.kubectlOk(["scale", "statefulset", "pg", "-n", ns, "--replicas=3"]);
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
    await cluster.kubectlOk(["delete", "configmap", "pg-config", "-n", ns]);
    await cluster.kubectlOk(["delete", "secret", "pg-app", "-n", ns]);
    const role = await getJson(cluster, ["get", "role", "pg-instance", "-n", ns]);
    const token = (await getJson(cluster, ["get", "secret", "pg-status", "-n", ns])).data.token;
    const widened = [...role.rules, { apiGroups: [""], resources: ["secrets"], verbs: ["get"] }];
    await cluster.kubectlOk([
      "patch",
      "role",
      "pg-instance",
      "-n",
      ns,
      "--type=merge",
      "-p",
      JSON.stringify({ rules: widened }),
    ]);
    await cluster.kubectlOk([
      "patch",
      "serviceaccount",
      "pg-instance",
      "-n",
      ns,
      "--type=merge",
      "-p",
      '{"automountServiceAccountToken":false}',
    ]);
    await cluster.kubectlOk(["delete", "rolebinding", "pg-instance", "-n", ns]);
    await cluster.kubectlOk(["delete", "secret", "pg-status", "-n", ns]);
    await eventually(
      "the StatefulSet back at 1 replica",
      async () =>
        (await getJson(cluster, ["get", "statefulset", "pg", "-n", ns])).spec.replicas === 1 ||
        undefined,
    );
    await eventually(
      "the -rw selector restored",
      async () =>
        (await getJson(cluster, ["get", "service", "pg-rw", "-n", ns])).spec
            .selector["database.example.com/role"] ===
          "primary" || undefined,
    );
    await eventually(
      "the ConfigMap recreated",
      async () =>
        (await cluster.kubectl(["get", "configmap", "pg-config", "-n", ns])).code === 0 ||
        undefined,
    );
    await eventually(
      "the instance Role narrowed back to its own cluster",
      async () =>
        isDeepStrictEqual(
          (await getJson(cluster, ["get", "role", "pg-instance", "-n", ns])).rules,
          role.rules,
        ) || undefined,
    );
    await eventually(
      "the ServiceAccount's token mounted again",
      async () =>
        (await getJson(cluster, ["get", "serviceaccount", "pg-instance", "-n", ns]))
            .automountServiceAccountToken === true || undefined,
    );
    await eventually(
      "the RoleBinding recreated",
      async () =>
        (await cluster.kubectl(["get", "rolebinding", "pg-instance", "-n", ns])).code === 0 ||
        undefined,
    );
    const status = await eventually("the status token Secret recreated", async () => {
      const res = await cluster.kubectl(["get", "secret", "pg-status", "-n", ns, "-o", "json"]);
      return res.code === 0 ? JSON.parse(res.stdout) : undefined;
    });
    assert.notEqual(status.data.token, token, "a deleted status Secret gets a new token");
    assert.match(atob(status.data.token), /^[A-Za-z0-9]{40}$/);
    const recreated = await eventually("the app Secret recreated", async () => {
      const res = await cluster.kubectl(["get", "secret", "pg-app", "-n", ns, "-o", "json"]);
      return res.code === 0 ? JSON.parse(res.stdout) : undefined;
    });
    // Today a deleted app Secret gets a new generated password (PostgreSQL learning it is the
    // instance manager's work); what must hold is a fresh password that every key agrees on.
    const decode = (value: string) => atob(value);
    const fresh = decode(recreated.data.password);
    assert.notEqual(fresh, decode(original.password), "a new password, not the old one");
    assert.match(fresh, /^[A-Za-z0-9]{32,}$/, "a generated password");
    assert.equal(decode(recreated.data.username), decode(original.username));
    assert.ok(decode(recreated.data.uri).includes(`:${encodeURIComponent(fresh)}@`), "uri");
    assert.ok(decode(recreated.data.pgpass).trimEnd().endsWith(`:${fresh}`), "pgpass");
  }),
});

Deno.test({
  name: "deletion keeps the volumes with Retain and removes them with Delete",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: withOperator(cluster, "dbc-delete", async (ns) => {
    await minimalCluster(ns, "keep", { deletionPolicy: "Retain" });
    await minimalCluster(ns, "drop", { deletionPolicy: "Delete" });
    await waitForPhase(cluster, ns, "keep", "Running");
    await waitForPhase(cluster, ns, "drop", "Running");
    await cluster.kubectlOk(["delete", "dbc", "keep", "drop", "-n", ns, "--timeout=90s"]);
    const kept = await getJson(cluster, ["get", "pvc", "data-keep-0", "-n", ns]);
    assert.equal(kept.metadata.deletionTimestamp, undefined, "the Retain cluster's volume stays");
    assert.ok(
      !(kept.metadata.ownerReferences ?? []).some((r: Obj) => r.kind === "DatabaseCluster"),
      "detached from the deleted cluster",
    );
    await eventually(
      "the Delete cluster's volume to go",
      async () =>
        (await cluster.kubectl(["get", "pvc", "data-drop-0", "-n", ns])).code !== 0 || undefined,
    );
    await eventually("children collected, the instances' identity and token too", async () => {
      const res = await cluster.kubectl([
        "get",
        "statefulset/keep",
        "serviceaccount/keep-instance",
        "role/keep-instance",
        "rolebinding/keep-instance",
        "secret/keep-status",
        "-n",
        ns,
        "-o",
        "name",
        "--ignore-not-found",
      ]);
      return res.code === 0 && res.stdout.trim() === "" ? true : undefined;
    });
    const events = await getJson(cluster, ["get", "events.events.k8s.io", "-n", ns]);
    assert.ok(
      events.items.some((e: Obj) =>
        e.reason === "DeletionRetainedData" && e.regarding.name === "keep"
      ),
    );
  }),
});
