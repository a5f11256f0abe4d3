/**
 * Our client against the real API server: typed errors, paginated lists,
 * idempotent server-side apply, and every way to authenticate (client
 * certificate, in-cluster service-account token, exec credential plugin,
 * context selection), including the lean in-cluster credentials of the
 * instance manager with a TokenRequest token, as the kubelet mounts it.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  AlreadyExistsError,
  ConflictError,
  ForbiddenError,
  InvalidError,
  KubeClient,
  loadInCluster,
  NotFoundError,
  Resources,
} from "../lib/kube/mod.ts";
import { loadKubeConfig } from "../lib/kube/config.ts";
import { ConfigMaps, Secrets } from "../lib/databasecluster/kinds.ts";
import { createNamespace, resourcesFor, testCluster } from "./harness/mod.ts";
import { FIELD_MANAGER } from "../lib/databasecluster/names.ts";

const cluster = testCluster();

interface SelfSubjectReview {
  status: { userInfo: { username: string } };
}

async function whoami(resources: Resources): Promise<string> {
  const review = await resources.client.request<SelfSubjectReview>(
    "/apis/authentication.k8s.io/v1/selfsubjectreviews",
    { method: "POST", body: { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" } },
  );
  return review.status.userInfo.username;
}

async function serviceAccountWithToken(ns: string, name: string): Promise<string> {
  await cluster.kubectlOk(["create", "serviceaccount", name, "-n", ns]);
  await cluster.kubectlOk([
    "create",
    "role",
    `${name}-cm`,
    "--verb=get,list",
    "--resource=configmaps",
    "-n",
    ns,
  ]);
  await cluster.kubectlOk([
    "create",
    "rolebinding",
    name,
    `--role=${name}-cm`,
    `--serviceaccount=${ns}:${name}`,
    "-n",
    ns,
  ]);
  return (await cluster.kubectlOk(["create", "token", name, "-n", ns])).trim();
}

async function clusterFacts(): Promise<{ server: string; caData: string }> {
  const view = (path: string) =>
    cluster.kubectlOk(["config", "view", "--raw", "--minify", "-o", `jsonpath={${path}}`]);
  return {
    server: await view(".clusters[0].cluster.server"),
    caData: await view(".clusters[0].cluster.certificate-authority-data"),
  };
}

Deno.test("API failures become typed errors with their details", async () => {
  const ns = await createNamespace(cluster, "client-errors");
  const resources = resourcesFor(cluster.kubeconfigPath);
  try {
    await assert.rejects(resources.get(ConfigMaps, "absent", { namespace: ns }), NotFoundError);
    assert.equal(
      await resources.getOrUndefined(ConfigMaps, "absent", { namespace: ns }),
      undefined,
    );
    const created = await resources.create(ConfigMaps, {
      metadata: { name: "one", namespace: ns },
    });
    await assert.rejects(
      resources.create(ConfigMaps, { metadata: { name: "one", namespace: ns } }),
      (e) => e instanceof AlreadyExistsError && !e.retryable,
    );
    await resources.patch(ConfigMaps, "one", { data: { a: "1" } }, { namespace: ns });
    await assert.rejects(
      resources.replace(ConfigMaps, { ...created, data: { a: "2" } }),
      (e) => e instanceof ConflictError && e.retryable,
    );
    await assert.rejects(
      resources.create(ConfigMaps, { metadata: { name: "Not_Valid", namespace: ns } }),
      (e) =>
        e instanceof InvalidError && e.causes.some((c) => c.field === "metadata.name") &&
        !e.retryable,
    );
    const token = await serviceAccountWithToken(ns, "limited");
    const facts = await clusterFacts();
    const dir = await Deno.makeTempDir();
    await Deno.writeTextFile(`${dir}/ca.crt`, atob(facts.caData));
    await Deno.writeTextFile(`${dir}/token`, token);
    const limited = new Resources(
      new KubeClient(
        loadKubeConfig({
          serviceAccountDir: dir,
          env: (name) =>
            ({
              KUBERNETES_SERVICE_HOST: "127.0.0.1",
              KUBERNETES_SERVICE_PORT: new URL(facts.server).port,
            })[name],
        }).credentials,
      ),
      { fieldManager: FIELD_MANAGER },
    );
    await assert.rejects(
      limited.list(Secrets, { namespace: ns }),
      (e) => e instanceof ForbiddenError && /secrets/.test(e.message),
    );
    limited.client.close();
    await Deno.remove(dir, { recursive: true });
  } finally {
    resources.client.close();
    await cluster.kubectl(["delete", "namespace", ns, "--wait=false"]);
  }
});

Deno.test("lists are paginated and server-side apply is idempotent", async () => {
  const ns = await createNamespace(cluster, "client-apply");
  const resources = resourcesFor(cluster.kubeconfigPath);
  try {
    for (let i = 0; i < 7; i++) {
      await resources.apply(ConfigMaps, {
        metadata: { name: `cm-${i}`, namespace: ns, labels: { page: "yes" } },
        data: { i: String(i) },
      });
    }
    const list = await resources.list(ConfigMaps, {
      namespace: ns,
      labelSelector: "page=yes",
      limit: 2,
    });
    assert.equal(list.items.length, 7);
    assert.ok(list.metadata.resourceVersion);

    const desired = {
      metadata: { name: "cm-0", namespace: ns, labels: { page: "yes" } },
      data: { i: "0" },
    };
    const first = await resources.apply(ConfigMaps, desired);
    const second = await resources.apply(ConfigMaps, desired);
    assert.equal(
      second.metadata?.resourceVersion,
      first.metadata?.resourceVersion,
      "a no-op apply writes nothing",
    );
    assert.ok(
      first.metadata?.managedFields?.some((f) => f.manager === "dbop" && f.operation === "Apply"),
    );

    await cluster.kubectlOk([
      "patch",
      "configmap",
      "cm-0",
      "-n",
      ns,
      "--type=merge",
      "-p",
      '{"data":{"i":"edited"}}',
    ]);
    const restored = await resources.apply(ConfigMaps, desired);
    assert.equal(restored.data?.i, "0", "apply takes back a field dbop owns");
  } finally {
    resources.client.close();
    await cluster.kubectl(["delete", "namespace", ns, "--wait=false"]);
  }
});

Deno.test("credentials: client certificate, service-account token in-cluster, exec plugin, context choice", async () => {
  const ns = await createNamespace(cluster, "client-auth");
  const dir = await Deno.makeTempDir({ prefix: "dbop-auth-" });
  try {
    const admin = resourcesFor(cluster.kubeconfigPath);
    assert.equal(await whoami(admin), "kubernetes-admin");
    admin.client.close();

    const token = await serviceAccountWithToken(ns, "robot");
    const facts = await clusterFacts();
    await Deno.writeTextFile(`${dir}/ca.crt`, atob(facts.caData));
    await Deno.writeTextFile(`${dir}/token`, token);
    await Deno.writeTextFile(`${dir}/namespace`, ns);
    const inCluster = loadKubeConfig({
      serviceAccountDir: dir,
      env: (name) =>
        ({
          KUBERNETES_SERVICE_HOST: "127.0.0.1",
          KUBERNETES_SERVICE_PORT: new URL(facts.server).port,
        })[
          name
        ],
    });
    assert.equal(inCluster.namespace, ns);
    assert.match(inCluster.source, /in-cluster/);
    const viaToken = new Resources(new KubeClient(inCluster.credentials), {
      fieldManager: FIELD_MANAGER,
    });
    assert.equal(await whoami(viaToken), `system:serviceaccount:${ns}:robot`);
    viaToken.client.close();

    const plugin = `${dir}/credential-plugin.sh`;
    await Deno.writeTextFile(
      plugin,
      `#!/bin/sh\nprintf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s"}}' "$(cat ${dir}/token)"\n`,
    );
    await Deno.chmod(plugin, 0o755);
    const kubeconfig = `${dir}/exec.kubeconfig`;
    await Deno.writeTextFile(
      kubeconfig,
      JSON.stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{
          name: "c",
          cluster: { server: facts.server, "certificate-authority-data": facts.caData },
        }],
        users: [
          {
            name: "exec",
            user: {
              exec: {
                apiVersion: "client.authentication.k8s.io/v1",
                command: plugin,
                interactiveMode: "Never",
              },
            },
          },
          { name: "nobody", user: { token: "not-a-valid-token" } },
        ],
        contexts: [
          { name: "via-exec", context: { cluster: "c", user: "exec" } },
          { name: "broken", context: { cluster: "c", user: "nobody" } },
        ],
        "current-context": "broken",
      }),
    );
    const viaExec = new Resources(
      new KubeClient(loadKubeConfig({ kubeconfig, context: "via-exec" }).credentials),
      { fieldManager: FIELD_MANAGER },
    );
    assert.equal(await whoami(viaExec), `system:serviceaccount:${ns}:robot`);
    viaExec.client.close();
    assert.throws(
      () => loadKubeConfig({ kubeconfig, context: "missing" }),
      /Context "missing" is not in kubeconfig ".*": have "via-exec", "broken"/,
    );
    assert.throws(
      () => loadKubeConfig({ kubeconfig: `${dir}/nope` }),
      /Kubeconfig ".*nope" does not exist/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
    await cluster.kubectl(["delete", "namespace", ns, "--wait=false"]);
  }
});

/** A bound token for `name`, as the kubelet requests it for a projected volume. */
async function requestToken(resources: Resources, ns: string, name: string): Promise<string> {
  const review = await resources.client.request<{ status: { token: string } }>(
    `/api/v1/namespaces/${ns}/serviceaccounts/${name}/token`,
    {
      method: "POST",
      body: {
        apiVersion: "authentication.k8s.io/v1",
        kind: "TokenRequest",
        spec: { expirationSeconds: 600 },
      },
    },
  );
  return review.status.token;
}

