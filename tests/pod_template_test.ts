/**
 * The scheduling and metadata knobs (`spec.scheduling`, `imagePullPolicy`,
 * `imagePullSecrets`, `inheritedMetadata`, `serviceAccountTemplate`) reach
 * what the API server stores and what it admits: the StatefulSet's pod
 * template, the pods the StatefulSet controller makes from it (scheduled onto
 * the node the selector names, with the priority the PriorityClass gives),
 * the Services, Secrets and ServiceAccount; and `dbop render` prints the same
 * pod template. The rejections with field paths are in `api_test.ts`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { parseAllDocuments } from "yaml";
import type { V1PodSpec } from "@kubernetes/client-node";
import { eventually, testCluster } from "./harness/mod.ts";
import { withOperator } from "./harness/operator.ts";
import { getJson, type Obj, waitForPhase } from "./harness/clusters.ts";
import { runDbop } from "./harness/dbop_process.ts";

const cluster = testCluster();
const external = Deno.env.get("TEST_KUBECONFIG") !== undefined;

const TEAM = { "example.com/team": "payments" };
const OWNER = { "example.com/owner": "payments@example.com" };
const ROLE_ARN = { "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/db" };

function manifest(ns: string, priorityClassName: string): Obj {
  return {
    apiVersion: "database.example.com/v1",
    kind: "DatabaseCluster",
    metadata: { name: "knobs", namespace: ns },
    spec: {
      replicas: 2,
      version: "17",
      storage: { size: "1Gi" },
      scheduling: {
        nodeSelector: { "kubernetes.io/hostname": "kwok-node-1" },
        tolerations: [{ key: "dedicated", operator: "Equal", value: "db", effect: "NoSchedule" }],
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [{
                matchExpressions: [{ key: "type", operator: "In", values: ["kwok"] }],
              }],
            },
          },
        },
        priorityClassName,
      },
      imagePullPolicy: "IfNotPresent",
      imagePullSecrets: [{ name: "registry" }],
      inheritedMetadata: { labels: TEAM, annotations: OWNER },
      serviceAccountTemplate: { metadata: { annotations: ROLE_ARN } },
    },
  };
}

function assertPodSpec(spec: V1PodSpec, priorityClassName: string, where: string): void {
  assert.deepEqual(spec.nodeSelector, { "kubernetes.io/hostname": "kwok-node-1" }, where);
  assert.deepEqual(spec.tolerations?.find((t) => t.key === "dedicated"), {
    key: "dedicated",
    operator: "Equal",
    value: "db",
    effect: "NoSchedule",
  }, where);
  assert.deepEqual(
    spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution
      ?.nodeSelectorTerms[0].matchExpressions,
    [{ key: "type", operator: "In", values: ["kwok"] }],
    where,
  );
  assert.ok(spec.affinity?.podAntiAffinity, `${where}: dbop's anti-affinity is kept`);
  assert.equal(spec.priorityClassName, priorityClassName, where);
  assert.deepEqual(spec.imagePullSecrets, [{ name: "registry" }], where);
  for (const container of [...spec.initContainers ?? [], ...spec.containers]) {
    assert.equal(container.imagePullPolicy, "IfNotPresent", `${where}: ${container.name}`);
  }
}

Deno.test({
  name: "scheduling, pull settings and inherited metadata reach the pods, Services, Secrets " +
    "and ServiceAccount, as render prints them",
  ignore: external,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: withOperator(cluster, "dbc-knobs", async (ns) => {
    const priorityClassName = ns;
    await cluster.kubectlOk(["apply", "-f", "-"], {
      stdin: JSON.stringify({
        apiVersion: "scheduling.k8s.io/v1",
        kind: "PriorityClass",
        metadata: { name: priorityClassName },
        value: 4242,
      }),
    });
    try {
      const object = manifest(ns, priorityClassName);
      await cluster.kubectlOk(["apply", "-f", "-"], { stdin: JSON.stringify(object) });
      await waitForPhase(cluster, ns, "knobs", "Running");

      const statefulSet = await getJson(cluster, ["get", "statefulset", "knobs", "-n", ns]);
      assertPodSpec(statefulSet.spec.template.spec, priorityClassName, "StatefulSet");
      for (const ordinal of [0, 1]) {
        const pod = await getJson(cluster, ["get", "pod", `knobs-${ordinal}`, "-n", ns]);
        const where = `pod knobs-${ordinal}`;
        assertPodSpec(pod.spec, priorityClassName, where);
        // Set by the API server's Priority admission from the PriorityClass.
        assert.equal(pod.spec.priority, 4242, where);
        assert.equal(pod.spec.nodeName, "kwok-node-1", `${where}: scheduled by the selector`);
        assert.equal(pod.metadata.labels["example.com/team"], "payments", where);
        assert.equal(pod.metadata.annotations["example.com/owner"], OWNER["example.com/owner"]);
      }
      for (
        const [kind, name] of [
          ["service", "knobs-rw"],
          ["service", "knobs-headless"],
          ["secret", "knobs-app"],
          ["secret", "knobs-superuser"],
          ["configmap", "knobs-config"],
          ["poddisruptionbudget", "knobs-primary"],
        ]
      ) {
        const child = await getJson(cluster, ["get", kind, name, "-n", ns]);
        assert.equal(child.metadata.labels["example.com/team"], "payments", `${kind}/${name}`);
        assert.equal(child.metadata.labels["database.example.com/cluster"], "knobs");
        assert.equal(child.metadata.annotations["example.com/owner"], OWNER["example.com/owner"]);
      }
      const account = await getJson(cluster, ["get", "serviceaccount", "knobs-instance", "-n", ns]);
      assert.equal(
        account.metadata.annotations["eks.amazonaws.com/role-arn"],
        ROLE_ARN["eks.amazonaws.com/role-arn"],
      );
      assert.equal(account.metadata.labels["example.com/team"], "payments");

      const file = await Deno.makeTempFile({ suffix: ".yaml" });
      try {
        await Deno.writeTextFile(file, JSON.stringify(object));
        const render = await runDbop(["render", "-f", file]);
        assert.equal(render.code, 0, render.stderr);
        const rendered = parseAllDocuments(render.stdout).map((d) => d.toJS() as Obj);
        const renderedSet = rendered.find((o) => o.kind === "StatefulSet");
        assert.ok(renderedSet, "render prints the StatefulSet");
        assertPodSpec(renderedSet.spec.template.spec, priorityClassName, "render");
      } finally {
        await Deno.remove(file);
      }

      // A change of the inherited labels reaches the Services in place.
      await cluster.kubectlOk([
        "patch",
        "dbc",
        "knobs",
        "-n",
        ns,
        "--type=merge",
        "-p",
        JSON.stringify({
          spec: { inheritedMetadata: { labels: { "example.com/team": "ledger" } } },
        }),
      ]);
      await eventually("the Service relabelled", async () => {
        const service = await getJson(cluster, ["get", "service", "knobs-rw", "-n", ns]);
        return service.metadata.labels["example.com/team"] === "ledger" ? true : undefined;
      });
    } finally {
      await cluster.kubectl(["delete", "priorityclass", priorityClassName, "--wait=false"]);
    }
  }),
});
