/**
 * The DatabaseCluster controller against the real control plane (kwok makes
 * pods Ready): the samples converge with every child named, labelled and
 * owned as promised, status and events follow; scale, minor upgrade, refused
 * major upgrade, drift correction and both deletion policies.
 *
 * @module
 */
import assert from "node:assert/strict";
import { parse } from "yaml";
import { createNamespace, eventually, testCluster } from "./harness/mod.ts";
import { startOperator } from "./harness/operator.ts";
import { ensureCrd, getJson, type Obj, waitForPhase } from "./harness/clusters.ts";

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
