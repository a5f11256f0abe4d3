/**
 * The emulated kubelet (tests/harness/kubelet/) against the real control
 * plane, with real processes: pods scheduled by kube-scheduler get a loopback
 * IP from kwok and their processes bind it; init containers run first; exited
 * containers restart; readiness follows the probe; deletion stops the
 * processes within the grace period and removes the pod; a Service's
 * ClusterIP reaches whichever pod is ready; and the service-account files
 * let a process call the API server as its ServiceAccount.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { V1Pod } from "@kubernetes/client-node";
import { Pods, Services } from "../lib/databasecluster/kinds.ts";
import { type Kubelet, KUBELET_NAMESPACE_PREFIX, startKubelet } from "./harness/kubelet/mod.ts";
import { POD_CIDR } from "./harness/kubelet/network.ts";
import { createNamespace, eventually, resourcesFor, testCluster } from "./harness/mod.ts";
import { freePort, Sandbox } from "./harness/postgres.ts";

const cluster = testCluster();
/** Not real images: the host's python3 and sh (in /usr/bin, on every container's PATH). */
const PYTHON = "local/python";
const SHELL = "local/shell";
const IMAGES = { [PYTHON]: { env: { PYTHONUNBUFFERED: "1" } }, [SHELL]: {} };
const POD_NET = POD_CIDR.split(".").slice(0, 2).join(".") + ".";
const external = Deno.env.get("TEST_KUBECONFIG") !== undefined;

interface Env extends AsyncDisposable {
  ns: string;
  kubelet: Kubelet;
  pod(name: string): Promise<V1Pod | undefined>;
  apply(object: unknown): Promise<void>;
}

/** A `kubelet-*` namespace with a kubelet and a sandbox, all removed on disposal. */
async function kubeletEnv(prefix: string): Promise<Env> {
  const ns = await createNamespace(cluster, `${KUBELET_NAMESPACE_PREFIX}${prefix}`);
  const sandbox = await Sandbox.create({ prefix: "dbop-kubelet-" });
  const kubelet = await startKubelet({
    kubeconfig: cluster.kubeconfigPath,
    sandbox,
    namespaces: [ns],
    images: IMAGES,
  });
  const resources = resourcesFor(cluster.kubeconfigPath);
  return {
    ns,
    kubelet,
    pod: (name) => resources.getOrUndefined(Pods, name, { namespace: ns }),
    apply: async (object) => {
      await cluster.kubectlOk(["apply", "-n", ns, "-f", "-"], { stdin: JSON.stringify(object) });
    },
    async [Symbol.asyncDispose]() {
      await cluster.kubectl(["delete", "namespace", ns, "--wait=false"]);
      await kubelet[Symbol.asyncDispose]();
      await sandbox[Symbol.asyncDispose]();
      resources.client.close();
    },
  };
}

function condition(pod: V1Pod | undefined, type: string): string | undefined {
  return pod?.status?.conditions?.find((c) => c.type === type)?.status;
}

const podIPEnv = { name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } };
const www = { volumeMounts: [{ name: "www", mountPath: "/www" }] };

/** A Python HTTP server on the pod's IP serving the `www` emptyDir. */
function httpContainer(port: number, extra: Record<string, unknown> = {}) {
  return {
    name: "http",
    image: PYTHON,
    command: ["python3", "-m", "http.server", "--bind", "$(POD_IP)", "--directory", "/www"],
    args: [`${port}`],
    env: [podIPEnv],
    ports: [{ name: "http", containerPort: port }],
    ...www,
    ...extra,
  };
}

const readyFileProbe = {
  readinessProbe: {
    exec: { command: ["test", "-f", "/www/ready"] },
    periodSeconds: 1,
    failureThreshold: 1,
  },
};

async function get(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  return (await res.text()).trim();
}

async function refused(hostname: string, port: number): Promise<boolean> {
  try {
    (await Deno.connect({ hostname, port })).close();
    return false;
  } catch (error) {
    return error instanceof Deno.errors.ConnectionRefused;
  }
}

