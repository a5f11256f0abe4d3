/**
 * What integration tests use to reach a cluster: the control plane started by
 * `deno task test` (tests/run.ts), or the cluster named by `TEST_KUBECONFIG`.
 * An ambient `KUBECONFIG` is never used.
 *
 * @module
 */
import { KubeClient, type RequestObserver, Resources } from "../../lib/kube/mod.ts";
import { loadKubeConfig } from "../../lib/kube/config.ts";
import { FIELD_MANAGER } from "../../lib/databasecluster/names.ts";
export { type Component, ControlPlane, startControlPlane } from "./control_plane.ts";

/** Result of a kubectl run. */
export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A cluster under test. */
export interface TestCluster {
  /** Admin kubeconfig of the cluster. */
  kubeconfigPath: string;
  /** Directory of the locally built binaries (kubectl, ...). */
  binDir: string;
  /** Runs kubectl; never throws on a non-zero exit. */
  kubectl(args: string[], options?: { stdin?: string }): Promise<KubectlResult>;
  /** Runs kubectl and returns stdout; throws with stderr on a non-zero exit. */
  kubectlOk(args: string[], options?: { stdin?: string }): Promise<string>;
}

/** Environment variables set by tests/run.ts for the test process. */
export const ENV_KUBECONFIG = "DBOP_TEST_KUBECONFIG";
/** Directory of the control-plane binaries, set by tests/run.ts. */
export const ENV_BIN_DIR = "DBOP_TEST_BIN_DIR";

let shared: TestCluster | undefined;

/** The shared cluster for this test run. */
export function testCluster(): TestCluster {
  if (shared) return shared;
  const kubeconfigPath = Deno.env.get(ENV_KUBECONFIG);
  const binDir = Deno.env.get(ENV_BIN_DIR);
  if (!kubeconfigPath || !binDir) {
    throw new Error(
      `Integration tests need a cluster: run "deno task test" (it starts a local control plane, ` +
        `or uses TEST_KUBECONFIG); "${ENV_KUBECONFIG}" and "${ENV_BIN_DIR}" are not set`,
    );
  }
  shared = makeTestCluster(kubeconfigPath, binDir);
  return shared;
}

/** Wraps a kubeconfig and a kubectl binary as a {@linkcode TestCluster}. */
export function makeTestCluster(kubeconfigPath: string, binDir: string): TestCluster {
  const kubectl = async (args: string[], options: { stdin?: string } = {}) => {
    const child = new Deno.Command(`${binDir}/kubectl`, {
      args: ["--kubeconfig", kubeconfigPath, ...args],
      stdin: options.stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
      env: { KUBECONFIG: kubeconfigPath },
    }).spawn();
    if (options.stdin !== undefined) {
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode(options.stdin));
      await writer.close();
    }
    const out = await child.output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  };
  const kubectlOk = async (args: string[], options: { stdin?: string } = {}) => {
    const res = await kubectl(args, options);
    if (res.code !== 0) {
      throw new Error(`kubectl ${args.join(" ")} failed (${res.code}): ${res.stderr.trim()}`);
    }
    return res.stdout;
  };
  return { kubeconfigPath, binDir, kubectl, kubectlOk };
}

/** Polls `check` until it returns a value other than undefined, or throws after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  options: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 250));
  }
  throw new Error(`Timed out waiting for ${what}${lastError ? `: ${lastError}` : ""}`);
}

/** Creates a namespace with a unique name and returns it. */
export async function createNamespace(cluster: TestCluster, prefix: string): Promise<string> {
  const name = `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
  await cluster.kubectlOk(["create", "namespace", name]);
  return name;
}

/** Our own typed client for a kubeconfig (close it with `resources.client.close()`). */
export function resourcesFor(
  kubeconfigPath: string,
  options: { observer?: RequestObserver } = {},
): Resources {
  const { credentials } = loadKubeConfig({ kubeconfig: kubeconfigPath });
  return new Resources(new KubeClient(credentials, options), { fieldManager: FIELD_MANAGER });
}