Deno.test("lean in-cluster credentials: a TokenRequest token from the pod's files, re-read after a 401", async () => {
  const ns = await createNamespace(cluster, "client-lean");
  const dir = await Deno.makeTempDir({ prefix: "dbop-sa-" });
  const admin = resourcesFor(cluster.kubeconfigPath);
  const kubeletEnv = ["KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT"] as const;
  const saved = kubeletEnv.map((name) => Deno.env.get(name));
  try {
    await cluster.kubectlOk(["create", "serviceaccount", "instance", "-n", ns]);
    const facts = await clusterFacts();
    await Deno.writeTextFile(`${dir}/ca.crt`, atob(facts.caData));
    await Deno.writeTextFile(`${dir}/namespace`, ns);
    // A token the API server rejects, as after an expiry: within the minute, only a re-read
    // after the 401 can make the first request succeed.
    await Deno.writeTextFile(`${dir}/token`, "expired-token");
    Deno.env.set("KUBERNETES_SERVICE_HOST", new URL(facts.server).hostname);
    Deno.env.set("KUBERNETES_SERVICE_PORT", new URL(facts.server).port);
    const credentials = loadInCluster({ serviceAccountDir: dir });
    assert.equal(credentials.server, facts.server);
    assert.equal(credentials.namespace, ns);
    // The kubelet's rotation, between load and the first request.
    await Deno.writeTextFile(`${dir}/token`, await requestToken(admin, ns, "instance"));
    const lean = new Resources(new KubeClient(credentials), { fieldManager: FIELD_MANAGER });
    try {
      assert.equal(await whoami(lean), `system:serviceaccount:${ns}:instance`);
      const version = await lean.client.request<{ gitVersion: string }>("/version");
      assert.match(version.gitVersion, /^v1\./);
    } finally {
      lean.client.close();
    }
  } finally {
    kubeletEnv.forEach((name, i) =>
      saved[i] === undefined ? Deno.env.delete(name) : Deno.env.set(name, saved[i]!)
    );
    admin.client.close();
    await Deno.remove(dir, { recursive: true });
    await cluster.kubectl(["delete", "namespace", ns, "--wait=false"]);
  }
});
