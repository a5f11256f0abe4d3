/**
 * Where the API server is and how to authenticate to it, for the operator: a
 * kubeconfig file (contexts, client certificates, tokens, exec credential
 * plugins) out of the cluster, read by client-node, or the pod's service
 * account in it (`in_cluster.ts`). This file only chooses and checks.
 *
 * It loads client-node at run time (~80 MiB of RSS), which is why `mod.ts`
 * does not export it: import it from here.
 *
 * @module
 */
import { KubeConfig } from "@kubernetes/client-node";
import type { Credentials } from "./credentials.ts";
import { loadInCluster, SERVICE_ACCOUNT_DIR } from "./in_cluster.ts";
import { KubeConfigCredentials } from "./kubeconfig.ts";

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
  /** What `KubeClient` authenticates with. */
  credentials: Credentials;
  /** `kubeconfig "<path>"` or `in-cluster service account (<dir>)`. */
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

/**
 * Loads the configuration: `--kubeconfig`, else in-cluster when
 * `KUBERNETES_SERVICE_HOST` is set and the token exists, else `KUBECONFIG`,
 * else `~/.kube/config`.
 */
export function loadKubeConfig(options: LoadConfigOptions = {}): LoadedConfig {
  const env = options.env ?? ((name: string) => Deno.env.get(name));
  const saDir = options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  if (!options.kubeconfig && env("KUBERNETES_SERVICE_HOST") && exists(`${saDir}/token`)) {
    const source = `in-cluster service account (${saDir})`;
    if (options.context) {
      throw new Error(`Context "${options.context}" is not in ${source}: have none`);
    }
    const credentials = loadInCluster({ serviceAccountDir: saDir, env });
    return { credentials, source, namespace: credentials.namespace };
  }
  const path = options.kubeconfig ?? firstKubeconfig(env);
  if (!path) {
    throw new Error(
      "No Kubernetes configuration found: pass --kubeconfig, set KUBECONFIG, " +
        "create ~/.kube/config, or run in a pod with a service account",
    );
  }
  if (!exists(path)) throw new Error(`Kubeconfig "${path}" does not exist`);
  const source = `kubeconfig "${path}"`;
  const kubeConfig = new KubeConfig();
  try {
    kubeConfig.loadFromFile(path);
  } catch (error) {
    throw new Error(`Cannot load kubeconfig "${path}": ${(error as Error).message}`);
  }
  if (options.context) {
    const names = kubeConfig.getContexts().map((c) => c.name);
    if (!names.includes(options.context)) {
      throw new Error(
        `Context "${options.context}" is not in ${source}: have ${
          names.map((n) => `"${n}"`).join(", ") || "none"
        }`,
      );
    }
    kubeConfig.setCurrentContext(options.context);
  }
  if (!kubeConfig.getCurrentCluster()?.server) throw new Error(`No cluster server in ${source}`);
  return {
    credentials: new KubeConfigCredentials(kubeConfig),
    source,
    namespace: kubeConfig.getContextObject(kubeConfig.getCurrentContext())?.namespace,
  };
}

function firstKubeconfig(env: (name: string) => string | undefined): string | undefined {
  const fromEnv = env("KUBECONFIG")?.split(":").find((p) => p.length > 0);
  if (fromEnv) return fromEnv;
  const home = env("HOME");
  return home && exists(`${home}/.kube/config`) ? `${home}/.kube/config` : undefined;
}
