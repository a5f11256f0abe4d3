/**
 * The pod's own credentials, as the kubelet provides them: the API server from
 * `KUBERNETES_SERVICE_HOST` and `KUBERNETES_SERVICE_PORT`, and the service
 * account's `token`, `ca.crt` and `namespace` files. No dependencies (client-node
 * costs ~80 MiB of RSS), so that the instance manager in every PostgreSQL pod
 * stays small. The kubelet rotates the projected token (it swaps the files
 * atomically, well before expiry), so token and CA are read again at most every
 * {@linkcode TOKEN_REREAD_MS}, as client-go does, and at once after a 401.
 *
 * @module
 */
import type { AuthMaterial, Credentials } from "./credentials.ts";

/** Where the kubelet mounts the service account's files in a pod. */
export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/** How long the token and CA read from disk are reused, in ms. */
export const TOKEN_REREAD_MS = 60_000;

/** Options of {@linkcode loadInCluster}. */
export interface InClusterOptions {
  /** Directory with `token`, `ca.crt` and `namespace`; default {@linkcode SERVICE_ACCOUNT_DIR}. */
  serviceAccountDir?: string;
  /** Environment to read (`KUBERNETES_SERVICE_HOST/PORT`); defaults to the process's. */
  env?: (name: string) => string | undefined;
  /** The clock that paces re-reads, in ms; default `Date.now`. */
  now?: () => number;
}

/** Credentials of the pod's service account. */
export interface InClusterCredentials extends Credentials {
  /** The pod's namespace from `<dir>/namespace`; undefined when that file is absent. */
  readonly namespace?: string;
  /** The directory the files are read from. */
  readonly serviceAccountDir: string;
}

function readError(path: string, error: unknown): Error {
  if (error instanceof Deno.errors.NotFound) {
    return new Error(
      `Service-account file "${path}" does not exist: is a service-account token mounted?`,
    );
  }
  return new Error(`Cannot read service-account file "${path}": ${(error as Error).message}`);
}

function readSync(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch (error) {
    throw readError(path, error);
  }
}

async function read(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    throw readError(path, error);
  }
}

function material(dir: string, token: string, ca: string): AuthMaterial {
  const bearer = token.trim();
  if (!bearer) throw new Error(`Service-account token "${dir}/token" is empty`);
  return { headers: { Authorization: `Bearer ${bearer}` }, ca };
}

class ServiceAccountCredentials implements InClusterCredentials {
  readonly server: string;
  readonly namespace?: string;
  readonly serviceAccountDir: string;
  readonly #now: () => number;
  #material: AuthMaterial;
  #readAt: number;
  #reading?: Promise<void>;

  constructor(server: string, dir: string, now: () => number) {
    this.server = server;
    this.serviceAccountDir = dir;
    this.#now = now;
    this.#material = material(dir, readSync(`${dir}/token`), readSync(`${dir}/ca.crt`));
    this.#readAt = now();
    let namespace: string | undefined;
    try {
      namespace = Deno.readTextFileSync(`${dir}/namespace`).trim() || undefined;
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw readError(`${dir}/namespace`, error);
    }
    this.namespace = namespace;
  }

  async authenticate(): Promise<AuthMaterial> {
    if (this.#now() - this.#readAt >= TOKEN_REREAD_MS) {
      // Concurrent requests share one read.
      this.#reading ??= this.#reread().finally(() => {
        this.#reading = undefined;
      });
      await this.#reading;
    }
    return this.#material;
  }

  invalidate(): void {
    this.#readAt = -Infinity;
  }

  async #reread(): Promise<void> {
    const dir = this.serviceAccountDir;
    const [token, ca] = await Promise.all([read(`${dir}/token`), read(`${dir}/ca.crt`)]);
    this.#material = material(dir, token, ca);
    this.#readAt = this.#now();
  }
}

/**
 * Loads the pod's credentials: checks the environment and reads the token and the CA now, so a
 * pod without them fails at start naming the missing file, and the namespace if it is there.
 */
export function loadInCluster(options: InClusterOptions = {}): InClusterCredentials {
  const env = options.env ?? ((name: string) => Deno.env.get(name));
  const host = env("KUBERNETES_SERVICE_HOST");
  if (!host) {
    throw new Error(
      `Cannot use the in-cluster configuration: "KUBERNETES_SERVICE_HOST" is not set`,
    );
  }
  const port = env("KUBERNETES_SERVICE_PORT") || "443";
  // An IPv6 address needs brackets in a URL.
  const server = `https://${host.includes(":") ? `[${host}]` : host}:${port}`;
  const dir = options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  return new ServiceAccountCredentials(server, dir, options.now ?? Date.now);
}
