/**
 * Smoke test of the control plane itself: it guards the harness every later
 * test stands on (scheduling onto fake nodes, volumes, garbage collection,
 * service-account tokens and RBAC).
 *
 * @module
 */
import assert from "node:assert/strict";
import { createNamespace, eventually, testCluster } from "./harness/mod.ts";

const cluster = testCluster();

async function getJson<T = Record<string, unknown>>(args: string[]): Promise<T> {
  return JSON.parse(await cluster.kubectlOk([...args, "-o", "json"])) as T;
}

interface PodList {
  items: { status: { phase: string; conditions?: { type: string; status: string }[] } }[];
}

function allReady(list: PodList, want: number): boolean {
  return list.items.length === want && list.items.every((p) =>
    p.status.phase === "Running" &&
    p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True")
  );
}

Deno.test("a Deployment's pods become Running and Ready on fake nodes", async () => {
  const ns = await createNamespace(cluster, "smoke-deploy");
  try {
    await cluster.kubectlOk([
      "create",
      "deployment",
      "web",
      "--image=nginx",
      "--replicas=3",
      "-n",
      ns,
    ]);
    await eventually("3 ready pods", async () => {
      const pods = await getJson<PodList>(["get", "pods", "-n", ns, "-l", "app=web"]);
      return allReady(pods, 3) ? true : undefined;
    });
    await cluster.kubectlOk([
      "wait",
      "--for=condition=Available",
      "deployment/web",
      "-n",
      ns,
      "--timeout=60s",
    ]);
  } finally {
    await cluster.kubectl(["delete", "namespace", ns, "--wait=false"]);
  }
});

Deno.test("a StatefulSet gets Bound PVCs and Ready pods, and the garbage collector removes its dependents", async () => {
  const ns = await createNamespace(cluster, "smoke-sts");
  try {
    const manifest = `
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: ${ns}}
spec:
  replicas: 2
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers:
      - name: db
        image: postgres:17
        volumeMounts: [{name: data, mountPath: /var/lib/postgresql/data}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
`;
    await cluster.kubectlOk(["apply", "-f", "-"], { stdin: manifest });
    await eventually("2 Bound PVCs", async () => {
      const pvcs = await getJson<{ items: { status: { phase: string } }[] }>([
        "get",
        "pvc",
        "-n",
        ns,
      ]);
      return pvcs.items.length === 2 && pvcs.items.every((p) => p.status.phase === "Bound")
        ? true
        : undefined;
    });
    await eventually("2 ready StatefulSet pods", async () => {
      const pods = await getJson<PodList>(["get", "pods", "-n", ns, "-l", "app=db"]);
      return allReady(pods, 2) ? true : undefined;
    });
    const revisions = await getJson<{ items: unknown[] }>(["get", "controllerrevisions", "-n", ns]);
    assert.ok(revisions.items.length >= 1, "the StatefulSet owns a ControllerRevision");

    await cluster.kubectlOk(["delete", "statefulset", "db", "-n", ns, "--cascade=background"]);
    await eventually("pods and revisions collected", async () => {
      const pods = await getJson<{ items: unknown[] }>(["get", "pods", "-n", ns, "-l", "app=db"]);
      const revs = await getJson<{ items: unknown[] }>(["get", "controllerrevisions", "-n", ns]);
      return pods.items.length === 0 && revs.items.length === 0 ? true : undefined;
    });
  } finally {
    await cluster.kubectl(["delete", "namespace", ns, "--wait=false"]);
  }
});

Deno.test("a ServiceAccount token works and RBAC allows only what is bound", async () => {
  const ns = await createNamespace(cluster, "smoke-rbac");
  const dir = await Deno.makeTempDir({ prefix: "dbop-smoke-" });
  try {
    await cluster.kubectlOk(["create", "serviceaccount", "reader", "-n", ns]);
    await cluster.kubectlOk([
      "create",
      "role",
      "cm-reader",
      "--verb=get,list",
      "--resource=configmaps",
      "-n",
      ns,
    ]);
    await cluster.kubectlOk([
      "create",
      "rolebinding",
      "reader",
      "--role=cm-reader",
      `--serviceaccount=${ns}:reader`,
      "-n",
      ns,
    ]);
    const token = (await cluster.kubectlOk(["create", "token", "reader", "-n", ns])).trim();
    assert.equal(token.split(".").length, 3, "TokenRequest returns a JWT");
    const view = (path: string) =>
      cluster.kubectlOk(["config", "view", "--raw", "--minify", "-o", `jsonpath={${path}}`]);
    const kubeconfig = `${dir}/reader.kubeconfig`;
    await Deno.writeTextFile(
      kubeconfig,
      JSON.stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{
          name: "c",
          cluster: {
            server: await view(".clusters[0].cluster.server"),
            "certificate-authority-data": await view(
              ".clusters[0].cluster.certificate-authority-data",
            ),
          },
        }],
        users: [{ name: "reader", user: { token } }],
        contexts: [{ name: "c", context: { cluster: "c", user: "reader", namespace: ns } }],
        "current-context": "c",
      }),
    );
    const asReader = (args: string[]) => cluster.kubectl(["--kubeconfig", kubeconfig, ...args]);
    // The later --kubeconfig wins over the admin one the harness passes first.
    const allowed = await asReader(["get", "configmaps", "-n", ns]);
    assert.equal(allowed.code, 0, allowed.stderr);
    const whoami = await asReader(["auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"]);
    assert.equal(whoami.stdout, `system:serviceaccount:${ns}:reader`);
    const forbidden = await asReader(["get", "secrets", "-n", ns]);
    assert.notEqual(forbidden.code, 0);
    assert.match(forbidden.stderr, /forbidden/i);
  } finally {
    await cluster.kubectl(["delete", "namespace", ns, "--wait=false"]);
    await Deno.remove(dir, { recursive: true });
  }
});
