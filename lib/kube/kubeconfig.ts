/**
 * {@linkcode Credentials} from client-node's `KubeConfig`: everything a
 * kubeconfig can say (certificate files or data, tokens, token files, exec
 * credential plugins, auth providers). client-node is asked again at most
 * every {@linkcode KUBECONFIG_REUSE_MS}, or after a 401.
 *
 * @module
 */
import type { KubeConfig } from "@kubernetes/client-node";
import type { AuthMaterial, Credentials } from "./credentials.ts";

/** How long credentials and TLS material are reused before asking client-node again, in ms. */
export const KUBECONFIG_REUSE_MS = 30_000;

interface Reused {
  material: AuthMaterial;
  expires: number;
}

/** The credentials of a KubeConfig's current context. */
export class KubeConfigCredentials implements Credentials {
  /** The current cluster's server, without a trailing slash. */
  readonly server: string;
  /** The configuration asked for credentials. */
  readonly kubeConfig: KubeConfig;
  readonly #now: () => number;
  #reused?: Promise<Reused>;

  constructor(kubeConfig: KubeConfig, options: { now?: () => number } = {}) {
    const server = kubeConfig.getCurrentCluster()?.server;
    if (!server) throw new Error("The kubeconfig has no current cluster server");
    this.server = server.replace(/\/+$/, "");
    this.kubeConfig = kubeConfig;
    this.#now = options.now ?? Date.now;
  }

  /** The current context's headers and TLS material; refuses insecure-skip-tls-verify. */
  async authenticate(): Promise<AuthMaterial> {
    const reused = this.#reused && await this.#reused.catch(() => undefined);
    if (reused && reused.expires > this.#now()) return reused.material;
    this.#reused = this.#ask();
    return (await this.#reused).material;
  }

  /** Makes the next {@linkcode authenticate} ask client-node again. */
  invalidate(): void {
    this.#reused = undefined;
  }

  async #ask(): Promise<Reused> {
    const opts: {
      headers?: Record<string, string>;
      ca?: Uint8Array;
      cert?: Uint8Array;
      key?: Uint8Array;
      rejectUnauthorized?: boolean;
    } = { headers: {} };
    // deno-lint-ignore no-explicit-any
    await this.kubeConfig.applyToHTTPSOptions(opts as any);
    if (opts.rejectUnauthorized === false) {
      throw new Error(
        "insecure-skip-tls-verify is not supported: give the cluster's CA (certificate-authority-data) instead",
      );
    }
    const text = (b?: Uint8Array) => (b ? new TextDecoder().decode(b) : undefined);
    return {
      material: {
        headers: opts.headers ?? {},
        ca: text(opts.ca),
        cert: text(opts.cert),
        key: text(opts.key),
      },
      expires: this.#now() + KUBECONFIG_REUSE_MS,
    };
  }
}
