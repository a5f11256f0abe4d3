/**
 * The contract between the transport (`KubeClient` in `client.ts`)
 * and whatever knows how to authenticate: the API server's URL, and on demand
 * the headers and PEM material of the next requests. Implementations:
 * `in_cluster.ts` (the pod's service account, no dependencies) and
 * `kubeconfig.ts` (client-node's KubeConfig: kubeconfig files, exec plugins).
 * Types only, so importing it costs nothing at run time.
 *
 * @module
 */

/** What to send with requests: headers, and the TLS material to connect with (PEM text). */
export interface AuthMaterial {
  /** Headers of every request, e.g. `Authorization: Bearer ...`. */
  headers: Record<string, string>;
  /** CA certificates that sign the API server's certificate; the system's roots when absent. */
  ca?: string;
  /** Client certificate, used together with `key`. */
  cert?: string;
  /** Private key of `cert`. */
  key?: string;
}

/** Where the API server is and how to authenticate to it. */
export interface Credentials {
  /** The API server's URL, such as `https://10.96.0.1:443`. */
  readonly server: string;
  /**
   * The material for the next request. Called before every request, so it must be cheap when
   * nothing changed: implementations reuse what they read and refresh it on their own schedule.
   */
  authenticate(): Promise<AuthMaterial>;
  /** Drops whatever is reused, so that the next {@linkcode authenticate} reads afresh (after a 401). */
  invalidate(): void;
}
