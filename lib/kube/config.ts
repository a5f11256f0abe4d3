/**
 * Where the API server is and how to authenticate to it: a kubeconfig file
 * (contexts, client certificates, tokens, exec credential plugins) out of the
 * cluster, or the pod's service-account token and CA in it. Loading and
 * authentication are client-node's; this file only chooses and checks.
 *
 * @module
 */
import { KubeConfig } from "@kubernetes/client-node";

/** Where the service-account files live in a pod. */
export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/** How to find the cluster. */
export interface LoadConfigOptions {
  /** A kubeconfig file; wins over everything else. */
  kubeconfig?: string;
  /** Context to use instead of the kubeconfig's current one. */
  context?: string;
  /** Directory with `token`, `ca.crt` and `namespace` for in-cluster mode. */
  serviceAccountDir?: string;
  /** Environment to read (`KUBECONFIG`, `KUBERNETES_SERVICE_HOST/PORT`); defaults to the process's. */
  env?: (name: string) => string | undefined;
}

/** A loaded configuration and where it came from (for messages). */
export interface LoadedConfig {
  kubeConfig: KubeConfig;
  /** `kubeconfig "<path>"` or `in-cluster service account`. */
  source: string;
  /** Namespace of the pod in-cluster, or the context's namespace. */
  namespace?: string;
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

function inCluster(dir: string, host: string, port: string): LoadedConfig {
  const kubeConfig = new KubeConfig();
  const server = host.includes(":") ? `https://[${host}]:${port}` : `https://${host}:${port}`;
  kubeConfig.loadFromClusterAndUser(
    { name: "in-cluster", server, caFile: `${dir}/ca.crt`, skipTLSVerify: false },
    // client-node re-reads a tokenFile every minute, which follows projected-token rotation.
    {
      name: "service-account",
      authProvider: { name: "tokenFile", config: { tokenFile: `${dir}/token` } },
    },
  );
  let namespace: string | undefined;
  try {
    namespace = Deno.readTextFileSync(`${dir}/namespace`).trim();
  } catch {
    namespace = undefined;
  }
  return { kubeConfig, source: `in-cluster service account (${dir})`, namespace };
}

/**
 * Loads the configuration: `--kubeconfig`, else in-cluster when
 * `KUBERNETES_SERVICE_HOST` is set and the token exists, else `KUBECONFIG`,
 * else `~/.kube/config`.
 */
export function loadKubeConfig(options: LoadConfigOptions = {}): LoadedConfig {
  const env = options.env ?? ((name: string) => Deno.env.get(name));
  const host = env("KUBERNETES_SERVICE_HOST");
  const port = env("KUBERNETES_SERVICE_PORT") ?? "443";
  const saDir = options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  let loaded: LoadedConfig;
  if (!options.kubeconfig && host && exists(`${saDir}/token`)) {
    loaded = inCluster(saDir, host, port);
  } else {
    const path = options.kubeconfig ?? firstKubeconfig(env);
    if (!path) {
      throw new Error(
        "No Kubernetes configuration found: pass --kubeconfig, set KUBECONFIG, " +
          "create ~/.kube/config, or run in a pod with a service account",
      );
    }
    if (!exists(path)) throw new Error(`Kubeconfig "${path}" does not exist`);
    const kubeConfig = new KubeConfig();
    try {
      kubeConfig.loadFromFile(path);
    } catch (error) {
      throw new Error(`Cannot load kubeconfig "${path}": ${(error as Error).message}`);
    }
    loaded = { kubeConfig, source: `kubeconfig "${path}"` };
  }
  if (options.context) {
    const names = loaded.kubeConfig.getContexts().map((c) => c.name);
    if (!names.includes(options.context)) {
      throw new Error(
        `Context "${options.context}" is not in ${loaded.source}: have ${
          names.map((n) => `"${n}"`).join(", ") || "none"
        }`,
      );
    }
    loaded.kubeConfig.setCurrentContext(options.context);
  }
  const cluster = loaded.kubeConfig.getCurrentCluster();
  if (!cluster?.server) throw new Error(`No cluster server in ${loaded.source}`);
  const contextNamespace = loaded.kubeConfig.getContextObject(loaded.kubeConfig.getCurrentContext())
    ?.namespace;
  return { ...loaded, namespace: loaded.namespace ?? contextNamespace };
}

function firstKubeconfig(env: (name: string) => string | undefined): string | undefined {
  const fromEnv = env("KUBECONFIG")?.split(":").find((p) => p.length > 0);
  if (fromEnv) return fromEnv;
  const home = env("HOME");
  return home && exists(`${home}/.kube/config`) ? `${home}/.kube/config` : undefined;
}
