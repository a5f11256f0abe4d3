/**
 * dbop's DatabaseClusters with real instances: the operator (in this test
 * process, or with `operatorProcess` a `dbop run` child process that can be
 * SIGKILLed) reconciles a `kubelet-*` namespace, kube-controller-manager's
 * StatefulSet controller makes the pods, and the emulated kubelet runs them
 * as dbop built them. Images are not real: `postgres:<major>` is the
 * harness's PostgreSQL of that major, and dbop's image is this checkout,
 * whose `/usr/local/bin/dbop` is a launcher of `deno run mod.ts` (the
 * compiled binary cannot be built here). So `dbop instance install` writes
 * such a launcher into the pod, and the PostgreSQL container runs
 * `dbop instance run` from it: the same entry point, with the compiled
 * binary's permissions.
 *
 * @module
 */
import type { V1Pod, V1Secret } from "@kubernetes/client-node";
import type { DatabaseClusterStatus, InstanceStatus } from "../../lib/api/mod.ts";
import { DatabaseClusters } from "../../lib/databasecluster/cache.ts";
import { Pods, Secrets } from "../../lib/databasecluster/kinds.ts";
import { statusTokenSecretName } from "../../lib/databasecluster/names.ts";
import { DEFAULT_INSTANCE_IMAGE } from "../../lib/databasecluster/specs/common.ts";
import { INSTANCE_BINARY, STATUS_PORT } from "../../lib/databasecluster/specs/instance_pod.ts";
import { launcherScript } from "../../lib/instance/install.ts";
import type { Resources } from "../../lib/kube/mod.ts";
import { ensureCrd } from "./clusters.ts";
import { type Kubelet, KUBELET_NAMESPACE_PREFIX, startKubelet } from "./kubelet/mod.ts";
import { createNamespace, eventually, resourcesFor, type TestCluster } from "./mod.ts";
import { startOperator, type TestOperator } from "./operator.ts";
import { DbopProcess } from "./dbop_process.ts";
import type { LocalImage } from "./local_pod.ts";
import { Sandbox } from "./postgres.ts";
import type { Connection } from "./psql.ts";

const MOD_TS = new URL("../../mod.ts", import.meta.url).href;

let announced = false;

/** A namespace whose DatabaseClusters run real PostgreSQL through dbop's instance manager. */
export interface DatabasePods extends AsyncDisposable {
  namespace: string;
  sandbox: Sandbox;
  kubelet: Kubelet;
  /** The in-process operator running now (a new one after a restart); not with `operatorProcess`. */
  readonly operator: TestOperator;
  /** With `operatorProcess`: the `dbop run` process running now, if any. */
  readonly operatorProcess: DbopProcess | undefined;
  /** Stops the operator and starts a new one, which knows only what the cluster shows. */
  restartOperator(): Promise<void>;
  /**
   * With `operatorProcess`: SIGKILLs the operator, as a node's OOM killer or a crash would,
   * and waits for its exit; none runs until {@linkcode startOperator}.
   */
  killOperator(): Promise<void>;
  /** Starts a new operator after {@linkcode killOperator}. */
  startOperator(): void;
  resources: Resources;
  /** Runs `fn` with the operator stopped (for a change it would undo), then starts a new one. */
  withoutOperator<T>(fn: () => Promise<T>): Promise<T>;
  /** Applies a manifest in the namespace. */
  apply(object: unknown): Promise<void>;
  pod(name: string): Promise<V1Pod | undefined>;
  /** A Secret's data, decoded. */
  secret(name: string): Promise<Record<string, string>>;
  /** The application owner through `<cluster>-rw`, with the credentials of `<cluster>-app`. */
  readWrite(cluster: string, sslmode: string): Promise<Connection>;
  /** The address a Service name resolves to in the pods (its ClusterIP). */
  serviceAddress(name: string): string;
  /**
   * Waits until the `replicas` instances of `cluster` run PostgreSQL, one of them (`primary`,
   * or whichever when not given) as the primary and every other as a standby that streams;
   * fails with the instances' last output lines.
   */
  running(
    cluster: string,
    replicas: number,
    options?: { primary?: string; timeoutMs?: number },
  ): Promise<InstanceStatus[]>;
  /** The DatabaseCluster's status as the API server has it now. */
  clusterStatus(cluster: string): Promise<DatabaseClusterStatus>;
  /** The last lines each container of `pods` printed, for a failure's message. */
  logTails(pods: string[], lines?: number): string;
  /** Instance `pod`'s status endpoint, with the cluster's token; undefined if it does not answer. */
  instanceStatus(cluster: string, pod: string): Promise<InstanceStatus | undefined>;
  /**
   * Kills `pod` as its node dying would, and force-deletes it ({@linkcode Kubelet.killPod});
   * resolves with the number of processes killed.
   */
  killPod(pod: string): Promise<number>;
  /** Stops every process of `pod` (SIGSTOP), as a hung node. */
  pausePod(pod: string): Promise<void>;
  /** Continues the processes of a paused `pod` (SIGCONT). */
  resumePod(pod: string): Promise<void>;
  /** Cuts `pod` off the API server and its peers ({@linkcode Kubelet.partitionPod}). */
  partitionPod(pod: string): Promise<void>;
  /** Heals a partitioned `pod`. */
  healPod(pod: string): Promise<void>;
}

