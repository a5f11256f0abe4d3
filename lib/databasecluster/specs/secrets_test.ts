import assert from "node:assert/strict";
import type { V1Secret } from "@kubernetes/client-node";
import { testCluster } from "../testdata/clusters.ts";
import { decodeDataValue } from "./common.ts";
import {
  appCredentialsSecretName,
  buildAppSecret,
  buildReplicationSecret,
  buildStatusTokenSecret,
  buildSuperuserSecret,
  connectionUri,
  jdbcUri,
  pgpassLine,
} from "./secrets.ts";

function decoded(secret: V1Secret | undefined): Record<string, string | undefined> {
  return Object.fromEntries(
    Object.keys(secret?.data ?? {}).map((key) => [key, decodeDataValue(secret, key)]),
  );
}

const INFO = {
  username: "app",
  password: "p@ss:w/rd\\",
  host: "pg-rw.shop.svc",
  port: 5432,
  dbname: "app",
  tls: false,
};

Deno.test("connectionUri() percent-encodes the credentials", () => {
  assert.equal(connectionUri(INFO), "postgresql://app:p%40ss%3Aw%2Frd%5C@pg-rw.shop.svc:5432/app");
  assert.equal(
    connectionUri({ ...INFO, password: "x", tls: true }),
    "postgresql://app:x@pg-rw.shop.svc:5432/app?sslmode=require",
  );
  const url = new URL(connectionUri(INFO));
  assert.equal(decodeURIComponent(url.password), INFO.password);
});

Deno.test("jdbcUri() carries the credentials as query parameters", () => {
  assert.equal(
    jdbcUri({ ...INFO, password: "secret", tls: true }),
    "jdbc:postgresql://pg-rw.shop.svc:5432/app?user=app&password=secret&sslmode=require",
  );
  const query = new URLSearchParams(jdbcUri(INFO).split("?")[1]);
  assert.equal(query.get("password"), INFO.password);
});

Deno.test("pgpassLine() escapes backslash and colon", () => {
  assert.equal(pgpassLine(INFO), "pg-rw.shop.svc:5432:app:app:p@ss\\:w/rd\\\\\n");
});

Deno.test("buildSuperuserSecret() holds postgres' credentials and every connection form", () => {
  const secret = buildSuperuserSecret(testCluster(), "s3cret");
  assert.equal(secret.metadata?.name, "pg-superuser");
  assert.equal(secret.metadata?.namespace, "shop");
  assert.equal(secret.type, "kubernetes.io/basic-auth");
  assert.equal(secret.metadata?.labels?.["app.kubernetes.io/component"], "credentials");
  assert.deepEqual(decoded(secret), {
    username: "postgres",
    password: "s3cret",
    host: "pg-rw.shop.svc",
    port: "5432",
    dbname: "postgres",
    uri: "postgresql://postgres:s3cret@pg-rw.shop.svc:5432/postgres?sslmode=require",
    "jdbc-uri":
      "jdbc:postgresql://pg-rw.shop.svc:5432/postgres?user=postgres&password=s3cret&sslmode=require",
    pgpass: "pg-rw.shop.svc:5432:postgres:postgres:s3cret\n",
  });
  assert.equal(secret.stringData, undefined);
});

Deno.test("buildAppSecret() uses the username, database and port of the spec", () => {
  const cluster = testCluster({
    network: { port: 6000 },
    security: { tls: { enabled: false }, authentication: { username: "shop", database: "orders" } },
  });
  const data = decoded(buildAppSecret(cluster, "pw"));
  assert.equal(data.username, "shop");
  assert.equal(data.dbname, "orders");
  assert.equal(data.port, "6000");
  assert.equal(data.uri, "postgresql://shop:pw@pg-rw.shop.svc:6000/orders");
  assert.equal(buildAppSecret(testCluster(), "pw")?.metadata?.name, "pg-app");
});

Deno.test("buildAppSecret() builds nothing with existingSecret, and needs a password otherwise", () => {
  const cluster = testCluster({ security: { authentication: { existingSecret: "creds" } } });
  assert.equal(buildAppSecret(cluster, undefined), undefined);
  assert.equal(appCredentialsSecretName(cluster), "creds");
  assert.equal(appCredentialsSecretName(testCluster()), "pg-app");
  assert.throws(() => buildAppSecret(testCluster(), undefined), /Cannot build Secret "pg-app"/);
});

Deno.test("buildReplicationSecret() holds the replication role's credentials", () => {
  const secret = buildReplicationSecret(testCluster(), "rep");
  assert.equal(secret.metadata?.name, "pg-replication");
  assert.deepEqual(decoded(secret), { username: "streaming_replica", password: "rep" });
});

Deno.test("buildStatusTokenSecret() holds the status endpoints' token under token", () => {
  const secret = buildStatusTokenSecret(testCluster(), "t0ken");
  assert.equal(secret.metadata?.name, "pg-status");
  assert.equal(secret.metadata?.namespace, "shop");
  assert.equal(secret.type, "Opaque");
  assert.equal(secret.metadata?.labels?.["app.kubernetes.io/component"], "credentials");
  assert.equal(secret.metadata?.labels?.["app.kubernetes.io/managed-by"], "dbop");
  assert.equal(secret.metadata?.labels?.["database.example.com/cluster"], "pg");
  assert.deepEqual(decoded(secret), { token: "t0ken" });
  assert.deepEqual(buildStatusTokenSecret(testCluster(), "t0ken"), secret, "a pure function");
});

Deno.test("credential Secrets are the same for the same passwords", () => {
  assert.deepEqual(
    buildSuperuserSecret(testCluster(), "a"),
    buildSuperuserSecret(testCluster(), "a"),
  );
  assert.notDeepEqual(
    buildSuperuserSecret(testCluster(), "a"),
    buildSuperuserSecret(testCluster(), "b"),
  );
});