Deno.test({
  name: "a scheduled pod gets a loopback IP, runs its init containers in order, then binds its IP",
  ignore: external,
  fn: async () => {
    await using env = await kubeletEnv("init");
    const port = freePort();
    await env.apply({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "web" },
      spec: {
        volumes: [{ name: "www", emptyDir: {} }],
        initContainers: [
          // The first is slower: run side by side, "second" would be written first.
          {
            name: "first",
            image: SHELL,
            command: ["sh", "-c", "sleep 1; echo first >> /www/order"],
            ...www,
          },
          {
            name: "second",
            image: SHELL,
            command: ["sh", "-c", "echo second >> /www/order"],
            ...www,
          },
        ],
        containers: [httpContainer(port, {
          readinessProbe: { httpGet: { path: "/order", port: "http" }, periodSeconds: 1 },
        })],
      },
    });
    const pod = await eventually("pod web Ready", async () => {
      const pod = await env.pod("web");
      return condition(pod, "Ready") === "True" ? pod : undefined;
    }, { timeoutMs: 30_000 });
    const podIP = pod.status!.podIP!;
    assert.ok(podIP.startsWith(POD_NET), `pod IP "${podIP}" is not in ${POD_CIDR}`);
    assert.ok(pod.spec!.nodeName!.startsWith("kwok-node-"), "bound by the scheduler");
    assert.equal(pod.status!.phase, "Running");
    assert.deepEqual(
      pod.status!.initContainerStatuses!.map((s) => [s.name, s.state?.terminated?.reason]),
      [["first", "Completed"], ["second", "Completed"]],
    );
    assert.equal(await get(`http://${podIP}:${port}/order`), "first\nsecond");
    assert.ok(await refused("127.0.0.1", port), "the server bound its pod IP, not every address");
    const http = pod.status!.containerStatuses![0];
    assert.equal(http.ready, true);
    assert.equal(http.restartCount, 0);
  },
});

Deno.test({
  name: "a killed container is restarted and its restartCount increments",
  ignore: external,
  fn: async () => {
    await using env = await kubeletEnv("restart");
    await env.apply({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "web" },
      spec: { volumes: [{ name: "www", emptyDir: {} }], containers: [httpContainer(freePort())] },
    });
    const running = await eventually("container running", async () => {
      const status = (await env.pod("web"))?.status?.containerStatuses?.[0];
      return status?.state?.running ? status : undefined;
    }, { timeoutMs: 30_000 });
    const pid = Number(running.containerID!.replace("local://", ""));
    Deno.kill(pid, "SIGKILL");
    const restarted = await eventually("container restarted", async () => {
      const status = (await env.pod("web"))?.status?.containerStatuses?.[0];
      return status?.restartCount === 1 && status.state?.running ? status : undefined;
    }, { timeoutMs: 30_000 });
    assert.equal(restarted.lastState?.terminated?.exitCode, 137, "128 + SIGKILL");
    assert.notEqual(restarted.containerID, running.containerID);
    // Running means started: the server prints its banner a moment later.
    await eventually(
      "the restarted server's banner",
      () =>
        Promise.resolve(
          env.kubelet.logs(env.ns, "web", "http").includes("Serving HTTP") || undefined,
        ),
      { timeoutMs: 30_000 },
    );
  },
});

Deno.test({
  name: "a container failing its liveness probe is stopped with SIGTERM and restarted",
  ignore: external,
  fn: async () => {
    await using env = await kubeletEnv("liveness");
    await env.apply({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "web" },
      spec: {
        volumes: [{ name: "www", emptyDir: {} }],
        containers: [httpContainer(freePort(), {
          livenessProbe: {
            exec: { command: ["test", "-f", "/www/alive"] },
            periodSeconds: 1,
            failureThreshold: 2,
          },
        })],
      },
    });
    const restarted = await eventually("container restarted", async () => {
      const status = (await env.pod("web"))?.status?.containerStatuses?.[0];
      return status && status.restartCount > 0 ? status : undefined;
    }, { timeoutMs: 30_000 });
    assert.equal(restarted.lastState?.terminated?.exitCode, 143, "128 + SIGTERM");
  },
});