/**
 * The images of dbop's pods as the kubelet runs them: `postgres:<major>` is the sandbox's
 * PostgreSQL, and dbop's image holds a launcher of this checkout's `mod.ts` (written into
 * the sandbox) where the compiled binary would be.
 */
export async function localImages(
  sandbox: Sandbox,
  env: Record<string, string> = {},
): Promise<Record<string, LocalImage>> {
  const launcher = `${sandbox.root}/dbop-launcher`;
  await Deno.writeTextFile(
    launcher,
    launcherScript({ execPath: Deno.execPath(), mainModule: MOD_TS }),
  );
  await Deno.chmod(launcher, 0o755);
  return {
    [`postgres:${sandbox.install.major}`]: {
      path: [sandbox.install.binDir],
      env: { LANG: "C.UTF-8", ...env },
    },
    [DEFAULT_INSTANCE_IMAGE]: { files: { [INSTANCE_BINARY.image]: launcher } },
  };
}

function decode(secret: V1Secret): Record<string, string> {
  return Object.fromEntries(Object.entries(secret.data ?? {}).map(([k, v]) => [k, atob(v)]));
}

/**
 * Starts the sandbox, the kubelet and the operator for a fresh `kubelet-<prefix>-*` namespace;
 * with `operatorProcess`, the operator is `mod.ts run` in a child process, so that it can be
 * SIGKILLed ({@linkcode DatabasePods.killOperator}). `logLevel` is the instance managers'
 * (`DBOP_LOG_LEVEL` in the PostgreSQL image's environment) and the operator process's.
 */
