/**
 * Instance managers of one DatabaseCluster as local processes against the
 * real API server: `deno run mod.ts instance run` (in place of the binary an
 * init container copies into a pod), as the sandbox's server user, one
 * loopback address per instance standing in for its pod IP, each with its
 * own data, socket, configuration and TLS directories and a service-account
 * directory holding a real token of the cluster's ServiceAccount. The
 * configuration files and certificates are dbop's builders' output; the
 * ServiceAccount, Role and RoleBinding are created here with the grants the
 * instance manager needs, and the status token's Secret, which it follows.
 *
 * @module
 */
import { parse } from "yaml";
import type { DatabaseCluster } from "../../lib/api/mod.ts";
import { generatedUsername, REPLICATION_USERNAME, STATUS_TOKEN_KEY } from "../../lib/api/mod.ts";
import {
  podName,
  primaryLeaseName,
  statusTokenSecretName,
} from "../../lib/databasecluster/names.ts";
import { BINARY_PERMISSIONS } from "../../lib/instance/install.ts";
import { type Passwords, resolvePasswords } from "../../lib/databasecluster/passwords.ts";
import {
  renderPgHba,
  renderPgIdent,
  renderPostgresqlConf,
} from "../../lib/databasecluster/specs/postgresql_conf.ts";
import { serverCertificateDnsNames } from "../../lib/databasecluster/specs/tls_secrets.ts";
import { issueClusterCa, issueServerCertificate } from "../../lib/databasecluster/tls.ts";
import type { Sandbox, ServerProcess } from "./postgres.ts";
import type { Connection } from "./psql.ts";
import type { TestCluster } from "./mod.ts";

const MOD_TS = new URL("../../mod.ts", import.meta.url).pathname;

/** The status endpoint's port in every pod. */
export const STATUS_PORT = 8000;

/**
 * The Role an instance manager's ServiceAccount gets: its own cluster, its primary Lease and
 * its status token Secret, nothing else (the other Secrets and the ConfigMap are not followed
 * here).
 */