Deno.test({
  name: "readiness follows the probe: running but failing is not Ready, then Ready, then not",
  ignore: external,
  fn: async () => {
    await using env = await kubeletEnv("ready");
    await env.apply({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "web" },
      spec: {
        volumes: [{ name: "www", emptyDir: {} }],
        containers: [httpContainer(freePort(), readyFileProbe)],
      },
    });
    await eventually("container running", async () => {
      const pod = await env.pod("web");
      return pod?.status?.containerStatuses?.[0]?.state?.running ? pod : undefined;
    }, { timeoutMs: 30_000 });
    // Several probe periods with the probe failing.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const failing = await env.pod("web");
    assert.equal(condition(failing, "Ready"), "False");
    assert.equal(condition(failing, "ContainersReady"), "False");
    assert.equal(failing!.status!.containerStatuses![0].ready, false);

    const ready = `${env.kubelet.localPod(env.ns, "web").hostPath("/www")}/ready`;
    await Deno.writeTextFile(ready, "");
    await eventually(
      "pod Ready",
      async () => condition(await env.pod("web"), "Ready") === "True" ? true : undefined,
    );
    await Deno.remove(ready);
    await eventually(
      "pod not Ready",
      async () => condition(await env.pod("web"), "Ready") === "False" ? true : undefined,
    );
  },
});

Deno.test({
  name: "deleting a pod stops its processes within the grace period, then the pod is gone",
  ignore: external,
  fn: async () => {
    await using env = await kubeletEnv("delete");
    await env.apply({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "stubborn" },
      spec: {
        terminationGracePeriodSeconds: 2,
        containers: [{
          name: "main",
          image: SHELL,
          command: ["sh", "-c", 'trap "echo got TERM" TERM; while true; do sleep 0.2; done'],
        }],
      },
    });
    await env.apply({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "polite" },
      spec: { volumes: [{ name: "www", emptyDir: {} }], containers: [httpContainer(freePort())] },
    });
    const pids = new Map<string, number>();
    for (const name of ["stubborn", "polite"]) {
      const status = await eventually(`${name} running`, async () => {
        const status = (await env.pod(name))?.status?.containerStatuses?.[0];
        return status?.state?.running ? status : undefined;
      }, { timeoutMs: 30_000 });
      pids.set(name, Number(status.containerID!.replace("local://", "")));
    }
    const gone = async (name: string) => {
      const started = performance.now();
      await cluster.kubectlOk(["delete", "pod", name, "-n", env.ns, "--wait=false"]);
      await eventually(`${name} gone`, async () => (await env.pod(name)) ? undefined : true, {
        timeoutMs: 30_000,
        intervalMs: 100,
      });
      return (performance.now() - started) / 1000;
    };
    const [stubborn, polite] = await Promise.all([gone("stubborn"), gone("polite")]);
    assert.ok(stubborn >= 2 && stubborn < 6, `stubborn pod gone after ${stubborn} s, grace 2 s`);
    assert.ok(polite < 2, `polite pod gone after ${polite} s: it exits on SIGTERM`);
    for (const pid of pids.values()) {
      assert.equal(await Deno.stat(`/proc/${pid}`).then(() => true, () => false), false);
    }
    assert.ok(env.kubelet.logs(env.ns, "stubborn", "main").includes("got TERM"));
  },
});

Deno.test({
  name: "a Service's ClusterIP and name reach the ready pod, and switch when readiness changes",
  ignore: external,
  fn: async () => {
    await using env = await kubeletEnv("service");
    const port = freePort();
    for (const name of ["a", "b"]) {
      await env.apply({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name, labels: { app: "web" } },
        spec: {
          volumes: [{ name: "www", emptyDir: {} }],
          initContainers: [{
            name: "name",
            image: SHELL,
            command: ["sh", "-c", "echo $(POD_NAME) > /www/name"],
            env: [{ name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } }],
            ...www,
          }],
          containers: [httpContainer(port, readyFileProbe)],
        },
      });
    }
    await env.apply({
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "web" },
      spec: { selector: { app: "web" }, ports: [{ port: 80, targetPort: "http" }] },
    });
    const resources = resourcesFor(cluster.kubeconfigPath);
    const service = await resources.get(Services, "web", { namespace: env.ns });
    resources.client.close();
    const clusterIP = service.spec!.clusterIP!;
    assert.ok(clusterIP.startsWith("127."), `ClusterIP "${clusterIP}" is loopback`);
    const served = async () => await get(`http://${clusterIP}/name`).catch(() => undefined);
    const readyFile = async (pod: string) => {
      const dir = await eventually(`${pod} set up`, () => {
        try {
          return Promise.resolve(env.kubelet.localPod(env.ns, pod).hostPath("/www"));
        } catch {
          return Promise.resolve(undefined);
        }
      });
      return `${dir}/ready`;
    };

    await Deno.writeTextFile(await readyFile("a"), "");
    await eventually("a served", async () => (await served()) === "a" ? true : undefined);
    await Deno.writeTextFile(await readyFile("b"), "");
    await eventually(
      "b Ready",
      async () => condition(await env.pod("b"), "Ready") === "True" ? true : undefined,
    );
    await Deno.remove(await readyFile("a"));
    await eventually(
      "a not Ready",
      async () => condition(await env.pod("a"), "Ready") === "False" ? true : undefined,
    );
    // Round robin over the endpoints: three answers in a row from b mean a is out.
    await eventually("only b served", async () => {
      const answers = [await served(), await served(), await served()];
      return answers.every((answer) => answer === "b") ? true : undefined;
    });

    await env.apply({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "client" },
      spec: {
        restartPolicy: "Never",
        containers: [{
          name: "main",
          image: SHELL,
          command: ["sh", "-c", 'echo "$SHORT $FULL"'],
          env: [
            { name: "SHORT", value: "web" },
            { name: "FULL", value: `web.${env.ns}.svc.cluster.local` },
          ],
        }],
      },
    });
    await eventually(
      "client Succeeded",
      async () => (await env.pod("client"))?.status?.phase === "Succeeded" ? true : undefined,
    );
    assert.equal(env.kubelet.logs(env.ns, "client", "main").trim(), `${clusterIP} ${clusterIP}`);
  },
});

