/**
 * The benchmark's own Kubernetes: a fresh local control plane (never another
 * cluster) sized for N clusters, with the DatabaseCluster CRD, dbop's RBAC
 * from deploy/rbac, and two service accounts in `dbop-system` whose requests
 * the API server's audit log records: `dbop` (the operator, with the same
 * least-privilege ClusterRole as in production) and `dbop-floor` (the floor
 * client, bound to the same role). Each gets a token kubeconfig.
 *
 * @module
 */
import { type ControlPlane, startControlPlane } from "../tests/harness/control_plane.ts";
import { KubeClient, Resources } from "../lib/kube/mod.ts";
import { loadKubeConfig } from "../lib/kube/config.ts";
import { FIELD_MANAGER } from "../lib/databasecluster/names.ts";

const ROOT = new URL("../", import.meta.url).pathname;

/** The namespace of the benchmark's service accounts (audited by the control plane). */
export const SYSTEM_NAMESPACE = "dbop-system";

/** The audited user names of the operator and of the floor client. */
export const USERS = {
  operator: `system:serviceaccount:${SYSTEM_NAMESPACE}:dbop`,
  floor: `system:serviceaccount:${SYSTEM_NAMESPACE}:dbop-floor`,
} as const;

/** A prepared control plane. */
export interface BenchCluster {
  controlPlane: ControlPlane;
  /** Admin client of the benchmark itself (not audited). */
  admin: Resources;
  /** Kubeconfig of the `dbop` service account. */
  operatorKubeconfig: string;
  /** Kubeconfig of the `dbop-floor` service account. */
  floorKubeconfig: string;
  /** `gitVersion` of the API server. */
  kubernetesVersion: string;
  /** Fake nodes started. */
  nodes: number;
}

/** Options of {@linkcode startBenchCluster}. */
export interface BenchClusterOptions {
  /** Clusters to be created: sizes the fake nodes (250 pods each). */
  clusters: number;
  /** kube-controller-manager's client QPS (its default of 20 would be the bottleneck). */
  controllerManagerQps: number;
  log: (line: string) => void;
}

/** Fake nodes for `clusters` one-instance clusters, with headroom for rolling updates. */
export function nodesFor(clusters: number): number {
  return Math.max(3, Math.ceil(clusters / 200));
}

async function kubectl(cp: ControlPlane, args: string[], stdin?: string): Promise<string> {
  const res = await cp.kubectl(args, stdin);
  if (res.code !== 0) throw new Error(`kubectl ${args.join(" ")} failed: ${res.err.trim()}`);
  return res.out;
}

async function tokenKubeconfig(cp: ControlPlane, account: string): Promise<string> {
  const token = (await kubectl(cp, [
    "create",
    "token",
    account,
    "-n",
    SYSTEM_NAMESPACE,
    "--duration=12h",
  ])).trim();
  const path = `${cp.dir}/${account}.kubeconfig`;
  await Deno.writeTextFile(
    path,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{
        name: "bench",
        cluster: { server: cp.server, "certificate-authority": cp.pki.caCert },
      }],
      users: [{ name: account, user: { token } }],
      contexts: [{ name: "bench", context: { cluster: "bench", user: account } }],
      "current-context": "bench",
    }),
  );
  return path;
}

async function prepare(cp: ControlPlane): Promise<void> {
  const crd = `${ROOT}crds/database.example.com_databaseclusters.yaml`;
  await kubectl(cp, ["apply", "--server-side", "-f", crd]);
  await kubectl(cp, [
    "wait",
    "--for=condition=Established",
    "crd/databaseclusters.database.example.com",
    "--timeout=60s",
  ]);
  await kubectl(cp, ["create", "namespace", SYSTEM_NAMESPACE]);
  await kubectl(cp, ["apply", "-k", `${ROOT}deploy/rbac`]);
  await kubectl(cp, ["create", "serviceaccount", "dbop-floor", "-n", SYSTEM_NAMESPACE]);
  await kubectl(cp, [
    "create",
    "clusterrolebinding",
    "dbop-floor",
    "--clusterrole=dbop",
    `--serviceaccount=${SYSTEM_NAMESPACE}:dbop-floor`,
  ]);
}

const running = new Set<BenchCluster>();

/** A client of the floor's service account (close it with `client.close()`). */
export function floorClient(cluster: BenchCluster): Resources {
  return new Resources(
    new KubeClient(loadKubeConfig({ kubeconfig: cluster.floorKubeconfig }).credentials, {
      userAgent: "dbop-floor",
    }),
    { fieldManager: FIELD_MANAGER },
  );
}

/**
 * Stops the control plane; if stopping fails half-way, SIGKILLs whatever of its
 * components still runs (only processes it started), then removes its directory.
 */
export async function stopBenchCluster(cluster: BenchCluster, keepDir = false): Promise<void> {
  running.delete(cluster);
  cluster.admin.client.close();
  try {
    await cluster.controlPlane.stop({ keepDir });
  } catch {
    for (const pid of cluster.controlPlane.pids()) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
    if (!keepDir) await Deno.remove(cluster.controlPlane.dir, { recursive: true }).catch(() => {});
  }
}

/** Stops every control plane started by {@linkcode startBenchCluster} and not stopped yet. */
export async function stopAllBenchClusters(keepDir = false): Promise<void> {
  for (const cluster of [...running]) await stopBenchCluster(cluster, keepDir);
}

/** Starts and prepares the control plane; stops it again if preparing fails. */
export async function startBenchCluster(options: BenchClusterOptions): Promise<BenchCluster> {
  const nodes = nodesFor(options.clusters);
  const qps = options.controllerManagerQps;
  const controlPlane = await startControlPlane({
    nodes,
    controllerManagerFlags: [`--kube-api-qps=${qps}`, `--kube-api-burst=${qps * 2}`],
    log: options.log,
  });
  try {
    await prepare(controlPlane);
    const admin = new Resources(
      new KubeClient(loadKubeConfig({ kubeconfig: controlPlane.kubeconfigPath }).credentials, {
        userAgent: "dbop-bench",
      }),
      { fieldManager: FIELD_MANAGER },
    );
    const version = await admin.client.request<{ gitVersion: string }>("/version");
    const cluster: BenchCluster = {
      controlPlane,
      admin,
      operatorKubeconfig: await tokenKubeconfig(controlPlane, "dbop"),
      floorKubeconfig: await tokenKubeconfig(controlPlane, "dbop-floor"),
      kubernetesVersion: version.gitVersion,
      nodes,
    };
    running.add(cluster);
    return cluster;
  } catch (error) {
    await controlPlane.stop({ printLogs: true });
    throw error;
  }
}