export function instanceRole(cluster: string, namespace: string): Record<string, unknown> {
  return {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "Role",
    metadata: { name: `${cluster}-instance`, namespace },
    rules: [
      {
        apiGroups: ["database.example.com"],
        resources: ["databaseclusters"],
        resourceNames: [cluster],
        verbs: ["get", "list", "watch"],
      },
      {
        apiGroups: ["database.example.com"],
        resources: ["databaseclusters/status"],
        resourceNames: [cluster],
        verbs: ["patch"],
      },
      {
        apiGroups: ["coordination.k8s.io"],
        resources: ["leases"],
        resourceNames: [primaryLeaseName(cluster)],
        verbs: ["get", "update"],
      },
      { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create"] },
      {
        apiGroups: [""],
        resources: ["secrets"],
        resourceNames: [statusTokenSecretName(cluster)],
        verbs: ["list", "watch"],
      },
    ],
  };
}

/** One instance: its address, directories and manager process. */
export interface LocalInstance {
  pod: string;
  ip: string;
  root: string;
  pgdata: string;
  socketDir: string;
  process: ServerProcess;
}

/** Where the API server of a kubeconfig is, and the CA of its certificate (PEM). */
export function apiServer(kubeconfigPath: string): { host: string; port: string; ca: string } {
  const config = parse(Deno.readTextFileSync(kubeconfigPath));
  const cluster = config.clusters[0].cluster;
  const url = new URL(cluster.server);
  const ca = cluster["certificate-authority-data"]
    ? atob(cluster["certificate-authority-data"])
    : Deno.readTextFileSync(cluster["certificate-authority"]);
  return { host: url.hostname, port: url.port || "443", ca };
}

/** What every instance reads: pg_hba.conf and, with TLS, the server certificate. */
interface ClusterFiles {
  hba: string;
  tls?: { crt: string; key: string; ca: string };
}

/** A cluster's instances run by `dbop instance run`. */
export class LocalInstances {
  readonly cluster: DatabaseCluster;
  readonly passwords: Passwords;
  readonly statusToken = crypto.randomUUID();
  /** The first three octets of the instances' addresses, e.g. `127.31.7`. */
  readonly network: string;
  #sandbox: Sandbox;
  #test: TestCluster;
  #files: ClusterFiles;
  #running = new Map<number, LocalInstance>();

  private constructor(
    sandbox: Sandbox,
    test: TestCluster,
    parts: { cluster: DatabaseCluster; passwords: Passwords; files: ClusterFiles },
  ) {
    this.#sandbox = sandbox;
    this.#test = test;
    this.cluster = parts.cluster;
    this.passwords = parts.passwords;
    this.#files = parts.files;
    this.network = `127.${20 + Math.floor(Math.random() * 200)}.${Math.floor(Math.random() * 250)}`;
  }

  /** dbop's configuration and TLS material for `cluster`, and the instances' RBAC. */
  static async create(
    sandbox: Sandbox,
    test: TestCluster,
    cluster: DatabaseCluster,
  ): Promise<LocalInstances> {
    const passwords = resolvePasswords({}, { withApp: true });
    let tls: { crt: string; key: string; ca: string } | undefined;
    if (cluster.spec.security.tls.enabled) {
      const now = new Date();
      const ca = await issueClusterCa(
        `${cluster.metadata.namespace}/${cluster.metadata.name}`,
        now,
      );
      const server = await issueServerCertificate(ca, serverCertificateDnsNames(cluster), { now });
      tls = { crt: server.certificate, key: server.privateKey, ca: server.caCertificate };
    }
    const files = { hba: renderPgHba(cluster), tls };
    const instances = new LocalInstances(sandbox, test, { cluster, passwords, files });
    await instances.#createObjects();
    return instances;
  }

  get #name(): string {
    return this.cluster.metadata.name;
  }

  get #namespace(): string {
    return this.cluster.metadata.namespace!;
  }

  /** The instances' ServiceAccount, Role and RoleBinding, and the Secret of the status token. */
  async #createObjects(): Promise<void> {
    const sa = `${this.#name}-instance`;
    const objects = [
      {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: statusTokenSecretName(this.#name), namespace: this.#namespace },
        stringData: { [STATUS_TOKEN_KEY]: this.statusToken },
      },
      {
        apiVersion: "v1",
        kind: "ServiceAccount",
        metadata: { name: sa, namespace: this.#namespace },
      },
      instanceRole(this.#name, this.#namespace),
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "RoleBinding",
        metadata: { name: sa, namespace: this.#namespace },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: sa },
        subjects: [{ kind: "ServiceAccount", name: sa, namespace: this.#namespace }],
      },
    ];
    for (const object of objects) {
      await this.#test.kubectlOk(["apply", "-f", "-"], { stdin: JSON.stringify(object) });
    }
  }

  /** The loopback address standing in for instance `ordinal`'s pod IP. */
  ip(ordinal: number): string {
    return `${this.network}.${ordinal + 1}`;
  }

  /** The running instance `ordinal`. */
  instance(ordinal: number): LocalInstance {
    const instance = this.#running.get(ordinal);
    if (!instance) throw new Error(`Instance ${ordinal} is not running`);
    return instance;
  }

  /** Starts instance `ordinal`'s manager; its directories survive a restart of it. */
  async start(
    ordinal: number,
    options: { primaryHost: string; stopTimeoutSeconds?: number },
  ): Promise<LocalInstance> {
    const pod = podName(this.#name, ordinal);
    const root = await this.#sandbox.mkdir(`${this.#sandbox.root}/pods/${pod}`);
    const dir = async (name: string, mode = 0o700) =>
      await this.#sandbox.mkdir(`${root}/${name}`, { mode });
    const [data, socketDir, config, tlsDir, saDir, denoDir] = [
      await dir("data"),
      await dir("run"),
      await dir("config", 0o755),
      await dir("tls"),
      await dir("serviceaccount"),
      await this.#sandbox.mkdir(`${this.#sandbox.root}/deno-dir`),
    ];
    const conf = renderPostgresqlConf(this.cluster);
    await this.#write(`${config}/postgresql.conf`, conf, 0o644);
    await this.#write(`${config}/pg_hba.conf`, this.#files.hba, 0o644);
    await this.#write(`${config}/pg_ident.conf`, renderPgIdent(), 0o644);
    const { tls } = this.#files;
    if (tls) {
      await this.#write(`${tlsDir}/tls.crt`, tls.crt, 0o644);
      await this.#write(`${tlsDir}/tls.key`, tls.key, 0o600);
      await this.#write(`${tlsDir}/ca.crt`, tls.ca, 0o644);
    }
    const api = apiServer(this.#test.kubeconfigPath);
    await this.#write(`${saDir}/token`, await this.#token(), 0o600);
    await this.#write(`${saDir}/ca.crt`, api.ca, 0o644);
    await this.#write(`${saDir}/namespace`, this.#namespace, 0o644);
    const app = generatedUsername(this.cluster.spec)!;
    const env: Record<string, string> = {
      DENO_DIR: denoDir,
      DENO_NO_UPDATE_CHECK: "1",
      KUBERNETES_SERVICE_HOST: api.host,
      KUBERNETES_SERVICE_PORT: api.port,
      DBOP_SERVICE_ACCOUNT_DIR: saDir,
      DBOP_CLUSTER: this.#name,
      POD_NAMESPACE: this.#namespace,
      POD_NAME: pod,
      POD_IP: this.ip(ordinal),
      PGDATA: `${data}/pgdata`,
      PGPORT: String(this.cluster.spec.network.port),
      DBOP_CONFIG_DIR: config,
      RUN_DIR: socketDir,
      PRIMARY_HOST: options.primaryHost,
      REPLICATION_USER: REPLICATION_USERNAME,
      REPLICATION_PASSWORD: this.passwords.replication,
      REPLICATION_SSLMODE: tls ? "verify-ca" : "disable",
      POSTGRES_PASSWORD: this.passwords.superuser,
      APP_USER: app,
      APP_PASSWORD: this.passwords.app!,
      APP_DATABASE: this.cluster.spec.security.authentication.database,
      PASSWORD_ENCRYPTION: this.cluster.spec.security.authentication.type,
      DBOP_STATUS_PORT: String(STATUS_PORT),
      DBOP_STATUS_TOKEN: this.statusToken,
      DBOP_STOP_TIMEOUT_SECONDS: String(options.stopTimeoutSeconds ?? 30),
    };
    if (tls) {
      env.REPLICATION_SSLROOTCERT = `${tlsDir}/ca.crt`;
      env.DBOP_TLS_DIR = tlsDir;
    }
    const process = this.#sandbox.spawnServer(
      Deno.execPath(),
      ["run", "--quiet", ...BINARY_PERMISSIONS, MOD_TS, "instance", "run"],
      { name: pod, port: this.cluster.spec.network.port, env, dataDirs: [`${data}/pgdata`] },
    );
    const instance = {
      pod,
      ip: this.ip(ordinal),
      root,
      pgdata: `${data}/pgdata`,
      socketDir,
      process,
    };
    this.#running.set(ordinal, instance);
    return instance;
  }

  async #write(path: string, text: string, mode: number): Promise<void> {
    await Deno.writeTextFile(path, text);
    await Deno.chmod(path, mode);
    await this.#sandbox.own(path);
  }

  /** A token of the instances' ServiceAccount from the TokenRequest API, valid for an hour. */
  async #token(): Promise<string> {
    const out = await this.#test.kubectlOk([
      "create",
      "token",
      `${this.#name}-instance`,
      "-n",
      this.#namespace,
      "--duration=1h",
    ]);
    return out.trim();
  }

  /** GET `path` of instance `ordinal`'s status endpoint, with the cluster's token by default. */
  async fetch(
    ordinal: number,
    path = "/status",
    options: { token?: string | null } = {},
  ): Promise<Response> {
    const token = options.token === undefined ? this.statusToken : options.token;
    return await fetch(`http://${this.ip(ordinal)}:${STATUS_PORT}${path}`, {
      headers: token === null ? {} : { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(5_000),
    });
  }

  /** Instance `ordinal`'s status, or undefined when its endpoint does not answer. */
  // deno-lint-ignore no-explicit-any
  async status(ordinal: number): Promise<Record<string, any> | undefined> {
    try {
      const response = await this.fetch(ordinal);
      if (!response.ok) {
        await response.body?.cancel();
        return undefined;
      }
      return await response.json();
    } catch {
      return undefined;
    }
  }

  /** A TCP connection to instance `ordinal` as the application owner, verifying the CA. */
  app(ordinal: number): Connection {
    const tls = this.#files.tls;
    return {
      host: this.ip(ordinal),
      port: this.cluster.spec.network.port,
      user: generatedUsername(this.cluster.spec)!,
      dbname: this.cluster.spec.security.authentication.database,
      password: this.passwords.app,
      sslmode: tls ? "verify-ca" : "disable",
      sslrootcert: tls ? `${this.instance(ordinal).root}/tls/ca.crt` : undefined,
    };
  }
}