const WHOAMI = `
import json, os, ssl, urllib.request, urllib.error
sa = os.environ["SA_DIR"]
token = open(sa + "/token").read()
namespace = open(sa + "/namespace").read()
tls = ssl.create_default_context(cafile=sa + "/ca.crt")
server = "https://%s:%s" % (os.environ["KUBERNETES_SERVICE_HOST"], os.environ["KUBERNETES_SERVICE_PORT"])
def call(method, path, body=None):
    request = urllib.request.Request(server + path, method=method,
        data=json.dumps(body).encode() if body else None,
        headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, context=tls) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, None
_, review = call("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
    {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
pod, _ = call("GET", "/api/v1/namespaces/%s/pods/%s" % (namespace, os.environ["POD_NAME"]))
secrets, _ = call("GET", "/api/v1/namespaces/%s/secrets" % namespace)
print(json.dumps({"user": review["status"]["userInfo"], "namespace": namespace,
    "pod": pod, "secrets": secrets}))
`;

Deno.test({
  name: "the service-account files let a process call the API server as the pod's ServiceAccount",
  ignore: external,
  fn: async () => {
    await using env = await kubeletEnv("sa");
    await cluster.kubectlOk(["create", "serviceaccount", "reader", "-n", env.ns]);
    await cluster.kubectlOk([
      "create",
      "role",
      "pod-reader",
      "--verb=get",
      "--resource=pods",
      "-n",
      env.ns,
    ]);
    await cluster.kubectlOk([
      "create",
      "rolebinding",
      "reader",
      "--role=pod-reader",
      `--serviceaccount=${env.ns}:reader`,
      "-n",
      env.ns,
    ]);
    await env.apply({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "whoami" },
      spec: {
        serviceAccountName: "reader",
        restartPolicy: "Never",
        containers: [{
          name: "main",
          image: PYTHON,
          command: ["python3", "-c", WHOAMI],
          env: [
            // The ServiceAccount admission plugin mounts the files here; the path is mapped.
            { name: "SA_DIR", value: "/var/run/secrets/kubernetes.io/serviceaccount" },
            { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
          ],
        }],
      },
    });
    const pod = await eventually("whoami finished", async () => {
      const pod = await env.pod("whoami");
      return ["Succeeded", "Failed"].includes(pod?.status?.phase ?? "") ? pod : undefined;
    }, { timeoutMs: 30_000 });
    const output = env.kubelet.logs(env.ns, "whoami", "main");
    assert.equal(pod.status!.phase, "Succeeded", output);
    const result = JSON.parse(output.trim().split("\n").at(-1)!);
    assert.equal(result.user.username, `system:serviceaccount:${env.ns}:reader`);
    assert.deepEqual(result.user.extra["authentication.kubernetes.io/pod-name"], ["whoami"]);
    assert.equal(result.namespace, env.ns);
    assert.equal(result.pod, 200, "its Role lets it get pods");
    assert.equal(result.secrets, 403, "and nothing else");
  },
});
