/**
 * What `dbop instance run` is told, all from the environment the pod spec
 * sets (the downward API for the pod's name, namespace and IP; Secrets for
 * passwords and the status token), so the command line stays free of
 * secrets. A missing or invalid variable is one clear error naming it.
 *
 * @module
 */

/** Everything the instance manager needs to run one instance. */
export interface InstanceOptions {
  /** The DatabaseCluster's name and namespace. */
  cluster: string;
  namespace: string;
  /** This pod's name: the instance's identity in `status.targetPrimary`. */
  pod: string;
  /** The address PostgreSQL and the status endpoint listen on (the pod IP). */
  podIp: string;
  pgdata: string;
  port: number;
  /**
   * Directory of postgresql.conf and pg_hba.conf: written by the manager from
   * `follow.configMap` when named, else read as found.
   */
  configDir: string;
  /** Unix socket directory, also where the replication passfile is written. */
  socketDir: string;
  /**
   * Directory of the server certificate (tls.crt, tls.key, ca.crt) when TLS is on: written
   * by the manager from `follow.tlsSecret` when named, else read as found.
   */
  tlsDir?: string;
  /** Where a standby streams and clones from (the `-rw` Service). */
  primaryHost: string;
  replication: { user: string; password: string; sslmode: string; sslrootcert?: string };
  superuserPassword: string;
  app?: { user: string; password: string; database: string };
  /** The password method initdb sets for host connections (`security.authentication.type`). */
  passwordEncryption: "md5" | "scram-sha-256";
  /**
   * The status endpoint's port, and the token it accepts until Secret `<c>-status` is seen
   * (which it follows from then on, `status_token.ts`).
   */
  status: { port: number; token: string };
  /** How long a fast shutdown may take before the instance manager escalates. */
  stopTimeoutMs: number;
  /** Service-account directory (token, ca.crt, namespace) for the API server. */
  serviceAccountDir: string;
  /** Names of the credential Secrets to follow; a changed password is applied by the primary. */
  secrets: { superuser?: string; replication?: string; app?: string };
  /** The ConfigMap and TLS Secret whose files the manager keeps and reloads PostgreSQL for. */
  follow: { configMap?: string; tlsSecret?: string };
}

/** A variable of the pod's environment is missing or invalid. */
export class InstanceConfigError extends Error {}

/** Reads the options from `env`. */
export function instanceOptionsFromEnv(env: (name: string) => string | undefined): InstanceOptions {
  const required = (name: string): string => {
    const value = env(name);
    if (value === undefined || value === "") {
      throw new InstanceConfigError(`The environment variable "${name}" is required`);
    }
    return value;
  };
  const number = (name: string, fallback: number, range: [number, number]): number => {
    const text = env(name);
    if (text === undefined || text === "") return fallback;
    const value = Number(text);
    if (!Number.isInteger(value) || value < range[0] || value > range[1]) {
      throw new InstanceConfigError(
        `The environment variable "${name}" must be a whole number from ${range[0]} to ${
          range[1]
        }, got "${text}"`,
      );
    }
    return value;
  };
  const encryption = env("PASSWORD_ENCRYPTION") ?? "scram-sha-256";
  if (encryption !== "md5" && encryption !== "scram-sha-256") {
    throw new InstanceConfigError(
      `The environment variable "PASSWORD_ENCRYPTION" must be "md5" or "scram-sha-256", got "${encryption}"`,
    );
  }
  const appUser = env("APP_USER");
  const tlsDir = env("DBOP_TLS_DIR") || undefined;
  const tlsSecret = env("DBOP_TLS_SECRET") || undefined;
  if (tlsSecret && !tlsDir) {
    throw new InstanceConfigError(
      `The environment variable "DBOP_TLS_DIR" is required with "DBOP_TLS_SECRET"`,
    );
  }
  return {
    cluster: required("DBOP_CLUSTER"),
    namespace: required("POD_NAMESPACE"),
    pod: required("POD_NAME"),
    podIp: required("POD_IP"),
    pgdata: required("PGDATA"),
    port: number("PGPORT", 5432, [1, 65535]),
    configDir: required("DBOP_CONFIG_DIR"),
    socketDir: env("RUN_DIR") || "/var/run/postgresql",
    tlsDir,
    primaryHost: required("PRIMARY_HOST"),
    replication: {
      user: required("REPLICATION_USER"),
      password: required("REPLICATION_PASSWORD"),
      sslmode: env("REPLICATION_SSLMODE") || "prefer",
      sslrootcert: env("REPLICATION_SSLROOTCERT") || undefined,
    },
    superuserPassword: required("POSTGRES_PASSWORD"),
    app: appUser
      ? {
        user: appUser,
        password: required("APP_PASSWORD"),
        database: required("APP_DATABASE"),
      }
      : undefined,
    passwordEncryption: encryption,
    status: {
      port: number("DBOP_STATUS_PORT", 8000, [1, 65535]),
      token: required("DBOP_STATUS_TOKEN"),
    },
    stopTimeoutMs: number("DBOP_STOP_TIMEOUT_SECONDS", 30, [1, 3600]) * 1000,
    serviceAccountDir: env("DBOP_SERVICE_ACCOUNT_DIR") ||
      "/var/run/secrets/kubernetes.io/serviceaccount",
    secrets: {
      superuser: env("DBOP_SUPERUSER_SECRET") || undefined,
      replication: env("DBOP_REPLICATION_SECRET") || undefined,
      app: env("DBOP_APP_SECRET") || undefined,
    },
    follow: { configMap: env("DBOP_CONFIG_MAP") || undefined, tlsSecret },
  };
}
