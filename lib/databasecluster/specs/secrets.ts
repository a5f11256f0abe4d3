/**
 * Builders of the credential Secrets: `<c>-superuser` (role `postgres`),
 * `<c>-app` (the application owner, unless `existingSecret` supplies it),
 * `<c>-replication` (the streaming replication role) and `<c>-status` (the
 * bearer token of the instances' status endpoints, which their managers follow
 * by name and the operator sends when it polls them). Passwords
 * and the token are inputs (see `../passwords.ts`), so building never
 * generates or rotates one. The user-facing Secrets carry ready-made
 * connection details for the `-rw` Service: username, password, host, port,
 * dbname, uri, jdbc-uri, pgpass.
 *
 * @module
 */
import type { V1Secret } from "@kubernetes/client-node";
import {
  type DatabaseCluster,
  generatedUsername,
  REPLICATION_USERNAME,
  STATUS_TOKEN_KEY,
} from "../../api/mod.ts";
import {
  appSecretName,
  readWriteServiceName,
  replicationSecretName,
  serviceDnsName,
  statusTokenSecretName,
  superuserSecretName,
} from "../names.ts";
import { childMetadata, clusterName, clusterNamespace, encodeData } from "./common.ts";

/** The superuser role the image's initdb creates. */
export const SUPERUSER = "postgres";

/** Where and as whom a client connects. */
export interface ConnectionInfo {
  username: string;
  password: string;
  host: string;
  port: number;
  dbname: string;
  /** Whether the server requires TLS (adds `sslmode=require`). */
  tls: boolean;
}

/** A libpq URI: `postgresql://user:password@host:port/dbname`, user and password percent-encoded. */
export function connectionUri(info: ConnectionInfo): string {
  const user = `${encodeURIComponent(info.username)}:${encodeURIComponent(info.password)}`;
  const query = info.tls ? "?sslmode=require" : "";
  return `postgresql://${user}@${info.host}:${info.port}/${
    encodeURIComponent(info.dbname)
  }${query}`;
}

/** A PostgreSQL JDBC URL with the credentials as query parameters. */
export function jdbcUri(info: ConnectionInfo): string {
  const params = new URLSearchParams({ user: info.username, password: info.password });
  if (info.tls) params.set("sslmode", "require");
  return `jdbc:postgresql://${info.host}:${info.port}/${
    encodeURIComponent(info.dbname)
  }?${params.toString()}`;
}

/** One `.pgpass` line (`host:port:dbname:username:password`), with `\` and `:` escaped. */
export function pgpassLine(info: ConnectionInfo): string {
  const escape = (value: string) => value.replaceAll("\\", "\\\\").replaceAll(":", "\\:");
  return [info.host, String(info.port), info.dbname, info.username, info.password]
    .map(escape).join(":") + "\n";
}

/** The Secret keys for one role: credentials plus every connection form. */
export function connectionData(info: ConnectionInfo): Record<string, string> {
  return {
    username: info.username,
    password: info.password,
    host: info.host,
    port: String(info.port),
    dbname: info.dbname,
    uri: connectionUri(info),
    "jdbc-uri": jdbcUri(info),
    pgpass: pgpassLine(info),
  };
}

function connectionInfo(
  cluster: DatabaseCluster,
  credentials: { username: string; password: string; dbname: string },
): ConnectionInfo {
  const name = clusterName(cluster);
  return {
    ...credentials,
    host: serviceDnsName(readWriteServiceName(name), clusterNamespace(cluster)),
    port: cluster.spec.network.port,
    tls: cluster.spec.security.tls.enabled,
  };
}

function basicAuthSecret(
  cluster: DatabaseCluster,
  secret: { name: string; data: Record<string, string> },
): V1Secret {
  const { name, data } = secret;
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: childMetadata(cluster, { name: name, component: "credentials" }),
    type: "kubernetes.io/basic-auth",
    data: encodeData(data),
  };
}

/** Secret `<c>-superuser`: the `postgres` role's credentials for the `postgres` database. */
export function buildSuperuserSecret(cluster: DatabaseCluster, password: string): V1Secret {
  const info = connectionInfo(cluster, { username: SUPERUSER, password, dbname: "postgres" });
  return basicAuthSecret(cluster, {
    name: superuserSecretName(clusterName(cluster)),
    data: connectionData(info),
  });
}

/**
 * Secret `<c>-app`: the application owner's credentials for the application database;
 * undefined with `existingSecret`, whose Secret is used as given.
 */
export function buildAppSecret(
  cluster: DatabaseCluster,
  password: string | undefined,
): V1Secret | undefined {
  const username = generatedUsername(cluster.spec);
  if (username === undefined) return undefined;
  const name = appSecretName(clusterName(cluster));
  if (password === undefined) throw new Error(`Cannot build Secret "${name}": no password given`);
  const dbname = cluster.spec.security.authentication.database;
  const info = connectionInfo(cluster, { username, password, dbname });
  return basicAuthSecret(cluster, { name, data: connectionData(info) });
}

/** Secret `<c>-replication`: the streaming replication role's username and password. */
export function buildReplicationSecret(cluster: DatabaseCluster, password: string): V1Secret {
  return basicAuthSecret(cluster, {
    name: replicationSecretName(clusterName(cluster)),
    data: { username: REPLICATION_USERNAME, password },
  });
}

/** Secret `<c>-status`: the bearer token the instances' status endpoints accept, under `token`. */
export function buildStatusTokenSecret(cluster: DatabaseCluster, token: string): V1Secret {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: childMetadata(cluster, {
      name: statusTokenSecretName(clusterName(cluster)),
      component: "credentials",
    }),
    type: "Opaque",
    data: encodeData({ [STATUS_TOKEN_KEY]: token }),
  };
}

/** The Secret the application owner's credentials come from: `existingSecret` or `<c>-app`. */
export function appCredentialsSecretName(cluster: DatabaseCluster): string {
  return cluster.spec.security.authentication.existingSecret ??
    appSecretName(clusterName(cluster));
}