export async function databasePods(
  test: TestCluster,
  prefix: string,
  options: { major?: number; operatorProcess?: boolean; logLevel?: string } = {},
): Promise<DatabasePods> {
  await ensureCrd(test);
  const namespace = await createNamespace(test, `${KUBELET_NAMESPACE_PREFIX}${prefix}`);
  const sandbox = await Sandbox.create({ prefix: "dbop-pods-", major: options.major });
  if (!announced) {
    announced = true;
    Deno.stderr.writeSync(new TextEncoder().encode(
      `[pods] dbop's image is this checkout: ${INSTANCE_BINARY.image} runs "deno run mod.ts" ` +
        "(deno compile cannot download denort here); PostgreSQL is the sandbox's\n",
    ));
  }
  const kubelet = await startKubelet({
    kubeconfig: test.kubeconfigPath,
    sandbox,
    namespaces: [namespace],
    images: await localImages(
      sandbox,
      options.logLevel ? { DBOP_LOG_LEVEL: options.logLevel } : {},
    ),
  });
  // Polled every 2 s once settled (30 s by default), so tests see status.instances follow writes.
  const newOperator = (): TestOperator | DbopProcess =>
    options.operatorProcess
      ? new DbopProcess([
        "run",
        `--kubeconfig=${test.kubeconfigPath}`,
        `--namespace=${namespace}`,
        "--instance-status-period=2s",
        "--metrics-bind-address=0",
        "--health-probe-bind-address=0",
        "--log-format=json",
        ...(options.logLevel ? [`--log-level=${options.logLevel}`] : []),
      ])
      : startOperator(test.kubeconfigPath, {
        namespaces: [namespace],
        instanceStatusPeriodMs: 2000,
      });
  let operator: TestOperator | DbopProcess | undefined = newOperator();
  const stopOperator = async () => {
    const stopping = operator;
    operator = undefined;
    if (stopping instanceof DbopProcess) await stopping.stop("SIGTERM");
    else await stopping?.stop();
  };
  const resources = resourcesFor(test.kubeconfigPath);
  const running = async (
    cluster: string,
    replicas: number,
    { primary, timeoutMs = 180_000 }: { primary?: string; timeoutMs?: number } = {},
  ) => {
    const pods = Array.from({ length: replicas }, (_, i) => `${cluster}-${i}`);
    const what = primary ? `"${primary}" the primary` : "one primary";
    try {
      return await eventually(`"${cluster}" running, ${what}, the others streaming`, async () => {
        const all = await Promise.all(pods.map((pod) => instanceStatus(cluster, pod)));
        // A rolling update ends with another instance as the primary than ordinal 0.
        const up = all.every((s) => s?.postgres === "running") &&
          all.filter((s) => s?.role === "primary").length === 1 &&
          all.every((s) => s?.role === "primary" || s?.walReceiverStreaming === true) &&
          (primary === undefined || all.find((s) => s?.role === "primary")?.pod === primary);
        return up ? all as InstanceStatus[] : undefined;
      }, { timeoutMs, intervalMs: 500 });
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${logTails(pods)}`);
    }
  };
  const logTails = (pods: string[], lines = 20) => {
    const tails: string[] = [];
    for (const pod of pods) {
      for (const container of ["dbop-install", "postgres"]) {
        let text: string;
        try {
          text = kubelet.logs(namespace, pod, container);
        } catch (error) {
          text = (error as Error).message;
        }
        const tail = text.trimEnd().split("\n").slice(-lines).join("\n");
        tails.push(`--- ${pod}/${container}\n${tail}`);
      }
    }
    return tails.join("\n");
  };
  const instanceStatus = async (
    cluster: string,
    pod: string,
  ): Promise<InstanceStatus | undefined> => {
    const ip = (await resources.getOrUndefined(Pods, pod, { namespace }))?.status?.podIP;
    if (!ip) return undefined;
    const { token } = decode(
      await resources.get(Secrets, statusTokenSecretName(cluster), { namespace }),
    );
    try {
      const response = await fetch(`http://${ip}:${STATUS_PORT}/status`, {
        headers: { authorization: `Bearer ${token}` },
        signal: AbortSignal.timeout(3_000),
      });
      if (!response.ok) {
        await response.body?.cancel();
        return undefined;
      }
      return await response.json();
    } catch {
      return undefined;
    }
  };

  const serviceAddress = (name: string) => {
    const address = kubelet.hosts(namespace)[name];
    if (!address) throw new Error(`No Service "${name}" in "${namespace}"`);
    return address;
  };

  return {
    namespace,
    sandbox,
    kubelet,
    get operator() {
      if (operator instanceof DbopProcess || operator === undefined) {
        throw new Error("No in-process operator runs");
      }
      return operator;
    },
    get operatorProcess() {
      return operator instanceof DbopProcess ? operator : undefined;
    },
    async withoutOperator(fn) {
      await stopOperator();
      try {
        return await fn();
      } finally {
        operator = newOperator();
      }
    },
    async restartOperator() {
      await stopOperator();
      operator = newOperator();
    },
    async killOperator() {
      if (!(operator instanceof DbopProcess)) throw new Error("No operator process runs");
      const killed = operator;
      operator = undefined;
      await killed.stop("SIGKILL");
    },
    startOperator() {
      if (operator !== undefined) throw new Error("An operator runs already");
      operator = newOperator();
    },
    resources,
    running,
    async clusterStatus(cluster) {
      // The CRD schema validated it on the way in.
      return ((await resources.get(DatabaseClusters, cluster, { namespace })).status ??
        {}) as DatabaseClusterStatus;
    },
    logTails,
    instanceStatus,
    apply: async (object) => {
      await test.kubectlOk(["apply", "-n", namespace, "-f", "-"], {
        stdin: JSON.stringify(object),
      });
    },
    pod: (name) => resources.getOrUndefined(Pods, name, { namespace }),
    secret: async (name) => decode(await resources.get(Secrets, name, { namespace })),
    async readWrite(cluster, sslmode) {
      const app = decode(await resources.get(Secrets, `${cluster}-app`, { namespace }));
      return {
        host: serviceAddress(`${cluster}-rw`),
        port: 5432,
        user: app.username,
        dbname: app.dbname,
        password: app.password,
        sslmode,
      };
    },
    serviceAddress,
    killPod: (pod) => kubelet.killPod(namespace, pod),
    pausePod: (pod) => kubelet.pausePod(namespace, pod),
    resumePod: (pod) => kubelet.resumePod(namespace, pod),
    partitionPod: (pod) => kubelet.partitionPod(namespace, pod),
    healPod: (pod) => kubelet.healPod(namespace, pod),
    async [Symbol.asyncDispose]() {
      // Torn down as a cluster would be, the operator and the kubelet still running: the
      // clusters' finalizers, the pods' shutdown and the volumes' deletion finish here, not
      // in the background of the next test; an operator is started if a test left none.
      operator ??= newOperator();
      await test.kubectl(["delete", "namespace", namespace, "--wait=false"]);
      const gone = await test.kubectl([
        "wait",
        "--for=delete",
        `namespace/${namespace}`,
        "--timeout=180s",
      ]);
      if (gone.code !== 0) {
        Deno.stderr.writeSync(new TextEncoder().encode(
          `[pods] namespace ${namespace} not deleted within 180 s: ${gone.stderr.trim()}\n`,
        ));
      }
      await stopOperator();
      await kubelet[Symbol.asyncDispose]();
      await sandbox[Symbol.asyncDispose]();
      resources.client.close();
    },
  };
}
